"""The join page's one-time code: a friend is registered and linked only with the code sent to his
phone; codes are hashed, expire, count wrong attempts, are used once, and are rationed per number."""

import logging
import re
import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone, translation
from freezegun import freeze_time

from campaigns.models import MessageKind, Notification, NotificationStatus
from loyalty.exceptions import AlreadyRegistered, InvalidPhone
from loyalty.models import Customer
from referrals.exceptions import (
    CodeAttemptsExhausted,
    CodeExpired,
    CodeResendTooSoon,
    CodeSendLimit,
    CodeWrong,
)
from referrals.models import PhoneCheck, Referral
from referrals.services import (
    join_code_send,
    join_confirm,
    phone_check_confirm,
    phone_check_send,
    referral_code_get,
)

from .conftest import code_sent_to, invited

pytestmark = pytest.mark.django_db

BORIS = "+79167770011"


@pytest.fixture(autouse=True)
def _english():
    # The refusals' texts are asserted in English, whatever an earlier test left active.
    with translation.override("en"):
        yield


def other(code: str) -> str:
    """A wrong code: the right one with its last digit changed."""
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def test_nothing_is_registered_until_the_right_code_then_he_is_registered_and_linked(sakura):
    # given Anna's invitation code
    anna = invited()
    link = referral_code_get(customer=anna)
    # when Boris asks for a code (any spelling of his number)
    join_code_send(phone="8 916 777-00-11")
    # then a 6-digit code is queued for his phone, and nobody is registered or linked yet
    code = code_sent_to(BORIS)
    assert re.fullmatch(r"\d{6}", code)
    assert not Customer.objects.filter(phone=BORIS).exists()
    assert not Referral.objects.exists()
    # when he types a wrong code, still nothing
    with pytest.raises(CodeWrong):
        join_confirm(phone=BORIS, code=other(code), inviter=link, name="Boris")
    assert not Customer.objects.filter(phone=BORIS).exists()
    # when he types the right one: registered with the welcome bonus, invited by Anna via the link
    joined = join_confirm(phone=BORIS, code=code, inviter=link, name="Boris",
                          consent_messages=True)
    boris = Customer.objects.get(phone=BORIS)
    assert joined.customer == boris and joined.problem is None
    assert boris.is_registered and boris.name == "Boris" and boris.consent_messages
    referral = Referral.objects.get(customer=boris)
    assert (referral.inviter, referral.channel) == (anna, "join")


def test_the_code_is_stored_hashed_not_in_clear(sakura):
    join_code_send(phone=BORIS)
    code = code_sent_to(BORIS)
    check = PhoneCheck.objects.get(phone=BORIS)
    assert len(check.code_hash) == 64 and code not in check.code_hash
    assert check.expires_at == check.sent_at + timedelta(minutes=10)


def test_wrong_codes_are_counted_and_the_fifth_kills_the_code(sakura):
    join_code_send(phone=BORIS)
    code = code_sent_to(BORIS)
    for left in (4, 3, 2, 1):
        with pytest.raises(CodeWrong) as refused:
            phone_check_confirm(phone=BORIS, code=other(code))
        assert str(refused.value) == f"The code is wrong. Attempts left: {left}."
    assert PhoneCheck.objects.get(phone=BORIS).attempts == 4  # counted, not rolled back
    with pytest.raises(CodeAttemptsExhausted):
        phone_check_confirm(phone=BORIS, code=other(code))
    # then even the right code is refused, and nobody is registered
    with pytest.raises(CodeAttemptsExhausted):
        join_confirm(phone=BORIS, code=code, inviter=referral_code_get(customer=invited()))
    assert not Customer.objects.filter(phone=BORIS).exists()
    # a new code (after the minute) starts afresh
    with freeze_time(timezone.now() + timedelta(seconds=61)):
        join_code_send(phone=BORIS)
        phone_check_confirm(phone=BORIS, code=code_sent_to(BORIS))


def test_an_expired_code_is_refused(sakura):
    join_code_send(phone=BORIS)
    code = code_sent_to(BORIS)
    with freeze_time(timezone.now() + timedelta(minutes=10, seconds=1)), \
            pytest.raises(CodeExpired) as refused:
        join_confirm(phone=BORIS, code=code, inviter=referral_code_get(customer=invited()))
    assert str(refused.value) == "This code is no longer valid. Ask for a new one."
    assert not Customer.objects.filter(phone=BORIS).exists()


def test_a_used_code_cannot_be_used_again(sakura):
    link = referral_code_get(customer=invited())
    join_code_send(phone=BORIS)
    code = code_sent_to(BORIS)
    join_confirm(phone=BORIS, code=code, inviter=link)
    with pytest.raises(CodeExpired):
        phone_check_confirm(phone=BORIS, code=code)


def test_a_code_for_another_number_or_none_sent_is_refused(sakura):
    join_code_send(phone=BORIS)
    with pytest.raises(CodeExpired):
        phone_check_confirm(phone="+79167770012", code=code_sent_to(BORIS))


def test_a_new_code_after_a_minute_replaces_the_old_and_three_an_hour_at_most(sakura):
    start = timezone.now()
    with freeze_time(start):
        join_code_send(phone=BORIS)
        first = code_sent_to(BORIS)
        with pytest.raises(CodeResendTooSoon) as refused:
            join_code_send(phone=BORIS)
        assert str(refused.value) == "A new code can be sent in 60 s."
    with freeze_time(start + timedelta(seconds=61)):
        join_code_send(phone=BORIS)
        second = code_sent_to(BORIS)
        if second != first:  # one chance in a million that the new code is the same
            with pytest.raises(CodeWrong):
                phone_check_confirm(phone=BORIS, code=first)
    with freeze_time(start + timedelta(seconds=122)):
        join_code_send(phone=BORIS)
    with freeze_time(start + timedelta(seconds=183)), pytest.raises(CodeSendLimit) as refused:
        join_code_send(phone=BORIS)
    assert str(refused.value) == "Too many codes were sent to this number. Try again in 57 min."
    assert Notification.objects.filter(phone=BORIS).count() == 3
    # an hour after the first, the count starts again
    with freeze_time(start + timedelta(hours=1, seconds=1)):
        join_code_send(phone=BORIS)
        phone_check_confirm(phone=BORIS, code=code_sent_to(BORIS))


def test_a_registered_number_gets_the_refusal_of_old_and_no_code(sakura):
    anna = invited()
    with pytest.raises(AlreadyRegistered):
        join_code_send(phone=anna.phone)
    with pytest.raises(InvalidPhone):
        join_code_send(phone="123")
    assert not Notification.objects.exists() and not PhoneCheck.objects.exists()


def test_a_phone_only_customer_confirms_and_registers(sakura):
    # a number that received points before registering may join; the outbox row is for the phone
    from tests.factories import customer_create

    customer_create(phone=BORIS)
    join_code_send(phone=BORIS)
    assert Notification.objects.get(phone=BORIS).customer_id is None
    joined = join_confirm(phone=BORIS, code=code_sent_to(BORIS),
                          inviter=referral_code_get(customer=invited()))
    assert joined.customer.is_registered and joined.problem is None


def test_someone_registered_meanwhile_gets_the_refusal_and_the_code_stays_used(sakura):
    join_code_send(phone=BORIS)
    code = code_sent_to(BORIS)
    from loyalty.services import customer_register

    customer_register(phone=BORIS)  # at the till, between the two steps
    with pytest.raises(AlreadyRegistered):
        join_confirm(phone=BORIS, code=code, inviter=referral_code_get(customer=invited()))
    with pytest.raises(CodeExpired):
        phone_check_confirm(phone=BORIS, code=code)


@pytest.mark.django_db(transaction=True)
def test_committed_for_real_the_code_goes_out_after_commit_and_leaves_no_trace(settings, caplog):
    # Durable services in real transactions: the send commits, the task sends it through the
    # console channel after commit, and the outbox forgets the code.
    settings.NOTIFY_CONSOLE = True
    caplog.set_level(logging.INFO, logger="campaigns.channels")
    phone_check_send(phone=BORIS)
    row = Notification.objects.get(phone=BORIS)
    assert (row.status, row.channel, row.context) == (NotificationStatus.SENT, "console", {})
    assert row.kind == MessageKind.PHONE_CODE
    code = re.search(r"\b(\d{6})\b", caplog.text).group(1)
    with pytest.raises(CodeWrong):
        phone_check_confirm(phone=BORIS, code=other(code))
    assert PhoneCheck.objects.get(phone=BORIS).attempts == 1  # committed despite the refusal
    phone_check_confirm(phone=BORIS, code=code)
    assert PhoneCheck.objects.get(phone=BORIS).used_at is not None


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_for_one_number_send_one_code():
    # The number's row lock makes the second wait and then see the first send: one code, not two.
    results = []
    barrier = threading.Barrier(2)

    def send():
        try:
            barrier.wait()
            phone_check_send(phone=BORIS)
            results.append("sent")
        except CodeResendTooSoon:
            results.append("too soon")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["sent", "too soon"]
    assert Notification.objects.filter(phone=BORIS).count() == 1
    assert PhoneCheck.objects.get(phone=BORIS).sends_in_window == 1
