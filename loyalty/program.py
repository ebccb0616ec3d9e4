"""The program as a file: the YAML an implementer writes to set a business up.

``program_load`` validates the whole document first (every key known, every value of its type and
range; a wrong one is named by its path, e.g. ``tiers[2].cashback_percent``), then writes settings,
branches and tiers in one transaction, so an invalid file changes nothing. ``program_dump`` writes
the current program in the same shape. Sections owned by later features register a handler in
``SECTION_HANDLERS``; a known section without one loads with a warning.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count

from .exceptions import ProgramFileError
from .models import Branch, BusinessSettings, Customer, Tier
from .money import parse_amount
from .validators import validate_currency, validate_language, validate_time_zone


@dataclass
class LoadReport:
    warnings: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


class _Invalid(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


def _mapping(value: Any, path: str, allowed: dict[str, Callable], required=()) -> dict:
    if not isinstance(value, dict):
        raise _Invalid(path, "must be a mapping of keys to values")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _Invalid(f"{path}.{unknown[0]}" if path else unknown[0],
                       f"unknown key (expected one of: {', '.join(sorted(allowed))})")
    for key in required:
        if key not in value:
            raise _Invalid(f"{path}.{key}" if path else key, "is required")
    return {key: check(value[key], f"{path}.{key}" if path else key)
            for key, check in allowed.items() if key in value}


def _text(max_length: int = 200) -> Callable:
    def check(value, path):
        if not isinstance(value, str) or not value.strip() or len(value) > max_length:
            raise _Invalid(path, f"must be non-empty text of at most {max_length} characters")
        return value.strip()
    return check


def _number(low: Decimal = Decimal(0), high: Decimal | None = None, places: int = 2) -> Callable:
    def check(value, path):
        number = None if isinstance(value, bool) else parse_amount(value)
        if number is None or number < low or (high is not None and number > high) or (
            number.as_tuple().exponent < -places  # type: ignore[operator]
        ):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise _Invalid(path, f"must be a number {bound} with at most {places} decimals")
        return number
    return check


def _integer(low: int = 0, high: int | None = None, nullable: bool = False) -> Callable:
    def check(value, path):
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high
        ):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise _Invalid(path, f"must be a whole number {bound}" + (" or null" if nullable else ""))
        return value
    return check


def _boolean(value, path):
    if not isinstance(value, bool):
        raise _Invalid(path, "must be true or false")
    return value


def _list_of(item: Callable) -> Callable:
    def check(value, path):
        if not isinstance(value, list):
            raise _Invalid(path, "must be a list")
        return [item(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return check


def _any(value, path):
    return value


PERCENT = _number(Decimal(0), Decimal(100))

def _checked(check: Callable, validator: Callable) -> Callable:
    """``check``, then a ``loyalty.validators`` function: its message names the problem."""
    def both(value, path):
        value = check(value, path)
        try:
            validator(value)
        except ValidationError as error:
            raise _Invalid(path, " ".join(str(m) for m in error.messages)) from None
        return value
    return both


BUSINESS = {"name": _text(), "currency": _checked(_text(3), validate_currency),
            "timezone": _checked(_text(64), validate_time_zone),
            "language": _checked(_text(8), validate_language)}
POINTS = {
    "welcome_bonus": _number(),
    "accrual_delay_days": _integer(0, 365),
    "expiry_months_after_last_purchase": _integer(1, 120, nullable=True),
    "redeem_by_phone": _boolean,
    "receipt_number_required": _boolean,
}
TIER = {
    "name": _text(100),
    "cashback_percent": PERCENT,
    "max_redeem_percent": PERCENT,
    "min_total_spent": _number(),
}
BRANCH = {"name": _text(), "address": _text(300)}

# Sections that later features own: name -> (validate(value, path) -> value, apply(value, report)).
# A feature registers itself from its AppConfig.ready(); until then the section loads with a warning.
SECTION_HANDLERS: dict[str, tuple[Callable, Callable[[Any, LoadReport], None],
                                  Callable[[], Any]]] = {}
FUTURE_SECTIONS = ("referral", "campaigns")


def _validate(document: Any) -> dict:
    top = {
        "business": lambda v, p: _mapping(v, p, BUSINESS),
        "branches": _list_of(lambda v, p: _mapping(v, p, BRANCH, required=["name"])),
        "points": lambda v, p: _mapping(v, p, POINTS),
        "tiers": _list_of(lambda v, p: _mapping(v, p, TIER, required=["name", "cashback_percent"])),
    }
    for name in FUTURE_SECTIONS:
        handler = SECTION_HANDLERS.get(name)
        top[name] = handler[0] if handler else _any
    data = _mapping(document if document is not None else {}, "", top)
    names = [t["name"] for t in data.get("tiers", [])]
    if len(set(names)) != len(names):
        raise _Invalid("tiers", "two tiers have the same name")
    thresholds = [t.get("min_total_spent", Decimal(0)) for t in data.get("tiers", [])]
    if thresholds and thresholds != sorted(thresholds):
        raise _Invalid("tiers", "list tiers from the lowest threshold (min_total_spent) up")
    if thresholds and min(thresholds) != 0:
        raise _Invalid("tiers[0].min_total_spent", "the first tier must start at 0")
    return data


def program_parse(text: str) -> dict:
    """Parse and validate a program document; raises ``ProgramFileError`` naming the bad key."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProgramFileError(f"not valid YAML: {exc}") from exc
    try:
        return _validate(document)
    except _Invalid as exc:
        raise ProgramFileError(str(exc)) from exc


@transaction.atomic
def program_load(text: str) -> LoadReport:
    """Create or update the program from YAML ``text``, all or nothing."""
    data = program_parse(text)
    report = LoadReport()
    settings = BusinessSettings.load()
    for key, value in {**data.get("business", {}), **data.get("points", {})}.items():
        setattr(settings, key, value)
    settings.save()
    for branch in data.get("branches", []):
        _obj, created = Branch.objects.update_or_create(
            name=branch["name"], defaults={k: v for k, v in branch.items() if k != "name"}
        )
        report.changes.append(f"branch {branch['name']}: {'created' if created else 'updated'}")
    if "tiers" in data:
        _tiers_load(data["tiers"], report)
    for name in FUTURE_SECTIONS:
        if name not in data:
            continue
        handler = SECTION_HANDLERS.get(name)
        if handler is None:
            report.warnings.append(f"{name}: not supported yet, the section was not loaded")
        else:
            handler[1](data[name], report)
    return report


def _tiers_load(tiers: list[dict], report: LoadReport) -> None:
    keep = [t["name"] for t in tiers]
    held = (
        Tier.objects.exclude(name__in=keep).annotate(n=Count("customers")).filter(n__gt=0)
        .values_list("name", "n")
    )
    # Customers whose tier leaves the file are re-tiered below; pinned ones would be orphaned.
    pinned = Customer.objects.filter(tier_pinned=True).exclude(tier__name__in=keep)
    if pinned.exists():
        raise ProgramFileError(
            f"tiers: tier {pinned.first().tier.name!r} is pinned on customers; keep it in the file"
        )
    removed = list(Tier.objects.exclude(name__in=keep).values_list("name", flat=True))
    by_name = {}
    for position, tier in enumerate(tiers):
        obj, created = Tier.objects.update_or_create(
            name=tier["name"],
            defaults={
                "position": position,
                "cashback_percent": tier["cashback_percent"],
                "max_redeem_percent": tier.get("max_redeem_percent", Decimal(100)),
                "min_total_spent": tier.get("min_total_spent", Decimal(0)),
            },
        )
        by_name[obj.name] = obj
        report.changes.append(f"tier {obj.name}: {'created' if created else 'updated'}")
    tiers_reassign()
    if removed:
        Tier.objects.filter(name__in=removed).delete()
        report.changes.append(f"tiers removed: {', '.join(removed)} (held by {dict(held)})")


def tiers_reassign() -> int:
    """Give every customer whose tier is not pinned the tier his total spent earns.

    Set-based: one UPDATE per tier, from the highest threshold down.
    """
    tiers = list(Tier.objects.order_by("min_total_spent"))
    changed = 0
    for i, tier in enumerate(tiers):
        qs = Customer.objects.filter(tier_pinned=False, total_spent__gte=tier.min_total_spent)
        if i + 1 < len(tiers):
            qs = qs.filter(total_spent__lt=tiers[i + 1].min_total_spent)
        changed += qs.exclude(tier=tier).update(tier=tier)
    return changed


def _clean(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def program_dump() -> str:
    """The current program as YAML, in the shape ``program_load`` reads."""
    settings = BusinessSettings.load()
    document: dict[str, Any] = {
        "business": {key: getattr(settings, key) for key in BUSINESS},
        "branches": [
            {"name": b.name, **({"address": b.address} if b.address else {})}
            for b in Branch.objects.order_by("pk")
        ],
        "points": {key: _clean(getattr(settings, key)) for key in POINTS},
        "tiers": [
            {key: _clean(getattr(t, key)) for key in TIER}
            for t in Tier.objects.order_by("min_total_spent", "position")
        ],
    }
    for name in FUTURE_SECTIONS:
        handler = SECTION_HANDLERS.get(name)
        if handler is not None:
            document[name] = handler[2]()
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
