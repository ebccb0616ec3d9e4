from pathlib import Path

import pytest
from django.conf import settings

from loyalty.program import program_load
from loyalty.services import customer_register
from referrals.services import referral_link
from tests.factories import next_phone

PRESETS = Path(settings.BASE_DIR) / "presets"


@pytest.fixture
def sakura(db):
    return program_load((PRESETS / "sakura.yaml").read_text())


@pytest.fixture
def elita(db):
    return program_load((PRESETS / "elita.yaml").read_text())


def invited(inviter=None, *, channel: str = "till"):
    """A customer registered at the till, invited by ``inviter`` (a customer) if given."""
    customer = customer_register(phone=next_phone())
    if inviter is not None:
        referral_link(customer=customer, inviter=inviter.phone, channel=channel)
    return customer


def chain(length: int):
    """``length`` customers, each invited by the previous one; the root first."""
    people = [invited()]
    for _ in range(length - 1):
        people.append(invited(people[-1]))
    return people


def code_sent_to(phone: str) -> str:
    """The last one-time code sent to ``phone`` (E.164), read from its outbox row.

    The row keeps the code until the message is sent after commit; in tests whose transaction never
    commits (``django_db`` without ``transaction=True``) it is still there.
    """
    from campaigns.models import MessageKind, Notification

    row = Notification.objects.filter(phone=phone, kind=MessageKind.PHONE_CODE).latest("pk")
    return row.context["code"]
