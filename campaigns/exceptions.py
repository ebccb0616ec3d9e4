"""Refusals of the campaigns app that people see (certificates at the till, reviews)."""

from django.utils.translation import gettext_lazy as _

from loyalty.exceptions import LoyaltyError, NotFound


class CertificateNotFound(NotFound):
    """No certificate with that code."""

    default_message = _("Certificate not found.")


# The status CertificateNotActive names for a certificate whose first day is still ahead.
NOT_VALID_YET = "not_valid_yet"


class CertificateNotActive(LoyaltyError):
    """The certificate was already used, was cancelled, or is outside its validity dates.

    ``status`` is the certificate's (``CertificateStatus``) or ``NOT_VALID_YET``; each has a
    sentence of its own (a status word put into one sentence made ungrammatical Russian)."""

    code = "certificateNotActive"
    default_message = _("This certificate cannot be used.")
    messages = {
        "used": _("This certificate has already been used."),
        "expired": _("This certificate has expired."),
        "cancelled": _("This certificate was cancelled."),
        NOT_VALID_YET: _("This certificate is not valid yet."),
    }

    def __init__(self, status: str | None = None) -> None:
        self.status = status
        super().__init__(self.messages.get(status, self.default_message))


class CertificateNotYours(LoyaltyError):
    """The certificate belongs to another customer."""

    code = "certificateNotYours"
    default_message = _("This certificate belongs to another customer.")


class CertificateNotApplicable(LoyaltyError):
    """The bill has no part a certificate may pay (everything excluded or unredeemable)."""

    code = "certificateNotApplicable"
    default_message = _("No part of this bill can be paid with the certificate.")


class ReviewAlreadyRewarded(LoyaltyError):
    """The customer was already rewarded for a review on that platform."""

    code = "reviewAlreadyRewarded"
    status = 409
    default_message = _("This customer was already rewarded for a review on %(platform)s.")


class ReviewPlatformUnknown(LoyaltyError):
    """A platform the review campaign does not list, or the review campaign is off."""

    default_message = _("Reviews on this platform are not rewarded.")


class NoRecipients(LoyaltyError):
    """A broadcast whose segment has no customer who agreed to messages."""

    default_message = _("No customer in this segment agreed to receive messages.")
