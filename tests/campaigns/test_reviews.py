from decimal import Decimal as D

import pytest

from campaigns.exceptions import ReviewAlreadyRewarded, ReviewPlatformUnknown
from campaigns.models import Certificate, CertificateReason, ReviewMark
from campaigns.services.reviews import review_mark
from loyalty.ledger_check import ledger_verify
from loyalty.models import OperationKind
from loyalty.selectors import customer_balances
from tests.campaigns.factories import campaign_set
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def test_elita_review_on_2gis_credits_500_points_once(db):
    campaign_set(review_points=D(500), review_as_certificate=False, review_platforms=["2GIS"])
    customer = customer_create()
    mark = review_mark(customer=customer, platform="2gis", link="https://2gis.ru/review/1")
    assert mark.platform == "2GIS"
    assert mark.operation.kind == OperationKind.CAMPAIGN
    assert customer_balances(customer=customer)["available"] == D("500.00")
    with pytest.raises(ReviewAlreadyRewarded):
        review_mark(customer=customer, platform="2GIS")
    assert customer_balances(customer=customer)["available"] == D("500.00")
    assert ledger_verify().ok


def test_sakura_review_gives_a_250_point_certificate_per_platform(db):
    campaign_set(review_points=D(250), review_as_certificate=True, review_valid_days=30,
                 review_platforms=["Yandex Maps", "2GIS"])
    customer = customer_create()
    review_mark(customer=customer, platform="Yandex Maps")
    review_mark(customer=customer, platform="2GIS")
    certificates = Certificate.objects.filter(customer=customer, reason=CertificateReason.REVIEW)
    assert sorted(certificates.values_list("period", flat=True)) == ["2GIS", "Yandex Maps"]
    assert all(c.points == D("250.00") for c in certificates)
    assert customer_balances(customer=customer)["available"] == D("0.00")
    assert ReviewMark.objects.count() == 2


def test_review_on_an_unlisted_platform_or_with_the_campaign_off_is_refused(db):
    customer = customer_create()
    with pytest.raises(ReviewPlatformUnknown):
        review_mark(customer=customer, platform="2GIS")
    campaign_set(review_points=D(500), review_platforms=["2GIS"])
    with pytest.raises(ReviewPlatformUnknown):
        review_mark(customer=customer, platform="Google Maps")
