"""Where webhooks come from: every sale or refund, and every registration, wherever it happens.

The till, the shop and this API all write operations through ``loyalty.services``; rather than ask
each caller to remember the webhook, the outbox row is written from ``post_save`` of the row that
records the event, which runs inside the service's own transaction. So the webhook commits or rolls
back with the sale, and nothing is posted before commit (``webhooks.delivery_enqueue``). This is
plumbing, not business logic: it reads the saved row and writes an outbox row, nothing else.
"""

from contextvars import ContextVar

from django.db.models.signals import post_delete, post_save

from loyalty.models import Account, AccountKind, Customer, Operation, OperationKind
from referrals.models import Referral

from .models import WebhookEndpoint, WebhookEvent
from .presenters import iso, num, operation_out, tier_of, tier_out
from .webhooks import delivery_enqueue, endpoint_cache_clear

WEBHOOK_OPERATION_KINDS = (OperationKind.PURCHASE, OperationKind.REFUND)

# The sale or refund this thread (request) saved last, as the service saved it: the API answers
# with it instead of reading it back (see apis.OperationListApi.post).
_last_saved: ContextVar[Operation | None] = ContextVar("partner_last_saved_operation", default=None)


def operation_last_saved(*, operation_id: int) -> Operation | None:
    """The operation with this id if this thread has just saved it, else None."""
    operation = _last_saved.get()
    return operation if operation is not None and operation.pk == operation_id else None


def operation_saved(sender, instance: Operation, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or not created or instance.kind not in WEBHOOK_OPERATION_KINDS:
        return
    _last_saved.set(instance)
    delivery_enqueue(event=WebhookEvent.OPERATION, payload=lambda: operation_out(instance))


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
    post_save.connect(operation_saved, sender=Operation, dispatch_uid="partner_operation_outbox")
    post_save.connect(customer_saved, sender=Customer, dispatch_uid="partner_customer_outbox")
    post_save.connect(endpoint_cache_clear, sender=WebhookEndpoint, dispatch_uid="partner_endpoints")
    post_delete.connect(endpoint_cache_clear, sender=WebhookEndpoint,
                        dispatch_uid="partner_endpoints_del")
