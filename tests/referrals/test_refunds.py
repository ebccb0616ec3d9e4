from decimal import Decimal as D

import pytest

from loyalty.ledger_check import ledger_verify
from loyalty.models import EntryKind
from loyalty.selectors import customer_balances
from loyalty.services import purchase_create, purchase_refund
from referrals.selectors import sale_referral_rewards

from .conftest import chain

pytestmark = pytest.mark.django_db


def balances(customer):
    return customer_balances(customer=customer)


def test_refund_of_a_reward_that_repaid_debt_and_was_partly_spent_records_the_rest_as_debt(
    sakura, branch
):
    # given Anna ← Boris (Sakura: 50 + 5%); Anna spends her reward, then Boris's sale is refunded
    anna, boris = chain(2)
    first = purchase_create(customer=boris, branch=branch, total="2000.00")  # Anna +150
    purchase_create(customer=anna, branch=branch, total="500.00", points="250.00")
    purchase_refund(operation_id=first.operation_id)
    assert balances(anna)["debt"] == D("-142.50")
    # and Boris's next sale pays Anna 250, which first repays her 142.50 of debt
    second = purchase_create(customer=boris, branch=branch, total="5000.00")
    assert balances(anna)["available"] == D("107.50")
    purchase_create(customer=anna, branch=branch, total="120.00", points="60.00")  # +3% of 60
    assert balances(anna)["available"] == D("49.30")
    # when that sale is refunded too (two entries to take back from one customer)
    purchase_refund(operation_id=second.operation_id)
    # then her 49.30 are taken and the other 200.70 become debt again; no balance below zero
    assert balances(anna) == {"available": D("0.00"), "pending": D("0.00"), "held": D("0.00"),
                              "debt": D("-200.70")}
    assert ledger_verify().ok


def test_partial_refunds_of_a_chain_sale_add_up_to_the_whole_reward(elita, branch):
    # given Elita and a four-generation chain; the youngest buys once
    anna, boris, clara, denis = chain(4)
    sale = purchase_create(customer=denis, branch=branch, total="3333.33", receipt_number="R1")
    paid = {pk: amount for pk, _level, amount in
            sale_referral_rewards(operation_id=sale.operation_id)}
    assert paid == {clara.pk: D("150.00"), boris.pk: D("33.33"), anna.pk: D("33.33")}
    before = {pk: customer_balances(customer=c)["available"]
              for pk, c in ((anna.pk, anna), (boris.pk, boris), (clara.pk, clara))}
    # when it is refunded in three odd parts
    for part in ("1000.00", "1111.11", "1222.22"):
        purchase_refund(operation_id=sale.operation_id, amount=part)
    # then every reward came back to the cent
    after = {pk: customer_balances(customer=c)["available"]
             for pk, c in ((anna.pk, anna), (boris.pk, boris), (clara.pk, clara))}
    assert {pk: before[pk] - after[pk] for pk in before} == paid
    from loyalty.models import Entry

    assert Entry.objects.filter(kind=EntryKind.REWARD_REVERSAL,
                                reverses__operation_id=sale.operation_id).count() == 9
    assert ledger_verify().ok
