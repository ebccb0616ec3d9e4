from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.services import purchase_create
from referrals.selectors import reward_entries
from referrals.services import referral_program_set

from .conftest import chain, invited

pytestmark = pytest.mark.django_db


def queries_of_a_sale(buyer, branch) -> int:
    with CaptureQueriesContext(connection) as captured:
        receipt = purchase_create(customer=buyer, branch=branch, total="1000.00")
    assert receipt.cash == D("1000.00")
    return len(captured.captured_queries)


@pytest.mark.parametrize("first_purchase", [True, False])
def test_rewarding_a_sale_costs_the_same_queries_whatever_the_depth(tiers, branch, first_purchase):
    # given ten paid levels and buyers 1, 5, 10 and 20 generations below a root (and the business's
    # system accounts already looked up, as on any till after its first sale)
    referral_program_set(first_purchase_bonus=D(50), levels_percent=[D(1)] * 10)
    purchase_create(customer=invited(), branch=branch, total="1.00")
    buyers = {depth: chain(depth + 1)[-1] for depth in (1, 5, 10, 20)}
    if not first_purchase:
        for buyer in buyers.values():
            purchase_create(customer=buyer, branch=branch, total="1.00")
    # when each buys, then the query count is the same for every depth
    counts = {depth: queries_of_a_sale(buyer, branch) for depth, buyer in buyers.items()}
    assert len(set(counts.values())) == 1, counts
    # and every paid level was rewarded (1, 5, 10, and 10 of the 20 ancestors)
    paid = {depth: reward_entries().filter(operation__customer=b, operation__total=D("1000.00"))
            .count() for depth, b in buyers.items()}
    assert paid == {1: 1, 5: 5, 10: 10, 20: 10}
    # and it costs as many queries as a sale by a customer nobody invited: the tree read, the
    # entries' INSERT and the balances' UPDATE are one query each, however many rows
    loner = invited()
    if not first_purchase:
        purchase_create(customer=loner, branch=branch, total="1.00")
    assert queries_of_a_sale(loner, branch) == counts[1]


def test_the_till_reads_the_whole_chain_in_one_query(tiers, django_assert_num_queries):
    from referrals.extension import ancestors_for_reward

    referral_program_set(first_purchase_bonus=D(0), levels_percent=[D(2), D(1), D(1)])
    people = chain(8)
    with django_assert_num_queries(1):
        found = ancestors_for_reward(customer_id=people[-1].pk)
    assert [(a.customer_id, a.level, a.percent) for a in found] == [
        (people[-2].pk, 1, D("2.00")), (people[-3].pk, 2, D("1.00")), (people[-4].pk, 3, D("1.00")),
    ]
