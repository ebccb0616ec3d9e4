from datetime import date
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask
from freezegun import freeze_time

from loyalty.ledger_check import ledger_verify
from loyalty.services import purchase_create
from tests.campaigns.factories import campaign_set
from tests.factories import customer_create, program_set

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = StringIO()
    call_command("runcampaigns", *args, stdout=out)
    return out.getvalue().splitlines()


def test_runcampaigns_prints_each_job_and_a_second_run_prints_zeros(tiers, branch):
    program_set(accrual_delay_days=1, expiry_months_after_last_purchase=12)
    campaign_set(birthday_points=D(300), birthday_days_before=3, winback_points=D(150),
                 winback_after_days=60)
    customer_create(birthday=date(1990, 5, 20))
    with freeze_time("2026-03-18 12:00"):
        purchase_create(customer=customer_create(), branch=branch, total=1000)
    with freeze_time("2025-05-17 12:00"):
        purchase_create(customer=customer_create(), branch=branch, total=1000)
    assert run("--date", "2026-05-17") == [
        "birthday: 1", "winback: 1", "deferred: 2", "expiry: 1", "tiers: 0", "phonechecks: 0",
    ]
    assert run("--date", "2026-05-17") == [
        "birthday: 0", "winback: 0", "deferred: 0", "expiry: 0", "tiers: 0", "phonechecks: 0",
    ]
    assert ledger_verify().ok


def test_runcampaigns_only_one_job():
    assert run("--date", "2026-05-17", "--only", "tiers") == ["tiers: 0"]


def test_a_fresh_install_has_the_nightly_schedules():
    names = set(PeriodicTask.objects.filter(name__startswith="campaigns: ")
                .values_list("name", flat=True))
    assert names == {"campaigns: birthday", "campaigns: winback", "campaigns: expiry",
                     "campaigns: deferred", "campaigns: tiers", "campaigns: send messages"}
    task = PeriodicTask.objects.get(name="campaigns: expiry")
    assert task.task == "campaigns.job_run" and task.crontab is not None
