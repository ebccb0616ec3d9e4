"""Refusals of the referral program, in the ``LoyaltyError`` family (stable code, translated text)."""

from django.utils.translation import gettext_lazy as _

from loyalty.exceptions import LoyaltyError, NotFound


class ReferralError(LoyaltyError):
    """Base of the referral refusals."""

    default_message = _("The invitation cannot be recorded.")


class InviterNotFound(NotFound):
    """The inviter given (a phone number or referral code) is no customer of the business."""

    code = "inviterNotFound"
    default_message = _("No customer with this phone number or invitation code.")


class SelfInvite(ReferralError):
    """A customer named as his own inviter."""

    code = "selfInvite"
    default_message = _("A customer cannot invite himself.")


class InviteCycle(ReferralError):
    """The inviter is the friend's own invitee (directly or further down): that makes a circle."""

    code = "inviteCycle"
    default_message = _("This customer was invited by the friend (directly or through others).")


class AlreadyCustomer(ReferralError):
    """The friend was already a customer (he has bought, or registered earlier) before the invite."""

    code = "alreadyCustomer"
    default_message = _("Only new customers can be invited: this one is already a customer.")


class AlreadyInvited(ReferralError):
    """The friend already has another inviter; only the owner may correct it, in Admin."""

    code = "alreadyInvited"
    status = 409
    default_message = _("This customer was already invited by someone else.")


class InviterFixed(ReferralError):
    """The friend (or someone he invited) has made a purchase: rewards were paid along the link."""

    code = "inviterFixed"
    status = 409
    default_message = _(
        "The inviter cannot be changed: the customer or someone he invited has already bought."
    )


class ReferralTreeChanged(ReferralError):
    """The buyer's inviter was changed while the sale was being written: repeat the sale."""

    code = "conflict"
    status = 409
    default_message = _("The customer's inviter changed during the sale. Please repeat the sale.")


class PhoneCheckError(LoyaltyError):
    """Base of the refusals of the join page's one-time code (shown to the visitor, translated)."""

    code = "phoneCheck"
    default_message = _("The phone number could not be confirmed.")


class CodeWrong(PhoneCheckError):
    """The code typed is not the one sent; the attempt was counted."""

    code = "codeWrong"
    default_message = _("The code is wrong. Attempts left: %(left)s.")


class CodeExpired(PhoneCheckError):
    """No code is waiting for this number: it expired, was already used, or was never sent."""

    code = "codeExpired"
    default_message = _("This code is no longer valid. Ask for a new one.")


class CodeAttemptsExhausted(PhoneCheckError):
    """Too many wrong codes: this code is dead, even typed right; a new one must be sent."""

    code = "codeAttemptsExhausted"
    status = 429
    default_message = _("Too many wrong attempts. Ask for a new code.")


class CodeResendTooSoon(PhoneCheckError):
    """A code was sent to this number less than a minute ago."""

    code = "codeResendTooSoon"
    status = 429
    default_message = _("A new code can be sent in %(seconds)s s.")


class CodeSendLimit(PhoneCheckError):
    """The hourly number of codes to this number is used up."""

    code = "codeSendLimit"
    status = 429
    default_message = _("Too many codes were sent to this number. Try again in %(minutes)s min.")


class CodeVisitorLimit(PhoneCheckError):
    """The hourly number of codes asked for from this visitor's address is used up (whatever the
    numbers): one visitor cannot make the business send codes to many numbers."""

    code = "codeVisitorLimit"
    status = 429
    default_message = _(
        "Too many codes were requested from your connection. Try again in %(minutes)s min."
    )


class CodeServiceBusy(PhoneCheckError):
    """The hourly number of codes for everyone together is used up (a safety net against SMS
    pumping from many addresses)."""

    code = "codeServiceBusy"
    status = 429
    default_message = _("Codes cannot be sent right now. Try again in %(minutes)s min.")
