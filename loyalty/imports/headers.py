"""Which column is which: the header names real exports use, in Russian and English.

Headers are compared after ``header_key``: lower case, ``ё`` → ``е``, punctuation and repeated
spaces folded, so ``Дата  рождения:``, ``дата_рождения`` and ``ДАТА РОЖДЕНИЯ`` are one name.
"""

import re

from django.utils.translation import gettext_lazy as _

# Field keys a column can be mapped to ("" = ignored), with the label the mapping form shows.
FIELDS = {
    "phone": _("phone"),
    "name": _("full name"),
    "first_name": _("first name"),
    "last_name": _("last name"),
    "middle_name": _("middle name"),
    "birthday": _("birthday"),
    "gender": _("gender"),
    "email": _("e-mail"),
    "balance": _("opening balance (points)"),
    "tags": _("tags"),
    "source": _("source"),
    "tier": _("tier"),
}

SYNONYMS = {
    "phone": ["телефон", "тел", "номер телефона", "телефон клиента", "мобильный телефон",
              "мобильный", "сотовый", "моб телефон", "моб", "мобильный номер", "phone",
              "phone number", "mobile", "mobile phone", "tel", "telephone", "cell", "msisdn"],
    "name": ["фио", "ф и о", "клиент", "покупатель", "имя клиента", "контакт", "name", "full name",
             "fullname", "customer", "customer name", "client"],
    "first_name": ["имя", "first name", "firstname", "given name"],
    "last_name": ["фамилия", "last name", "lastname", "surname", "family name"],
    "middle_name": ["отчество", "middle name", "patronymic"],
    "birthday": ["дата рождения", "день рождения", "др", "д р", "birthday", "birth date",
                 "birthdate", "date of birth", "dob", "bday"],
    "gender": ["пол", "gender", "sex"],
    "email": ["email", "e mail", "почта", "электронная почта", "эл почта", "адрес почты", "mail"],
    "balance": ["баллы", "бонусы", "баланс", "бонусный баланс", "баланс баллов", "остаток баллов",
                "остаток бонусов", "бонусные баллы", "количество баллов", "points", "balance",
                "bonus", "bonuses", "bonus balance", "points balance", "opening balance"],
    "tags": ["теги", "тэги", "метки", "ярлыки", "tags", "labels", "tag"],
    "source": ["источник", "канал", "откуда узнал", "откуда узнали", "source", "channel",
               "utm source"],
    "tier": ["статус", "уровень", "уровень карты", "категория", "tier", "level", "status",
             "membership tier"],
}

_FOLD = re.compile(r"[\s_\-./:*()\"'№#]+")


def header_key(text: str) -> str:
    return _FOLD.sub(" ", str(text).lower().replace("ё", "е")).strip()


_BY_KEY = {header_key(s): field for field, names in SYNONYMS.items() for s in names}


def mapping_guess(header: list[str]) -> dict[int, str]:
    """Column index → field for every recognised header; the first column wins a field."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for index, text in enumerate(header):
        field = _BY_KEY.get(header_key(text))
        if field and field not in taken:
            mapping[index] = field
            taken.add(field)
    return mapping


def mapping_from_names(header: list[str], by_name: dict[str, str]) -> dict[int, str]:
    """A mapping saved as {header text: field} (what the admin form stores) → by column index."""
    mapping: dict[int, str] = {}
    for index, text in enumerate(header):
        field = by_name.get(text, "")
        if field in FIELDS and field not in mapping.values():
            mapping[index] = field
    return mapping
