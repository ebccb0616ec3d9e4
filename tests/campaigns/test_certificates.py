from datetime import date
from decimal import Decimal as D

import pytest
from freezegun import freeze_time

from campaigns.exceptions import (
    CertificateNotActive,
    CertificateNotApplicable,
    CertificateNotFound,
    CertificateNotYours,
)
from campaigns.models import Certificate, CertificateStatus
from campaigns.selectors import certificate_stats
from campaigns.services.certificates import certificate_cancel, certificates_expire
from loyalty.ledger_check import ledger_verify
from loyalty.models import Entry, EntryKind
from loyalty.selectors import customer_balances
from loyalty.services import points_adjust, purchase_calculate, purchase_create, purchase_refund
from tests.campaigns.factories import certificate_make
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def balance(customer):
    return customer_balances(customer=customer)["available"]


def test_a_certificate_is_capped_at_its_share_of_the_bill(tiers, branch):
    # given Elita's birthday certificate: 1 000 points, at most 20% of a bill
    customer = customer_create()
    certificate = certificate_make(points=1000, customer=customer, max_redeem_percent=20)
    # when the customer buys for 3 000
    receipt = purchase_create(customer=customer, branch=branch, total=3000,
                              certificate_code=certificate.code)
    # then the certificate pays 600 (20%), the customer pays 2 400 and earns 5% of that
    assert receipt.certificate_points == D("600.00")
    assert receipt.points == D("0.00")
    assert receipt.cash == D("2400.00")
    assert receipt.cashback == D("120.00")
    # and the rest of the certificate is gone, not kept as points
    assert balance(customer) == D("120.00")
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.USED
    assert certificate.used_points == D("600.00")
    assert certificate.operation_id == receipt.operation_id
    assert ledger_verify().ok


def test_certificate_pays_up_to_its_nominal_and_own_points_pay_the_rest_within_the_tier_cap(
    tiers, branch
):
    # given 150-point win-back certificate (no share limit) and 1 000 own points, Base tier cap 30%
    customer = customer_create()
    points_adjust(customer=customer, amount=1000, reason="gift")
    certificate = certificate_make(points=150, customer=customer)
    # when a 1 000 bill uses both, as many own points as allowed
    calc = purchase_calculate(customer=customer, total=1000, certificate_code=certificate.code)
    receipt = purchase_create(customer=customer, branch=branch, total=1000,
                              points=calc.max_points, certificate_code=certificate.code)
    # then the certificate pays 150 and own points 300 (30% cap)
    assert calc.certificate_points == D("150.00")
    assert receipt.certificate_points == D("150.00")
    assert receipt.points == D("300.00")
    assert receipt.cash == D("550.00")
    assert balance(customer) == D("700.00") + D("27.50")  # 5% of 550
    entries = Entry.objects.filter(operation_id=receipt.operation_id)
    assert entries.get(kind=EntryKind.CAMPAIGN).amount == D("150.00")
    assert entries.get(kind=EntryKind.REDEMPTION).amount == D("450.00")
    assert ledger_verify().ok


def test_a_used_certificate_cannot_be_used_again(tiers, branch):
    customer = customer_create()
    certificate = certificate_make(points=100, customer=customer)
    purchase_create(customer=customer, branch=branch, total=1000, certificate_code=certificate.code)
    with pytest.raises(CertificateNotActive):
        purchase_create(customer=customer, branch=branch, total=1000,
                        certificate_code=certificate.code)
    assert Certificate.objects.get(pk=certificate.pk).status == CertificateStatus.USED


def test_a_certificate_of_another_customer_is_refused_and_nothing_is_written(tiers, branch):
    owner, other = customer_create(), customer_create()
    certificate = certificate_make(points=100, customer=owner)
    with pytest.raises(CertificateNotYours):
        purchase_create(customer=other, branch=branch, total=1000,
                        certificate_code=certificate.code)
    assert not other.operations.exists()


def test_a_sold_gift_certificate_belongs_to_whoever_presents_it(tiers, branch):
    buyer = customer_create()
    certificate = certificate_make(points=100, customer=None)
    purchase_create(customer=buyer, branch=branch, total=1000,
                    certificate_code=certificate.code.lower())
    certificate.refresh_from_db()
    assert certificate.customer_id == buyer.pk


def test_unknown_expired_and_cancelled_certificates_are_refused(tiers, branch):
    customer = customer_create()
    with pytest.raises(CertificateNotFound):
        purchase_create(customer=customer, branch=branch, total=100, certificate_code="NOPE")
    with freeze_time("2026-03-01 12:00"):
        old = certificate_make(points=100, customer=customer, valid_days=7)
    with freeze_time("2026-03-07 20:00"):  # 23:00 in Moscow, its last valid day
        assert purchase_calculate(customer=customer, total=100,
                                  certificate_code=old.code).certificate_points == D("100.00")
    with freeze_time("2026-03-08 12:00"), pytest.raises(CertificateNotActive):
        purchase_create(customer=customer, branch=branch, total=100, certificate_code=old.code)
    cancelled = certificate_make(points=100, customer=customer)
    certificate_cancel(certificate=cancelled)
    with pytest.raises(CertificateNotActive):
        purchase_create(customer=customer, branch=branch, total=100,
                        certificate_code=cancelled.code)


def test_a_certificate_that_can_pay_nothing_of_the_bill_stays_active(tiers, branch):
    customer = customer_create()
    certificate = certificate_make(points=100, customer=customer)
    with pytest.raises(CertificateNotApplicable):
        purchase_create(customer=customer, branch=branch, total=100, excluded_total=100,
                        certificate_code=certificate.code)
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.ACTIVE


def test_refund_returns_own_points_but_not_the_certificate_share(tiers, branch):
    customer = customer_create()
    points_adjust(customer=customer, amount=300, reason="gift")
    certificate = certificate_make(points=200, customer=customer)
    receipt = purchase_create(customer=customer, branch=branch, total=1000, points=300,
                              certificate_code=certificate.code)
    assert balance(customer) == D("25.00")  # 5% of 500 cash
    refund = purchase_refund(operation_id=receipt.operation_id)
    # then the 300 own points come back, the 200 certificate points do not, cashback is taken
    assert refund.points_returned == D("300.00")
    assert balance(customer) == D("300.00")
    assert ledger_verify().ok


def test_nightly_expiry_marks_certificates_past_their_last_day(db):
    with freeze_time("2026-03-01 12:00"):
        certificate = certificate_make(points=100, valid_days=7)  # last day 7 March
    assert certificates_expire(as_of=date(2026, 3, 7)) == 0
    assert certificates_expire(as_of=date(2026, 3, 8)) == 1
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.EXPIRED


def test_owner_sees_issued_used_expired_and_revenue_by_certificates(tiers, branch):
    customer = customer_create()
    used = certificate_make(points=100, customer=customer)
    certificate_make(points=100, customer=customer)
    receipt = purchase_create(customer=customer, branch=branch, total=1000,
                              certificate_code=used.code)
    purchase_create(customer=customer, branch=branch, total=5000)  # no certificate: not counted
    stats = certificate_stats()
    assert stats.issued == 2
    assert stats.used == 1
    assert stats.active == 1
    assert stats.revenue == D("1000.00")
    purchase_refund(operation_id=receipt.operation_id, amount=400)
    assert certificate_stats().revenue == D("600.00")


def test_refusals_speak_russian_in_the_russian_interface(tiers, branch):
    from django.utils import translation

    customer = customer_create()
    certificate = certificate_make(points=100, customer=customer)
    purchase_create(customer=customer, branch=branch, total=1000, certificate_code=certificate.code)
    with translation.override("ru"), pytest.raises(CertificateNotActive) as refused:
        purchase_create(customer=customer, branch=branch, total=1000,
                        certificate_code=certificate.code)
    with translation.override("ru"):
        assert str(refused.value) == "Этот сертификат уже использован."


def test_a_certificate_code_is_found_in_any_case_for_the_till_search(db):
    from campaigns.selectors import certificate_find

    certificate = certificate_make(points=100)
    assert certificate_find(code=f" {certificate.code.lower()} ") == certificate
    assert certificate_find(code="NOPE") is None
