"""Every read of the campaigns app that the admin and reports need."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from loyalty.models import Customer, Operation

from .models import Broadcast, Certificate, CertificateStatus


@dataclass(frozen=True)
class CertificateStats:
    issued: int
    active: int
    used: int
    expired: int
    cancelled: int
    sold_revenue: Decimal  # money paid for sold certificates
    revenue: Decimal  # "revenue by certificates": sales that used one, less their refunds


def certificate_stats(*, since: date | None = None) -> CertificateStats:
    """Issued / active / used / expired certificates and revenue by certificates (two queries)."""
    today = timezone.localdate()
    qs = Certificate.objects.all()
    if since is not None:
        qs = qs.filter(created_at__date__gte=since)
    active = Q(status=CertificateStatus.ACTIVE, valid_until__gte=today)
    expired = Q(status=CertificateStatus.EXPIRED) | Q(status=CertificateStatus.ACTIVE,
                                                      valid_until__lt=today)
    row = qs.aggregate(
        issued=Count("pk"), active=Count("pk", filter=active), expired=Count("pk", filter=expired),
        used=Count("pk", filter=Q(status=CertificateStatus.USED)),
        cancelled=Count("pk", filter=Q(status=CertificateStatus.CANCELLED)),
        sold=Sum("price"),
    )
    revenue = Operation.objects.filter(certificate__in=qs).aggregate(
        s=Sum(F("total") - F("refunded_total"))
    )["s"]
    return CertificateStats(
        issued=row["issued"], active=row["active"], used=row["used"], expired=row["expired"],
        cancelled=row["cancelled"], sold_revenue=row["sold"] or Decimal(0),
        revenue=Decimal(revenue or 0).quantize(Decimal("0.01")),
    )


def certificate_find(*, code: str) -> Certificate | None:
    """The certificate with this code (any case), with its owner: for the till's and the Partner
    API's customer search (a code found here is ``type: CERTIFICATE``)."""
    return Certificate.objects.select_related("customer").filter(code=code.strip().upper()).first()


def broadcast_segment(*, broadcast: Broadcast) -> QuerySet:
    """Customers a broadcast goes to: its filters, and only those who agreed to messages."""
    qs = Customer.objects.filter(consent_messages=True, is_blocked=False)
    if broadcast.tier_id:
        qs = qs.filter(tier_id=broadcast.tier_id)
    if broadcast.tag_id:
        qs = qs.filter(tags=broadcast.tag_id)
    if broadcast.inactive_days:
        since = timezone.now() - timezone.timedelta(days=broadcast.inactive_days)
        qs = qs.filter(Q(last_purchase_at__lt=since) | Q(last_purchase_at__isnull=True))
    if broadcast.birthday_month:
        qs = qs.filter(birthday__month=broadcast.birthday_month)
    return qs
