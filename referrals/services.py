"""Every write of the referral program: codes, links (with the closure table), the owner's
corrections, the program settings, and the join page's one-time phone code (at the end). Points
are never moved here: a sale pays its rewards through ``referrals.extension`` inside
``loyalty.services.purchase_create``.

Tree writes are rare (one per invited registration) and serialised by one lock: the program row,
``SELECT ... FOR UPDATE``, taken before the friend's account lock. A sale never takes that lock (it
reads the tree and the settings without locking), so it never waits on it.
"""

import ipaddress
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from campaigns.models import MessageKind
from campaigns.services.notifications import notification_queue_transactional
from loyalty.exceptions import AlreadyRegistered, LoyaltyError
from loyalty.locks import customer_accounts_lock
from loyalty.models import Customer, Tier
from loyalty.phones import normalize_phone, try_normalize_phone
from loyalty.services import customer_register

from .exceptions import (
    AlreadyCustomer,
    AlreadyInvited,
    CodeAttemptsExhausted,
    CodeExpired,
    CodeResendTooSoon,
    CodeSendLimit,
    CodeServiceBusy,
    CodeVisitorLimit,
    CodeWrong,
    InviteCycle,
    InviterFixed,
    InviterNotFound,
    PhoneCheckError,
    SelfInvite,
)
from .models import (
    CODE_ALPHABET,
    PhoneCheck,
    PhoneCheckCounter,
    Referral,
    ReferralAncestor,
    ReferralChannel,
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


# The join page's one-time code ---------------------------------------------------------------
# The join page registers a friend "invited by" the code's owner only once he proves he holds the
# phone: otherwise anyone could register someone else's number under his own code and collect the
# rewards of that person's purchases. The mechanism knows nothing of referrals (a phone in, a yes
# or a refusal out), so the till or the shop can use it too.

PHONE_CODE_TTL = timedelta(minutes=10)
PHONE_CODE_MAX_ATTEMPTS = 5
PHONE_CODE_SENDS_PER_HOUR = 3
PHONE_CODE_RESEND_AFTER = timedelta(seconds=60)
_SEND_WINDOW = timedelta(hours=1)


def _code_hash(*, phone: str, code: str) -> str:
    # An HMAC keyed with SECRET_KEY: a copy of the table alone does not give the codes away by
    # trying all million of them.
    return salted_hmac("referrals.PhoneCheck", f"{phone}:{code}", algorithm="sha256").hexdigest()


def _phone_check_lock(*, phone: str) -> PhoneCheck:
    """The number's row, made if new, locked until the caller's transaction ends: two requests for
    the same number take turns, so the limits below hold."""
    for _attempt in range(3):
        PhoneCheck.objects.bulk_create([PhoneCheck(phone=phone)], ignore_conflicts=True)
        check = PhoneCheck.objects.select_for_update().filter(phone=phone).first()
        # None only when the nightly purge deleted the old row between the two statements.
        if check is not None:
            return check
    raise RuntimeError(f"could not lock the phone check of {phone}")


# Codes cost money and reach any number: besides the limits per number, a visitor's address and
# everyone together have an hourly budget, counted per clock hour in ``PhoneCheckCounter``.
_ALL_VISITORS = "all"


def _visitor_key(address: str) -> str | None:
    """The counter key of a visitor's address; an IPv6 address counts as its /64 (one household or
    server holds the whole /64, so counting single addresses would limit nothing). ``None`` for
    an empty or unreadable address: such a visitor is counted only with everyone."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:203.0.113.7 is the IPv4 address
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"ip:{ip}"


def _hour_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _counter_add(*, key: str, window_start: datetime) -> int:
    """Count one more code for ``key`` in the hour from ``window_start``; returns the count with it.

    One statement inserts the hour's row or adds one to it, and leaves the row locked until the
    caller's transaction ends: concurrent sends for one key take turns, so two of them never both
    see room for one. The caller's transaction rolls the count back with a refusal.
    """
    q = connection.ops.quote_name
    table = q(PhoneCheckCounter._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({q('key')}, {q('window_start')}, {q('sends')}) VALUES (%s, %s, 1) "  # noqa: S608 - names from _meta; values bound
        f"ON CONFLICT ({q('key')}, {q('window_start')}) "
        f"DO UPDATE SET {q('sends')} = {table}.{q('sends')} + 1 RETURNING {q('sends')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, connection.ops.adapt_datetimefield_value(window_start)])
        return cursor.fetchone()[0]


def _visitor_budget_spend(*, address: str, now: datetime) -> None:
    """Count this code against the visitor's and everyone's hourly budgets, or refuse it.

    Raises ``CodeVisitorLimit`` (``PHONE_CODES_PER_ADDRESS_PER_HOUR`` codes already went out for
    this address this hour) or ``CodeServiceBusy`` (``PHONE_CODES_PER_HOUR`` for everyone). The
    caller holds the number's row lock; rows are locked in the order number, address, everyone
    in every send, so concurrent sends never wait on each other in a circle.
    """
    window_start = _hour_start(now)
    minutes = max(1, math.ceil((window_start + _SEND_WINDOW - now).total_seconds() / 60))
    key = _visitor_key(address)
    if key is not None and _counter_add(key=key, window_start=window_start) > (
            settings.PHONE_CODES_PER_ADDRESS_PER_HOUR):
        raise CodeVisitorLimit(minutes=minutes)
    if _counter_add(key=_ALL_VISITORS, window_start=window_start) > settings.PHONE_CODES_PER_HOUR:
        raise CodeServiceBusy(minutes=minutes)


@transaction.atomic(durable=True)
def phone_check_send(*, phone: str, address: str = "", language: str = "") -> PhoneCheck:
    """Send a new 6-digit code to ``phone`` (E.164), valid ``PHONE_CODE_TTL``; it replaces any code
    sent before. Only its HMAC is stored; the text goes to the notification outbox in this same
    transaction as a transactional message (no customer, no consent) and is sent after commit, in
    ``language`` (the visitor's; empty: the business's).

    ``address`` is the visitor's IP address: the codes asked for from it are limited per hour, as
    are all codes together (``_visitor_budget_spend``).

    Raises ``CodeResendTooSoon`` (the last code is younger than ``PHONE_CODE_RESEND_AFTER``),
    ``CodeSendLimit`` (``PHONE_CODE_SENDS_PER_HOUR`` codes already went to this number this hour),
    ``CodeVisitorLimit`` or ``CodeServiceBusy``. A refusal writes nothing and sends nothing.
    """
    now = timezone.now()
    check = _phone_check_lock(phone=phone)
    if check.sent_at is not None and now < check.sent_at + PHONE_CODE_RESEND_AFTER:
        wait = check.sent_at + PHONE_CODE_RESEND_AFTER - now
        raise CodeResendTooSoon(seconds=math.ceil(wait.total_seconds()))
    if check.window_started_at is None or now >= check.window_started_at + _SEND_WINDOW:
        check.window_started_at, check.sends_in_window = now, 0
    if check.sends_in_window >= PHONE_CODE_SENDS_PER_HOUR:
        wait = check.window_started_at + _SEND_WINDOW - now
        raise CodeSendLimit(minutes=math.ceil(wait.total_seconds() / 60))
    _visitor_budget_spend(address=address, now=now)
    code = f"{secrets.randbelow(10**6):06d}"
    check.code_hash = _code_hash(phone=phone, code=code)
    check.sent_at, check.expires_at = now, now + PHONE_CODE_TTL
    check.attempts, check.used_at = 0, None
    check.sends_in_window += 1
    check.save()
    notification_queue_transactional(
        phone=phone, kind=MessageKind.PHONE_CODE,
        # Unique: sends to one number are at least PHONE_CODE_RESEND_AFTER apart (row locked).
        key=f"phone_code:{phone}:{int(now.timestamp())}",
        context={"code": code, "minutes": int(PHONE_CODE_TTL.total_seconds() // 60)},
        expires_at=check.expires_at, language=language,
    )
    return check


def phone_check_confirm(*, phone: str, code: str) -> None:
    """Accept ``code`` for ``phone`` (E.164) once. Returns when it is the code last sent, not
    expired, not used and fewer than ``PHONE_CODE_MAX_ATTEMPTS`` wrong ones were typed; it is then
    used up.

    Raises ``CodeWrong`` (the attempt is counted and committed before the refusal),
    ``CodeAttemptsExhausted`` (from the last wrong attempt on, even for the right code) or
    ``CodeExpired`` (expired, used, or none sent).
    """
    refusal = _phone_check_judge(phone=phone, code=code)
    if refusal is not None:
        raise refusal


@transaction.atomic(durable=True)
def _phone_check_judge(*, phone: str, code: str) -> PhoneCheckError | None:
    # Returns the refusal instead of raising it: raising would roll back the counted attempt.
    now = timezone.now()
    check = PhoneCheck.objects.select_for_update().filter(phone=phone).first()
    if (check is None or not check.code_hash or check.used_at is not None
            or check.expires_at is None or check.expires_at <= now):
        return CodeExpired()
    if check.attempts >= PHONE_CODE_MAX_ATTEMPTS:
        return CodeAttemptsExhausted()
    # Constant time: how much of the hash matched does not show in the answer's delay.
    if not constant_time_compare(_code_hash(phone=phone, code=code), check.code_hash):
        check.attempts += 1
        check.save(update_fields=["attempts"])
        left = PHONE_CODE_MAX_ATTEMPTS - check.attempts
        return CodeWrong(left=left) if left > 0 else CodeAttemptsExhausted()
    check.used_at, check.code_hash = now, ""
    check.save(update_fields=["used_at", "code_hash"])
    return None


PHONE_CHECK_KEEP = timedelta(days=1)


def phone_checks_purge() -> int:
    """Delete the join page's working data that can no longer matter; returns the rows deleted.

    A ``PhoneCheck`` goes once its code expired or was used more than ``PHONE_CHECK_KEEP`` ago and
    its hour of sends is over (nothing is left to check or to limit); a ``PhoneCheckCounter`` once
    its hour is over. One DELETE per table, no row loaded. A send racing with the purge is safe: a
    row it locked and renewed no longer matches when the DELETE gets to it, and a row deleted
    under its feet is made again (``_phone_check_lock``). Run nightly by the
    ``referrals.phone_checks_purge`` task (beat) or ``manage.py runcampaigns``.
    """
    now = timezone.now()
    cutoff = now - PHONE_CHECK_KEEP
    window_over = now - _SEND_WINDOW
    checks, _by_model = PhoneCheck.objects.filter(
        Q(expires_at__lt=cutoff) | Q(used_at__lt=cutoff),
        Q(window_started_at__isnull=True) | Q(window_started_at__lte=window_over),
    ).delete()
    counters, _by_model = PhoneCheckCounter.objects.filter(window_start__lte=window_over).delete()
    return checks + counters


def join_code_send(*, phone: str, address: str = "", language: str = "") -> PhoneCheck:
    """Step 1 of the join page: send the code to ``phone`` (any spelling), asked for from the IP
    ``address``, in ``language`` (the page's).

    Raises ``InvalidPhone``; ``AlreadyRegistered`` for a registered customer's number (what the
    page answered before codes existed, and nothing more: no code is sent to him); and the
    refusals of ``phone_check_send``.
    """
    normalized = normalize_phone(phone)
    if Customer.objects.filter(phone=normalized, joined_at__isnull=False).exists():
        raise AlreadyRegistered()
    return phone_check_send(phone=normalized, address=address, language=language)


@dataclass(frozen=True)
class Joined:
    customer: Customer
    problem: str | None  # why the invitation could not be recorded (he is registered all the same)


def join_confirm(*, phone: str, code: str, inviter: str, name: str = "",
                 consent_messages: bool = False) -> Joined:
    """Step 2 of the join page: with the right code, register the owner of ``phone`` (E.164) and
    record him as invited by ``inviter`` (the link's code).

    Three durable units in this order, so that a failure never leaves a registration without a
    confirmed code: the code is used up (``phone_check_confirm``; a refusal stops here and nothing
    is registered), then ``customer_register`` (``AlreadyRegistered`` if someone registered the
    number meanwhile: the code stays used), then ``referral_link``. A refused link leaves the
    registration, as at the till: its reason is returned in ``problem``.
    """
    phone_check_confirm(phone=phone, code=code)
    customer = customer_register(phone=phone, name=name, consent_messages=consent_messages,
                                 source="referral")
    try:
        referral_link(customer=customer, inviter=inviter, channel=ReferralChannel.JOIN)
    except AlreadyCustomer:
        # Said to the visitor himself (the exception's text speaks of him to staff).
        return Joined(customer=customer, problem=str(_(
            "You were our customer before this invitation, so it does not count for your friend.")))
    except LoyaltyError as exc:
        return Joined(customer=customer, problem=str(exc))
    return Joined(customer=customer, problem=None)
