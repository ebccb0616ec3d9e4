"""Where webhooks come from: every sale or refund, and every registration, wherever it happens.

The till, the shop and this API all write operations through ``loyalty.services``; rather than ask
each caller to remember the webhook, the outbox row is written inside the service's own
transaction, so the webhook commits or rolls back with what it reports and nothing is posted
before commit (``webhooks.delivery_enqueue``):

- a sale: by ``OperationOutbox``, a ``loyalty`` purchase extension, which ``purchase_create`` calls
  under its locks however it writes the operation (through the ORM or not);
- a refund: from ``post_save`` of its operation row;
- a registration: from ``post_save`` of the customer.

An operation's outbox row names the operation only; its body is rendered at the first attempt, as
``GET /operations/{id}`` shows it (a sale is complete only when its transaction is: its
certificate used, the customer's tier recomputed). This is plumbing, not business logic: it reads
what was saved and writes an outbox row, nothing else.
"""

from contextvars import ContextVar

from django.db.models.signals import post_delete, post_save

from loyalty.extensions import PurchaseContext
from loyalty.models import Account, AccountKind, Customer, Operation, OperationKind
from referrals.models import Referral

from .models import WebhookEndpoint, WebhookEvent
from .presenters import iso, num, tier_of, tier_out
from .webhooks import delivery_enqueue, delivery_statement, endpoint_cache_clear

# The sale this thread (request) wrote last, as the service wrote it: the API answers with it
# instead of reading it back (see apis.OperationListApi.post).
_last_saved: ContextVar[Operation | None] = ContextVar("partner_last_saved_operation", default=None)


def operation_last_saved(*, operation_id: int) -> Operation | None:
    """The sale with this id if this thread has just written it (with its time), else None."""
    operation = _last_saved.get()
    if operation is None or operation.pk != operation_id or operation.created_at is None:
        return None
    return operation


class OperationOutbox:
    """The ``PurchaseExtension`` that writes a sale's webhook outbox row; it moves no points."""

    def customers_to_lock(self, customer: Customer) -> list[int]:
        return []

    def moves(self, context: PurchaseContext) -> list:
        _last_saved.set(context.operation)
        # The outbox row goes with the sale's last statement (nobody listens to its post_save).
        statement = delivery_statement(event=WebhookEvent.OPERATION, operation_id=context.operation.pk)
        if statement is not None:
            context.statements.append(statement)
        return []


operation_outbox = OperationOutbox()


def operation_saved(sender, instance: Operation, created: bool, raw: bool = False, **kwargs) -> None:
    """A refund's outbox row (a sale's comes from ``OperationOutbox``)."""
    if raw or not created or instance.kind != OperationKind.REFUND:
        return
    delivery_enqueue(event=WebhookEvent.OPERATION, operation_id=instance.pk)


def participant_payload(customer: Customer) -> dict:
    """The reference's ``Participant`` (with the customer's uid, name and phone beside it)."""
    tier = tier_of(customer)
    inviter_id = Referral.objects.filter(customer=customer).values_list("inviter_id", flat=True).first()
    balance = (Account.objects.filter(customer=customer, kind=AccountKind.AVAILABLE)
               .values_list("balance", flat=True).first())
    payload = {
        "id": customer.pk, "inviterId": inviter_id, "points": num(balance),
        "discountRate": 0.0,
        "cashbackRate": num(tier.cashback_percent) if tier else 0.0,
        "cashSpent": num(customer.total_spent), "savedFunds": 0.0, "invitedCount": 0,
        "effectiveInvitedCount": 0, "operationsCount": customer.purchase_count,
        "fullRefundsCount": 0, "note": None, "dateCreated": iso(customer.joined_at),
        "lastTransactionTime": iso(customer.last_purchase_at), "pointsExpireIn": None,
        "uid": str(customer.uid), "displayName": customer.name, "phone": customer.phone,
    }
    if tier is not None:
        payload["membershipTier"] = tier_out(tier)
    return payload


def customer_saved(sender, instance: Customer, created: bool, raw: bool = False,
                   update_fields=None, **kwargs) -> None:
    if raw or instance.joined_at is None:
        return
    registered_now = created or (update_fields is not None and "joined_at" in update_fields)
    if registered_now:
        delivery_enqueue(event=WebhookEvent.PARTICIPANT,
                         payload=lambda: participant_payload(instance))


def connect() -> None:
    from loyalty.extensions import purchase_extension_register

    purchase_extension_register(operation_outbox)
    post_save.connect(operation_saved, sender=Operation, dispatch_uid="partner_operation_outbox")
    post_save.connect(customer_saved, sender=Customer, dispatch_uid="partner_customer_outbox")
    post_save.connect(endpoint_cache_clear, sender=WebhookEndpoint, dispatch_uid="partner_endpoints")
    post_delete.connect(endpoint_cache_clear, sender=WebhookEndpoint,
                        dispatch_uid="partner_endpoints_del")
