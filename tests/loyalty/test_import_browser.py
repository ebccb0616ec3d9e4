"""The import screens in a real browser (Debian's chromium through Playwright)."""

from pathlib import Path

import pytest

from loyalty.models import Customer, ImportBatch, ImportState
from tests.browser import close_playwright_side_connections

MESSY = Path(__file__).parent / "fixtures" / "messy_utf8_bom_semicolon.csv"
CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]


@pytest.mark.django_db(transaction=True)
def test_owner_uploads_checks_and_imports_a_base(live_server, admin_user, tiers, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; Django's ORM calls below are ours, not async.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "password")
        page.click("input[type=submit]")
        # given the owner uploads the messy file
        page.goto(f"{live_server.url}/admin/loyalty/importbatch/add/")
        page.set_input_files("#id_file", str(MESSY))
        page.click("input[type=submit]")
        # then the preview shows the counts and the reasons, and nothing is written yet
        counts = page.inner_text("#import-counts")
        assert "6" in counts and "1500.50" in counts
        assert "duplicate: the same phone is on line 2" in page.inner_text("#import-problems")
        assert not Customer.objects.exists()
        # when he imports
        page.click("input[name=run]")
        # then the result page shows the counts and offers the rejected rows
        result = page.inner_text("#import-result")
        assert "6" in result and "4" in result
        assert page.locator("text=Download the rejected rows").count() == 1
        browser.close()
        close_playwright_side_connections()
    assert ImportBatch.objects.get().state == ImportState.DONE
    assert Customer.objects.count() == 6
