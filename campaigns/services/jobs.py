"""The nightly jobs: birthday and win-back certificates, points expiry, pending release, tiers.

Each job takes an "as of" date and is set-based: one or a few SQL statements over all customers,
never a Python loop per customer. Each is idempotent twice over: ``JobRun`` remembers the last day a
job covered, so the next run covers the days after it (a missed night is caught up, up to
``CATCH_UP_DAYS``), and the schema refuses a second certificate per customer and period or a second
ledger operation per customer and day. ``job_run`` returns how many customers a job touched, which
``manage.py runcampaigns`` prints; a second run for the same date touches none.
"""

import calendar
import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty.models import Account, AccountKind, BusinessSettings, Customer, Tier
from loyalty.services.postings import customers_tier_review, pending_release_bulk, points_expire_bulk

from ..models import CampaignSettings, Certificate, CertificateReason, JobRun, MessageKind
from .certificates import certificates_expire
from .notifications import notifications_kick

CATCH_UP_DAYS = 31


def months_before(day: date, months: int) -> date:
    """``day`` minus ``months`` months; a day the month lacks becomes its last day (31 → 30)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def midnight(day: date) -> datetime:
    """The start of ``day`` in the business's time zone."""
    zone = ZoneInfo(BusinessSettings.load().timezone or "UTC")
    return datetime.combine(day, time.min, tzinfo=zone)


def job_days(job: str, as_of: date) -> list[date]:
    """Days a windowed job covers: after the last day it covered up to ``as_of`` (at most
    ``CATCH_UP_DAYS``); just ``as_of`` on a first run or a rerun of a past day."""
    last = JobRun.objects.filter(job=job, as_of__lt=as_of).order_by("-as_of").first()
    start = as_of if last is None else max(last.as_of + timedelta(days=1),
                                          as_of - timedelta(days=CATCH_UP_DAYS - 1))
    return [start + timedelta(days=i) for i in range((as_of - start).days + 1)]


def _code_sql() -> str:
    if connection.vendor == "postgresql":
        return "upper(substr(md5(random()::text || c.id::text), 1, 12))"
    return "upper(hex(randomblob(6)))"


def _at(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def certificates_issue_bulk(*, customers, reason: str, period: str, points, percent,
                            valid_from: date, valid_until: date, message: str) -> int:
    """Issue a certificate to each customer of the ``customers`` queryset that has none for this
    reason and period, and queue a message to those who agreed: two INSERT ... SELECT. The caller
    runs inside a transaction."""
    now = timezone.now()
    ids_sql, ids_params = (
        customers.filter(is_blocked=False)
        .exclude(Exists(Certificate.objects.filter(customer=OuterRef("pk"), reason=reason,
                                                   period=period)))
        .values("pk").query.sql_with_params()
    )
    with connection.cursor() as cursor:
        for attempt in range(3):
            try:
                with transaction.atomic():
                    cursor.execute(f"""
                        INSERT INTO campaigns_certificate (code, points, max_redeem_percent,
                            customer_id, reason, period, status, valid_from, valid_until, price,
                            created_at, issued_by_id, used_at, used_points, operation_id)
                        SELECT {_code_sql()}, %s, %s, c.id, %s, %s, 'active', %s, %s, 0, %s,
                               NULL, NULL, NULL, NULL
                        FROM loyalty_customer c WHERE c.id IN ({ids_sql})""",
                        [points, percent, reason, period, connection.ops.adapt_datefield_value(valid_from),
                         connection.ops.adapt_datefield_value(valid_until), _at(now),
                         *ids_params])
                    issued = cursor.rowcount
                break
            except IntegrityError:  # two random codes collided: draw them all again
                if attempt == 2:
                    raise
        if issued:
            cursor.execute("""
                INSERT INTO campaigns_notification (customer_id, kind, key, certificate_id,
                    broadcast_id, context, status, channel, attempts, next_attempt_at, created_at,
                    sent_at, error)
                SELECT x.customer_id, %s, 'certificate:' || CAST(x.id AS VARCHAR(20)), x.id, NULL,
                       '{}', 'pending', '', 0, %s, %s, NULL, ''
                FROM campaigns_certificate x JOIN loyalty_customer c ON c.id = x.customer_id
                WHERE x.reason = %s AND x.period = %s AND x.created_at = %s
                  AND c.consent_messages""",
                [message, _at(now), _at(now), reason, period, _at(now)])
            if cursor.rowcount:
                notifications_kick()
    return issued


def birthday_issue(*, as_of: date) -> int:
    """Birthday certificates for birthdays ``days_before`` each covered day (29 February birthdays
    count on 28 February in other years); one per customer per birthday year."""
    program = CampaignSettings.load()
    if program.birthday_points <= 0:
        return 0
    issued = 0
    valid_until = as_of + timedelta(days=max(program.birthday_valid_days, 1) - 1)
    for day in job_days("birthday", as_of):
        target = day + timedelta(days=program.birthday_days_before)
        customers = Customer.objects.filter(birthday__month=target.month, birthday__day=target.day)
        if target.month == 2 and target.day == 28 and not calendar.isleap(target.year):
            customers = customers | Customer.objects.filter(birthday__month=2, birthday__day=29)
        issued += certificates_issue_bulk(
            customers=customers, reason=CertificateReason.BIRTHDAY, period=str(target.year),
            points=program.birthday_points, percent=program.birthday_max_redeem_percent,
            valid_from=as_of, valid_until=valid_until, message=MessageKind.BIRTHDAY,
        )
    return issued


def winback_issue(*, as_of: date) -> int:
    """Come back certificates to customers whose last purchase became ``after_days`` old on a
    covered day; the lapsed purchase's date is the period, so again only after a new purchase."""
    program = CampaignSettings.load()
    if program.winback_points <= 0:
        return 0
    issued = 0
    valid_until = as_of + timedelta(days=max(program.winback_valid_days, 1) - 1)
    for day in job_days("winback", as_of):
        lapsed = day - timedelta(days=program.winback_after_days)
        customers = Customer.objects.filter(
            last_purchase_at__gte=midnight(lapsed),
            last_purchase_at__lt=midnight(lapsed + timedelta(days=1)),
        )
        issued += certificates_issue_bulk(
            customers=customers, reason=CertificateReason.WINBACK, period=lapsed.isoformat(),
            points=program.winback_points, percent=100, valid_from=as_of,
            valid_until=valid_until, message=MessageKind.CERTIFICATE,
        )
    return issued


def expiry_run(*, as_of: date) -> int:
    """Expire points ``expiry_months_after_last_purchase`` after the last payment: on the same day
    of the month that many months later (or the month's last day). Queues a reminder
    ``expiry_reminder_days`` before, and marks certificates past their last day expired."""
    months = BusinessSettings.load().expiry_months_after_last_purchase
    certificates_expire(as_of=as_of)
    if not months:
        return 0
    # Points expire on day X when the last payment was on or before X − months.
    touched = points_expire_bulk(
        inactive_before=midnight(months_before(as_of, months) + timedelta(days=1)), day=as_of
    )
    _expiry_reminders(as_of=as_of, months=months)
    return touched


def _expiry_reminders(*, as_of: date, months: int) -> int:
    ahead = CampaignSettings.load().expiry_reminder_days
    if not ahead:
        return 0
    queued = 0
    now = timezone.now()
    basis = Coalesce("last_purchase_at", "joined_at", "created_at")
    for day in job_days("expiry", as_of):
        expires_on = day + timedelta(days=ahead)
        # Last payments whose points expire exactly on ``expires_on``.
        low = midnight(months_before(expires_on - timedelta(days=1), months) + timedelta(days=1))
        high = midnight(months_before(expires_on, months) + timedelta(days=1))
        if low >= high:
            continue
        ids_sql, ids_params = (
            Customer.objects.alias(basis=basis)
            .filter(basis__gte=low, basis__lt=high, consent_messages=True)
            .filter(Exists(Account.objects.filter(customer=OuterRef("pk"),
                                                  kind=AccountKind.AVAILABLE, balance__gt=0)))
            .values("pk").query.sql_with_params()
        )
        key = f":{expires_on.isoformat()}"
        with connection.cursor() as cursor:
            cursor.execute(f"""
                INSERT INTO campaigns_notification (customer_id, kind, key, certificate_id,
                    broadcast_id, context, status, channel, attempts, next_attempt_at, created_at,
                    sent_at, error)
                SELECT c.id, %s, 'expiry:' || CAST(c.id AS VARCHAR(20)) || %s, NULL, NULL, %s,
                       'pending', '', 0, %s, %s, NULL, ''
                FROM loyalty_customer c WHERE c.id IN ({ids_sql}) AND NOT EXISTS (
                    SELECT 1 FROM campaigns_notification n
                    WHERE n.key = 'expiry:' || CAST(c.id AS VARCHAR(20)) || %s)""",
                [MessageKind.EXPIRY_REMINDER, key,
                 json.dumps({"expires_on": expires_on.strftime("%d.%m.%Y")}), _at(now), _at(now),
                 *ids_params, key])
            queued += cursor.rowcount
    if queued:
        notifications_kick()
    return queued


def deferred_run(*, as_of: date) -> int:
    """Release pending points due before ``as_of`` starts (never early; at most a day late)."""
    return pending_release_bulk(due_before=midnight(as_of), day=as_of)


def tiers_run(*, as_of: date) -> int:
    """Recompute every unpinned customer's tier from his total spent (one UPDATE)."""
    return customers_tier_review(tiers=list(Tier.objects.all()))


JOBS: dict[str, Callable[..., int]] = {
    "birthday": birthday_issue,
    "winback": winback_issue,
    # Pending points are released before expiry looks at spendable balances.
    "deferred": deferred_run,
    "expiry": expiry_run,
    "tiers": tiers_run,
}


# Other apps' nightly clean-ups (name → a callable returning the rows it deleted), registered in
# their AppConfig.ready: beat runs each as its own task, and ``runcampaigns`` runs them after the
# jobs, so the embedded default (cron, no beat) needs no other command. They take no date.
HOUSEKEEPING: dict[str, Callable[[], int]] = {}


def housekeeping_register(name: str, runner: Callable[[], int]) -> None:
    HOUSEKEEPING[name] = runner


def job_run(*, job: str, as_of: date | None = None) -> int:
    """Run one nightly job for ``as_of`` (today) and record it; returns customers touched."""
    day = as_of or timezone.localdate()
    runner = JOBS[job]
    if job in ("expiry", "deferred"):
        touched = runner(as_of=day)  # durable ledger services own their transactions
        with transaction.atomic():
            _record(job, day, touched)
        return touched
    with transaction.atomic(durable=True):
        touched = runner(as_of=day)
        _record(job, day, touched)
    return touched


def _record(job: str, day: date, touched: int) -> None:
    run, created = JobRun.objects.get_or_create(job=job, as_of=day, defaults={"touched": touched})
    if not created and touched:
        JobRun.objects.filter(pk=run.pk).update(touched=run.touched + touched)
