from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from campaigns import channels
from campaigns.models import Broadcast, MessageKind, Notification, NotificationStatus
from campaigns.services.broadcasts import broadcast_send
from campaigns.services.jobs import job_run
from campaigns.services.notifications import (
    MAX_ATTEMPTS,
    notification_queue,
    notification_queue_transactional,
    notifications_send,
)
from loyalty.models import Tag
from tests.campaigns.factories import campaign_set
from tests.factories import customer_create, program_set

pytestmark = pytest.mark.django_db


def test_birthday_greeting_is_sent_after_commit_in_the_business_language(
    django_capture_on_commit_callbacks
):
    program_set(name="Sakura", language="ru")
    campaign_set(birthday_points=D(300), birthday_days_before=3, birthday_valid_days=7)
    customer = customer_create(name="Анна", email="anna@example.com", consent_messages=True,
                               birthday=date(1990, 5, 20))
    # when the birthday job commits, the message goes out (not before)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job_run(job="birthday", as_of=date(2026, 5, 17))
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anna@example.com"]
    assert message.subject == "С днём рождения от Sakura!"
    assert "Анна" in message.body and "300" in message.body and "23.05.2026" in message.body
    notification = Notification.objects.get(customer=customer)
    assert (notification.status, notification.channel) == (NotificationStatus.SENT, "email")


def test_english_template_when_the_business_speaks_english(django_capture_on_commit_callbacks):
    program_set(name="Elita", language="en")
    customer = customer_create(name="Ann", email="ann@example.com", consent_messages=True)
    with django_capture_on_commit_callbacks(execute=True):
        notification_queue(customer=customer, kind=MessageKind.REVIEW_THANKS, key="k1",
                           context={"points": "500"})
    assert mail.outbox[0].body == "Ann, thank you for the review! We credited 500 points."


def test_no_consent_no_message():
    customer = customer_create(email="x@example.com", consent_messages=False)
    assert notification_queue(customer=customer, kind=MessageKind.REVIEW_THANKS, key="k") is None
    assert not Notification.objects.exists()


def test_consent_withdrawn_before_sending_skips_the_message():
    customer = customer_create(email="x@example.com", consent_messages=True)
    notification_queue(customer=customer, kind=MessageKind.REVIEW_THANKS, key="k")
    customer.consent_messages = False
    customer.save()
    assert notifications_send() == 0
    assert Notification.objects.get().status == NotificationStatus.SKIPPED
    assert mail.outbox == []


def test_a_failed_send_is_retried_later_then_given_up(monkeypatch):
    customer = customer_create(email="x@example.com", consent_messages=True)
    notification_queue(customer=customer, kind=MessageKind.REVIEW_THANKS, key="k")

    def broken(self, **kwargs):
        raise channels.ChannelError("mail server down")

    monkeypatch.setattr(channels.EmailChannel, "send", broken)
    assert notifications_send() == 0
    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == (NotificationStatus.PENDING, 1)
    assert notification.next_attempt_at > timezone.now()
    assert notifications_send() == 0  # not due yet: nothing tried
    assert Notification.objects.get().attempts == 1
    monkeypatch.undo()
    with freeze_time(timezone.now() + timedelta(minutes=6)):
        assert notifications_send() == 1
    assert Notification.objects.get().status == NotificationStatus.SENT
    # and one that keeps failing is given up after MAX_ATTEMPTS
    notification_queue(customer=customer, kind=MessageKind.REVIEW_THANKS, key="k2")
    monkeypatch.setattr(channels.EmailChannel, "send", broken)
    for hours in range(MAX_ATTEMPTS):
        with freeze_time(timezone.now() + timedelta(days=hours + 1)):
            notifications_send()
    assert Notification.objects.get(key="k2").status == NotificationStatus.FAILED


def test_a_customer_no_channel_reaches_is_skipped(settings):
    settings.NOTIFY_CONSOLE = False
    customer = customer_create(consent_messages=True)  # no e-mail, SMS off
    notification_queue(customer=customer, kind=MessageKind.REVIEW_THANKS, key="k")
    notifications_send()
    assert Notification.objects.get().status == NotificationStatus.SKIPPED


def test_sms_goes_through_the_gateway_url_template(settings, monkeypatch):
    settings.USE_SMS = True
    settings.SMS_GATEWAY_URL = "https://sms.example/send?to={phone}&text={text}"
    urls = []

    class Answer:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(channels.urllib.request, "urlopen",
                        lambda url, timeout: urls.append(url) or Answer())
    customer = customer_create(name="Ann", consent_messages=True)
    notification_queue(customer=customer, kind=MessageKind.REVIEW_THANKS, key="k",
                       context={"points": "5"})
    assert notifications_send() == 1
    assert urls[0].startswith(f"https://sms.example/send?to=%2B{customer.phone[1:]}&text=")


def test_broadcast_reaches_the_segment_once_and_only_who_agreed():
    vip = Tag.objects.create(name="VIP")
    agreed = customer_create(email="a@example.com", consent_messages=True)
    agreed.tags.add(vip)
    silent = customer_create(email="b@example.com", consent_messages=False)
    silent.tags.add(vip)
    customer_create(email="c@example.com", consent_messages=True)  # not in the segment
    broadcast = Broadcast.objects.create(subject="Sale", text="-20% this weekend", tag=vip)
    assert broadcast_send(broadcast=broadcast) == 1
    notifications_send()
    assert [m.to for m in mail.outbox] == [["a@example.com"]]
    assert mail.outbox[0].subject == "Sale"
    broadcast.refresh_from_db()
    assert broadcast.recipients == 1
    assert broadcast_send(broadcast=broadcast) == 0  # sending again queues nobody twice


def test_a_large_queue_is_sent_in_batches_by_one_task_run():
    customers = [customer_create(email=f"c{i}@example.com", consent_messages=True) for i in range(5)]
    for i, customer in enumerate(customers):
        notification_queue(customer=customer, kind=MessageKind.REVIEW_THANKS, key=f"k{i}")
    assert notifications_send(limit=2) == 5
    assert len(mail.outbox) == 5


# Transactional messages to a bare phone number (the join page's one-time code)


def test_a_transactional_message_is_written_with_its_cause_and_sent_after_commit_to_the_phone(
    settings, caplog, django_capture_on_commit_callbacks
):
    # given a development machine: no SMS gateway, messages go to the console log
    settings.NOTIFY_CONSOLE = True
    program_set(name="Sakura", language="ru")
    caplog.set_level("INFO", logger="campaigns.channels")
    # when a cause writes a code for a number that is nobody's customer
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            notification = notification_queue_transactional(
                phone="+79161112233", kind=MessageKind.PHONE_CODE, key="code-1",
                context={"code": "493817", "minutes": 10},
                expires_at=timezone.now() + timedelta(minutes=10),
            )
    # then the outbox holds it for the phone, with no customer, and nothing left before commit
    row = Notification.objects.get(pk=notification.pk)
    assert (row.customer_id, row.phone, row.status) == (None, "+79161112233",
                                                        NotificationStatus.PENDING)
    assert "493817" not in caplog.text
    for callback in callbacks:
        callback()
    # then after commit the send task put it out through the console channel, in Russian
    assert "message to +79161112233" in caplog.text
    assert "493817 — код подтверждения номера для Sakura. Действует 10 мин." in caplog.text
    row.refresh_from_db()
    assert (row.status, row.channel) == (NotificationStatus.SENT, "console")
    # and the code does not stay in the outbox once sent
    assert row.context == {}


def test_a_transactional_message_is_written_in_the_language_it_was_asked_in(settings, caplog):
    # The visitor's page language ("en-us" is "en"); an unknown one falls back to the business's.
    settings.NOTIFY_CONSOLE = True
    program_set(name="Sakura", language="ru")
    caplog.set_level("INFO", logger="campaigns.channels")
    english = notification_queue_transactional(
        phone="+79161112233", kind=MessageKind.PHONE_CODE, key="code-1",
        context={"code": "493817", "minutes": 10}, language="en-us")
    german = notification_queue_transactional(
        phone="+79161112234", kind=MessageKind.PHONE_CODE, key="code-2",
        context={"code": "493818", "minutes": 10}, language="de")
    assert (english.language, german.language) == ("en", "")
    assert notifications_send() == 2
    assert "493817 is your Sakura confirmation code. Valid for 10 min." in caplog.text
    assert "493818 — код подтверждения номера для Sakura. Действует 10 мин." in caplog.text


def test_a_transactional_message_is_not_written_when_its_cause_rolls_back(
    django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            notification_queue_transactional(phone="+79161112233", kind=MessageKind.PHONE_CODE,
                                             key="code-1", context={"code": "1"})
            raise RuntimeError("the cause failed")
    assert callbacks == []
    assert not Notification.objects.exists()


def test_a_transactional_sms_needs_no_customer_and_no_consent(settings, monkeypatch):
    settings.USE_SMS = True
    settings.SMS_GATEWAY_URL = "https://sms.example/send?to={phone}&text={text}"
    program_set(name="Elita", language="en")
    urls = []

    class Answer:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(channels.urllib.request, "urlopen",
                        lambda url, timeout: urls.append(url) or Answer())
    # a phone-only customer who never agreed to messages asks for a code himself
    customer_create(phone="+79161112233", consent_messages=False)
    notification_queue_transactional(phone="+79161112233", kind=MessageKind.PHONE_CODE,
                                     key="code-1", context={"code": "000417", "minutes": 10})
    assert notifications_send() == 1
    assert urls == ["https://sms.example/send?to=%2B79161112233&text=000417%20is%20your%20Elita"
                    "%20confirmation%20code.%20Valid%20for%2010%20min.%20Do%20not%20share%20it"
                    "%20with%20anyone."]
    assert Notification.objects.get().channel == "sms"


def test_a_code_not_sent_before_it_expires_is_dropped_and_forgotten(settings, monkeypatch):
    settings.NOTIFY_CONSOLE = True
    notification_queue_transactional(phone="+79161112233", kind=MessageKind.PHONE_CODE,
                                     key="code-1", context={"code": "123456"},
                                     expires_at=timezone.now() + timedelta(minutes=10))

    def broken(self, **kwargs):
        raise channels.ChannelError("gateway down")

    # the first try fails; the retry comes after the code expired: it is not sent late
    monkeypatch.setattr(channels.ConsoleChannel, "send", broken)
    assert notifications_send() == 0
    assert Notification.objects.get().context == {"code": "123456"}  # kept for the retry
    monkeypatch.undo()
    with freeze_time(timezone.now() + timedelta(minutes=11)):
        assert notifications_send() == 0
    row = Notification.objects.get()
    assert (row.status, row.error, row.context) == (
        NotificationStatus.SKIPPED, "expired before it could be sent", {})


def test_no_e_mail_and_no_sms_means_a_transactional_message_is_not_sent(settings):
    settings.NOTIFY_CONSOLE = False
    notification_queue_transactional(phone="+79161112233", kind=MessageKind.PHONE_CODE,
                                     key="code-1", context={"code": "123456"})
    assert notifications_send() == 0
    row = Notification.objects.get()
    assert (row.status, row.context) == (NotificationStatus.SKIPPED, {})


def test_a_message_has_exactly_one_recipient_in_the_schema():
    customer = customer_create()
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(kind=MessageKind.PHONE_CODE, key="none", created_at=now,
                                    next_attempt_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(customer=customer, phone="+79161112233",
                                    kind=MessageKind.PHONE_CODE, key="both", created_at=now,
                                    next_attempt_at=now)


def test_staff_never_see_a_code_in_the_admin(client):
    user = get_user_model().objects.create_superuser("owner", "owner@example.com", "pass12345")
    client.force_login(user)
    notification = notification_queue_transactional(
        phone="+79161112233", kind=MessageKind.PHONE_CODE, key="code-1", context={"code": "493817"})
    page = client.get(reverse("admin:campaigns_notification_change", args=[notification.pk]))
    assert page.status_code == 200
    assert "+79161112233" in page.content.decode() and "493817" not in page.content.decode()
    listing = client.get(reverse("admin:campaigns_notification_changelist"), {"q": "+7916111"})
    assert "+79161112233" in listing.content.decode()
