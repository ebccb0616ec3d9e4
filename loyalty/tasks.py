"""Celery tasks of the loyalty app: fetch ids, call one service."""

from celery import shared_task

from .exceptions import LoyaltyError


@shared_task(acks_late=False)
def import_batch_run_task(batch_id: int) -> None:
    """Run an uploaded import; a refusal is already recorded on the batch (state failed)."""
    from .services.imports import import_batch_run

    try:
        import_batch_run(batch_id=batch_id)
    except LoyaltyError:
        pass
