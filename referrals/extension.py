"""Referral rewards, paid inside the sale's own transaction (a ``loyalty`` purchase extension).

``customers_to_lock`` reads, in ONE query on the closure table, every ancestor of the buyer up to
the configured depth together with its level's percent and the first-purchase bonus, so the sale
locks their accounts with the buyer's, in primary-key order. ``moves`` then needs no read of its
own: it credits each ancestor ``percent`` % of the buyer's cash part of the eligible amount (the
cashback base: eligible total − points − what a certificate paid), rounded half-up, plus the bonus
to the inviter on the buyer's first purchase, as one ``EntryKind.REFERRAL`` credit per ancestor. On
that first purchase it also raises the inviter's tier when tiers are given for friends who bought
(``referrals.tiers``; the inviter is locked for it even when his level pays nothing). Nothing else
is written: the ledger entries are the record (``referrals.selectors`` finds each one's level
through the closure table, which never changes under a paid reward, see ``referrals.services``). A
refund needs nothing from here either: ``purchase_refund`` reverses these entries in proportion.
When the program defers points (``accrual_delay_days``), the rewards go to each ancestor's pending
points with the same release time as the buyer's cashback (``loyalty.locks`` locks credited
customers' pending accounts for it), released by the nightly ``deferred`` job.

The chain is read before the locks. It can change in between only if the owner re-links someone in
it whose subtree has not bought yet, i.e. only before the buyer's first purchase; so on a first
purchase ``moves`` reads the chain again under the locks (one query) and refuses the sale
(``ReferralTreeChanged``: the till repeats it) rather than pay the wrong people.
"""

import functools
import threading
from dataclasses import dataclass
from decimal import Decimal

from loyalty.extensions import PurchaseContext
from loyalty.models import Customer, EntryKind
from loyalty.money import money, percent_of
from loyalty.rows import fetch
from loyalty.services.ledger import Move
from loyalty.services.purchases import credit_moves

from .exceptions import ReferralTreeChanged
from .models import ReferralAncestor, ReferralLevel, ReferralProgram, TierInvites
from .tiers import inviter_tier_raise


@dataclass(frozen=True)
class Ancestor:
    customer_id: int
    level: int
    percent: Decimal
    bonus: Decimal  # the program's first-purchase bonus (paid on level 1 only)


@functools.cache
def _ancestors_sql() -> str:
    # Written by hand: this is the sale's hot path, where building the same query through the ORM
    # (subqueries, annotations) cost several times its execution. Table names come from the
    # models; the only value is a parameter.
    ancestor, level, program, tier_invites = (
        m._meta.db_table for m in (ReferralAncestor, ReferralLevel, ReferralProgram, TierInvites)
    )
    # The inviter (depth 1) is also locked when tiers are given for invites: a friend's first
    # purchase may raise his tier (see referrals.tiers).
    return f"""
        SELECT a.ancestor_id, a.depth, COALESCE(l.percent, 0), COALESCE(p.first_purchase_bonus, 0)
        FROM {ancestor} a
        LEFT JOIN {level} l ON l.level = a.depth
        LEFT JOIN {program} p ON p.id = 1
        WHERE a.descendant_id = %s
          AND a.depth <= COALESCE((SELECT MAX(level) FROM {level}), 1)
          AND (l.percent > 0 OR (a.depth = 1 AND (p.first_purchase_bonus > 0
                                                  OR EXISTS (SELECT 1 FROM {tier_invites}))))
        ORDER BY a.depth
    """  # noqa: S608 - table names from our models' _meta, no user input in the text


def ancestors_for_reward(*, customer_id: int) -> list[Ancestor]:
    """Ancestors a purchase of ``customer_id`` rewards, nearest first. One query: an index range
    scan of the closure table (descendant, depth) up to the deepest configured level, with each
    level's percent and the first-purchase bonus joined in. Levels paying 0% are left out (nothing
    to credit, no account to lock), except the inviter when tiers are given for invites."""
    rows = fetch(_ancestors_sql(), [customer_id])  # a prepared statement on PostgreSQL
    # SQLite hands numerics back as int/float: read them through str, to the cent.
    return [Ancestor(a, d, money(str(p)), money(str(b))) for a, d, p, b in rows]


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
        if context.first_purchase and ancestors_for_reward(customer_id=buyer_id) != chain:
            raise ReferralTreeChanged()  # re-linked between the read and the locks
        if not chain:
            return []
        calc = context.calculation
        base = calc.cashback_base  # what cashback is a percentage of: money paid, not points
        # Deferred like the buyer's cashback when the program defers points: pending until the
        # nightly ``deferred`` job; a refund within the delay cancels them from pending.
        release_at = context.release_at
        moves: list[Move] = []
        for ancestor in chain:
            accounts = context.accounts.get(ancestor.customer_id)
            if accounts is None:
                raise ReferralTreeChanged()
            if ancestor.level == 1 and context.first_purchase:
                # This purchase makes the invite effective: the inviter may reach a tier by it.
                inviter_tier_raise(inviter=accounts.customer)
            if accounts.customer.is_blocked:
                continue  # the owner stopped points for him; the other levels are still paid
            amount = percent_of(base, ancestor.percent)
            if ancestor.level == 1 and context.first_purchase:
                amount += ancestor.bonus
            # One credit per ancestor (bonus and percent together): credit_moves reads the
            # balances as they were before this sale, so it must see each customer once.
            if amount > 0:
                moves += credit_moves(accounts, amount, kind=EntryKind.REFERRAL,
                                      release_at=release_at)
        return moves


referral_rewards = ReferralRewards()
