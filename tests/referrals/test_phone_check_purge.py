"""The nightly purge of the join page's working data: phone checks whose code expired or was used
more than a day ago (and whose hour of sends is over), and counters of hours that are over."""

from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask
from freezegun import freeze_time

from config.celery import app
from referrals.models import PhoneCheck, PhoneCheckCounter
from referrals.services import phone_check_confirm, phone_check_send, phone_checks_purge
from referrals.tasks import phone_checks_purge as purge_task

from .conftest import code_sent_to

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-11-26T03:30:00+00:00")
HOME = "203.0.113.7"


def sent(phone: str, at: datetime, *, used: bool = False) -> None:
    with freeze_time(at):
        phone_check_send(phone=phone, address=HOME)
        if used:
            phone_check_confirm(phone=phone, code=code_sent_to(phone))


def left() -> list[str]:
    return sorted(PhoneCheck.objects.values_list("phone", flat=True))


def test_the_purge_deletes_spent_checks_and_past_hours_in_one_statement_per_table():
    # given codes of all ages (it is 3:30)
    sent("+79160000001", NOW - timedelta(days=2))  # expired long ago, never typed
    sent("+79160000002", NOW - timedelta(hours=25), used=True)  # used more than a day ago
    sent("+79160000003", NOW - timedelta(hours=23, minutes=51))  # expired 23 h 41 min ago
    sent("+79160000004", NOW - timedelta(hours=2), used=True)  # used today
    sent("+79160000005", NOW - timedelta(minutes=5))  # still valid
    sent("+79160000006", NOW - timedelta(minutes=31))  # at 2:59: its hour's counters are over
    # a check whose code is long dead but whose hour of sends is not over (made by hand: a send
    # renews both) stays, since the per-number limit still reads it
    sent("+79160000007", NOW - timedelta(days=3))
    PhoneCheck.objects.filter(phone="+79160000007").update(
        window_started_at=NOW - timedelta(minutes=30))
    assert PhoneCheckCounter.objects.count() == 14  # 7 different hours, for him and for all
    # when the purge runs
    with freeze_time(NOW), CaptureQueriesContext(connection) as queries:
        deleted = phone_checks_purge()
    # then the spent checks and the finished hours are gone, one DELETE each, nothing loaded
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["DELETE", "DELETE"]
    assert left() == ["+79160000003", "+79160000004", "+79160000005", "+79160000006",
                      "+79160000007"]
    this_hour = NOW.replace(minute=0)
    assert set(PhoneCheckCounter.objects.values_list("key", "window_start")) == {
        (f"ip:{HOME}", this_hour), ("all", this_hour)}
    assert deleted == 2 + 12
    # and a second run finds nothing more
    with freeze_time(NOW):
        assert phone_checks_purge() == 0


def test_a_purged_number_asks_again_as_a_new_one():
    sent("+79160000001", NOW - timedelta(days=2))
    with freeze_time(NOW):
        phone_checks_purge()
        assert left() == []
        phone_check_send(phone="+79160000001", address=HOME)
        phone_check_confirm(phone="+79160000001", code=code_sent_to("+79160000001"))
    assert PhoneCheck.objects.get().sends_in_window == 1


def test_the_nightly_task_purges_and_beat_runs_it_after_the_campaigns():
    sent("+79160000001", NOW - timedelta(days=2))
    assert "referrals.phone_checks_purge" in app.tasks
    with freeze_time(NOW):
        assert purge_task.delay().get() >= 1
    assert left() == []
    task = PeriodicTask.objects.get(name="referrals: purge phone checks")
    assert task.task == "referrals.phone_checks_purge" and task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("0", "55")


def test_runcampaigns_purges_too_for_the_embedded_default_without_beat():
    # No beat there: the nightly cron line runs runcampaigns, which runs the purge after the jobs.
    sent("+79160000001", NOW - timedelta(days=2))
    out = StringIO()
    with freeze_time(NOW):
        call_command("runcampaigns", "--only", "phonechecks", stdout=out)
    assert out.getvalue().splitlines() == ["phonechecks: 3"]  # the check and two counters
    assert left() == []


def test_a_check_purged_between_its_insert_and_its_lock_is_made_again(monkeypatch):
    # The send's INSERT ... ON CONFLICT DO NOTHING found the old row, then the purge deleted it
    # before the send locked it: the send makes it again instead of failing.
    phone = "+79160000001"
    sent(phone, NOW - timedelta(days=2))
    real = PhoneCheck.objects.bulk_create
    raced = []

    def racing(objs, **kwargs):
        result = real(objs, **kwargs)
        if not raced:
            raced.append(True)
            with freeze_time(NOW):
                phone_checks_purge()
        return result

    monkeypatch.setattr(PhoneCheck.objects, "bulk_create", racing)
    with freeze_time(NOW):
        phone_check_send(phone=phone, address=HOME)
    assert raced and PhoneCheck.objects.get(phone=phone).sent_at == NOW
