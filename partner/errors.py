"""The API's errors: one exception handler turns every refusal into the reference's error object.

``{"errorCode": "...", "message": "..."}``, plus ``errors[]`` (``errorCode``, ``message``,
``field``, ``value``) for ``badRequest`` form errors. Business refusals are ``loyalty.exceptions``
errors whose ``code`` already is the Partner API's code (``insufficientFunds``,
``discountLimitExceed``...); the few refusals only the API makes are below. ``message`` is in the
language ``Accept-Language`` asked for (``LocaleMiddleware`` activated it).
"""

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf
from rest_framework.response import Response

from loyalty.exceptions import (
    ExcludedExceedsTotal,
    InvalidPhone,
    LoyaltyError,
    TotalNotPositive,
    UnredeemableExceedsRest,
)


class InvalidChecksum(LoyaltyError):
    """``total``, ``cash`` and ``points`` of a receipt do not add up (cash ≠ total − points − the
    points a certificate pays)."""

    code = "invalidChecksum"
    default_message = _("The receipt's total, cash and points do not agree: cash must be "
                        "total − points − certificate points (%(expected)s).")


class WithdrawNotPermitted(LoyaltyError):
    """Points redeemed on a sale identified by ``participant.uid``: a uid may only accrue."""

    code = "withdrawNotPermitted"
    default_message = _("Points cannot be redeemed by customer uid; use the payment code.")


class OneIdentifierRequired(LoyaltyError):
    """None or more than one of ``code``, ``participant.phone``, ``participant.uid`` was given."""

    default_message = _("Give exactly one of: code, phone, uid.")


class PaymentCodeNotFound(LoyaltyError):
    """A payment code that is unknown or expired (codes are not issued yet: see docs)."""

    code = "notFound"
    status = 404
    default_message = _("The payment code is not valid or has expired; ask for a new code.")


class CertificateNeedsCustomer(LoyaltyError):
    """A gift certificate (nobody's) sent alone to a sale or a calculation: whose sale is it?"""

    default_message = _("This certificate belongs to nobody yet: send participant.phone or "
                        "participant.uid with the code.")


# Refusals of the services that the reference answers with another code: a used, cancelled or
# expired certificate is what the reference calls an "invalid code or code expired" (404 notFound).
_API_CODES = {"certificateNotActive": ("notFound", 404)}


class NotASale(LoyaltyError):
    """A refund asked of an operation that is not a sale (a refund, a reward): it exists, so the
    answer is not notFound."""

    default_message = _("Only a sale can be refunded; operation %(id)s is not one.")


class TagNotFound(LoyaltyError):
    """Tag ids that match no tag of the business."""

    default_message = _("No tag with id %(ids)s.")


class BadCursor(LoyaltyError):
    """A ``cursor`` that is not one this API gave out."""

    default_message = _("The cursor is not valid: use the one the previous page returned.")


class BadHeader(LoyaltyError):
    """A header the API reads (``X-Timestamp``) that cannot be read."""

    default_message = _("The %(header)s header is not a valid ISO-8601 date and time.")


def _camel(code: str) -> str:
    head, *rest = str(code).split("_")
    return head + "".join(part.title() for part in rest)


# DRF messages that DRF does not mark for translation.
_UNMARKED = {"No data provided": _("The body is empty: a JSON object is expected.")}


def _flatten(detail, field: str = "") -> list[dict]:
    """DRF's nested error detail as the reference's flat ``errors[]`` (``receipt.total``)."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = field if key == "non_field_errors" else (f"{field}.{key}" if field else str(key))
            out += _flatten(value, name)
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                out += _flatten(value, f"{field}[{index}]")
            else:
                out += _flatten(value, field)
        return out
    message = _UNMARKED.get(str(detail), str(detail))
    item = {"errorCode": _camel(getattr(detail, "code", "invalid")), "message": str(message)}
    if field:
        item["field"] = field
    return [item]


def _field_of(exc: LoyaltyError, request) -> str | None:
    """The input a refusal is about, for ``errors[].field``, where one input is to blame: the
    phone (``participant.phone`` in a body, ``phone`` in a query), the tag ids, the cursor."""
    if isinstance(exc, InvalidPhone):
        return "phone" if request is not None and request.method == "GET" else "participant.phone"
    if isinstance(exc, TagNotFound):
        data = getattr(request, "data", None)
        return "tags" if isinstance(data, dict) and "tags" in data else "ids"
    if isinstance(exc, BadCursor):
        return "cursor"
    amount = _AMOUNT_FIELDS.get(type(exc))
    if amount:  # a query string (customers/find) or a body's receipt
        return amount if request is not None and request.method == "GET" else f"receipt.{amount}"
    return None


_AMOUNT_FIELDS = {TotalNotPositive: "total", ExcludedExceedsTotal: "skipLoyaltyTotal",
                  UnredeemableExceedsRest: "unredeemableTotal"}


def error_body(code: str, message: str, errors: list[dict] | None = None) -> dict:
    body = {"errorCode": code, "message": str(message)}
    if errors is not None:
        body["errors"] = errors
    return body


def partner_exception_handler(exc, context):
    """Every error of the Partner API, in the reference's shape; None (a 500) only for bugs."""
    if isinstance(exc, LoyaltyError):
        errors = None
        if exc.code == "badRequest":
            field = _field_of(exc, context.get("request"))
            errors = [{"errorCode": "invalid", "message": str(exc), "field": field}] if field else []
        code, status = _API_CODES.get(exc.code, (exc.code, exc.status))
        return Response(error_body(code, str(exc), errors), status=status)
    if isinstance(exc, drf.ValidationError):
        return Response(
            error_body("badRequest", _("The request is not valid."), _flatten(exc.detail)), status=400
        )
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        response = Response(
            error_body("unauthorized", _("The API key or company id is not correct.")), status=401
        )
        response["WWW-Authenticate"] = 'Basic realm="partner"'
        return response
    if isinstance(exc, Http404 | drf.NotFound):
        return Response(error_body("notFound", _("Not found.")), status=404)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("badRequest", _("The request body is too large."), []), status=400)
    if isinstance(exc, drf.ParseError):
        return Response(error_body("badRequest", exc.detail, []), status=400)
    if isinstance(exc, drf.PermissionDenied):
        return Response(error_body("forbidden", exc.detail), status=403)
    if isinstance(exc, drf.APIException):
        return Response(error_body(_camel(exc.default_code), exc.detail), status=exc.status_code)
    return None
