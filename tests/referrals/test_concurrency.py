"""Sales deep in the tree credit the same ancestors at once: they queue on the account locks (taken
in primary-key order, so never deadlock) and every reward lands."""

import threading
from decimal import Decimal as D

import pytest
from django.db import close_old_connections, connection

from loyalty.ledger_check import ledger_verify
from loyalty.selectors import customer_balances
from loyalty.services import purchase_create, purchase_refund
from referrals.selectors import reward_entries
from referrals.services import referral_program_set
from tests.factories import BranchFactory, TierFactory

from .conftest import chain, invited

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def in_threads(jobs):
    errors = []
    barrier = threading.Barrier(len(jobs))

    def run(job):
        try:
            barrier.wait()
            job()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_concurrent_sales_in_one_subtree_pay_every_ancestor_exactly():
    # given levels 3/1/1, a chain Anna ← Boris ← Clara and six friends of Clara's, each with a
    # friend of his own; everyone below Clara buys at the same moment, twice
    TierFactory(name="Base", cashback_percent=D(5))
    branch = BranchFactory(name="Central")
    referral_program_set(first_purchase_bonus=D(50), levels_percent=[D(3), D(1), D(1)])
    anna, boris, clara = chain(3)
    friends = [invited(clara) for _ in range(6)]
    grandchildren = [invited(f) for f in friends]
    buyers = friends + grandchildren
    sales = []
    lock = threading.Lock()

    def buy(customer):
        def job():
            for _ in range(2):
                receipt = purchase_create(customer=customer, branch=branch, total="1000.00")
                with lock:
                    sales.append(receipt.operation_id)
        return job

    in_threads([buy(c) for c in buyers])
    # then each friend's 2 sales paid Clara 50 + 30 + 30, Boris 10 + 10, Anna 10 + 10; each
    # grandchild's paid his friend 50 + 30 + 30, Clara 10 + 10, Boris 10 + 10
    paid = {}
    for entry in reward_entries().filter(operation_id__in=sales).select_related(
            "destination"):
        paid[entry.destination.customer_id] = paid.get(entry.destination.customer_id, 0) + entry.amount
    assert paid[clara.pk] == 6 * D(110) + 6 * D(20)
    assert paid[boris.pk] == 6 * D(20) + 6 * D(20)
    assert paid[anna.pk] == 6 * D(20)
    assert all(paid[f.pk] == D(110) for f in friends)
    # and refunding all of them at once takes it all back
    in_threads([lambda op=op: purchase_refund(operation_id=op) for op in sales])
    assert customer_balances(customer=clara)["available"] == D("0.00")
    assert customer_balances(customer=anna)["available"] == D("0.00")
    assert ledger_verify().ok


def test_one_customers_simultaneous_first_sales_pay_the_bonus_once_and_count_every_sale():
    # given a friend of Anna's who has never bought, and 8 tills selling to him at the same moment
    TierFactory(name="Base", cashback_percent=D(5))
    branch = BranchFactory(name="Central")
    referral_program_set(first_purchase_bonus=D(50), levels_percent=[D(3)])
    anna = invited()
    friend = invited(anna)
    in_threads([lambda: purchase_create(customer=friend, branch=branch, total="100.00")
                for _ in range(8)])
    # then the sales queued on his accounts, and each one saw the one before it: the bonus is paid
    # for the first only, and his totals count all eight
    friend.refresh_from_db()
    assert friend.purchase_count == 8
    assert friend.total_spent == D("800.00")
    rewards = sorted(e.amount for e in reward_entries().filter(destination__customer=anna))
    assert rewards == [D("3.00")] * 7 + [D("53.00")]
    assert ledger_verify().ok
