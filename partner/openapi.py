"""Our OpenAPI document is the reference's contract: its schemas, copied, named as there.

``reference_schemas.json`` holds the reference document's ``components.schemas`` that our
endpoints use (and what they refer to), with the edits it lists; views point at them with
``ref("Operation")``. drf-spectacular appends them to the generated document, so schemathesis
checks our answers against the reference's own shapes.
"""

import json
from functools import cache
from pathlib import Path

ERROR_SCHEMA = {
    "type": "object",
    "description": "The reference's error object; `errors` for `badRequest`.",
    "required": ["errorCode", "message"],
    "properties": {
        "errorCode": {"type": "string"},
        "message": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "errorCode": {"type": "string"},
            "message": {"type": "string"},
            "field": {"type": "string"},
            "value": {"type": "string", "nullable": True},
        }}},
    },
}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def request_body(schema: dict) -> dict:
    return {"application/json": schema}


ERRORS = {
    400: ref("PartnerError"),
    401: ref("PartnerError"),
    404: ref("PartnerError"),
    409: ref("PartnerError"),
}


@cache
def _reference_text() -> str:
    return Path(__file__).with_name("reference_schemas.json").read_text(encoding="utf-8")


def reference_schemas() -> dict:
    """A fresh copy each call: schema generation must never edit the contract in place."""
    return json.loads(_reference_text())["schemas"]


def spectacular_settings() -> dict:
    return {
        "TITLE": "Partner API v2",
        "DESCRIPTION": (
            "A REST API compatible with the hosted platform's Partner API v2. Authenticate with "
            "HTTP Basic `companyId:apiKey`. Differences from the reference: docs/partner_api.md."
        ),
        "VERSION": "2.0.0",
        "SERVERS": [{"url": "/partner/v2"}],
        "SCHEMA_PATH_PREFIX": "",
        "APPEND_COMPONENTS": {"schemas": {**reference_schemas(), "PartnerError": ERROR_SCHEMA}},
        "DISABLE_ERRORS_AND_WARNINGS": True,
        # The default hook moves inline enums into new components: the reference's schemas must
        # be served exactly as they are.
        "POSTPROCESSING_HOOKS": [],
    }
