"""The hand-written SQL of the sale's hot path (``loyalty.rows``) behaves like the ORM it replaces."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.test.utils import override_settings

from loyalty import rows
from loyalty.locks import customer_accounts_lock
from loyalty.models import Account, AccountKind, Customer, Entry, Operation, OperationKind
from loyalty.services import purchase_create
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def test_locked_rows_are_the_same_instances_the_orm_reads(tiers):
    customer = customer_create(name="Анна", birthday=date(1990, 2, 28), is_blocked=True,
                               tier_pinned=True, total_spent=Decimal("1234.50"))
    orm = Customer.objects.get(pk=customer.pk)
    locked = customer_accounts_lock(customer_ids=[customer.pk])[customer.pk]
    # Every field converted as the ORM converts it (SQLite hands back ints, floats and strings).
    for field in Customer._meta.concrete_fields:
        assert getattr(locked.customer, field.attname) == getattr(orm, field.attname), field.name
        assert type(getattr(locked.customer, field.attname)) is type(getattr(orm, field.attname))
    assert locked.available.balance == Decimal("0.00")
    assert isinstance(locked.available.balance, Decimal)
    assert locked.available.customer is locked.customer  # no query to reach the customer
    assert {locked.available.kind, locked.pending.kind, locked.held.kind, locked.debt.kind} == {
        AccountKind.AVAILABLE, AccountKind.PENDING, AccountKind.HELD, AccountKind.DEBT}


def test_credited_customers_lock_only_their_spendable_and_debt_accounts(tiers):
    buyer, friend = customer_create(), customer_create()
    locked = customer_accounts_lock(customer_ids=[buyer.pk], credited_ids=[friend.pk, buyer.pk])
    assert locked[buyer.pk].pending is not None and locked[buyer.pk].held is not None
    assert locked[friend.pk].pending is None and locked[friend.pk].held is None
    assert locked[friend.pk].available.customer_id == friend.pk
    assert locked[friend.pk].debt.customer_id == friend.pk
    # A sale that defers what it credits them (or a refund cancelling that) needs pending too.
    deferred = customer_accounts_lock(customer_ids=[buyer.pk], credited_ids=[friend.pk],
                                      credited_pending=True)
    assert deferred[friend.pk].pending.customer_id == friend.pk
    assert deferred[friend.pk].held is None
    assert customer_accounts_lock(customer_ids=[]) == {}


def test_a_credited_customer_comes_with_what_the_sale_reads_and_the_rest_on_demand(
        tiers, django_assert_num_queries):
    buyer = customer_create()
    friend = customer_create(name="Ольга", is_blocked=True, tier_pinned=True,
                             total_spent=Decimal("77.70"))
    locked = customer_accounts_lock(customer_ids=[buyer.pk], credited_ids=[friend.pk])
    slim = locked[friend.pk].customer
    whole = locked[buyer.pk].customer
    # the buyer's whole row came along; of the credited friend, what a sale reads of him
    assert whole.get_deferred_fields() == set()
    assert slim.get_deferred_fields() == {f.attname for f in Customer._meta.concrete_fields} - {
        "id", "is_blocked", "tier_id", "tier_pinned"}
    with django_assert_num_queries(0):
        assert (slim.pk, slim.is_blocked, slim.tier_id, slim.tier_pinned) == (
            friend.pk, True, friend.tier_id, True)
    assert locked[friend.pk].available.customer is slim
    # anything else is read when asked, as Django does for deferred fields
    with django_assert_num_queries(1):
        assert slim.total_spent == Decimal("77.70")
    # only credited customers: nobody's whole row
    alone = customer_accounts_lock(customer_ids=[], credited_ids=[friend.pk])
    assert alone[friend.pk].customer.get_deferred_fields()


def test_insert_fills_auto_fields_sets_pk_and_sends_post_save(tiers):
    customer = customer_create()
    seen = []

    def listener(sender, instance, created, **kwargs):
        seen.append((instance.pk, created))

    post_save.connect(listener, sender=Operation, dispatch_uid="test_rows")
    try:
        operation = Operation(kind=OperationKind.ADJUSTMENT, customer=customer,
                              cashback=Decimal("1.50"), balance_after=Decimal("1.50"))
        rows.rows_insert([operation])
    finally:
        post_save.disconnect(dispatch_uid="test_rows", sender=Operation)
    stored = Operation.objects.get(pk=operation.pk)
    assert seen == [(operation.pk, True)]
    assert stored.created_at is not None and stored.created_at == operation.created_at
    assert stored.cashback == Decimal("1.50") and stored.state == operation.state
    assert not operation._state.adding


def test_nobody_listens_to_pre_save_of_ledger_rows():
    # rows_insert sends post_save like Model.save() but not pre_save: it would be a silent change
    # of behaviour if someone started listening to it.
    for model in (Operation, Entry, Account, Customer):
        assert not pre_save.has_listeners(model), model


@pytest.mark.postgres_only
def test_the_sale_statements_are_prepared_on_postgresql(tiers, branch):
    customer = customer_create()
    for i in range(6):
        purchase_create(customer=customer, branch=branch, total=100 + i, request_id=f"prep-{i}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("FOR NO KEY UPDATE" in sql for sql in prepared), prepared
    # the operation's INSERT goes with the entries, the balances and the customer's totals
    assert any('INSERT INTO "loyalty_operation"' in sql and 'INSERT INTO "loyalty_entry"' in sql
               for sql in prepared), prepared


@pytest.mark.postgres_only
@override_settings(DB_PREPARE_THRESHOLD=0)
def test_prepared_statements_can_be_turned_off_for_a_pooler(tiers, branch):
    connection.ensure_connection()
    connection.connection.execute("DEALLOCATE ALL")  # psycopg forgets its prepared names too
    customer = customer_create()
    for i in range(4):
        purchase_create(customer=customer, branch=branch, total=100 + i, request_id=f"off-{i}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0


def test_an_execute_wrapper_sees_every_statement_of_a_sale(tiers, branch):
    customer = customer_create()
    purchase_create(customer=customer, branch=branch, total=100)
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        purchase_create(customer=customer, branch=branch, total=100, request_id="wrapped-1")
    assert any("FOR NO KEY UPDATE" in sql or "loyalty_account" in sql for sql in seen)
    assert any('INSERT INTO "loyalty_operation"' in sql for sql in seen)
    assert any('INSERT INTO "loyalty_entry"' in sql for sql in seen)
    assert any('UPDATE "loyalty_customer"' in sql for sql in seen)


def test_a_database_error_on_the_hot_path_is_djangos(tiers, branch):
    from django.db import IntegrityError, transaction

    customer = customer_create()
    purchase_create(customer=customer, branch=branch, total=100, request_id="dup-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.rows_insert([Operation(kind=OperationKind.PURCHASE, customer=customer,
                                    request_id="dup-1", balance_after=Decimal(0))])


def test_the_system_accounts_exist_from_the_migrations():
    # system_account() never has to create one inside a sale that might roll back.
    kinds = set(Account.objects.filter(customer=None).values_list("kind", flat=True))
    assert kinds == {AccountKind.ISSUED, AccountKind.SPENT, AccountKind.EXPIRED}


@pytest.mark.postgres_only
def test_on_postgresql_a_sale_is_three_statements_between_begin_and_commit(tiers, branch):
    from django.test.utils import CaptureQueriesContext

    customer = customer_create()
    purchase_create(customer=customer, branch=branch, total=100)
    with CaptureQueriesContext(connection) as captured:
        receipt = purchase_create(customer=customer, branch=branch, total=100,
                                  request_id="three-1")
    statements = [q["sql"] for q in captured.captured_queries
                  if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
                  and "referral" not in q["sql"]]  # the referral app's ancestors, when installed
    # the lock; the customer as he is once locked, with the request-id lookup and the operation's
    # id from its sequence; the operation + entries + balances + customer totals
    assert len(statements) == 3, statements
    assert "FOR NO KEY UPDATE" in statements[0] and '"loyalty_customer"' not in statements[0]
    assert '"loyalty_customer"' in statements[1] and "request_id" in statements[1]
    assert "nextval(" in statements[1]
    assert "FOR " not in statements[1]  # read, not locked
    assert statements[2].startswith("WITH ") and 'INSERT INTO "loyalty_entry"' in statements[2]
    assert 'INSERT INTO "loyalty_operation"' in statements[2]
    operation = Operation.objects.get(pk=receipt.operation_id)
    assert (operation.request_id, operation.total) == ("three-1", Decimal(100))
    assert Entry.objects.filter(operation=operation).exists()


def test_a_sales_operation_is_announced_by_post_save_once_written(tiers, branch):
    # On PostgreSQL the sale's operation is written with its last statement, not by rows_insert:
    # a listener is still told, once, with the row (and its entries) in the database.
    customer = customer_create()
    seen = []

    def listener(sender, instance, created, **kwargs):
        seen.append((instance.pk, created, instance._state.adding,
                     Entry.objects.filter(operation_id=instance.pk).count()))

    post_save.connect(listener, sender=Operation, dispatch_uid="test_rows_sale")
    try:
        receipt = purchase_create(customer=customer, branch=branch, total=100)
    finally:
        post_save.disconnect(dispatch_uid="test_rows_sale", sender=Operation)
    sale = [s for s in seen if s[0] == receipt.operation_id]
    assert len(sale) == 1 and sale[0][1] is True and sale[0][2] is False
    if connection.vendor == "postgresql":
        assert sale[0][3] >= 1  # written with its entries, announced after


def test_a_post_init_listener_still_sees_hot_path_instances(tiers):
    from django.db.models.signals import post_init

    customer = customer_create()
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_init.connect(listener, sender=Customer)
    try:
        customer_accounts_lock(customer_ids=[customer.pk])
    finally:
        post_init.disconnect(listener, sender=Customer)
    assert customer.pk in seen


@pytest.mark.skipif(connection.vendor != "postgresql", reason="array literals are PostgreSQL's")
@pytest.mark.parametrize("values, cast", [
    ([1, None, 9_007_199_254_740_993], "bigint[]"),
    ([Decimal("0.01"), Decimal("-12345678.90"), None], "numeric[]"),
    (['he said "hi"', "back\\slash", "{braces}, commas", "NULL", "", " spaced ", None], "text[]"),
])
def test_array_literals_read_back_as_the_values_they_hold(values, cast):
    from datetime import UTC, datetime

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{cast}", [rows.array(values)])
        assert cursor.fetchone()[0] == values
        when = datetime(2026, 11, 26, 3, 4, 5, 678901, tzinfo=UTC)
        cursor.execute("SELECT %s::timestamptz[]", [rows.array([when, None])])
        assert cursor.fetchone()[0] == [when, None]
        numbers = [v for v in values if isinstance(v, int | Decimal)]
        cursor.execute(f"SELECT %s::{cast}", [rows.numbers_array(numbers)])
        assert cursor.fetchone()[0] == numbers


def test_array_literals_refuse_what_postgresql_would_read_wrongly():
    from datetime import datetime

    with pytest.raises(ValueError, match="naive"):
        rows.array([datetime(2026, 1, 1, 12, 0)])  # noqa: DTZ001 - the naive one is the point
    with pytest.raises(ValueError, match="not an amount"):
        rows.array([Decimal("NaN")])
    assert rows.array([True, False, None]) == "{t,f,NULL}"


def test_an_insert_statement_is_refused_for_a_model_somebody_listens_to(tiers):
    from loyalty.models import Branch

    def listener(**kwargs):
        pass

    post_save.connect(listener, sender=Branch)
    try:
        with pytest.raises(ValueError, match="post_save"):
            rows.insert_statement(Branch(name="X"))
    finally:
        post_save.disconnect(listener, sender=Branch)
