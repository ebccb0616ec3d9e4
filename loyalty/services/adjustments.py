"""Manual corrections by the owner: points added or taken with a stated reason."""

from decimal import Decimal

from django.db import IntegrityError, transaction

from ..exceptions import AmountTooLarge, InsufficientPoints, InvalidAmount, RequestIdReused
from ..locks import customer_accounts_lock
from ..models import AccountKind, Customer, EntryKind, Operation, OperationKind
from ..money import MAX_AMOUNT, money, parse_amount
from .ledger import Move, entries_post, system_account


@transaction.atomic(durable=True)
def _points_adjust(*, customer_id, amount, reason, author, request_id, kind) -> Operation:
    accounts = customer_accounts_lock(customer_ids=[customer_id])[customer_id]
    if request_id:
        existing = Operation.objects.filter(request_id=request_id).first()
        if existing is not None:
            if existing.customer_id != customer_id or existing.kind != kind:
                raise RequestIdReused()
            return existing
    issued = system_account(AccountKind.ISSUED)
    if amount > 0:
        move = Move(EntryKind.OPENING if kind == OperationKind.OPENING else EntryKind.ADJUSTMENT,
                    issued, accounts.available, amount)
    else:
        if -amount > accounts.available.balance:
            raise InsufficientPoints(available=accounts.available.balance)
        move = Move(EntryKind.ADJUSTMENT, accounts.available, issued, -amount)
    operation = Operation.objects.create(
        kind=kind, customer=accounts.customer, cashier=author,
        cashback=amount if amount > 0 else Decimal(0), points=-amount if amount < 0 else Decimal(0),
        comment=reason, request_id=request_id or None,
        balance_after=accounts.available.balance + amount,
    )
    entries_post(operation=operation, moves=[move])
    return operation


def points_adjust(
    *,
    customer: Customer,
    amount: object,
    reason: str,
    author=None,
    request_id: str | None = None,
    kind: str = OperationKind.ADJUSTMENT,
) -> Operation:
    """Add (amount > 0) or take (amount < 0) spendable points, recording who and why.

    Taking more than the spendable balance raises ``InsufficientPoints``; a zero or non-numeric
    amount, or an empty reason, raises ``InvalidAmount``.
    """
    value = parse_amount(amount)
    if value is None or money(value) == 0 or not reason.strip():
        raise InvalidAmount()
    if abs(value) > MAX_AMOUNT:
        raise AmountTooLarge(limit=MAX_AMOUNT)
    try:
        return _points_adjust(
            customer_id=customer.pk, amount=money(value), reason=reason.strip(), author=author,
            request_id=request_id, kind=kind,
        )
    except IntegrityError:
        existing = Operation.objects.filter(request_id=request_id).first() if request_id else None
        if existing is None:
            raise
        return existing
