"""Reads of the referral program: a customer's place in the tree and the figures the owner's
dashboard shows (who joined by invitation and bought, depth, revenue, rewards per level).

Periods are half-open, ``[since, until)``; ``None`` leaves that side open. Every function is a few
aggregate queries whatever the size of the tree.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery, Sum

from loyalty.models import Customer, Entry, EntryKind, Operation, OperationKind
from loyalty.money import ZERO

from .models import Referral, ReferralAncestor, ReferralCode


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


REWARD_KINDS = [EntryKind.REFERRAL, EntryKind.DEBT_SETTLEMENT]  # a reward may first repay debt
REVERSAL_KINDS = [EntryKind.REWARD_REVERSAL, EntryKind.DEBT]


def _level(prefix: str = "") -> Subquery:
    """The closure depth between the sale's buyer and the entry's customer: the reward's level
    (NULL for a credit to someone who is not the buyer's ancestor)."""
    return Subquery(
        ReferralAncestor.objects.filter(
            descendant_id=OuterRef(f"{prefix}operation__customer_id"),
            ancestor_id=OuterRef(f"{prefix}destination__customer_id"),
        ).values("depth")[:1]
    )


def reward_entries(*, since: datetime | None = None, until: datetime | None = None) -> QuerySet:
    """Ledger entries that paid referral rewards in sales of the period, each with its ``level``."""
    return _period(
        Entry.objects.filter(operation__kind=OperationKind.PURCHASE, kind__in=REWARD_KINDS),
        "operation__created_at", since, until,
    ).annotate(level=_level()).filter(level__isnull=False)


def reward_reversals(*, since: datetime | None = None, until: datetime | None = None) -> QuerySet:
    """Entries of refunds that took back rewards of sales made in the period, with ``level``."""
    return _period(
        Entry.objects.filter(kind__in=REVERSAL_KINDS, reverses__kind__in=REWARD_KINDS,
                             reverses__operation__kind=OperationKind.PURCHASE),
        "reverses__operation__created_at", since, until,
    ).annotate(level=_level("reverses__")).filter(level__isnull=False)


def sale_referral_rewards(*, operation_id: int) -> list[tuple[int, int, Decimal]]:
    """(customer id, level, points) a sale paid up its chain, nearest level first."""
    rows = (reward_entries().filter(operation_id=operation_id).order_by()
            .values("level", "destination__customer_id").annotate(s=Sum("amount"))
            .order_by("level"))
    return [(r["destination__customer_id"], r["level"], _cents(r["s"])) for r in rows]


def _cents(value) -> Decimal:
    # SQLite sums decimals as floats; PostgreSQL's numeric sums are exact anyway.
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class LevelRewards:
    level: int
    sales: int  # sales that paid this level
    paid: Decimal  # points credited, first-purchase bonuses included
    reversed: Decimal  # taken back by refunds
    net: Decimal


def referral_rewards_by_level(*, since: datetime | None = None, until: datetime | None = None
                              ) -> list[LevelRewards]:
    """Rewards of sales made in the period, per level, with what refunds took back of them (read
    from the ledger: exact to the cent)."""
    paid = {
        r["level"]: r for r in reward_entries(since=since, until=until).order_by()
        .values("level").annotate(s=Sum("amount"), n=Count("operation_id", distinct=True))
    }
    back = dict(reward_reversals(since=since, until=until).order_by().values("level")
                .annotate(s=Sum("amount")).values_list("level", "s"))
    result = []
    for level in sorted(paid):
        credited, taken = _cents(paid[level]["s"]), _cents(back.get(level))
        result.append(LevelRewards(level=level, sales=paid[level]["n"], paid=credited,
                                   reversed=taken, net=credited - taken))
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
    paid = reward_entries().filter(destination__customer=customer).aggregate(s=Sum("amount"))["s"]
    back = reward_reversals().filter(reverses__destination__customer=customer).aggregate(
        s=Sum("amount"))["s"]
    return CustomerReferrals(
        inviter=link.inviter if link else None,
        code=ReferralCode.objects.filter(customer=customer).values_list("code", flat=True).first(),
        invitees_per_level=per_level,
        effective_invites=effective,
        generations=max(per_level, default=0),
        inviter_fixed=customer.purchase_count > 0,
        rewards_net=_cents(paid) - _cents(back),
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
