"""Property: whatever the tree and the sales, the referral points paid are exactly the configured
percentages of each sale's base (eligible total − points) up the buyer's chain, plus the bonus on
each invited customer's first purchase, to the cent; and the ledger stays balanced."""

from decimal import Decimal as D

import pytest
from django.db.models import F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.ledger_check import ledger_verify
from loyalty.models import Entry, EntryKind
from loyalty.money import ZERO, percent_of
from loyalty.services import points_adjust, purchase_calculate, purchase_create
from referrals.selectors import reward_entries
from referrals.services import referral_program_set

from .conftest import invited

pytestmark = pytest.mark.django_db

percent = st.decimals(min_value=0, max_value=25, places=2)
cents = st.integers(min_value=1, max_value=2_000_000)  # up to 20 000.00


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_rewards_are_the_configured_percentages_of_every_base_to_the_cent(tiers, branch, data):
    # given a random program
    levels = data.draw(st.lists(percent, max_size=6), label="levels_percent")
    bonus = data.draw(st.decimals(min_value=0, max_value=100, places=2), label="bonus")
    referral_program_set(first_purchase_bonus=bonus, levels_percent=levels)
    # and a random forest: each new customer invited by an earlier one, or by nobody
    size = data.draw(st.integers(min_value=1, max_value=9), label="customers")
    parents: list[int | None] = []
    people = []
    for i in range(size):
        parent = data.draw(st.none() | st.integers(0, i - 1), label=f"inviter of {i}") if i else None
        parents.append(parent)
        people.append(invited(people[parent] if parent is not None else None))
        points_adjust(customer=people[-1], amount=D(500), reason="starting points")
    # when random customers buy random bills, part excluded, part paid with points
    sales = data.draw(st.lists(
        st.tuples(st.integers(0, size - 1), cents, st.integers(0, 100), st.integers(0, 100)),
        min_size=1, max_size=10,
    ), label="sales")
    expected = ZERO
    bought: set[int] = set()
    operations = []
    for who, total_cents, excluded_share, redeem_share in sales:
        total = D(total_cents) / 100
        excluded = (total * excluded_share / 100).quantize(D("0.01"))
        buyer = people[who]
        calc = purchase_calculate(customer=buyer, total=total, excluded_total=excluded)
        points = (calc.max_points * redeem_share / 100).quantize(D("0.01"))
        receipt = purchase_create(customer=buyer, branch=branch, total=total,
                                  excluded_total=excluded, points=points)
        operations.append(receipt.operation_id)
        base = total - excluded - points
        ancestor, level = parents[who], 1
        if ancestor is not None and who not in bought:
            expected += bonus
        while ancestor is not None and level <= len(levels):
            expected += percent_of(base, levels[level - 1])
            ancestor, level = parents[ancestor], level + 1
        bought.add(who)
    # then the ledger's credits to others (and those the selectors attribute to a level) add up
    # to exactly that
    paid = sum((e.amount for e in Entry.objects.filter(
        operation_id__in=operations, kind__in=[EntryKind.REFERRAL, EntryKind.DEBT_SETTLEMENT],
        destination__customer__isnull=False,
    ).exclude(destination__customer_id=F("operation__customer_id"))), ZERO)
    recorded = sum((e.amount for e in reward_entries().filter(operation_id__in=operations)), ZERO)
    assert paid == recorded == expected
    assert ledger_verify().ok
