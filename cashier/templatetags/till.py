"""Template filters of the till: amounts as people read them, and as inputs take them."""

from decimal import Decimal

from django import template
from django.utils.formats import number_format

from loyalty.phones import mask_phone

register = template.Library()


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        return None


@register.filter
def amount(value) -> str:
    """``1234.5`` → ``1 234,50`` (ru) / ``1,234.50`` (en); whole amounts without the cents."""
    number = _decimal(value)
    if number is None:
        return ""
    places = 0 if number == number.to_integral_value() else 2
    return number_format(number, decimal_pos=places, use_l10n=True, force_grouping=True)


@register.filter
def plain(value) -> str:
    """An amount for an input's value: ``210.00`` → ``210``, ``10.50`` → ``10.50``."""
    number = _decimal(value)
    if number is None:
        return ""
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return f"{number:.2f}"


@register.filter
def masked(phone: str) -> str:
    """A phone as staff may see it: ``+7 900 ***-**-67``."""
    return mask_phone(phone or "")
