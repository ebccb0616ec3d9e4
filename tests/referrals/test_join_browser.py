"""The invitation page in a real browser (Debian's chromium through Playwright), phone-sized."""

import os
from pathlib import Path

import pytest

from loyalty.models import Customer
from referrals.models import Referral
from referrals.services import referral_code_get

from .conftest import invited

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API runs an event loop; only for this test (monkeypatch restores it).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        context = browser.new_context(viewport={"width": 390, "height": 780}, locale="ru-RU")
        yield context.new_page()
        browser.close()


def test_a_friend_joins_from_his_phone_by_the_invitation_link(live_server, page, tmp_path):
    from loyalty.program import program_load
    from tests.referrals.conftest import PRESETS

    program_load((PRESETS / "sakura.yaml").read_text())
    anna = invited()
    Customer.objects.filter(pk=anna.pk).update(name="Анна")
    page.goto(f"{live_server.url}/join/{referral_code_get(customer=anna)}/")
    assert "Анна приглашает вас в Sakura" in page.inner_text("h1")
    # a wrong number first: the form says why, in Russian
    page.fill("input[name=phone]", "123")
    page.click("button[type=submit]")
    assert page.locator(".errorlist").count() == 1
    page.fill("input[name=phone]", "8 916 777-00-11")
    page.fill("input[name=name]", "Борис")
    page.screenshot(path=os.environ.get("JOIN_SCREENSHOT_FORM", str(tmp_path / "join.png")),
                    full_page=True)
    page.click("button[type=submit]")
    assert "+100" in page.inner_text("#joined")
    page.screenshot(path=os.environ.get("JOIN_SCREENSHOT", str(tmp_path / "joined.png")),
                    full_page=True)
    boris = Customer.objects.get(phone="+79167770011")
    assert Referral.objects.get(customer=boris).inviter_id == anna.pk
    # the page fits the phone's width: no horizontal scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
