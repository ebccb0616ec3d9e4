"""The till screen: thin views over the loyalty services and the till's selectors.

One page (``cashier/till.html``) with a search bar and a panel. Every view renders a panel
template: an htmx request gets the panel alone (swapped into ``#panel``), any other request gets
the whole page around it, so each screen also works as a plain link or form post. Writes go
through ``loyalty.services`` only; refusals (``LoyaltyError``) are shown on the form.
"""

from decimal import Decimal
from functools import wraps

from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.exceptions import CertificateNotApplicable
from campaigns.services.reviews import review_mark
from loyalty.exceptions import CustomerBlocked, LoyaltyError, RedeemByPhoneDisabled
from loyalty.models import BusinessSettings, Customer, OperationKind
from loyalty.money import ZERO
from loyalty.phones import format_phone, mask_phone, normalize_phone
from loyalty.program_cache import program_get
from loyalty.selectors import customer_get_by_phone
from loyalty.services import (
    customer_get_or_create_by_phone,
    customer_register,
    purchase_create,
    purchase_refund,
    purchase_refund_preview,
)
from loyalty.services.certificates import certificate_check
from loyalty.services.purchases import PurchaseCalculation, calculate, redeem_cap_percent
from referrals.services import referral_link

from . import selectors
from .forms import (
    RefundForm,
    RegisterForm,
    ReviewForm,
    SaleForm,
    SearchForm,
    TillLoginForm,
    form_add_loyalty_error,
    loyalty_error_text,
    new_request_id,
)
from .templatetags.till import amount as amount_text


def home(request: HttpRequest) -> HttpResponse:
    """The site root: owners and managers (admin users) go to the admin, everyone else to the till
    (which asks anonymous visitors to log in)."""
    if request.user.is_authenticated and request.user.is_staff:
        return redirect("admin:index")
    return redirect("cashier:till")


class TillLoginView(auth_views.LoginView):
    template_name = "cashier/login.html"
    authentication_form = TillLoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("cashier:till")


class TillLogoutView(auth_views.LogoutView):
    next_page = "cashier:login"


def till_view(view):
    """Logged in and bound to a branch: ``request.branch`` is the branch the till works for.

    A login without a branch gets a 403 page saying so (not a traceback, not the admin).
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            if _is_htmx(request):
                # The session ended mid-shift: reload the whole page on the login form rather
                # than swap the login page into the panel.
                response = HttpResponse()
                response["HX-Redirect"] = f"{reverse('cashier:login')}?next={reverse('cashier:till')}"
                return response
            return redirect_to_login(request.get_full_path())
        staff = selectors.staff_member_get(user=request.user)
        if staff is None:
            return render(request, "cashier/forbidden.html", status=403)
        request.staff_member = staff
        request.branch = staff.branch
        return view(request, *args, **kwargs)

    return wrapper


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _panel(request: HttpRequest, template: str, context: dict | None = None, *,
           push: str | None = None, status: int = 200) -> HttpResponse:
    context = {"branch": request.branch, **(context or {})}
    if _is_htmx(request):
        response = render(request, template, context, status=status)
        if push:
            response["HX-Push-Url"] = push
        return response
    context.setdefault("search_form", SearchForm())
    return render(request, "cashier/till.html", {**context, "panel_template": template},
                  status=status)


def _sale_context(request: HttpRequest, customer: Customer, *, program: BusinessSettings,
                  form: SaleForm | None = None, calc: PurchaseCalculation | None = None,
                  review_form: ReviewForm | None = None) -> dict:
    if form is None:
        form = SaleForm(initial={"request_id": new_request_id()},
                        receipt_number_required=program.receipt_number_required)
    campaigns = selectors.campaign_settings_get()
    platforms = list(campaigns.review_platforms or []) if campaigns.review_points > 0 else []
    if review_form is None and platforms:
        review_form = ReviewForm(platforms=platforms)
    return {
        "customer": customer,
        "program": program,
        "form": form,
        "calc": calc,
        "phone_masked": mask_phone(customer.phone),
        "recent": selectors.customer_recent_operations(customer=customer),
        "certificates": selectors.customer_active_certificates(customer=customer),
        "birthday_near": campaigns.birthday_points > 0 and selectors.birthday_near(
            birthday=customer.birthday, today=timezone.localdate(),
            days_before=campaigns.birthday_days_before, days_after=campaigns.birthday_valid_days),
        "review_form": review_form,
        "redeem_percent": redeem_cap_percent(customer.tier),
    }


def _customer_or_404(customer_id: int) -> Customer:
    customer = selectors.till_customer_get(customer_id=customer_id)
    if customer is None:
        raise Http404
    return customer


def _calculate(form: SaleForm, customer: Customer, program: BusinessSettings
               ) -> PurchaseCalculation | None:
    """The sale's numbers for a valid form, or None with the reason put on the form.

    Points follow the maximum until the cashier edits them; with redemption by phone switched
    off they default to none. A certificate code is checked (without a lock: the sale checks it
    again under its lock) and pays its share first.
    """
    if not form.is_valid():
        return None
    data = form.cleaned_data
    points = None if form.points_follow_max else (data["points"] or ZERO)
    try:
        if customer.is_blocked:
            raise CustomerBlocked()
        if not program.redeem_by_phone:
            if points:
                raise RedeemByPhoneDisabled()
            points = ZERO
        terms = {}
        if data["certificate_code"]:
            certificate = certificate_check(code=data["certificate_code"], customer=customer,
                                            lock=False)
            terms = {"certificate_points": certificate.points,
                     "certificate_max_percent": certificate.max_redeem_percent}
        calc = calculate(
            tier=customer.tier, balance=customer.spendable, total=data["total"],
            excluded_total=data["excluded_total"] or ZERO, points=points, **terms,
        )
        if terms and calc.certificate_points <= 0:
            raise CertificateNotApplicable()
        return calc
    except LoyaltyError as error:
        form_add_loyalty_error(form, error)
        return None


@require_GET
@till_view
def till(request: HttpRequest) -> HttpResponse:
    """The start screen: an empty panel, or the receipt of a sale just made (``?receipt=``)."""
    receipt_id = request.GET.get("receipt", "")
    if receipt_id.isdigit():
        operation = selectors.branch_operation_get(operation_id=int(receipt_id),
                                                   branch=request.branch)
        if operation is not None and operation.kind == OperationKind.PURCHASE:
            return _panel(request, "cashier/_receipt.html", {
                "operation": operation, "pending": _pending(operation),
                "certificate_points": selectors.operation_certificate_points(operation=operation),
            })
    return _panel(request, "cashier/_start.html")


@require_GET
@till_view
def search(request: HttpRequest) -> HttpResponse:
    """Results as the cashier types; with ``pick`` (Enter) a single match opens at once."""
    form = SearchForm(request.GET)
    query = form.data.get("q", "")
    result = selectors.customer_search(query=query)
    pick = request.GET.get("pick") or not _is_htmx(request)  # Enter, or a plain form post
    if pick and result.single is not None:
        customer = result.single
        if not hasattr(customer, "spendable"):  # found by its last digits: read the balances
            customer = _customer_or_404(customer.pk)
        return customer_panel(request, customer)
    return _panel(request, "cashier/_results.html", {
        "result": result, "search_form": form,
        "phone_display": format_phone(result.phone) if result.phone else "",
    })


def customer_panel(request: HttpRequest, customer: Customer, *, notice: str = "") -> HttpResponse:
    """The customer panel for a customer read by ``selectors`` (with tier and balances)."""
    program = program_get().settings
    context = _sale_context(request, customer, program=program)
    context["notice"] = notice
    return _panel(request, "cashier/_customer.html", context,
                  push=reverse("cashier:customer", args=[customer.pk]))


@require_GET
@till_view
def customer(request: HttpRequest, customer_id: int) -> HttpResponse:
    return customer_panel(request, _customer_or_404(customer_id))


@require_POST
@till_view
def calc(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Live calculation while the cashier types (writes nothing)."""
    customer = _customer_or_404(customer_id)
    program = program_get().settings
    # The receipt number is asked for at confirmation: the figures show while it is still empty.
    form = SaleForm(request.POST, receipt_number_required=False)
    calc = _calculate(form, customer, program) if form.data.get("total") else None
    since = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    same_receipt = selectors.receipt_already_sold(
        branch=request.branch, receipt_number=form.data.get("receipt_number", ""), since=since,
    ) if calc is not None else None
    return render(request, "cashier/_calc.html", {
        "customer": customer, "form": form, "calc": calc, "program": program,
        "same_receipt": same_receipt,
        "points_oob": calc is not None and form.points_follow_max, "show_errors": True,
    })


@require_POST
@till_view
def sell(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Confirm the sale. The form's request id makes a double click or a retry one sale."""
    customer = _customer_or_404(customer_id)
    program = program_get().settings
    form = SaleForm(request.POST, receipt_number_required=program.receipt_number_required)
    if form.is_valid():
        # A second click after the first one went through: its certificate is used by now, so
        # the calculation would refuse it; show the first sale's receipt instead.
        replayed = selectors.till_sale_replayed(
            customer=customer, request_id=f"till:{form.cleaned_data['request_id']}")
        if replayed is not None:
            return _receipt_panel(request, replayed.pk, pending=_pending(replayed), replayed=True)
    calc = _calculate(form, customer, program)
    if calc is not None:
        staff = request.staff_member
        try:
            receipt = purchase_create(
                customer=customer, branch=request.branch, cashier=request.user,
                total=calc.total, excluded_total=calc.excluded_total, points=calc.points,
                receipt_number=form.cleaned_data["receipt_number"].strip(),
                request_id=f"till:{form.cleaned_data['request_id']}",
                cashier_external_id=staff.external_id,
                cashier_name=request.user.get_full_name() or request.user.get_username(),
                certificate_code=form.cleaned_data["certificate_code"] or None,
            )
        except LoyaltyError as error:
            form_add_loyalty_error(form, error)
        else:
            return _receipt_panel(request, receipt.operation_id, pending=receipt.pending,
                                  replayed=receipt.replayed)
    return _panel(request, "cashier/_customer.html",
                  _sale_context(request, customer, program=program, form=form, calc=calc))


def _pending(operation) -> bool:
    return operation.entries.filter(release_at__isnull=False).exists()


def _receipt_panel(request: HttpRequest, operation_id: int, *, pending: bool,
                   replayed: bool) -> HttpResponse:
    if not _is_htmx(request):
        return redirect(f"{reverse('cashier:till')}?receipt={operation_id}")
    operation = selectors.branch_operation_get(operation_id=operation_id, branch=request.branch)
    return _panel(request, "cashier/_receipt.html", {
        "operation": operation, "pending": pending, "replayed": replayed,
        "certificate_points": selectors.operation_certificate_points(operation=operation),
        "search_form": SearchForm(), "reset_search": True,
    }, push=f"{reverse('cashier:till')}?receipt={operation_id}")


@require_POST
@till_view
def review(request: HttpRequest, customer_id: int) -> HttpResponse:
    """"Left a review": reward it as the review campaign says, once per platform."""
    customer = _customer_or_404(customer_id)
    campaigns = selectors.campaign_settings_get()
    form = ReviewForm(request.POST, platforms=list(campaigns.review_platforms or []))
    if form.is_valid():
        try:
            review_mark(customer=customer, platform=form.cleaned_data["platform"],
                        link=form.cleaned_data["link"], marked_by=request.user)
        except LoyaltyError as error:
            form_add_loyalty_error(form, error)
        else:
            notice = _("The review on %(platform)s is recorded and rewarded.") % {
                "platform": form.cleaned_data["platform"]}
            if not _is_htmx(request):
                return redirect("cashier:customer", customer.pk)
            return customer_panel(request, _customer_or_404(customer.pk), notice=notice)
    program = program_get().settings
    return _panel(request, "cashier/_customer.html",
                  _sale_context(request, customer, program=program, review_form=form))


@require_POST
@till_view
def sell_to_phone(request: HttpRequest) -> HttpResponse:
    """"Sell to this number": a phone-only customer who gets points before registering."""
    try:
        customer, _created = customer_get_or_create_by_phone(phone=request.POST.get("phone", ""))
    except LoyaltyError as error:
        return _panel(request, "cashier/_results.html", {
            "result": selectors.customer_search(query=""), "error": loyalty_error_text(error),
        })
    if not _is_htmx(request):
        return redirect("cashier:customer", customer.pk)
    return customer_panel(request, _customer_or_404(customer.pk))


@require_http_methods(["GET", "POST"])
@till_view
def register(request: HttpRequest) -> HttpResponse:
    """Register a newcomer: phone, name, optional birthday, consent; the welcome bonus follows."""
    existing = None
    if request.method == "POST":
        form = RegisterForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                customer = customer_register(
                    phone=data["phone"], name=data["name"], birthday=data["birthday"],
                    consent_messages=data["consent_messages"],
                )
            except LoyaltyError as error:
                existing = customer_get_by_phone(phone=data["phone"])
                form_add_loyalty_error(form, error)
            else:
                notice = _("%(name)s is registered.") % {"name": customer.name}
                bonus = program_get().settings.welcome_bonus
                if bonus > 0:
                    notice += " " + _("Welcome bonus: %(bonus)s points.") % {"bonus": amount_text(bonus)}
                if data["inviter"]:
                    try:
                        referral_link(customer=customer, inviter=data["inviter"], channel="till")
                    except LoyaltyError as error:
                        # Registered all the same: the friend link is a separate fact the owner
                        # can still set in Admin; say why it was not recorded.
                        notice += " " + _("The friend was not recorded: %(reason)s") % {
                            "reason": error}
                    else:
                        notice += " " + _("Invited by a friend: recorded.")
                if not _is_htmx(request):
                    return redirect("cashier:customer", customer.pk)
                return customer_panel(request, _customer_or_404(customer.pk), notice=notice)
    else:
        phone = request.GET.get("phone", "")
        try:
            phone = format_phone(normalize_phone(phone)) if phone else ""
        except LoyaltyError:
            pass  # keep what was typed: the form shows the error when it is sent
        form = RegisterForm(initial={"phone": phone})
    return _panel(request, "cashier/_register.html", {"form": form, "existing": existing},
                  push=reverse("cashier:register"))


@require_GET
@till_view
def shift(request: HttpRequest) -> HttpResponse:
    """This cashier's sales and refunds today at his branch, with totals."""
    since = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    operations = selectors.shift_operations(cashier=request.user, branch=request.branch,
                                            since=since)
    return _panel(request, "cashier/_shift.html", {
        "operations": operations, "totals": selectors.shift_totals(operations), "since": since,
    }, push=reverse("cashier:shift"))


def _operation_or_404(request: HttpRequest, operation_id: int):
    operation = selectors.branch_operation_get(operation_id=operation_id, branch=request.branch)
    if operation is None:
        # Another branch's operations do not exist for this cashier.
        raise Http404
    return operation


def _operation_context(operation, *, form: RefundForm | None = None, notice: str = "") -> dict:
    refundable = operation.kind == OperationKind.PURCHASE and operation.refundable_total > 0
    if form is None and refundable:
        form = RefundForm(remaining=operation.refundable_total,
                          initial={"request_id": new_request_id()})
    return {
        "operation": operation,
        "refunds": list(selectors.operation_refunds(operation=operation)),
        "form": form if refundable else None,
        "notice": notice,
        "phone_masked": mask_phone(operation.customer.phone) if operation.customer_id else "",
    }


@require_GET
@till_view
def operation(request: HttpRequest, operation_id: int) -> HttpResponse:
    op = _operation_or_404(request, operation_id)
    return _panel(request, "cashier/_operation.html", _operation_context(op),
                  push=reverse("cashier:operation", args=[op.pk]))


@require_POST
@till_view
def refund(request: HttpRequest, operation_id: int) -> HttpResponse:
    """Refund a sale fully (empty amount) or partly. First asks, then does it (``confirm``)."""
    op = _operation_or_404(request, operation_id)
    if op.kind != OperationKind.PURCHASE:
        raise Http404
    form = RefundForm(request.POST, remaining=op.refundable_total)
    if form.is_valid():
        amount: Decimal = form.cleaned_data["amount"]
        if form.cleaned_data["confirm"] != "1":
            return _panel(request, "cashier/_refund_confirm.html", {
                "operation": op, "amount": amount, "form": form,
                "full": amount == op.refundable_total,
                "shares": purchase_refund_preview(operation=op, amount=amount),
            })
        try:
            result = purchase_refund(
                operation_id=op.pk, amount=amount, branch=request.branch, cashier=request.user,
                request_id=f"till-refund:{form.cleaned_data['request_id']}",
            )
        except LoyaltyError as error:
            form_add_loyalty_error(form, error)
        else:
            op = _operation_or_404(request, operation_id)
            notice = _("Refunded %(amount)s: give back %(cash)s in money; %(points)s points "
                       "returned, %(cashback)s points of cashback taken back.") % {
                "amount": amount_text(result.amount), "cash": amount_text(result.cash_returned),
                "points": amount_text(result.points_returned),
                "cashback": amount_text(result.cashback_reversed)}
            if result.debt > 0:
                notice += " " + _("The customer had already spent %(debt)s of them: it is "
                                  "recorded as a debt, repaid from his next points.") % {
                    "debt": amount_text(result.debt)}
            return _panel(request, "cashier/_operation.html", _operation_context(op, notice=notice),
                          push=reverse("cashier:operation", args=[op.pk]))
    return _panel(request, "cashier/_operation.html", _operation_context(op, form=form))
