"""Set-based ledger postings over all customers at once: points expiry and pending release.

A nightly job over a million customers cannot lock and post one customer at a time. Each function
here is one durable transaction of a few SQL statements:

1. lock the affected customer accounts in one ``SELECT ... ORDER BY id FOR NO KEY UPDATE`` and keep
   them, with the amounts to move, in a temporary table (the same lock order as
   ``loyalty.locks``, so a till that sells meanwhile just waits);
2. post (``_post``): one operation per customer (its request id, ``<kind>:<customer>:<day>``, is
   unique in the schema: a second run of the same day cannot post twice), its entries, and the
   cached balances moved by the same amounts,

so every balance still equals the sum of its entries (``loyalty.ledger_check``). On PostgreSQL step
2 is a single statement: the operations' ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` feeds the
entries and the balance update directly (no second lookup of the operations by request id, no
hash join over all accounts for the update). On the first expiry night of a million customers
(158,349 expiries, load average ~3) the job took 7.7-8.8 s instead of 9.1-18.1 s and 15% less
database CPU; what is left is writing the rows (``docs/campaigns.md``). SQLite runs the same
steps as separate statements and ignores row locks; there the IMMEDIATE transaction mode
serialises writers instead.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import AccountKind, EntryKind, OperationKind
from .bulk import constraints_immediate
from .ledger import system_account

_OPERATION_COLUMNS = (
    "kind, state, created_at, customer_id, branch_id, cashier_id, cashier_external_id, "
    "cashier_name, total, excluded_total, unredeemable_total, points, cash, cashback, "
    "cashback_percent, refunded_total, balance_after, receipt_number, request_id, origin_id, comment"
)
# Entries of a posting: release_at and reverses_id stay NULL (left out, so that the NULLs of a
# UNION ALL of moves need no type).
_MOVE_COLUMNS = "operation_id, kind, source_id, destination_id, amount, created_at"
_ENTRY_COLUMNS = "operation_id, kind, source_id, destination_id, amount, created_at, release_at, " \
                 "reverses_id"


def _lock_clause(customers: str = "") -> str:
    """Lock the accounts ``a`` in pk order; with ``customers`` (the alias of the customers joined
    in the same statement) their rows too, ``FOR SHARE``.

    Locking the customer matters when the statement's condition reads his row. A sale that
    commits while the statement waits for his account has changed the customer (his last
    payment), maybe not the account; PostgreSQL re-checks the condition against the newest
    version only of a row whose lock waited for that change, and ``FOR KEY SHARE`` (what the
    foreign key of each operation posted takes) does not wait for it."""
    if connection.vendor != "postgresql":
        return " ORDER BY a.id"
    also = f" FOR SHARE OF {customers}" if customers else ""
    return f" ORDER BY a.id FOR NO KEY UPDATE OF a{also}"


def in_slices(post: Callable[[int, int], int]) -> int:
    """Run ``post(low, high)`` for consecutive slices of customer ids (``low <= id < high``,
    ``BULK_POSTING_SLICE`` customers each) and return the sum of what they return.

    Each slice is its own transaction: a till waits for a locked customer at most one slice's
    time, not the whole night's, and a failure keeps the slices done (each posting's request id
    makes the next run skip them). On PostgreSQL, outside any transaction, ``BULK_POSTING_WORKERS``
    threads post slices side by side, each on its own connection: the work is mostly the
    database's (row locks, index entries, foreign-key checks) and one backend uses one core.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id), MAX(id) FROM loyalty_customer")
        first, last = cursor.fetchone()
    if first is None:
        return 0
    size = max(1, settings.BULK_POSTING_SLICE)
    slices = [(low, min(low + size, last + 1)) for low in range(first, last + 1, size)]
    workers = min(settings.BULK_POSTING_WORKERS, len(slices))
    if workers <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return sum(post(low, high) for low, high in slices)

    def run(bounds: tuple[int, int]) -> int:
        try:
            return post(*bounds)
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(run, slices))


def _tune(cursor) -> None:
    """Settings for this transaction only (PostgreSQL): the statements here join a small set of
    customers to large tables by indexed keys, JIT compilation of each costs more than it saves,
    and foreign keys are checked per statement rather than all at COMMIT (``bulk``)."""
    constraints_immediate()
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL random_page_cost = 1.1")
        cursor.execute("SET LOCAL work_mem = '64MB'")


def _temp(cursor, name: str, select_sql: str, params: list) -> None:
    """(Re)create temporary table ``name`` from ``select_sql``; dropped at commit on PostgreSQL."""
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    on_commit = " ON COMMIT DROP" if connection.vendor == "postgresql" else ""
    cursor.execute(f"CREATE TEMP TABLE {name}{on_commit} AS {select_sql}", params)
    if connection.vendor == "postgresql":
        cursor.execute(f"ANALYZE {name}")  # temp tables get no autovacuum statistics


def _at(value: datetime):
    """A datetime as the backend stores it (SQLite: naive UTC text, as the ORM writes it)."""
    return connection.ops.adapt_datetimefield_value(value)


def _request_id(prefix: str, column: str) -> str:
    return f"('{prefix}:' || CAST({column} AS VARCHAR(20)) || ':' || %s)"


def _post(cursor, *, table: str, prefix: str, tag: str, kind: str, points: str, cashback: str,
          balance_after: str, moves: list[tuple[str, str, str, str]],
          deltas: list[tuple[str, str]]) -> int:
    """Post one operation per row of ``table`` (a ``customer_id`` and the locked accounts' ids and
    amounts), unless the customer already has today's (``<prefix>:<customer>:<tag>``).

    ``points``, ``cashback`` and ``balance_after`` are the operation's columns, ``moves`` its
    entries (kind, source, destination, amount; an entry whose amount is 0 is left out) and
    ``deltas`` what each account's cached balance changes by (account, change; one per account):
    SQL expressions over the row ``p``. The caller holds the lock of every account they name.
    Returns the number of customers posted.
    """
    now = _at(timezone.now())
    # ROUND: SQLite does this arithmetic in floating point; on PostgreSQL it changes nothing.
    moves = [(kind_, source, destination, f"ROUND({amount}, 2)")
             for kind_, source, destination, amount in moves]
    deltas = [(account, f"ROUND({change}, 2)") for account, change in deltas]
    operation_sql = f"""
        INSERT INTO loyalty_operation ({_OPERATION_COLUMNS})
        SELECT %s, 'NORMAL', %s, p.customer_id, NULL, NULL, '', '', 0, 0, 0, {points}, 0,
               {cashback}, 0, 0, {balance_after}, '', {_request_id(prefix, "p.customer_id")},
               NULL, ''
        FROM {table} p"""
    operation_params = [kind, now, tag]
    entries_sql = " UNION ALL ".join(
        f"SELECT p.operation_id, %s, {source}, {destination}, {amount}, %s "
        f"FROM posted p WHERE {amount} > 0"
        for _kind, source, destination, amount in moves)
    entries_params = [v for move in moves for v in (move[0], now)]
    changes_sql = " UNION ALL ".join(
        f"SELECT {account} AS account_id, {change} AS delta FROM posted p WHERE {change} <> 0"
        for account, change in deltas)
    # In account order, like the entries in operation (customer) order: the foreign-key checks
    # and the updates then visit each table page once instead of once per kind of move.
    entries_sql = f"SELECT * FROM ({entries_sql}) m ORDER BY 1, 3"
    update_sql = f"""
        UPDATE loyalty_account SET balance = ROUND(loyalty_account.balance + d.delta, 2)
        FROM (SELECT * FROM ({changes_sql}) c ORDER BY account_id) d
        WHERE loyalty_account.id = d.account_id"""
    if connection.vendor == "postgresql":
        # One statement: the unique request id skips who was posted today, RETURNING hands the
        # new operations to the entries and to the balance update.
        cursor.execute(f"""
            WITH ops AS ({operation_sql} ON CONFLICT (request_id) DO NOTHING
                         RETURNING id, customer_id),
            posted AS (SELECT o.id AS operation_id, p.*
                       FROM ops o JOIN {table} p ON p.customer_id = o.customer_id),
            entries AS (INSERT INTO loyalty_entry ({_MOVE_COLUMNS}) {entries_sql}),
            balances AS ({update_sql})
            SELECT COUNT(*) FROM ops""", operation_params + entries_params)
        return cursor.fetchone()[0]
    # Who already has today's operation (points credited since) waits for tomorrow: checked on
    # the small locked set by the unique index, not as an anti-join over every operation.
    cursor.execute(f"""
        DELETE FROM {table} WHERE EXISTS (
            SELECT 1 FROM loyalty_operation o
            WHERE o.request_id = {_request_id(prefix, f"{table}.customer_id")})""", [tag])
    cursor.execute(operation_sql, operation_params)
    touched = cursor.rowcount
    _temp(cursor, "posted", f"""
        SELECT o.id AS operation_id, p.* FROM {table} p
        JOIN loyalty_operation o ON o.request_id = {_request_id(prefix, "p.customer_id")}""",
          [tag])
    cursor.execute(f"INSERT INTO loyalty_entry ({_MOVE_COLUMNS}) {entries_sql}", entries_params)
    cursor.execute(update_sql)
    cursor.execute("DROP TABLE IF EXISTS posted")
    return touched


def points_expire_bulk(*, inactive_before: datetime, day: date) -> int:
    """Expire the spendable points of every customer whose last payment (or, who never paid, his
    registration) was before ``inactive_before``. Returns the number of customers touched.

    Posts ``EXPIRY`` operations and entries available → the business's ``expired`` account, in
    slices of customers (``in_slices``).
    """
    return in_slices(lambda low, high: _points_expire_slice(
        inactive_before=inactive_before, day=day, low=low, high=high))


@transaction.atomic(durable=True)
def _points_expire_slice(*, inactive_before: datetime, day: date, low: int, high: int) -> int:
    expired = int(system_account(AccountKind.EXPIRED).pk)
    with connection.cursor() as cursor:
        _tune(cursor)
        _temp(cursor, "bulk_expiring", f"""
            SELECT a.id AS account_id, a.customer_id AS customer_id, a.balance AS amount
            FROM loyalty_account a JOIN loyalty_customer c ON c.id = a.customer_id
            WHERE a.kind = %s AND a.balance > 0 AND a.customer_id >= %s AND a.customer_id < %s
              AND COALESCE(c.last_purchase_at, c.joined_at, c.created_at) < %s
            {_lock_clause("c")}""", [AccountKind.AVAILABLE, low, high, _at(inactive_before)])
        touched = _post(
            cursor, table="bulk_expiring", prefix="expiry", tag=day.isoformat(),
            kind=OperationKind.EXPIRY, points="p.amount", cashback="0", balance_after="0",
            moves=[(EntryKind.EXPIRY, "p.account_id", str(expired), "p.amount")],
            deltas=[("p.account_id", "-p.amount")],
        )
        cursor.execute("DROP TABLE IF EXISTS bulk_expiring")
    return touched


def pending_release_bulk(*, due_before: datetime, day: date) -> int:
    """Move pending points whose ``release_at`` is before ``due_before`` to spendable points,
    repaying the customer's debt first, like every other credit (``purchases.credit_moves``).

    Per customer: released = min(pending balance, due credits − what refunds of those sales took
    back from pending (cashback, or a referral reward of a friend's sale) − what was released
    before), so a refund within the delay cancels held
    points instead of letting them be released, and a second run releases nothing. Of what is
    released, up to what he owes goes pending → debt (``DEBT_SETTLEMENT``), the rest pending →
    available (``RELEASE``): both entries of the one ``RELEASE`` operation, so "released before"
    counts them both. The points never pass through ``issued`` again: they were issued when the
    cashback was credited. Returns the number of customers touched.

    Entries are found through indexed, selective keys only (the pending account as destination or
    source, a refund's origin): the source side of most entries is the one ``issued`` account, so
    a lookup by source alone would scan the ledger. Each sum is one grouped join over all holders,
    not a subquery per customer.
    """
    return in_slices(lambda low, high: _pending_release_slice(
        due_before=due_before, day=day, low=low, high=high))


@transaction.atomic(durable=True)
def _pending_release_slice(*, due_before: datetime, day: date, low: int, high: int) -> int:
    kinds = [AccountKind.PENDING, AccountKind.AVAILABLE, AccountKind.DEBT]
    with connection.cursor() as cursor:
        _tune(cursor)
        # The three accounts that may change, of every customer holding pending points, in pk
        # order (the holders' pending balances are read again under the lock below).
        _temp(cursor, "bulk_release_locked", f"""
            SELECT a.id AS account_id, a.customer_id AS customer_id, a.kind AS kind,
                   a.balance AS balance
            FROM loyalty_account a
            WHERE a.kind IN (%s, %s, %s) AND a.customer_id >= %s AND a.customer_id < %s
              AND a.customer_id IN (
                SELECT h.customer_id FROM loyalty_account h
                WHERE h.kind = %s AND h.balance > 0 AND h.customer_id >= %s AND h.customer_id < %s)
            {_lock_clause()}""", [*kinds, low, high, AccountKind.PENDING, low, high])
        # One row per holder: his three accounts and their balances under the lock.
        _temp(cursor, "bulk_release_acc", """
            SELECT customer_id,
                   MAX(CASE WHEN kind = %s THEN account_id END) AS pending_id,
                   MAX(CASE WHEN kind = %s THEN account_id END) AS available_id,
                   MAX(CASE WHEN kind = %s THEN account_id END) AS debt_id,
                   MAX(CASE WHEN kind = %s THEN balance END) AS pending_balance,
                   MAX(CASE WHEN kind = %s THEN balance END) AS available_balance,
                   MAX(CASE WHEN kind = %s THEN balance END) AS debt_balance
            FROM bulk_release_locked GROUP BY customer_id""", [*kinds, *kinds])
        # Every pending credit already due, by the operation (sale) that credited it.
        _temp(cursor, "bulk_release_credited", """
            SELECT e.destination_id AS pending_id, e.operation_id AS operation_id,
                   SUM(e.amount) AS amount
            FROM bulk_release_acc a JOIN loyalty_entry e ON e.destination_id = a.pending_id
            WHERE a.pending_balance > 0 AND e.release_at IS NOT NULL AND e.release_at < %s
            GROUP BY e.destination_id, e.operation_id""", [_at(due_before)])
        # Due = credited − taken out of pending since: earlier releases (with their debt
        # settlements) and refunds of those same sales. Debt is repaid first from what is released.
        _temp(cursor, "bulk_release", """
            SELECT r.*, CASE WHEN -r.debt_balance < r.amount THEN -r.debt_balance
                             ELSE r.amount END AS settle
            FROM (
                SELECT a.*, ROUND(CASE WHEN d.due < a.pending_balance THEN d.due
                                       ELSE a.pending_balance END, 2) AS amount
                FROM bulk_release_acc a JOIN (
                    SELECT c.pending_id,
                           c.total - COALESCE(t.released, 0) - COALESCE(t.reversed, 0) AS due
                    FROM (SELECT pending_id, SUM(amount) AS total FROM bulk_release_credited
                          GROUP BY pending_id) c
                    LEFT JOIN (
                        SELECT e.source_id AS pending_id,
                               SUM(CASE WHEN o.kind = %s THEN e.amount ELSE 0 END) AS released,
                               SUM(CASE WHEN e.kind IN (%s, %s) AND x.operation_id IS NOT NULL
                                        THEN e.amount ELSE 0 END) AS reversed
                        FROM (SELECT DISTINCT pending_id FROM bulk_release_credited) h
                        JOIN loyalty_entry e ON e.source_id = h.pending_id
                        JOIN loyalty_operation o ON o.id = e.operation_id
                        LEFT JOIN bulk_release_credited x
                               ON x.pending_id = e.source_id AND x.operation_id = o.origin_id
                        GROUP BY e.source_id
                    ) t ON t.pending_id = c.pending_id
                ) d ON d.pending_id = a.pending_id
                WHERE d.due > 0 AND a.pending_balance > 0
            ) r ORDER BY r.customer_id""", [OperationKind.RELEASE, EntryKind.CASHBACK_REVERSAL,
                                            EntryKind.REWARD_REVERSAL])
        touched = _post(
            cursor, table="bulk_release", prefix="release", tag=day.isoformat(),
            kind=OperationKind.RELEASE, points="0", cashback="p.amount",
            balance_after="p.available_balance + p.amount - p.settle",
            moves=[(EntryKind.DEBT_SETTLEMENT, "p.pending_id", "p.debt_id", "p.settle"),
                   (EntryKind.RELEASE, "p.pending_id", "p.available_id", "p.amount - p.settle")],
            deltas=[("p.pending_id", "-p.amount"), ("p.debt_id", "p.settle"),
                    ("p.available_id", "p.amount - p.settle")],
        )
        for name in ("bulk_release", "bulk_release_credited", "bulk_release_acc",
                     "bulk_release_locked"):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    return touched


@transaction.atomic(durable=True)
def points_grant_bulk(*, rows_sql: str, params: list, operation_kind: str, entry_kind: str,
                      tag: str) -> int:
    """Credit many customers at once: opening balances of a migrated base, benchmark data.

    ``rows_sql`` is trusted SQL (never built from user input) yielding ``customer_id``, ``amount``
    (> 0) and ``release_at`` (NULL: spendable; a time: pending until then), one row per customer.
    Each customer gets one operation with request id ``<operation_kind>:<customer>:<tag>`` and one
    entry from ``issued``; his account is locked like every other bulk posting. Returns the number
    of customers credited. Debt is not repaid here: use it for customers without debt.
    """
    issued = system_account(AccountKind.ISSUED).pk
    now = _at(timezone.now())
    with connection.cursor() as cursor:
        _tune(cursor)
        _temp(cursor, "bulk_grant_rows", rows_sql,
              [_at(p) if isinstance(p, datetime) else p for p in params])
        _temp(cursor, "bulk_grant", f"""
            SELECT a.id AS account_id, a.customer_id AS customer_id, r.amount AS amount,
                   r.release_at AS release_at
            FROM loyalty_account a JOIN bulk_grant_rows r ON r.customer_id = a.customer_id
            WHERE r.amount > 0 AND a.kind = (CASE WHEN r.release_at IS NULL THEN %s ELSE %s END)
            {_lock_clause()}""", [AccountKind.AVAILABLE, AccountKind.PENDING])
        cursor.execute(f"""
            INSERT INTO loyalty_operation ({_OPERATION_COLUMNS})
            SELECT %s, 'NORMAL', %s, t.customer_id, NULL, NULL, '', '', 0, 0, 0, 0, 0, t.amount,
                   0, 0, NULL, '', {_request_id(operation_kind, "t.customer_id")}, NULL, ''
            FROM bulk_grant t""", [operation_kind, now, tag])
        touched = cursor.rowcount
        cursor.execute(f"""
            INSERT INTO loyalty_entry ({_ENTRY_COLUMNS})
            SELECT o.id, %s, %s, t.account_id, t.amount, %s, t.release_at, NULL
            FROM bulk_grant t
            JOIN loyalty_operation o ON o.request_id = {_request_id(operation_kind, "t.customer_id")}
            """, [entry_kind, issued, now, tag])
        cursor.execute("""
            UPDATE loyalty_account SET balance = loyalty_account.balance + t.amount
            FROM bulk_grant t WHERE loyalty_account.id = t.account_id""")
        for name in ("bulk_grant", "bulk_grant_rows"):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    return touched


def customers_tier_review(*, tiers: list) -> int:
    """Give every customer whose tier is not pinned the tier his total spent earns, or a higher
    one a tier rule gives him (``loyalty.extensions.tier_rules``), in one UPDATE (one pass over
    the customers). ``tiers``: every tier. Returns the customers moved."""
    from django.db.models import Case, Q, Value, When

    from ..extensions import tier_rules
    from ..models import Customer
    from .customers import tier_rank

    ordered = sorted(tiers, key=tier_rank, reverse=True)
    if not ordered:
        return 0
    reached = {t.pk: Q(total_spent__gte=t.min_total_spent) for t in ordered}
    for rule in tier_rules():
        for tier_id, condition in rule.tier_conditions(ordered).items():
            reached[tier_id] = reached[tier_id] | condition
    earned = Case(*[When(reached[t.pk], then=Value(t.pk)) for t in ordered], default=Value(None))
    with transaction.atomic():
        return (Customer.objects.filter(tier_pinned=False).exclude(tier_id=earned)
                .update(tier_id=earned))
