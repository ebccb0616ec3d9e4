"""The contract: the reference's own sample bodies are accepted, our answers fit its schemas."""

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from loyalty.models import Tag
from loyalty.services import customer_register, points_adjust
from partner.openapi import reference_schemas
from tests.factories import TierFactory, customer_create
from tests.partner.reference import (
    assert_valid,
    component,
    curl_body,
    document,
    response_schema,
)

pytestmark = pytest.mark.django_db

ERROR = {"type": "object", "required": ["errorCode", "message"], "properties": {
    "errorCode": {"type": "string"}, "message": {"type": "string"},
    "errors": {"type": "array", "items": {"type": "object", "required": ["errorCode", "message"]}}}}


@pytest.fixture
def program(db):
    """One tier that lets points pay the whole redeemable part (the samples redeem 50 of 100)."""
    return TierFactory(name="VIP", cashback_percent=D(15), max_redeem_percent=D(100))


@pytest.fixture
def anna(program):
    customer = customer_register(phone="+79160000001", name="Anna")
    points_adjust(customer=customer, amount=500, reason="start")
    customer.tags.add(Tag.objects.create(name="VIP"))
    return customer


def narrowed(body: dict, phone: str) -> dict:
    """A sample body with its three identifiers narrowed to the one a request may carry."""
    body = {k: v for k, v in body.items() if k != "code"}
    body["participant"] = {"phone": phone}
    return body


def test_our_copy_of_the_reference_schemas_differs_only_by_the_edits_it_lists():
    ours = json.loads(Path("partner/reference_schemas.json").read_text(encoding="utf-8"))
    theirs = document()["components"]["schemas"]
    for name, schema in reference_schemas().items():
        expected = theirs[name]
        if name == "Operation":
            expected = {k: v for k, v in expected.items() if k != "discriminator"}
        assert schema == expected, name
    assert len(ours["edits"]) == 1


def test_the_published_sale_sample_names_three_customers_and_is_refused(api, anna):
    sample = curl_body("/operations")
    assert sample["code"] and sample["participant"]["uid"] and sample["participant"]["phone"]
    response = api.post("/partner/v2/operations", sample, format="json")
    assert response.status_code == 400
    assert_valid(response.json(), ERROR)


def test_the_sale_sample_is_accepted_and_answered_as_an_operation(api, anna):
    body = narrowed(curl_body("/operations"), anna.phone)
    response = api.post("/partner/v2/operations", body, format="json")
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert_valid(answer, response_schema("/operations", "post"))
    assert_valid(answer, component("PurchaseOperation"))
    assert answer["total"] == 100.0 and answer["cash"] == 50.0 and answer["points"] == -50.0
    assert answer["receiptNumber"] == "string"
    # the same sample with the Python sample's misspelt cashier id
    python_style = {**body, "nonce": "other", "cashier": {"extrnalId": "string", "name": "string"}}
    assert api.post("/partner/v2/operations", python_style, format="json").status_code == 200


def test_the_calc_sample_is_accepted_and_answered_as_purchase_calc(api, anna):
    response = api.post("/partner/v2/operations/calc",
                        narrowed(curl_body("/operations/calc"), anna.phone), format="json")
    assert response.status_code == 200, response.json()
    assert_valid(response.json(), response_schema("/operations/calc", "post"))
    assert response.json()["purchase"]["points"] == 50.0


def test_the_refund_sample_is_accepted_and_answered_as_an_operation(api, anna):
    sale = api.post("/partner/v2/operations", {"participant": {"phone": anna.phone},
                    "receipt": {"total": 300, "cash": 300, "points": 0}}, format="json").json()
    response = api.post(f"/partner/v2/operations/{sale['id']}/refund",
                        curl_body("/operations/{id}/refund"), format="json")
    assert response.status_code == 200
    assert_valid(response.json(), response_schema("/operations/{id}/refund", "post"))
    assert response.json()["total"] == 100.0


def test_the_reward_sample_is_accepted_with_202(api, anna, on_commit):
    with on_commit(execute=True):
        response = api.post("/partner/v2/operations/reward", curl_body("/operations/reward"),
                            format="json")
    assert response.status_code == 202
    assert_valid(response.json(), response_schema("/operations/reward", "post", "202"))


def test_the_tags_sample_is_accepted(api, anna):
    for pk in (1, 2, 3):
        Tag.objects.update_or_create(pk=pk, defaults={"name": f"tag {pk}"})
    response = api.post(f"/partner/v2/customers/{anna.pk}/tags",
                        curl_body("/customers/{id}/tags"), format="json")
    assert response.status_code == 200
    assert_valid(response.json(), response_schema("/customers/{id}/tags", "post"))
    assert response.json()["total"] == 3


def test_reads_fit_the_reference_schemas(api, anna, program):
    customer_create()  # a phone-only customer: no name, no registration date
    sale = api.post("/partner/v2/operations", {"participant": {"phone": anna.phone},
                    "receipt": {"total": 300, "cash": 200, "points": 100}, "cashier": {
                        "externalId": "e1", "name": "Olga"}}, format="json").json()
    api.post(f"/partner/v2/operations/{sale['id']}/refund", {}, format="json")
    checks = [
        ("/partner/v2/settings", response_schema("/settings", "get")),
        ("/partner/v2/customers?max=50", response_schema("/customers", "get")),
        (f"/partner/v2/customers/{anna.pk}", response_schema("/customers/{id}", "get")),
        (f"/partner/v2/customers/find?phone={anna.phone}&total=100",
         response_schema("/customers/find", "get")),
        (f"/partner/v2/customers/{anna.pk}/tags", response_schema("/customers/{id}/tags", "get")),
        ("/partner/v2/tags", response_schema("/tags", "get")),
        (f"/partner/v2/operations/{sale['id']}", response_schema("/operations/{id}", "get")),
    ]
    for url, schema in checks:
        response = api.get(url)
        assert response.status_code == 200, url
        assert_valid(response.json(), schema)
    # GET /operations: the reference types `rows` as one Operation, its text says a list; each row
    # is checked as an Operation (and `cursor` is null on the last page, as its text says).
    rows = api.get("/partner/v2/operations").json()["rows"]
    assert [row["state"] for row in rows] == ["REVERSAL", "CANCELED"]
    for row in rows:
        assert_valid(row, component("Operation"))
        assert_valid(row, component("PurchaseOperation"))


def test_a_calc_for_a_number_never_seen_fits_the_schema(api, program):
    response = api.post("/partner/v2/operations/calc", {"participant": {"phone": "+79167770000"},
                        "receipt": {"total": 100}}, format="json")
    assert_valid(response.json(), response_schema("/operations/calc", "post"))


@pytest.mark.parametrize("call", [
    lambda api: api.get("/partner/v2/customers/999"),
    lambda api: api.get("/partner/v2/customers?max=99"),
    lambda api: api.post("/partner/v2/operations", {}, format="json"),
    lambda api: api.get("/partner/v2/goods"),
])
def test_errors_fit_the_reference_error_object(api, call):
    body = call(api).json()
    assert_valid(body, ERROR)
    assert set(body) <= {"errorCode", "message", "errors"}


def test_not_found_fits_the_reference_general_error(api):
    assert_valid(api.get("/partner/v2/customers/999").json(), component("GeneralError"))


def test_unauthorized_fits_the_error_object(anonymous):
    assert_valid(anonymous.get("/partner/v2/settings").json(), ERROR)
