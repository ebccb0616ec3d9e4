"""The owner's certificate list and review form in a real browser (Debian's chromium)."""

import os
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from tests.browser import close_playwright_side_connections
from tests.campaigns.factories import campaign_set, certificate_make
from tests.factories import customer_create

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def page(live_server, monkeypatch):
    # Playwright's sync API runs an event loop; only for this test (monkeypatch restores it).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    get_user_model().objects.create_superuser("owner", "o@example.com", "pass12345")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "owner")
        page.fill("#id_password", "pass12345")
        page.click("input[type=submit]")
        yield page
        browser.close()
        close_playwright_side_connections()


def test_owner_sees_certificate_counts_and_marks_a_review(page, live_server, tmp_path):
    campaign_set(review_points=D(500), review_platforms=["2GIS"])
    customer = customer_create(name="Anna")
    certificate_make(points=300, customer=customer)
    page.goto(f"{live_server.url}/admin/campaigns/certificate/")
    assert "revenue by certificates" in page.content()
    page.screenshot(path=os.environ.get("CERTIFICATES_SCREENSHOT",
                                        str(tmp_path / "certificates.png")), full_page=True)
    page.goto(f"{live_server.url}/admin/campaigns/reviewmark/add/")
    page.fill("#id_phone", customer.phone)
    page.select_option("#id_platform", "2GIS")
    page.fill("#id_link", "https://2gis.ru/r/1")
    page.click("input[type=submit]")
    assert "The review is marked and rewarded." in page.content()
    page.goto(f"{live_server.url}/admin/campaigns/reviewmark/add/")
    page.fill("#id_phone", customer.phone)
    page.click("input[type=submit]")
    assert "already rewarded" in page.content()
    page.screenshot(path=os.environ.get("REVIEW_SCREENSHOT", str(tmp_path / "review.png")),
                    full_page=True)
