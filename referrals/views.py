"""The public invitation page: ``/join/<code>`` registers a customer invited by that code."""

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from loyalty.exceptions import LoyaltyError
from loyalty.models import BusinessSettings, Customer
from loyalty.services import customer_register

from .models import ReferralProgram
from .services import code_normalize, referral_link


class JoinForm(forms.Form):
    phone = forms.CharField(
        label=_("Your phone number"), max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    name = forms.CharField(label=_("Your name"), max_length=200, required=False,
                           widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    consent_messages = forms.BooleanField(label=_("I agree to receive messages"),
                                          required=False)


def _first_name(customer: Customer) -> str:
    # The page is public: show the inviter's first name only, never his phone number.
    return (customer.name or "").split(" ")[0]


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, code: str) -> HttpResponse:
    inviter = Customer.objects.filter(referral_code__code=code_normalize(code)).first()
    if inviter is None or inviter.is_blocked:
        raise Http404
    business = BusinessSettings.load()
    context = {
        "code": code, "inviter_name": _first_name(inviter), "business": business,
        "bonus": business.welcome_bonus, "program": ReferralProgram.load(),
    }
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = customer_register(
                phone=form.cleaned_data["phone"], name=form.cleaned_data["name"],
                consent_messages=form.cleaned_data["consent_messages"], source="referral",
            )
        except LoyaltyError as exc:
            form.add_error("phone", str(exc))
        else:
            problem = None
            try:
                referral_link(customer=customer, inviter=code, channel="join")
            except LoyaltyError as exc:
                # Registered all the same; only the invitation could not be recorded.
                problem = str(exc)
            return render(request, "referrals/joined.html",
                          {**context, "customer": customer, "problem": problem})
    return render(request, "referrals/join.html", {**context, "form": form})
