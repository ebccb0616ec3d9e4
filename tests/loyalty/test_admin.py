from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group

from loyalty.models import Operation
from loyalty.roles import roles_ensure
from loyalty.selectors import customer_balances
from loyalty.services import purchase_create
from tests.factories import UserFactory, customer_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client):
    roles_ensure()
    owner = UserFactory(username="boss", is_staff=True)
    owner.groups.add(Group.objects.get(name="Owner"))
    client.force_login(owner)
    return client


def test_owner_adjusts_points_with_a_reason_through_the_service(owner_client, tiers):
    customer = customer_create()
    url = "/admin/loyalty/customer/"
    # the action first asks for amount and reason
    page = owner_client.post(url, {"action": "adjust_points", "_selected_action": [customer.pk]})
    assert page.status_code == 200 and b"Reason" in page.content
    done = owner_client.post(url, {"action": "adjust_points", "_selected_action": [customer.pk],
                                   "apply": "1", "amount": "150.50", "reason": "compensation"},
                             follow=True)
    assert done.status_code == 200
    assert customer_balances(customer=customer)["available"] == D("150.50")
    op = Operation.objects.get(kind="adjustment")
    assert op.comment == "compensation" and op.cashier.username == "boss"


def test_adjust_without_reason_is_a_form_error_and_changes_nothing(owner_client, tiers):
    customer = customer_create()
    page = owner_client.post("/admin/loyalty/customer/", {
        "action": "adjust_points", "_selected_action": [customer.pk], "apply": "1",
        "amount": "10", "reason": ""})
    assert page.status_code == 200 and b"errorlist" in page.content
    assert customer_balances(customer=customer)["available"] == D("0.00")


def test_taking_more_than_balance_shows_a_message_not_a_traceback(owner_client, tiers):
    customer = customer_create()
    page = owner_client.post("/admin/loyalty/customer/", {
        "action": "adjust_points", "_selected_action": [customer.pk], "apply": "1",
        "amount": "-10", "reason": "oops"}, follow=True)
    assert page.status_code == 200 and b"Not enough points" in page.content


def test_customer_search_takes_any_phone_spelling(owner_client, tiers):
    customer_create(phone="+79001234567", name="Findme")
    page = owner_client.get("/admin/loyalty/customer/", {"q": "8 (900) 123-45-67"})
    assert b"Findme" in page.content


def test_ledger_is_read_only_in_admin(owner_client, tiers, branch):
    customer = customer_create()
    receipt = purchase_create(customer=customer, branch=branch, total=100)
    assert owner_client.get("/admin/loyalty/entry/add/").status_code == 403
    assert owner_client.get("/admin/loyalty/operation/add/").status_code == 403
    page = owner_client.get(f"/admin/loyalty/operation/{receipt.operation_id}/change/")
    assert page.status_code == 200 and b'name="total"' not in page.content
    assert owner_client.post(f"/admin/loyalty/operation/{receipt.operation_id}/delete/").status_code \
        == 403


def test_admin_pages_open(owner_client, tiers, branch):
    customer = customer_create()
    purchase_create(customer=customer, branch=branch, total=100)
    for url in ["/admin/", "/admin/loyalty/customer/", f"/admin/loyalty/customer/{customer.pk}/change/",
                "/admin/loyalty/tier/", "/admin/loyalty/operation/", "/admin/loyalty/entry/",
                "/admin/loyalty/account/", "/admin/loyalty/businesssettings/",
                "/admin/loyalty/customer/add/", "/admin/auth/user/"]:
        assert owner_client.get(url).status_code == 200, url


def test_admin_rejects_an_invalid_phone_with_a_form_error(owner_client, tiers):
    page = owner_client.post("/admin/loyalty/customer/add/", {
        "phone": "12", "name": "X", "total_spent": "0", "purchase_count": "0",
        "operations-TOTAL_FORMS": "0", "operations-INITIAL_FORMS": "0"})
    assert page.status_code == 200 and b"not a valid phone" in page.content


def test_cashier_cannot_open_the_admin(client):
    roles_ensure()
    cashier = UserFactory(username="till", is_staff=False)
    cashier.groups.add(Group.objects.get(name="Cashier"))
    client.force_login(cashier)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("field,value,message", [
    ("timezone", "Mars/Olympus", "is not a time zone"),
    ("language", "xx", "The language must be one of: ru, en."),
    ("currency", "руб", "three-letter ISO 4217 code"),
    ("redeem_by_phone", "", "Payment codes are not issued yet"),
])
def test_program_settings_refuse_what_the_nightly_jobs_cannot_use(owner_client, field, value, message):
    from loyalty.models import BusinessSettings

    BusinessSettings.load()
    form = {"name": "Sakura", "currency": "RUB", "timezone": "Europe/Moscow", "language": "ru",
            "welcome_bonus": "0", "accrual_delay_days": "0", "redeem_by_phone": "on",
            field: value}
    if not value:
        del form[field]  # an unticked checkbox is not sent
    page = owner_client.post("/admin/loyalty/businesssettings/1/change/", form,
                             HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and message in page.content.decode()
    assert getattr(BusinessSettings.load(), field) != (value or False)


@pytest.mark.parametrize("language,message", [
    ("en", "Cashback must be between 0 and 100 percent."),
    ("ru", "Кешбэк — от 0 до 100 процентов."),
])
def test_a_tier_out_of_range_is_explained_not_named_by_its_constraint(owner_client, tiers,
                                                                       language, message):
    tier = tiers[0]
    page = owner_client.post(f"/admin/loyalty/tier/{tier.pk}/change/", {
        "name": tier.name, "position": tier.position, "cashback_percent": "150",
        "max_redeem_percent": "30", "min_total_spent": "0"}, HTTP_ACCEPT_LANGUAGE=language)
    text = page.content.decode()
    assert page.status_code == 200 and message in text
    assert "tier_cashback_percent_range" not in text


def test_a_birthday_in_the_future_is_refused_in_the_admin(owner_client, tiers):
    from django.core.exceptions import ValidationError
    from django.utils import translation

    from loyalty.models import Customer

    customer = customer_create()
    customer.birthday = "2099-01-01"
    with translation.override("en"), pytest.raises(ValidationError) as err:
        customer.full_clean()
    with translation.override("en"):
        assert err.value.message_dict == {"birthday": ["A birthday cannot be in the future."]}
    assert Customer.objects.get(pk=customer.pk).birthday is None


def test_two_tiers_cannot_start_at_the_same_total(owner_client, tiers):
    page = owner_client.post("/admin/loyalty/tier/add/", {
        "name": "Twin", "position": "7", "cashback_percent": "6", "max_redeem_percent": "30",
        "min_total_spent": "10000"}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "The tier “Silver” already starts at this total" in page.content.decode()
