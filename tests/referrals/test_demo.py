"""``seeddemo`` builds referral chains: a share of customers invited by others, a few generations
deep, their rewards paid by the demo's sales."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from loyalty.ledger_check import ledger_verify
from loyalty.models import Customer
from referrals.models import Referral
from referrals.selectors import referral_depth, reward_entries

pytestmark = pytest.mark.django_db


def test_seeddemo_invites_a_share_of_customers_a_few_generations_deep(sakura, branch):
    call_command("seeddemo", customers=90, months=4, seed=5, stdout=io.StringIO())
    joined = Customer.objects.filter(joined_at__isnull=False, import_batch__isnull=True).count()
    invited = Referral.objects.count()
    # about a third of those who registered were invited
    assert 0.2 * joined <= invited <= 0.5 * joined, (invited, joined)
    # chains three to five generations deep
    assert 3 <= referral_depth() <= 5
    # invited over the period, each after his inviter and at his own registration
    months = {d.month for d in Referral.objects.values_list("created_at", flat=True)}
    assert len(months) >= 3
    assert not Referral.objects.filter(created_at__gt=timezone.now()).exists()
    for referral in Referral.objects.select_related("customer"):
        assert referral.created_at == referral.customer.joined_at
    # and the friends' sales paid rewards through the ledger
    assert reward_entries().exists()
    assert ledger_verify().ok


def test_seeddemo_twice_in_one_process_starts_a_new_tree(sakura, branch):
    call_command("seeddemo", customers=40, months=2, seed=1, stdout=io.StringIO())
    first_run = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
    call_command("seeddemo", customers=40, months=2, seed=2, stdout=io.StringIO())
    second = Referral.objects.filter(customer_id__gt=first_run)
    assert Customer.objects.count() == 80 and second.exists()
    # the second run's customers were invited by customers of the second run only
    assert not second.filter(inviter_id__lte=first_run).exists()
    assert referral_depth() <= 5
