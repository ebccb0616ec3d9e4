from decimal import Decimal as D

import pytest

from loyalty.exceptions import AlreadyRegistered, InvalidPhone
from loyalty.models import Customer, Operation
from loyalty.phones import mask_phone, normalize_phone
from loyalty.selectors import customer_balances, customer_get_by_phone
from loyalty.services import customer_register, purchase_create
from loyalty.services.customers import customer_get_or_create_by_phone
from tests.factories import program_set


@pytest.mark.parametrize("raw", ["8 900 123-45-67", "+7 (900) 123 45 67", "9001234567",
                                 "+79001234567", " 8(900)1234567 "])
def test_every_spelling_of_a_phone_is_the_same_person(raw):
    assert normalize_phone(raw) == "+79001234567"


@pytest.mark.parametrize("raw", ["", "123", "abc", "+7 900 123"])
def test_invalid_phone_is_refused(raw):
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_mask_keeps_only_the_ends():
    assert mask_phone("+79001234567") == "+7 900 ***-**-67"


@pytest.mark.django_db
def test_phone_only_customer_keeps_points_and_gets_welcome_once(tiers, branch):
    # given a number that bought before its owner registered
    program_set(welcome_bonus=D(100))
    customer, created = customer_get_or_create_by_phone(phone="8 900 123-45-67")
    assert created and not customer.is_registered
    purchase_create(customer=customer, branch=branch, total=1000)
    # when he registers, spelling the phone differently
    registered = customer_register(phone="+7 900 123 45 67", name="Anna")
    # then it is the same record, with both the cashback and the welcome bonus
    assert registered.pk == customer.pk and registered.is_registered
    assert customer_balances(customer=registered)["available"] == D("150.00")
    with pytest.raises(AlreadyRegistered):
        customer_register(phone="9001234567", name="Anna again")
    assert Operation.objects.filter(kind="welcome").count() == 1


@pytest.mark.django_db
def test_new_customer_gets_lowest_tier(tiers):
    customer = customer_register(phone="9001112233", name="Ivan")
    assert customer.tier.name == "Base"
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_lookup_by_any_spelling(tiers):
    customer_register(phone="9001112233", name="Ivan")
    assert customer_get_by_phone(phone="8 (900) 111-22-33").name == "Ivan"
    assert customer_get_by_phone(phone="garbage") is None


def test_a_phone_read_again_gives_the_same_answer_and_a_bad_one_is_refused_again():
    from loyalty.exceptions import InvalidPhone
    from loyalty.phones import normalize_phone

    for _ in range(2):  # the second reading comes from the cache
        assert normalize_phone("8 (900) 123-45-67") == "+79001234567"
        assert normalize_phone("900 123 45 67", region="RU") == "+79001234567"
        with pytest.raises(InvalidPhone):
            normalize_phone("8 (900) 123")
    # the region is part of what is remembered: the same digits read elsewhere differ
    assert normalize_phone("020 7946 0958", region="GB") == "+442079460958"
    with pytest.raises(InvalidPhone):
        normalize_phone("020 7946 0958", region="RU")
