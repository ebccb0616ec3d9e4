"""The ledger's only writer: ``entries_post``, and its set-based twins for imports.

Callers hold the locks of every customer account they pass (see ``loyalty.locks``) and run inside a
transaction; ``entries_post`` writes the entries in one INSERT and the changed customer accounts'
new cached balances in one UPDATE. System accounts are looked up once per process.

An import of 100,000 customers cannot afford a call per row: ``imported_customers_open_bulk`` opens
a batch's accounts with their opening balances and writes the matching entries, and
``entries_reverse_bulk`` reverses a batch's entries, each with a few INSERT ... SELECT / UPDATE ...
FROM statements, keeping the same rule (balance = sum of entries) inside one transaction.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from .. import rows
from ..models import Account, AccountKind, Customer, Entry, EntryKind, Operation, OperationKind

_system_accounts: dict[str, Account] = {}


def system_account(kind: str) -> Account:
    """The business's account of ``kind`` (issued, spent, expired), created on first use.

    Returns a stub carrying the pk (no balance: system accounts are never locked or updated), the
    same object every time; callers only read it.
    """
    account = _system_accounts.get(kind)
    if account is None:
        # The migrations create the system accounts (0005), so a sale never creates one and then
        # rolls back, which would leave this process holding an id that does not exist; created
        # here only in a database emptied since (a test's flush).
        stored, _created = Account.objects.get_or_create(kind=kind, customer=None)
        account = _system_accounts[kind] = Account(pk=stored.pk, kind=kind, customer=None,
                                                   balance=None)
    return account


def system_account_cache_clear() -> None:
    """Forget cached system accounts (tests that flush the database call this)."""
    _system_accounts.clear()


@dataclass(frozen=True)
class Move:
    """``amount`` points from ``source`` to ``destination`` (both Accounts), of entry ``kind``."""

    kind: str
    source: Account
    destination: Account
    amount: Decimal
    release_at: datetime | None = None
    reverses_id: int | None = None


def entries_post(*, operation: Operation, moves: list[Move],
                 then: Sequence[tuple[str, list]] = ()) -> int:
    """Append ``moves`` to the ledger for ``operation`` and update cached balances; returns the
    number of entries written.

    The caller holds the row locks of every customer account in ``moves`` (it read their balances
    under that lock, so the balances here are current). Zero amounts are skipped. A customer
    balance that would break its sign rule raises ``IntegrityError`` from the schema's CHECK, which
    rolls the whole operation back.

    ``then``: more statements (SQL, params) of the same unit of work that return nothing: UPDATEs
    such as the sale's update of the customer's totals, INSERTs such as a webhook's outbox row. On
    PostgreSQL the entries, the balances and ``then`` go to the server as ONE statement (all but
    the last INSERT as data-modifying ``WITH`` parts: they touch other rows, so the shared snapshot
    changes nothing); elsewhere as separate statements, in that order.
    """
    moves = [m for m in moves if m.amount > 0]
    changed: dict[int, Account] = {}
    for m in moves:
        for account, sign in ((m.source, -1), (m.destination, 1)):
            if account.customer_id is None:
                continue
            account.balance += sign * m.amount
            changed[account.pk] = account
    parts = [part for part in (_entries_sql(operation, moves),
                               _balances_sql(list(changed.values())), *then) if part is not None]
    if not parts:
        return 0
    with transaction.atomic(savepoint=False):
        if len(parts) > 1 and rows.db().vendor == "postgresql":
            rows.execute(*_one_statement(parts))
        else:
            for sql, params in parts:
                rows.execute(sql, params)
    return len(moves)


def _one_statement(parts: list[tuple[str, list]]) -> tuple[str, list]:
    """``WITH p1 AS (UPDATE ...), ... <last>``: the statements of ``parts`` as one (PostgreSQL)."""
    *updates, (last_sql, last_params) = sorted(parts, key=lambda part: part[0].startswith("INSERT"))
    ctes = ", ".join(f"u{i} AS ({sql})" for i, (sql, _params) in enumerate(updates))
    params = [value for _sql, part_params in updates for value in part_params] + list(last_params)
    return f"WITH {ctes} {last_sql}", params


_ENTRY_COLUMNS = ("operation_id", "kind", "source_id", "destination_id", "amount", "created_at",
                  "release_at", "reverses_id")


# On PostgreSQL, more entries (accounts) than this go as one array per column: a sale's one or two
# keep the plain VALUES statement (``bench/purchase.py``'s raw twin runs the same), a referral
# chain's many the statement whose text does not grow with them.
_ARRAYS_FROM = 2


@functools.cache
def _entries_insert_sql(count: int, vendor: str) -> str:
    """``count`` rows of VALUES (``vendor`` "values"), or (PostgreSQL) one array per column."""
    table = rows.quote(Entry._meta.db_table)
    columns = ", ".join(rows.quote(c) for c in _ENTRY_COLUMNS)
    if vendor == "postgresql":
        # One array per column: the same statement for any number of entries, so it is parsed
        # (psycopg caches the conversion of statements of at most 50 parameters) and prepared
        # once, not once per length of a referral chain. Each array goes as one literal string
        # (``rows.array``): psycopg adapting a list element by element cost more in Python.
        connection = rows.db()
        arrays = ", ".join(f"%s::{Entry._meta.get_field(c).db_type(connection)}[]"
                           for c in _ENTRY_COLUMNS)
        return f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})"  # noqa: S608 - names from _meta; values bound
    one = "(" + ", ".join("%s" for _ in _ENTRY_COLUMNS) + ")"
    return f"INSERT INTO {table} ({columns}) VALUES " + ", ".join(one for _ in range(count))  # noqa: S608 - names from _meta; values bound


def _entries_sql(operation: Operation, moves: list[Move]) -> tuple[str, list] | None:
    """``Entry.objects.bulk_create`` of one entry per move, written by hand: every sale runs it,
    and building the instances and the INSERT through the ORM cost more than executing it."""
    if not moves:
        return None
    now = timezone.now()
    if rows.db().vendor == "postgresql" and len(moves) > _ARRAYS_FROM:
        # Array literals (PostgreSQL reads them by the column types: a Decimal amount to the
        # cent, an aware datetime): no field has anything to prepare.
        numbers, array, count = rows.numbers_array, rows.array, len(moves)
        releases = [m.release_at for m in moves]
        reverses = [m.reverses_id for m in moves]
        return _entries_insert_sql(0, "postgresql"), [
            numbers([operation.pk] * count), array([m.kind for m in moves]),
            numbers([m.source.pk for m in moves]), numbers([m.destination.pk for m in moves]),
            numbers([m.amount for m in moves]), rows.array_of(now, count),
            array(releases) if any(releases) else rows.array_of(None, count),
            array(reverses) if any(reverses) else rows.array_of(None, count)]
    when = rows.prep(Entry, "created_at")
    amount = rows.prep(Entry, "amount")
    now = when(now)
    params = []
    for m in moves:
        params += [operation.pk, m.kind, m.source.pk, m.destination.pk, amount(m.amount), now,
                   when(m.release_at), m.reverses_id]
    return _entries_insert_sql(len(moves), "values"), params


@functools.cache
def _balances_update_sql(count: int, vendor: str) -> str:
    table = rows.quote(Account._meta.db_table)
    if count == 1:
        return f"UPDATE {table} SET balance = %s WHERE id = %s"  # noqa: S608 - placeholders only
    if count == 0:  # PostgreSQL: one statement for any number of accounts (see above)
        return (f"UPDATE {table} SET balance = v.balance FROM unnest(%s::bigint[], "  # noqa: S608 - placeholders only
                f"%s::numeric[]) AS v(id, balance) WHERE {table}.id = v.id")
    whens = " ".join("WHEN %s THEN %s" for _ in range(count))
    ids = ", ".join("%s" for _ in range(count))
    return f"UPDATE {table} SET balance = CASE id {whens} END WHERE id IN ({ids})"  # noqa: S608 - placeholders only


def _balances_sql(accounts: list[Account]) -> tuple[str, list] | None:
    """The new cached balances in ONE statement, so that a sale that also credits a referral
    chain costs the same number of queries whatever the chain's length. Hand-written rather
    than ``bulk_update``: this runs in every sale, and building the ORM's CASE cost more than
    executing it."""
    if not accounts:
        return None
    vendor = rows.db().vendor
    if len(accounts) == 1:
        return _balances_update_sql(1, vendor), [accounts[0].balance, accounts[0].pk]
    if vendor == "postgresql" and len(accounts) > _ARRAYS_FROM:
        return _balances_update_sql(0, vendor), [rows.numbers_array([a.pk for a in accounts]),
                                                 rows.numbers_array([a.balance for a in accounts])]
    sql = _balances_update_sql(len(accounts), vendor)
    return sql, [value for a in accounts for value in (a.pk, a.balance)] + [a.pk for a in accounts]


def customer_accounts_create(*, customer_id: int) -> None:
    """Open the four accounts of a new customer (no lock needed: nobody else can see him yet)."""
    from ..models import CUSTOMER_ACCOUNT_KINDS

    Account.objects.bulk_create(
        [Account(customer_id=customer_id, kind=kind, balance=Decimal("0.00"))
         for kind in CUSTOMER_ACCOUNT_KINDS]
    )


def _tables() -> dict[str, str]:
    return {"entry": Entry._meta.db_table, "operation": Operation._meta.db_table,
            "account": Account._meta.db_table, "customer": Customer._meta.db_table}


def _entry_id_floor(cursor) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {_tables()['entry']}")  # noqa: S608 - table names from _meta; values bound
    return cursor.fetchone()[0]


def _balances_apply(cursor, *, batch_id: int, floor: int) -> None:
    """Add to each customer account the net of the batch's entries written after ``floor``."""
    t = _tables()
    batch_entries = (f"FROM {t['entry']} WHERE id > %s AND operation_id IN "  # noqa: S608 - table names from _meta; values bound
                     f"(SELECT id FROM {t['operation']} WHERE import_batch_id = %s)")
    cursor.execute(
        f"UPDATE {t['account']} SET balance = balance + d.delta FROM ("  # noqa: S608 - table names from _meta; values bound
        f" SELECT account_id, SUM(delta) AS delta FROM ("
        f"  SELECT destination_id AS account_id, amount AS delta {batch_entries}"
        f"  UNION ALL SELECT source_id AS account_id, -amount AS delta {batch_entries}"
        f" ) moves GROUP BY account_id) d"
        f" WHERE {t['account']}.id = d.account_id AND {t['account']}.customer_id IS NOT NULL",
        [floor, batch_id, floor, batch_id],
    )


def imported_customers_open_bulk(*, batch_id: int) -> int:
    """Open the accounts of every customer import batch ``batch_id`` created, with their opening
    balances already posted; returns the entries written.

    Set-based, three statements whatever the batch's size: one INSERT ... SELECT opens the four
    accounts of each such customer, the spendable one holding the ``cashback`` of the batch's
    ``OPENING`` operation for him (zero without one); one INSERT ... SELECT writes that operation's
    entry from ``issued``. Each balance therefore equals the sum of its entries from the start (no
    UPDATE of 100k fresh rows afterwards). Precondition: the caller's transaction created those
    customers and operations (nobody else sees them, so no lock is needed), one opening operation
    per customer at most.
    """
    from ..models import CUSTOMER_ACCOUNT_KINDS

    t = _tables()
    issued = system_account(AccountKind.ISSUED).pk
    kinds = " UNION ALL ".join("SELECT %s AS kind" for _kind in CUSTOMER_ACCOUNT_KINDS)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {t['account']} (kind, customer_id, balance)"  # noqa: S608 - table names from _meta; values bound
            f" SELECT k.kind, c.id, CASE WHEN k.kind = %s THEN COALESCE(o.cashback, 0) ELSE 0 END"
            f" FROM {t['customer']} c CROSS JOIN ({kinds}) k"
            f" LEFT JOIN {t['operation']} o ON o.customer_id = c.id"
            f" AND o.import_batch_id = c.import_batch_id AND o.kind = %s"
            f" WHERE c.import_batch_id = %s",
            [AccountKind.AVAILABLE, *CUSTOMER_ACCOUNT_KINDS, OperationKind.OPENING, batch_id],
        )
        cursor.execute(
            f"INSERT INTO {t['entry']} (operation_id, kind, source_id, destination_id, amount,"  # noqa: S608 - table names from _meta; values bound
            f" created_at, release_at, reverses_id)"
            f" SELECT o.id, %s, %s, a.id, o.cashback, %s, NULL, NULL"
            f" FROM {t['operation']} o"
            f" JOIN {t['customer']} c ON c.id = o.customer_id AND c.import_batch_id = o.import_batch_id"
            f" JOIN {t['account']} a ON a.customer_id = o.customer_id AND a.kind = %s"
            f" WHERE o.import_batch_id = %s AND o.kind = %s AND o.cashback > 0",
            [EntryKind.OPENING, issued, timezone.now(), AccountKind.AVAILABLE, batch_id,
             OperationKind.OPENING],
        )
        return cursor.rowcount


def entries_reverse_bulk(*, batch_id: int, request_prefix: str) -> int:
    """Set-based reversal of the entries of batch ``batch_id``'s live opening operations.

    Each entry of an ``OPENING`` operation in state NORMAL gets a reversing entry (same kind and
    amount, source and destination swapped, ``reverses`` set) under the reversal operation whose
    request id is ``request_prefix`` + the original operation's id; then cached balances move by
    the net. The caller created those reversal operations, holds the locks of every account
    involved and checked that no balance breaks its sign rule (the schema's CHECKs stay the net).
    """
    t = _tables()
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        floor = _entry_id_floor(cursor)
        cursor.execute(
            f"INSERT INTO {t['entry']} (operation_id, kind, source_id, destination_id, amount,"  # noqa: S608 - table names from _meta; values bound
            f" created_at, release_at, reverses_id)"
            f" SELECT r.id, e.kind, e.destination_id, e.source_id, e.amount, %s, NULL, e.id"
            f" FROM {t['entry']} e JOIN {t['operation']} o ON o.id = e.operation_id"
            f" JOIN {t['operation']} r ON r.request_id = (%s || CAST(o.id AS VARCHAR(20)))"
            f" WHERE o.import_batch_id = %s AND o.kind = %s AND o.state = 'NORMAL'"
            f" AND e.reverses_id IS NULL",
            [timezone.now(), request_prefix, batch_id, OperationKind.OPENING],
        )
        written = cursor.rowcount
        _balances_apply(cursor, batch_id=batch_id, floor=floor)
    return written


__all__ = ["AccountKind", "Move", "customer_accounts_create",
           "entries_post", "entries_reverse_bulk",
           "imported_customers_open_bulk", "system_account"]
