"""Races on real PostgreSQL: a certificate presented at two tills, a nightly job during a sale."""

import threading
from datetime import date
from decimal import Decimal as D

import pytest
from django.db import connection, transaction

from campaigns.models import Certificate, CertificateStatus
from campaigns.services.jobs import job_run
from loyalty.exceptions import LoyaltyError
from loyalty.ledger_check import ledger_verify
from loyalty.locks import customer_accounts_lock
from loyalty.models import Customer
from loyalty.selectors import customer_balances
from loyalty.services import points_adjust, purchase_create
from tests.campaigns.factories import certificate_make
from tests.factories import customer_create, program_set

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def in_thread(target, results):
    def run():
        try:
            results.append(target())
        except LoyaltyError as exc:
            results.append(exc)
        finally:
            connection.close()
    return threading.Thread(target=run)


def test_a_certificate_presented_at_two_tills_at_once_pays_once(tiers, branch):
    customer = customer_create()
    certificate = certificate_make(points=100, customer=customer)
    results, barrier = [], threading.Barrier(2)

    def sell():
        barrier.wait()
        return purchase_create(customer=customer, branch=branch, total=1000,
                               certificate_code=certificate.code)

    threads = [in_thread(sell, results) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for r in results if isinstance(r, LoyaltyError)) == 1
    assert Certificate.objects.get(pk=certificate.pk).status == CertificateStatus.USED
    assert ledger_verify().ok


def _expiry_while_a_till_holds(customer, *, before_commit=lambda: None) -> list:
    """Run the expiry job of 1 June 2026 while a till holds ``customer``'s accounts; the till runs
    ``before_commit`` in its transaction once the job waits for it. Returns [the till's result,
    the job's], after checking that the job did wait."""
    locked, release = threading.Event(), threading.Event()
    results = []

    def till():
        with transaction.atomic():
            customer_accounts_lock(customer_ids=[customer.pk])
            locked.set()
            release.wait(5)
            before_commit()
        return "till done"

    def job():
        locked.wait(5)
        return job_run(job="expiry", as_of=date(2026, 6, 1))

    threads = [in_thread(till, results), in_thread(job, results)]
    for t in threads:
        t.start()
    locked.wait(5)
    threads[1].join(0.5)
    assert threads[1].is_alive()  # the job waits for the till's lock
    release.set()
    for t in threads:
        t.join()
    return results


def _expiring_customer():
    """A customer holding 500 points whose last payment was long enough ago for them to expire."""
    program_set(expiry_months_after_last_purchase=12)
    customer = customer_create()
    points_adjust(customer=customer, amount=500, reason="opening")
    Customer.objects.filter(pk=customer.pk).update(last_purchase_at="2025-01-01T12:00:00+03:00")
    return customer


def test_the_expiry_job_waits_for_a_sale_holding_the_customers_lock(tiers, branch):
    # given a customer whose points expire today and a till that has just locked his accounts
    customer = _expiring_customer()
    # then the job waits for the till, then expires them
    assert _expiry_while_a_till_holds(customer) == ["till done", 1]
    assert customer_balances(customer=customer)["available"] == D("0.00")
    assert ledger_verify().ok


def test_a_sale_that_commits_while_the_expiry_waits_for_the_customer_saves_his_points(
        tiers, branch):
    # given a customer whose points expire today, and a till that has locked his accounts for a
    # sale just before the expiry job read the customers
    customer = _expiring_customer()

    def he_pays():  # the sale's effect on the customer: he paid today
        Customer.objects.filter(pk=customer.pk).update(
            last_purchase_at="2026-06-01T00:05:00+03:00")

    # then the job saw the payment made while it waited: nothing expired
    assert _expiry_while_a_till_holds(customer, before_commit=he_pays) == ["till done", 0]
    assert customer_balances(customer=customer)["available"] == D("500.00")
    assert ledger_verify().ok


def _inactive_customers_with_points(n):
    customers = []
    for _ in range(n):
        customer = customer_create()
        points_adjust(customer=customer, amount=100, reason="opening")
        customers.append(customer)
    Customer.objects.filter(pk__in=[c.pk for c in customers]).update(
        last_purchase_at="2025-01-01T12:00:00+03:00")
    return customers


def test_the_expiry_posts_slices_of_customers_side_by_side(tiers, branch, settings, monkeypatch):
    from loyalty.models import Operation, OperationKind
    from loyalty.services import postings

    # given seven customers whose points expire, in slices of two customers, two at a time
    settings.BULK_POSTING_SLICE, settings.BULK_POSTING_WORKERS = 2, 2
    program_set(expiry_months_after_last_purchase=12)
    customers = _inactive_customers_with_points(7)
    threads = set()
    real = postings._points_expire_slice

    def watched(**kwargs):
        threads.add(threading.get_ident())
        return real(**kwargs)

    monkeypatch.setattr(postings, "_points_expire_slice", watched)
    # when the job runs, then every customer's points expired once, by two threads
    assert job_run(job="expiry", as_of=date(2026, 6, 1)) == 7
    assert len(threads) == 2
    assert all(customer_balances(customer=c)["available"] == D("0.00") for c in customers)
    assert Operation.objects.filter(kind=OperationKind.EXPIRY).count() == 7
    assert job_run(job="expiry", as_of=date(2026, 6, 1)) == 0
    assert ledger_verify().ok


def test_a_slice_that_fails_keeps_the_others_and_the_next_run_finishes(
        tiers, branch, settings, monkeypatch):
    from campaigns.models import JobRun
    from loyalty.models import Operation, OperationKind
    from loyalty.services import postings

    settings.BULK_POSTING_SLICE, settings.BULK_POSTING_WORKERS = 2, 2
    program_set(expiry_months_after_last_purchase=12)
    customers = _inactive_customers_with_points(6)
    unlucky = customers[3].pk
    real = postings._points_expire_slice

    def failing(**kwargs):
        if kwargs["low"] <= unlucky < kwargs["high"]:
            raise RuntimeError("the database went away")
        return real(**kwargs)

    # given one slice fails
    monkeypatch.setattr(postings, "_points_expire_slice", failing)
    with pytest.raises(RuntimeError):
        job_run(job="expiry", as_of=date(2026, 6, 1))
    # then the other slices are posted, and the day is not recorded as done
    assert Operation.objects.filter(kind=OperationKind.EXPIRY).count() == 4
    assert customer_balances(customer=customers[3])["available"] == D("100.00")
    assert not JobRun.objects.filter(job="expiry").exists()
    # when it runs again, the missing slice is posted, and nobody twice
    monkeypatch.setattr(postings, "_points_expire_slice", real)
    assert job_run(job="expiry", as_of=date(2026, 6, 1)) == 2
    assert Operation.objects.filter(kind=OperationKind.EXPIRY).count() == 6
    assert ledger_verify().ok
