"""Webhooks: the outbox row, the signed POST, the retries.

``delivery_enqueue`` writes a ``WebhookDelivery`` in the caller's transaction and queues the send
on commit (with a broker, in batches: ``Dispatcher``), so a webhook exists exactly when what it
reports does. An operation's row names the
operation only: its body is rendered at the first attempt, from the committed rows, by the same
selector and presenter as ``GET /operations/{id}`` (so the two never differ, whatever order the
sale wrote its rows in), and kept from then on. ``delivery_send`` claims a due
delivery (a short lease, so two workers never post it at once), posts it signed as the reference
describes, records the attempt and, on failure, sets the next attempt by ``BACKOFF``: a receiver
that is down for hours still gets every event, in the end once ``200`` comes back.
"""

import atexit
import hashlib
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from loyalty import rows

from .models import (
    DeliveryStatus,
    PartnerSettings,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from .presenters import operation_out
from .selectors import operation_get

logger = logging.getLogger(__name__)

# Pauses after the 1st, 2nd... failed attempt: 1 min up to 8 h, about 16 hours in all.
BACKOFF = [timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 120, 240, 480)]
MAX_ATTEMPTS = len(BACKOFF) + 1
# The reference's receivers must answer within 5 seconds.
TIMEOUT_SECONDS = 5
# While one worker posts a delivery, others leave it alone this long.
LEASE = timedelta(seconds=60)


def signature(*, request_id: str, timestamp: str, company_id: int | str, key: str) -> str:
    """md5(X-Request-Id + X-Timestamp + company id + key), hex: the reference's ``X-Signature``."""
    text = f"{request_id}{timestamp}{company_id}{key}"
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def timestamp_format(moment: datetime) -> str:
    """``2018-10-22T13:52:46,769Z``: the spelling of the reference's webhook example."""
    utc = moment.astimezone(timezone.get_fixed_timezone(0))
    return utc.strftime("%Y-%m-%dT%H:%M:%S,") + f"{utc.microsecond // 1000:03d}Z"


# Which events have an active endpoint, per process for a few seconds: every sale asks, and the
# answer changes a few times a year. Saving or deleting an endpoint clears it in this process;
# another process sees the change within PROGRAM_CACHE_SECONDS (endpoints are switched off, not
# deleted, in Admin, so a cached id always still exists).
_endpoints_lock = threading.Lock()
_endpoints: tuple[float, dict[str, int]] | None = None


def endpoint_ids_active() -> dict[str, int]:
    global _endpoints
    ttl = getattr(settings, "PROGRAM_CACHE_SECONDS", 5)
    now = time.monotonic()
    cached = _endpoints
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    ids = dict(WebhookEndpoint.objects.filter(is_active=True).values_list("event", "pk"))
    with _endpoints_lock:
        _endpoints = (now, ids)
    return ids


def endpoint_cache_clear(**_kwargs) -> None:
    global _endpoints
    with _endpoints_lock:
        _endpoints = None


def delivery_enqueue(*, event: str, payload: Callable[[], dict] | None = None,
                     operation_id: int | None = None) -> WebhookDelivery | None:
    """Write the outbox row for ``event`` (no row, and no query, when no endpoint listens).

    Either ``payload`` (called only when an endpoint listens) or ``operation_id`` (the body is
    rendered at the first attempt). Runs inside the caller's transaction; the send is queued only
    when it commits.
    """
    endpoint_id = endpoint_ids_active().get(event)
    if endpoint_id is None:
        return None
    delivery = WebhookDelivery(
        endpoint_id=endpoint_id, event=event, operation_id=operation_id,
        payload=payload() if payload is not None else None, request_id=uuid.uuid4(),
        next_attempt_at=timezone.now(),
    )
    rows.rows_insert([delivery])  # .save() without composing the INSERT: it runs in every sale
    transaction.on_commit(lambda: _send_queue(delivery.pk))
    return delivery


def delivery_statement(*, event: str, operation_id: int) -> tuple[str, list] | None:
    """``delivery_enqueue`` for an operation's event, as the INSERT (SQL, params) of the outbox row
    for the caller to run in its own transaction (a sale sends it with its last statement: see
    ``loyalty.extensions``); the send is queued when that transaction commits. None (and no query)
    when no endpoint listens. The row is found by its ``request_id``, made here: the caller gets no
    id back."""
    endpoint_id = endpoint_ids_active().get(event)
    if endpoint_id is None:
        return None
    request_id = uuid.uuid4()
    statement = rows.insert_statement(WebhookDelivery(
        endpoint_id=endpoint_id, event=event, operation_id=operation_id, payload=None,
        request_id=request_id, next_attempt_at=timezone.now(),
    ))
    transaction.on_commit(lambda: _send_queue(str(request_id)))
    return statement


def _send_queue(delivery: int | str) -> None:
    """Send, or hand the dispatcher, the committed delivery with this pk or request id (str)."""
    from .tasks import webhook_send

    if settings.CELERY_TASK_ALWAYS_EAGER:  # no broker (the embedded default, tests): send now
        for delivery_id in deliveries_named([delivery]):
            webhook_send.delay(delivery_id)
    else:
        dispatcher.add(delivery)


def deliveries_named(names: list[int | str]) -> list[int]:
    """The pks of deliveries named by pk (int) or request id (str), in that order where both; one
    query for the request ids, none for pks."""
    pks = [name for name in names if isinstance(name, int)]
    request_ids = []
    for name in names:
        if isinstance(name, str):
            try:
                request_ids.append(uuid.UUID(name))
            except ValueError:  # not ours: the others still go (and the sweep sends anything due)
                logger.error("webhooks: %r names no delivery", name)
    if request_ids:
        found = dict(WebhookDelivery.objects.filter(request_id__in=request_ids)
                     .values_list("request_id", "pk"))
        pks += [found[r] for r in request_ids if r in found]
    return pks


class Dispatcher:
    """Hands committed deliveries to Celery in batches, from one background thread per process.

    Publishing a task costs a web process about as much CPU as a fifth of a sale (more when its
    threads are busy); at many sales a second, one ``webhooks_send_many`` message per ``pause``
    carries them all, and the Celery worker fans them out (one ``webhook_send`` each, so a slow
    receiver delays no other). A webhook leaves at most ``pause`` after its commit: a fifth of a
    second, nothing to a receiver, while a twentieth cost a loaded server 3-4 % of its CPU in
    publishing. Nothing is lost if the process dies holding ids: their rows are committed and
    pending, and the once-a-minute sweep (``deliveries_due``) sends them.
    """

    def __init__(self, publish: Callable[[list[int | str]], object], *,
                 pause: float = 0.2) -> None:
        self.publish, self.pause = publish, pause
        self._ids: list[int | str] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid: int | None = None

    def add(self, delivery: int | str) -> None:
        """Queue a committed delivery, named by pk or by request id (str)."""
        with self._lock:
            self._ids.append(delivery)
            if self._pid != os.getpid():  # first use in this process (a forked server worker)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="webhook-dispatcher", daemon=True).start()
        self._wake.set()

    def flush(self) -> None:
        with self._lock:
            ids, self._ids = self._ids, []
        if ids:
            try:
                self.publish(ids)
            except Exception:  # the broker is away: the sweep sends them (rows are committed)
                logger.exception("webhooks: could not queue deliveries %s", ids)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.pause)  # let the sales of the next moment join this batch
            self._wake.clear()
            self.flush()


def _publish_many(ids: list[int | str]) -> None:
    from .tasks import webhooks_send_many

    webhooks_send_many.delay(ids)


dispatcher = Dispatcher(_publish_many)
atexit.register(dispatcher.flush)  # a worker stopping gracefully queues what it holds


def _claim(delivery_id: int, now: datetime) -> bool:
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + LEASE)
    )


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - the owner's configured http(s) URL
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(exc).__name__}: {reason}"[:500]


def delivery_send(*, delivery_id: int, now: datetime | None = None) -> WebhookAttempt | None:
    """Post one due delivery once; None when it is not due, done, or another worker has it."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    rendered = delivery.payload is None
    if rendered:
        delivery.payload = _operation_body(delivery.operation_id)
    stamp = timestamp_format(now)
    request_id = str(delivery.request_id)
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "loyalty-platform-webhooks/1",
        "X-Request-Id": request_id,
        "X-Timestamp": stamp,
        "X-Signature": signature(request_id=request_id, timestamp=stamp,
                                 company_id=PartnerSettings.load().company_id,
                                 key=endpoint.signing_key),
    }
    body = json.dumps(delivery.payload, ensure_ascii=False).encode()
    started = time.monotonic()
    status_code, error = _post(endpoint.url, body, headers) if endpoint.is_active else (
        None, "webhook switched off")
    duration = int((time.monotonic() - started) * 1000)
    attempt = WebhookAttempt.objects.create(
        delivery=delivery, started_at=now, timestamp=stamp, status_code=status_code,
        error=error, duration_ms=duration,
    )
    delivery.attempt_count += 1
    if attempt.ok:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, timezone.now()
    elif delivery.attempt_count >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.next_attempt_at = now + BACKOFF[delivery.attempt_count - 1]
    delivery.save(update_fields=["attempt_count", "status", "delivered_at", "next_attempt_at",
                                 *(["payload"] if rendered else [])])
    if delivery.status == DeliveryStatus.PENDING and not settings.CELERY_TASK_ALWAYS_EAGER:
        from .tasks import webhook_send

        webhook_send.apply_async((delivery.pk,), eta=delivery.next_attempt_at)
    return attempt


def _operation_body(operation_id: int) -> dict:
    """What ``GET /operations/{id}`` answers for the operation (operations are never deleted)."""
    operation = operation_get(operation_id=operation_id)
    if operation is None:  # not a sale or a refund: nothing the API shows
        return {"id": operation_id}
    return operation_out(operation)


def deliveries_due(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Pending deliveries whose time has come (the sweep's safety net for lost queue messages)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )
