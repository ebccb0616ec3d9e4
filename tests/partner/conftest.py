import base64

import pytest
from rest_framework.test import APIClient

from partner.services import api_key_create


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@pytest.fixture
def new_key(db, branch):
    return api_key_create(name="POS 1", branch=branch)


@pytest.fixture
def api(new_key):
    """An API client authenticated as the branch's integration."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(new_key.credentials))
    return client


@pytest.fixture
def anonymous(db):
    return APIClient()


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run what a view queued with transaction.on_commit (tests run inside one transaction)."""
    return django_capture_on_commit_callbacks


@pytest.fixture(autouse=True)
def _fresh_endpoint_cache():
    # Rolled-back tests leave no signal behind: cached webhook endpoints must not outlive them.
    from partner.authentication import company_id_forget
    from partner.selectors import api_key_cache_clear
    from partner.webhooks import endpoint_cache_clear

    endpoint_cache_clear()
    company_id_forget()
    api_key_cache_clear()
    yield
    endpoint_cache_clear()
    company_id_forget()
    api_key_cache_clear()
