from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from loyalty.services import purchase_create, purchase_refund
from referrals.selectors import (
    customer_referrals,
    referral_depth,
    referral_joined,
    referral_revenue,
    referral_rewards_by_level,
    referral_tree_stats,
)

from .conftest import chain, invited

pytestmark = pytest.mark.django_db


def test_dashboard_figures_of_a_small_tree(elita, branch):
    # given Anna ← Boris ← Clara ← Denis and Anna ← Oleg; Boris, Denis and Oleg buy
    anna, boris, clara, denis = chain(4)
    oleg = invited(anna)
    invited()  # a customer who came on his own

    def buy(customer, total, n):
        return purchase_create(customer=customer, branch=branch, total=total, receipt_number=n)

    buy(boris, "1000.00", "1")  # Anna 50 + 30
    sale = buy(denis, "2000.00", "2")  # Clara 50 + 60, Boris 20, Anna 20
    buy(oleg, "500.00", "3")  # Anna 50 + 15
    purchase_refund(operation_id=sale.operation_id, amount="500.00")  # a quarter back

    # then
    now = timezone.now()
    assert referral_joined(since=now - timedelta(hours=1)) == referral_joined()
    joined = referral_joined()
    assert (joined.joined, joined.bought) == (4, 3)
    assert referral_joined(until=now - timedelta(hours=1)).joined == 0
    assert referral_depth() == 3
    assert referral_revenue() == D("3000.00")  # 1000 + (2000 − 500) + 500
    levels = {r.level: r for r in referral_rewards_by_level()}
    assert (levels[1].sales, levels[1].paid) == (3, D("255.00"))
    assert levels[1].reversed == D("27.50") and levels[1].net == D("227.50")
    assert (levels[2].paid, levels[2].reversed) == (D("20.00"), D("5.00"))
    assert (levels[3].paid, levels[3].reversed) == (D("20.00"), D("5.00"))

    mine = customer_referrals(customer=anna)
    assert mine.inviter is None
    assert mine.invitees_per_level == {1: 2, 2: 1, 3: 1}
    assert (mine.generations, mine.effective_invites) == (3, 2)
    assert mine.rewards_net == D("160.00")  # 80 (Boris) + 20 − 5 (Denis, refunded ¼) + 65 (Oleg)
    assert customer_referrals(customer=denis).inviter == clara

    stats = referral_tree_stats()
    assert stats.customers_per_generation == {1: 2, 2: 1, 3: 1}
    assert (stats.invited, stats.bought, stats.roots, stats.depth) == (4, 3, 1, 3)
    assert stats.top_inviters[0] == (anna, 2, 2)
