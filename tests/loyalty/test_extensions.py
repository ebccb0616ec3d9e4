from decimal import Decimal as D

import pytest

from loyalty import extensions
from loyalty.ledger_check import ledger_verify
from loyalty.models import EntryKind
from loyalty.money import percent_of
from loyalty.selectors import customer_balances
from loyalty.services import purchase_create, purchase_refund
from loyalty.services.purchases import credit_moves
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


class TenPercentToFriend:
    """A stand-in for the referral app: 10% of each sale's cash part to one friend."""

    def __init__(self, friend_id):
        self.friend_id = friend_id

    def customers_to_lock(self, customer):
        return [] if customer.pk == self.friend_id else [self.friend_id]

    def moves(self, context):
        if context.customer.pk == self.friend_id:
            return []
        amount = percent_of(context.calculation.cash, D(10))
        return credit_moves(context.accounts[self.friend_id], amount, kind=EntryKind.REFERRAL)


@pytest.fixture
def friend_extension(tiers):
    friend = customer_create()
    ext = TenPercentToFriend(friend.pk)
    extensions._extensions.append(ext)
    yield friend
    extensions._extensions.remove(ext)


def test_extension_credits_others_in_the_sale_and_refund_takes_back_in_proportion(
    friend_extension, branch
):
    friend = friend_extension
    buyer = customer_create()
    sale = purchase_create(customer=buyer, branch=branch, total="1000.00")
    assert customer_balances(customer=friend)["available"] == D("100.00")
    purchase_refund(operation_id=sale.operation_id, amount="250.00")
    assert customer_balances(customer=friend)["available"] == D("75.00")
    purchase_refund(operation_id=sale.operation_id)
    assert customer_balances(customer=friend)["available"] == D("0.00")
    assert ledger_verify().ok


def test_reward_already_spent_is_taken_back_as_debt(friend_extension, branch):
    friend = friend_extension
    buyer = customer_create()
    sale = purchase_create(customer=buyer, branch=branch, total="1000.00")  # friend +100
    purchase_create(customer=friend, branch=branch, total="300.00", points="90.00")  # +10% of 210
    purchase_refund(operation_id=sale.operation_id)
    balances = customer_balances(customer=friend)
    assert balances["available"] == D("0.00")
    # friend had 100 − 90 + 10.50 cashback = 20.50; the other 79.50 becomes debt
    assert balances["debt"] == D("-79.50")
    assert ledger_verify().ok
