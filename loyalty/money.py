"""Money and points arithmetic: one place that decides how amounts are rounded.

1 point = 1 currency unit. Every amount is a ``Decimal`` with two places; rounding is half-up
(``money``), except where a limit must never be exceeded, which rounds down (``money_down``).
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
# The largest amount a bill, a refund or an adjustment may carry. Amounts are numeric(14, 2), so
# anything above 10¹² cannot be stored; a hundred billion leaves room for the sums of many, and a
# barcode scanned into the bill's box (13 digits) is refused instead of booked.
MAX_AMOUNT = Decimal("100000000000")


def money(value: Decimal | int | str) -> Decimal:
    """Quantise to cents, half-up: the rounding of every credited or charged amount."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money_down(value: Decimal | int | str) -> Decimal:
    """Quantise to cents, rounding down: for caps, so a cap is never exceeded by rounding."""
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    """``percent`` % of ``amount``, rounded half-up to cents."""
    return money(amount * percent / HUNDRED)


def parse_amount(raw: object) -> Decimal | None:
    """Read a user-typed amount ("1 234,50", "1234.5", 12) as Decimal; None when it is no number."""
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int | float):
        value = Decimal(str(raw))
    else:
        text = str(raw).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            return None
    if not value.is_finite():
        return None
    return value
