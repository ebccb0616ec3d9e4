from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from loyalty.exceptions import ProgramFileError
from loyalty.models import Branch, BusinessSettings, Tier
from loyalty.program import program_dump, program_load
from loyalty.services import purchase_create
from tests.factories import customer_create

pytestmark = pytest.mark.django_db
PRESETS = Path(__file__).resolve().parents[2] / "presets"


@pytest.mark.parametrize("preset", ["sakura.yaml", "elita.yaml"])
def test_presets_load_and_dump_round_trips(preset):
    text = (PRESETS / preset).read_text(encoding="utf-8")
    program_load(text)
    dumped = program_dump()
    program_load(dumped)  # what we print loads back unchanged
    assert program_dump() == dumped
    source = yaml.safe_load(text)
    assert [t["name"] for t in yaml.safe_load(dumped)["tiers"]] == [
        t["name"] for t in source["tiers"]
    ]


def test_sakura_program_matches_the_case_study():
    program_load((PRESETS / "sakura.yaml").read_text(encoding="utf-8"))
    settings = BusinessSettings.load()
    assert settings.welcome_bonus == D(100)
    assert list(Tier.objects.order_by("min_total_spent").values_list("cashback_percent", flat=True)) \
        == [D(3), D(5), D(7), D(10), D(12)]


def test_elita_caps_and_expiry():
    program_load((PRESETS / "elita.yaml").read_text(encoding="utf-8"))
    settings = BusinessSettings.load()
    assert settings.welcome_bonus == D(5000) and settings.expiry_months_after_last_purchase == 12
    caps = list(Tier.objects.order_by("min_total_spent").values_list("max_redeem_percent", flat=True))
    assert caps[0] == D(5) and caps[-1] == D(30)


@pytest.mark.parametrize("text,where", [
    ("points: {welcom_bonus: 5}", "points.welcom_bonus"),
    ("tiers:\n  - {name: A, cashback_percent: 300}", "tiers[0].cashback_percent"),
    ("tiers:\n  - {name: A}", "tiers[0].cashback_percent"),
    ("bussiness: {name: X}", "bussiness"),
    ("points: {redeem_by_phone: maybe}", "points.redeem_by_phone"),
    ("tiers:\n  - {name: A, cashback_percent: 3, min_total_spent: 100}", "tiers[0].min_total_spent"),
    ("tiers: [", "YAML"),
    ("business: {name: X, timezone: Mars/Olympus}", "business.timezone"),
    ("business: {name: X, language: xx}", "business.language"),
    ("business: {name: X, currency: rub}", "business.currency"),
])
def test_invalid_file_names_the_key_and_changes_nothing(text, where):
    program_load("business: {name: Before}\ntiers:\n  - {name: T, cashback_percent: 1}")
    with pytest.raises(ProgramFileError) as err:
        program_load("business: {name: After}\n" + text if not text.startswith("bus") else text)
    assert where in str(err.value)
    assert BusinessSettings.load().name == "Before"
    assert list(Tier.objects.values_list("name", flat=True)) == ["T"]


def test_reloading_with_changed_tiers_reassigns_customers(branch):
    program_load("tiers:\n  - {name: A, cashback_percent: 1}\n  - {name: B, cashback_percent: 2, "
                 "min_total_spent: 1000}")
    customer = customer_create()
    purchase_create(customer=customer, branch=branch, total=600)
    program_load("tiers:\n  - {name: A, cashback_percent: 1}\n  - {name: B, cashback_percent: 2, "
                 "min_total_spent: 500}")
    customer.refresh_from_db()
    assert customer.tier.name == "B"


def test_commands(tmp_path, capsys):
    call_command("loadprogram", str(PRESETS / "sakura.yaml"))
    assert Branch.objects.count() == 2
    call_command("dumpprogram")
    assert "Новичок" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("points: {nope: 1}", encoding="utf-8")
    with pytest.raises(CommandError, match="points.nope"):
        call_command("loadprogram", str(bad))
