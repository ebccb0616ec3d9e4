from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.core import mail
from django.utils import timezone
from freezegun import freeze_time

from campaigns import channels
from campaigns.models import Broadcast, MessageKind, Notification, NotificationStatus
from campaigns.services.broadcasts import broadcast_send
from campaigns.services.jobs import job_run
from campaigns.services.notifications import MAX_ATTEMPTS, notification_queue, notifications_send
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
