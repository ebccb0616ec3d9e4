"""The ``referral:`` section of the program file (see ``loyalty.program``)::

    referral:
      first_purchase_bonus: 50        # points to the inviter on a friend's first purchase
      levels_percent: [3, 1, 1]       # % of each friend's purchase, level 1 (the inviter) first
      tier_invites: {GOLD: 3}         # optional: a tier also reached by N friends who bought
                                      # (see referrals.tiers; customers move at their next sale,
                                      # a friend's first purchase, or the nightly tiers job)

Registered in ``loyalty.program.SECTION_HANDLERS`` by ``ReferralsConfig.ready``.
"""

from typing import Any

from loyalty.exceptions import ProgramFileError
from loyalty.program import PERCENT, LoadReport, _integer, _Invalid, _list_of, _mapping, _number

from .services import referral_program_get, referral_program_set

MAX_LEVELS = 50  # deeper than any real word of mouth; keeps a sale's lock set small


def _levels(value: Any, path: str) -> list:
    levels = _list_of(PERCENT)(value, path)
    if len(levels) > MAX_LEVELS:
        raise _Invalid(path, f"at most {MAX_LEVELS} levels")
    return levels


def _tier_invites(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise _Invalid(path, "must be a mapping of tier name to a number of friends who bought")
    checked = {}
    for name, count in value.items():
        if not isinstance(name, str) or not name.strip():
            raise _Invalid(path, "tier names must be text")
        checked[name.strip()] = _integer(1)(count, f"{path}.{name}")
    return checked


SECTION = {
    "first_purchase_bonus": _number(),
    "levels_percent": _levels,
    "tier_invites": _tier_invites,
}


def referral_section_validate(value: Any, path: str) -> dict:
    return _mapping(value if value is not None else {}, path, SECTION)


def referral_section_apply(value: dict, report: LoadReport) -> None:
    """Runs inside ``program_load``'s transaction, after the tiers are written."""
    try:
        referral_program_set(**value)
    except LookupError as exc:
        raise ProgramFileError(
            f"referral.tier_invites.{exc.args[0]}: no such tier (list it under tiers)"
        ) from exc
    report.changes.append("referral program: updated")


def _clean(value):
    return int(value) if value == value.to_integral_value() else float(value)


def referral_section_dump() -> dict:
    current = referral_program_get()
    document: dict[str, Any] = {
        "first_purchase_bonus": _clean(current.first_purchase_bonus),
        "levels_percent": [_clean(p) for p in current.levels_percent],
    }
    if current.tier_invites:
        document["tier_invites"] = current.tier_invites
    return document
