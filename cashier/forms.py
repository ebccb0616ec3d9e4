"""Forms of the till screen, and the one helper that puts a ``LoyaltyError`` on a form.

Amounts are ``CharField``s read with ``loyalty.money.parse_amount``: staff type ``1 234,50`` as
often as ``1234.50``, and both are the same amount.
"""

import uuid
from decimal import Decimal

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.exceptions import (
    CertificateNotActive,
    CertificateNotApplicable,
    CertificateNotFound,
    CertificateNotYours,
    ReviewAlreadyRewarded,
    ReviewPlatformUnknown,
)
from loyalty.exceptions import (
    AlreadyRegistered,
    AmountTooLarge,
    ExcludedExceedsTotal,
    InsufficientPoints,
    InvalidAmount,
    InvalidPhone,
    LoyaltyError,
    ReceiptNumberRequired,
    RedemptionCapExceeded,
    RefundExceedsPurchase,
)
from loyalty.money import MAX_AMOUNT, money, parse_amount
from loyalty.phones import normalize_phone
from loyalty.validators import validate_birthday

from .templatetags.till import amount

# Which field a refusal belongs to; the others are shown above the form.
ERROR_FIELDS: dict[type[LoyaltyError], str] = {
    InsufficientPoints: "points",
    RedemptionCapExceeded: "points",
    ReceiptNumberRequired: "receipt_number",
    ExcludedExceedsTotal: "excluded_total",
    InvalidPhone: "phone",
    AlreadyRegistered: "phone",
    RefundExceedsPurchase: "amount",
    CertificateNotFound: "certificate_code",
    CertificateNotActive: "certificate_code",
    CertificateNotYours: "certificate_code",
    CertificateNotApplicable: "certificate_code",
    ReviewAlreadyRewarded: "platform",
    ReviewPlatformUnknown: "platform",
}


def loyalty_error_text(error: LoyaltyError) -> str:
    """The refusal in the user's language, its amounts written as the till writes them."""
    text = str(error.message)
    if not error.params:
        return text
    return text % {key: amount(value) if isinstance(value, Decimal) else value
                   for key, value in error.params.items()}


def form_add_loyalty_error(form: forms.Form, error: LoyaltyError) -> None:
    """Show ``error`` (translated) on the field it is about, or above the form."""
    name = next((f for cls, f in ERROR_FIELDS.items() if isinstance(error, cls)), None)
    form.add_error(name if name in form.fields else None, loyalty_error_text(error))


def new_request_id() -> str:
    return uuid.uuid4().hex


def _amount(form: forms.Form, name: str, *, required: bool) -> Decimal | None:
    raw = form.cleaned_data.get(name, "")
    if not raw:
        if required:
            raise ValidationError(_("Enter the amount."), code="required")
        return None
    value = parse_amount(raw)
    if value is None or value < 0:
        raise ValidationError(loyalty_error_text(InvalidAmount()), code="invalid")
    if value > MAX_AMOUNT:
        raise ValidationError(loyalty_error_text(AmountTooLarge(limit=MAX_AMOUNT)), code="max_value")
    return money(value)


def _amount_input(label: str, **attrs) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", **attrs}),
    )


class TillLoginForm(AuthenticationForm):
    """Django's login, refusing a login that belongs to no branch (and is no admin user)."""

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff and not hasattr(user, "staff"):
            raise ValidationError(
                _("This login is not bound to a branch. Ask the owner to set your branch."),
                code="no_branch",
            )


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Phone, last digits or payment code"), required=False, max_length=40,
        widget=forms.TextInput(attrs={
            "type": "search", "inputmode": "tel", "autocomplete": "off", "autofocus": True,
            "placeholder": _("8 900 123-45-67, 4567 or a 6-digit code"),
        }),
    )


class SaleForm(forms.Form):
    total = _amount_input(_("Bill total"), autofocus=True)
    excluded_total = _amount_input(
        _("Not in the program"),
        title=_("Discounted, promotional or instalment goods: earn nothing, cannot be paid with points."),
    )
    points = _amount_input(_("Points to redeem"))
    # "1" once the cashier typed in the points field: until then it follows the maximum allowed.
    points_touched = forms.CharField(required=False, widget=forms.HiddenInput)
    receipt_number = forms.CharField(
        label=_("Receipt number"), required=False, max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    certificate_code = forms.CharField(
        label=_("Certificate code"), required=False, max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    request_id = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, receipt_number_required: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["receipt_number"].required = receipt_number_required

    def clean_total(self) -> Decimal:
        value = _amount(self, "total", required=True)
        if value <= 0:
            raise ValidationError(_("The bill total must be more than zero."), code="invalid")
        return value

    def clean_excluded_total(self) -> Decimal | None:
        return _amount(self, "excluded_total", required=False)

    def clean_certificate_code(self) -> str:
        return "".join(self.cleaned_data.get("certificate_code", "").split()).upper()

    def clean_points(self) -> Decimal | None:
        return _amount(self, "points", required=False)

    @property
    def points_follow_max(self) -> bool:
        """True while the points field shows the maximum (the cashier has not changed it)."""
        return self.data.get("points_touched") != "1"


class RegisterForm(forms.Form):
    phone = forms.CharField(
        label=_("Phone"), max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    # "Name" alone is translated as a thing's name by another app's catalogue: a person's here.
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=200,
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    birthday = forms.DateField(label=_("Birthday"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    consent_messages = forms.BooleanField(label=_("Agrees to receive messages"), required=False)
    invited_by = forms.CharField(
        label=_("Invited by (friend's phone or code)"), max_length=40, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except InvalidPhone as exc:
            raise ValidationError(str(exc), code="invalid") from exc

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        validate_birthday(birthday)
        return birthday

    def clean(self):
        """Check the friend before anything is written, so a typo never leaves half a registration."""
        from referrals.exceptions import SelfInvite
        from referrals.services import inviter_resolve

        data = super().clean()
        raw = (data.get("invited_by") or "").strip()
        data["inviter"] = None
        if raw:
            try:
                inviter = inviter_resolve(inviter=raw)
            except LoyaltyError as exc:
                self.add_error("invited_by", str(exc))
                return data
            if inviter.phone == data.get("phone"):
                self.add_error("invited_by", str(SelfInvite()))
                return data
            data["inviter"] = raw
        return data


class ReviewForm(forms.Form):
    """"Left a review": one of the review campaign's platforms and, optionally, the link."""

    platform = forms.ChoiceField(label=_("Platform"))
    link = forms.URLField(label=_("Link to the review"), required=False, max_length=500,
                          assume_scheme="https",
                          widget=forms.URLInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, platforms: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["platform"].choices = [(p, p) for p in platforms]


class RefundForm(forms.Form):
    amount = _amount_input(_("Amount to refund"))
    request_id = forms.CharField(widget=forms.HiddenInput, max_length=64)
    # Set by the confirmation step's button; without it the form only asks "are you sure?".
    confirm = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, remaining: Decimal, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.remaining = remaining

    def clean_amount(self) -> Decimal:
        value = _amount(self, "amount", required=False)
        if value is None:
            return self.remaining
        if value <= 0:
            raise ValidationError(_("The amount to refund must be more than zero."), code="invalid")
        if value > self.remaining:
            raise ValidationError(loyalty_error_text(RefundExceedsPurchase(remaining=self.remaining)),
                                  code="invalid")
        return value
