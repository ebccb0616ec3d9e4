"""Tiers reached by effective invites (``referral.tier_invites`` in the program file).

A customer holds the highest tier that his total spent OR his number of effective invites meets
(an effective invite: a friend he invited directly who has made at least one purchase, the hosted
platform's ``effectiveInvitedCount``); a pinned tier stays pinned. An invite stays effective once
the friend bought, even if that purchase is later refunded in full: ``purchase_count`` is never
taken back, and the inviter is fixed from that purchase on, so the count only ever grows.

Where it is applied:

- every recomputation of one customer's tier (``loyalty.services.customer_tier_recompute``: his own
  sales, refunds, a merge) asks ``InviteTiers.tier_reached``, registered as a loyalty tier rule.
  It reads nothing when the program has no tier by invites or his total spent already earns a tier
  at least as high as any tier invites give; otherwise it counts his effective invites (one
  indexed query);
- the friend's first purchase, in that sale's transaction (``referrals.extension``): the inviter's
  accounts are locked by the sale, so his tier is raised there (one count, one UPDATE when it
  changes) without racing his own sales;
- the nightly ``tiers`` job (``loyalty.services.postings.customers_tier_review``), set-based, with
  the conditions from ``InviteTiers.tier_conditions``.

The mapping tier → invites is kept as long as loyalty's program cache keeps the program (a few
seconds; dropped at once when this process changes either).
"""

from collections.abc import Sequence

from django.db import transaction
from django.db.models import Count, Q

from loyalty.models import Customer, Tier
from loyalty.program_cache import program_cache_clear, program_get
from loyalty.services.customers import tier_rank

from .models import Referral, TierInvites

_cache: tuple[object, dict[int, int]] | None = None


def tier_invites_needed() -> dict[int, int]:
    """Tier id → effective invites that reach it (empty: no tier is given for invites)."""
    global _cache
    program = program_get()
    cached = _cache
    if cached is not None and cached[0] is program:
        return cached[1]
    needed = dict(TierInvites.objects.values_list("tier_id", "min_effective_invites"))
    _cache = (program, needed)
    return needed


def tier_invites_changed(**_kwargs) -> None:
    """Forget the cached mapping now and when the change commits (another thread may have read
    the old rows in between)."""
    program_cache_clear()
    transaction.on_commit(program_cache_clear)


def effective_invites(*, customer_id: int) -> int:
    """Friends ``customer_id`` invited directly who have made at least one purchase."""
    return Referral.objects.filter(inviter_id=customer_id, customer__purchase_count__gt=0).count()


def tier_for_invites(count: int, tiers: Sequence[Tier], needed: dict[int, int]) -> Tier | None:
    """The highest of ``tiers`` that ``count`` effective invites reach, if any."""
    reached = [t for t in tiers if t.pk in needed and count >= needed[t.pk]]
    return max(reached, key=tier_rank, default=None)


def _above(tiers: Sequence[Tier], needed: dict[int, int], floor: Tier | None) -> list[Tier]:
    return [t for t in tiers if t.pk in needed and tier_rank(t) > tier_rank(floor)]


class InviteTiers:
    """The loyalty tier rule (see ``loyalty.extensions``) registered by ``ReferralsConfig``."""

    def tier_reached(self, customer: Customer, tiers: Sequence[Tier],
                     earned: Tier | None) -> Tier | None:
        needed = tier_invites_needed()
        candidates = _above(tiers, needed, earned)
        if not candidates:
            return None  # nothing invites give beats what he spent: no query
        return tier_for_invites(effective_invites(customer_id=customer.pk), candidates, needed)

    def tier_conditions(self, tiers: Sequence[Tier]) -> dict[int, Q]:
        needed = tier_invites_needed()
        conditions = {}
        for tier in tiers:
            if tier.pk in needed:
                # Inviters with at least that many friends who bought: one grouped subquery,
                # uncorrelated, so the database computes it once for the whole UPDATE.
                inviters = (Referral.objects.filter(customer__purchase_count__gt=0)
                            .values("inviter_id").annotate(n=Count("pk"))
                            .filter(n__gte=needed[tier.pk]).values("inviter_id"))
                conditions[tier.pk] = Q(pk__in=inviters)
        return conditions


invite_tiers = InviteTiers()


def inviter_tier_raise(*, inviter: Customer) -> None:
    """A friend of ``inviter`` is making his first purchase: raise the inviter's tier if his
    effective invites, this friend included, now reach a higher one.

    Runs inside the friend's sale, which holds the inviter's account lock (so his own sales, which
    recompute his tier, wait) and has not yet counted the friend's purchase (hence the + 1).
    Reads nothing when no tier by invites ranks above his current tier.
    """
    if inviter.tier_pinned:
        return
    needed = tier_invites_needed()
    if not needed:
        return
    tiers = program_get().tiers
    current = next((t for t in tiers if t.pk == inviter.tier_id), None)
    if current is None and inviter.tier_id is not None:
        current = inviter.tier  # saved since the cache was filled: read it
    candidates = _above(tiers, needed, current)
    if not candidates:
        return
    reached = tier_for_invites(effective_invites(customer_id=inviter.pk) + 1, candidates, needed)
    if reached is not None:
        Customer.objects.filter(pk=inviter.pk, tier_pinned=False).update(tier=reached)
        inviter.tier = reached
