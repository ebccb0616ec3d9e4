"""The durable import, rollback and merge services in real transactions (no test wrapper)."""

import threading
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.db import connection

from loyalty.exceptions import LoyaltyError
from loyalty.ledger_check import ledger_verify
from loyalty.models import Customer, ImportState
from loyalty.selectors import customer_balances
from loyalty.services import purchase_create
from loyalty.services.imports import import_batch_create, import_batch_rollback, import_batch_run
from loyalty.services.merge import customer_merge
from tests.factories import BranchFactory, TierFactory, customer_create

MESSY = Path(__file__).parent / "fixtures" / "messy_utf8_bom_semicolon.csv"


@pytest.mark.django_db(transaction=True)
def test_import_rollback_and_merge_commit_as_units_of_work():
    TierFactory(name="Base", cashback_percent=D(5), max_redeem_percent=D(30))
    batch = import_batch_create(data=MESSY.read_bytes(), file_name=MESSY.name)
    batch = import_batch_run(batch_id=batch.pk)
    assert batch.state == ImportState.DONE and batch.imported == 6
    import_batch_rollback(batch_id=batch.pk)
    a, b = Customer.objects.order_by("pk")[:2]
    customer_merge(source=a, target=b)
    assert ledger_verify().ok


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_rollback_racing_a_sale_that_spends_the_opening_points_keeps_the_ledger_exact():
    # given an imported customer with 150 opening points
    TierFactory(name="Base", cashback_percent=D(5), max_redeem_percent=D(100))
    branch = BranchFactory(name="Central")
    batch = import_batch_create(data=MESSY.read_bytes(), file_name=MESSY.name)
    import_batch_run(batch_id=batch.pk)
    anna = Customer.objects.get(phone="+79161000001")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def sale():
        barrier.wait()
        try:
            purchase_create(customer=anna, branch=branch, total=200, points=150)
            outcomes.append("sale")
        except LoyaltyError:
            outcomes.append("sale refused")
        finally:
            connection.close()

    def rollback():
        barrier.wait()
        try:
            import_batch_rollback(batch_id=batch.pk)
            outcomes.append("rollback")
        except LoyaltyError:
            outcomes.append("rollback refused")
        finally:
            connection.close()

    # when the till spends the points while the owner rolls the batch back
    threads = [threading.Thread(target=sale), threading.Thread(target=rollback)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then exactly one of them could use the 150 points, and the ledger is exact
    assert sorted(outcomes) in (["rollback", "sale refused"], ["rollback refused", "sale"])
    assert customer_balances(customer=anna)["available"] >= 0
    assert ledger_verify().ok
    customer_create()  # the database still takes writes
