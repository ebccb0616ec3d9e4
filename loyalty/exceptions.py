"""Errors of the loyalty domain that people see.

Each carries a stable ``code`` (the Partner API v2 error code where one exists) and a message marked
for translation. The API's exception handler and the forms' helper turn them into a 4xx / a form
error; nothing here is ever shown as a traceback.
"""

from django.utils.translation import gettext_lazy as _


class LoyaltyError(Exception):
    """Base of every business-rule refusal. ``code`` is stable; ``message`` is translated."""

    code = "badRequest"
    status = 400
    default_message = _("The operation cannot be done.")

    def __init__(self, message: str | None = None, **params: object) -> None:
        self.params = params
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))

    def __str__(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text


class InvalidPhone(LoyaltyError):
    """A phone number that cannot be read as a valid number."""

    default_message = _("This is not a valid phone number.")


class InvalidAmount(LoyaltyError):
    """An amount that is not a number, is negative, or breaks total ≥ excluded ≥ 0."""

    default_message = _("The amount is not valid.")


class TotalNotPositive(InvalidAmount):
    """A bill of zero (or less)."""

    default_message = _("The bill total must be more than zero.")


class ExcludedExceedsTotal(InvalidAmount):
    """The part of the bill outside the program is larger than the bill."""

    default_message = _("The part not in the program cannot be more than the bill.")


class UnredeemableExceedsRest(InvalidAmount):
    """The part points may not pay is larger than what the program's part of the bill leaves."""

    default_message = _("The part that points may not pay cannot be more than the bill less the "
                        "part not in the program.")


class AmountTooLarge(InvalidAmount):
    """An amount above ``loyalty.money.MAX_AMOUNT`` (a barcode typed or scanned into the bill)."""

    default_message = _("The amount is too large: at most %(limit)s.")


class NotFound(LoyaltyError):
    """A customer, operation or branch that does not exist (or is not visible to the caller)."""

    code = "notFound"
    status = 404
    default_message = _("Not found.")


class CustomerNotFound(NotFound):
    """No customer with that phone, code or id."""

    default_message = _("Customer not found.")


class OperationNotFound(NotFound):
    """No operation with that id (or not one that can be refunded)."""

    default_message = _("Operation not found.")


class CustomerBlocked(LoyaltyError):
    """The customer is blocked by the owner: no points move for him."""

    code = "participantIsBlocked"
    default_message = _("This customer is blocked.")


class InsufficientPoints(LoyaltyError):
    """Redeeming or debiting more points than the customer's spendable balance."""

    code = "insufficientFunds"
    default_message = _("Not enough points: %(available)s available.")


class RedemptionCapExceeded(LoyaltyError):
    """Redeeming more than the tier's share of the eligible bill."""

    code = "discountLimitExceed"
    default_message = _("At most %(cap)s points can be redeemed on this bill.")


class RedeemByPhoneDisabled(LoyaltyError):
    """The program requires the customer's payment code to redeem; a phone is not enough."""

    code = "purchaseByPhoneDisabled"
    default_message = _("Redeeming by phone number is disabled: ask for the customer's payment code.")


class RefundExceedsPurchase(LoyaltyError):
    """A refund larger than what is left of the purchase."""

    code = "invalidRefundAmount"
    default_message = _("At most %(remaining)s can be refunded on this sale.")


class RequestIdReused(LoyaltyError):
    """A request id already used by a different kind of operation or a different customer."""

    code = "conflict"
    status = 409
    default_message = _("This request id was already used for another operation.")


class AlreadyRegistered(LoyaltyError):
    """Registering a phone that already belongs to a registered customer."""

    code = "alreadyRegistered"
    status = 409
    default_message = _("A customer with this phone number is already registered.")


class ReceiptNumberRequired(LoyaltyError):
    """The business requires a receipt number on every sale."""

    default_message = _("Enter the receipt number.")


class ProgramFileError(LoyaltyError):
    """A program file (YAML) with a wrong key or value; nothing was changed."""

    default_message = _("The program file is not valid.")
