"""The demo business: a migrated base, members, a season of sales; the ledger stays exact."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from loyalty.ledger_check import ledger_verify
from loyalty.models import Customer, ImportBatch, ImportState, Operation

pytestmark = pytest.mark.django_db


def test_seeddemo_builds_a_business_through_the_services(tiers, branch):
    call_command("seeddemo", customers=45, months=4, seed=3, stdout=io.StringIO())
    assert Customer.objects.count() == 45
    batch = ImportBatch.objects.get()
    assert batch.state == ImportState.DONE and batch.imported == 15
    assert Customer.objects.filter(import_batch=batch).count() == 15
    assert Customer.objects.filter(joined_at__isnull=False).count() >= 20
    sales = Operation.objects.filter(kind="purchase")
    assert sales.count() > 45 and sales.filter(points__gt=0).exists()
    months = {d.month for d in sales.values_list("created_at", flat=True)}
    assert len(months) >= 3  # spread over the period, not all "now"
    assert Operation.objects.filter(kind="refund").exists()
    assert not Operation.objects.filter(created_at__gt=timezone.now()).exists()  # none ahead
    # a woman's given name goes with a woman's surname
    from loyalty.management.commands.seeddemo import FEMALE

    for name in Customer.objects.exclude(name="").values_list("name", flat=True):
        words = name.split()
        given = next((w for w in words if w in FEMALE), None)
        surname = next(w for w in words if w != given and w[0].isupper()) if given else None
        assert given is None or surname.endswith("а"), name
    assert ledger_verify().ok


def test_seeddemo_issues_certificates_and_uses_some(tiers, branch):
    from campaigns.models import Certificate, CertificateStatus
    from loyalty.services.certificates import certificate_points_of

    call_command("seeddemo", customers=120, months=3, seed=5, stdout=io.StringIO())
    certificates = Certificate.objects.all()
    assert certificates.count() >= 5
    assert len({c.reason for c in certificates}) >= 2  # gifts, sold ones, by hand
    assert certificates.filter(status=CertificateStatus.EXPIRED).exists()  # some lapsed unused
    used = certificates.filter(status=CertificateStatus.USED)
    assert used.exists()
    for certificate in used:  # each paid part of a real sale, through the ledger
        assert certificate_points_of(operation_id=certificate.operation_id) > 0
    assert ledger_verify().ok


def test_seeddemo_if_empty_leaves_existing_customers_alone(tiers, branch):
    call_command("seeddemo", customers=6, months=1, stdout=io.StringIO())
    call_command("seeddemo", customers=6, if_empty=True, stdout=io.StringIO())
    assert Customer.objects.count() == 6
