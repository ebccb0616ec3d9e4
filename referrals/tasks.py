"""Celery tasks: call a service, nothing more."""

from celery import shared_task


@shared_task(name="referrals.phone_checks_purge")
def phone_checks_purge() -> int:
    """Delete the join page's spent phone checks and counters (nightly, from beat)."""
    from .services import phone_checks_purge as purge

    return purge()
