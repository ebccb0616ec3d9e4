"""Set-based ledger postings over all customers at once: points expiry and pending release.

A nightly job over a million customers cannot lock and post one customer at a time. Each function
here is one durable transaction of a few SQL statements:

1. lock the affected customer accounts in one ``SELECT ... ORDER BY id FOR NO KEY UPDATE`` and keep
   them, with the amounts to move, in a temporary table (the same lock order as
   ``loyalty.locks``, so a till that sells meanwhile just waits);
2. ``INSERT ... SELECT`` one operation per customer (its request id, ``<kind>:<customer>:<day>``,
   is unique in the schema: a second run of the same day cannot post twice);
3. ``INSERT ... SELECT`` their entries;
4. ``UPDATE ... FROM`` the cached balances by the same amounts,

so every balance still equals the sum of its entries (``loyalty.ledger_check``). SQLite ignores row
locks; there the IMMEDIATE transaction mode serialises writers instead.
"""

from datetime import date, datetime

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
_ENTRY_COLUMNS = "operation_id, kind, source_id, destination_id, amount, created_at, release_at, " \
                 "reverses_id"


def _lock_clause() -> str:
    if connection.vendor == "postgresql":
        return " ORDER BY a.id FOR NO KEY UPDATE OF a"
    return " ORDER BY a.id"


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


def _drop_done(cursor, table: str, prefix: str, tag: str) -> None:
    """Remove from ``table`` the customers that already have today's operation of ``prefix``."""
    cursor.execute(f"""
        DELETE FROM {table} WHERE EXISTS (
            SELECT 1 FROM loyalty_operation o
            WHERE o.request_id = {_request_id(prefix, f"{table}.customer_id")})""", [tag])


def _request_id(prefix: str, column: str) -> str:
    return f"('{prefix}:' || CAST({column} AS VARCHAR(20)) || ':' || %s)"


@transaction.atomic(durable=True)
def points_expire_bulk(*, inactive_before: datetime, day: date) -> int:
    """Expire the spendable points of every customer whose last payment (or, who never paid, his
    registration) was before ``inactive_before``. Returns the number of customers touched.

    Posts ``EXPIRY`` operations and entries available → the business's ``expired`` account.
    """
    expired = system_account(AccountKind.EXPIRED).pk
    now, inactive_before = _at(timezone.now()), _at(inactive_before)
    tag = day.isoformat()
    with connection.cursor() as cursor:
        _tune(cursor)
        _temp(cursor, "bulk_expiring", f"""
            SELECT a.id AS account_id, a.customer_id AS customer_id, a.balance AS amount
            FROM loyalty_account a JOIN loyalty_customer c ON c.id = a.customer_id
            WHERE a.kind = %s AND a.balance > 0
              AND COALESCE(c.last_purchase_at, c.joined_at, c.created_at) < %s
            {_lock_clause()}""", [AccountKind.AVAILABLE, inactive_before])
        # Who already expired today (points credited since) waits for tomorrow: checked on the
        # small locked set by the unique index, not as an anti-join over every operation.
        _drop_done(cursor, "bulk_expiring", "expiry", tag)
        cursor.execute(f"""
            INSERT INTO loyalty_operation ({_OPERATION_COLUMNS})
            SELECT %s, 'NORMAL', %s, t.customer_id, NULL, NULL, '', '', 0, 0, 0, t.amount, 0, 0,
                   0, 0, 0, '', {_request_id("expiry", "t.customer_id")}, NULL, ''
            FROM bulk_expiring t""", [OperationKind.EXPIRY, now, tag])
        touched = cursor.rowcount
        cursor.execute(f"""
            INSERT INTO loyalty_entry ({_ENTRY_COLUMNS})
            SELECT o.id, %s, t.account_id, %s, t.amount, %s, NULL, NULL
            FROM bulk_expiring t
            JOIN loyalty_operation o ON o.request_id = {_request_id("expiry", "t.customer_id")}
            """, [EntryKind.EXPIRY, expired, now, tag])
        cursor.execute("""
            UPDATE loyalty_account SET balance = loyalty_account.balance - t.amount
            FROM bulk_expiring t WHERE loyalty_account.id = t.account_id""")
        cursor.execute("DROP TABLE IF EXISTS bulk_expiring")
    return touched


@transaction.atomic(durable=True)
def pending_release_bulk(*, due_before: datetime, day: date) -> int:
    """Move pending points whose ``release_at`` is before ``due_before`` to spendable points.

    Per customer: released = min(pending balance, due credits − what refunds of those sales took
    back from pending (cashback, or a referral reward of a friend's sale) − what was released
    before), so a refund within the delay cancels held points instead of letting them be released,
    and a second run releases nothing. Returns the number of customers touched.

    Entries are found through indexed, selective keys only (the pending account as destination,
    the customer's operations, a refund's origin): the source side of most entries is the one
    ``issued`` account, so a lookup by source would scan the ledger.
    """
    now, due_before = _at(timezone.now()), _at(due_before)
    tag = day.isoformat()
    due = "e.release_at IS NOT NULL AND e.release_at < %s"
    with connection.cursor() as cursor:
        _tune(cursor)
        # Both accounts that change, of every customer holding pending points, in pk order: the
        # holders first (one scan), then their two accounts through the (customer, kind) index.
        _temp(cursor, "bulk_release_holders", """
            SELECT p.customer_id AS customer_id FROM loyalty_account p
            WHERE p.kind = %s AND p.balance > 0""", [AccountKind.PENDING])
        _temp(cursor, "bulk_release_locked", f"""
            SELECT a.id AS account_id, a.customer_id AS customer_id, a.kind AS kind,
                   a.balance AS balance
            FROM bulk_release_holders h JOIN loyalty_account a ON a.customer_id = h.customer_id
            WHERE a.kind IN (%s, %s)
            {_lock_clause()}""", [AccountKind.AVAILABLE, AccountKind.PENDING])
        _temp(cursor, "bulk_release_due", f"""
            SELECT p.customer_id AS customer_id, p.account_id AS pending_id,
                   v.account_id AS available_id, p.balance AS pending_balance,
                   v.balance AS available_balance,
                   (SELECT COALESCE(SUM(e.amount), 0) FROM loyalty_entry e
                    WHERE e.destination_id = p.account_id AND {due})
                 - (SELECT COALESCE(SUM(e.amount), 0) FROM loyalty_operation o
                    JOIN loyalty_entry e ON e.operation_id = o.id
                    WHERE o.customer_id = p.customer_id AND o.kind = %s
                      AND e.source_id = p.account_id)
                 - (SELECT COALESCE(SUM(x.amount), 0) FROM loyalty_entry x
                    JOIN loyalty_operation r ON r.id = x.operation_id
                    WHERE x.source_id = p.account_id AND x.kind IN (%s, %s) AND r.origin_id IN (
                        SELECT e.operation_id FROM loyalty_entry e
                        WHERE e.destination_id = p.account_id AND {due})) AS due
            FROM bulk_release_locked p
            JOIN bulk_release_locked v ON v.customer_id = p.customer_id AND v.kind = %s
            WHERE p.kind = %s""",
              [due_before, OperationKind.RELEASE, EntryKind.CASHBACK_REVERSAL,
               EntryKind.REWARD_REVERSAL, due_before,
               AccountKind.AVAILABLE, AccountKind.PENDING])
        _temp(cursor, "bulk_release", """
            SELECT customer_id, pending_id, available_id, available_balance,
                   CASE WHEN due < pending_balance THEN due ELSE pending_balance END AS amount
            FROM bulk_release_due WHERE due > 0""", [])
        _drop_done(cursor, "bulk_release", "release", tag)
        cursor.execute(f"""
            INSERT INTO loyalty_operation ({_OPERATION_COLUMNS})
            SELECT %s, 'NORMAL', %s, t.customer_id, NULL, NULL, '', '', 0, 0, 0, 0, 0, t.amount,
                   0, 0, t.available_balance + t.amount, '',
                   {_request_id("release", "t.customer_id")}, NULL, ''
            FROM bulk_release t""", [OperationKind.RELEASE, now, tag])
        touched = cursor.rowcount
        cursor.execute(f"""
            INSERT INTO loyalty_entry ({_ENTRY_COLUMNS})
            SELECT o.id, %s, t.pending_id, t.available_id, t.amount, %s, NULL, NULL
            FROM bulk_release t
            JOIN loyalty_operation o ON o.request_id = {_request_id("release", "t.customer_id")}
            """, [EntryKind.RELEASE, now, tag])
        cursor.execute("""
            UPDATE loyalty_account SET balance = loyalty_account.balance + t.delta
            FROM (SELECT pending_id AS account_id, -amount AS delta FROM bulk_release
                  UNION ALL SELECT available_id, amount FROM bulk_release) t
            WHERE loyalty_account.id = t.account_id""")
        for name in ("bulk_release", "bulk_release_due", "bulk_release_locked",
                     "bulk_release_holders"):
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
