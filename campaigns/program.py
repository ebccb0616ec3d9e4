"""The ``campaigns:`` section of the program file: birthday, win-back and review gifts.

A sub-section that is absent turns its campaign off; keys are strict, as in every section.
"""

from decimal import Decimal
from typing import Any

from loyalty.program import (
    PERCENT,
    LoadReport,
    _boolean,
    _clean,
    _integer,
    _Invalid,
    _list_of,
    _mapping,
    _number,
    _text,
)

from .models import CampaignSettings

BIRTHDAY = {"points": _number(), "days_before": _integer(0, 60), "valid_days": _integer(1, 365),
            "max_redeem_percent": PERCENT}
WINBACK = {"after_days": _integer(1, 3650), "points": _number(), "valid_days": _integer(1, 365)}
REVIEW = {"points": _number(), "as_certificate": _boolean, "valid_days": _integer(1, 365),
          "platforms": _list_of(_text(60))}
SECTIONS = {"birthday": BIRTHDAY, "winback": WINBACK, "review": REVIEW}
REQUIRED = {"birthday": ["points"], "winback": ["after_days", "points"],
            "review": ["points", "platforms"]}


def _section(name: str):
    def check(value, path):
        return _mapping(value, path, SECTIONS[name], required=REQUIRED[name])
    return check


def campaigns_validate(value: Any, path: str) -> dict:
    data = _mapping(value, path, {name: _section(name) for name in SECTIONS})
    percent = data.get("birthday", {}).get("max_redeem_percent")
    if percent is not None and percent <= 0:
        raise _Invalid(f"{path}.birthday.max_redeem_percent", "must be more than 0")
    return data


def campaigns_apply(data: dict, report: LoadReport) -> None:
    settings = CampaignSettings.load()
    birthday = data.get("birthday", {})
    settings.birthday_points = birthday.get("points", Decimal(0))
    settings.birthday_days_before = birthday.get("days_before", 0)
    settings.birthday_valid_days = birthday.get("valid_days", 14)
    settings.birthday_max_redeem_percent = birthday.get("max_redeem_percent", Decimal(100))
    winback = data.get("winback", {})
    settings.winback_points = winback.get("points", Decimal(0))
    settings.winback_after_days = winback.get("after_days", 60)
    settings.winback_valid_days = winback.get("valid_days", 7)
    review = data.get("review", {})
    settings.review_points = review.get("points", Decimal(0))
    settings.review_as_certificate = review.get("as_certificate", False)
    settings.review_valid_days = review.get("valid_days", 30)
    settings.review_platforms = review.get("platforms", [])
    settings.save()
    on = [name for name in SECTIONS if name in data and data[name].get("points", 0) > 0]
    report.changes.append(f"campaigns: {', '.join(on) or 'none'} on")


def campaigns_dump() -> dict:
    s = CampaignSettings.load()
    document: dict[str, Any] = {}
    if s.birthday_points > 0:
        document["birthday"] = {
            "points": _clean(s.birthday_points), "days_before": s.birthday_days_before,
            "valid_days": s.birthday_valid_days,
            "max_redeem_percent": _clean(s.birthday_max_redeem_percent),
        }
    if s.winback_points > 0:
        document["winback"] = {"after_days": s.winback_after_days,
                               "points": _clean(s.winback_points),
                               "valid_days": s.winback_valid_days}
    if s.review_points > 0:
        document["review"] = {"points": _clean(s.review_points),
                              "as_certificate": s.review_as_certificate,
                              "valid_days": s.review_valid_days,
                              "platforms": list(s.review_platforms)}
    return document
