"""The public invitation page: ``/join/<code>`` registers a customer invited by that code, once he
has proved he holds his phone.

Two steps on one URL. Step 1 (``step=send``): phone, name, consent; a one-time code is sent to the
phone and the code form is shown. Step 2 (``step=confirm``): the code; only then is he registered
and linked (``referrals.services.join_confirm``). ``step=resend`` sends a new code. Between the
steps the phone, name and consent travel in a signed field (``_ticket``), so the phone a code is
checked against is the one it was sent to, whatever the browser posts.

Each code is sent with the visitor's address (for the per-visitor limits) and the page's language
(the SMS speaks it too).
"""

import ipaddress
import re

from django import forms
from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from loyalty.exceptions import LoyaltyError
from loyalty.models import BusinessSettings, Customer
from loyalty.phones import format_phone

from .models import PhoneCheck, ReferralProgram
from .services import (
    PHONE_CODE_TTL,
    code_normalize,
    join_code_send,
    join_confirm,
)

TICKET_MAX_AGE = 3600  # seconds: the code form outlives its code (10 min) by far, not by days


class JoinForm(forms.Form):
    phone = forms.CharField(
        label=_("Your phone number"), max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    name = forms.CharField(label=_("Your name"), max_length=200, required=False,
                           widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    consent_messages = forms.BooleanField(label=_("I agree to receive messages"),
                                          required=False)


class CodeForm(forms.Form):
    # Its input is written out in join_code.html: never filled back after a wrong code.
    code = forms.CharField(label=_("Code from the message"), max_length=20, required=False)

    def clean_code(self) -> str:
        code = re.sub(r"[\s-]", "", self.cleaned_data["code"])
        if not re.fullmatch(r"\d{6}", code):
            raise forms.ValidationError(_("Enter the 6 digits of the code."))
        return code


_PATRONYMIC = re.compile(r"(вич|вна|чна|оглы|кызы)$", re.IGNORECASE)
_SURNAME = re.compile(r"(ов|ова|ев|ева|ёв|ёва|ин|ина|ын|ына|ский|ская|цкий|цкая|ко|ук|юк|ых|их)$",
                      re.IGNORECASE)


def first_name(full_name: str) -> str:
    """The given name in a stored name, which may be "Имя", "Имя Фамилия", or, imported from a
    ФИО column, "Фамилия Имя" and "Фамилия Имя Отчество": a patronymic last, or a first word
    with a surname's ending before one without, mark the surname-first order."""
    words = full_name.split()
    if len(words) >= 3 and _PATRONYMIC.search(words[-1]):
        return words[-2]
    if len(words) == 2 and _surname_like(words[0]) and not _surname_like(words[1]):
        return words[1]
    return words[0] if words else ""


# Given names that end as surnames do.
_GIVEN = frozenset({"ирина", "марина", "галина", "полина", "алина", "карина", "кристина",
                    "екатерина", "валентина", "ангелина", "нина", "регина", "зарина", "арина",
                    "вениамин", "мартин", "фатима", "ефим"})


def _surname_like(word: str) -> bool:
    return word.lower() not in _GIVEN and bool(_SURNAME.search(word))


def _first_name(customer: Customer) -> str:
    # The page is public: show the inviter's first name only, never his phone number.
    return first_name(customer.name or "")


def _ticket_salt(code: str) -> str:
    # A ticket made on one invitation page is no good on another.
    return f"referrals.join:{code_normalize(code)}"


def _ticket_make(code: str, *, phone: str, name: str, consent: bool) -> str:
    return signing.dumps({"phone": phone, "name": name, "consent": consent},
                         salt=_ticket_salt(code), compress=True)


def _done_salt(code: str) -> str:
    return f"referrals.joined:{code_normalize(code)}"


def _ticket_read(code: str, raw: str) -> dict | None:
    try:
        return signing.loads(raw or "", salt=_ticket_salt(code), max_age=TICKET_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return None


def visitor_address(request: HttpRequest) -> str:
    """The visitor's IP address: ``REMOTE_ADDR``, or behind ``TRUSTED_PROXIES`` reverse proxies the
    address the outermost of them appended to ``X-Forwarded-For``. Never an earlier entry: the
    visitor writes those himself. A header too short or unreadable falls back to ``REMOTE_ADDR``.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(hops) < proxies:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-proxies]))
    except ValueError:
        return remote


def _code_send(request: HttpRequest, phone: str) -> PhoneCheck:
    return join_code_send(phone=phone, address=visitor_address(request),
                          language=translation.get_language() or "")


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, code: str) -> HttpResponse:
    inviter = Customer.objects.filter(referral_code__code=code_normalize(code)).first()
    if inviter is None or inviter.is_blocked:
        raise Http404
    business = BusinessSettings.load()
    context = {
        "code": code, "inviter_name": _first_name(inviter), "business": business,
        "bonus": business.welcome_bonus, "program": ReferralProgram.load(),
        "minutes": int(PHONE_CODE_TTL.total_seconds() // 60),
    }
    if request.method == "GET" and request.GET.get("done"):
        try:
            done = signing.loads(request.GET["done"], salt=_done_salt(code), max_age=24 * 3600)
        except signing.BadSignature:
            return redirect(reverse("referrals:join", args=[code]))
        return render(request, "referrals/joined.html", {**context, "problem": done["problem"]})
    step = request.POST.get("step", "send") if request.method == "POST" else ""
    if step in ("confirm", "resend"):
        ticket = _ticket_read(code, request.POST.get("_ticket", ""))
        if ticket is None:  # forged, or left open for hours: start again, saying why
            return render(request, "referrals/join.html", {
                **context, "form": JoinForm(),
                "error": _("This form has expired. Please enter your number again."),
            })
        return _code_step(request, context, step, ticket)
    form = JoinForm(request.POST or None)
    if step == "send" and form.is_valid():
        try:
            check = _code_send(request, form.cleaned_data["phone"])
        except LoyaltyError as exc:
            form.add_error("phone", str(exc))
        else:
            ticket = {"phone": check.phone, "name": form.cleaned_data["name"],
                      "consent": form.cleaned_data["consent_messages"]}
            return _code_page(request, context, ticket, CodeForm())
    return render(request, "referrals/join.html", {**context, "form": form})


def _code_step(request: HttpRequest, context: dict, step: str, ticket: dict) -> HttpResponse:
    if step == "resend":
        try:
            _code_send(request, ticket["phone"])
        except LoyaltyError as exc:
            return _code_page(request, context, ticket, CodeForm(), error=str(exc))
        return _code_page(request, context, ticket, CodeForm(), resent=True)
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            joined = join_confirm(
                phone=ticket["phone"], code=form.cleaned_data["code"], inviter=context["code"],
                name=ticket["name"], consent_messages=ticket["consent"],
            )
        except LoyaltyError as exc:
            form.add_error("code", str(exc))
        else:
            # Redirected, so that reloading the page does not send the used code again.
            done = signing.dumps({"problem": joined.problem}, salt=_done_salt(context["code"]))
            return redirect(f"{reverse('referrals:join', args=[context['code']])}?done={done}")
    return _code_page(request, context, ticket, form)


def _code_page(request: HttpRequest, context: dict, ticket: dict, form: CodeForm, *,
               resent: bool = False, error: str = "") -> HttpResponse:
    return render(request, "referrals/join_code.html", {
        **context, "form": form, "resent": resent, "error": error,
        "phone": format_phone(ticket["phone"]),
        "ticket": _ticket_make(context["code"], **ticket),
    })
