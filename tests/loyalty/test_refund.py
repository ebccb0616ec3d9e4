from decimal import Decimal as D

import pytest

from loyalty.exceptions import InvalidAmount, OperationNotFound, RefundExceedsPurchase
from loyalty.ledger_check import ledger_verify
from loyalty.models import Operation
from loyalty.selectors import customer_balances
from loyalty.services import points_adjust, purchase_create, purchase_refund
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def test_full_refund_returns_points_and_takes_cashback(tiers, branch):
    customer = customer_create()
    points_adjust(customer=customer, amount=300, reason="gift")
    sale = purchase_create(customer=customer, branch=branch, total=1000, points=300)
    assert customer_balances(customer=customer)["available"] == D("35.00")
    refund = purchase_refund(operation_id=sale.operation_id)
    assert refund.points_returned == D("300.00") and refund.cashback_reversed == D("35.00")
    assert customer_balances(customer=customer)["available"] == D("300.00")
    original = Operation.objects.get(pk=sale.operation_id)
    assert original.state == "CANCELED" and original.refunded_total == D("1000.00")
    assert Operation.objects.get(pk=refund.operation_id).state == "REVERSAL"
    customer.refresh_from_db()
    assert customer.total_spent == D("0.00")


def test_partial_refunds_add_up_exactly_to_the_sale(tiers, branch):
    customer = customer_create()
    points_adjust(customer=customer, amount="100.00", reason="gift")
    sale = purchase_create(customer=customer, branch=branch, total="333.33", points="99.99")
    returned = cashback = D(0)
    for amount in ["111.11", "111.11", "111.11"]:
        r = purchase_refund(operation_id=sale.operation_id, amount=amount)
        returned += r.points_returned
        cashback += r.cashback_reversed
    assert returned == D("99.99")
    assert cashback == Operation.objects.get(pk=sale.operation_id).cashback
    assert customer_balances(customer=customer)["available"] == D("100.00")
    assert ledger_verify().ok


def test_refund_cannot_exceed_what_is_left(tiers, branch):
    customer = customer_create()
    sale = purchase_create(customer=customer, branch=branch, total=1000)
    purchase_refund(operation_id=sale.operation_id, amount=600)
    with pytest.raises(RefundExceedsPurchase) as err:
        purchase_refund(operation_id=sale.operation_id, amount="400.01")
    assert "400.00" in str(err.value)
    purchase_refund(operation_id=sale.operation_id, amount=400)
    with pytest.raises(RefundExceedsPurchase):
        purchase_refund(operation_id=sale.operation_id)


def test_spent_cashback_becomes_recorded_debt_never_negative_balance(tiers, branch):
    customer = customer_create()
    sale = purchase_create(customer=customer, branch=branch, total=1000)  # +50 cashback
    purchase_create(customer=customer, branch=branch, total=200, points=50)  # spent it (cap 60)
    refund = purchase_refund(operation_id=sale.operation_id)
    balances = customer_balances(customer=customer)
    assert refund.debt == D("42.50")  # 50 − the 7.50 credited by the second sale
    assert balances["available"] == D("0.00") and balances["debt"] == D("-42.50")
    # the next credit repays the debt first
    purchase_create(customer=customer, branch=branch, total=1000)  # +50
    balances = customer_balances(customer=customer)
    assert balances["debt"] == D("0.00") and balances["available"] == D("7.50")
    assert ledger_verify().ok


def test_refund_is_idempotent_by_request_id(tiers, branch):
    customer = customer_create()
    sale = purchase_create(customer=customer, branch=branch, total=1000)
    first = purchase_refund(operation_id=sale.operation_id, amount=100, request_id="ref-1")
    again = purchase_refund(operation_id=sale.operation_id, amount=100, request_id="ref-1")
    assert again.operation_id == first.operation_id and again.replayed
    assert Operation.objects.get(pk=sale.operation_id).refunded_total == D("100.00")


def test_refund_of_unknown_or_non_sale_operation(tiers, branch):
    customer = customer_create()
    adj = points_adjust(customer=customer, amount=10, reason="x")
    with pytest.raises(OperationNotFound):
        purchase_refund(operation_id=adj.pk)
    with pytest.raises(OperationNotFound):
        purchase_refund(operation_id=999999)
    sale = purchase_create(customer=customer, branch=branch, total=100)
    with pytest.raises(InvalidAmount):
        purchase_refund(operation_id=sale.operation_id, amount="-1")


def test_the_preview_tells_the_money_to_give_back_as_the_refund_then_does(tiers, branch):
    from loyalty.services import purchase_refund_preview
    from tests.campaigns.factories import certificate_make

    customer = customer_create()
    points_adjust(customer=customer, amount=500, reason="gift")
    gift = certificate_make(points=150, customer=customer)
    # 1 000 paid with a 150-point certificate and 150 points (30% cap of 1 000 = 300 in all)
    sale = purchase_create(customer=customer, branch=branch, total=1000, points=150,
                           certificate_code=gift.code)
    operation = Operation.objects.get(pk=sale.operation_id)
    preview = purchase_refund_preview(operation=operation, amount=D(400))
    # 400 of 1 000: 40% of the 300 paid in points is not money, so 400 − 120 = 280 goes back in
    # money; of those 120, the certificate's 60 is not returned as points.
    assert (preview.cash, preview.points) == (D("280.00"), D("60.00"))
    refund = purchase_refund(operation_id=sale.operation_id, amount=400)
    assert (refund.cash_returned, refund.points_returned, refund.cashback_reversed) == (
        preview.cash, preview.points, preview.cashback)
    assert purchase_refund(operation_id=sale.operation_id, amount=400,
                           request_id=None).cash_returned == D("280.00")
    assert ledger_verify().ok
