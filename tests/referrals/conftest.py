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
