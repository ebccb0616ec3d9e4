"""Celery tasks: fetch ids, call a service, nothing more."""

from decimal import Decimal

from celery import shared_task

from . import services, webhooks

RETRY_TASK_NAME = "partner: re-send due webhooks"


@shared_task(name="partner.webhook_send", ignore_result=True)
def webhook_send(delivery_id: int) -> None:
    webhooks.delivery_send(delivery_id=delivery_id)


@shared_task(name="partner.webhooks_send_many", ignore_result=True)
def webhooks_send_many(delivery_ids: list[int | str]) -> None:
    """A web process's batch of committed deliveries (by pk, or by request id for a sale's, whose
    row went in without returning its pk): one ``webhook_send`` each."""
    for delivery_id in webhooks.deliveries_named(delivery_ids):
        webhook_send.delay(delivery_id)


@shared_task(name="partner.webhooks_retry_due", ignore_result=True)
def webhooks_retry_due() -> int:
    due = webhooks.deliveries_due()
    for delivery_id in due:
        webhooks.delivery_send(delivery_id=delivery_id)
    return len(due)


@shared_task(name="partner.reward_apply", ignore_result=True, acks_late=True)
def reward_apply_task(*, customer_ids: list[int], points: str, comment: str,
                      base_request_id: str) -> None:
    services.reward_apply(customer_ids=customer_ids, points=Decimal(points), comment=comment,
                          base_request_id=base_request_id)


def webhook_retry_schedule_ensure(**_kwargs) -> None:
    """Keep a once-a-minute beat entry for ``webhooks_retry_due`` (after every migrate)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.get_or_create(
        name=RETRY_TASK_NAME,
        defaults={"task": "partner.webhooks_retry_due", "interval": every_minute},
    )
