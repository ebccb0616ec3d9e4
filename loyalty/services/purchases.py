"""Sales and refunds: the only way a bill touches points.

``purchase_calculate`` answers "what would this sale do" and writes nothing; the till, the API and
the shop show it. ``purchase_create`` checks the same numbers again under the account lock and
writes; ``purchase_refund`` reverses a sale fully or in part, in proportion.
"""

import functools
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.exceptions import CertificateNotApplicable

from .. import rows
from ..exceptions import (
    AmountTooLarge,
    CustomerBlocked,
    ExcludedExceedsTotal,
    InsufficientPoints,
    InvalidAmount,
    OperationNotFound,
    ReceiptNumberRequired,
    RedeemByPhoneDisabled,
    RedemptionCapExceeded,
    RefundExceedsPurchase,
    RequestIdReused,
    TotalNotPositive,
    UnredeemableExceedsRest,
)
from ..extensions import PurchaseContext, purchase_extensions
from ..locks import CustomerAccounts, customer_accounts_lock
from ..models import (
    AccountKind,
    Branch,
    Customer,
    Entry,
    EntryKind,
    Operation,
    OperationKind,
    OperationState,
    Tier,
)
from ..money import HUNDRED, MAX_AMOUNT, ZERO, money, money_down, parse_amount, percent_of
from ..program_cache import program_get
from .certificates import certificate_check, certificate_mark_used, certificate_points_of
from .customers import customer_tier_recompute
from .ledger import Move, entries_post, system_account


@dataclass(frozen=True)
class PurchaseCalculation:
    """What a sale would do. ``max_points`` is what may be redeemed; ``points`` what will be."""

    total: Decimal
    excluded_total: Decimal
    unredeemable_total: Decimal
    eligible_total: Decimal  # total − excluded: earns cashback
    redeemable_total: Decimal  # eligible − unredeemable: may be paid with points
    balance: Decimal
    max_redeem_percent: Decimal
    max_points: Decimal
    points: Decimal
    cash: Decimal
    cashback_percent: Decimal
    cashback: Decimal
    certificate_points: Decimal = ZERO  # paid by a certificate, on top of ``points``

    @property
    def cashback_base(self) -> Decimal:
        """The money paid for goods that earn: the eligible part less what points and a
        certificate paid. Cashback and the referral rewards are percentages of it."""
        return self.eligible_total - self.points - self.certificate_points


@dataclass(frozen=True)
class Receipt:
    """The result of a sale; ``replayed`` is True when a retry returned the first result."""

    operation_id: int
    customer_id: int
    total: Decimal
    points: Decimal
    cash: Decimal
    cashback: Decimal
    cashback_percent: Decimal
    balance: Decimal
    pending: bool
    replayed: bool = False
    certificate_points: Decimal = ZERO


@dataclass(frozen=True)
class RefundReceipt:
    operation_id: int
    origin_id: int
    customer_id: int
    amount: Decimal
    points_returned: Decimal
    cashback_reversed: Decimal
    debt: Decimal
    balance: Decimal
    replayed: bool = False
    cash_returned: Decimal = ZERO  # the money to hand back: the amount less the points' share


@dataclass(frozen=True)
class RefundShares:
    """What refunding part of a sale gives back: ``cash`` in money, ``points`` to the customer,
    and the ``cashback`` taken back from him."""

    cash: Decimal
    points: Decimal
    cashback: Decimal


def _amount(raw: object, *, field: str) -> Decimal:
    value = parse_amount(raw)
    if value is None or value < 0:
        raise InvalidAmount()
    if value > MAX_AMOUNT:
        raise AmountTooLarge(limit=MAX_AMOUNT)
    return money(value)


def redeem_cap_percent(tier: Tier | None) -> Decimal:
    """The share of a bill a customer of ``tier`` may pay with points.

    Below every tier (the owner made the lowest one start above 0) it is the strictest tier's
    share, never the whole bill (he earns no cashback there either); a program without tiers caps
    nothing."""
    if tier is not None:
        return tier.max_redeem_percent
    return min((t.max_redeem_percent for t in program_get().tiers), default=HUNDRED)


def calculate(
    *,
    tier: Tier | None,
    balance: Decimal,
    total: object,
    excluded_total: object = ZERO,
    unredeemable_total: object = ZERO,
    points: object = None,
    certificate_points: Decimal = ZERO,
    certificate_max_percent: Decimal = HUNDRED,
) -> PurchaseCalculation:
    """The arithmetic of a sale for a customer of ``tier`` with ``balance`` spendable points.

    ``points=None`` means "as many as allowed". Raises ``InvalidAmount`` for impossible bills and
    ``InsufficientPoints`` / ``RedemptionCapExceeded`` when explicit ``points`` are too many.
    A certificate worth ``certificate_points`` pays first, at most ``certificate_max_percent`` of
    the redeemable part; the customer's own points may pay what the tier cap leaves of the rest.
    """
    total_d = _amount(total, field="total")
    excluded = _amount(excluded_total, field="excluded_total")
    unredeemable = _amount(unredeemable_total, field="unredeemable_total")
    if total_d <= 0:
        raise TotalNotPositive()
    if excluded > total_d:
        raise ExcludedExceedsTotal()
    if unredeemable > total_d - excluded:
        raise UnredeemableExceedsRest()
    eligible = total_d - excluded
    redeemable = eligible - unredeemable
    cap_percent = redeem_cap_percent(tier)
    cashback_percent = tier.cashback_percent if tier is not None else ZERO
    certificate = min(certificate_points,
                      money_down(redeemable * certificate_max_percent / HUNDRED))
    cap = min(money_down(redeemable * cap_percent / HUNDRED), redeemable - certificate)
    max_points = max(ZERO, min(balance, cap))
    if points is None:
        points_d = max_points
    else:
        points_d = _amount(points, field="points")
        if points_d > balance:
            raise InsufficientPoints(available=balance)
        if points_d > cap:
            raise RedemptionCapExceeded(cap=cap)
    cash = total_d - points_d - certificate
    cashback = percent_of(eligible - points_d - certificate, cashback_percent)  # cashback_base
    return PurchaseCalculation(
        total=total_d, excluded_total=excluded, unredeemable_total=unredeemable,
        eligible_total=eligible, redeemable_total=redeemable, balance=balance,
        max_redeem_percent=cap_percent, max_points=max_points, points=points_d, cash=cash,
        cashback_percent=cashback_percent, cashback=cashback, certificate_points=certificate,
    )


def purchase_calculate(
    *,
    customer: Customer | None,
    total: object,
    excluded_total: object = ZERO,
    unredeemable_total: object = ZERO,
    points: object = None,
    certificate_code: str | None = None,
) -> PurchaseCalculation:
    """``calculate`` for a stored customer (or a number not seen yet: ``customer=None``).

    With ``certificate_code``, the certificate is checked (without a lock) and its share shown.
    """
    if customer is None:
        tiers = program_get().tiers
        tier = tiers[0] if tiers and tiers[0].min_total_spent <= 0 else None  # where he would start
        balance = ZERO
    else:
        tier = customer.tier
        balance = customer.accounts.get(kind=AccountKind.AVAILABLE).balance
    certificate = (certificate_check(code=certificate_code, customer=customer, lock=False)
                   if certificate_code else None)
    return calculate(
        tier=tier, balance=balance, total=total, excluded_total=excluded_total,
        unredeemable_total=unredeemable_total, points=points,
        **_certificate_terms(certificate),
    )


def _certificate_terms(certificate) -> dict:
    if certificate is None:
        return {}
    return {"certificate_points": certificate.points,
            "certificate_max_percent": certificate.max_redeem_percent}


def _replay(request_id: str | None, *, kind: str, customer_id: int,
            operation_id: int | None = None) -> Operation | None:
    """The operation a retry of ``request_id`` returns (by ``operation_id`` when the caller has
    already found it), or None; ``RequestIdReused`` when it is another kind or customer's."""
    if not request_id:
        return None
    found = Operation.objects.filter(request_id=request_id)
    existing = (found.get(pk=operation_id) if operation_id is not None
                else found.order_by().first())
    if existing is None:
        return None
    if existing.kind != kind or existing.customer_id != customer_id:
        raise RequestIdReused()
    return existing


def _receipt(operation: Operation, *, replayed: bool) -> Receipt:
    certificate = certificate_points_of(operation_id=operation.pk)
    return Receipt(
        operation_id=operation.pk, customer_id=operation.customer_id, total=operation.total,
        points=operation.points - certificate, cash=operation.cash, cashback=operation.cashback,
        cashback_percent=operation.cashback_percent, balance=operation.balance_after,
        pending=operation.entries.filter(release_at__isnull=False).exists(), replayed=replayed,
        certificate_points=certificate,
    )


def credit_moves(accounts: CustomerAccounts, amount: Decimal, *, kind: str,
                 release_at=None) -> list[Move]:
    """Points given to a customer: first repay his debt, then to spendable (or pending) points.

    The caller holds the customer's account lock; call it once per customer per operation (it
    reads the balances as they were before this operation's moves).
    """
    issued = system_account(AccountKind.ISSUED)
    moves = []
    owed = -accounts.debt.balance
    settle = min(owed, amount)
    if settle > 0:
        moves.append(Move(EntryKind.DEBT_SETTLEMENT, issued, accounts.debt, settle))
    rest = amount - settle
    if rest > 0:
        target = accounts.pending if release_at is not None else accounts.available
        moves.append(Move(kind, issued, target, rest, release_at=release_at))
    return moves


@transaction.atomic(durable=True)
def _purchase_create(
    *, customer, branch, cashier, total, excluded_total, unredeemable_total, points,
    receipt_number, request_id, by_code, cashier_external_id, cashier_name, comment,
    certificate_code,
) -> Receipt:
    customer_id = customer.pk
    extensions = purchase_extensions()
    others = [pk for ext in extensions for pk in ext.customers_to_lock(customer)]
    cached = program_get()  # one reading of the program for the whole sale
    program = cached.settings
    # Others' pending accounts are locked only when this sale defers what it credits them.
    # The request id is looked up with the customer, right after the locks (a retry returns the
    # first sale).
    locked = customer_accounts_lock(customer_ids=[customer_id], credited_ids=others,
                                    credited_pending=bool(program.accrual_delay_days),
                                    request_id=request_id or None, operation_id=True)
    accounts = locked[customer_id]
    if accounts.request_operation_id is not None:
        replayed = _replay(request_id, kind=OperationKind.PURCHASE, customer_id=customer_id,
                           operation_id=accounts.request_operation_id)
        return _receipt(replayed, replayed=True)
    customer = accounts.customer
    if customer.is_blocked:
        raise CustomerBlocked()
    if program.receipt_number_required and not receipt_number:
        raise ReceiptNumberRequired()
    tier = next((t for t in cached.tiers if t.pk == customer.tier_id), None)
    if tier is None and customer.tier_id is not None:
        tier = customer.tier  # saved since the cache was filled: read it
    # Accounts are locked first, then the certificate (the order every writer of both keeps).
    certificate = (certificate_check(code=certificate_code, customer=customer, lock=True)
                   if certificate_code else None)
    calc = calculate(
        tier=tier, balance=accounts.available.balance, total=total,
        excluded_total=excluded_total, unredeemable_total=unredeemable_total,
        points=points if points is not None else ZERO, **_certificate_terms(certificate),
    )
    if certificate is not None and calc.certificate_points <= 0:
        raise CertificateNotApplicable()
    if calc.points > 0 and not by_code and not program.redeem_by_phone:
        raise RedeemByPhoneDisabled()
    now = timezone.now()
    release_at = now + timedelta(days=program.accrual_delay_days) if program.accrual_delay_days else None
    operation = Operation(
        kind=OperationKind.PURCHASE, customer=customer, branch=branch, cashier=cashier,
        cashier_external_id=cashier_external_id, cashier_name=cashier_name, total=calc.total,
        excluded_total=calc.excluded_total, unredeemable_total=calc.unredeemable_total,
        points=calc.points + calc.certificate_points, cash=calc.cash, cashback=calc.cashback,
        cashback_percent=calc.cashback_percent, receipt_number=receipt_number or "",
        request_id=request_id or None, comment=comment,
    )
    moves = []
    if calc.certificate_points > 0:
        # The certificate's points exist only inside this sale: credited, then spent below.
        moves.append(Move(EntryKind.CAMPAIGN, system_account(AccountKind.ISSUED),
                          accounts.available, calc.certificate_points))
    if operation.points > 0:
        moves.append(Move(EntryKind.REDEMPTION, accounts.available,
                          system_account(AccountKind.SPENT), operation.points))
    moves += credit_moves(accounts, calc.cashback, kind=EntryKind.CASHBACK, release_at=release_at)
    # Balances after the moves, computed before writing so the operation row carries them.
    operation.balance_after = accounts.available.balance - operation.points + sum(
        (m.amount for m in moves if m.destination is accounts.available), ZERO
    )
    # With an id reserved by the lock (PostgreSQL), the operation's INSERT goes with the sale's last
    # statement: one round trip fewer while the accounts are locked. The foreign keys pointing at
    # it are checked at commit; its post_save is sent once it is written. Otherwise (SQLite, a
    # certificate to mark) it is written now: marking the certificate is an UPDATE of its own,
    # which must find the operation's row when the caller's transaction checks foreign keys
    # immediately (``SET CONSTRAINTS ALL IMMEDIATE``, as the bulk writers and seeddemo's do).
    operation_insert = []
    if accounts.new_operation_id is not None and certificate is None:
        operation.pk = accounts.new_operation_id
        operation_insert = [rows.insert_statement(operation, with_pk=True)]
    else:
        rows.rows_insert([operation])  # operation.save(), without composing the INSERT each time
    if certificate is not None:
        certificate_mark_used(certificate=certificate, operation=operation,
                              points=calc.certificate_points)
    statements = []
    if extensions:
        context = PurchaseContext(
            operation=operation, customer=customer, calculation=calc, accounts=locked,
            first_purchase=customer.purchase_count == 0, release_at=release_at,
        )
        for ext in extensions:
            moves += ext.moves(context)
        statements = context.statements
    customer.total_spent += calc.cash
    customer.purchase_count += 1
    customer.last_purchase_at = now
    customer_tier_recompute(customer=customer, tiers=cached.tiers)
    # The customer's new totals and the extensions' rows go with the entries and balances (one
    # statement on PostgreSQL).
    entries_post(operation=operation, moves=moves,
                 then=[*operation_insert, _customer_after_sale_update(customer), *statements])
    if operation_insert:
        rows.inserted(operation)
    return Receipt(
        operation_id=operation.pk, customer_id=customer.pk, total=calc.total, points=calc.points,
        cash=calc.cash, cashback=calc.cashback, cashback_percent=calc.cashback_percent,
        balance=accounts.available.balance, pending=release_at is not None,
        certificate_points=calc.certificate_points,
    )


@functools.cache
def _customer_update_sql(vendor: str) -> str:
    q = rows.quote
    return (f"UPDATE {q(Customer._meta.db_table)} SET {q('total_spent')} = %s,"  # noqa: S608 - names from _meta; values bound
            f" {q('purchase_count')} = %s, {q('last_purchase_at')} = %s, {q('tier_id')} = %s"
            f" WHERE {q('id')} = %s")


def _customer_after_sale_update(customer: Customer) -> tuple[str, list]:
    """``Customer.objects.filter(pk=...).update(total_spent=..., purchase_count=...,
    last_purchase_at=..., tier_id=...)``, by hand (it runs in every sale), for ``entries_post``."""
    return _customer_update_sql(rows.db().vendor), [
        rows.prep(Customer, "total_spent")(customer.total_spent), customer.purchase_count,
        rows.prep(Customer, "last_purchase_at")(customer.last_purchase_at), customer.tier_id,
        customer.pk,
    ]


def purchase_create(
    *,
    customer: Customer,
    branch: Branch | None,
    total: object,
    excluded_total: object = ZERO,
    unredeemable_total: object = ZERO,
    points: object = None,
    cashier=None,
    receipt_number: str = "",
    request_id: str | None = None,
    by_code: bool = False,
    cashier_external_id: str = "",
    cashier_name: str = "",
    comment: str = "",
    certificate_code: str | None = None,
) -> Receipt:
    """Record a sale: redeem ``points`` (none if None), credit cashback, update tier.

    ``certificate_code``: a certificate pays its share of the bill on top of ``points`` and is
    used up by this sale (``loyalty.services.certificates``); refused when it is not active, not
    the customer's, or can pay nothing of this bill.

    Checks points ≤ min(balance, (total − excluded − unredeemable) × tier cap) under the account
    lock. The same ``request_id`` twice returns the first receipt and writes nothing (a race between
    two first attempts is settled by the unique constraint). Raises a ``LoyaltyError`` on a refusal;
    nothing is written then.
    """
    try:
        return _purchase_create(
            customer=customer, branch=branch, cashier=cashier, total=total,
            excluded_total=excluded_total, unredeemable_total=unredeemable_total, points=points,
            receipt_number=receipt_number, request_id=request_id, by_code=by_code,
            cashier_external_id=cashier_external_id, cashier_name=cashier_name, comment=comment,
            certificate_code=certificate_code,
        )
    except IntegrityError:
        existing = _replay(request_id, kind=OperationKind.PURCHASE, customer_id=customer.pk)
        if existing is None:
            raise
        return _receipt(existing, replayed=True)


def _share(value: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``value × part / whole`` rounded half-up; cumulative use makes parts add up exactly."""
    return money(value * part / whole)


def _refund_shares(purchase: Operation, amount: Decimal, *, certificate: Decimal) -> RefundShares:
    """The shares of refunding ``amount`` of ``purchase`` after what was refunded already.

    Cumulative: the refunds of one sale add up to exactly its points and cashback. A
    certificate's share of the redeemed points is not returned (it existed only for that sale),
    and it is not money either."""
    before, after = purchase.refunded_total, purchase.refunded_total + amount
    paid_points = (_share(purchase.points, after, purchase.total)
                   - _share(purchase.points, before, purchase.total))
    cashback = (_share(purchase.cashback, after, purchase.total)
                - _share(purchase.cashback, before, purchase.total))
    points = paid_points - (_share(certificate, after, purchase.total)
                            - _share(certificate, before, purchase.total))
    return RefundShares(cash=amount - paid_points, points=points, cashback=cashback)


def purchase_refund_preview(*, operation: Operation, amount: Decimal) -> RefundShares:
    """What refunding ``amount`` of the sale ``operation`` would give back, for the till to show
    before the cashier confirms (read without locks; ``purchase_refund`` computes it again)."""
    return _refund_shares(operation, amount,
                          certificate=certificate_points_of(operation_id=operation.pk))


@transaction.atomic(durable=True)
def _purchase_refund(*, operation_id, amount, branch, cashier, request_id, comment) -> RefundReceipt:
    customer_id = (
        Operation.objects.filter(pk=operation_id, kind=OperationKind.PURCHASE)
        .values_list("customer_id", flat=True).first()
    )
    if customer_id is None:
        raise OperationNotFound()
    # Points this sale credited to other customers (referral rewards up a chain...) are taken back
    # in the same proportion; their accounts are locked with the buyer's, in one pk-ordered query.
    rewards = list(
        Entry.objects.filter(operation_id=operation_id, destination__customer__isnull=False)
        .exclude(destination__customer_id=customer_id)
        # A sale of a record merged into the buyer credited the buyer himself, not a referrer.
        .exclude(destination__customer__merged_into_id=customer_id)
        .values_list("pk", "kind", "amount", "destination__customer_id", "destination_id")
    )
    locked = customer_accounts_lock(customer_ids=[customer_id],
                                    credited_ids={r[3] for r in rewards}, credited_pending=True)
    accounts = locked[customer_id]
    replayed = Operation.objects.filter(request_id=request_id).first() if request_id else None
    if replayed is not None:
        if replayed.kind != OperationKind.REFUND or replayed.origin_id != operation_id:
            raise RequestIdReused()
        return _refund_receipt(replayed, replayed=True)
    # Read under the lock: every refund of this sale locks the same accounts first.
    purchase = Operation.objects.get(pk=operation_id)
    remaining = purchase.total - purchase.refunded_total
    if amount is None:
        amount_d = remaining
    else:
        amount_d = _amount(amount, field="amount")
        if amount_d <= 0:
            raise InvalidAmount()
    if amount_d > remaining or remaining <= 0:
        raise RefundExceedsPurchase(remaining=remaining)
    before, after = purchase.refunded_total, purchase.refunded_total + amount_d
    shares = _refund_shares(purchase, amount_d,
                            certificate=certificate_points_of(operation_id=purchase.pk))
    cash_back, points_back, cashback_back = shares.cash, shares.points, shares.cashback
    customer = accounts.customer

    refund = Operation(
        kind=OperationKind.REFUND, state=OperationState.REVERSAL, customer=customer,
        branch=branch or purchase.branch, cashier=cashier, total=amount_d, points=points_back,
        cash=cash_back, cashback=cashback_back, cashback_percent=purchase.cashback_percent,
        request_id=request_id or None, origin=purchase, receipt_number=purchase.receipt_number,
        comment=comment,
    )
    issued = system_account(AccountKind.ISSUED)
    moves = []
    if points_back > 0:
        moves.append(Move(EntryKind.REDEMPTION_REVERSAL, system_account(AccountKind.SPENT),
                          accounts.available, points_back))
    # Take the cashback back from where it can be found: pending (not yet released), spendable
    # points, and what is still missing is recorded as the customer's debt.
    to_take = cashback_back
    from_pending = min(to_take, accounts.pending.balance)
    if from_pending > 0:
        moves.append(Move(EntryKind.CASHBACK_REVERSAL, accounts.pending, issued, from_pending))
        to_take -= from_pending
    from_available = min(to_take, accounts.available.balance + points_back)
    if from_available > 0:
        moves.append(Move(EntryKind.CASHBACK_REVERSAL, accounts.available, issued, from_available))
        to_take -= from_available
    debt = to_take
    if debt > 0:
        moves.append(Move(EntryKind.DEBT, accounts.debt, issued, debt))
    taken: dict[int, Decimal] = {}  # from each customer's spendable points by earlier entries
    taken_pending: dict[int, Decimal] = {}  # and from his pending points
    for entry_id, _kind, reward, other_id, destination_id in rewards:
        back = _share(reward, after, purchase.total) - _share(reward, before, purchase.total)
        other = locked[other_id]
        if other.pending is not None and destination_id == other.pending.pk:
            # A deferred reward not yet released: cancel it from pending, as the buyer's cashback.
            from_pending = min(back, other.pending.balance - taken_pending.get(other_id, ZERO))
            if from_pending > 0:
                moves.append(Move(EntryKind.REWARD_REVERSAL, other.pending, issued, from_pending,
                                  reverses_id=entry_id))
                taken_pending[other_id] = taken_pending.get(other_id, ZERO) + from_pending
                back -= from_pending
        # One customer may have several entries of the sale (debt repaid, then the reward).
        debits = debit_moves(locked[other_id], back, kind=EntryKind.REWARD_REVERSAL,
                             reverses_id=entry_id, taken=taken.get(other_id, ZERO))
        taken[other_id] = taken.get(other_id, ZERO) + sum(
            (m.amount for m in debits if m.source is locked[other_id].available), ZERO)
        moves += debits
    refund.balance_after = accounts.available.balance + points_back - from_available
    refund.save()
    entries_post(operation=refund, moves=moves)

    purchase.refunded_total = after
    if after == purchase.total:
        purchase.state = OperationState.CANCELED
    Operation.objects.filter(pk=purchase.pk).update(
        refunded_total=purchase.refunded_total, state=purchase.state
    )
    customer.total_spent = max(ZERO, customer.total_spent - cash_back)
    customer_tier_recompute(customer=customer, tiers=program_get().tiers)
    Customer.objects.filter(pk=customer.pk).update(total_spent=customer.total_spent,
                                                   tier_id=customer.tier_id)
    return RefundReceipt(
        operation_id=refund.pk, origin_id=purchase.pk, customer_id=customer.pk, amount=amount_d,
        points_returned=points_back, cashback_reversed=cashback_back, debt=debt,
        balance=accounts.available.balance, cash_returned=cash_back,
    )


def debit_moves(accounts: CustomerAccounts, amount: Decimal, *, kind: str,
                reverses_id: int | None = None, taken: Decimal = ZERO) -> list[Move]:
    """Take back ``amount`` points given to a customer: from spendable points, the rest as debt.

    The caller holds the customer's account lock; ``taken`` is what earlier moves of the same
    operation already take from his spendable points (balances are read before any is posted).
    """
    issued = system_account(AccountKind.ISSUED)
    take = max(ZERO, min(amount, accounts.available.balance - taken))
    moves = []
    if take > 0:
        moves.append(Move(kind, accounts.available, issued, take, reverses_id=reverses_id))
    if amount - take > 0:
        moves.append(Move(EntryKind.DEBT, accounts.debt, issued, amount - take,
                          reverses_id=reverses_id))
    return moves


def _refund_receipt(refund: Operation, *, replayed: bool) -> RefundReceipt:
    debt = sum((e.amount for e in refund.entries.filter(kind=EntryKind.DEBT)), ZERO)
    return RefundReceipt(
        operation_id=refund.pk, origin_id=refund.origin_id, customer_id=refund.customer_id,
        amount=refund.total, points_returned=refund.points, cashback_reversed=refund.cashback,
        debt=debt, balance=refund.balance_after, replayed=replayed, cash_returned=refund.cash,
    )


def purchase_refund(
    *,
    operation_id: int,
    amount: object = None,
    branch: Branch | None = None,
    cashier=None,
    request_id: str | None = None,
    comment: str = "",
) -> RefundReceipt:
    """Refund a sale fully (``amount=None``) or in part (an amount of the bill).

    Returns the redeemed points and takes back the cashback in proportion; cashback already spent
    becomes a recorded debt, repaid from future credits, so no balance goes below zero. Refunds
    never exceed the sale's total. The same ``request_id`` twice returns the first refund.
    """
    try:
        return _purchase_refund(
            operation_id=operation_id, amount=amount, branch=branch, cashier=cashier,
            request_id=request_id, comment=comment,
        )
    except IntegrityError:
        existing = Operation.objects.filter(request_id=request_id).first() if request_id else None
        if existing is None:
            raise
        if existing.kind != OperationKind.REFUND or existing.origin_id != operation_id:
            raise RequestIdReused() from None
        return _refund_receipt(existing, replayed=True)
