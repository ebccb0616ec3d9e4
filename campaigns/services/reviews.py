"""Review rewards: staff mark "left a review" (at the till or in Admin) once per platform."""


from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.models import Customer
from loyalty.services.campaigns import campaign_points_credit

from ..exceptions import ReviewAlreadyRewarded, ReviewPlatformUnknown
from ..models import CampaignSettings, CertificateReason, MessageKind, ReviewMark
from .certificates import certificate_issue
from .notifications import notification_queue


def review_mark(*, customer: Customer, platform: str, link: str = "", marked_by=None) -> ReviewMark:
    """Record a review and reward it as the campaign says: points, or a certificate.

    Raises ``ReviewPlatformUnknown`` when the campaign is off or does not list the platform and
    ``ReviewAlreadyRewarded`` on a second mark for the same customer and platform. Must be called
    outside a transaction (the points credit owns its own).
    """
    program = CampaignSettings.load()
    platforms = {p.casefold(): p for p in program.review_platforms}
    name = platforms.get(platform.strip().casefold())
    if program.review_points <= 0 or name is None:
        raise ReviewPlatformUnknown()
    if ReviewMark.objects.filter(customer=customer, platform=name).exists():
        raise ReviewAlreadyRewarded(platform=name)
    # The reward comes first and is itself once per customer and platform (the certificate's
    # period, the credit's request id), so a crash between the two and a second mark pays once.
    certificate = operation = None
    if program.review_as_certificate:
        certificate = certificate_issue(
            points=program.review_points, reason=CertificateReason.REVIEW, customer=customer,
            valid_from=timezone.localdate(), valid_days=program.review_valid_days,
            issued_by=marked_by, period=name,
        )
    else:
        operation = campaign_points_credit(
            customer=customer, points=program.review_points,
            request_id=f"review:{customer.pk}:{name}"[:128], comment=f"review: {name}",
        )
    try:
        with transaction.atomic():
            mark = ReviewMark.objects.create(customer=customer, platform=name, link=link,
                                             marked_by=marked_by, certificate=certificate,
                                             operation=operation)
    except IntegrityError:
        raise ReviewAlreadyRewarded(platform=name) from None
    if operation is not None:
        notification_queue(customer=customer, kind=MessageKind.REVIEW_THANKS,
                           key=f"review:{mark.pk}", context={"points": str(program.review_points)})
    return mark


__all__ = ["review_mark"]
