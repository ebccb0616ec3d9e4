"""Each nightly job over a simulated calendar: the right day, once, caught up after downtime."""

from datetime import date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from campaigns.models import Certificate, CertificateReason, JobRun, Notification
from campaigns.services.jobs import job_run, months_before
from loyalty.ledger_check import ledger_verify
from loyalty.models import Customer, Entry, EntryKind, Operation, OperationKind
from loyalty.selectors import customer_balances
from loyalty.services import points_adjust, purchase_create, purchase_refund
from tests.campaigns.factories import campaign_set, debt_record
from tests.factories import customer_create, program_set

pytestmark = pytest.mark.django_db
MSK = ZoneInfo("Europe/Moscow")


def birthday_certificates(customer):
    return Certificate.objects.filter(customer=customer, reason=CertificateReason.BIRTHDAY)


@pytest.fixture
def sakura_birthday(db):
    # Sakura: 300 points 3 days before the birthday, at most 50% of a bill; valid 7 days
    return campaign_set(birthday_points=D(300), birthday_days_before=3, birthday_valid_days=7,
                        birthday_max_redeem_percent=D(50))


def test_birthday_certificate_is_issued_days_before_once(sakura_birthday):
    # given a customer born on 20 May
    customer = customer_create(birthday=date(1990, 5, 20), consent_messages=True)
    # when the job runs on 16 May, nothing; on 17 May (3 days before), one certificate
    assert job_run(job="birthday", as_of=date(2026, 5, 16)) == 0
    assert job_run(job="birthday", as_of=date(2026, 5, 17)) == 1
    certificate = birthday_certificates(customer).get()
    assert (certificate.points, certificate.max_redeem_percent) == (D("300.00"), D("50.00"))
    assert (certificate.valid_from, certificate.valid_until) == (date(2026, 5, 17),
                                                                 date(2026, 5, 23))
    assert certificate.period == "2026"
    # and re-running the day, or the next days, issues nothing more
    assert job_run(job="birthday", as_of=date(2026, 5, 17)) == 0
    assert job_run(job="birthday", as_of=date(2026, 5, 18)) == 0
    # and a greeting is queued for him (he agreed to messages)
    assert Notification.objects.filter(customer=customer, certificate=certificate).count() == 1


def test_birthday_missed_day_is_caught_up_by_the_next_run(sakura_birthday):
    customer = customer_create(birthday=date(1990, 5, 20))
    job_run(job="birthday", as_of=date(2026, 5, 15))
    # the server was down on 16 and 17 May; the run of 18 May covers them
    assert job_run(job="birthday", as_of=date(2026, 5, 18)) == 1
    certificate = birthday_certificates(customer).get()
    assert certificate.valid_from == date(2026, 5, 18)  # full validity from when it was issued
    assert not Notification.objects.filter(customer=customer).exists()  # no consent, no message


def test_birthday_is_once_per_year_and_again_next_year(sakura_birthday):
    customer = customer_create(birthday=date(1990, 1, 2))
    # 3 days before 2 January 2027 is 30 December 2026: the period is the birthday's year
    assert job_run(job="birthday", as_of=date(2026, 12, 30)) == 1
    assert birthday_certificates(customer).get().period == "2027"
    assert job_run(job="birthday", as_of=date(2027, 12, 30)) == 1
    assert birthday_certificates(customer).count() == 2


@pytest.mark.parametrize(("as_of", "expected"), [
    (date(2027, 2, 24), 0), (date(2027, 2, 25), 1),  # 2027: celebrated on 28 February
    (date(2028, 2, 25), 0), (date(2028, 2, 26), 1),  # 2028 is a leap year: on 29 February
])
def test_29_february_birthday(sakura_birthday, as_of, expected):
    customer_create(birthday=date(2000, 2, 29))
    customer_create(birthday=date(2000, 2, 28)) if as_of.year == 2028 else None
    issued = job_run(job="birthday", as_of=as_of)
    leap_born = Certificate.objects.filter(customer__birthday=date(2000, 2, 29)).count()
    assert leap_born == expected
    assert issued >= expected


def test_blocked_customers_get_no_gift(sakura_birthday):
    customer_create(birthday=date(1990, 5, 20), is_blocked=True)
    assert job_run(job="birthday", as_of=date(2026, 5, 17)) == 0


def test_winback_certificate_exactly_after_days_and_again_only_after_a_new_lapse(tiers, branch):
    # given Sakura's win-back: 60 days after the last purchase, 150 points, valid 7 days
    campaign_set(winback_points=D(150), winback_after_days=60, winback_valid_days=7)
    customer = customer_create()
    with freeze_time("2026-03-01 09:00"):
        purchase_create(customer=customer, branch=branch, total=1000)
    # when the 59th day passes nothing; on the 60th (30 April) one certificate
    assert job_run(job="winback", as_of=date(2026, 4, 29)) == 0
    assert job_run(job="winback", as_of=date(2026, 4, 30)) == 1
    assert job_run(job="winback", as_of=date(2026, 4, 30)) == 0
    assert job_run(job="winback", as_of=date(2026, 5, 30)) == 0  # still lapsed: not again
    certificate = Certificate.objects.get(customer=customer, reason=CertificateReason.WINBACK)
    assert (certificate.valid_from, certificate.valid_until) == (date(2026, 4, 30),
                                                                 date(2026, 5, 6))
    # and after a new purchase and a new lapse, a second one
    with freeze_time("2026-06-01 12:00"):
        purchase_create(customer=customer, branch=branch, total=1000)
    assert job_run(job="winback", as_of=date(2026, 7, 31)) == 1
    assert Certificate.objects.filter(customer=customer, reason=CertificateReason.WINBACK).count() == 2


def test_winback_uses_the_business_day_not_utc(tiers, branch):
    campaign_set(winback_points=D(150), winback_after_days=60)
    customer = customer_create()
    with freeze_time("2026-02-28 22:30"):  # 01:30 on 1 March in Moscow
        purchase_create(customer=customer, branch=branch, total=1000)
    assert job_run(job="winback", as_of=date(2026, 4, 29)) == 0
    assert job_run(job="winback", as_of=date(2026, 4, 30)) == 1


def test_months_before_clamps_to_the_last_day_of_a_shorter_month():
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2026, 3, 10), 12) == date(2025, 3, 10)
    assert months_before(date(2025, 1, 15), 1) == date(2024, 12, 15)


def test_points_expire_exactly_months_after_the_last_payment(tiers, branch):
    # given Elita: points expire 12 months after the customer's last payment
    program_set(expiry_months_after_last_purchase=12)
    customer = customer_create(consent_messages=True)
    with freeze_time("2025-03-10 12:00"):
        purchase_create(customer=customer, branch=branch, total=10000)  # 500 points
    other = customer_create()
    with freeze_time("2025-03-11 12:00"):
        purchase_create(customer=other, branch=branch, total=1000)
    # a reminder 7 days before
    assert job_run(job="expiry", as_of=date(2026, 3, 2)) == 0
    assert not Notification.objects.filter(customer=customer).exists()
    assert job_run(job="expiry", as_of=date(2026, 3, 3)) == 0
    reminder = Notification.objects.get(customer=customer, kind="expiry_reminder")
    assert reminder.context == {"expires_on": "10.03.2026"}
    # the day before the boundary nothing expires; on the boundary day exactly his points do
    assert job_run(job="expiry", as_of=date(2026, 3, 9)) == 0
    assert job_run(job="expiry", as_of=date(2026, 3, 10)) == 1
    assert customer_balances(customer=customer)["available"] == D("0.00")
    assert customer_balances(customer=other)["available"] == D("50.00")
    expiry = Operation.objects.get(customer=customer, kind=OperationKind.EXPIRY)
    assert expiry.points == D("500.00")
    assert expiry.entries.get().kind == EntryKind.EXPIRY
    # and running it again expires nothing more
    assert job_run(job="expiry", as_of=date(2026, 3, 10)) == 0
    assert job_run(job="expiry", as_of=date(2026, 3, 11)) == 1  # the other customer
    assert ledger_verify().ok


def test_expiry_counts_from_registration_for_who_never_paid(db):
    program_set(expiry_months_after_last_purchase=12, welcome_bonus=D(5000))
    from loyalty.services import customer_register

    with freeze_time("2025-06-01 12:00"):
        customer = customer_register(phone="+79001112233")
    assert job_run(job="expiry", as_of=date(2026, 5, 31)) == 0
    assert job_run(job="expiry", as_of=date(2026, 6, 1)) == 1
    assert customer_balances(customer=customer)["available"] == D("0.00")
    assert ledger_verify().ok


def test_a_new_purchase_postpones_expiry(tiers, branch):
    program_set(expiry_months_after_last_purchase=12)
    customer = customer_create()
    with freeze_time("2025-03-10 12:00"):
        purchase_create(customer=customer, branch=branch, total=10000)
    with freeze_time("2026-01-10 12:00"):
        purchase_create(customer=customer, branch=branch, total=100)
    assert job_run(job="expiry", as_of=date(2026, 3, 10)) == 0
    assert customer_balances(customer=customer)["available"] == D("507.00")  # Silver after 10k


def test_pending_cashback_is_released_on_the_day_it_is_due(tiers, branch):
    # given a 2-day accrual delay
    program_set(accrual_delay_days=2)
    customer = customer_create()
    with freeze_time("2026-04-01 15:00"):
        purchase_create(customer=customer, branch=branch, total=1000)  # 50 pending until 3 April
    assert customer_balances(customer=customer)["pending"] == D("50.00")
    # when the job runs for 3 April (releases what fell due before that day) nothing yet
    assert job_run(job="deferred", as_of=date(2026, 4, 3)) == 0
    # and for 4 April, the 50 points become spendable, once
    assert job_run(job="deferred", as_of=date(2026, 4, 4)) == 1
    assert job_run(job="deferred", as_of=date(2026, 4, 4)) == 0
    assert job_run(job="deferred", as_of=date(2026, 4, 5)) == 0
    balances = customer_balances(customer=customer)
    assert (balances["available"], balances["pending"]) == (D("50.00"), D("0.00"))
    assert Entry.objects.filter(kind=EntryKind.RELEASE).get().amount == D("50.00")
    assert ledger_verify().ok


def test_a_refund_within_the_delay_cancels_held_points_instead_of_releasing_them(tiers, branch):
    program_set(accrual_delay_days=5)
    customer = customer_create()
    with freeze_time("2026-04-01 12:00"):
        first = purchase_create(customer=customer, branch=branch, total=1000)  # 50, due 6 April
    with freeze_time("2026-04-03 12:00"):
        purchase_create(customer=customer, branch=branch, total=600)  # 30, due 8 April
        purchase_refund(operation_id=first.operation_id)  # takes the first sale's 50 back
    # then on 7 April nothing is released (the refunded 50 are gone, the 30 are not due)
    assert job_run(job="deferred", as_of=date(2026, 4, 7)) == 0
    assert customer_balances(customer=customer)["pending"] == D("30.00")
    # and on 9 April the second sale's 30 are released
    assert job_run(job="deferred", as_of=date(2026, 4, 9)) == 1
    balances = customer_balances(customer=customer)
    assert (balances["available"], balances["pending"]) == (D("30.00"), D("0.00"))
    assert ledger_verify().ok


def test_release_repays_debt_first_and_releases_the_rest(tiers, branch):
    # given a 2-day delay, 50 points pending from a sale, and a debt of 30 recorded after it
    program_set(accrual_delay_days=2)
    customer = customer_create()
    with freeze_time("2026-04-01 15:00"):
        purchase_create(customer=customer, branch=branch, total=1000)  # 50 pending until 3 April
    debt_record(customer, "30.00")
    # when the pending points are released
    assert job_run(job="deferred", as_of=date(2026, 4, 4)) == 1
    # then 30 of them repay the debt (pending → debt) and 20 become spendable, in one operation
    balances = customer_balances(customer=customer)
    assert (balances["available"], balances["pending"], balances["debt"]) == (
        D("20.00"), D("0.00"), D("0.00"))
    release = Operation.objects.get(customer=customer, kind=OperationKind.RELEASE)
    moves = {(e.kind, e.source.kind, e.destination.kind, e.amount) for e in release.entries.all()}
    assert moves == {(EntryKind.DEBT_SETTLEMENT, "pending", "debt", D("30.00")),
                     (EntryKind.RELEASE, "pending", "available", D("20.00"))}
    assert (release.cashback, release.balance_after) == (D("50.00"), D("20.00"))
    # and a second run, or the next night, moves nothing more
    assert job_run(job="deferred", as_of=date(2026, 4, 4)) == 0
    assert job_run(job="deferred", as_of=date(2026, 4, 5)) == 0
    assert ledger_verify().ok


def test_release_smaller_than_the_debt_only_reduces_it(tiers, branch):
    # given 50 points pending and a debt of 80
    program_set(accrual_delay_days=2)
    customer = customer_create()
    with freeze_time("2026-04-01 15:00"):
        purchase_create(customer=customer, branch=branch, total=1000)
    debt_record(customer, "80.00")
    # when released, all 50 go to the debt and nothing becomes spendable
    assert job_run(job="deferred", as_of=date(2026, 4, 4)) == 1
    balances = customer_balances(customer=customer)
    assert (balances["available"], balances["pending"], balances["debt"]) == (
        D("0.00"), D("0.00"), D("-30.00"))
    release = Operation.objects.get(customer=customer, kind=OperationKind.RELEASE)
    assert [(e.kind, e.amount) for e in release.entries.all()] == [
        (EntryKind.DEBT_SETTLEMENT, D("50.00"))]
    assert release.balance_after == D("0.00")
    # and the next sale's cashback repays the rest of the debt when it is credited
    with freeze_time("2026-04-05 12:00"):
        purchase_create(customer=customer, branch=branch, total=1000)
    assert customer_balances(customer=customer)["debt"] == D("0.00")
    assert customer_balances(customer=customer)["pending"] == D("20.00")
    assert job_run(job="deferred", as_of=date(2026, 4, 8)) == 1
    assert customer_balances(customer=customer)["available"] == D("20.00")
    assert ledger_verify().ok


def test_release_after_a_referral_refund_left_debt(db, branch):
    # given Sakura with a 3-day delay: Anna invited Boris; his sale pays her a reward she spends
    from pathlib import Path

    from django.conf import settings

    from loyalty.program import program_load
    from referrals.services import referral_link
    from tests.factories import next_phone

    program_load((Path(settings.BASE_DIR) / "presets" / "sakura.yaml").read_text())
    from loyalty.services import customer_register

    anna = customer_register(phone=next_phone())
    boris = customer_register(phone=next_phone())
    referral_link(customer=boris, inviter=anna.phone, channel="till")
    with freeze_time("2026-04-01 12:00"):
        # the reward is paid at once (no delay yet) and Anna spends it
        first = purchase_create(customer=boris, branch=branch, total="2000.00")
        spendable = customer_balances(customer=anna)["available"]
        purchase_create(customer=anna, branch=branch, total="5000.00", points=spendable)
        # then the owner defers points: Anna's next cashback waits 3 days
        program_set(accrual_delay_days=3)
        purchase_create(customer=anna, branch=branch, total="5000.00")
        # when Boris's sale is refunded, the spent reward becomes Anna's debt while her own
        # cashback is still pending
        purchase_refund(operation_id=first.operation_id)
    before = customer_balances(customer=anna)
    assert before["debt"] < 0 < before["pending"]
    # then the release repays the debt first, exactly as a credit would
    assert job_run(job="deferred", as_of=date(2026, 4, 5)) >= 1
    after = customer_balances(customer=anna)
    settle = min(-before["debt"], before["pending"])
    assert after["debt"] == before["debt"] + settle
    assert after["available"] == before["available"] + before["pending"] - settle
    assert after["pending"] == D("0.00")
    assert ledger_verify().ok


def test_release_never_takes_points_held_for_a_sale_not_yet_due(tiers, branch):
    program_set(accrual_delay_days=5)
    customer = customer_create()
    with freeze_time("2026-04-01 12:00"):
        first = purchase_create(customer=customer, branch=branch, total=1000)  # 50 → 6 April
    assert job_run(job="deferred", as_of=date(2026, 4, 7)) == 1
    with freeze_time("2026-04-08 12:00"):
        purchase_create(customer=customer, branch=branch, total=600)  # 30 → 13 April
        # a refund of the already released sale takes pending points first (the second sale's)
        purchase_refund(operation_id=first.operation_id)
    assert customer_balances(customer=customer)["pending"] == D("0.00")
    assert job_run(job="deferred", as_of=date(2026, 4, 14)) == 0
    assert ledger_verify().ok


def test_nightly_tier_review_moves_customers_whose_total_changed(tiers):
    customer = customer_create()
    Customer.objects.filter(pk=customer.pk).update(total_spent=D(60000))
    assert job_run(job="tiers", as_of=date(2026, 4, 1)) == 1
    assert Customer.objects.get(pk=customer.pk).tier.name == "Gold"
    assert job_run(job="tiers", as_of=date(2026, 4, 1)) == 0


def test_each_run_is_recorded_for_catching_up(sakura_birthday):
    job_run(job="birthday", as_of=date(2026, 5, 17))
    assert JobRun.objects.filter(job="birthday", as_of=date(2026, 5, 17)).exists()


def test_expiry_posts_keep_the_ledger_balanced_with_many_customers(tiers, branch):
    program_set(expiry_months_after_last_purchase=1)
    customers = [customer_create() for _ in range(5)]
    for i, customer in enumerate(customers):
        points_adjust(customer=customer, amount=100 + i, reason="opening")
    Customer.objects.update(last_purchase_at=datetime(2026, 1, 5, 12, tzinfo=MSK))
    assert job_run(job="expiry", as_of=date(2026, 2, 5)) == 5
    assert all(customer_balances(customer=c)["available"] == 0 for c in customers)
    assert ledger_verify().ok


def test_bulk_grant_credits_spendable_and_pending_points_and_keeps_the_ledger(db):
    from loyalty.services.postings import points_grant_bulk

    a, b = customer_create(), customer_create()
    due = datetime(2026, 4, 2, 12, tzinfo=MSK)
    n = points_grant_bulk(
        rows_sql="SELECT %s AS customer_id, 120.50 AS amount, NULL AS release_at "
                 "UNION ALL SELECT %s, 30, %s",
        params=[a.pk, b.pk, due], operation_kind=OperationKind.OPENING,
        entry_kind=EntryKind.OPENING, tag="t1")
    assert n == 2
    assert customer_balances(customer=a)["available"] == D("120.50")
    assert customer_balances(customer=b)["pending"] == D("30.00")
    assert job_run(job="deferred", as_of=date(2026, 4, 3)) == 1
    assert customer_balances(customer=b)["available"] == D("30.00")
    assert ledger_verify().ok


def test_winback_missed_days_are_caught_up(tiers, branch):
    campaign_set(winback_points=D(150), winback_after_days=60)
    early, late = customer_create(), customer_create()
    with freeze_time("2026-03-01 09:00"):
        purchase_create(customer=early, branch=branch, total=100)
    with freeze_time("2026-03-02 09:00"):
        purchase_create(customer=late, branch=branch, total=100)
    assert job_run(job="winback", as_of=date(2026, 4, 28)) == 0
    # down on 29 April to 1 May: the run of 2 May covers 30 April (early) and 1 May (late)
    assert job_run(job="winback", as_of=date(2026, 5, 2)) == 2
    assert job_run(job="winback", as_of=date(2026, 5, 2)) == 0


def test_nightly_tier_review_leaves_a_tier_set_by_hand(tiers):
    customer = customer_create()
    Customer.objects.filter(pk=customer.pk).update(total_spent=D(60000), tier=tiers[0],
                                                   tier_pinned=True)
    assert job_run(job="tiers", as_of=date(2026, 4, 1)) == 0
    assert Customer.objects.get(pk=customer.pk).tier == tiers[0]
