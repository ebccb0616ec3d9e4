"""Certificates through the Partner API: found by code, paying their share of calc and sales."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from campaigns.models import Certificate, CertificateStatus
from loyalty.ledger_check import ledger_verify
from loyalty.models import Operation, OperationState
from loyalty.selectors import customer_balances
from loyalty.services import points_adjust
from tests.campaigns.factories import certificate_make
from tests.factories import customer_create
from tests.partner.reference import assert_valid, component, response_schema

pytestmark = pytest.mark.django_db

FIND = "/partner/v2/customers/find"
CALC = "/partner/v2/operations/calc"
OPERATIONS = "/partner/v2/operations"


@pytest.fixture
def anna(tiers):
    """A Base-tier customer (30% cap, 5% cashback) with 500 points."""
    customer = customer_create(phone="+79160000001", name="Anna")
    points_adjust(customer=customer, amount=500, reason="gift")
    return customer


def post(api, path, body):
    return api.post(path, body, format="json")


def sale_body(code, *, total=1000, points=0, certificate_points=0, cash=None, **extra):
    cash = total - points - certificate_points if cash is None else cash
    return {"code": code, "receipt": {"total": total, "cash": cash, "points": points}, **extra}


def error_code(response):
    return response.status_code, response.json()["errorCode"]


def available(customer):
    return customer_balances(customer=customer)["available"]


# --- GET /customers/find?code=<certificate> -----------------------------------------------------

def test_finding_a_certificate_code_answers_its_owner_type_certificate_and_its_points(api, anna):
    certificate = certificate_make(points=D(200), customer=anna)
    response = api.get(FIND, {"code": certificate.code.lower()})
    assert response.status_code == 200, response.json()
    body = response.json()
    # (our validator reads the reference's nullable `purchase` object as not nullable)
    assert_valid({k: v for k, v in body.items() if k != "purchase"},
                 response_schema("/customers/find", "get"))
    assert body["type"] == "CERTIFICATE" and body["code"] is None and body["purchase"] is None
    assert body["user"]["participant"]["id"] == anna.pk
    assert body["certificate"] == {"code": certificate.code, "points": 200.0,
                                   "maxScoresDiscount": 100.0,
                                   "validUntil": certificate.valid_until.isoformat(),
                                   "customerId": anna.pk}


def test_finding_a_certificate_with_a_total_shows_what_it_pays_in_purchase(api, anna):
    certificate = certificate_make(points=D(200), customer=anna, max_redeem_percent=D(10))
    body = api.get(FIND, {"code": certificate.code, "total": 1000}).json()
    assert_valid(body, response_schema("/customers/find", "get"))
    purchase = body["purchase"]
    assert purchase["certificatePoints"] == 100.0  # capped at the certificate's 10% share
    assert purchase["points"] == 300.0  # the customer's own points, under the tier's 30% cap
    assert purchase["cash"] == 600.0 and purchase["netDiscount"] == 400.0
    assert purchase["cashBack"] == 30.0  # 5% of what money paid


def test_finding_a_gift_certificate_answers_no_user(api, tiers):
    certificate = certificate_make(points=D(150))
    body = api.get(FIND, {"code": certificate.code, "total": 500}).json()
    assert_valid(body, response_schema("/customers/find", "get"))
    assert "user" not in body and body["type"] == "CERTIFICATE"
    assert body["certificate"]["customerId"] is None
    assert body["purchase"]["certificatePoints"] == 150.0 and body["purchase"]["cash"] == 350.0


def test_finding_a_used_certificate_is_not_found(api, anna):
    certificate = certificate_make(points=D(100), customer=anna)
    assert post(api, OPERATIONS, sale_body(certificate.code, certificate_points=100)).status_code == 200
    response = api.get(FIND, {"code": certificate.code})
    assert error_code(response) == (404, "notFound")
    assert_valid(response.json(), component("GeneralError"))


def test_finding_an_expired_certificate_is_not_found(api, anna):
    certificate = certificate_make(points=D(100), customer=anna,
                                   valid_from=timezone.localdate() - timedelta(days=40), valid_days=30)
    assert error_code(api.get(FIND, {"code": certificate.code})) == (404, "notFound")


def test_finding_an_unknown_code_is_still_not_found(api, anna):
    assert error_code(api.get(FIND, {"code": "NOSUCHCODE"})) == (404, "notFound")


# --- POST /operations/calc ----------------------------------------------------------------------

def test_calc_with_a_certificate_counts_its_points_apart_from_the_customers(api, anna):
    certificate = certificate_make(points=D(250), customer=anna)
    response = post(api, CALC, {"code": certificate.code, "receipt": {"total": 1000, "points": 100}})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert_valid(body, response_schema("/operations/calc", "post"))
    purchase = body["purchase"]
    assert purchase["certificatePoints"] == 250.0 and purchase["points"] == 100.0
    assert purchase["cash"] == 650.0  # total − points − certificatePoints
    assert body["user"]["participant"]["id"] == anna.pk
    assert Certificate.objects.get(pk=certificate.pk).status == CertificateStatus.ACTIVE


def test_calc_with_a_gift_certificate_and_a_phone_pays_for_that_customer(api, anna):
    certificate = certificate_make(points=D(50))
    body = post(api, CALC, {"code": certificate.code, "participant": {"phone": anna.phone},
                            "receipt": {"total": 100, "points": 0}}).json()
    assert body["user"]["participant"]["id"] == anna.pk
    assert body["purchase"]["certificatePoints"] == 50.0 and body["purchase"]["cash"] == 50.0


def test_calc_with_another_customers_certificate_is_refused(api, anna):
    other = customer_create(phone="+79160000002")
    certificate = certificate_make(points=D(50), customer=other)
    response = post(api, CALC, {"code": certificate.code, "participant": {"phone": anna.phone},
                                "receipt": {"total": 100}})
    assert error_code(response) == (400, "certificateNotYours")


def test_calc_with_a_gift_certificate_alone_asks_whose_sale_it_is(api, tiers):
    certificate = certificate_make(points=D(50))
    response = post(api, CALC, {"code": certificate.code, "receipt": {"total": 100}})
    assert error_code(response) == (400, "badRequest")


# --- POST /operations, GET /operations[/id], refund ---------------------------------------------

def test_a_sale_with_a_certificate_reports_its_points_on_create_get_and_list(api, anna):
    certificate = certificate_make(points=D(200), customer=anna)
    response = post(api, OPERATIONS, sale_body(certificate.code, points=100, certificate_points=200,
                                               nonce="n-1"))
    assert response.status_code == 200, response.json()
    created = response.json()
    assert_valid(created, response_schema("/operations", "post"))
    assert_valid(created, component("PurchaseOperation"))
    assert created["points"] == -100.0 and created["certificatePoints"] == 200.0
    assert created["cash"] == 700.0 and created["total"] == 1000.0
    assert created["cashBack"] == 35.0  # 5% of 700 paid with money
    fetched = api.get(f"{OPERATIONS}/{created['id']}").json()
    listed = api.get(OPERATIONS).json()["rows"][0]
    assert fetched == listed
    assert {k: fetched[k] for k in ("points", "certificatePoints", "cash")} == {
        "points": -100.0, "certificatePoints": 200.0, "cash": 700.0}
    assert_valid(fetched, response_schema("/operations/{id}", "get"))
    # a retry with the same nonce answers the same figures and writes nothing
    again = post(api, OPERATIONS, sale_body(certificate.code, points=100, certificate_points=200,
                                            nonce="n-1")).json()
    assert again["id"] == created["id"] and again["certificatePoints"] == 200.0
    used = Certificate.objects.get(pk=certificate.pk)
    assert used.status == CertificateStatus.USED and used.operation_id == created["id"]
    assert available(anna) == D(500) - 100 + 35
    assert ledger_verify().ok


def test_a_sale_without_a_certificate_still_reports_certificate_points_null(api, anna):
    body = post(api, OPERATIONS, {"participant": {"phone": anna.phone},
                                  "receipt": {"total": 100, "cash": 100, "points": 0}}).json()
    assert body["certificatePoints"] is None


def test_cash_that_ignores_the_certificate_is_invalid_checksum_and_writes_nothing(api, anna):
    certificate = certificate_make(points=D(200), customer=anna)
    response = post(api, OPERATIONS, sale_body(certificate.code, points=100, cash=900))
    assert error_code(response) == (400, "invalidChecksum")
    assert "700" in response.json()["message"]
    assert not Operation.objects.filter(customer=anna, kind="purchase").exists()
    assert Certificate.objects.get(pk=certificate.pk).status == CertificateStatus.ACTIVE


def test_the_certificate_pays_at_most_its_share_of_the_bill(api, anna):
    certificate = certificate_make(points=D(500), customer=anna, max_redeem_percent=D(20))
    body = post(api, OPERATIONS, sale_body(certificate.code, certificate_points=200)).json()
    assert body["certificatePoints"] == 200.0 and body["cash"] == 800.0 and body["points"] == 0.0


def test_a_used_certificate_is_not_found(api, anna):
    certificate = certificate_make(points=D(100), customer=anna)
    assert post(api, OPERATIONS, sale_body(certificate.code, certificate_points=100)).status_code == 200
    response = post(api, OPERATIONS, sale_body(certificate.code, certificate_points=100))
    assert error_code(response) == (404, "notFound")
    assert Operation.objects.filter(customer=anna, kind="purchase").count() == 1


def test_an_expired_certificate_is_not_found(api, anna):
    certificate = certificate_make(points=D(100), customer=anna,
                                   valid_from=timezone.localdate() - timedelta(days=40), valid_days=30)
    response = post(api, OPERATIONS, sale_body(certificate.code, certificate_points=100))
    assert error_code(response) == (404, "notFound")


def test_another_customers_certificate_is_refused_and_writes_nothing(api, anna):
    other = customer_create(phone="+79160000002")
    certificate = certificate_make(points=D(100), customer=other)
    body = sale_body(certificate.code, certificate_points=100, participant={"phone": anna.phone})
    assert error_code(post(api, OPERATIONS, body)) == (400, "certificateNotYours")
    assert not Operation.objects.filter(kind="purchase").exists()


def test_a_gift_certificate_pays_for_the_participant_named_with_it(api, anna):
    certificate = certificate_make(points=D(100))
    body = sale_body(certificate.code, certificate_points=100, participant={"phone": anna.phone})
    answer = post(api, OPERATIONS, body).json()
    assert answer["customer"]["id"] == anna.pk and answer["certificatePoints"] == 100.0
    assert Certificate.objects.get(pk=certificate.pk).customer_id == anna.pk


def test_a_certificate_code_with_phone_and_uid_is_bad_request(api, anna):
    certificate = certificate_make(points=D(100), customer=anna)
    body = sale_body(certificate.code, certificate_points=100,
                     participant={"phone": anna.phone, "uid": str(anna.uid)})
    assert error_code(post(api, OPERATIONS, body)) == (400, "badRequest")


def test_a_refund_gives_back_the_customers_points_but_not_the_certificates(api, anna):
    certificate = certificate_make(points=D(200), customer=anna)
    sale = post(api, OPERATIONS, sale_body(certificate.code, points=100,
                                           certificate_points=200)).json()
    response = post(api, f"{OPERATIONS}/{sale['id']}/refund", {})
    assert response.status_code == 200, response.json()
    refund = response.json()
    assert_valid(refund, response_schema("/operations/{id}/refund", "post"))
    assert refund["state"] == "REVERSAL" and refund["origin"] == {"id": sale["id"]}
    assert refund["points"] == 100.0 and refund["certificatePoints"] is None
    assert refund["cash"] == 700.0 and refund["total"] == 1000.0
    original = api.get(f"{OPERATIONS}/{sale['id']}").json()
    assert original["state"] == "CANCELED" and original["certificatePoints"] == 200.0
    assert available(anna) == D(500)  # own points back, cashback taken back
    assert Operation.objects.get(pk=sale["id"]).state == OperationState.CANCELED
    assert ledger_verify().ok
