"""Referral rewards, paid inside the sale's own transaction (a ``loyalty`` purchase extension).

``customers_to_lock`` reads, in ONE query on the closure table, every ancestor of the buyer up to
the configured depth together with its level's percent and the first-purchase bonus (both as
subqueries), so the sale locks their accounts with the buyer's, in primary-key order. ``moves``
then needs no read of its own: it credits each ancestor ``percent`` % of the buyer's cash part of
the eligible amount (the cashback base: eligible total − points), rounded half-up, plus the bonus
to the inviter on the buyer's first purchase, and records a ``ReferralReward`` per ancestor (one
INSERT). A refund needs nothing from here: ``purchase_refund`` reverses these entries in proportion.

The chain is read before the locks. It can only change in between if the owner re-links a customer
who has not bought yet; for the buyer himself that is possible only before his first purchase,
so ``moves`` re-reads his inviter then (one query on first purchases only) and refuses the sale
(``ReferralTreeChanged``: the till repeats it) rather than pay the wrong inviter.
"""

import threading
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from loyalty.extensions import PurchaseContext
from loyalty.models import MONEY, PERCENT, Customer, EntryKind
from loyalty.money import ZERO, percent_of
from loyalty.services.ledger import Move
from loyalty.services.purchases import credit_moves

from .exceptions import ReferralTreeChanged
from .models import (
    Referral,
    ReferralAncestor,
    ReferralLevel,
    ReferralProgram,
    ReferralReward,
)


@dataclass(frozen=True)
class Ancestor:
    customer_id: int
    level: int
    percent: Decimal
    bonus: Decimal  # the program's first-purchase bonus (paid on level 1 only)


def ancestors_for_reward(*, customer_id: int) -> list[Ancestor]:
    """Ancestors that a purchase of ``customer_id`` may reward, nearest first. One query."""
    levels = ReferralLevel.objects.order_by()
    max_level = Coalesce(Subquery(levels.order_by("-level").values("level")[:1]), Value(0),
                         output_field=IntegerField())
    percent = Coalesce(
        Subquery(levels.filter(level=OuterRef("depth")).values("percent")[:1]),
        Value(ZERO), output_field=DecimalField(**PERCENT),
    )
    bonus = Coalesce(
        Subquery(ReferralProgram.objects.filter(pk=1).values("first_purchase_bonus")[:1]),
        Value(ZERO), output_field=DecimalField(**MONEY),
    )
    rows = (
        ReferralAncestor.objects.filter(descendant_id=customer_id)
        .annotate(max_level=max_level, percent=percent, bonus=bonus)
        .filter(Q(depth__lte=F("max_level")) | Q(depth=1, bonus__gt=0))
        .order_by("depth")
        .values_list("ancestor_id", "depth", "percent", "bonus")
    )
    return [Ancestor(a, d, Decimal(p), Decimal(b)) for a, d, p, b in rows]


class ReferralRewards:
    """The ``PurchaseExtension`` registered by ``ReferralsConfig.ready``."""

    def __init__(self) -> None:
        # The chain read by customers_to_lock, handed to moves of the same sale (same thread).
        self._pending = threading.local()

    def customers_to_lock(self, customer: Customer) -> list[int]:
        chain = ancestors_for_reward(customer_id=customer.pk)
        self._pending.chain = (customer.pk, chain)
        return [a.customer_id for a in chain]

    def moves(self, context: PurchaseContext) -> list[Move]:
        buyer_id = context.customer.pk
        pending = getattr(self._pending, "chain", None)
        self._pending.chain = None
        if pending is not None and pending[0] == buyer_id:
            chain = pending[1]
        else:  # not announced before the locks (a caller outside purchase_create): read now
            chain = ancestors_for_reward(customer_id=buyer_id)
        if context.first_purchase:
            # A non-empty chain always starts with the inviter (level 1).
            announced = chain[0].customer_id if chain else None
            inviter_id = (Referral.objects.filter(customer_id=buyer_id)
                          .values_list("inviter_id", flat=True).first())
            if inviter_id != announced and (chain or ancestors_for_reward(customer_id=buyer_id)):
                raise ReferralTreeChanged()
        if not chain:
            return []
        calc = context.calculation
        base = calc.eligible_total - calc.points
        moves: list[Move] = []
        rewards: list[ReferralReward] = []
        for ancestor in chain:
            accounts = context.accounts.get(ancestor.customer_id)
            if accounts is None:
                raise ReferralTreeChanged()
            if accounts.customer.is_blocked:
                continue  # the owner stopped points for him; the other levels are still paid
            amount = percent_of(base, ancestor.percent)
            bonus = ancestor.bonus if ancestor.level == 1 and context.first_purchase else ZERO
            if amount + bonus <= 0:
                continue
            # One credit per ancestor (bonus and percent together): credit_moves reads the
            # balances as they were before this sale, so it must see each customer once.
            moves += credit_moves(accounts, amount + bonus, kind=EntryKind.REFERRAL)
            rewards.append(ReferralReward(
                operation=context.operation, buyer_id=buyer_id, customer_id=ancestor.customer_id,
                level=ancestor.level, percent=ancestor.percent, base=base, bonus=bonus,
                amount=amount + bonus,
            ))
        ReferralReward.objects.bulk_create(rewards)
        return moves


referral_rewards = ReferralRewards()
