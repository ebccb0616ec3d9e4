"""Celery tasks: fetch what to do and call a service, nothing more."""

from celery import shared_task


@shared_task(name="campaigns.notifications_send")
def notifications_send() -> int:
    """Send due messages (after a cause commits, and every few minutes to retry failures)."""
    from .services.notifications import notifications_send as send

    return send()
