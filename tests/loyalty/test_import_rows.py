"""Reading one row: the phone short-cut agrees with phonenumbers; dates, genders, headers."""

import random
from datetime import date

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from loyalty.exceptions import InvalidPhone
from loyalty.imports.headers import header_key, mapping_guess
from loyalty.imports.rows import RowReader, birthday_read, phone_read
from loyalty.phones import normalize_phone

TODAY = date(2026, 11, 25)


def test_phone_short_cut_gives_exactly_what_phonenumbers_gives():
    rng = random.Random(5)
    for _n in range(3000):
        digits = f"9{rng.randrange(10**9):09d}"
        for raw in (f"8{digits}", f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:]}", digits,
                    f"7{digits}"):
            try:
                expected = normalize_phone(raw)
            except InvalidPhone:
                expected = None
            try:
                got = phone_read(raw)
            except InvalidPhone:
                got = None
            assert got == expected, raw


def _e164_or_none(read, raw):
    try:
        return read(raw)
    except InvalidPhone:
        return None


# Spellings staff type: an optional prefix, ten digits, separators anywhere (and some junk).
_SEPARATORS = st.sampled_from(["", "", " ", "-", "(", ")", ".", "\u00a0", "/", "+", "  "])
_SPELLINGS = st.builds(
    lambda prefix, digits, seps: prefix + "".join(s + d for s, d in zip(seps, digits, strict=False)),
    st.sampled_from(["", "+7", "7", "8", "+8", "+", "87", "+7 8", "007", "+1", "+375"]),
    st.text(alphabet="0123456789", min_size=7, max_size=12),
    st.lists(_SEPARATORS, min_size=12, max_size=12),
)


@settings(max_examples=1500, deadline=None)
@given(raw=st.one_of(_SPELLINGS, st.text(alphabet="0123456789 +()-.", max_size=18)))
@example(raw="8 (916) 123-45-67")
@example(raw="+7 916 123 45 67")
@example(raw="9161234567")
def test_phone_short_cut_is_phonenumbers_for_any_spelling(raw):
    """The short-cut (and the reader's cache of slow answers) never answers differently from
    ``normalize_phone``: the same E.164 number, or both refuse."""
    expected = _e164_or_none(normalize_phone, raw)
    assert _e164_or_none(phone_read, raw) == expected
    reader = RowReader({0: "phone"}, tiers={}, today=TODAY)
    for _twice in range(2):
        row = reader.read(2, [raw])
        assert (row.phone or None) == expected
        assert bool(row.errors) == (expected is None)


@pytest.mark.parametrize("raw", ["8 (495) 123-45-67", "+44 20 7946 0958", "+375 29 123-45-67"])
def test_numbers_outside_the_short_cut_still_read(raw):
    assert phone_read(raw) == normalize_phone(raw)


@pytest.mark.parametrize("raw, expected", [
    ("12.03.1985", date(1985, 3, 12)), ("1985-03-12", date(1985, 3, 12)),
    ("12/03/85", date(1985, 3, 12)), ("12-3-1985", date(1985, 3, 12)),
    ("1985.03.12", date(1985, 3, 12)), ("12 марта 1985", date(1985, 3, 12)),
    ("12 Mar 1985", date(1985, 3, 12)), ("01.01.05", date(2005, 1, 1)),
    ("12.03.1985 0:00:00", date(1985, 3, 12)),
    ("31.02.1990", None), ("12.03", None), ("вчера", None), ("01.01.2030", None),
    ("01.01.1800", None),
])
def test_birthdays_in_the_usual_spellings(raw, expected):
    assert birthday_read(raw, today=TODAY) == expected


def test_headers_ignore_case_spacing_and_punctuation():
    assert header_key("  Дата  Рождения: ") == header_key("дата_рождения") == "дата рождения"
    header = ["№", "ФИО", "Моб. телефон", "Телефон", "E-mail", "Бонусы", "ТЕГИ", "Ёще"]
    assert mapping_guess(header) == {1: "name", 2: "phone", 4: "email", 5: "balance", 6: "tags"}
