"""Checks of program settings that the database cannot make: a time zone, a language, a currency.

Each raises Django's ``ValidationError`` with a message in the user's language; the admin shows it
on the field (``BusinessSettings.clean``) and ``loadprogram`` refuses the file (``loyalty.program``).
The nightly jobs read the time zone every night: a zone that does not exist stopped them all.
"""

import re
import zoneinfo
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("“%(value)s” is not a time zone: use a name such as Europe/Moscow or Asia/Almaty."),
            code="invalid", params={"value": value}) from None


def validate_language(value: str) -> None:
    codes = [code for code, _name in settings.LANGUAGES]
    if value not in codes:
        raise ValidationError(_("The language must be one of: %(codes)s."), code="invalid",
                              params={"codes": ", ".join(codes)})


def validate_birthday(value: date | None) -> None:
    """A birthday the birthday campaign can use: not in the future, not over 120 years ago."""
    if value is None:
        return
    today = timezone.localdate()
    if value > today:
        raise ValidationError(_("A birthday cannot be in the future."), code="invalid")
    if value < today.replace(year=today.year - 120, day=min(today.day, 28)):
        raise ValidationError(_("A birthday more than 120 years ago is a typo."), code="invalid")


def validate_currency(value: str) -> None:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValidationError(_("The currency is a three-letter ISO 4217 code, such as RUB or KZT."),
                              code="invalid")
