from decimal import Decimal as D
from pathlib import Path

import pytest

from campaigns.models import CampaignSettings
from loyalty.exceptions import ProgramFileError
from loyalty.program import program_dump, program_load

pytestmark = pytest.mark.django_db
PRESETS = Path(__file__).resolve().parents[2] / "presets"


def test_sakura_preset_loads_its_campaigns_without_a_warning():
    report = program_load((PRESETS / "sakura.yaml").read_text())
    assert not [w for w in report.warnings if w.startswith("campaigns")]
    settings = CampaignSettings.load()
    assert (settings.birthday_points, settings.birthday_days_before,
            settings.birthday_max_redeem_percent) == (D(300), 3, D(50))
    assert (settings.winback_after_days, settings.winback_points, settings.winback_valid_days) == (
        60, D(150), 7)
    assert settings.review_as_certificate is True
    assert settings.review_platforms == ["Yandex Maps", "2GIS"]


def test_elita_preset_loads_and_has_no_winback():
    report = program_load((PRESETS / "elita.yaml").read_text())
    assert not [w for w in report.warnings if w.startswith("campaigns")]
    settings = CampaignSettings.load()
    assert (settings.birthday_points, settings.birthday_valid_days,
            settings.birthday_max_redeem_percent) == (D(1000), 14, D(20))
    assert settings.winback_points == 0
    assert (settings.review_points, settings.review_as_certificate) == (D(500), False)


def test_dump_writes_the_campaigns_back_in_the_same_shape():
    program_load((PRESETS / "sakura.yaml").read_text())
    text = program_dump()
    CampaignSettings.objects.all().delete()
    program_load(text)
    assert CampaignSettings.load().winback_points == D(150)


@pytest.mark.parametrize(("text", "path"), [
    ("campaigns: {birthday: {points: 300, days_ahead: 3}}", "campaigns.birthday.days_ahead"),
    ("campaigns: {winback: {points: 150}}", "campaigns.winback.after_days"),
    ("campaigns: {review: {points: 5, platforms: 2GIS}}", "campaigns.review.platforms"),
    ("campaigns: {welcome: {points: 5}}", "campaigns.welcome"),
])
def test_a_wrong_key_is_named_by_its_path_and_nothing_changes(text, path):
    with pytest.raises(ProgramFileError, match=path.replace(".", r"\.")):
        program_load(text)
    assert CampaignSettings.load().birthday_points == 0
