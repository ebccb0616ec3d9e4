"""One row of an import file → the customer fields it holds, with its errors and warnings.

An *error* rejects the row (no valid phone, an opening balance that is not a number ≥ 0, a phone
already seen higher up in the file); a *warning* drops one value and keeps the row (a birthday,
e-mail, gender or tier that cannot be read).

Phone numbers: ``phonenumbers`` costs ~50 µs a number, most of a 100k-row import. Russian mobile
numbers in their usual spellings (``8 916 …``, ``+7 (916) …``, ``916…``) are recognised by a
short-cut that uses phonenumbers' own RU mobile pattern (a 10-digit national number matching it is
valid); everything else goes through phonenumbers (a test keeps both in step).
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import phonenumbers
from django.utils.translation import gettext as _

from ..exceptions import InvalidPhone
from ..money import ZERO, money, parse_amount
from ..phones import normalize_phone
from .reader import Cell

_NON_DIGITS = re.compile(r"[\s()\-.\u00a0]+")
# phonenumbers' own pattern of Russian mobile numbers (so the short-cut follows library updates).
_RU_MOBILE = re.compile(
    r"(?:\+7|7|8)?(" + phonenumbers.PhoneMetadata.metadata_for_region("RU").mobile.national_number_pattern
    + ")"
)
_DMY = re.compile(r"(\d{1,2})[./\-\s](\d{1,2})[./\-\s](\d{4}|\d{2})(?:[ T].*)?")
_YMD = re.compile(r"(\d{4})[./\-](\d{1,2})[./\-](\d{1,2})(?:[ T].*)?")
_DMONTHY = re.compile(r"(\d{1,2})\s+([^\W\d_]+)\.?\s+(\d{4})(?:\s*г\.?)?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TAG_SPLIT = re.compile(r"[,;|]")

MONTHS = {
    "янв": 1, "фев": 2, "мар": 3, "апр": 4, "мая": 5, "май": 5, "июн": 6, "июл": 7, "авг": 8,
    "сен": 9, "окт": 10, "ноя": 11, "дек": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "oct": 10, "nov": 11, "dec": 12,
}
GENDERS = {
    "м": "male", "муж": "male", "мужской": "male", "мужчина": "male", "m": "male",
    "male": "male", "man": "male",
    "ж": "female", "жен": "female", "женский": "female", "женщина": "female", "f": "female",
    "female": "female", "w": "female", "woman": "female",
}


def phone_read(raw: str) -> str:
    """E.164 for ``raw`` or ``InvalidPhone``; the same answer as ``normalize_phone``, faster."""
    compact = _NON_DIGITS.sub("", raw)
    match = _RU_MOBILE.fullmatch(compact)
    if match:
        return "+7" + match.group(1)
    return normalize_phone(raw)


def birthday_read(cell: Cell, *, today: date) -> date | None:
    """A date from the usual spellings (``31.12.1985``, ``1985-12-31``, ``31/12/85``,
    ``31 декабря 1985``, an XLSX date cell); None when it cannot be read or is impossible."""
    if isinstance(cell, datetime):
        value: date | None = cell.date()
    elif isinstance(cell, date):
        value = cell
    else:
        text = cell.strip().lower()
        value = None
        try:
            if m := _DMY.fullmatch(text):
                day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
                if len(m.group(3)) == 2:
                    year += 2000 if 2000 + year <= today.year else 1900
                value = date(year, month, day)
            elif m := _YMD.fullmatch(text):
                value = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            elif m := _DMONTHY.fullmatch(text):
                month_no = MONTHS.get(m.group(2)[:3])
                if month_no:
                    value = date(int(m.group(3)), month_no, int(m.group(1)))
        except ValueError:
            value = None
    if value is None or value.year < 1900 or value > today:
        return None
    return value


@dataclass(slots=True)
class RowData:
    """What one file row says about a customer. ``cells`` are kept only for rejected rows."""

    line: int
    phone: str = ""
    name: str = ""
    email: str = ""
    birthday: date | None = None
    gender: str = ""
    source: str = ""
    tier_id: int | None = None
    tags: tuple[str, ...] = ()
    balance: Decimal = ZERO
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cells: list[Cell] | None = None

    def profile(self) -> dict[str, object]:
        """The customer fields this row fills (tags and balance apart)."""
        return {"name": self.name, "email": self.email, "birthday": self.birthday,
                "gender": self.gender, "source": self.source, "tier_id": self.tier_id}


def _text(cell: Cell) -> str:
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    return cell.strip()


def row_read(
    line: int, cells: list[Cell], mapping: dict[int, str], *, tiers: dict[str, int], today: date
) -> RowData:
    """Read the mapped cells of one row; ``tiers`` maps a lower-cased tier name to its id.

    The hot loop of an import (once per row): unmapped fields cost nothing, text cells are
    stripped once, and translated messages are built only for rows that have a problem.
    """
    count = len(cells)
    values: dict[str, Cell] = {}
    for index, key in mapping.items():
        if index < count:
            cell = cells[index]
            if cell.__class__ is str:
                cell = cell.strip()
                if cell:
                    values[key] = cell
            elif cell is not None:
                values[key] = cell
    get = values.get
    row = RowData(line=line)

    raw_phone = get("phone")
    if raw_phone is None:
        row.errors.append(_("no phone number"))
    else:
        raw_phone = _text(raw_phone)
        try:
            row.phone = phone_read(raw_phone)
        except InvalidPhone:
            row.errors.append(_("invalid phone number: %(value)s") % {"value": raw_phone})

    name = get("name")
    if name is None:
        parts = [get(k) for k in ("first_name", "middle_name", "last_name")]
        name = " ".join(_text(p) for p in parts if p is not None)
    else:
        name = _text(name)
    row.name = " ".join(name.split())[:200] if name else ""

    birthday = get("birthday")
    if birthday is not None:
        row.birthday = birthday_read(birthday, today=today)
        if row.birthday is None:
            row.warnings.append(_("birthday not understood, left empty: %(value)s")
                                % {"value": _text(birthday)})

    email = get("email")
    if email is not None:
        email = _text(email).lower()
        if _EMAIL.fullmatch(email) and len(email) <= 254:
            row.email = email
        else:
            row.warnings.append(_("invalid e-mail, left empty: %(value)s") % {"value": email})

    gender = get("gender")
    if gender is not None:
        gender = _text(gender)
        row.gender = GENDERS.get(gender.lower().rstrip("."), "")
        if not row.gender:
            row.warnings.append(_("gender not understood, left empty: %(value)s") % {"value": gender})

    source = get("source")
    if source is not None:
        row.source = _text(source)[:100]

    tier = get("tier")
    if tier is not None:
        tier = _text(tier)
        row.tier_id = tiers.get(tier.lower())
        if row.tier_id is None:
            row.warnings.append(_("no such tier, set by spending: %(value)s") % {"value": tier})

    tags = get("tags")
    if tags is not None:
        row.tags = tuple(dict.fromkeys(
            t.strip()[:100] for t in _TAG_SPLIT.split(_text(tags)) if t.strip()
        ))

    balance = get("balance")
    if balance is not None:
        balance = _text(balance)
        amount = parse_amount(balance)
        if amount is None or amount < 0 or amount >= Decimal(10) ** 12:
            row.errors.append(_("opening balance is not a number ≥ 0: %(value)s") % {"value": balance})
        else:
            row.balance = money(amount)

    if row.errors:
        row.cells = cells
    return row
