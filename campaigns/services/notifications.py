"""The outbox: messages written with their cause, sent after commit, retried when a send fails.

``notification_queue`` (one message) and the nightly jobs' INSERT ... SELECT (many) write rows only
for customers who agreed to messages. ``notification_queue_transactional`` writes a message the
recipient asked for himself (a one-time code) to a bare phone number: no customer, no consent.
``notifications_kick`` asks, once the transaction commits, for the
``campaigns.tasks.notifications_send`` task; that task (also run every few minutes by beat, which is
what retries a failure) sends what is due through ``campaigns.channels``.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.template import Context, Engine
from django.utils import timezone, translation

from loyalty.models import AccountKind, BusinessSettings, Customer
from loyalty.selectors import customer_balances

from ..channels import ChannelError, PhoneRecipient, channel_for
from ..models import (
    SECRET_KINDS,
    Certificate,
    MessageKind,
    Notification,
    NotificationStatus,
    NotificationTemplate,
)

MAX_ATTEMPTS = 5
BATCH = 500
_engine = Engine(autoescape=False)


def notifications_kick() -> None:
    """Send what is due once the current transaction commits (nothing leaves before commit)."""
    from ..tasks import notifications_send

    transaction.on_commit(notifications_send.delay)


def notification_queue(*, customer: Customer, kind: str, key: str,
                       certificate: Certificate | None = None, context: dict | None = None,
                       broadcast=None) -> Notification | None:
    """Write one message for ``customer`` (None when he did not agree to messages or ``key`` was
    already written: a cause writes its message once)."""
    if not customer.consent_messages:
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                customer=customer, kind=kind, key=key, certificate=certificate,
                broadcast=broadcast, context=context or {}, created_at=now, next_attempt_at=now,
            )
    except IntegrityError:
        return None
    notifications_kick()
    return notification


def notification_queue_transactional(*, phone: str, kind: str, key: str,
                                     context: dict | None = None,
                                     expires_at: datetime | None = None,
                                     language: str = "") -> Notification:
    """Write one transactional message to ``phone`` (E.164), e.g. a one-time code the visitor
    asked for: no customer is needed and marketing consent does not apply. It is written in
    ``language`` (the visitor's page's: ``ru``, ``en``, or a variant such as ``en-us``); empty or
    unknown: the business's language.

    Call it inside the transaction of its cause: the row commits (or not) with it, and the send is
    asked for on commit, by the same task and retries as every message. Only channels that reach a
    bare number are used (SMS, or the console in development). A message not sent by
    ``expires_at`` is dropped, not sent late; the data of a ``SECRET_KINDS`` message is wiped from
    the row once it is sent, dropped or given up. ``key`` must be new (the cause makes it unique):
    a repeated key raises ``IntegrityError``.
    """
    now = timezone.now()
    notification = Notification.objects.create(
        phone=phone, kind=kind, key=key, context=context or {}, created_at=now,
        next_attempt_at=now, expires_at=expires_at, language=_language_known(language) or "",
    )
    notifications_kick()
    return notification


def _language_known(language: str) -> str | None:
    """``language`` as one of ``settings.LANGUAGES`` (``en-us`` is ``en``), or None."""
    try:
        return translation.get_supported_language_variant(language) if language else None
    except LookupError:
        return None


def _template(kind: str, language: str, cache: dict) -> NotificationTemplate | None:
    if (kind, language) not in cache:
        cache[kind, language] = (
            NotificationTemplate.objects.filter(kind=kind, language=language).first()
            or NotificationTemplate.objects.filter(kind=kind).first()
        )
    return cache[kind, language]


def _render(notification: Notification, language: str, business: str,
            cache: dict) -> tuple[str, str]:
    template = _template(notification.kind, language, cache)
    customer = notification.customer
    name = customer.name if customer is not None else ""
    data = {"name": name or "", "business": business, **notification.context}
    certificate = notification.certificate
    if certificate is not None:
        data.update(points=certificate.points, code=certificate.code,
                    valid_until=certificate.valid_until.strftime("%d.%m.%Y"))
    if notification.broadcast_id is not None:
        data.setdefault("text", notification.broadcast.text)
        data.setdefault("subject", notification.broadcast.subject)
    if notification.kind == MessageKind.EXPIRY_REMINDER:
        data.setdefault("balance", customer_balances(customer=customer).get(AccountKind.AVAILABLE))
    if template is None:  # nobody wrote one: send the bare facts rather than nothing
        return str(MessageKind(notification.kind).label), " ".join(
            f"{k}: {v}" for k, v in data.items() if v != ""
        )
    with translation.override(language):
        subject = _engine.from_string(template.subject).render(Context(data)).strip()
        body = _engine.from_string(template.body).render(Context(data)).strip()
    return subject, body


def notifications_send(*, limit: int = BATCH, batches: int = 20) -> int:
    """Send due messages, ``limit`` per transaction, up to ``batches`` transactions; returns how
    many were sent.

    Each row is claimed under ``SELECT ... FOR UPDATE SKIP LOCKED`` so that two workers never send
    the same message; a failure is retried later with a growing delay, up to ``MAX_ATTEMPTS``.
    """
    program = BusinessSettings.load()
    sent = 0
    templates: dict = {}  # one query per kind of message
    for _batch in range(batches):
        now = timezone.now()
        with transaction.atomic():
            due = list(
                Notification.objects.select_related("customer", "certificate", "broadcast")
                .filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at", "pk")
                .select_for_update(skip_locked=True, of=("self",))[:limit]
            )
            for notification in due:
                sent += _send_one(notification, program, templates)
        if len(due) < limit:
            break
    return sent


def _forget_secret(notification: Notification) -> list[str]:
    """A one-time code stays in the outbox only until its message is final (sent, dropped, given
    up): the check that sent it keeps only its hash. Returns the fields to save."""
    if notification.kind not in SECRET_KINDS:
        return []
    notification.context = {}
    return ["context"]


def _skip(notification: Notification, error: str) -> int:
    notification.status = NotificationStatus.SKIPPED
    notification.error = error
    notification.save(update_fields=["status", "error", "attempts",
                                     *_forget_secret(notification)])
    return 0


def _send_one(notification: Notification, program: BusinessSettings, templates: dict) -> int:
    customer = notification.customer
    notification.attempts += 1
    if notification.expires_at is not None and notification.expires_at <= timezone.now():
        return _skip(notification, "expired before it could be sent")
    if customer is None:  # transactional, to a bare number: asked for, so no consent applies
        recipient = PhoneRecipient(phone=notification.phone)
    elif not customer.consent_messages:
        return _skip(notification, "no consent")
    else:
        recipient = customer
    channel = channel_for(recipient)
    if channel is None:
        return _skip(notification, "no channel reaches this customer")
    # A visitor's code speaks his page's language; everything else the business's.
    language = (_language_known(notification.language) or _language_known(program.language)
                or "ru")
    subject, body = _render(notification, language, program.name, templates)
    notification.channel = channel.name
    try:
        channel.send(customer=recipient, subject=subject, body=body)
    except ChannelError as exc:
        notification.error = str(exc)[:500]
        fields = ["status", "error", "attempts", "next_attempt_at", "channel"]
        if notification.attempts >= MAX_ATTEMPTS:
            notification.status = NotificationStatus.FAILED
            fields += _forget_secret(notification)
        else:
            notification.next_attempt_at = timezone.now() + timedelta(
                minutes=5 * 2 ** (notification.attempts - 1)
            )
        notification.save(update_fields=fields)
        return 0
    notification.status = NotificationStatus.SENT
    notification.sent_at = timezone.now()
    notification.error = ""
    notification.save(update_fields=["status", "sent_at", "error", "attempts", "channel",
                                     *_forget_secret(notification)])
    return 1
