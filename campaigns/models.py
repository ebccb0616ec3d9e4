"""Design overview: certificates, campaigns, scheduled jobs and the notification outbox.

**Certificates.** A ``Certificate`` is a one-time code worth ``points``. Issuing one moves no points:
its points are credited and spent inside the one purchase that uses it (``loyalty.services``), capped
at ``max_redeem_percent`` of the bill, and the certificate is marked used in that same transaction.
A campaign certificate carries ``period`` (the birthday's year, the lapsed purchase's date, the
review platform): the schema allows one certificate per customer, reason and period, so a job that
runs twice, or catches up a missed day, issues nothing twice.

**Campaigns.** ``CampaignSettings`` (one row) holds the birthday, win-back and review gifts; points
expiry and the accrual delay live in ``loyalty.BusinessSettings`` (``points:`` in the program file).
``JobRun`` remembers the last date each nightly job ran for, so a run after downtime covers every
missed day.

**Notifications.** A ``Notification`` row (the outbox) is written in the same transaction as its
cause and sent after commit by a task; a failed send is retried with a growing delay. Text comes from
``NotificationTemplate`` (one per message and language), rendered when sent. Customers who did not
agree to messages get no row at all.

A *transactional* message (a security code the visitor asked for) goes to a bare ``phone`` instead
of a customer: no customer and no marketing consent are needed. Its ``expires_at`` stops retries
once it is worthless, and the data of a ``SECRET_KINDS`` message (the code) is wiped from the row as
soon as the message is sent, given up or expired. It is written in the language of the page the
visitor asked from (``language``); every other message in the business's language.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty.models import MONEY, PERCENT, Customer, Operation, Tag, Tier
from loyalty.money import ZERO


class CampaignSettings(models.Model):
    """The campaigns' settings: one row (pk=1). A campaign with 0 points is off."""

    birthday_points = models.DecimalField(_("birthday gift, points"), default=ZERO, **MONEY)
    birthday_days_before = models.PositiveSmallIntegerField(_("days before the birthday"), default=0)
    birthday_valid_days = models.PositiveSmallIntegerField(_("birthday certificate valid, days"),
                                                           default=14)
    birthday_max_redeem_percent = models.DecimalField(
        _("birthday certificate: max share of a bill, %"), default=Decimal(100), **PERCENT
    )
    winback_points = models.DecimalField(_("come back gift, points"), default=ZERO, **MONEY)
    winback_after_days = models.PositiveSmallIntegerField(_("days after the last purchase"),
                                                          default=60)
    winback_valid_days = models.PositiveSmallIntegerField(_("come back certificate valid, days"),
                                                          default=7)
    review_points = models.DecimalField(_("review reward, points"), default=ZERO, **MONEY)
    review_as_certificate = models.BooleanField(_("review reward as a certificate"), default=False)
    review_valid_days = models.PositiveSmallIntegerField(_("review certificate valid, days"),
                                                        default=30)
    review_platforms = models.JSONField(
        _("review platforms"), default=list, blank=True,
        help_text=_('Maps services a review counts on, e.g. ["2GIS", "Yandex Maps"].'),
    )
    expiry_reminder_days = models.PositiveSmallIntegerField(
        _("remind of expiring points, days before"), default=7
    )

    class Meta:
        verbose_name = _("campaign settings")
        verbose_name_plural = _("campaign settings")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="campaign_settings_singleton"),
            models.CheckConstraint(
                condition=Q(birthday_points__gte=0, winback_points__gte=0, review_points__gte=0),
                name="campaign_points_not_negative",
                violation_error_message=_("Campaign points cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(birthday_max_redeem_percent__gte=0, birthday_max_redeem_percent__lte=100),
                name="campaign_birthday_percent_range",
                violation_error_message=_("The share of a bill the birthday points may pay must be "
                                          "between 0 and 100 percent."),
            ),
        ]

    def __str__(self) -> str:
        return str(_("Campaign settings"))

    @classmethod
    def load(cls) -> "CampaignSettings":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class CertificateReason(models.TextChoices):
    BIRTHDAY = "birthday", _("birthday gift")
    WINBACK = "winback", _("come back gift")
    REVIEW = "review", _("review reward")
    MANUAL = "manual", _("issued by hand")
    SOLD = "sold", _("sold")


class CertificateStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    USED = "used", _("used")
    EXPIRED = "expired", _("expired")
    CANCELLED = "cancelled", _("cancelled")


class Certificate(models.Model):
    """A one-time code worth ``points``; see the module docstring."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    points = models.DecimalField(_("points"), **MONEY)
    max_redeem_percent = models.DecimalField(
        _("max share of a bill, %"), default=Decimal(100), **PERCENT
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="certificates",
        verbose_name=_("customer"), help_text=_("Empty: a gift certificate anyone may present."),
    )
    reason = models.CharField(_("reason"), max_length=16, choices=CertificateReason.choices)
    period = models.CharField(
        _("campaign period"), max_length=40, blank=True,
        help_text=_("Birthday year, date of the lapsed purchase or review platform."),
    )
    status = models.CharField(_("status"), max_length=16, choices=CertificateStatus.choices,
                              default=CertificateStatus.ACTIVE)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    price = models.DecimalField(_("sold for"), default=ZERO, **MONEY,
                                help_text=_("Money paid for a sold certificate."))
    created_at = models.DateTimeField(_("issued"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("issued by"),
    )
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    used_points = models.DecimalField(_("points used"), null=True, blank=True, **MONEY)
    operation = models.OneToOneField(
        Operation, on_delete=models.PROTECT, null=True, blank=True, related_name="certificate",
        verbose_name=_("sale"),
    )

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "valid_until"], name="certificate_status_until")]
        constraints = [
            # A campaign gives one certificate per customer and period, whatever reruns happen.
            models.UniqueConstraint(
                fields=["customer", "reason", "period"], condition=~Q(period=""),
                name="certificate_once_per_period",
            ),
            models.CheckConstraint(condition=Q(points__gt=0), name="certificate_points_positive",
                violation_error_message=_("A certificate must be worth more than 0 points.")),
            models.CheckConstraint(condition=Q(price__gte=0), name="certificate_price_not_negative",
                violation_error_message=_("A certificate's price cannot be negative.")),
            models.CheckConstraint(
                condition=Q(max_redeem_percent__gt=0, max_redeem_percent__lte=100),
                name="certificate_percent_range",
                violation_error_message=_("The share of a bill a certificate may pay must be more "
                                          "than 0 and at most 100 percent."),
            ),
            models.CheckConstraint(condition=Q(valid_until__gte=models.F("valid_from")),
                                   name="certificate_valid_range",
                violation_error_message=_("A certificate cannot end before it starts.")),
            models.CheckConstraint(
                condition=Q(status="used", operation__isnull=False, used_points__isnull=False)
                | (~Q(status="used") & Q(operation__isnull=True)),
                name="certificate_used_iff_operation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.points})"


class ReviewPlatform(models.TextChoices):
    """Suggested names; any name listed in the campaign settings is accepted."""

    TWOGIS = "2GIS", "2GIS"
    YANDEX = "Yandex Maps", _("Yandex Maps")
    GOOGLE = "Google Maps", _("Google Maps")


class ReviewMark(models.Model):
    """Staff's mark that a customer left a review: rewarded once per customer and platform."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="reviews",
                                 verbose_name=_("customer"))
    platform = models.CharField(_("platform"), max_length=60)
    link = models.URLField(_("link to the review"), max_length=500, blank=True)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("marked by"),
    )
    created_at = models.DateTimeField(_("marked"), auto_now_add=True)
    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("points credited"))
    certificate = models.ForeignKey(Certificate, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("certificate"))

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "platform"], name="review_once_per_platform"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} — {self.platform}"


class JobRun(models.Model):
    """A nightly job that ran for ``as_of``: the next run catches up from the day after."""

    job = models.CharField(_("job"), max_length=20)
    as_of = models.DateField(_("for date"))
    finished_at = models.DateTimeField(_("finished"), auto_now_add=True)
    touched = models.PositiveIntegerField(_("customers touched"), default=0)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-as_of", "job"]
        constraints = [models.UniqueConstraint(fields=["job", "as_of"], name="job_run_once_per_day")]

    def __str__(self) -> str:
        return f"{self.job} {self.as_of}: {self.touched}"


class MessageKind(models.TextChoices):
    BIRTHDAY = "birthday", _("birthday greeting")
    CERTIFICATE = "certificate", _("certificate issued")
    EXPIRY_REMINDER = "expiry_reminder", _("points about to expire")
    REVIEW_THANKS = "review_thanks", _("thanks for the review")
    ORDER_STATUS = "order_status", _("order status")
    BROADCAST = "broadcast", _("message to a segment")
    PHONE_CODE = "phone_code", _("phone confirmation code")


# Messages whose data is a secret (a one-time code): kept in the outbox only until sent.
SECRET_KINDS = frozenset({MessageKind.PHONE_CODE})


class NotificationTemplate(models.Model):
    """Text of one kind of message in one language; ``{{ placeholders }}`` filled when sent."""

    kind = models.CharField(_("message"), max_length=20, choices=MessageKind.choices)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(
        _("text"),
        help_text=_("Placeholders: {{ name }}, {{ business }}, {{ points }}, {{ code }}, "
                    "{{ valid_until }}, {{ balance }}, {{ expires_on }}, {{ text }}, "
                    "{{ minutes }}."),
    )

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["kind", "language"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "language"], name="template_one_per_language"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.language})"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be sent")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("not sent")


class Broadcast(models.Model):
    """A message to a segment of customers (tier, tag, inactive N days, birthday month)."""

    subject = models.CharField(_("subject"), max_length=200)
    text = models.TextField(_("text"))
    tier = models.ForeignKey(Tier, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+", verbose_name=_("tier"))
    tag = models.ForeignKey(Tag, on_delete=models.SET_NULL, null=True, blank=True,
                            related_name="+", verbose_name=_("tag"))
    inactive_days = models.PositiveIntegerField(
        _("no purchase for, days"), null=True, blank=True,
    )
    birthday_month = models.PositiveSmallIntegerField(
        _("birthday month"), null=True, blank=True,
        choices=[(m, m) for m in range(1, 13)],
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)

    class Meta:
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.subject


class Notification(models.Model):
    """One message to one customer, or to a bare phone number for a transactional message (the
    outbox). ``key`` makes a cause write it at most once."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notifications",
                                 null=True, blank=True, verbose_name=_("customer"))
    # db_default: the nightly jobs and broadcasts write rows with INSERT ... SELECT (no phone).
    phone = models.CharField(
        _("phone"), max_length=20, blank=True, default="", db_default="",
        help_text=_("For a transactional message to someone who is not a customer yet."),
    )
    kind = models.CharField(_("message"), max_length=20, choices=MessageKind.choices)
    key = models.CharField(_("key"), max_length=120, unique=True)
    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, null=True, blank=True,
                                    related_name="+", verbose_name=_("certificate"))
    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="notifications", verbose_name=_("broadcast"))
    context = models.JSONField(_("data"), default=dict, blank=True)
    # db_default: the nightly jobs and broadcasts write rows with INSERT ... SELECT (no language).
    language = models.CharField(
        _("language"), max_length=8, blank=True, default="", db_default="",
        help_text=_("Empty: the business's language. A visitor's code goes in his page's language."),
    )
    status = models.CharField(_("status"), max_length=10, choices=NotificationStatus.choices,
                              default=NotificationStatus.PENDING)
    channel = models.CharField(_("channel"), max_length=20, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    expires_at = models.DateTimeField(
        _("worthless after"), null=True, blank=True,
        help_text=_("Not sent after this moment (a one-time code that has expired)."),
    )
    created_at = models.DateTimeField(_("created"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"),
                         name="notification_due"),
        ]
        constraints = [
            # Exactly one recipient: a customer (phone empty) or a bare phone number.
            models.CheckConstraint(
                condition=(Q(customer__isnull=False, phone="")
                           | (Q(customer__isnull=True) & ~Q(phone=""))),
                name="notification_one_recipient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.customer_id or self.phone}"
