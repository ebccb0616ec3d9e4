"""A sale costs the same number of queries whatever the customer's history."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.services import purchase_create
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def count_purchase(customer, branch, **kwargs):
    with CaptureQueriesContext(connection) as ctx:
        purchase_create(customer=customer, branch=branch, **kwargs)
    return len(ctx.captured_queries)


def test_purchase_query_count_does_not_grow_with_history(tiers, branch):
    customer = customer_create()
    purchase_create(customer=customer, branch=branch, total=100)
    purchase_create(customer=customer, branch=branch, total=100, points=1)  # warm account ids
    first = count_purchase(customer, branch, total=100, points=1, request_id="q-1")
    for i in range(30):
        purchase_create(customer=customer, branch=branch, total=100 + i)
    later = count_purchase(customer, branch, total=100, points=5, request_id="q-2")
    assert first == later
    assert later <= 9  # savepoint, lock, request id, operation, entries, balance, customer, release
