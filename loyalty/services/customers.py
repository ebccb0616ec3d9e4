"""Customers: phone-only customers, registration with the welcome bonus, tiers."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..exceptions import AlreadyRegistered
from ..extensions import tier_rules
from ..locks import customer_accounts_lock
from ..models import (
    AccountKind,
    BusinessSettings,
    Customer,
    EntryKind,
    Operation,
    OperationKind,
    Tier,
)
from ..phones import normalize_phone
from .ledger import Move, customer_accounts_create, entries_post, system_account


def tier_for_total(total_spent: Decimal, tiers: Sequence[Tier]) -> Tier | None:
    """The highest tier whose threshold ``total_spent`` meets (tiers in any order)."""
    best = None
    for tier in tiers:
        if tier.min_total_spent <= total_spent and (
            best is None or tier.min_total_spent > best.min_total_spent
        ):
            best = tier
    return best


def tier_rank(tier: Tier | None) -> tuple:
    """Order of tiers, lowest first: by threshold, then by position (None below every tier)."""
    return (-1, -1) if tier is None else (tier.min_total_spent, tier.position)


def tiers_all() -> list[Tier]:
    return list(Tier.objects.order_by("min_total_spent", "position"))


def customer_get_or_create_by_phone(*, phone: str) -> tuple[Customer, bool]:
    """The customer with this phone (any spelling), created phone-only if new.

    A phone-only customer can receive points before registering. Safe to call inside or outside a
    transaction; a concurrent creation of the same phone is caught by the unique constraint.
    """
    normalized = normalize_phone(phone)
    customer = Customer.objects.select_related("tier").filter(phone=normalized).first()
    if customer is not None:
        return customer, False
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                phone=normalized, tier=tier_for_total(Decimal(0), tiers_all())
            )
            customer_accounts_create(customer_id=customer.pk)
    except IntegrityError:
        return Customer.objects.select_related("tier").get(phone=normalized), False
    return customer, True


@transaction.atomic(durable=True)
def customer_register(
    *,
    phone: str,
    name: str = "",
    birthday: date | None = None,
    gender: str = "",
    email: str = "",
    source: str = "",
    consent_messages: bool = False,
) -> Customer:
    """Register the owner of ``phone``: keeps points he got as a phone-only customer and credits
    the welcome bonus once (the schema allows one welcome operation per customer).

    Raises ``InvalidPhone`` or ``AlreadyRegistered``.
    """
    customer, _created = customer_get_or_create_by_phone(phone=phone)
    accounts = customer_accounts_lock(customer_ids=[customer.pk])[customer.pk]
    customer = accounts.customer
    if customer.is_registered:
        raise AlreadyRegistered()
    customer.name = name.strip()
    customer.birthday = birthday
    customer.gender = gender
    customer.email = email.strip()
    customer.source = source.strip()
    customer.consent_messages = consent_messages
    customer.joined_at = timezone.now()
    customer.save(
        update_fields=["name", "birthday", "gender", "email", "source", "consent_messages",
                       "joined_at"]
    )
    bonus = BusinessSettings.load().welcome_bonus
    if bonus > 0 and not Operation.objects.filter(
        customer=customer, kind=OperationKind.WELCOME
    ).exists():
        operation = Operation.objects.create(
            kind=OperationKind.WELCOME, customer=customer, cashback=bonus,
            balance_after=accounts.available.balance + bonus,
        )
        entries_post(
            operation=operation,
            moves=[Move(EntryKind.WELCOME, system_account(AccountKind.ISSUED),
                        accounts.available, bonus)],
        )
    return customer


def customer_tier_recompute(*, customer: Customer, tiers: Sequence[Tier] | None = None) -> bool:
    """Set the tier his total spent earns, or a higher one a tier rule gives him (friends who
    bought, see ``loyalty.extensions``), unless the owner pinned it; True when it changed.

    The caller saves ``tier`` (it usually saves other fields in the same UPDATE).
    """
    if customer.tier_pinned:
        return False
    tiers = tiers if tiers is not None else tiers_all()
    new_tier = tier_for_total(customer.total_spent, tiers)
    for rule in tier_rules():
        reached = rule.tier_reached(customer, tiers, new_tier)
        if reached is not None and tier_rank(reached) > tier_rank(new_tier):
            new_tier = reached
    if new_tier is None and customer.tier_id is None:
        return False
    if new_tier is not None and new_tier.pk == customer.tier_id:
        return False
    customer.tier = new_tier
    return True
