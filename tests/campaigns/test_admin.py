from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from campaigns.models import Broadcast, Certificate, CertificateReason, ReviewMark
from loyalty.models import Tag
from loyalty.selectors import customer_balances
from tests.campaigns.factories import campaign_set, certificate_make
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = get_user_model().objects.create_superuser("owner", "owner@example.com", "pass12345")
    client.force_login(user)
    return user


def test_certificate_list_shows_counts_and_revenue_by_certificates(client, owner):
    certificate_make(points=100)
    response = client.get(reverse("admin:campaigns_certificate_changelist"))
    assert response.status_code == 200
    assert response.context["stats"].issued == 1
    assert b"revenue by certificates" in response.content


def test_owner_issues_a_sold_gift_certificate_in_admin(client, owner):
    response = client.post(reverse("admin:campaigns_certificate_add"), {
        "points": "3000", "max_redeem_percent": "100", "reason": CertificateReason.SOLD,
        "valid_from": "2026-05-01", "valid_until": "2026-12-31", "price": "3000",
    })
    assert response.status_code == 302, response.content
    certificate = Certificate.objects.get()
    assert (certificate.price, certificate.issued_by, len(certificate.code)) == (D(3000), owner, 12)


def test_marking_a_review_in_admin_credits_points_once(client, owner):
    campaign_set(review_points=D(500), review_platforms=["2GIS"])
    customer = customer_create()
    url = reverse("admin:campaigns_reviewmark_add")
    data = {"phone": customer.phone, "platform": "2GIS", "link": "https://2gis.ru/r/1"}
    assert client.post(url, data).status_code == 302
    response = client.post(url, data)
    assert response.status_code == 200
    assert "already rewarded" in response.content.decode()
    assert ReviewMark.objects.count() == 1
    assert customer_balances(customer=customer)["available"] == D("500.00")


def test_broadcast_form_previews_the_count_and_the_action_sends(client, owner):
    tag = Tag.objects.create(name="VIP")
    for consent in (True, True, False):
        customer_create(consent_messages=consent, email="x@example.com").tags.add(tag)
    broadcast = Broadcast.objects.create(subject="Hi", text="News", tag=tag)
    response = client.get(reverse("admin:campaigns_broadcast_change", args=[broadcast.pk]))
    assert response.status_code == 200
    assert response.context["adminform"].form.instance.pk == broadcast.pk
    page = response.content.decode()
    assert "Would reach now" in page
    assert '<div class="readonly">2</div>' in page
    client.post(reverse("admin:campaigns_broadcast_changelist"),
                {"action": "send", "_selected_action": [broadcast.pk]})
    broadcast.refresh_from_db()
    assert broadcast.recipients == 2


@pytest.mark.parametrize("name", ["campaignsettings", "notificationtemplate", "notification",
                                  "jobrun", "reviewmark"])
def test_every_campaigns_admin_page_opens(client, owner, name):
    assert client.get(reverse(f"admin:campaigns_{name}_changelist")).status_code == 200


def test_cancelling_certificates_asks_first_and_warns_about_sold_ones(client, owner):
    from campaigns.models import CertificateStatus

    plain = certificate_make(points=100)
    sold = certificate_make(points=3000)
    Certificate.objects.filter(pk=sold.pk).update(price=D(3000), reason=CertificateReason.SOLD)
    url = reverse("admin:campaigns_certificate_changelist")
    asked = client.post(url, {"action": "cancel", "_selected_action": [plain.pk, sold.pk]},
                        HTTP_ACCEPT_LANGUAGE="en")
    page = asked.content.decode()
    assert asked.status_code == 200 and "This cannot be undone." in page
    assert 'data-testid="sold"' in page and sold.code in page
    assert set(Certificate.objects.values_list("status", flat=True)) == {CertificateStatus.ACTIVE}
    done = client.post(url, {"action": "cancel", "_selected_action": [plain.pk, sold.pk],
                             "apply": "1"})
    assert done.status_code == 302
    assert set(Certificate.objects.values_list("status", flat=True)) == {
        CertificateStatus.CANCELLED}


def test_review_platforms_are_typed_one_per_line_not_as_json(client, owner):
    from campaigns.models import CampaignSettings

    settings = CampaignSettings.load()
    url = reverse("admin:campaigns_campaignsettings_change", args=[settings.pk])
    form = {f: getattr(settings, f) for f in (
        "birthday_points", "birthday_days_before", "birthday_valid_days",
        "birthday_max_redeem_percent", "winback_points", "winback_after_days",
        "winback_valid_days", "review_points", "review_valid_days", "expiry_reminder_days")}
    page = client.get(url).content.decode()
    assert "review_platforms" in page
    response = client.post(url, {**form, "review_platforms": "Yandex Maps, 2GIS\n\n2GIS\nGoogle"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert CampaignSettings.load().review_platforms == ["Yandex Maps", "2GIS", "Google"]
    assert "Yandex Maps\n2GIS\nGoogle" in client.get(url).content.decode()
