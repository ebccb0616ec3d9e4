from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from loyalty.models import Branch, BusinessSettings, StaffMember, Tier
from loyalty.services.customers import customer_get_or_create_by_phone


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Branch {n}")


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Tier {n}")
    position = factory.Sequence(int)
    cashback_percent = Decimal(5)
    max_redeem_percent = Decimal(50)
    min_total_spent = Decimal(0)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pass12345")


class StaffMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMember

    user = factory.SubFactory(UserFactory)
    branch = factory.SubFactory(BranchFactory)


_phone_counter = iter(range(10**6, 10**7))


def next_phone() -> str:
    return f"+7916{next(_phone_counter):07d}"


def customer_create(*, phone: str | None = None, **fields):
    """A phone-only customer with his accounts, through the service (as the till makes them)."""
    customer, _ = customer_get_or_create_by_phone(phone=phone or next_phone())
    for key, value in fields.items():
        setattr(customer, key, value)
    if fields:
        customer.save()
    return customer


def program_set(**fields) -> BusinessSettings:
    settings = BusinessSettings.load()
    for key, value in fields.items():
        setattr(settings, key, value)
    settings.save()
    return settings
