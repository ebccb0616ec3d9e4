"""Certificates in a sale: the only place a certificate's points enter the ledger.

A certificate's points are credited and spent inside the one purchase that presents it: the sale
gets a ``CAMPAIGN`` entry issued → available for the points the certificate may pay (at most its
``max_redeem_percent`` of the part of the bill payable with points), and its redemption entry takes
them with the customer's own points. The certificate is marked used in the same transaction, with
a conditional UPDATE that only an active certificate passes, so a code can never pay twice.
"""

from datetime import date
from decimal import Decimal

from django.utils import timezone

from campaigns.exceptions import (
    NOT_VALID_YET,
    CertificateNotActive,
    CertificateNotFound,
    CertificateNotYours,
)
from campaigns.models import Certificate, CertificateStatus

from ..models import Customer, Operation
from ..money import ZERO


def certificate_status_now(certificate: Certificate, *, today: date) -> str:
    """Stored status, except that an active certificate outside its dates reads as expired."""
    if certificate.status == CertificateStatus.ACTIVE and certificate.valid_until < today:
        return CertificateStatus.EXPIRED
    return certificate.status


def certificate_check(*, code: str, customer: Customer | None, lock: bool) -> Certificate:
    """The active certificate with ``code`` that ``customer`` may present, or a refusal.

    ``lock=True`` takes the certificate's row lock (the caller is inside the sale's transaction and
    already holds the customer's account locks: accounts first, then the certificate, always).
    """
    qs = Certificate.objects.filter(code=code.strip().upper())
    if lock:
        qs = qs.select_for_update(no_key=True)
    certificate = qs.first()
    if certificate is None:
        raise CertificateNotFound()
    today = timezone.localdate()
    status = certificate_status_now(certificate, today=today)
    if status == CertificateStatus.ACTIVE and certificate.valid_from > today:
        status = NOT_VALID_YET
    if status != CertificateStatus.ACTIVE:
        raise CertificateNotActive(status=status)
    if certificate.customer_id is not None and (
        customer is None or certificate.customer_id != customer.pk
    ):
        raise CertificateNotYours()
    return certificate


def certificate_mark_used(*, certificate: Certificate, operation: Operation,
                          points: Decimal) -> None:
    """Mark the certificate used by ``operation``. The caller holds its row lock (PostgreSQL); the
    condition on status makes a second use impossible on SQLite too."""
    changed = Certificate.objects.filter(
        pk=certificate.pk, status=CertificateStatus.ACTIVE
    ).update(
        status=CertificateStatus.USED, used_at=operation.created_at, used_points=points,
        operation=operation, customer=operation.customer,
    )
    if changed != 1:
        raise CertificateNotActive(status=CertificateStatus.USED)


def certificate_points_of(*, operation_id: int) -> Decimal:
    """Points a certificate paid in this sale (0 when none was used)."""
    points = (
        Certificate.objects.filter(operation_id=operation_id)
        .values_list("used_points", flat=True).first()
    )
    return points if points is not None else ZERO

