"""The reference OpenAPI document, loaded for tests: its schemas as JSON Schema, its samples.

The document lives outside the repository (``../shared/reference/`` beside the checkout, as in CI);
``PARTNER_API_REFERENCE`` may point elsewhere. Tests that need it skip, saying why, without it.
"""

import json
import os
import re
from functools import cache
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from jsonschema import Draft202012Validator

NAME = "uds-partner-api-v2.openapi.yaml"
CANDIDATES = [
    os.environ.get("PARTNER_API_REFERENCE", ""),
    str(Path(settings.BASE_DIR).parent / "shared" / "reference" / NAME),
    str(Path("/work/shared/reference") / NAME),
]


@cache
def document() -> dict:
    for candidate in CANDIDATES:
        if candidate and Path(candidate).is_file():
            return yaml.safe_load(Path(candidate).read_text(encoding="utf-8"))
    pytest.skip(f"the reference {NAME} is not beside the checkout (set PARTNER_API_REFERENCE)")


_DROP = {"discriminator", "example", "examples", "readOnly", "writeOnly", "deprecated", "xml",
         "externalDocs"}


def to_json_schema(node):
    """OpenAPI 3.0 schema → JSON Schema: ``nullable`` becomes a null type (or an anyOf)."""
    if isinstance(node, list):
        return [to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k not in _DROP and k != "nullable"}
    if node.get("nullable") is True:
        if "type" in out and "enum" not in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


@cache
def _components() -> dict:
    return {"schemas": to_json_schema(document()["components"]["schemas"])}


def validator(schema: dict) -> Draft202012Validator:
    return Draft202012Validator({**to_json_schema(schema), "components": _components()})


def component(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def response_schema(path: str, method: str, status: str = "200") -> dict:
    response = document()["paths"][path][method]["responses"][status]
    return response["content"]["application/json"]["schema"]


def assert_valid(instance, schema: dict) -> None:
    errors = sorted(validator(schema).iter_errors(json.loads(json.dumps(instance))),
                    key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def curl_body(path: str, method: str = "post") -> dict:
    """The JSON body of the reference's curl sample for ``method path``."""
    for sample in document()["paths"][path][method].get("x-codeSamples", []):
        if sample["lang"] == "curl":
            raw = re.search(r"-d '(.*?)'", sample["source"], re.S).group(1)
            return json.loads(re.sub(r"\\\s*\n", "\n", raw))
    raise LookupError(path)
