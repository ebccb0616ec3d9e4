"""Settings, customers (list, one, find) and tags, in the reference's shapes."""

from datetime import date

import pytest

from loyalty.models import Tag
from loyalty.services import customer_register, points_adjust, purchase_create, purchase_refund
from partner.models import PartnerSettings
from tests.factories import customer_create, program_set

pytestmark = pytest.mark.django_db


def test_settings_describe_the_company_and_its_tiers(api, tiers):
    program_set(name="Sakura", redeem_by_phone=False, receipt_number_required=True,
                accrual_delay_days=3)
    body = api.get("/partner/v2/settings").json()
    assert body["id"] == PartnerSettings.load().company_id
    assert body["name"] == "Sakura" and body["slug"] == "sakura"
    assert body["currency"] == "RUB"
    assert body["baseDiscountPolicy"] == "CHARGE_SCORES"
    assert body["usePointsByPhone"] is False and body["purchaseByPhone"] is True
    assert body["writeInvoice"] is True
    program = body["loyaltyProgramSettings"]
    assert program["deferPointsForDays"] == 3
    assert [t["name"] for t in program["membershipTiers"]] == ["Base", "Silver", "Gold"]
    assert program["baseMembershipTier"]["rate"] == 5.0
    assert program["membershipTiers"][1] == {
        "uid": str(tiers[1].pk), "name": "Silver", "rate": 7.0, "maxScoresDiscount": 40.0,
        "conditions": {"totalCashSpent": {"target": 10000.0}},
    }


def test_settings_without_tiers_still_name_a_base_tier(api):
    body = api.get("/partner/v2/settings").json()
    assert body["loyaltyProgramSettings"]["baseMembershipTier"]["rate"] == 0.0


def test_a_customer_is_shown_with_points_tier_spending_and_tags(api, tiers, branch):
    # given a registered customer with a purchase, a partial refund, a full refund and a tag
    customer = customer_register(phone="+79160000001", name="Anna", birthday=date(1990, 5, 17),
                                 gender="female", email="anna@example.com", source="instagram")
    points_adjust(customer=customer, amount=100, reason="gift")
    sale = purchase_create(customer=customer, branch=branch, total=1000, points=100)
    other = purchase_create(customer=customer, branch=branch, total=200)
    purchase_refund(operation_id=other.operation_id)
    customer.tags.add(Tag.objects.create(name="VIP"))
    # when the integration asks for him
    body = api.get(f"/partner/v2/customers/{customer.pk}").json()
    # then
    assert body["uid"] == str(customer.uid)
    assert body["displayName"] == "Anna" and body["phone"] == "+79160000001"
    assert body["gender"] == "FEMALE" and body["birthDate"] == "1990-05-17"
    assert body["email"] == "anna@example.com" and body["channelName"] == "instagram"
    assert body["tags"] == [{"id": Tag.objects.get().pk, "name": "VIP"}]
    participant = body["participant"]
    assert participant["id"] == customer.pk
    assert participant["points"] == float(sale.balance)
    assert participant["cashSpent"] == 900.0  # 900 + 200 − 200 refunded
    assert participant["savedFunds"] == 100.0
    assert participant["operationsCount"] == 2
    assert participant["fullRefundsCount"] == 1
    assert participant["cashbackRate"] == 5.0
    assert participant["membershipTier"]["name"] == "Base"
    assert participant["dateCreated"].endswith("Z")


def test_points_expiry_date_follows_the_last_purchase(api, tiers, branch):
    program_set(expiry_months_after_last_purchase=12)
    customer = customer_create()
    purchase_create(customer=customer, branch=branch, total=100)
    customer.refresh_from_db()
    body = api.get(f"/partner/v2/customers/{customer.pk}").json()
    expected = customer.last_purchase_at.replace(year=customer.last_purchase_at.year + 1)
    assert body["participant"]["pointsExpireIn"].startswith(expected.strftime("%Y-%m-%dT%H:%M"))


@pytest.mark.parametrize("path", ["/partner/v2/customers/424242",
                                  "/partner/v2/customers/99999999999999999999999"])
def test_an_unknown_customer_is_404_not_found(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["errorCode"] == "notFound"


def test_customer_list_pages_by_max_and_offset(api, tiers):
    customers = [customer_create() for _ in range(5)]
    body = api.get("/partner/v2/customers?max=2&offset=1").json()
    assert [row["participant"]["id"] for row in body["rows"]] == [c.pk for c in customers[1:3]]


def test_customer_list_pages_by_cursor_to_the_end(api, tiers):
    customers = [customer_create() for _ in range(5)]
    seen, cursor = [], None
    for _ in range(5):
        url = "/partner/v2/customers?max=2" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(url).json()
        seen += [row["participant"]["id"] for row in body["rows"]]
        cursor = body["cursor"]
        if cursor is None:
            break
    assert seen == [c.pk for c in customers]


@pytest.mark.parametrize("query,field", [("max=51", "max"), ("max=0", "max"),
                                         ("offset=10001", "offset"), ("max=abc", "max")])
def test_customer_list_refuses_bad_paging_with_the_field_named(api, query, field):
    response = api.get(f"/partner/v2/customers?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "badRequest"
    assert [e["field"] for e in body["errors"]] == [field]


def test_a_cursor_we_did_not_give_is_bad_request(api):
    response = api.get("/partner/v2/customers?cursor=garbage")
    assert response.status_code == 400 and response.json()["errorCode"] == "badRequest"


def test_find_by_phone_in_any_spelling_or_uid(api, tiers):
    customer = customer_create(phone="+79161112233")
    by_phone = api.get("/partner/v2/customers/find", {"phone": "+79161112233"}).json()
    by_national = api.get("/partner/v2/customers/find", {"phone": "8 916 111-22-33"}).json()
    by_uid = api.get("/partner/v2/customers/find", {"uid": str(customer.uid)}).json()
    assert by_phone["user"]["participant"]["id"] == customer.pk
    assert by_national["user"] == by_phone["user"] == by_uid["user"]
    assert by_phone["purchase"] is None and by_phone["code"] is None


def test_find_with_a_total_includes_the_purchase_calculation(api, tiers):
    customer = customer_create()
    points_adjust(customer=customer, amount=1000, reason="gift")
    body = api.get("/partner/v2/customers/find", {
        "phone": customer.phone, "total": "1000", "skipLoyaltyTotal": "200",
        "unredeemableTotal": "100", "exchangeCode": "true",
    }).json()
    purchase = body["purchase"]
    # 30% of (1000 − 200 − 100) = 210 may be redeemed; cashback 5% of (800 − 210)
    assert purchase["maxPoints"] == 210.0 and purchase["points"] == 210.0
    assert purchase["cash"] == 790.0 and purchase["cashBack"] == 29.5
    assert purchase["skipLoyaltyTotal"] == 200.0 and purchase["unredeemableTotal"] == 100.0
    assert body["code"] is None  # payment codes come with the customer card feature


def test_find_by_uid_offers_no_redemption(api, tiers):
    customer = customer_create()
    points_adjust(customer=customer, amount=1000, reason="gift")
    body = api.get("/partner/v2/customers/find", {"uid": str(customer.uid), "total": 100}).json()
    assert body["purchase"]["maxPoints"] == 0.0 and body["purchase"]["points"] == 0.0


@pytest.mark.parametrize("query", [{"phone": "+79169999999"}, {"uid": "not-a-uuid"},
                                   {"uid": "23684cea-ca50-4c5c-b399-eb473e85b5ad"},
                                   {"code": "456123"}])
def test_find_answers_not_found_for_unknown_phone_uid_or_code(api, query):
    response = api.get("/partner/v2/customers/find", query)
    assert response.status_code == 404
    assert response.json()["errorCode"] == "notFound"


@pytest.mark.parametrize("query", [{}, {"phone": "+79161112233", "uid": "x"},
                                   {"code": "1", "phone": "+79161112233"}])
def test_find_needs_exactly_one_of_code_phone_uid(api, query):
    response = api.get("/partner/v2/customers/find", query)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "badRequest"


def test_find_of_a_blocked_customer_with_a_total_is_participant_is_blocked(api, tiers):
    customer = customer_create(is_blocked=True)
    response = api.get("/partner/v2/customers/find", {"phone": customer.phone, "total": 100})
    assert response.status_code == 400
    assert response.json()["errorCode"] == "participantIsBlocked"


def test_tags_of_the_company_and_of_a_customer_can_be_read_and_set(api, tiers):
    vip, new, late = (Tag.objects.create(name=n) for n in ("VIP", "New", "Late"))
    customer = customer_create()
    assert api.get("/partner/v2/tags").json() == {
        "rows": [{"id": t.pk, "name": t.name} for t in (vip, new, late)], "total": 3}
    response = api.post(f"/partner/v2/customers/{customer.pk}/tags", {"ids": [late.pk, vip.pk]},
                        format="json")
    assert response.status_code == 200
    expected = {"rows": [{"id": vip.pk, "name": "VIP"}, {"id": late.pk, "name": "Late"}], "total": 2}
    assert response.json() == expected
    assert api.get(f"/partner/v2/customers/{customer.pk}/tags").json() == expected
    # an empty list removes them all
    api.post(f"/partner/v2/customers/{customer.pk}/tags", {"ids": []}, format="json")
    assert customer.tags.count() == 0


def test_setting_an_unknown_tag_changes_nothing_and_is_bad_request(api, tiers):
    vip = Tag.objects.create(name="VIP")
    customer = customer_create()
    response = api.post(f"/partner/v2/customers/{customer.pk}/tags", {"ids": [vip.pk, 999]},
                        format="json")
    assert response.status_code == 400 and "999" in response.json()["message"]
    assert customer.tags.count() == 0


def test_tags_of_an_unknown_customer_are_404(api):
    assert api.get("/partner/v2/customers/777/tags").status_code == 404
    assert api.post("/partner/v2/customers/777/tags", {"ids": []}, format="json").status_code == 404


def test_tags_without_ids_is_bad_request_with_the_field(api, tiers):
    customer = customer_create()
    body = api.post(f"/partner/v2/customers/{customer.pk}/tags", {}, format="json").json()
    assert body["errorCode"] == "badRequest"
    assert body["errors"] == [{"errorCode": "required", "message": "This field is required.",
                               "field": "ids"}]


def test_the_customer_list_costs_the_same_queries_for_one_or_fifty(api, tiers,
                                                                     django_assert_max_num_queries):
    for _ in range(50):
        customer_create()
    api.get("/partner/v2/customers?max=1")  # key's last use written
    with django_assert_max_num_queries(5):
        assert len(api.get("/partner/v2/customers?max=50").json()["rows"]) == 50


def test_referral_figures_come_from_the_referral_program_and_tree(api, tiers, branch):
    from decimal import Decimal

    from referrals.services import referral_inviter_set, referral_program_set

    # given Sakura's referral program and Anna, invited by Olga, who invited two friends
    referral_program_set(first_purchase_bonus=Decimal(50),
                         levels_percent=[Decimal(5), Decimal(1), Decimal(1)])
    olga, anna, friend, other = (customer_create() for _ in range(4))
    referral_inviter_set(customer=anna, inviter=olga)
    referral_inviter_set(customer=friend, inviter=anna)
    referral_inviter_set(customer=other, inviter=anna)
    purchase_create(customer=friend, branch=branch, total=100)  # one friend bought
    # then
    participant = api.get(f"/partner/v2/customers/{anna.pk}").json()["participant"]
    assert participant["inviterId"] == olga.pk
    assert participant["invitedCount"] == 2 and participant["effectiveInvitedCount"] == 1
    program = api.get("/partner/v2/settings").json()["loyaltyProgramSettings"]
    assert program["referralCashbackRates"] == [5.0, 1.0, 1.0]
    assert program["referralReward"] == 50.0
