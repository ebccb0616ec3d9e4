"""Property test of the nightly ledger jobs over a simulated calendar: whatever the sequence of
sales (with an accrual delay), refunds, debts and nights, every balance equals the sum of its
entries and keeps its sign, a night run twice moves nothing the second time, and the release
repays debt before anything becomes spendable."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.services.jobs import job_run
from loyalty.exceptions import LoyaltyError
from loyalty.ledger_check import ledger_verify
from loyalty.models import Account, Operation
from loyalty.selectors import account_balance_from_entries, customer_balances
from loyalty.services import purchase_calculate, purchase_create, purchase_refund
from tests.campaigns.factories import debt_record
from tests.factories import customer_create, program_set

MSK = ZoneInfo("Europe/Moscow")
cents = st.integers(min_value=100, max_value=300_000).map(lambda c: D(c) / 100)
fraction = st.integers(min_value=0, max_value=100).map(lambda p: D(p) / 100)

step = st.one_of(
    st.tuples(st.just("buy"), st.integers(0, 2), cents, fraction),
    st.tuples(st.just("refund"), st.integers(0, 20), fraction, st.booleans()),
    st.tuples(st.just("debt"), st.integers(0, 2), st.integers(1, 20_000).map(lambda c: D(c) / 100)),
    st.tuples(st.just("night"), st.integers(1, 20)),
)


def _check_accounts(customers) -> None:
    for account in Account.objects.filter(customer__in=customers):
        assert account.balance == account_balance_from_entries(account_id=account.pk)
        assert account.balance <= 0 if account.kind == "debt" else account.balance >= 0


@pytest.mark.django_db
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=20))
def test_nightly_jobs_keep_the_ledger_and_repay_debt_first(tiers, branch, steps):
    program_set(accrual_delay_days=3, expiry_months_after_last_purchase=1)
    customers = [customer_create() for _ in range(3)]
    sales: list[int] = []
    day = date(2026, 1, 10)
    for s in steps:
        noon = datetime.combine(day, time(12), MSK)
        try:
            if s[0] == "buy":
                _, who, total, points_share = s
                with freeze_time(noon):
                    calc = purchase_calculate(customer=customers[who], total=total)
                    points = (calc.max_points * points_share).quantize(D("0.01"))
                    sales.append(purchase_create(customer=customers[who], branch=branch,
                                                 total=total, points=points).operation_id)
            elif s[0] == "refund" and sales:
                _, index, share, full = s
                sale = Operation.objects.get(pk=sales[index % len(sales)])
                amount = None if full else (sale.refundable_total * share).quantize(D("0.01"))
                with freeze_time(noon):
                    purchase_refund(operation_id=sale.pk, amount=amount)
            elif s[0] == "debt":
                debt_record(customers[s[1]], s[2])
        except LoyaltyError:
            pass  # a refused operation leaves the ledger as it was: checked below
        if s[0] == "night":
            day += timedelta(days=s[1])
            before = {c.pk: customer_balances(customer=c) for c in customers}
            job_run(job="deferred", as_of=day)
            for c in customers:
                was, now = before[c.pk], customer_balances(customer=c)
                released = was["pending"] - now["pending"]
                settled = now["debt"] - was["debt"]
                # what is released repays the debt first; only the rest becomes spendable
                assert released >= 0
                assert settled == min(-was["debt"], released)
                assert now["available"] - was["available"] == released - settled
            assert job_run(job="deferred", as_of=day) == 0
            job_run(job="expiry", as_of=day)
            assert job_run(job="expiry", as_of=day) == 0
            report = ledger_verify()  # all customers, in SQL (catches SQLite's float arithmetic)
            assert report.ok, report
        _check_accounts(customers)
    report = ledger_verify()
    assert report.ok, report
