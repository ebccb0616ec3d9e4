"""Phone numbers are customers' identity: one spelling (E.164) for every way staff type them."""

from functools import lru_cache

import phonenumbers
from django.conf import settings

from .exceptions import InvalidPhone


def normalize_phone(raw: str, *, region: str | None = None) -> str:
    """Return ``raw`` in E.164 (``+79001234567``) or raise ``InvalidPhone``.

    ``8 900 123-45-67``, ``+7 (900) 123 45 67`` and ``9001234567`` are the same number: digits without
    a country code are read in ``PHONE_DEFAULT_REGION`` (RU), where a leading 8 is the trunk prefix.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone()
    region = region or settings.PHONE_DEFAULT_REGION
    # Remembered only for texts of a phone number's length: the cache holds 8192 of them, and a
    # search box or a form may send anything.
    normalized = _e164(text, region) if len(text) <= 32 else _e164.__wrapped__(text, region)
    if normalized is None:
        raise InvalidPhone()
    return normalized


@lru_cache(maxsize=8192)
def _e164(text: str, region: str) -> str | None:
    """E.164 of ``text`` read in ``region``, or None. Remembered: every sale through the API or
    the till names its customer by phone, and parsing a number (phonenumbers' metadata, regular
    expressions) cost a twentieth of a sale's CPU; the numbers a business sees repeat."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalize_phone(raw: str) -> str | None:
    """``normalize_phone`` that answers None instead of raising (for search boxes)."""
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        return None


def mask_phone(phone: str) -> str:
    """``+79001234567`` → ``+7 900 ***-**-67``: enough for staff to confirm, not to copy."""
    if len(phone) < 8:
        return phone
    return f"{phone[:2]} {phone[2:5]} ***-**-{phone[-2:]}"


def format_phone(phone: str) -> str:
    """E.164 → the national-international spelling people read (``+7 900 123-45-67``)."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
