from datetime import date, timedelta
from decimal import Decimal

from campaigns.models import Certificate, CertificateReason
from campaigns.services.certificates import certificate_issue


def certificate_make(*, points=Decimal(500), customer=None, max_redeem_percent=Decimal(100),
                     valid_from: date | None = None, valid_days: int = 30,
                     reason=CertificateReason.MANUAL) -> Certificate:
    return certificate_issue(points=Decimal(points), reason=reason, customer=customer,
                             max_redeem_percent=Decimal(max_redeem_percent),
                             valid_from=valid_from, valid_days=valid_days)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def campaign_set(**fields):
    from campaigns.models import CampaignSettings

    settings = CampaignSettings.load()
    for key, value in fields.items():
        setattr(settings, key, value)
    settings.save()
    return settings


def debt_record(customer, amount) -> None:
    """Leave ``customer`` owing ``amount`` points, as a refund does when it takes back a referral
    reward he already spent (``purchases.debit_moves``), through the ledger service."""
    from django.db import transaction

    from loyalty.locks import customer_accounts_lock
    from loyalty.models import AccountKind, EntryKind, Operation, OperationKind
    from loyalty.services.ledger import Move, entries_post, system_account

    with transaction.atomic():
        accounts = customer_accounts_lock(customer_ids=[customer.pk])[customer.pk]
        operation = Operation.objects.create(kind=OperationKind.ADJUSTMENT, customer=customer,
                                             comment="debt left by a refund (test)")
        entries_post(operation=operation, moves=[Move(
            EntryKind.DEBT, accounts.debt, system_account(AccountKind.ISSUED), Decimal(amount))])
