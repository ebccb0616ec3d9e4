"""Broadcasts: one message to every customer of a segment who agreed to messages."""

from django.db import connection, transaction
from django.utils import timezone

from ..exceptions import NoRecipients
from ..models import Broadcast, MessageKind
from ..selectors import broadcast_segment
from .notifications import notifications_kick


@transaction.atomic(durable=True)
def broadcast_send(*, broadcast: Broadcast) -> int:
    """Queue the broadcast for its segment in one INSERT ... SELECT; returns the recipients.

    Sending twice queues nobody twice (the outbox key is per broadcast and customer).
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    ids_sql, ids_params = broadcast_segment(broadcast=broadcast).values("pk").query.sql_with_params()
    prefix = f"broadcast:{broadcast.pk}:"
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO campaigns_notification (customer_id, kind, key, certificate_id,
                broadcast_id, context, status, channel, attempts, next_attempt_at, created_at,
                sent_at, error)
            SELECT c.id, %s, %s || CAST(c.id AS VARCHAR(20)), NULL, %s, '{{}}', 'pending', '', 0,
                   %s, %s, NULL, ''
            FROM loyalty_customer c WHERE c.id IN ({ids_sql}) AND NOT EXISTS (
                SELECT 1 FROM campaigns_notification n
                WHERE n.key = %s || CAST(c.id AS VARCHAR(20)))""",  # noqa: S608 - constants only
            [MessageKind.BROADCAST, prefix, broadcast.pk, now, now, *ids_params, prefix])
        queued = cursor.rowcount
    if not queued and not broadcast.recipients:
        raise NoRecipients()
    Broadcast.objects.filter(pk=broadcast.pk).update(
        sent_at=timezone.now(), recipients=broadcast.recipients + queued
    )
    notifications_kick()
    return queued
