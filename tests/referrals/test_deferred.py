"""Referral rewards follow the program's accrual delay (``points.accrual_delay_days``): pending
until the nightly ``deferred`` job releases them, like the buyer's own cashback."""

from datetime import date
from decimal import Decimal as D

import pytest
from freezegun import freeze_time

from campaigns.services.jobs import job_run
from loyalty.ledger_check import ledger_verify
from loyalty.models import Entry, EntryKind
from loyalty.selectors import customer_balances
from loyalty.services import purchase_create, purchase_refund
from referrals.services import referral_program_set
from tests.factories import program_set

from .conftest import chain

pytestmark = pytest.mark.django_db


def balances(customer) -> tuple:
    b = customer_balances(customer=customer)
    return b["available"], b["pending"], b["debt"]


@pytest.fixture
def deferred(tiers):
    """Five days' delay; 50 to the inviter on a first purchase, then 3% / 1%."""
    program_set(accrual_delay_days=5)
    referral_program_set(first_purchase_bonus=D(50), levels_percent=[D(3), D(1)])


def test_rewards_are_pending_until_the_deferred_job_releases_them(deferred, branch):
    # given Anna ← Boris ← Clara
    anna, boris, clara = chain(3)
    # when Clara buys for 1,000 on 1 April
    with freeze_time("2026-04-01 12:00"):
        purchase_create(customer=clara, branch=branch, total="1000.00")
    # then Boris's 50 + 30 and Anna's 10 are pending, due on 6 April like Clara's cashback
    assert balances(boris) == (D("0.00"), D("80.00"), D("0.00"))
    assert balances(anna) == (D("0.00"), D("10.00"), D("0.00"))
    assert {e.release_at.date() for e in Entry.objects.filter(kind=EntryKind.REFERRAL)} == {
        date(2026, 4, 6)}
    # and nothing is released on the 6th, everything on the 7th, once
    assert job_run(job="deferred", as_of=date(2026, 4, 6)) == 0
    assert job_run(job="deferred", as_of=date(2026, 4, 7)) == 3  # Clara, Boris, Anna
    assert job_run(job="deferred", as_of=date(2026, 4, 7)) == 0
    assert balances(boris) == (D("80.00"), D("0.00"), D("0.00"))
    assert balances(anna) == (D("10.00"), D("0.00"), D("0.00"))
    assert ledger_verify().ok


def test_without_a_delay_rewards_are_spendable_at_once(tiers, branch):
    referral_program_set(first_purchase_bonus=D(50), levels_percent=[D(3)])
    anna, boris = chain(2)
    purchase_create(customer=boris, branch=branch, total="1000.00")
    assert balances(anna) == (D("80.00"), D("0.00"), D("0.00"))
    assert not Entry.objects.filter(kind=EntryKind.REFERRAL, release_at__isnull=False).exists()


def test_a_deferred_reward_first_repays_the_ancestors_debt(deferred, branch):
    # given Anna owes 16 points (a refund took back the 20 cashback she had spent: the 4 she had
    # left, and 16 as debt)
    anna, boris = chain(2)
    program_set(accrual_delay_days=0)
    sale = purchase_create(customer=anna, branch=branch, total="400.00")  # +20 cashback
    purchase_create(customer=anna, branch=branch, total="100.00", points="20.00")
    purchase_refund(operation_id=sale.operation_id)
    assert balances(anna) == (D("0.00"), D("0.00"), D("-16.00"))
    # when Boris's first sale pays her 50 + 30 with the delay on
    program_set(accrual_delay_days=5)
    purchase_create(customer=boris, branch=branch, total="1000.00")
    # then the debt is repaid at once and the rest waits
    assert balances(anna) == (D("0.00"), D("64.00"), D("0.00"))
    assert ledger_verify().ok


def test_a_refund_within_the_delay_cancels_pending_rewards_instead_of_spendable_points(
    deferred, branch
):
    # given Anna ← Boris ← Clara, Boris with 100 spendable points of his own
    anna, boris, clara = chain(3)
    program_set(accrual_delay_days=0)
    purchase_create(customer=boris, branch=branch, total="2000.00")  # +100 cashback, +50 +60 Anna
    program_set(accrual_delay_days=5)
    available_before = balances(boris)[0]
    with freeze_time("2026-04-01 12:00"):
        sale = purchase_create(customer=clara, branch=branch, total="1000.00")  # Boris 80 pending
    # when Clara buys again on 3 April (Boris +30, Anna +10, due 8 April) and the first sale is
    # refunded that day, within the delay
    with freeze_time("2026-04-03 12:00"):
        purchase_create(customer=clara, branch=branch, total="1000.00")
        purchase_refund(operation_id=sale.operation_id)
    # then the first sale's pending rewards are cancelled; spendable points are untouched
    assert balances(boris) == (available_before, D("30.00"), D("0.00"))
    assert balances(anna)[1:] == (D("10.00"), D("0.00"))
    # and the job releases nothing early on 7 April (not the second sale's points in their place)
    assert job_run(job="deferred", as_of=date(2026, 4, 7)) == 0
    # and on 9 April the second sale's rewards (and Clara's cashback) are released
    assert job_run(job="deferred", as_of=date(2026, 4, 9)) == 3
    assert balances(boris) == (available_before + D("30.00"), D("0.00"), D("0.00"))
    assert ledger_verify().ok


def test_deferring_rewards_costs_a_sale_no_extra_query(tiers, branch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    referral_program_set(first_purchase_bonus=D(50), levels_percent=[D(3), D(1), D(1)])
    *_ancestors, buyer = chain(4)
    purchase_create(customer=buyer, branch=branch, total="10.00")  # caches filled, not a first

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            purchase_create(customer=buyer, branch=branch, total="1000.00")
        return len(captured.captured_queries)

    immediate = queries()
    program_set(accrual_delay_days=5)
    purchase_create(customer=buyer, branch=branch, total="10.00")  # the program cache refilled
    assert queries() == immediate
    assert Entry.objects.filter(kind=EntryKind.REFERRAL, release_at__isnull=False).count() == 6
