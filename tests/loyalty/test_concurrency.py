"""Locking and idempotency on real PostgreSQL: threads with their own connections."""

from decimal import Decimal as D

import pytest

from loyalty.exceptions import InsufficientPoints
from loyalty.ledger_check import ledger_verify
from loyalty.models import Operation
from loyalty.selectors import customer_balances
from loyalty.services import (
    customer_register,
    points_adjust,
    purchase_create,
    purchase_refund,
)
from tests.factories import BranchFactory, TierFactory, customer_create
from tests.threads import run_threads

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup():
    TierFactory(name="All", cashback_percent=D(0), max_redeem_percent=D(100))
    return BranchFactory(name="Main")


def test_fifty_threads_redeeming_from_one_account_never_overdraw_it(setup):
    # given 1 000 points and 50 tills each redeeming 30 at the same moment
    customer = customer_create()
    points_adjust(customer=customer, amount=1000, reason="start")
    results, errors = run_threads(50, lambda i: purchase_create(
        customer=customer, branch=setup, total=100, points=30))
    # then exactly 33 succeed (990 points), the others are refused cleanly
    assert len(results) == 33
    assert len(errors) == 17 and all(isinstance(e, InsufficientPoints) for e in errors)
    assert customer_balances(customer=customer)["available"] == D("10.00")
    assert ledger_verify().ok


def test_concurrent_retries_with_one_request_id_make_one_sale(setup):
    customer = customer_create()
    results, errors = run_threads(20, lambda i: purchase_create(
        customer=customer, branch=setup, total=500, request_id="same-nonce"))
    assert not errors
    assert len({r.operation_id for r in results}) == 1
    assert Operation.objects.filter(kind="purchase").count() == 1


def test_concurrent_partial_refunds_never_exceed_the_sale(setup):
    customer = customer_create()
    points_adjust(customer=customer, amount=100, reason="start")
    sale = purchase_create(customer=customer, branch=setup, total=1000, points=100)
    results, errors = run_threads(12, lambda i: purchase_refund(
        operation_id=sale.operation_id, amount=100))
    assert len(results) == 10 and len(errors) == 2
    assert Operation.objects.get(pk=sale.operation_id).state == "CANCELED"
    assert customer_balances(customer=customer)["available"] == D("100.00")
    assert ledger_verify().ok


def test_concurrent_registrations_credit_welcome_once(setup):
    from tests.factories import program_set

    program_set(welcome_bonus=D(100))
    results, errors = run_threads(8, lambda i: customer_register(phone="+79005550011", name="A"))
    assert len(results) == 1 and len(errors) == 7
    customer = results[0]
    assert customer_balances(customer=customer)["available"] == D("100.00")
