from decimal import Decimal as D

import pytest

from loyalty.exceptions import (
    AmountTooLarge,
    CustomerBlocked,
    InsufficientPoints,
    InvalidAmount,
    ReceiptNumberRequired,
    RedeemByPhoneDisabled,
    RedemptionCapExceeded,
    RequestIdReused,
)
from loyalty.models import Entry, Operation
from loyalty.selectors import account_balance_from_entries, customer_balances
from loyalty.services import points_adjust, purchase_calculate, purchase_create
from tests.factories import customer_create, program_set

pytestmark = pytest.mark.django_db


def balance(customer):
    return customer_balances(customer=customer)["available"]


def test_cashback_is_tier_percent_of_cash_part_rounded_half_up(tiers, branch):
    # given a Base-tier (5%) customer with no points
    customer = customer_create()
    # when he pays 1 234.50 with 34.50 of it on promotional goods
    receipt = purchase_create(customer=customer, branch=branch, total="1234.50",
                              excluded_total="34.50")
    # then cashback = 5% of 1 200.00 = 60.00 and it is spendable at once
    assert receipt.cashback == D("60.00")
    assert receipt.cash == D("1234.50")
    assert balance(customer) == D("60.00")


def test_half_cent_rounds_up(tiers, branch):
    customer = customer_create()
    # 5% of 10.10 = 0.505 → 0.51
    assert purchase_create(customer=customer, branch=branch, total="10.10").cashback == D("0.51")


def test_redemption_reduces_cash_and_cashback_base(tiers, branch):
    customer = customer_create()
    points_adjust(customer=customer, amount=500, reason="gift")
    receipt = purchase_create(customer=customer, branch=branch, total=1000, points=300)
    assert receipt.points == D("300.00")
    assert receipt.cash == D("700.00")
    assert receipt.cashback == D("35.00")  # 5% of 700
    assert balance(customer) == D("235.00")


def test_redeem_is_capped_by_tier_share_of_redeemable_part(tiers, branch):
    customer = customer_create()
    points_adjust(customer=customer, amount=5000, reason="gift")
    # 30% cap of (1000 − 200 excluded − 100 unredeemable) = 210
    calc = purchase_calculate(customer=customer, total=1000, excluded_total=200,
                              unredeemable_total=100)
    assert calc.max_points == D("210.00")
    with pytest.raises(RedemptionCapExceeded) as err:
        purchase_create(customer=customer, branch=branch, total=1000, excluded_total=200,
                        unredeemable_total=100, points="210.01")
    assert err.value.code == "discountLimitExceed"
    assert "210.00" in str(err.value)
    assert Operation.objects.filter(kind="purchase").count() == 0


def test_redeem_more_than_balance_is_refused_and_nothing_written(tiers, branch):
    customer = customer_create()
    points_adjust(customer=customer, amount=50, reason="gift")
    entries = Entry.objects.count()
    with pytest.raises(InsufficientPoints) as err:
        purchase_create(customer=customer, branch=branch, total=1000, points=60)
    assert err.value.code == "insufficientFunds"
    assert Entry.objects.count() == entries
    assert balance(customer) == D("50.00")


def test_calculation_prefills_the_maximum_and_writes_nothing(tiers):
    customer = customer_create()
    points_adjust(customer=customer, amount=100, reason="gift")
    entries = Entry.objects.count()
    calc = purchase_calculate(customer=customer, total=1000)
    assert calc.max_points == D("100.00") and calc.points == D("100.00")
    assert calc.cash == D("900.00") and calc.cashback == D("45.00")
    assert Entry.objects.count() == entries


@pytest.mark.parametrize("total,excluded", [("0", "0"), ("-5", "0"), ("100", "101"), ("abc", "0")])
def test_impossible_bills_are_refused(tiers, branch, total, excluded):
    customer = customer_create()
    with pytest.raises(InvalidAmount):
        purchase_create(customer=customer, branch=branch, total=total, excluded_total=excluded)


@pytest.mark.parametrize("total", ["4601234567893", "100000000000.01", "1e17"])
def test_a_bill_above_the_largest_amount_is_refused_and_nothing_written(tiers, branch, total):
    customer = customer_create()
    with pytest.raises(AmountTooLarge):
        purchase_create(customer=customer, branch=branch, total=total)
    with pytest.raises(AmountTooLarge):
        points_adjust(customer=customer, amount=total, reason="typo")
    assert not Operation.objects.exists()


def test_below_every_tier_points_are_capped_as_the_strictest_tier_caps_them(tiers, branch):
    # the owner made the lowest tier start at 1 000: a newcomer is in no tier
    tiers[0].min_total_spent = D(1000)
    tiers[0].save()
    customer = customer_create()
    points_adjust(customer=customer, amount=500, reason="welcome")
    calc = purchase_calculate(customer=customer, total="100")
    assert customer.tier is None
    assert calc.max_redeem_percent == D(30) and calc.max_points == D("30.00")
    assert calc.cashback == 0
    with pytest.raises(RedemptionCapExceeded):
        purchase_create(customer=customer, branch=branch, total="100", points="100")


def test_same_request_id_gives_same_receipt_and_one_posting(tiers, branch):
    customer = customer_create()
    first = purchase_create(customer=customer, branch=branch, total=1000, request_id="r-1")
    again = purchase_create(customer=customer, branch=branch, total=1000, request_id="r-1")
    assert again.operation_id == first.operation_id
    assert again.replayed and not first.replayed
    assert again.balance == first.balance == D("50.00")
    assert Operation.objects.filter(kind="purchase").count() == 1
    assert balance(customer) == D("50.00")


def test_request_id_of_another_customer_is_a_conflict(tiers, branch):
    purchase_create(customer=customer_create(), branch=branch, total=100, request_id="r-2")
    with pytest.raises(RequestIdReused):
        purchase_create(customer=customer_create(), branch=branch, total=100, request_id="r-2")


def test_tier_follows_total_spent(tiers, branch):
    customer = customer_create()
    purchase_create(customer=customer, branch=branch, total=9999)
    customer.refresh_from_db()
    assert customer.tier.name == "Base"
    receipt = purchase_create(customer=customer, branch=branch, total=1)
    customer.refresh_from_db()
    assert customer.tier.name == "Silver" and customer.total_spent == D("10000.00")
    # the new tier's rate applies from the next sale on
    assert receipt.cashback_percent == D(5)
    assert purchase_create(customer=customer, branch=branch, total=100).cashback == D("7.00")


def test_pinned_tier_is_kept(tiers, branch):
    customer = customer_create(tier=tiers[2], tier_pinned=True)
    purchase_create(customer=customer, branch=branch, total=100)
    customer.refresh_from_db()
    assert customer.tier.name == "Gold"


def test_blocked_customer_cannot_buy(tiers, branch):
    customer = customer_create(is_blocked=True)
    with pytest.raises(CustomerBlocked) as err:
        purchase_create(customer=customer, branch=branch, total=100)
    assert err.value.code == "participantIsBlocked"


def test_redeem_by_phone_can_be_switched_off(tiers, branch):
    program_set(redeem_by_phone=False)
    customer = customer_create()
    points_adjust(customer=customer, amount=100, reason="gift")
    with pytest.raises(RedeemByPhoneDisabled):
        purchase_create(customer=customer, branch=branch, total=1000, points=10)
    # accruing by phone still works, and a payment code may redeem
    purchase_create(customer=customer, branch=branch, total=1000)
    purchase_create(customer=customer, branch=branch, total=1000, points=10, by_code=True)


def test_receipt_number_may_be_required(tiers, branch):
    program_set(receipt_number_required=True)
    customer = customer_create()
    with pytest.raises(ReceiptNumberRequired):
        purchase_create(customer=customer, branch=branch, total=100)
    assert purchase_create(customer=customer, branch=branch, total=100, receipt_number="A-1")


def test_accrual_delay_holds_cashback_apart(tiers, branch):
    program_set(accrual_delay_days=7)
    customer = customer_create()
    receipt = purchase_create(customer=customer, branch=branch, total=1000)
    balances = customer_balances(customer=customer)
    assert receipt.pending
    assert balances["available"] == D("0.00") and balances["pending"] == D("50.00")
    entry = Entry.objects.get(kind="cashback")
    assert entry.release_at is not None


def test_cached_balance_equals_entries(tiers, branch):
    customer = customer_create()
    points_adjust(customer=customer, amount=100, reason="gift")
    purchase_create(customer=customer, branch=branch, total=1000, points=50)
    account = customer.accounts.get(kind="available")
    assert account.balance == account_balance_from_entries(account_id=account.pk) == D("97.50")
