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
from dataclasses import dataclass
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


def _phone_short_cut(raw: str) -> str | None:
    """E.164 of a Russian mobile number in a usual spelling, else None (ask phonenumbers)."""
    match = _RU_MOBILE.fullmatch(_NON_DIGITS.sub("", raw))
    return "+7" + match.group(1) if match else None


def phone_read(raw: str) -> str:
    """E.164 for ``raw`` or ``InvalidPhone``; the same answer as ``normalize_phone``, faster."""
    return _phone_short_cut(raw) or normalize_phone(raw)


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
    """What one file row says about a customer. ``cells`` are kept only for rejected rows.

    ``errors`` and ``warnings`` are a shared empty tuple until ``error``/``warn`` adds the first
    (most rows have none: two empty lists per row were ~10 MB of a 100k-row import).
    """

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
    errors: list[str] | tuple[()] = ()
    warnings: list[str] | tuple[()] = ()
    cells: list[Cell] | None = None

    def error(self, message: str) -> None:
        """Reject the row with ``message`` (after any earlier reasons)."""
        if self.errors:
            self.errors.append(message)
        else:
            self.errors = [message]

    def warn(self, message: str) -> None:
        """Keep the row, noting ``message``."""
        if self.warnings:
            self.warnings.append(message)
        else:
            self.warnings = [message]

    def profile(self) -> dict[str, object]:
        """The customer fields this row fills (tags and balance apart)."""
        return {"name": self.name, "email": self.email, "birthday": self.birthday,
                "gender": self.gender, "source": self.source, "tier_id": self.tier_id}


def _text(cell: Cell) -> str:
    """A cell as text; ``RowReader.read`` has stripped text cells already, so those pass as
    they are (the common case, first) and only XLSX date cells are converted."""
    if cell.__class__ is str:
        return cell
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    return str(cell).strip()


def _messages() -> dict[str, str]:
    """The row messages in the active language, looked up once per file (``gettext`` costs ~5 µs
    a call through Django's thread-local translation state; a 100k-row file has ~100k problems)."""
    return {
        "no_phone": _("no phone number"),
        "invalid_phone": _("invalid phone number: %(value)s"),
        "birthday": _("birthday not understood, left empty: %(value)s"),
        "email": _("invalid e-mail, left empty: %(value)s"),
        "gender": _("gender not understood, left empty: %(value)s"),
        "tier": _("no such tier, set by spending: %(value)s"),
        "balance": _("opening balance is not a number ≥ 0: %(value)s"),
    }


class RowReader:
    """Reads the rows of one file with one column mapping.

    The hot loop of an import (once per row): unmapped fields cost nothing, text cells are stripped
    once, messages are translated once per file, and what repeats down a column is worked out
    once: a tags cell's list (a few distinct lists in a whole base), a phone that needs
    phonenumbers (an invalid "-" or a landline typed on many rows).
    """

    def __init__(self, mapping: dict[int, str], *, tiers: dict[str, int], today: date) -> None:
        self.mapping = mapping
        self.tiers = tiers  # lower-cased tier name → id
        self.today = today
        self.messages = _messages()
        self._tags: dict[str, tuple[str, ...]] = {}
        self._slow_phones: dict[str, str | None] = {}  # raw → E.164, None = invalid

    def _phone(self, raw: str) -> str | None:
        phone = _phone_short_cut(raw)
        if phone is not None:
            return phone
        try:
            return self._slow_phones[raw]
        except KeyError:
            pass
        try:
            phone = normalize_phone(raw)
        except InvalidPhone:
            phone = None
        if len(self._slow_phones) < 100_000:
            self._slow_phones[raw] = phone
        return phone

    def _tag_list(self, text: str) -> tuple[str, ...]:
        tags = self._tags.get(text)
        if tags is None:
            tags = tuple(dict.fromkeys(t.strip()[:100] for t in _TAG_SPLIT.split(text) if t.strip()))
            if len(self._tags) < 10_000:
                self._tags[text] = tags
        return tags

    def read(self, line: int, cells: list[Cell]) -> RowData:
        """Read the mapped cells of one row."""
        count = len(cells)
        values: dict[str, Cell] = {}
        for index, key in self.mapping.items():
            if index < count:
                cell = cells[index]
                if cell.__class__ is str:
                    cell = cell.strip()
                    if cell:
                        values[key] = cell
                elif cell is not None:
                    values[key] = cell
        get = values.get
        messages = self.messages
        row = RowData(line=line)

        raw_phone = get("phone")
        if raw_phone is None:
            row.error(messages["no_phone"])
        else:
            raw_phone = _text(raw_phone)
            phone = self._phone(raw_phone)
            if phone is None:
                row.error(messages["invalid_phone"] % {"value": raw_phone})
            else:
                row.phone = phone

        name = get("name")
        if name is None:
            parts = [get(k) for k in ("first_name", "middle_name", "last_name")]
            name = " ".join(_text(p) for p in parts if p is not None)
        else:
            name = _text(name)
        row.name = " ".join(name.split())[:200] if name else ""

        birthday = get("birthday")
        if birthday is not None:
            row.birthday = birthday_read(birthday, today=self.today)
            if row.birthday is None:
                row.warn(messages["birthday"] % {"value": _text(birthday)})

        email = get("email")
        if email is not None:
            email = _text(email).lower()
            if _EMAIL.fullmatch(email) and len(email) <= 254:
                row.email = email
            else:
                row.warn(messages["email"] % {"value": email})

        gender = get("gender")
        if gender is not None:
            gender = _text(gender)
            row.gender = GENDERS.get(gender.lower().rstrip("."), "")
            if not row.gender:
                row.warn(messages["gender"] % {"value": gender})

        source = get("source")
        if source is not None:
            row.source = _text(source)[:100]

        tier = get("tier")
        if tier is not None:
            tier = _text(tier)
            row.tier_id = self.tiers.get(tier.lower())
            if row.tier_id is None:
                row.warn(messages["tier"] % {"value": tier})

        tags = get("tags")
        if tags is not None:
            row.tags = self._tag_list(_text(tags))

        balance = get("balance")
        if balance is not None:
            balance = _text(balance)
            amount = parse_amount(balance)
            if amount is None or amount < 0 or amount >= Decimal(10) ** 12:
                row.error(messages["balance"] % {"value": balance})
            else:
                row.balance = money(amount)

        if row.errors:
            row.cells = cells
        return row


def row_read(
    line: int, cells: list[Cell], mapping: dict[int, str], *, tiers: dict[str, int], today: date
) -> RowData:
    """Read the mapped cells of one row (a whole file goes through one ``RowReader``)."""
    return RowReader(mapping, tiers=tiers, today=today).read(line, cells)
