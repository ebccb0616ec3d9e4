"""Tiers reached by friends who bought (``referral.tier_invites``): a customer holds the highest
tier his total spent OR his effective invites meet; pinned tiers stay pinned."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.services.jobs import job_run
from loyalty.models import Customer
from loyalty.services import customer_tier_recompute, purchase_create, purchase_refund
from referrals.services import referral_program_set
from referrals.tiers import effective_invites

from .conftest import invited

pytestmark = pytest.mark.django_db


def tier_of(customer) -> str:
    return Customer.objects.select_related("tier").get(pk=customer.pk).tier.name


@pytest.fixture
def gold_for_two(tiers):
    """Base 0 / Silver 10k / Gold 50k spent, and Gold also for two friends who bought."""
    referral_program_set(first_purchase_bonus=D(0), levels_percent=[D(1)],
                         tier_invites={"Gold": 2})
    return tiers


def test_the_friends_first_purchase_that_reaches_the_count_raises_the_inviters_tier(
    gold_for_two, branch
):
    # given Anna invited Boris and Clara; Boris bought twice
    anna = invited()
    boris, clara = invited(anna), invited(anna)
    purchase_create(customer=boris, branch=branch, total="100.00")
    purchase_create(customer=boris, branch=branch, total="100.00")
    # then one friend who bought (however often) is not enough
    assert effective_invites(customer_id=anna.pk) == 1
    assert tier_of(anna) == "Base"
    # when Clara makes her first purchase
    purchase_create(customer=clara, branch=branch, total="100.00")
    # then Anna holds Gold in that same transaction, though she has spent nothing
    assert tier_of(anna) == "Gold"
    # and her own small sale keeps it and earns Gold's 10% cashback
    receipt = purchase_create(customer=anna, branch=branch, total="100.00")
    assert receipt.cashback_percent == D("10.00")
    assert tier_of(anna) == "Gold"


def test_a_tier_given_for_invites_does_not_cap_what_the_total_spent_earns(tiers, branch):
    # given Silver for one friend who bought
    referral_program_set(levels_percent=[D(1)], tier_invites={"Silver": 1})
    anna = invited()
    purchase_create(customer=invited(anna), branch=branch, total="100.00")
    assert tier_of(anna) == "Silver"
    # when Anna spends enough for Gold, then she holds Gold
    purchase_create(customer=anna, branch=branch, total="50000.00")
    assert tier_of(anna) == "Gold"


def test_the_inviter_is_raised_even_when_the_program_pays_no_reward(tiers, branch):
    # given no bonus and no percent: the inviter is locked only for his tier
    referral_program_set(first_purchase_bonus=D(0), levels_percent=[],
                         tier_invites={"Silver": 1})
    anna = invited()
    purchase_create(customer=invited(anna), branch=branch, total="100.00")
    assert tier_of(anna) == "Silver"


def test_a_pinned_tier_stays_pinned(gold_for_two, branch):
    anna = invited()
    Customer.objects.filter(pk=anna.pk).update(tier=gold_for_two[1], tier_pinned=True)
    for friend in (invited(anna), invited(anna)):
        purchase_create(customer=friend, branch=branch, total="100.00")
    assert tier_of(anna) == "Silver"
    assert job_run(job="tiers", as_of=date(2026, 1, 1)) == 0
    assert tier_of(anna) == "Silver"


def test_an_invite_stays_effective_after_the_friends_purchase_is_refunded(gold_for_two, branch):
    # given Anna reached Gold by Boris's and Clara's first purchases
    anna = invited()
    sales = [purchase_create(customer=invited(anna), branch=branch, total="100.00")
             for _ in range(2)]
    # when both sales are refunded in full, and Anna's own sale is refunded too
    for sale in sales:
        purchase_refund(operation_id=sale.operation_id)
    own = purchase_create(customer=anna, branch=branch, total="100.00")
    purchase_refund(operation_id=own.operation_id)
    # then the friends did buy: Anna keeps Gold (documented in referrals.tiers)
    assert effective_invites(customer_id=anna.pk) == 2
    assert tier_of(anna) == "Gold"


def test_the_nightly_tiers_job_gives_tiers_for_invites_set_based(tiers, branch):
    # given Anna with two friends who bought, Boris with one, Vera with none but 12k spent, and
    # tiers by invites configured only afterwards (nobody moved yet)
    anna, boris, vera = invited(), invited(), invited()
    for inviter in (anna, anna, boris):
        purchase_create(customer=invited(inviter), branch=branch, total="100.00")
    purchase_create(customer=vera, branch=branch, total="12000.00")
    referral_program_set(tier_invites={"Gold": 2, "Silver": 1})
    assert (tier_of(anna), tier_of(boris), tier_of(vera)) == ("Base", "Base", "Silver")
    # when the nightly job runs
    touched = job_run(job="tiers", as_of=date(2026, 1, 1))
    # then each holds the highest tier his spend or his invites reach
    assert (tier_of(anna), tier_of(boris), tier_of(vera)) == ("Gold", "Silver", "Silver")
    assert touched == 2
    # and when the owner drops the rule, the next night follows the total spent again
    referral_program_set(tier_invites={})
    assert job_run(job="tiers", as_of=date(2026, 1, 2)) == 2
    assert (tier_of(anna), tier_of(boris)) == ("Base", "Base")


def test_one_customers_recompute_reads_nothing_when_invites_cannot_beat_his_spend(
    gold_for_two, branch
):
    # given a customer whose total spent already earns Gold, the top tier by invites
    anna = invited()
    purchase_create(customer=anna, branch=branch, total="60000.00")
    anna.refresh_from_db()
    tiers = tuple(gold_for_two)
    with CaptureQueriesContext(connection) as spent_enough:
        customer_tier_recompute(customer=anna, tiers=tiers)
    # but one count for a customer below it
    boris = invited()
    with CaptureQueriesContext(connection) as below:
        customer_tier_recompute(customer=boris, tiers=tiers)
    assert (len(spent_enough), len(below)) == (0, 1)


def queries_of_a_sale(buyer, branch) -> int:
    with CaptureQueriesContext(connection) as captured:
        purchase_create(customer=buyer, branch=branch, total="100.00")
    return len(captured.captured_queries)


def test_tiers_by_invites_cost_a_friends_repeat_sale_one_count_at_most(tiers, branch):
    # given the same repeat sale by a friend, without and with tiers by invites
    referral_program_set(first_purchase_bonus=D(50), levels_percent=[D(1)])
    anna = invited()
    boris, clara = invited(anna), invited(anna)
    for friend in (boris, clara):
        purchase_create(customer=friend, branch=branch, total="100.00")
    without = queries_of_a_sale(boris, branch)
    referral_program_set(tier_invites={"Gold": 2})
    purchase_create(customer=clara, branch=branch, total="100.00")  # fills the caches
    # then it costs one count (the buyer's own friends who bought: his tier may come from them)
    assert queries_of_a_sale(boris, branch) == without + 1
    # and none when the buyer's spend already earns every tier invites give
    purchase_create(customer=boris, branch=branch, total="60000.00")
    assert queries_of_a_sale(boris, branch) == without


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_friends_first_purchases_and_the_inviters_own_sales_at_once_leave_the_right_tier():
    from tests.factories import BranchFactory, TierFactory
    from tests.threads import run_threads

    # given Gold for three friends who bought; Anna invited five friends
    TierFactory(name="Base", position=0, cashback_percent=D(5), min_total_spent=D(0))
    TierFactory(name="Gold", position=1, cashback_percent=D(10), min_total_spent=D(50000))
    branch = BranchFactory(name="Central")
    referral_program_set(levels_percent=[D(1)], tier_invites={"Gold": 3})
    anna = invited()
    friends = [invited(anna) for _ in range(5)]
    buyers = [*friends, anna, anna, anna]

    # when all five make their first purchase while Anna buys three times
    _results, errors = run_threads(len(buyers), lambda i: purchase_create(
        customer=buyers[i], branch=branch, total="100.00"))
    # then no sale failed and Anna holds Gold whatever the order
    assert errors == []
    assert effective_invites(customer_id=anna.pk) == 5
    assert tier_of(anna) == "Gold"
