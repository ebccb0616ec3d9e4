"""Reading one row: the phone short-cut agrees with phonenumbers; dates, genders, headers."""

import random
from datetime import date

import pytest

from loyalty.exceptions import InvalidPhone
from loyalty.imports.headers import header_key, mapping_guess
from loyalty.imports.rows import birthday_read, phone_read
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
