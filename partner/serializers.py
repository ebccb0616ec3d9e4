"""Input of the Partner API: the reference's request bodies and query strings, validated.

Numbers are read as the reference says clients send them: JSON numbers (strings of digits are
accepted too), rounded to two decimals half-up, ``points`` rounded down. Amounts are bounded so
that no input can overflow the database's columns.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from loyalty.money import CENT

from .selectors import MAX_ID

# Operation amounts are numeric(14, 2); a bill of a hundred billion is already absurd.
MAX_AMOUNT = Decimal("100000000000")


class AmountField(serializers.Field):
    default_error_messages = {
        "invalid": _("A number is required."),
        "min_value": _("Ensure this value is greater than or equal to %(limit)s."),
        "max_value": _("Ensure this value is less than or equal to %(limit)s."),
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
    points = AmountField(min_value=CENT)
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
