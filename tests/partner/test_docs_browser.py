"""The Swagger UI page, looked at in a real browser (Debian's chromium through Playwright)."""

from pathlib import Path

import pytest

from tests.browser import close_playwright_side_connections

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def test_swagger_ui_shows_every_endpoint_offline(live_server, tmp_path, monkeypatch):
    # Playwright's sync API runs an event loop; Django must allow DB access from this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        outside = []
        page.on("request", lambda r: outside.append(r.url)
                if not r.url.startswith(live_server.url) and not r.url.startswith("data:") else None)
        page.goto(f"{live_server.url}/partner/v2/docs/")
        page.wait_for_selector(".opblock", timeout=20000)
        summaries = page.locator(".opblock-summary-path").all_inner_texts()
        page.screenshot(path=str(tmp_path / "swagger.png"), full_page=True)
        browser.close()
        close_playwright_side_connections()
    assert "/operations/{id}/refund" in [s.replace("\u200b", "") for s in summaries]
    assert len(summaries) == 13
    assert outside == []  # every asset is ours: no CDN
