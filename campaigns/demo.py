"""Certificates for ``manage.py seeddemo`` (a ``DemoStep``, registered by ``CampaignsConfig``).

At the end of the simulated months the demo business has the certificates a real one would: a
birthday or come-back gift for some registered customers, gift certificates sold at the till
(no owner until someone pays with one), a few issued by hand. About half of those still valid are
then used in a sale, some lapsed unused and are marked expired, the rest wait — so the admin's
certificate list and "revenue by certificates" show something.
"""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from loyalty.exceptions import LoyaltyError
from loyalty.management.commands.seeddemo import DemoContext, DemoStep
from loyalty.services import purchase_create

from .models import CertificateReason
from .services.certificates import certificate_issue, certificates_expire

SHARE = 0.12  # of registered customers who get a certificate
KINDS = [  # (reason, points, share of a bill it may pay, price paid for it)
    (CertificateReason.BIRTHDAY, Decimal(300), Decimal(50), Decimal(0)),
    (CertificateReason.WINBACK, Decimal(150), Decimal(30), Decimal(0)),
    (CertificateReason.SOLD, Decimal(1000), Decimal(100), Decimal(1000)),
    (CertificateReason.MANUAL, Decimal(200), Decimal(50), Decimal(0)),
]


class CertificateDemo(DemoStep):
    def finished(self, context: DemoContext) -> None:
        rng = context.rng
        today = timezone.localdate()
        registered = [c for c in context.customers if c.joined_at is not None]
        if not registered:
            return
        for customer in rng.sample(registered, k=max(1, int(len(registered) * SHARE))):
            reason, points, percent, price = rng.choice(KINDS)
            lapsed = rng.random() < 0.2
            start = today - timedelta(days=rng.randrange(40, 90) if lapsed else rng.randrange(0, 20))
            certificate = certificate_issue(
                points=points, reason=reason, max_redeem_percent=percent, price=price,
                customer=None if reason == CertificateReason.SOLD else customer,
                valid_from=start, valid_days=30,
            )
            if not lapsed and rng.random() < 0.5:
                total = Decimal(int(min(15000, max(500, rng.lognormvariate(7.4, 0.5)))))
                try:
                    purchase_create(customer=customer, branch=rng.choice(context.branches),
                                    cashier=context.cashier, total=total,
                                    certificate_code=certificate.code)
                except LoyaltyError:
                    pass  # a demo bill the rules refuse is simply not made
        certificates_expire(as_of=today)


certificate_demo = CertificateDemo()
