"""The one place where points accounts are locked.

Locks are taken with ``SELECT ... FOR NO KEY UPDATE`` on the account rows only (``of=("self",)``),
always in primary-key order, so two operations that lock overlapping sets of accounts (a purchase
and the referral rewards it pays up the chain, say) queue instead of deadlocking. SQLite ignores
row locks; there the IMMEDIATE transaction mode serialises writers instead.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from django.db.models import QuerySet

from . import rows
from .models import Account, AccountKind, Customer, Operation


@dataclass
class CustomerAccounts:
    """A customer's locked accounts, and his row as it is once they are locked."""

    customer: Customer
    available: Account
    pending: Account | None  # None for a credited customer locked without ``credited_pending``
    held: Account | None  # None for a customer locked only to be credited or debited
    debt: Account
    # With ``customer_accounts_lock(request_id=...)``: the operation already carrying that request
    # id (a retry), read right after the locks; None when there is none.
    request_operation_id: int | None = None
    # With ``customer_accounts_lock(operation_id=True)`` on PostgreSQL: an id taken from the
    # operations' sequence for the operation the caller is about to write; None elsewhere.
    new_operation_id: int | None = None


def customer_accounts_lock(
    *, customer_ids: Iterable[int], credited_ids: Iterable[int] = (), credited_pending: bool = False,
    request_id: str | None = None, operation_id: bool = False,
) -> dict[int, CustomerAccounts]:
    """Lock every account of ``customer_ids``, and the spendable and debt accounts of
    ``credited_ids`` (customers a sale only credits or debits: a referral chain's ancestors) —
    with their pending accounts too when ``credited_pending`` (a sale that defers what it credits
    them, a refund that may cancel such deferred points) — in pk order, and return them by
    customer id.

    Must run inside ``transaction.atomic``; the locks last until that transaction ends. Two
    statements whatever the number of customers:

    1. the accounts, locked in pk order;
    2. then the customers' rows (not locked), and with ``request_id`` the operation already
       carrying it (``request_operation_id``).

    The rows of 2 must come from a statement of their own. A statement reads as of the moment it
    started, except for the rows it locks. The lock may have waited for another sale of the same
    customer to commit. In the lock's own statement his row would then come from before that
    sale: his purchase count, total spent and tier as they were. Eight tills selling to a friend's
    first purchase at once all saw "first purchase" and paid the inviter's bonus eight times, and
    each wrote back its own total (``test_one_customers_simultaneous_first_sales_...``). Read after
    the locks, the row is current, and it stays so until this transaction ends: everything that
    changes a customer's totals or a credited customer's tier holds his spendable account's lock.
    The request id is read there too, so a retry that waited for its twin finds the twin's sale.

    ``operation_id``: on PostgreSQL, statement 2 also takes the next value of the operations'
    sequence (``new_operation_id``), so the caller can send its operation's INSERT, carrying that
    id, with its last statement rather than in a round trip of its own while the locks are held.
    A sale refused or replayed leaves the value unused: a gap in the ids, as a rollback leaves.

    A credited customer's row holds only what a sale reads of him (``_slim()``: whether he is
    blocked, his tier); Django loads the rest if anything asks. His tier is read from
    ``loyalty.program_cache`` by the callers that need it. Locking two (three) rows instead of
    four per credited customer keeps a sale up a long chain nearly as cheap as one without.

    Hand-written SQL (``loyalty.rows``): every sale runs it, and composing it through the ORM cost
    more than PostgreSQL needs to execute it. Same as
    ``Account.objects.filter(...).order_by("pk").select_for_update(no_key=True)``, then
    ``Customer.objects.filter(pk__in=...)`` (``.only()`` the slim columns for the credited).
    """
    full = sorted(set(customer_ids))
    partial = sorted(set(credited_ids) - set(full))
    if not full and not partial:
        return {}
    assert full or request_id is None, "a request id belongs to a customer's own operation"
    kinds = ([AccountKind.AVAILABLE, AccountKind.PENDING, AccountKind.DEBT] if credited_pending
             else [AccountKind.AVAILABLE, AccountKind.DEBT])
    connection = rows.db()
    vendor = connection.vendor
    reserve = operation_id and len(full) == 1 and vendor == "postgresql"
    grouped: dict[int, dict[str, Account]] = {}
    lock_params = [*full, *partial, *kinds] if partial else full
    for row in rows.fetch(_lock_sql(len(full), len(partial), len(kinds), vendor), lock_params):
        account = rows.instance(Account, row, connection)
        grouped.setdefault(account.customer_id, {})[account.kind] = account
    # In the order of the text: the request id (select list), the ids of each branch.
    params = ([request_id] if request_id is not None else []) + full + partial
    width = len(rows.concrete_fields(Customer))
    customers: dict[int, Customer] = {}
    request_operation_id = None
    new_operation_id = None
    with_request = request_id is not None
    extra = width + (len(_slim()) if partial else 0)  # where the request's and the reserved id sit
    for row in rows.fetch(_customers_sql(len(full), len(partial), with_request, reserve, vendor),
                          params):
        if with_request and row[extra] is not None:
            request_operation_id = row[extra]
        if reserve and row[-1] is not None:
            new_operation_id = row[-1]
        if row[0] is not None:  # a customer of ``customer_ids``: his whole row
            customer = rows.instance(Customer, row[:width], connection)
        else:  # a credited customer: what the sale reads of him, the rest loaded if ever asked
            customer = rows.partial_instance(Customer, _slim_attnames(), [
                bool(v) if boolean else v
                for boolean, v in zip(_slim_booleans(), row[width:width + len(_slim())],
                                      strict=True)], connection)
        customers[customer.pk] = customer
    result = {}
    for customer_id, by_kind in grouped.items():
        customer = customers[customer_id]
        for account in by_kind.values():
            account._state.fields_cache["customer"] = customer
        result[customer_id] = CustomerAccounts(
            customer=customer,
            available=by_kind[AccountKind.AVAILABLE],
            pending=by_kind.get(AccountKind.PENDING),
            held=by_kind.get(AccountKind.HELD),
            debt=by_kind[AccountKind.DEBT],
            request_operation_id=request_operation_id,
            new_operation_id=new_operation_id if customer_id in full else None,
        )
    return result


@cache
def _slim() -> tuple:
    """What a sale reads of a customer it only credits (a referral chain's ancestor): whether he
    is blocked, and his tier (an inviter's may rise); in the model's order. The rest of his row is
    not sent."""
    wanted = {"id", "is_blocked", "tier_id", "tier_pinned"}
    return tuple(f for f in rows.concrete_fields(Customer) if f.attname in wanted)


@cache
def _slim_attnames() -> tuple[str, ...]:
    return tuple(f.attname for f in _slim())


@cache
def _slim_booleans() -> tuple[bool, ...]:
    """Which _slim() columns are booleans (SQLite hands them back as 0/1)."""
    return tuple(f.get_internal_type() == "BooleanField" for f in _slim())


def _marks(count: int) -> str:
    return ", ".join("%s" for _ in range(count))


def _nulls(count: int) -> str:
    return ", ".join("NULL" for _ in range(count))


@cache
def _lock_sql(full: int, partial: int, kinds: int, vendor: str) -> str:
    q = rows.quote
    where = f"a.{q('customer_id')} IN ({_marks(full)})" if full else "FALSE"
    if partial:
        where = (f"({where} OR (a.{q('customer_id')} IN ({_marks(partial)})"
                 f" AND a.{q('kind')} IN ({_marks(kinds)})))")
    sql = (f"SELECT {rows.columns(Account, 'a')} FROM {q(Account._meta.db_table)} a"  # noqa: S608 - names from _meta; values bound
           f" WHERE {where} ORDER BY a.{q('id')}")
    features = rows.db().features
    if features.has_select_for_update:
        sql += (" FOR NO KEY UPDATE OF a" if features.has_select_for_no_key_update
                else " FOR UPDATE OF a")
    return sql


@cache
def _customers_sql(full: int, partial: int, with_request: bool, reserve: bool,
                   vendor: str) -> str:
    """The customers of a lock: the whole row of each of the ``full`` ones, then the _slim()
    columns of each of the ``partial`` (credited) ones, as one statement (UNION ALL), every row in
    the same layout: [whole row][slim columns][the request id's operation, with ``with_request``]
    [the operations' sequence's next value, with ``reserve`` (one full customer, PostgreSQL)],
    NULL where a branch has nothing."""
    q = rows.quote
    table = q(Customer._meta.db_table)
    operations = Operation._meta.db_table
    request = (f", (SELECT o.{q('id')} FROM {q(operations)} o"  # noqa: S608 - names from _meta; values bound
               f" WHERE o.{q('request_id')} = %s LIMIT 1)" if with_request else "")
    # The table's and column's names are quoted as identifiers inside the string literal.
    sequence = (f", nextval(pg_get_serial_sequence('{q(operations)}', '{Operation._meta.pk.column}'))"
                if reserve else "")
    branches = []
    if full:
        branches.append(f"SELECT {rows.columns(Customer, 'c')}"  # noqa: S608 - names from _meta; values bound
                        + (f", {_nulls(len(_slim()))}" if partial else "") + request + sequence
                        + f" FROM {table} c WHERE c.{q('id')} IN ({_marks(full)})")
    if partial:
        slim = ", ".join(f"c.{q(f.column)}" for f in _slim())
        branches.append(f"SELECT {_nulls(len(rows.concrete_fields(Customer)))}, {slim}"  # noqa: S608 - names from _meta; values bound
                        + (", NULL" if with_request else "") + (", NULL" if reserve else "")
                        + f" FROM {table} c WHERE c.{q('id')} IN ({_marks(partial)})")
    return " UNION ALL ".join(branches)


def accounts_lock(*, accounts: QuerySet[Account]) -> list[int]:
    """Lock the account rows ``accounts`` selects, in pk order, and return their ids.

    For set-based writes (rolling an import batch back) that touch thousands of accounts: no model
    instances are built. Must run inside ``transaction.atomic``.
    """
    return list(
        accounts.order_by("pk").select_for_update(of=("self",), no_key=True)
        .values_list("pk", flat=True)
    )
