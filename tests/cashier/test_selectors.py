"""The till's reads: what the search box finds, and how."""

import pytest
from django.db import connection

from cashier.selectors import SEARCH_LIMIT, customer_search, till_customer_get
from loyalty.models import Customer
from loyalty.services import points_adjust
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def test_last_digits_find_every_number_ending_with_them_up_to_a_limit(tiers):
    for i in range(SEARCH_LIMIT + 2):
        customer_create(phone=f"+7916{i:03d}4567")
    customer_create(phone="+79160004568")
    result = customer_search(query="4567")
    assert len(result.customers) == SEARCH_LIMIT
    assert all(c.phone.endswith("4567") for c in result.customers)


def test_a_full_number_finds_exactly_that_customer_with_his_balances(tiers):
    customer = customer_create(phone="+79001234567")
    customer_create(phone="+79011234567")  # same last digits, another number
    points_adjust(customer=customer, amount=250, reason="opening")
    result = customer_search(query="8 (900) 123-45-67")
    assert result.customers == [customer] and result.phone == "+79001234567"
    assert till_customer_get(customer_id=customer.pk).spendable == 250


def test_letters_and_short_numbers_find_nobody():
    assert customer_search(query="Anna").customers == []
    assert customer_search(query="12").too_short


def test_the_panel_reads_zero_balances_for_a_new_number(tiers):
    customer = customer_create()
    panel = till_customer_get(customer_id=customer.pk)
    assert (panel.spendable, panel.pending, panel.debt) == (0, 0, 0)


@pytest.mark.postgres_only
def test_on_postgresql_the_last_digits_search_uses_the_reversed_phone_index(tiers):
    # given a table small enough that the planner would rather scan it: forbid that
    customer_create(phone="+79001234567")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    result = customer_search(query="4567")
    from cashier import selectors

    plan = (Customer.objects.annotate(r=selectors.Reverse("phone"))
            .filter(r__startswith="7654").explain())
    assert "cashier_customer_phone_reversed" in plan
    assert len(result.customers) == 1
