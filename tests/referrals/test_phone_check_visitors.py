"""The join page's codes per visitor: one address (an IPv6 /64) gets a few codes an hour whatever
the numbers, everyone together a cap an hour; a refusal writes nothing and sends nothing."""

from datetime import datetime, timedelta

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from freezegun import freeze_time

from campaigns.models import Notification
from referrals.exceptions import CodeResendTooSoon, CodeServiceBusy, CodeVisitorLimit
from referrals.models import PhoneCheck, PhoneCheckCounter
from referrals.services import join_code_send, phone_check_send, referral_code_get
from referrals.views import visitor_address
from tests.factories import next_phone
from tests.threads import run_threads

from .conftest import invited

pytestmark = pytest.mark.django_db

HOME = "203.0.113.7"
TEN_TWENTY = datetime.fromisoformat("2026-11-26T10:20:00+00:00")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def sends(key: str) -> int:
    return PhoneCheckCounter.objects.filter(key=key).values_list("sends", flat=True).first() or 0


def test_one_address_gets_ten_codes_an_hour_whatever_the_numbers(settings):
    # given the default budget: 10 codes an hour per address
    assert settings.PHONE_CODES_PER_ADDRESS_PER_HOUR == 10
    with freeze_time(TEN_TWENTY):
        for _ in range(10):
            phone_check_send(phone=next_phone(), address=HOME)
        # when the same visitor asks for an 11th number
        victim = next_phone()
        with pytest.raises(CodeVisitorLimit) as refused:
            phone_check_send(phone=victim, address=HOME)
        # then he is told to come back when the hour is over, and nothing was written or queued
        assert str(refused.value) == (
            "Too many codes were requested from your connection. Try again in 40 min.")
        assert not PhoneCheck.objects.filter(phone=victim).exists()
        assert not Notification.objects.filter(phone=victim).exists()
        assert Notification.objects.count() == 10
        assert (sends(f"ip:{HOME}"), sends("all")) == (10, 10)
        # another visitor is not held back by him
        phone_check_send(phone=next_phone(), address="198.51.100.1")
    # the next clock hour he has a new budget
    with freeze_time(TEN_TWENTY + timedelta(minutes=40)):
        phone_check_send(phone=victim, address=HOME)
    assert Notification.objects.filter(phone=victim).count() == 1


def test_an_ipv6_visitor_is_counted_by_his_64_and_a_mapped_ipv4_as_the_ipv4(settings):
    # One home or server holds a whole /64: counting single IPv6 addresses would limit nothing.
    settings.PHONE_CODES_PER_ADDRESS_PER_HOUR = 2
    phone_check_send(phone=next_phone(), address="2001:db8:1:2::1")
    phone_check_send(phone=next_phone(), address="2001:db8:1:2:ffff::9")
    with pytest.raises(CodeVisitorLimit):
        phone_check_send(phone=next_phone(), address="2001:db8:1:2::abcd")
    phone_check_send(phone=next_phone(), address="2001:db8:1:3::1")  # another /64
    assert sends("ip:2001:db8:1:2::/64") == 2
    phone_check_send(phone=next_phone(), address=HOME)
    phone_check_send(phone=next_phone(), address=f"::ffff:{HOME}")
    with pytest.raises(CodeVisitorLimit):
        phone_check_send(phone=next_phone(), address=HOME)


def test_all_visitors_together_are_capped_per_hour(settings):
    # A safety net against pumping from many addresses (or with none known).
    settings.PHONE_CODES_PER_HOUR = 3
    with freeze_time(TEN_TWENTY):
        phone_check_send(phone=next_phone(), address="198.51.100.1")
        phone_check_send(phone=next_phone(), address="198.51.100.2")
        phone_check_send(phone=next_phone(), address="")
        late = next_phone()
        with pytest.raises(CodeServiceBusy) as refused:
            phone_check_send(phone=late, address="198.51.100.3")
    assert str(refused.value) == "Codes cannot be sent right now. Try again in 40 min."
    assert not PhoneCheck.objects.filter(phone=late).exists()
    assert Notification.objects.count() == 3
    assert sends("ip:198.51.100.3") == 0  # his refused code counts against nobody


def test_a_code_refused_for_its_number_does_not_use_the_visitors_budget(settings):
    settings.PHONE_CODES_PER_ADDRESS_PER_HOUR = 2
    boris = next_phone()
    phone_check_send(phone=boris, address=HOME)
    with pytest.raises(CodeResendTooSoon):
        phone_check_send(phone=boris, address=HOME)
    assert sends(f"ip:{HOME}") == 1
    phone_check_send(phone=next_phone(), address=HOME)  # the second of his two


@pytest.fixture
def join_url(sakura):
    return reverse("referrals:join", args=[referral_code_get(customer=invited())])


@pytest.mark.parametrize(("language", "text"), [
    ("en", "Too many codes were requested from your connection. Try again in 40 min."),
    ("ru", "Слишком много кодов запрошено с вашего подключения. Попробуйте через 40 мин."),
])
def test_the_page_says_in_the_visitors_language_to_try_later_and_sends_nothing(
    join_url, client, settings, language, text
):
    settings.PHONE_CODES_PER_ADDRESS_PER_HOUR = 1
    with freeze_time(TEN_TWENTY):
        first = client.post(join_url, {"step": "send", "phone": "+79165551234"},
                            HTTP_ACCEPT_LANGUAGE=language)
        assert 'id="code-step"' in first.content.decode()
        # when the same visitor asks for another number, the form stays, with the refusal
        page = client.post(join_url, {"step": "send", "phone": "+79165551235"},
                           HTTP_ACCEPT_LANGUAGE=language)
    html = page.content.decode()
    assert page.status_code == 200 and 'name="phone"' in html and 'id="code-step"' not in html
    assert text in html
    assert not PhoneCheck.objects.filter(phone="+79165551235").exists()
    assert not Notification.objects.filter(phone="+79165551235").exists()


def test_the_code_page_refuses_a_new_code_once_the_visitors_budget_is_spent(join_url, client,
                                                                            settings):
    settings.PHONE_CODES_PER_ADDRESS_PER_HOUR = 2
    with freeze_time(TEN_TWENTY):
        ticket = client.post(join_url, {"step": "send", "phone": "+79165551234"}).context["ticket"]
        client.post(join_url, {"step": "send", "phone": "+79165551235"})
    with freeze_time(TEN_TWENTY + timedelta(minutes=2)):
        page = client.post(join_url, {"step": "resend", "_ticket": ticket})
    assert "Try again in 38 min." in page.content.decode()
    assert "A new code has been sent." not in page.content.decode()
    assert Notification.objects.filter(phone="+79165551234").count() == 1


def test_the_page_counts_the_address_its_trusted_proxy_saw(join_url, client, settings):
    # Behind one proxy every visitor arrives from it; the proxy appends the real address.
    settings.PHONE_CODES_PER_ADDRESS_PER_HOUR = 1
    settings.TRUSTED_PROXIES = 1
    for i, phone in enumerate(["+79165551234", "+79165551235"]):
        page = client.post(join_url, {"step": "send", "phone": phone}, REMOTE_ADDR="10.0.0.2",
                           HTTP_X_FORWARDED_FOR=f"198.51.100.{i + 1}")
        assert 'id="code-step"' in page.content.decode()
    assert sends("ip:198.51.100.1") == sends("ip:198.51.100.2") == 1
    # without the setting the header is the visitor's word: the proxy's address is counted
    settings.TRUSTED_PROXIES = 0
    page = client.post(join_url, {"step": "send", "phone": "+79165551236"},
                       REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.3")
    assert sends("ip:10.0.0.2") == 1 and sends("ip:198.51.100.3") == 0


@pytest.mark.parametrize(("proxies", "forwarded", "expected"), [
    (0, "198.51.100.9", HOME),  # no proxy trusted: the header is ignored
    (1, "198.51.100.9", "198.51.100.9"),
    (1, "1.2.3.4, 198.51.100.9", "198.51.100.9"),  # the first hop is the visitor's own writing
    (2, "1.2.3.4, 198.51.100.9, 10.0.0.5", "198.51.100.9"),
    (2, "198.51.100.9", HOME),  # fewer hops than proxies: not through them
    (1, "", HOME),
    (1, "not-an-address", HOME),
])
def test_visitor_address_reads_only_what_the_trusted_proxies_wrote(settings, proxies, forwarded,
                                                                     expected):
    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().post("/", REMOTE_ADDR=HOME, HTTP_X_FORWARDED_FOR=forwarded)
    assert visitor_address(request) == expected


def test_join_code_send_passes_the_address_on(settings):
    settings.PHONE_CODES_PER_ADDRESS_PER_HOUR = 1
    join_code_send(phone="8 916 555-12-34", address=HOME)
    with pytest.raises(CodeVisitorLimit):
        join_code_send(phone="8 916 555-12-35", address=HOME)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_many_numbers_at_once_from_one_address_get_exactly_its_budget(settings):
    # Twelve requests from one address for twelve numbers in the same instant: the counter's row
    # lock makes them take turns, so exactly the budget goes out, not one more.
    settings.PHONE_CODES_PER_ADDRESS_PER_HOUR = 5
    phones = [next_phone() for _ in range(12)]

    def send(i):
        phone_check_send(phone=phones[i], address=HOME)
        return "sent"

    with freeze_time(TEN_TWENTY):  # all in one clock hour, whenever the test runs
        results, errors = run_threads(12, send)
    assert results.count("sent") == 5
    assert len(errors) == 7 and all(isinstance(e, CodeVisitorLimit) for e in errors)
    assert Notification.objects.count() == 5 == PhoneCheck.objects.count()
    assert sends(f"ip:{HOME}") == 5 and sends("all") == 5


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_many_visitors_at_once_get_exactly_the_hourly_cap(settings):
    settings.PHONE_CODES_PER_HOUR = 4
    phones = [next_phone() for _ in range(10)]

    def send(i):
        phone_check_send(phone=phones[i], address=f"198.51.100.{i + 1}")
        return "sent"

    with freeze_time(TEN_TWENTY):
        results, errors = run_threads(10, send)
    assert results.count("sent") == 4
    assert len(errors) == 6 and all(isinstance(e, CodeServiceBusy) for e in errors)
    assert Notification.objects.count() == 4 and sends("all") == 4
