"""Merging two customer records into one (a customer changed his number; staff credited points
to a branch's service number instead of the customer's).

Everything of the *source* moves to the *target* through the ledger: one ``MERGE`` operation whose
``TRANSFER`` entries empty the source's accounts into the target's (spendable, pending, and debt);
if one had debt and the other spendable points, the merged customer repays it at once, as any
credit would. His operations are re-pointed to the target (the history reads as one person; their
entries stay on the source's accounts, append-only), totals and visits are added, empty profile
fields filled, tags joined. The source is then closed: blocked (so no sale goes through), his
phone moved to ``former_phone`` so no lookup finds him and the number is free for a new owner.

Other apps that keep rows per customer (referral links, certificates) move theirs in a merge hook
registered with ``loyalty.extensions.customer_merge_hook_register``; it runs inside the same
transaction.
"""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..exceptions import LoyaltyError
from ..extensions import customer_merge_hooks
from ..locks import customer_accounts_lock
from ..models import Customer, Entry, EntryKind, Operation, OperationKind
from ..money import ZERO
from .customers import customer_tier_recompute
from .ledger import Move, entries_post

PROFILE_FIELDS = ("name", "email", "birthday", "gender", "source")


class MergeRefused(LoyaltyError):
    """Merging a customer with himself, a closed record, or one with points reserved by an open
    order (the order would lose its reservation)."""

    code = "mergeRefused"
    status = 409
    default_message = _("These customers cannot be merged.")


@transaction.atomic(durable=True)
def customer_merge(*, source: Customer, target: Customer, author=None, reason: str = "") -> Operation:
    """Move ``source``'s points and history to ``target`` and close ``source``; returns the
    ``MERGE`` operation. Raises ``MergeRefused``."""
    if source.pk == target.pk:
        raise MergeRefused(_("A customer cannot be merged with himself."))
    locked = customer_accounts_lock(customer_ids=[source.pk, target.pk])
    src, dst = locked[source.pk], locked[target.pk]
    source, target = src.customer, dst.customer
    if source.closed_at or target.closed_at:
        raise MergeRefused(_("One of these customers is already closed."))
    if src.held.balance > 0:
        raise MergeRefused(_("The customer has points reserved by an open order: finish it first."))

    moves = []
    if src.debt.balance < 0:
        moves.append(Move(EntryKind.TRANSFER, dst.debt, src.debt, -src.debt.balance))
    if src.available.balance > 0:
        moves.append(Move(EntryKind.TRANSFER, src.available, dst.available, src.available.balance))
    if src.pending.balance > 0:
        # One transfer for all his pending points: spendable when the last of them would have been.
        release_at = Entry.objects.filter(destination=src.pending).aggregate(
            r=Max("release_at"))["r"]
        moves.append(Move(EntryKind.TRANSFER, src.pending, dst.pending, src.pending.balance,
                          release_at=release_at))
    owed = -(src.debt.balance + dst.debt.balance)
    spendable = src.available.balance + dst.available.balance
    settle = min(owed, spendable)
    if settle > 0:
        moves.append(Move(EntryKind.DEBT_SETTLEMENT, dst.available, dst.debt, settle))

    operation = Operation.objects.create(
        kind=OperationKind.MERGE, customer=target, cashier=author,
        balance_after=spendable - max(settle, ZERO),
        comment=f"{source.phone} (#{source.pk}) merged into this customer. {reason}".strip()[:500],
    )
    entries_post(operation=operation, moves=moves)

    # History: one welcome bonus per person is a schema rule; a second one stays with the source.
    history = Operation.objects.filter(customer=source)
    if Operation.objects.filter(customer=target, kind=OperationKind.WELCOME).exists():
        history = history.exclude(kind=OperationKind.WELCOME)
    history.update(customer=target)
    Customer.objects.filter(merged_into=source).update(merged_into=target)

    for field in PROFILE_FIELDS:
        if not getattr(target, field) and getattr(source, field):
            setattr(target, field, getattr(source, field))
    target.total_spent += source.total_spent
    target.purchase_count += source.purchase_count
    if source.last_purchase_at and (not target.last_purchase_at
                                    or source.last_purchase_at > target.last_purchase_at):
        target.last_purchase_at = source.last_purchase_at
    if source.joined_at and (not target.joined_at or source.joined_at < target.joined_at):
        target.joined_at = source.joined_at
    target.consent_messages = target.consent_messages or source.consent_messages
    customer_tier_recompute(customer=target)
    target.save(update_fields=[*PROFILE_FIELDS, "total_spent", "purchase_count",
                               "last_purchase_at", "joined_at", "consent_messages", "tier"])
    target.tags.add(*source.tags.all())

    source.former_phone = source.phone
    source.phone = f"closed:{source.pk}"
    source.closed_at = timezone.now()
    source.is_blocked = True
    source.merged_into = target
    source.total_spent = ZERO
    source.purchase_count = 0
    source.save(update_fields=["former_phone", "phone", "closed_at", "is_blocked", "merged_into",
                               "total_spent", "purchase_count"])
    for hook in customer_merge_hooks():
        hook(source=source, target=target)
    return operation
