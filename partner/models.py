"""Partner API: keys, the company id integrations authenticate with, webhooks and their outbox.

**Keys.** An integration (a till, a 1C module, a web shop) authenticates with HTTP Basic
``companyId:apiKey``. The key is shown once when created; only its SHA-256 is stored (a random
256-bit key needs no slow hash: nothing can be guessed from its digest). A key belongs to a branch:
every sale made with it is that branch's. Revoking sets ``revoked_at``; the key stops working at
once in the process that revoked it and within ``PROGRAM_CACHE_SECONDS`` in the others (active keys
are cached per process).

**Company id.** ``PartnerSettings`` (one row) holds the number integrations send as ``companyId``.

**Webhooks.** ``WebhookEndpoint`` is the owner's URL for one event. When an operation or a
registration commits, a ``WebhookDelivery`` row (the outbox) is written in the same transaction and
a Celery task is queued on commit; the task posts it and records each try as a ``WebhookAttempt``.
An operation's row names the operation; its body is rendered at the first attempt, as ``GET
/operations/{id}`` shows it, and kept. A failed delivery is tried again with growing pauses for
several hours, so a receiver that is down for an hour loses nothing.
"""

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty.models import Branch


def _company_id_new() -> int:
    return 100_000_000_000 + secrets.randbelow(900_000_000_000)


class PartnerSettings(models.Model):
    """One row (pk=1): the company id integrations send, created on first use."""

    company_id = models.PositiveBigIntegerField(_("company id"), default=_company_id_new, unique=True)

    class Meta:
        verbose_name = _("Partner API settings")
        verbose_name_plural = _("Partner API settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="partner_settings_singleton")]

    def __str__(self) -> str:
        return str(self.company_id)

    @classmethod
    def load(cls) -> "PartnerSettings":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


def api_key_digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    """One integration's key. Only the digest is stored; the key itself is shown once."""

    name = models.CharField(_("name"), max_length=200, help_text=_("Which integration uses it."))
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="api_keys", verbose_name=_("branch"),
        help_text=_("Sales made with this key belong to this branch."),
    )
    prefix = models.CharField(_("key starts with"), max_length=8, editable=False)
    digest = models.CharField(_("key digest"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class WebhookEvent(models.TextChoices):
    OPERATION = "operation", _("new operation")
    PARTICIPANT = "participant", _("new customer")
    GOODS_ORDER = "goods-order", _("new order")


class WebhookEndpoint(models.Model):
    """The owner's receiver for one event (one URL per event)."""

    event = models.CharField(_("event"), max_length=20, choices=WebhookEvent.choices, unique=True)
    url = models.URLField(_("URL"), max_length=500)
    signing_key = models.CharField(
        _("signing key"), max_length=200, default=secrets.token_urlsafe,
        help_text=_("X-Signature = md5(X-Request-Id + X-Timestamp + company id + this key). "
                    "Paste an integration's API key here if its receiver checks signatures "
                    "with it."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["event"]

    def __str__(self) -> str:
        return f"{self.get_event_display()}: {self.url}"

    def clean(self) -> None:
        # The deliveries are HTTP POSTs: an ftp:// (or any other) address could never receive one.
        if self.url and not self.url.lower().startswith(("http://", "https://")):
            raise ValidationError({"url": _("A webhook's address starts with https:// (or http://).")})


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("waiting")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("gave up")


class WebhookDelivery(models.Model):
    """The outbox: one event for one endpoint, written in the transaction of what it reports."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook")
    )
    event = models.CharField(_("event"), max_length=20, choices=WebhookEvent.choices)
    # An operation's body is rendered at the first attempt from the committed rows, exactly as
    # GET /operations/{id} shows it, and kept here from then on; other events carry their body.
    operation = models.ForeignKey(
        "loyalty.Operation", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("operation"), db_index=False,  # never looked up by operation
    )
    payload = models.JSONField(_("body"), null=True, blank=True)
    request_id = models.UUIDField(_("X-Request-Id"), unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempt_count = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(payload__isnull=False) | Q(operation__isnull=False),
                name="webhook_delivery_has_body",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} #{self.pk} ({self.get_status_display()})"


class WebhookAttempt(models.Model):
    """One try to post a delivery: what the receiver answered, or why it could not be reached."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("delivery")
    )
    started_at = models.DateTimeField(_("time"))
    timestamp = models.CharField(_("X-Timestamp"), max_length=40)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration, ms"), default=0)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
