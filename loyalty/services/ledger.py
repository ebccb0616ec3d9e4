"""The ledger's only writer: ``entries_post``.

Callers hold the locks of every customer account they pass (see ``loyalty.locks``) and run inside a
transaction; ``entries_post`` writes the entries in one INSERT and the changed customer accounts'
new cached balances in one UPDATE. System accounts are looked up once per process.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction

from ..models import Account, AccountKind, Entry, Operation

_system_account_ids: dict[str, int] = {}


def system_account(kind: str) -> Account:
    """The business's account of ``kind`` (issued, spent, expired), created on first use.

    Returns an unsaved-balance stub carrying the pk: system accounts are never locked or updated.
    """
    pk = _system_account_ids.get(kind)
    if pk is None:
        account, _created = Account.objects.get_or_create(kind=kind, customer=None)
        pk = _system_account_ids[kind] = account.pk
    return Account(pk=pk, kind=kind, customer=None, balance=None)


def system_account_cache_clear() -> None:
    """Forget cached system-account ids (tests that flush the database call this)."""
    _system_account_ids.clear()


@dataclass(frozen=True)
class Move:
    """``amount`` points from ``source`` to ``destination`` (both Accounts), of entry ``kind``."""

    kind: str
    source: Account
    destination: Account
    amount: Decimal
    release_at: datetime | None = None
    reverses_id: int | None = None


def entries_post(*, operation: Operation, moves: list[Move]) -> list[Entry]:
    """Append ``moves`` to the ledger for ``operation`` and update cached balances.

    The caller holds the row locks of every customer account in ``moves`` (it read their balances
    under that lock, so the balances here are current). Zero amounts are skipped. A customer
    balance that would break its sign rule raises ``IntegrityError`` from the schema's CHECK, which
    rolls the whole operation back.
    """
    moves = [m for m in moves if m.amount > 0]
    if not moves:
        return []
    entries = [
        Entry(
            operation=operation, kind=m.kind, source_id=m.source.pk,
            destination_id=m.destination.pk, amount=m.amount, release_at=m.release_at,
            reverses_id=m.reverses_id,
        )
        for m in moves
    ]
    with transaction.atomic(savepoint=False):
        Entry.objects.bulk_create(entries)
        changed: dict[int, Account] = {}
        for m in moves:
            for account, sign in ((m.source, -1), (m.destination, 1)):
                if account.customer_id is None:
                    continue
                account.balance += sign * m.amount
                changed[account.pk] = account
        _balances_update(list(changed.values()))
    return entries


def _balances_update(accounts: list[Account]) -> None:
    """Write the new cached balances in ONE statement, so that a sale that also credits a referral
    chain costs the same number of queries whatever the chain's length. Hand-written CASE rather
    than ``bulk_update``: this runs in every sale, and building the ORM's CASE cost more than
    executing it."""
    if not accounts:
        return
    if len(accounts) == 1:
        Account.objects.filter(pk=accounts[0].pk).update(balance=accounts[0].balance)
        return
    table = connection.ops.quote_name(Account._meta.db_table)
    whens = " ".join("WHEN %s THEN %s" for _ in accounts)
    ids = ", ".join("%s" for _ in accounts)
    params = [value for a in accounts for value in (a.pk, a.balance)] + [a.pk for a in accounts]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET balance = CASE id {whens} END WHERE id IN ({ids})",  # noqa: S608 - placeholders only
            params,
        )


def customer_accounts_create(*, customer_id: int) -> None:
    """Open the four accounts of a new customer (no lock needed: nobody else can see him yet)."""
    from ..models import CUSTOMER_ACCOUNT_KINDS

    Account.objects.bulk_create(
        [Account(customer_id=customer_id, kind=kind, balance=Decimal("0.00"))
         for kind in CUSTOMER_ACCOUNT_KINDS]
    )


__all__ = ["AccountKind", "Move", "customer_accounts_create", "entries_post", "system_account"]
