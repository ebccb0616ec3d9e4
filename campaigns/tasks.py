"""Celery tasks: fetch what to do and call a service, nothing more."""

from celery import shared_task


@shared_task(name="campaigns.notifications_send")
def notifications_send() -> int:
    """Send due messages (after a cause commits, and every few minutes to retry failures)."""
    from .services.notifications import notifications_send as send

    return send()


@shared_task(name="campaigns.job_run")
def job_run(job: str, as_of: str | None = None) -> int:
    """Run one nightly job (beat passes only the name: the date is today's)."""
    from datetime import date

    from .services.jobs import job_run as run

    return run(job=job, as_of=date.fromisoformat(as_of) if as_of else None)
