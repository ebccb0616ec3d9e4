from decimal import Decimal

import pytest
from django.db import connection

from loyalty.program_cache import program_cache_clear
from loyalty.services.ledger import system_account_cache_clear
from tests.factories import BranchFactory, TierFactory


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests need real row locks; on SQLite they skip, saying why."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL row locks (set DATABASE_URL to run)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_system_accounts():
    # Transactional tests flush tables; cached system-account ids must not outlive them.
    system_account_cache_clear()
    program_cache_clear()
    yield
    system_account_cache_clear()
    program_cache_clear()


@pytest.fixture
def tiers(db):
    """Three tiers: 5% / 7% / 10% cashback, caps 30% / 40% / 50%, thresholds 0 / 10k / 50k."""
    return [
        TierFactory(name="Base", position=0, cashback_percent=Decimal(5),
                    max_redeem_percent=Decimal(30), min_total_spent=Decimal(0)),
        TierFactory(name="Silver", position=1, cashback_percent=Decimal(7),
                    max_redeem_percent=Decimal(40), min_total_spent=Decimal(10000)),
        TierFactory(name="Gold", position=2, cashback_percent=Decimal(10),
                    max_redeem_percent=Decimal(50), min_total_spent=Decimal(50000)),
    ]


@pytest.fixture
def branch(db):
    return BranchFactory(name="Central")
