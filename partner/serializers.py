"""Input of the Partner API: the reference's request bodies and query strings, validated.

Numbers are read as the reference says clients send them: JSON numbers (strings of digits are
accepted too), rounded to two decimals half-up, ``points`` rounded down. Amounts are bounded so
that no input can overflow the database's columns.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from loyalty.money import CENT, MAX_AMOUNT

from .selectors import MAX_ID


class AmountField(serializers.Field):
    default_error_messages = {
        "invalid": _("A number is required."),
        "min_value": _("Ensure this value is greater than or equal to {limit}."),
        "max_value": _("Ensure this value is less than or equal to {limit}."),
        "zero": _("Must not be zero."),
    }

    def __init__(self, *, rounding=ROUND_HALF_UP, min_value: Decimal | None = Decimal(0),
                 nonzero: bool = False, **kwargs):
        self.rounding, self.min_value, self.nonzero = rounding, min_value, nonzero
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            self.fail("invalid")
        try:
            value = Decimal(str(data).strip())
        except InvalidOperation:
            self.fail("invalid")
        if not value.is_finite():
            self.fail("invalid")
        if abs(value) > MAX_AMOUNT:
            self.fail("max_value", limit=MAX_AMOUNT)
        value = value.quantize(CENT, rounding=self.rounding)
        if self.min_value is not None and value < self.min_value:
            self.fail("min_value", limit=self.min_value)
        if self.nonzero and value == 0:
            self.fail("zero")
        return value

    def to_representation(self, value):
        return float(value)


def points_field(**kwargs) -> AmountField:
    return AmountField(rounding=ROUND_DOWN, **kwargs)


class IdField(serializers.IntegerField):
    """An object id: a JSON integer or a string of digits (the reference uses both)."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


class ParticipantIn(serializers.Serializer):
    uid = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=64)
    phone = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32)


class CashierIn(serializers.Serializer):
    externalId = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100)
    # The reference's own code samples spell it so; integrations copied them.
    extrnalId = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100)
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=200)

    def validate(self, attrs):
        attrs["external_id"] = attrs.get("externalId") or attrs.get("extrnalId") or ""
        return attrs


class ReceiptIn(serializers.Serializer):
    total = AmountField()
    cash = AmountField()
    points = points_field()
    number = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100)
    skipLoyaltyTotal = AmountField(required=False, allow_null=True)
    unredeemableTotal = AmountField(required=False, allow_null=True)


class CalcReceiptIn(serializers.Serializer):
    total = AmountField()
    points = points_field(required=False, allow_null=True)
    skipLoyaltyTotal = AmountField(required=False, allow_null=True)
    unredeemableTotal = AmountField(required=False, allow_null=True)


class _Identified(serializers.Serializer):
    code = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=64)
    participant = ParticipantIn(required=False, allow_null=True)


class CreateOperationIn(_Identified):
    nonce = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    cashier = CashierIn(required=False, allow_null=True)
    receipt = ReceiptIn()
    tags = serializers.ListField(child=IdField(), required=False, allow_null=True, max_length=100)


class CalcIn(_Identified):
    receipt = CalcReceiptIn()


class RefundIn(serializers.Serializer):
    partialAmount = AmountField(required=False, allow_null=True, min_value=CENT)


class RewardIn(serializers.Serializer):
    points = points_field(min_value=CENT)  # rounded down, as points are everywhere
    comment = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=500)
    participants = serializers.ListField(child=IdField(), min_length=1, max_length=10000)
    silent = serializers.BooleanField(required=False, allow_null=True)


class TagsIn(serializers.Serializer):
    ids = serializers.ListField(child=IdField(), max_length=1000)


class PageIn(serializers.Serializer):
    max = serializers.IntegerField(required=False, default=10, min_value=1, max_value=50)
    offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=10000)
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=200)


class FindIn(serializers.Serializer):
    code = serializers.CharField(required=False, allow_blank=True, max_length=64)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    uid = serializers.CharField(required=False, allow_blank=True, max_length=64)
    exchangeCode = serializers.BooleanField(required=False, default=False)
    total = AmountField(required=False)
    skipLoyaltyTotal = AmountField(required=False)
    unredeemableTotal = AmountField(required=False)


# --- The sale's body by hand ---------------------------------------------------------------------
# POST /operations is the hot path: building CreateOperationIn (a deep copy of 20-odd fields per
# request) and running it cost as much as the key and the customer lookups together. The bodies
# integrations send are read here by hand, to exactly what the serializer would return; anything
# this reader is not sure of (a wrong type, a blank or over-long value, a missing field...) goes
# to the serializer, so every error an integration sees is the serializer's own.
# tests/partner/test_serializers.py checks both agree on generated bodies.

class _Unsure(Exception):
    """The body is not plainly valid: let the serializer judge it."""


def _text(value, max_length: int) -> str | None:
    """A ``CharField(allow_null=True, allow_blank=True, max_length=...)`` given a value."""
    if value is None:
        return None
    if type(value) is not str:
        raise _Unsure
    value = value.strip()
    if len(value) > max_length or "\x00" in value:
        raise _Unsure
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate
        raise _Unsure from None
    return value


_AMOUNT = AmountField()
_POINTS = points_field()


def _amount(value, field: AmountField = _AMOUNT) -> Decimal:
    if value is None:
        raise _Unsure
    try:
        return field.to_internal_value(value)
    except serializers.ValidationError:
        raise _Unsure from None


def _texts(data, spec: dict[str, int]) -> dict:
    """A nested serializer of optional nullable ``CharField``s: only the keys given."""
    if type(data) is not dict:
        raise _Unsure
    return {name: _text(data[name], limit) for name, limit in spec.items() if name in data}


_CASHIER = {"externalId": 100, "extrnalId": 100, "name": 200}
_PARTICIPANT = {"uid": 64, "phone": 32}
_RECEIPT_TEXTS = {"number": 100}


def _create_operation_fast(data) -> dict:
    if type(data) is not dict:
        raise _Unsure
    out = _texts(data, {"code": 64, "nonce": 255})
    if "participant" in data:
        participant = data["participant"]
        out["participant"] = None if participant is None else _texts(participant, _PARTICIPANT)
    if "cashier" in data:
        cashier = data["cashier"]
        if cashier is None:
            out["cashier"] = None
        else:
            attrs = _texts(cashier, _CASHIER)
            attrs["external_id"] = attrs.get("externalId") or attrs.get("extrnalId") or ""
            out["cashier"] = attrs
    raw = data.get("receipt")
    if type(raw) is not dict:
        raise _Unsure
    receipt = _texts(raw, _RECEIPT_TEXTS)
    receipt["total"], receipt["cash"] = _amount(raw.get("total")), _amount(raw.get("cash"))
    receipt["points"] = _amount(raw.get("points"), _POINTS)
    for name in ("skipLoyaltyTotal", "unredeemableTotal"):
        if name in raw:
            receipt[name] = None if raw[name] is None else _amount(raw[name])
    out["receipt"] = receipt
    if "tags" in data:
        tags = data["tags"]
        if tags is not None and (type(tags) is not list or len(tags) > 100 or not all(
                type(tag) is int and 0 < tag <= MAX_ID for tag in tags)):
            raise _Unsure
        out["tags"] = tags if tags is None else list(tags)
    return out


def create_operation_in(data) -> dict:
    """``CreateOperationIn(data=data)``'s ``validated_data``; raises its ``ValidationError``."""
    try:
        return _create_operation_fast(data)
    except _Unsure:
        pass
    serializer = CreateOperationIn(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
