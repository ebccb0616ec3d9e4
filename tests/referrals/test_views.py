from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from campaigns.models import Notification
from loyalty.models import Customer
from loyalty.services import purchase_create
from referrals.models import Referral, ReferralMember
from referrals.services import referral_code_get

from .conftest import chain, code_sent_to, invited

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pass12345")
    client.force_login(user)
    return client


def test_join_page_registers_the_friend_invited_by_that_code_once_he_types_the_code(
    sakura, client
):
    # given Anna's invitation link
    anna = invited()
    Customer.objects.filter(pk=anna.pk).update(name="Анна Петрова")
    url = reverse("referrals:join", args=[referral_code_get(customer=anna)])
    assert url.startswith("/join/")
    # when a friend opens it, then he sees who invites him (first name only, no phone)
    page = client.get(url)
    assert page.status_code == 200
    assert "Анна" in page.content.decode() and anna.phone not in page.content.decode()
    # when he leaves his number in the local spelling
    step = client.post(url, {"step": "send", "phone": "8 (916) 555-12-34", "name": "Boris",
                             "consent_messages": "on"})
    # then a code goes to that phone, the page asks for it, and nobody is registered yet
    html = step.content.decode()
    assert step.status_code == 200 and 'id="code-step"' in html
    assert "We have sent a code to <span class=\"nowrap\">+7 916 555-12-34</span>." in html
    assert not Customer.objects.filter(phone="+79165551234").exists()
    ticket = step.context["ticket"]
    code = code_sent_to("+79165551234")
    # when he types a wrong code, the page says so and keeps asking
    wrong = client.post(url, {"step": "confirm", "_ticket": ticket, "code": "12345"})
    assert "Enter the 6 digits of the code." in wrong.content.decode()
    wrong = client.post(url, {"step": "confirm", "_ticket": ticket,
                              "code": code[:-1] + str((int(code[-1]) + 1) % 10)})
    assert "The code is wrong. Attempts left: 4." in wrong.content.decode()
    assert not Customer.objects.filter(phone="+79165551234").exists()
    # when he types the right one (spaces do not matter)
    done = client.post(url, {"step": "confirm", "_ticket": ticket,
                             "code": f"{code[:3]} {code[3:]}"}, follow=True)
    # then he is registered with the welcome bonus and recorded as invited by Anna
    assert done.status_code == 200 and 'id="joined"' in done.content.decode()
    # and reloading the welcome page (a GET after the redirect) sends nothing again
    assert done.redirect_chain and "?done=" in done.redirect_chain[-1][0]
    assert 'id="joined"' in client.get(done.redirect_chain[-1][0]).content.decode()
    boris = Customer.objects.get(phone="+79165551234")
    assert boris.is_registered and boris.name == "Boris" and boris.consent_messages
    assert Referral.objects.get(customer=boris).inviter == anna
    assert Referral.objects.get(customer=boris).channel == "join"
    # and the same code cannot be used again
    again = client.post(url, {"step": "confirm", "_ticket": ticket, "code": code})
    assert "This code is no longer valid. Ask for a new one." in again.content.decode()


def test_join_page_checks_the_code_against_the_number_it_was_sent_to(sakura, client):
    # The phone travels between the steps in a signed ticket: a forged one starts again.
    url = reverse("referrals:join", args=[referral_code_get(customer=invited())])
    client.post(url, {"step": "send", "phone": "+79165551234"})
    code = code_sent_to("+79165551234")
    forged = client.post(url, {"step": "confirm", "_ticket": "eyJwaG9uZSI6IisxIn0:x:y",
                               "code": code})
    assert "This form has expired. Please enter your number again." in forged.content.decode()
    assert 'name="phone"' in forged.content.decode()
    # a ticket from another invitation page is no good here either
    other = reverse("referrals:join", args=[referral_code_get(customer=invited())])
    ticket = client.post(other, {"step": "send", "phone": "+79165551235"}).context["ticket"]
    assert "has expired" in client.post(url, {"step": "confirm", "_ticket": ticket,
                                             "code": code}).content.decode()
    assert not Customer.objects.filter(phone__in=["+79165551234", "+79165551235"]).exists()


def test_join_page_sends_a_new_code_after_a_minute_not_before(sakura, client):
    from datetime import timedelta

    from django.utils import timezone
    from freezegun import freeze_time

    url = reverse("referrals:join", args=[referral_code_get(customer=invited())])
    start = timezone.now()
    with freeze_time(start):
        ticket = client.post(url, {"step": "send", "phone": "+79165551234"}).context["ticket"]
        soon = client.post(url, {"step": "resend", "_ticket": ticket})
    assert "A new code can be sent in 60 s." in soon.content.decode()
    assert "A new code has been sent." not in soon.content.decode()
    with freeze_time(start + timedelta(seconds=61)):
        later = client.post(url, {"step": "resend", "_ticket": ticket})
        assert "A new code has been sent." in later.content.decode()
        code = code_sent_to("+79165551234")
        done = client.post(url, {"step": "confirm", "_ticket": later.context["ticket"],
                                 "code": code}, follow=True)
    assert 'id="joined"' in done.content.decode()


@pytest.mark.parametrize(("page_language", "business_language", "text"), [
    ("en", "ru", "is your Sakura confirmation code. Valid for 10 min. Do not share it with anyone."),
    ("ru", "en", "— код подтверждения номера для Sakura. Действует 10 мин. Никому его не сообщайте."),
])
def test_the_code_message_speaks_the_language_of_the_page_not_the_businesss(
    sakura, client, settings, caplog, page_language, business_language, text
):
    # given a business that writes its messages in the other language
    from campaigns.services.notifications import notifications_send
    from tests.factories import program_set

    program_set(language=business_language)
    settings.NOTIFY_CONSOLE = True
    caplog.set_level("INFO", logger="campaigns.channels")
    url = reverse("referrals:join", args=[referral_code_get(customer=invited())])
    # when a visitor asks for his code from the page in his language
    client.post(url, {"step": "send", "phone": "+79165551234"},
                HTTP_ACCEPT_LANGUAGE=page_language)
    code = code_sent_to("+79165551234")
    assert notifications_send() == 1
    # then the message is in his language
    assert f"{code} {text}" in caplog.text


def test_join_page_shows_errors_in_the_form_not_a_traceback(sakura, client):
    anna = invited()
    url = reverse("referrals:join", args=[referral_code_get(customer=anna)])
    page = client.post(url, {"step": "send", "phone": "12"})
    assert page.status_code == 200
    assert "not a valid phone number" in page.content.decode()
    # an already registered number: the refusal the page always gave, and no code is sent
    page = client.post(url, {"step": "send", "phone": anna.phone})
    assert "already registered" in page.content.decode()
    assert not Notification.objects.exists()


def test_join_page_of_an_unknown_code_is_not_found(db, client):
    assert client.get("/join/NOPE42/").status_code == 404


def test_owner_sees_inviter_invitees_per_level_and_generations(sakura, owner_client):
    anna, boris, clara = chain(3)
    page = owner_client.get(reverse("admin:referrals_referralmember_change", args=[anna.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert '<td id="generations">2</td>' in html
    assert "<td>1</td><td>1</td>" in html and "<td>2</td><td>1</td>" in html
    page = owner_client.get(reverse("admin:referrals_referralmember_change", args=[clara.pk]))
    assert str(boris) in page.content.decode()
    listing = owner_client.get(reverse("admin:referrals_referralmember_changelist"))
    assert listing.status_code == 200


def test_owner_corrects_an_inviter_before_the_first_purchase_and_not_after(
    sakura, owner_client, branch
):
    anna, boris = chain(2)
    xenia = invited()
    url = reverse("admin:referrals_referralmember_change", args=[boris.pk])
    response = owner_client.post(url, {"inviter": xenia.phone})
    assert response.status_code == 302
    assert Referral.objects.get(customer=boris).inviter == xenia
    # a cycle is refused with a message in the form
    url_x = reverse("admin:referrals_referralmember_change", args=[xenia.pk])
    page = owner_client.post(url_x, {"inviter": boris.phone})
    assert "invited by the friend" in page.content.decode()
    # after Boris's first purchase there is no form any more
    purchase_create(customer=boris, branch=branch, total=D(100))
    page = owner_client.get(url)
    assert "Fixed: the customer has made a purchase." in page.content.decode()
    assert owner_client.post(url, {"inviter": ""}).status_code == 200
    assert Referral.objects.get(customer=boris).inviter == xenia
    assert ReferralMember.objects.filter(pk=boris.pk).exists()


def test_owner_sees_the_trees_statistics(elita, owner_client, branch):
    anna, boris, clara = chain(3)
    purchase_create(customer=clara, branch=branch, total="1000.00", receipt_number="1")
    page = owner_client.get(reverse("admin:referrals_stats"))
    html = page.content.decode()
    assert page.status_code == 200
    assert '<td id="stat-invited">2</td>' in html and '<td id="stat-bought">1</td>' in html
    assert '<td id="stat-depth">2</td>' in html
    assert "<td>80.00</td>" in html  # level 1: 50 + 3% of 1000
    assert owner_client.get(reverse("admin:referrals_stats"),
                            {"since": "2000-01-01", "until": "2000-01-31"}).status_code == 200
    assert owner_client.get(reverse("admin:referrals_referralprogram_changelist")).status_code == 200
    assert owner_client.get(reverse("admin:referrals_referral_changelist")).status_code == 200


def test_refusals_and_the_join_page_speak_russian(sakura, client):
    from django.utils import translation

    from referrals.exceptions import InviteCycle, SelfInvite

    with translation.override("ru"):
        assert str(SelfInvite()) == "Клиент не может пригласить сам себя."
        assert str(InviteCycle().code) == "inviteCycle"
    anna = invited()
    Customer.objects.filter(pk=anna.pk).update(name="Анна")
    url = reverse("referrals:join", args=[referral_code_get(customer=anna)])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ru")
    assert "Анна приглашает вас в Sakura" in page.content.decode()
    # and the code step speaks Russian too
    page = client.post(url, {"step": "send", "phone": "+79165551234"}, HTTP_ACCEPT_LANGUAGE="ru")
    assert "Мы отправили код на <span class=\"nowrap\">+7 916 555-12-34</span>." in page.content.decode()
    page = client.post(url, {"step": "confirm", "_ticket": page.context["ticket"],
                             "code": "000000" if code_sent_to("+79165551234") != "000000"
                             else "111111"}, HTTP_ACCEPT_LANGUAGE="ru")
    assert "Неверный код. Осталось попыток: 4." in page.content.decode()


@pytest.mark.parametrize("stored,shown", [
    ("Иван", "Иван"), ("Иван Попов", "Иван"), ("Попова Мария", "Мария"),
    ("Попова Мария Ивановна", "Мария"), ("Кузнецов Алексей Петрович", "Алексей"),
    ("Anna Smith", "Anna"), ("", ""), ("Мария Соколова", "Мария"),
    ("Ирина Петрова", "Ирина"), ("Петрова Ирина", "Ирина"),
])
def test_the_invitation_greets_with_the_given_name_whatever_the_order(stored, shown):
    from referrals.views import first_name

    assert first_name(stored) == shown


def test_a_customer_who_already_bought_is_told_in_his_own_words_why_the_invite_does_not_count(
        sakura, client, branch):
    from loyalty.services import customer_get_or_create_by_phone

    phone = "+79165557788"
    earlier, _created = customer_get_or_create_by_phone(phone=phone)
    purchase_create(customer=earlier, branch=branch, total=500)  # bought before, by phone only
    url = reverse("referrals:join", args=[referral_code_get(customer=invited())])
    ticket = client.post(url, {"step": "send", "phone": phone, "name": "Gleb"}).context["ticket"]
    done = client.post(url, {"step": "confirm", "_ticket": ticket, "code": code_sent_to(phone)},
                       follow=True, HTTP_ACCEPT_LANGUAGE="en")
    page = done.content.decode()
    assert 'id="joined"' in page
    assert "You were our customer before this invitation" in page
    assert not Referral.objects.filter(customer=earlier).exists()
