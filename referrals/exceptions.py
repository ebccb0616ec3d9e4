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
