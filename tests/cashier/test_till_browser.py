"""The till in a real browser (Debian's chromium through Playwright), as a new cashier uses it.

Set ``TILL_SCREENSHOTS=docs/screenshots`` to save a screenshot of each step there
(``scripts/screenshots.sh`` does it); without it the tests only check.
"""

import os
import re
from decimal import Decimal as D
from pathlib import Path

import pytest

from loyalty.services import customer_register, points_adjust
from tests.browser import close_playwright_side_connections
from tests.factories import program_set

from .conftest import PASSWORD, cashier_make

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = os.environ.get("TILL_SCREENSHOTS", "")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian's chromium (/usr/bin/chromium) is not installed: "
                              "`make test` installs it when run as root"),
]


TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}


# Generous: CI shares 2 cores with PostgreSQL and chromium; a slow step is not a failure.
BROWSER_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright():
    """Playwright's sync API keeps an event loop running in this thread; the tests' own ORM calls
    are plain synchronous ones, so allow them here only (the variable must not leak into other
    tests: Django's deploy check refuses it)."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()
        close_playwright_side_connections()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=TABLET, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    yield page
    context.close()
    close_playwright_side_connections()


def shot(page, name: str, *, full_page: bool = False) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page)


def log_in(page, live_server, username: str, *, screenshot: str = "") -> None:
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    if screenshot:
        shot(page, screenshot)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(re.compile(r"/till/$"))


def key_in(field, text: str) -> None:
    """Type ``text`` into an empty ``field`` key by key, as a cashier does. On a loaded machine a
    field sometimes ended up holding other digits too (an answer swapped in while keys were
    typed); a cashier would see it and retype, and so does the test rather than wait 30 s for the
    wrong page."""
    field.type(text)
    if field.input_value() != text:
        field.fill(text)


def find(page, text: str) -> None:
    search = page.locator("#id_q")
    search.fill("")
    key_in(search, text)


@pytest.fixture
def shop(tiers, branch):
    """A branch with its cashier, a 100-point welcome bonus and Anna, who holds 600 points."""
    program_set(welcome_bonus=D(100))
    cashier_make(username="olga", branch=branch, first_name="Olga")
    anna = customer_register(phone="+79001234567", name="Anna Smirnova")
    points_adjust(customer=anna, amount=500, reason="migrated balance")
    return anna


def test_a_new_cashier_serves_a_queue(page, live_server, shop):
    # Log in: the site root sends a cashier to the till's login.
    log_in(page, live_server, "olga", screenshot="01-login")
    shot(page, "02-till-start")

    # Find Anna by her number spelled the way she says it; results appear as the cashier types.
    find(page, "8 (900) 123-45-67")
    page.locator("#first-result").wait_for()
    shot(page, "03-search-results")
    page.locator("#id_q").press("Enter")
    page.get_by_role("heading", name="Anna Smirnova").wait_for()
    assert page.get_by_test_id("spendable").inner_text() == "600"

    # Sell 1 000 with redemption: the points follow the maximum (30% of the bill).
    total = page.get_by_label("Bill total")
    assert page.evaluate("document.activeElement.id") == "id_total"  # focus is on the total
    key_in(total, "1000")
    page.get_by_test_id("calc-cash").wait_for()
    assert page.get_by_test_id("calc-points").inner_text().startswith("300")
    assert page.get_by_test_id("calc-cash").inner_text() == "700"
    assert page.get_by_test_id("calc-cashback").inner_text().startswith("35")
    assert page.locator("#id_points").input_value() == "300"
    shot(page, "04-sale-calculated")
    total.press("Enter")

    # The receipt: what was redeemed, paid, credited, and the new balance; search is ready again.
    page.get_by_role("heading", name=re.compile("Sale recorded")).wait_for()
    assert page.get_by_test_id("receipt-points").inner_text() == "300"
    assert page.get_by_test_id("receipt-cash").inner_text() == "700"
    assert page.get_by_test_id("receipt-cashback").inner_text() == "35"
    assert page.get_by_test_id("receipt-balance").inner_text() == "335"
    assert page.evaluate("document.activeElement.id") == "id_q"
    shot(page, "05-receipt")

    # Over-redemption: the cashier types more points than the cap allows; a plain-words error.
    find(page, "4567")
    page.locator("#first-result").wait_for()
    page.locator("#id_q").press("Enter")
    key_in(page.get_by_label("Bill total"), "500")
    page.get_by_test_id("calc-cash").wait_for()
    page.locator("#id_points").fill("")
    key_in(page.locator("#id_points"), "300")
    error = page.locator("#calc .errors")
    error.wait_for()
    assert "At most 150 points can be redeemed on this bill." in error.inner_text()
    page.get_by_role("button", name="Confirm sale").click()
    page.locator(".field.invalid .error").wait_for()
    assert "At most 150 points" in page.locator(".field.invalid .error").inner_text()
    shot(page, "06-over-redemption-error")

    # Register a newcomer: an unknown number offers "sell to this number" and "register".
    find(page, "+7 912 000-11-22")
    page.get_by_role("button", name="Sell to this number").wait_for()
    shot(page, "07-unknown-number")
    page.get_by_role("link", name="Register", exact=True).last.click()
    page.get_by_label("Name").fill("Boris Petrov")
    page.get_by_label("Birthday").fill("1990-05-17")
    page.get_by_label("Agrees to receive messages").check()
    shot(page, "08-register-form")
    page.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="Boris Petrov").wait_for()
    assert "Welcome bonus: 100" in page.locator(".notice").inner_text()
    assert page.get_by_test_id("spendable").inner_text() == "100"
    shot(page, "09-registered")

    # The shift: today's sale; open it and refund part of it, confirming first.
    page.get_by_role("link", name="My shift").click()
    page.get_by_role("heading", name="My shift today").wait_for()
    assert page.get_by_test_id("shift-sales").inner_text() == "1"
    shot(page, "10-shift")
    page.locator("table.history a").first.click()
    page.get_by_label("Amount to refund").fill("500")
    page.get_by_role("button", name="Refund…").click()
    page.get_by_role("button", name="Yes, refund").wait_for()
    # half of a 1 000 bill paid 300 in points: 350 of the 700 in money goes back
    assert page.get_by_test_id("refund-cash").inner_text() == "350"
    shot(page, "11-refund-confirm")
    page.get_by_role("button", name="Yes, refund").click()
    page.locator(".notice").wait_for()
    assert ("Refunded 500: give back 350 in money; 150 points returned, 17.50 points of cashback "
            "taken back") in page.locator(".notice").inner_text()
    assert page.get_by_test_id("refunded-total").inner_text() == "500"
    shot(page, "12-refunded", full_page=True)


def test_keyboard_only_sale_and_russian_screen(page, live_server, shop):
    # given a cashier who never touches the mouse
    log_in(page, live_server, "olga")
    # Tab from the search box reaches the Find button; Enter picks the single match.
    key_in(page.locator("#id_q"), "9001234567")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Anna Smirnova").wait_for()
    # Focus lands on the bill total (set by the page's script right after the swap); Tab walks
    # the fields in order.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id_total'")
    page.keyboard.type("200")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_excluded_total"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_points"
    page.keyboard.type("0")  # the customer keeps his points this time
    page.get_by_test_id("calc-cash").wait_for()
    page.wait_for_function("document.querySelector('[data-testid=calc-cash]').innerText === '200'")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile("Sale recorded")).wait_for()
    assert page.get_by_test_id("receipt-points").inner_text() == "0"
    assert page.get_by_test_id("receipt-cashback").inner_text() == "10"

    # The language switch: the same screen in Russian.
    page.get_by_role("button", name="RU").click()
    page.get_by_role("heading", name=re.compile("Продажа проведена")).wait_for()
    shot(page, "13-receipt-russian")
    key_in(page.locator("#id_q"), "4567")
    page.locator("#first-result").wait_for()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Anna Smirnova").wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id_total'")
    page.keyboard.type("1000")
    page.get_by_test_id("calc-cash").wait_for()
    shot(page, "14-customer-russian")


def test_the_till_fits_a_phone(browser, live_server, shop):
    context = browser.new_context(viewport=PHONE, locale="en-US", device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    log_in(page, live_server, "olga")
    key_in(page.locator("#id_q"), "4567")
    page.locator("#first-result").wait_for()
    page.locator("#first-result").tap()
    key_in(page.get_by_label("Bill total"), "1000")
    page.get_by_test_id("calc-cash").wait_for()
    # nothing is wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "15-phone", full_page=True)
    context.close()
    close_playwright_side_connections()


def test_a_sale_whose_answer_is_lost_is_not_recorded_twice_on_retry(page, live_server, shop):
    from loyalty.models import Operation

    log_in(page, live_server, "olga")
    key_in(page.locator("#id_q"), "9001234567")
    page.keyboard.press("Enter")
    key_in(page.get_by_label("Bill total"), "1000")
    page.get_by_test_id("calc-cash").wait_for()

    # given the network drops the server's answer to the first confirmation (the sale is made)
    def answer_lost(route):
        route.fetch()
        route.abort()

    page.route("**/sell/", answer_lost)
    page.get_by_role("button", name="Confirm sale").click()
    trouble = page.locator("#till-trouble")
    trouble.wait_for()
    assert "No connection to the server" in trouble.inner_text()
    shot(page, "16-connection-lost")
    # when the cashier presses Confirm again on the same form
    page.unroute("**/sell/")
    page.get_by_role("button", name="Confirm sale").click()
    # then the till shows the first sale's receipt, and there is one sale
    page.get_by_role("heading", name=re.compile("This sale was already recorded")).wait_for()
    assert trouble.is_hidden()
    assert Operation.objects.filter(kind="purchase").count() == 1


def test_a_certificate_from_the_panel_pays_its_share_and_a_review_is_marked_once(
        page, live_server, shop):
    from campaigns.models import CertificateStatus
    from tests.campaigns.factories import campaign_set, certificate_make

    # given Anna's birthday certificate (500 points, at most 20% of a bill) and a review campaign
    gift = certificate_make(points=500, customer=shop, max_redeem_percent=20)
    campaign_set(review_points=D(200), review_platforms=["2GIS", "Yandex Maps"])
    log_in(page, live_server, "olga")
    key_in(page.locator("#id_q"), "9001234567")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Anna Smirnova").wait_for()

    # when the cashier clicks the certificate in her panel and types the bill
    page.get_by_role("button", name=gift.code).click()
    assert page.get_by_label("Certificate code").input_value() == gift.code
    key_in(page.get_by_label("Bill total"), "1000")
    page.get_by_test_id("calc-certificate").wait_for()
    # then the certificate pays its 20%, her points the tier's 30%, the rest is money
    assert page.get_by_test_id("calc-certificate").inner_text() == "200"
    page.wait_for_function("document.querySelector('[data-testid=calc-cash]').innerText === '500'")
    shot(page, "17-certificate-calculated")
    page.get_by_role("button", name="Confirm sale").click()
    page.get_by_role("heading", name=re.compile("Sale recorded")).wait_for()
    assert page.get_by_test_id("receipt-certificate").inner_text() == "200"
    assert page.get_by_test_id("receipt-cash").inner_text() == "500"
    gift.refresh_from_db()
    assert gift.status == CertificateStatus.USED

    # and "Left a review" on 2GIS is rewarded once; a second mark is refused in plain words
    key_in(page.locator("#id_q"), "4567")
    page.locator("#first-result").wait_for()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Left a review").wait_for()
    page.get_by_label("Platform").select_option("2GIS")
    page.get_by_role("button", name="Record the review").click()
    page.locator(".notice").wait_for()
    assert "The review on 2GIS is recorded and rewarded." in page.locator(".notice").inner_text()
    page.get_by_label("Platform").select_option("2GIS")
    page.get_by_role("button", name="Record the review").click()
    page.locator(".review .error").wait_for()
    assert "already rewarded for a review on 2GIS" in page.locator(".review .error").inner_text()
    shot(page, "18-review-refused")


def test_the_calculation_follows_the_last_keystroke_even_when_an_early_answer_is_slow(
        page, live_server, shop):
    """The answer for the first digit of the bill comes back late; the digits typed meanwhile must
    still get their own calculation, not leave the till showing the one for a bill of 1."""
    from cashier.templatetags.till import amount
    from loyalty.services import purchase_calculate

    expected = purchase_calculate(customer=shop, total=D(1000))
    held = []

    def hold_the_first(route):
        if not held:
            held.append(route)  # answered below, after the other digits are typed
        else:
            route.continue_()

    log_in(page, live_server, "olga")
    key_in(page.locator("#id_q"), "9001234567")
    page.keyboard.press("Enter")
    total = page.get_by_label("Bill total")
    total.wait_for()
    page.route("**/calc/", hold_the_first)
    total.type("1")
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the first digit's calculation was never asked for"
    total.type("000")
    page.wait_for_timeout(800)  # the last digit's calculation is due by now
    from playwright.sync_api import Error as PlaywrightError

    try:
        held[0].continue_()
    except PlaywrightError:
        pass  # the page gave up that request itself (a newer calculation replaced it)
    page.wait_for_function(
        "want => document.querySelector('[data-testid=calc-cash]')?.innerText === want",
        arg=amount(expected.cash))
    assert page.get_by_test_id("calc-cash").inner_text() == amount(expected.cash)


def test_a_result_tapped_right_after_a_keystroke_stays_open(page, live_server, shop):
    """A cashier types one more digit and at once taps the customer still listed: the search due
    for that digit must not replace the customer she opened."""
    log_in(page, live_server, "olga")
    key_in(page.locator("#id_q"), "4567")
    page.locator("#first-result").wait_for()
    # One more digit and the tap in the same instant (one script: however slow the machine, the
    # tap comes before the search due 250 ms after the digit).
    page.evaluate("""() => {
        const q = document.getElementById("id_q");
        q.value += "8";
        q.dispatchEvent(new Event("input", {bubbles: true}));
        document.getElementById("first-result").click();
    }""")
    page.get_by_role("heading", name="Anna Smirnova").wait_for()
    page.wait_for_timeout(1000)  # the due search would have answered by now
    assert page.get_by_label("Bill total").is_visible()
    assert page.get_by_role("heading", name="Anna Smirnova").is_visible()


def test_a_bill_typed_the_instant_the_sale_form_shows_is_calculated(page, live_server, shop):
    """A quick cashier (or a scanner) types the moment the form is on the screen: the digits must
    reach the live calculation. With htmx's default 20 ms settle delay the new form was shown,
    and focused, before its triggers were wired, so such keys were never calculated."""
    from cashier.templatetags.till import amount
    from loyalty.services import purchase_calculate

    expected = purchase_calculate(customer=shop, total=D(1000))
    log_in(page, live_server, "olga")
    # the bill is typed in the first task after the form is swapped in
    page.evaluate("""() => document.addEventListener("htmx:afterSwap", () => setTimeout(() => {
        const total = document.getElementById("id_total");
        if (total && !total.value) {
            total.value = "1000";
            total.dispatchEvent(new Event("input", {bubbles: true}));
        }
    }, 0))""")
    key_in(page.locator("#id_q"), "9001234567")
    page.keyboard.press("Enter")
    page.get_by_test_id("calc-cash").wait_for()
    assert page.get_by_test_id("calc-cash").inner_text() == amount(expected.cash)
    assert page.evaluate("document.activeElement.id") == "id_total"
