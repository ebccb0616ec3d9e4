"""The API's own documentation: an OpenAPI document and a Swagger UI page, served locally."""

import pytest
from django.test import Client

from tests.partner.reference import document

IMPLEMENTED = {
    "/settings": {"get"}, "/customers": {"get"}, "/customers/find": {"get"},
    "/customers/{id}": {"get"}, "/customers/{id}/tags": {"get", "post"},
    "/operations": {"get", "post"}, "/operations/calc": {"post"},
    "/operations/reward": {"post"}, "/operations/{id}": {"get"},
    "/operations/{id}/refund": {"post"}, "/tags": {"get"},
}


@pytest.fixture
def schema(db):
    response = Client().get("/partner/v2/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_document_lists_the_reference_paths_we_implement(schema):
    ours = {path: set(item) - {"parameters"} for path, item in schema["paths"].items()}
    assert ours == IMPLEMENTED
    assert schema["servers"] == [{"url": "/partner/v2"}]
    reference = document()["paths"]
    for path, methods in IMPLEMENTED.items():
        assert methods <= set(reference[path]), path


def test_the_document_uses_the_reference_schemas_and_basic_auth(schema):
    assert schema["components"]["securitySchemes"]["Basic"]["scheme"] == "basic"
    operation = schema["paths"]["/operations"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateOperation"}
    assert schema["components"]["schemas"]["CreateOperation"] == \
        document()["components"]["schemas"]["CreateOperation"]


def test_swagger_ui_is_served_from_our_own_static_files(db):
    page = Client().get("/partner/v2/docs/").content.decode()
    assert "/partner/v2/schema/" in page
    assert "swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()


def test_the_served_components_are_the_reference_schemas_unchanged(schema):
    reference = document()["components"]["schemas"]
    for name in ("CompanySettings", "CustomerDetail", "PurchaseCalc", "MembershipTier", "Gender"):
        assert schema["components"]["schemas"][name] == reference[name], name
