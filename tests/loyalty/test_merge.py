"""Merging two records of one person: points and history move through the ledger, one closes."""

from decimal import Decimal as D

import pytest

from loyalty.exceptions import CustomerBlocked
from loyalty.ledger_check import ledger_verify
from loyalty.models import Customer, Entry, Operation
from loyalty.selectors import customer_balances, customer_get_by_phone
from loyalty.services import points_adjust, purchase_create, purchase_refund
from loyalty.services.customers import customer_get_or_create_by_phone
from loyalty.services.merge import MergeRefused, customer_merge
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def test_merge_moves_points_and_history_and_closes_the_old_record(tiers, branch):
    # given staff credited a branch's service number, and the customer's own record
    service = customer_create(phone="+79160000001", name="", email="anna@example.com")
    sale = purchase_create(customer=service, branch=branch, total=2000)  # +100 cashback
    anna = customer_create(phone="+79160000002", name="Anna")
    points_adjust(customer=anna, amount=30, reason="gift")
    # when the owner merges the service record into Anna's
    operation = customer_merge(source=service, target=anna, reason="service number")
    # then Anna holds both balances, through TRANSFER entries of one MERGE operation
    assert operation.kind == "merge"
    assert customer_balances(customer=anna)["available"] == D("130.00")
    assert customer_balances(customer=service)["available"] == D("0.00")
    assert set(Entry.objects.filter(operation=operation).values_list("kind", flat=True)) == {
        "transfer"}
    # and the history reads as hers, totals added, empty fields filled
    anna.refresh_from_db()
    assert Operation.objects.get(pk=sale.operation_id).customer_id == anna.pk
    assert anna.total_spent == D("2000.00") and anna.purchase_count == 1
    assert anna.email == "anna@example.com" and anna.name == "Anna"
    # and the old record is closed: no lookup finds it, it cannot buy
    service.refresh_from_db()
    assert service.closed_at and service.is_blocked and service.merged_into_id == anna.pk
    assert service.former_phone == "+79160000001"
    assert customer_get_by_phone(phone="+7 916 000-00-01") is None
    with pytest.raises(CustomerBlocked):
        purchase_create(customer=service, branch=branch, total=100)
    # and the freed number becomes a new person's if it is used again
    fresh, created = customer_get_or_create_by_phone(phone="+79160000001")
    assert created and fresh.pk != service.pk
    assert ledger_verify().ok


def test_refund_of_a_merged_sale_takes_the_cashback_from_the_merged_customer(tiers, branch):
    old = customer_create()
    sale = purchase_create(customer=old, branch=branch, total=1000)  # +50
    new = customer_create()
    customer_merge(source=old, target=new)
    refund = purchase_refund(operation_id=sale.operation_id)
    assert refund.cashback_reversed == D("50.00") and refund.debt == D("0.00")
    assert customer_balances(customer=new)["available"] == D("0.00")
    assert customer_balances(customer=old)["debt"] == D("0.00")
    assert ledger_verify().ok


def test_debt_moves_and_is_repaid_from_the_other_records_points(tiers, branch):
    # given a record with a recorded debt (cashback spent, then the sale refunded)
    old = customer_create()
    sale = purchase_create(customer=old, branch=branch, total=1000)  # +50
    purchase_create(customer=old, branch=branch, total=200, points=50)  # +7.50
    purchase_refund(operation_id=sale.operation_id)  # debt 42.50
    assert customer_balances(customer=old)["debt"] == D("-42.50")
    new = customer_create()
    points_adjust(customer=new, amount=100, reason="gift")
    # when merged, the debt is repaid at once from the other record's points
    customer_merge(source=old, target=new)
    balances = customer_balances(customer=new)
    assert balances["debt"] == D("0.00") and balances["available"] == D("57.50")
    assert customer_balances(customer=old)["debt"] == D("0.00")
    assert ledger_verify().ok


def test_merge_refuses_the_same_or_a_closed_customer(tiers):
    a, b, c = customer_create(), customer_create(), customer_create()
    with pytest.raises(MergeRefused):
        customer_merge(source=a, target=a)
    customer_merge(source=a, target=b)
    with pytest.raises(MergeRefused):
        customer_merge(source=Customer.objects.get(pk=a.pk), target=c)
    # chains are re-pointed: merging b into c makes a point at c
    customer_merge(source=b, target=c)
    assert Customer.objects.get(pk=a.pk).merged_into_id == c.pk
    assert ledger_verify().ok


def test_second_welcome_bonus_stays_with_the_closed_record(tiers):
    from loyalty.services import customer_register
    from tests.factories import program_set

    program_set(welcome_bonus=D(100))
    a = customer_register(phone="+79160000011", name="A")
    b = customer_register(phone="+79160000012", name="B")
    customer_merge(source=a, target=b)
    assert customer_balances(customer=b)["available"] == D("200.00")
    assert Operation.objects.filter(customer=b, kind="welcome").count() == 1
    assert ledger_verify().ok
