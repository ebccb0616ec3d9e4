"""Issuing and cancelling certificates (no points move until a sale uses one)."""

import secrets
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.exceptions import InvalidAmount
from loyalty.models import Customer
from loyalty.money import HUNDRED, money

from ..exceptions import CertificateNotActive
from ..models import Certificate, CertificateReason, CertificateStatus, MessageKind
from .notifications import notification_queue

# No 0/O or 1/I: a cashier reads the code aloud or types it.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12


def certificate_code_new() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def certificate_issue(
    *,
    points: Decimal,
    reason: str,
    customer: Customer | None = None,
    valid_days: int | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    max_redeem_percent: Decimal = HUNDRED,
    price: Decimal = Decimal(0),
    issued_by=None,
    period: str = "",
) -> Certificate:
    """Issue one certificate (by hand, sold at the till, or a review reward) and queue its message.

    Valid from ``valid_from`` (today) for ``valid_days`` days or until ``valid_until``. With a
    ``period``, a second issue for the same customer, reason and period returns the first one.
    """
    points = money(points)
    if points <= 0 or not (0 < max_redeem_percent <= 100) or price < 0:
        raise InvalidAmount()
    start = valid_from or timezone.localdate()
    until = valid_until or start + timedelta(days=max((valid_days or 1) - 1, 0))
    if until < start:
        raise InvalidAmount()
    for _attempt in range(3):  # a code collision (1 in 32**12) just draws again
        try:
            with transaction.atomic():
                certificate = Certificate.objects.create(
                    code=certificate_code_new(), points=points, reason=reason, customer=customer,
                    valid_from=start, valid_until=until, max_redeem_percent=max_redeem_percent,
                    price=money(price), issued_by=issued_by, period=period,
                    created_at=timezone.now(),
                )
                break
        except IntegrityError:
            if period and customer is not None:
                existing = Certificate.objects.filter(customer=customer, reason=reason,
                                                      period=period).first()
                if existing is not None:
                    return existing
    else:
        raise IntegrityError("could not draw a free certificate code")
    if customer is not None:
        notification_queue(customer=customer, kind=MessageKind.CERTIFICATE,
                           key=f"certificate:{certificate.pk}", certificate=certificate)
    return certificate


def certificate_cancel(*, certificate: Certificate) -> None:
    """Cancel an active certificate (a used one stays used)."""
    changed = Certificate.objects.filter(
        pk=certificate.pk, status=CertificateStatus.ACTIVE
    ).update(status=CertificateStatus.CANCELLED)
    if not changed:
        raise CertificateNotActive(status=certificate.status)


def certificates_expire(*, as_of: date) -> int:
    """Mark active certificates whose last valid day is before ``as_of`` expired (one UPDATE)."""
    return Certificate.objects.filter(
        status=CertificateStatus.ACTIVE, valid_until__lt=as_of
    ).update(status=CertificateStatus.EXPIRED)


__all__ = ["CertificateReason", "certificate_cancel", "certificate_issue", "certificates_expire"]
