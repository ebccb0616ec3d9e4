"""Who may use the till, and what a cashier may not see."""

import pytest
from django.urls import reverse

from loyalty.models import StaffMember
from loyalty.services import purchase_create
from tests.factories import UserFactory, customer_create

from .conftest import PASSWORD, cashier_make

pytestmark = pytest.mark.django_db


def test_root_sends_anonymous_visitors_to_the_till_login(client):
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("cashier:login"))


def test_root_sends_a_cashier_to_the_till_and_an_owner_to_the_admin(client, cashier):
    # given a cashier and an owner
    owner = UserFactory(username="boss", is_staff=True, is_superuser=True)
    # when each opens the site root
    client.force_login(cashier)
    assert client.get("/").url == reverse("cashier:till")
    client.force_login(owner)
    # then the owner lands in the admin
    assert client.get("/").url == reverse("admin:index")


def test_a_cashier_logs_in_with_his_password_and_lands_on_the_till(client, cashier):
    response = client.post(reverse("cashier:login"),
                           {"username": "olga", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("cashier:till")
    assert b'id="id_q"' in response.content


def test_a_login_without_a_branch_is_refused_in_plain_words(client):
    UserFactory(username="nobody", is_staff=False)
    response = client.post(reverse("cashier:login"), {"username": "nobody", "password": PASSWORD})
    assert response.status_code == 200
    assert "not bound to a branch" in response.content.decode()


def test_a_wrong_password_is_refused(client, cashier):
    response = client.post(reverse("cashier:login"), {"username": "olga", "password": "nope"})
    assert "Please enter a correct username and password" in response.content.decode()


def test_an_admin_user_without_a_branch_gets_403_at_the_till(client):
    owner = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client.force_login(owner)
    response = client.get(reverse("cashier:till"))
    assert response.status_code == 403
    assert "not bound to a branch" in response.content.decode()


def test_logout_ends_the_shift(till):
    response = till.post(reverse("cashier:logout"))
    assert response.url == reverse("cashier:login")
    assert till.get(reverse("cashier:till")).status_code == 302


def test_a_cashier_cannot_open_the_admin(till):
    # Django's admin sends a non-staff login to its own login page, which refuses him.
    for url in ["/admin/", "/admin/loyalty/customer/", "/admin/loyalty/operation/"]:
        response = till.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/")
    response = till.post("/admin/login/", {"username": "olga", "password": PASSWORD,
                                           "next": "/admin/"})
    assert response.status_code == 200
    assert "staff account" in response.content.decode()


def test_a_cashier_gets_404_for_another_branchs_operations(till, tiers, branch, other_branch):
    # given a sale made at the other branch by its own cashier
    seaside_cashier = cashier_make(username="ivan", branch=other_branch)
    customer = customer_create()
    receipt = purchase_create(customer=customer, branch=other_branch, cashier=seaside_cashier,
                              total=1000)
    # when our cashier tries to open or refund it
    opened = till.get(reverse("cashier:operation", args=[receipt.operation_id]))
    refunded = till.post(reverse("cashier:refund", args=[receipt.operation_id]),
                         {"amount": "", "request_id": "r1", "confirm": "1"})
    # then it does not exist for him, and nothing was refunded
    assert opened.status_code == 404
    assert refunded.status_code == 404
    assert customer.operations.filter(kind="refund").count() == 0


def test_the_receipt_of_another_branch_is_not_shown(till, tiers, other_branch):
    receipt = purchase_create(customer=customer_create(), branch=other_branch, total=1000)
    response = till.get(reverse("cashier:till") + f"?receipt={receipt.operation_id}")
    assert "Sale recorded" not in response.content.decode()


def test_moving_a_cashier_to_another_branch_moves_his_till(till, cashier, other_branch):
    StaffMember.objects.filter(user=cashier).update(branch=other_branch)
    assert "Seaside" in till.get(reverse("cashier:till")).content.decode()


def test_an_expired_session_sends_htmx_requests_to_the_login_page(client):
    response = client.get(reverse("cashier:search"), {"q": "4567"}, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"].startswith(reverse("cashier:login"))
