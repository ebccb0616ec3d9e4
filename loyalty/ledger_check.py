"""Ledger verification: every cached balance equals its entries' sum; the ledger sums to zero.

Set-based: a few aggregate queries whatever the size of the ledger.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from .models import Account, AccountKind, Entry


@dataclass
class LedgerReport:
    accounts: int = 0
    entries: int = 0
    total: Decimal = Decimal(0)
    mismatches: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)
    sign_violations: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.sign_violations and self.total == 0


def _sums_sql() -> str:
    entry, account = Entry._meta.db_table, Account._meta.db_table
    # One pass over the entries, grouped by account (a correlated sum per account let the planner
    # scan the whole ledger for each one: nearly every entry comes from the one "issued" account,
    # so the statistics of ``source_id`` are useless for the others). ROUND: SQLite sums decimals
    # as floats; on PostgreSQL numeric sums are exact anyway.
    return f"""
        WITH moves AS (
            SELECT destination_id AS account_id, amount AS delta FROM {entry}
            UNION ALL SELECT source_id AS account_id, -amount AS delta FROM {entry}),
        sums AS (SELECT account_id, ROUND(SUM(delta), 2) AS computed FROM moves
                 GROUP BY account_id),
        checked AS (
            SELECT a.id, a.kind, a.customer_id, a.balance, COALESCE(s.computed, 0) AS computed
            FROM {account} a LEFT JOIN sums s ON s.account_id = a.id)
    """  # noqa: S608 - table names from _meta, no values in the text


def ledger_verify() -> LedgerReport:
    """Check the whole ledger in a few set-based statements (one pass over the entries each)."""
    report = LedgerReport()
    spendable = [AccountKind.AVAILABLE, AccountKind.PENDING, AccountKind.HELD]
    marks = ", ".join("%s" for _ in spendable)
    with connection.cursor() as cursor:
        _run(cursor, "SELECT COUNT(*), COALESCE(SUM(computed), 0) FROM checked")
        report.accounts, total = cursor.fetchone()
        report.total = Decimal(str(total)).quantize(Decimal("0.01"))
        report.entries = Entry.objects.count()
        _run(cursor, "SELECT id, balance, computed FROM checked"
             " WHERE customer_id IS NOT NULL AND balance <> computed ORDER BY id")
        report.mismatches = [(pk, _money(balance), _money(computed))
                             for pk, balance, computed in cursor.fetchall()]
        _run(cursor, f"SELECT id FROM checked WHERE (kind IN ({marks}) AND computed < 0)"  # noqa: S608
             " OR (kind = %s AND computed > 0) ORDER BY id", [*spendable, AccountKind.DEBT])
        report.sign_violations = [row[0] for row in cursor.fetchall()]
    return report


def _run(cursor, select: str, params: list | None = None) -> None:
    cursor.execute(_sums_sql() + select, params or [])  # noqa: S608 - fixed text, values bound


def _money(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))
