"""Reads of the referral program: a customer's place in the tree and the figures the owner's
dashboard shows (who joined by invitation and bought, depth, revenue, rewards per level).

Periods are half-open, ``[since, until)``; ``None`` leaves that side open. Every function is a few
aggregate queries whatever the size of the tree.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Max, Q, QuerySet, Sum

from loyalty.models import Customer, Entry, EntryKind, Operation, OperationKind
from loyalty.money import ZERO

from .models import Referral, ReferralAncestor, ReferralCode, ReferralReward


def _period(qs: QuerySet, field_name: str, since: datetime | None, until: datetime | None):
    if since is not None:
        qs = qs.filter(**{f"{field_name}__gte": since})
    if until is not None:
        qs = qs.filter(**{f"{field_name}__lt": until})
    return qs


@dataclass(frozen=True)
class JoinedByReferral:
    joined: int  # customers recorded as invited in the period
    bought: int  # of them, those who have made at least one purchase (effective invites)


def referral_joined(*, since: datetime | None = None, until: datetime | None = None
                    ) -> JoinedByReferral:
    """Customers who joined by invitation in the period, and how many of them bought."""
    row = _period(Referral.objects.all(), "created_at", since, until).aggregate(
        joined=Count("pk"), bought=Count("pk", filter=Q(customer__purchase_count__gt=0))
    )
    return JoinedByReferral(joined=row["joined"], bought=row["bought"])


def referral_depth() -> int:
    """Generations of the tree: 0 with no invitations, 1 when invited friends invited nobody..."""
    return ReferralAncestor.objects.aggregate(d=Max("depth"))["d"] or 0


def referral_revenue(*, since: datetime | None = None, until: datetime | None = None) -> Decimal:
    """What invited customers' purchases in the period brought: bills minus their refunds."""
    row = _period(
        Operation.objects.filter(kind=OperationKind.PURCHASE, customer__referral__isnull=False),
        "created_at", since, until,
    ).aggregate(total=Sum("total"), refunded=Sum("refunded_total"))
    return (row["total"] or ZERO) - (row["refunded"] or ZERO)


@dataclass(frozen=True)
class LevelRewards:
    level: int
    rewards: int  # how many rewards (one per sale per ancestor)
    paid: Decimal  # points credited, first-purchase bonuses included
    bonuses: Decimal  # of which first-purchase bonuses
    reversed: Decimal  # taken back by refunds
    net: Decimal


def referral_rewards_by_level(*, since: datetime | None = None, until: datetime | None = None
                              ) -> list[LevelRewards]:
    """Rewards of sales made in the period, per level, with what refunds took back (exact: read
    from the reversal entries of the ledger)."""
    rewards = _period(ReferralReward.objects.all(), "created_at", since, until)
    by_level = {
        row["level"]: row for row in rewards.order_by().values("level").annotate(
            n=Count("pk"), paid=Sum("amount"), bonuses=Sum("bonus"))
    }
    level_of = {(op, customer): level for op, customer, level in
                rewards.values_list("operation_id", "customer_id", "level")}
    reversed_by_level: Counter = Counter()
    reversals = (
        Entry.objects.filter(reverses__operation_id__in=rewards.values("operation_id"),
                             kind__in=[EntryKind.REWARD_REVERSAL, EntryKind.DEBT])
        .order_by().values_list("reverses__operation_id", "reverses__destination__customer_id")
        .annotate(s=Sum("amount"))
    )
    for op, customer, amount in reversals:
        level = level_of.get((op, customer))
        if level is not None:
            reversed_by_level[level] += amount
    result = []
    for level in sorted(by_level):
        row = by_level[level]
        back = Decimal(reversed_by_level[level]).quantize(Decimal("0.01"))
        paid = Decimal(row["paid"]).quantize(Decimal("0.01"))
        result.append(LevelRewards(
            level=level, rewards=row["n"], paid=paid,
            bonuses=Decimal(row["bonuses"]).quantize(Decimal("0.01")), reversed=back,
            net=paid - back,
        ))
    return result


@dataclass(frozen=True)
class CustomerReferrals:
    inviter: Customer | None
    code: str | None
    invitees_per_level: dict[int, int]  # generation below him → customers
    effective_invites: int  # direct invitees who bought
    generations: int  # how many generations below him
    inviter_fixed: bool  # he has bought: his inviter can no longer change
    rewards_net: Decimal = field(default=ZERO)


def customer_referrals(*, customer: Customer) -> CustomerReferrals:
    """A customer's place in the tree: inviter, invitees per level, generations below."""
    link = Referral.objects.select_related("inviter").filter(customer=customer).first()
    per_level = dict(
        ReferralAncestor.objects.filter(ancestor=customer).order_by("depth").values("depth")
        .annotate(n=Count("pk")).values_list("depth", "n")
    )
    effective = Referral.objects.filter(inviter=customer, customer__purchase_count__gt=0).count()
    paid = ReferralReward.objects.filter(customer=customer).aggregate(s=Sum("amount"))["s"] or ZERO
    back = Entry.objects.filter(
        reverses__operation__referral_rewards__customer=customer,
        reverses__destination__customer=customer,
        kind__in=[EntryKind.REWARD_REVERSAL, EntryKind.DEBT],
    ).aggregate(s=Sum("amount"))["s"] or ZERO
    return CustomerReferrals(
        inviter=link.inviter if link else None,
        code=ReferralCode.objects.filter(customer=customer).values_list("code", flat=True).first(),
        invitees_per_level=per_level,
        effective_invites=effective,
        generations=max(per_level, default=0),
        inviter_fixed=customer.purchase_count > 0,
        rewards_net=Decimal(paid - back).quantize(Decimal("0.01")),
    )


@dataclass(frozen=True)
class TreeStats:
    invited: int
    bought: int
    roots: int  # customers who invited someone and were invited by nobody
    depth: int
    customers_per_generation: dict[int, int]
    revenue: Decimal
    rewards: list[LevelRewards]
    top_inviters: list[tuple[Customer, int, int]]  # (customer, invited, of whom bought)


def referral_tree_stats(*, since: datetime | None = None, until: datetime | None = None,
                        top: int = 10) -> TreeStats:
    """The whole tree for the owner's stats page."""
    joined = referral_joined(since=since, until=until)
    generation_of = (
        ReferralAncestor.objects.order_by().values("descendant_id").annotate(g=Max("depth"))
        .values_list("g", flat=True)
    )
    per_generation = dict(sorted(Counter(generation_of).items()))
    inviters = (
        Customer.objects.filter(invitees__isnull=False)
        .annotate(n=Count("invitees", distinct=True),
                  bought=Count("invitees", filter=Q(invitees__customer__purchase_count__gt=0),
                               distinct=True))
        .order_by("-bought", "-n", "pk")[:top]
    )
    roots = (Customer.objects.filter(invitees__isnull=False, referral__isnull=True)
             .distinct().count())
    return TreeStats(
        invited=joined.joined, bought=joined.bought, roots=roots,
        depth=max(per_generation, default=0), customers_per_generation=per_generation,
        revenue=referral_revenue(since=since, until=until),
        rewards=referral_rewards_by_level(since=since, until=until),
        top_inviters=[(c, c.n, c.bought) for c in inviters],
    )


def referral_list(*, inviter: Customer | None = None) -> QuerySet:
    qs = Referral.objects.select_related("customer", "inviter")
    if inviter is not None:
        qs = qs.filter(inviter=inviter)
    return qs.annotate(bought=F("customer__purchase_count"))
