"""Every write of the referral program: codes, links (with the closure table), the owner's
corrections, and the program settings. Points are never moved here: a sale pays its rewards through
``referrals.extension`` inside ``loyalty.services.purchase_create``.

Tree writes are rare (one per invited registration) and serialised by one lock: the program row,
``SELECT ... FOR UPDATE``, taken before the friend's account lock. A sale never takes that lock (it
reads the tree and the settings without locking), so it never waits on it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.locks import customer_accounts_lock
from loyalty.models import Customer, Tier
from loyalty.phones import try_normalize_phone

from .exceptions import (
    AlreadyCustomer,
    AlreadyInvited,
    InviteCycle,
    InviterFixed,
    InviterNotFound,
    SelfInvite,
)
from .models import (
    CODE_ALPHABET,
    Referral,
    ReferralAncestor,
    ReferralCode,
    ReferralLevel,
    ReferralProgram,
    TierInvites,
    referral_code_generate,
)
from .tiers import tier_invites_changed


def _link_window() -> timedelta:
    """How long after registering a customer may still be recorded as invited (the till and the
    shop call ``referral_link`` right after ``customer_register``; older customers are not new)."""
    return timedelta(hours=getattr(settings, "REFERRAL_LINK_WINDOW_HOURS", 24))


def referral_code_get(*, customer: Customer) -> str:
    """The customer's referral code, made on first need. Safe inside or outside a transaction."""
    existing = ReferralCode.objects.filter(customer=customer).values_list("code", flat=True).first()
    if existing:
        return existing
    for _attempt in range(10):
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(customer=customer,
                                                   code=referral_code_generate()).code
        except IntegrityError:
            # Either the code collided with another customer's (retry with a new one) or a
            # concurrent call made this customer's code first (return it).
            existing = (ReferralCode.objects.filter(customer=customer)
                        .values_list("code", flat=True).first())
            if existing:
                return existing
    raise RuntimeError("could not find a free referral code")  # 31^6 codes: never in practice


def code_normalize(raw: str) -> str:
    """Codes are read aloud and typed: case, spaces and dashes do not matter."""
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


def inviter_resolve(*, inviter: str) -> Customer:
    """The customer named by a phone number (any spelling) or a referral code."""
    phone = try_normalize_phone(inviter)
    if phone is not None:
        found = Customer.objects.filter(phone=phone).first()
        if found is not None:
            return found
    code = code_normalize(inviter)
    if code and set(code) <= set(CODE_ALPHABET):
        found = Customer.objects.filter(referral_code__code=code).first()
        if found is not None:
            return found
    raise InviterNotFound()


def _tree_lock() -> None:
    """Serialise changes of the tree (see the module docstring). Inside a transaction."""
    ReferralProgram.load()
    ReferralProgram.objects.select_for_update().filter(pk=1).values_list("pk").get()


def _subtree(customer_id: int) -> list[tuple[int, int]]:
    """(descendant id, depth below ``customer_id``), the customer himself at depth 0."""
    below = ReferralAncestor.objects.filter(ancestor_id=customer_id).values_list("descendant_id",
                                                                                 "depth")
    return [(customer_id, 0), *below]


def _check_no_cycle(*, friend_id: int, inviter_id: int) -> None:
    if friend_id == inviter_id:
        raise SelfInvite()
    if ReferralAncestor.objects.filter(descendant_id=inviter_id, ancestor_id=friend_id).exists():
        raise InviteCycle()


def _graft(*, friend_id: int, inviter_id: int) -> None:
    """Add closure rows: every ancestor of the inviter (and he) above every member of the friend's
    subtree (and the friend). The caller holds the tree lock and has checked for cycles."""
    above = [(inviter_id, 1), *(
        (a, d + 1) for a, d in
        ReferralAncestor.objects.filter(descendant_id=inviter_id).values_list("ancestor_id", "depth")
    )]
    ReferralAncestor.objects.bulk_create([
        ReferralAncestor(descendant_id=d, ancestor_id=a, depth=down + up)
        for d, down in _subtree(friend_id) for a, up in above
    ])


def _ungraft(*, friend_id: int) -> None:
    """Remove the closure rows joining the friend's subtree to his former ancestors."""
    old_above = list(ReferralAncestor.objects.filter(descendant_id=friend_id)
                     .values_list("ancestor_id", flat=True))
    if old_above:
        members = [d for d, _depth in _subtree(friend_id)]
        ReferralAncestor.objects.filter(descendant_id__in=members,
                                        ancestor_id__in=old_above).delete()


@transaction.atomic(durable=True)
def referral_link(*, customer: Customer, inviter: str, channel: str = "") -> Referral:
    """Record that ``customer`` (a new customer) was invited by ``inviter`` (a phone number in any
    spelling or a referral code). Called by the till and the shop right after
    ``loyalty.services.customer_register``, and by the join page.

    Repeating the same link returns it. Raises ``InviterNotFound``, ``SelfInvite``,
    ``InviteCycle``, ``AlreadyInvited`` (another inviter is recorded) or ``AlreadyCustomer`` (he has
    bought, or registered before the invitation window).
    """
    inviter_customer = inviter_resolve(inviter=inviter)
    _tree_lock()
    friend = customer_accounts_lock(customer_ids=[customer.pk])[customer.pk].customer
    if inviter_customer.pk == friend.pk:
        raise SelfInvite()
    existing = Referral.objects.filter(customer=friend).first()
    if existing is not None:
        if existing.inviter_id == inviter_customer.pk:
            return existing
        raise AlreadyInvited()
    since = friend.joined_at or friend.created_at
    if friend.purchase_count > 0 or since < timezone.now() - _link_window():
        raise AlreadyCustomer()
    _check_no_cycle(friend_id=friend.pk, inviter_id=inviter_customer.pk)
    referral = Referral.objects.create(customer=friend, inviter=inviter_customer, channel=channel)
    _graft(friend_id=friend.pk, inviter_id=inviter_customer.pk)
    return referral


@transaction.atomic(durable=True)
def referral_inviter_set(*, customer: Customer, inviter: Customer | None) -> Referral | None:
    """The owner's correction: set, change or remove (``None``) the customer's inviter.

    Allowed until the customer's first purchase; changing or removing a link is also refused once
    anyone he invited (at any depth) has bought, because rewards were paid along it and their
    levels are read from the tree (``InviterFixed``). His invitees move with him. Raises
    ``SelfInvite`` and ``InviteCycle`` as ``referral_link`` does.
    """
    _tree_lock()
    members = [d for d, _depth in _subtree(customer.pk)]
    # Lock the subtree's accounts: a sale in it (which locks its buyer's) either commits before
    # (we see its purchase_count) or reads the tree again after us (see referrals.extension).
    locked = customer_accounts_lock(customer_ids=members)
    friend = locked[customer.pk].customer
    if friend.purchase_count > 0:
        raise InviterFixed()
    current = Referral.objects.filter(customer=friend).first()
    if inviter is not None:
        _check_no_cycle(friend_id=friend.pk, inviter_id=inviter.pk)
        if current is not None and current.inviter_id == inviter.pk:
            return current
    if current is not None:
        if any(accounts.customer.purchase_count > 0 for accounts in locked.values()):
            raise InviterFixed()
        _ungraft(friend_id=friend.pk)
        current.delete()
    if inviter is None:
        return None
    referral = Referral.objects.create(customer=friend, inviter=inviter, channel="admin")
    _graft(friend_id=friend.pk, inviter_id=inviter.pk)
    return referral


@dataclass(frozen=True)
class ProgramSettings:
    first_purchase_bonus: Decimal
    levels_percent: list[Decimal]
    tier_invites: dict[str, int]


def referral_program_get() -> ProgramSettings:
    program = ReferralProgram.load()
    by_level = dict(ReferralLevel.objects.values_list("level", "percent"))
    depth = max(by_level, default=0)
    return ProgramSettings(
        first_purchase_bonus=program.first_purchase_bonus,
        levels_percent=[by_level.get(level, Decimal("0.00")) for level in range(1, depth + 1)],
        tier_invites=dict(TierInvites.objects.order_by("min_effective_invites")
                          .values_list("tier__name", "min_effective_invites")),
    )


@transaction.atomic
def referral_program_set(
    *,
    first_purchase_bonus: Decimal | None = None,
    levels_percent: Sequence[Decimal] | None = None,
    tier_invites: dict[str, int] | None = None,
) -> ProgramSettings:
    """Change the settings given (``None`` keeps a setting). ``levels_percent`` replaces the
    list (level 1 first); ``tier_invites`` replaces the mapping of tier name to effective invites
    (an unknown tier raises ``LookupError``). Runs inside the program file's transaction too.
    """
    program = ReferralProgram.load()
    if first_purchase_bonus is not None:
        program.first_purchase_bonus = first_purchase_bonus
        program.save(update_fields=["first_purchase_bonus"])
    if levels_percent is not None:
        ReferralLevel.objects.all().delete()
        ReferralLevel.objects.bulk_create([
            ReferralLevel(program=program, level=i, percent=p)
            for i, p in enumerate(levels_percent, start=1)
        ])
    if tier_invites is not None:
        tiers = {t.name: t for t in Tier.objects.filter(name__in=list(tier_invites))}
        missing = sorted(set(tier_invites) - set(tiers))
        if missing:
            raise LookupError(missing[0])
        TierInvites.objects.all().delete()
        TierInvites.objects.bulk_create([
            TierInvites(program=program, tier=tiers[name], min_effective_invites=count)
            for name, count in tier_invites.items()
        ])
        tier_invites_changed()  # bulk_create sends no signal
    return referral_program_get()
