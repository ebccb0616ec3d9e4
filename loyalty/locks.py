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
    """A customer's locked accounts and the customer row, read in the same query."""

    customer: Customer
    available: Account
    pending: Account | None  # None for a credited customer locked without ``credited_pending``
    held: Account | None  # None for a customer locked only to be credited or debited
    debt: Account
    # With ``customer_accounts_lock(request_id=...)``: the operation already carrying that request
    # id (a retry), read in the same statement as the locks; None when there is none.
    request_operation_id: int | None = None


def customer_accounts_lock(
    *, customer_ids: Iterable[int], credited_ids: Iterable[int] = (), credited_pending: bool = False,
    request_id: str | None = None,
) -> dict[int, CustomerAccounts]:
    """Lock every account of ``customer_ids``, and the spendable and debt accounts of
    ``credited_ids`` (customers a sale only credits or debits: a referral chain's ancestors) —
    with their pending accounts too when ``credited_pending`` (a sale that defers what it credits
    them, a refund that may cancel such deferred points) — in pk order, and return them by
    customer id.

    Must run inside ``transaction.atomic``; the locks last until that transaction ends. One query
    whatever the number of customers; the customer row comes along (not locked). His tier is read
    from ``loyalty.program_cache`` by the callers that need it. Locking two (three) rows instead of
    four per credited customer keeps a sale up a long chain nearly as cheap as one without.

    ``request_id``: also look up the operation carrying it (``request_operation_id``), in the same
    round trip. Its snapshot is the statement's: a retry that waited on these locks for its twin
    to commit may not see the twin's operation — the request id's unique constraint then refuses
    the second insert, and the caller returns the first (``purchase_create`` does).

    Hand-written SQL (``loyalty.rows``): every sale runs it, and composing it through the ORM cost
    more than PostgreSQL needs to execute it. Same statement as
    ``Account.objects.select_related("customer").filter(...).order_by("pk")
    .select_for_update(of=("self",), no_key=True)``.
    """
    full = sorted(set(customer_ids))
    partial = sorted(set(credited_ids) - set(full))
    if not full and not partial:
        return {}
    kinds = ([AccountKind.AVAILABLE, AccountKind.PENDING, AccountKind.DEBT] if credited_pending
             else [AccountKind.AVAILABLE, AccountKind.DEBT])
    sql = _lock_sql(len(full), len(partial), len(kinds), request_id is not None, rows.db().vendor)
    # In the order of the text: the request id (select list), whose whole row comes along (join).
    params = [request_id] if request_id is not None else []
    params += [*full, *full, *partial, *kinds] if partial else full
    split = len(rows.concrete_fields(Account))
    connection = rows.db()
    grouped: dict[int, dict[str, Account]] = {}
    end = split + len(rows.concrete_fields(Customer))
    slim = end + len(_slim()) if partial else end
    request_operation_id = None
    for row in rows.fetch(sql, params):
        if request_id is not None:
            request_operation_id = row[slim]
        account = rows.instance(Account, row[:split], connection)
        grouped.setdefault(account.customer_id, {})[account.kind] = account
        if account.kind != AccountKind.AVAILABLE:
            continue
        # The customer's columns come on his spendable account's row only.
        if row[split] is not None:
            customer = rows.instance(Customer, row[split:end], connection)
        else:  # a credited customer: what the sale reads of him, the rest loaded if ever asked
            customer = rows.partial_instance(Customer, _slim_attnames(), [
                bool(v) if boolean else v
                for boolean, v in zip(_slim_booleans(), row[end:slim], strict=True)], connection)
        account._state.fields_cache["customer"] = customer
    result = {}
    for customer_id, by_kind in grouped.items():
        customer = by_kind[AccountKind.AVAILABLE].customer
        for account in by_kind.values():
            account._state.fields_cache["customer"] = customer
        result[customer_id] = CustomerAccounts(
            customer=customer,
            available=by_kind[AccountKind.AVAILABLE],
            pending=by_kind.get(AccountKind.PENDING),
            held=by_kind.get(AccountKind.HELD),
            debt=by_kind[AccountKind.DEBT],
            request_operation_id=request_operation_id,
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


@cache
def _lock_sql(full: int, partial: int, kinds: int, with_request: bool, vendor: str) -> str:
    q = rows.quote
    marks = lambda n: ", ".join("%s" for _ in range(n))  # noqa: E731
    assert AccountKind.AVAILABLE.value.isidentifier()  # written into the SQL as a literal
    available = f"a.{q('kind')} = '{AccountKind.AVAILABLE.value}'"
    where = f"a.{q('customer_id')} IN ({marks(full)})" if full else "FALSE"
    if partial:
        where = (f"({where} OR (a.{q('customer_id')} IN ({marks(partial)})"
                 f" AND a.{q('kind')} IN ({marks(kinds)})))")
    # Every customer has one spendable account, locked in every case: his row comes with it, whole
    # for ``customer_ids`` (``w``), the _slim() columns for the credited ones.
    join = f" INNER JOIN {q(Customer._meta.db_table)} c ON c.{q('id')} = a.{q('customer_id')}"
    if partial:
        chosen = f"a.{q('customer_id')} IN ({marks(full)})" if full else "FALSE"
        join += (f" LEFT JOIN {q(Customer._meta.db_table)} w ON w.{q('id')} = a.{q('customer_id')}"
                 f" AND {available} AND {chosen}")
        customer = rows.columns(Customer, "w") + "".join(
            f", CASE WHEN {available} THEN c.{q(f.column)} END" for f in _slim())
    else:
        customer = rows.columns(Customer, "c", when=available)
    sql = (
        f"SELECT {rows.columns(Account, 'a')}, {customer}"  # noqa: S608 - names from _meta; values bound
        + (f", (SELECT o.{q('id')} FROM {q(Operation._meta.db_table)} o"  # noqa: S608 - names from _meta; values bound
           f" WHERE o.{q('request_id')} = %s LIMIT 1)" if with_request else "")
        + f" FROM {q(Account._meta.db_table)} a{join}"
        f" WHERE {where} ORDER BY a.{q('id')}"
    )
    features = rows.db().features
    if features.has_select_for_update:
        sql += (" FOR NO KEY UPDATE OF a" if features.has_select_for_no_key_update
                else " FOR UPDATE OF a")
    return sql


def accounts_lock(*, accounts: QuerySet[Account]) -> list[int]:
    """Lock the account rows ``accounts`` selects, in pk order, and return their ids.

    For set-based writes (rolling an import batch back) that touch thousands of accounts: no model
    instances are built. Must run inside ``transaction.atomic``.
    """
    return list(
        accounts.order_by("pk").select_for_update(of=("self",), no_key=True)
        .values_list("pk", flat=True)
    )
