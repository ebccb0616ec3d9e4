"""Certificates, the birthday badge and review marks on the till screen (test client)."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Certificate, CertificateStatus, ReviewMark
from cashier import selectors
from loyalty.models import Customer, Operation
from loyalty.selectors import customer_balances
from loyalty.services import customer_register, points_adjust
from tests.campaigns.factories import campaign_set, certificate_make

from .conftest import htmx

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(tiers):
    """A registered Base-tier customer (5% cashback, 30% cap) holding 600 points."""
    customer = customer_register(phone="+79001234567", name="Anna")
    points_adjust(customer=customer, amount=600, reason="opening")
    return customer


@pytest.fixture
def gift(anna):
    """Anna's certificate: 500 points, at most 20% of a bill (Elita's birthday certificate)."""
    return certificate_make(points=500, customer=anna, max_redeem_percent=20)


def sale(**fields):
    return {"request_id": "req-1", **fields}


def spendable(customer):
    return customer_balances(customer=customer)["available"]


# --- The live calculation -----------------------------------------------------------------------

def test_the_calculation_shows_the_certificates_share_capped_and_the_rest_after_it(
        till, anna, gift):
    # when a 1 000 bill is calculated with Anna's 500-point certificate (20% at most)
    response = till.post(reverse("cashier:calc", args=[anna.pk]),
                         sale(total="1000", certificate_code=gift.code.lower()), **htmx())
    # then it pays 200 (its share), her points 300 (her tier's 30%), 500 in money, 5% of it back
    calc = response.context["calc"]
    assert (calc.certificate_points, calc.points, calc.cash, calc.cashback) == (
        D("200.00"), D("300.00"), D("500.00"), D("25.00"))
    page = response.content.decode()
    assert "Paid by the certificate" in page and 'data-testid="calc-certificate">200' in page


def test_a_small_certificate_pays_its_whole_nominal(till, anna):
    small = certificate_make(points=100, customer=anna, max_redeem_percent=50)
    calc = till.post(reverse("cashier:calc", args=[anna.pk]),
                     sale(total="1000", certificate_code=small.code), **htmx()).context["calc"]
    assert (calc.certificate_points, calc.points, calc.cash) == (
        D("100.00"), D("300.00"), D("600.00"))


def _refusal(till, customer, code):
    response = till.post(reverse("cashier:sell", args=[customer.pk]),
                         sale(total="1000", certificate_code=code), **htmx())
    assert not Operation.objects.filter(kind="purchase").exists()
    return response.context["form"].errors["certificate_code"]


def test_an_unknown_code_is_refused_on_the_field(till, anna):
    assert _refusal(till, anna, "NOSUCHCODE") == ["Certificate not found."]


def test_an_expired_certificate_is_refused_on_the_field(till, anna):
    old = certificate_make(points=100, customer=anna,
                           valid_from=timezone.localdate() - timedelta(days=40), valid_days=30)
    assert _refusal(till, anna, old.code) == ["This certificate has expired."]


def test_a_used_certificate_is_refused_on_the_field(till, anna, gift):
    till.post(reverse("cashier:sell", args=[anna.pk]),
              sale(total="1000", certificate_code=gift.code), **htmx())
    response = till.post(reverse("cashier:sell", args=[anna.pk]),
                         {"request_id": "req-2", "total": "1000", "certificate_code": gift.code},
                         **htmx())
    assert response.context["form"].errors["certificate_code"] == [
        "This certificate has already been used."]
    assert Operation.objects.filter(kind="purchase").count() == 1


def test_another_customers_certificate_is_refused_on_the_field(till, anna, tiers):
    boris = customer_register(phone="+79005550000", name="Boris")
    his = certificate_make(points=100, customer=boris)
    assert _refusal(till, anna, his.code) == ["This certificate belongs to another customer."]


def test_the_refusal_speaks_russian_in_the_russian_interface(till, anna):
    till.post("/i18n/setlang/", {"language": "ru", "next": "/till/"})
    response = till.post(reverse("cashier:calc", args=[anna.pk]),
                         sale(total="1000", certificate_code="NOSUCHCODE"), **htmx())
    assert "Сертификат не найден." in response.content.decode()
    assert "Код сертификата" in response.content.decode()


# --- The sale -------------------------------------------------------------------------------------

def test_a_sale_with_a_certificate_uses_it_and_the_receipt_shows_its_part(till, anna, gift):
    response = till.post(reverse("cashier:sell", args=[anna.pk]),
                         sale(total="1000", certificate_code=gift.code), **htmx())
    operation = Operation.objects.get(kind="purchase")
    # then 200 paid by the certificate and 300 by her points (500 redeemed in all), 500 in money
    assert (operation.points, operation.cash, operation.cashback) == (
        D("500.00"), D("500.00"), D("25.00"))
    gift.refresh_from_db()
    assert gift.status == CertificateStatus.USED and gift.operation == operation
    assert gift.used_points == D("200.00")
    assert spendable(anna) == D("325.00")  # 600 − 300 + 25: the certificate's 200 were its own
    page = response.content.decode()
    assert "of them, by the certificate" in page and 'data-testid="receipt-certificate">200' in page
    # and the receipt opened again later still shows it
    again = till.get(reverse("cashier:till") + f"?receipt={operation.pk}").content.decode()
    assert 'data-testid="receipt-certificate">200' in again


def test_a_double_click_with_a_certificate_makes_one_sale(till, anna, gift):
    first = till.post(reverse("cashier:sell", args=[anna.pk]),
                      sale(total="1000", certificate_code=gift.code), **htmx())
    again = till.post(reverse("cashier:sell", args=[anna.pk]),
                      sale(total="1000", certificate_code=gift.code), **htmx())
    assert Operation.objects.filter(kind="purchase").count() == 1
    assert again.context["operation"] == first.context["operation"]
    assert "This sale was already recorded" in again.content.decode()
    assert spendable(anna) == D("325.00")


def test_without_htmx_a_double_submit_redirects_to_the_same_receipt(till, anna, gift):
    first = till.post(reverse("cashier:sell", args=[anna.pk]),
                      sale(total="1000", certificate_code=gift.code))
    again = till.post(reverse("cashier:sell", args=[anna.pk]),
                      sale(total="1000", certificate_code=gift.code))
    assert first.url == again.url
    assert Operation.objects.filter(kind="purchase").count() == 1


# --- The customer panel ---------------------------------------------------------------------------

def test_the_panel_lists_the_active_certificates_with_their_terms(till, anna, gift):
    cancelled = certificate_make(points=50, customer=anna)
    Certificate.objects.filter(pk=cancelled.pk).update(status=CertificateStatus.CANCELLED)
    certificate_make(points=70, customer=anna,
                     valid_from=timezone.localdate() - timedelta(days=40), valid_days=30)
    response = till.get(reverse("cashier:customer", args=[anna.pk]), **htmx())
    assert response.context["certificates"] == [gift]
    page = response.content.decode()
    until = gift.valid_until.strftime("%m/%d/%Y")
    assert f'data-code="{gift.code}"' in page and "500 points" in page
    assert f"until {until}" in page and "up to 20% of the bill" in page
    assert 'id="id_certificate_code"' in page


@pytest.mark.parametrize(("birthday_offset", "shown"), [
    (3, True),     # the birthday is in 3 days (the certificate comes 5 days before)
    (6, False),    # not yet
    (-14, True),   # two weeks ago: the last day it is valid
    (-15, False),  # over
])
def test_a_birthday_badge_shows_within_the_birthday_campaigns_window(
        till, anna, birthday_offset, shown):
    campaign_set(birthday_points=D(500), birthday_days_before=5, birthday_valid_days=14)
    today = timezone.localdate()
    born = (today + timedelta(days=birthday_offset)).replace(year=1990)
    Customer.objects.filter(pk=anna.pk).update(birthday=born)
    response = till.get(reverse("cashier:customer", args=[anna.pk]), **htmx())
    assert response.context["birthday_near"] is shown
    assert ('data-testid="birthday-badge"' in response.content.decode()) is shown


def test_a_29_february_birthday_counts_on_28_february():
    assert selectors.birthday_near(birthday=date(2000, 2, 29), today=date(2027, 2, 26),
                                   days_before=2, days_after=0)
    assert not selectors.birthday_near(birthday=date(2000, 2, 29), today=date(2027, 3, 1),
                                       days_before=2, days_after=0)


def test_the_birthday_window_spans_the_new_year():
    assert selectors.birthday_near(birthday=date(1990, 1, 2), today=date(2026, 12, 30),
                                   days_before=5, days_after=0)


def test_without_a_birthday_campaign_there_is_no_badge(till, anna):
    Customer.objects.filter(pk=anna.pk).update(birthday=timezone.localdate())
    response = till.get(reverse("cashier:customer", args=[anna.pk]), **htmx())
    assert response.context["birthday_near"] is False


# --- Left a review ----------------------------------------------------------------------------

@pytest.fixture
def reviews(db):
    return campaign_set(review_points=D(200), review_platforms=["2GIS", "Yandex Maps"])


def test_the_review_action_offers_the_campaigns_platforms(till, anna, reviews):
    page = till.get(reverse("cashier:customer", args=[anna.pk]), **htmx()).content.decode()
    assert "Left a review" in page
    assert '<option value="2GIS">' in page and '<option value="Yandex Maps">' in page


def test_without_a_review_campaign_there_is_no_review_action(till, anna):
    page = till.get(reverse("cashier:customer", args=[anna.pk]), **htmx()).content.decode()
    assert "Left a review" not in page


def test_marking_a_review_rewards_it_once(till, anna, reviews, cashier):
    response = till.post(reverse("cashier:review", args=[anna.pk]),
                         {"platform": "2GIS", "link": "https://2gis.ru/review/1"}, **htmx())
    assert "The review on 2GIS is recorded and rewarded." in response.content.decode()
    mark = ReviewMark.objects.get()
    assert (mark.customer, mark.platform, mark.marked_by) == (anna, "2GIS", cashier)
    assert mark.link == "https://2gis.ru/review/1"
    assert response.context["customer"].spendable == D("800.00")
    # when the same platform is marked again
    again = till.post(reverse("cashier:review", args=[anna.pk]), {"platform": "2GIS"}, **htmx())
    # then it is refused in plain words and nothing more is paid
    assert again.context["review_form"].errors["platform"] == [
        "This customer was already rewarded for a review on 2GIS."]
    assert ReviewMark.objects.count() == 1 and spendable(anna) == D("800.00")
    # while another platform is still rewarded
    till.post(reverse("cashier:review", args=[anna.pk]), {"platform": "Yandex Maps"}, **htmx())
    assert spendable(anna) == D("1000.00")


def test_a_review_rewarded_as_a_certificate_appears_among_the_certificates(till, anna, reviews):
    campaign_set(review_as_certificate=True, review_valid_days=30)
    response = till.post(reverse("cashier:review", args=[anna.pk]), {"platform": "2GIS"},
                         **htmx())
    certificate = Certificate.objects.get(customer=anna)
    assert response.context["certificates"] == [certificate]
    assert certificate.points == D("200.00")


def test_a_platform_the_campaign_does_not_list_is_refused(till, anna, reviews):
    response = till.post(reverse("cashier:review", args=[anna.pk]), {"platform": "Google Maps"},
                         **htmx())
    assert response.context["review_form"].errors["platform"]
    assert not ReviewMark.objects.exists()
