"""schemathesis against our own /partner/v2/schema/: no 500s, every answer as documented.

Requests are generated from the document (the reference's request schemas), sent in-process
through the WSGI application with a valid key, and each answer is checked: not a server error,
a documented status code and content type, a body that fits the documented schema. The number of
examples per endpoint is bounded (``PARTNER_SCHEMATHESIS_EXAMPLES``, default 15) so the run stays
well under a minute.
"""

import os
from decimal import Decimal as D

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from loyalty.models import Tag
from loyalty.services import points_adjust, purchase_create
from partner.services import api_key_create
from tests.factories import BranchFactory, TierFactory, customer_create
from tests.partner.conftest import basic

EXAMPLES = int(os.environ.get("PARTNER_SCHEMATHESIS_EXAMPLES", "15"))

schema = schemathesis.openapi.from_wsgi("/partner/v2/schema/?format=json", get_wsgi_application())


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """As Django's test client does: a request must not close the test's DB connection (on
    PostgreSQL ``close_old_connections`` would close it, being inside the test's transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def partner_headers(db, wsgi_keeps_the_test_connection):
    """A key and a little data, so that some generated ids and phones find something."""
    TierFactory(name="Base", cashback_percent=D(5), max_redeem_percent=D(30))
    branch = BranchFactory(name="Central")
    for pk in (1, 2, 3):
        Tag.objects.update_or_create(pk=pk, defaults={"name": f"tag {pk}"})
    customer = customer_create(phone="+79160000001")
    points_adjust(customer=customer, amount=100, reason="start")
    purchase_create(customer=customer, branch=branch, total=100)
    credentials = api_key_create(name="schemathesis", branch=branch).credentials
    return {"Authorization": basic(credentials)}


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented_and_none_is_a_server_error(case, partner_headers):
    case.call_and_validate(headers=partner_headers, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance,
        response_schema_conformance,
    ])
