"""Retries racing each other on real PostgreSQL: threads with their own connections."""

from decimal import Decimal as D

import pytest
from rest_framework.test import APIClient

from loyalty.ledger_check import ledger_verify
from loyalty.models import Customer, Operation
from loyalty.selectors import customer_balances
from partner.services import api_key_create
from tests.factories import BranchFactory, TierFactory
from tests.partner.conftest import basic
from tests.threads import run_threads

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_retries_of_one_nonce_make_one_operation():
    # given a till whose POST /operations timed out and is retried 20 times at once,
    # to a number nobody has seen yet (so the phone-only customer is created in the race too)
    TierFactory(name="Base", cashback_percent=D(5), max_redeem_percent=D(30))
    credentials = api_key_create(name="POS", branch=BranchFactory(name="Main")).credentials
    body = {"nonce": "6f1c1f4e-retry", "participant": {"phone": "+79160000042"},
            "receipt": {"total": 1000, "cash": 1000, "points": 0}}

    def attempt(_i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=basic(credentials))
        response = client.post("/partner/v2/operations", body, format="json")
        return response.status_code, response.json()["id"]

    results, errors = run_threads(20, attempt)
    # then all 20 answer 200 with the same operation, and only one sale was written
    assert not errors
    assert {status for status, _ in results} == {200}
    assert len({op_id for _, op_id in results}) == 1
    assert Operation.objects.filter(kind="purchase").count() == 1
    assert Customer.objects.count() == 1
    assert customer_balances(customer=Customer.objects.get())["available"] == D("50.00")
    assert ledger_verify().ok
