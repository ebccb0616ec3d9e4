"""The Manager role in the referral admin: sees the program, the tree and its statistics, corrects
an inviter; the program's settings stay the Owner's."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from referrals.models import Referral

from .conftest import chain, invited

pytestmark = pytest.mark.django_db


def staff_client(client, group: str | None):
    user = get_user_model().objects.create_user(f"u-{group}", password="pass12345", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return client


def test_a_fresh_database_gives_both_roles_their_referral_permissions():
    # the test database was just migrated once: no second migrate, no roles_ensure() call
    def codenames(group):
        return set(Group.objects.get(name=group).permissions
                   .filter(content_type__app_label="referrals").values_list("codename", flat=True))

    assert {"view_referral", "change_referralprogram", "view_referralmember"} <= codenames("Owner")
    manager = codenames("Manager")
    assert {"view_referralprogram", "view_tierinvites", "view_referral", "view_referralmember",
            "change_referralmember"} <= manager
    assert not {"change_referralprogram", "change_referrallevel", "add_tierinvites",
                "delete_referral"} & manager


def test_a_manager_sees_the_referral_admin_and_its_statistics(sakura, client):
    manager = staff_client(client, "Manager")
    anna, _boris = chain(2)
    index = manager.get("/admin/").content.decode()
    assert reverse("admin:referrals_referralmember_changelist") in index
    for url in (reverse("admin:referrals_stats"),
                reverse("admin:referrals_referralprogram_changelist"),
                reverse("admin:referrals_referral_changelist"),
                reverse("admin:referrals_referralmember_changelist"),
                reverse("admin:referrals_referralmember_change", args=[anna.pk])):
        assert manager.get(url).status_code == 200, url


def test_a_manager_corrects_an_inviter_but_not_the_programs_settings(sakura, client):
    manager = staff_client(client, "Manager")
    _anna, boris = chain(2)
    xenia = invited()
    url = reverse("admin:referrals_referralmember_change", args=[boris.pk])
    assert manager.post(url, {"inviter": xenia.phone}).status_code == 302
    assert Referral.objects.get(customer=boris).inviter == xenia
    program = reverse("admin:referrals_referralprogram_change", args=[1])
    page = manager.get(program)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()  # read-only
    assert manager.post(program, {"first_purchase_bonus": "999"}).status_code == 403


@pytest.mark.parametrize("period,message", [
    ({"until": "9999-12-31"}, "Choose an earlier date."),
    ({"since": "2026-02-01", "until": "2026-01-01"}, "The end of the period is before its start."),
])
def test_a_period_the_statistics_cannot_show_is_explained(sakura, client, period, message):
    page = staff_client(client, "Manager").get(reverse("admin:referrals_stats"), period,
                                               HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and message in page.content.decode()


def test_staff_without_a_role_does_not_see_the_statistics(db, client):
    assert staff_client(client, None).get(reverse("admin:referrals_stats")).status_code == 403


def test_a_mistyped_member_address_is_not_found_not_a_server_error(sakura, client):
    manager = staff_client(client, "Manager")
    assert manager.get("/admin/referrals/referralmember/stats/change/").status_code == 404
    assert manager.get("/admin/referrals/referralmember/999999/change/").status_code == 404
