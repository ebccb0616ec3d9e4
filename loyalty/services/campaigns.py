"""Campaign gifts paid in points (a review reward): credited to spendable points once."""

from decimal import Decimal

from django.db import IntegrityError, transaction

from ..locks import customer_accounts_lock
from ..models import Customer, EntryKind, Operation, OperationKind
from ..money import ZERO, money
from .ledger import entries_post
from .purchases import credit_moves


@transaction.atomic(durable=True)
def _campaign_points_credit(*, customer_id, points, request_id, comment) -> Operation:
    accounts = customer_accounts_lock(customer_ids=[customer_id])[customer_id]
    existing = Operation.objects.filter(request_id=request_id).first()
    if existing is not None:
        return existing
    moves = credit_moves(accounts, points, kind=EntryKind.CAMPAIGN)
    operation = Operation.objects.create(
        kind=OperationKind.CAMPAIGN, customer=accounts.customer, cashback=points,
        comment=comment, request_id=request_id,
        balance_after=accounts.available.balance + sum(
            (m.amount for m in moves if m.destination is accounts.available), ZERO),
    )
    entries_post(operation=operation, moves=moves)
    return operation


def campaign_points_credit(*, customer: Customer, points: Decimal, request_id: str,
                           comment: str = "") -> Operation:
    """Credit a campaign gift to spendable points (debt is repaid first), once per
    ``request_id``: a retry or a race returns the first operation."""
    try:
        return _campaign_points_credit(customer_id=customer.pk, points=money(points),
                                       request_id=request_id, comment=comment)
    except IntegrityError:
        return Operation.objects.get(request_id=request_id)
