"""The one place where points accounts are locked.

Locks are taken with ``SELECT ... FOR NO KEY UPDATE`` on the account rows only (``of=("self",)``),
always in primary-key order, so two operations that lock overlapping sets of accounts (a purchase
and the referral rewards it pays up the chain, say) queue instead of deadlocking. SQLite ignores
row locks; there the IMMEDIATE transaction mode serialises writers instead.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from .models import Account, AccountKind, Customer


@dataclass
class CustomerAccounts:
    """A customer's locked accounts and the customer row, read in the same query."""

    customer: Customer
    available: Account
    pending: Account | None  # always locked (credited customers too: deferred rewards)
    held: Account | None  # None for a customer locked only to be credited or debited
    debt: Account


def customer_accounts_lock(
    *, customer_ids: Iterable[int], credited_ids: Iterable[int] = ()
) -> dict[int, CustomerAccounts]:
    """Lock every account of ``customer_ids``, and the spendable, pending and debt accounts of
    ``credited_ids`` (customers a sale only credits or debits: a referral chain's ancestors, whose
    rewards are pending when the program defers points), in pk order, and return them by
    customer id.

    Must run inside ``transaction.atomic``; the locks last until that transaction ends. One query
    whatever the number of customers; the customer row comes along (not locked). His tier is read
    from ``loyalty.program_cache`` by the callers that need it. Locking three rows instead of four
    per credited customer keeps a sale up a long chain nearly as cheap as one without.
    """
    full = set(customer_ids)
    partial = set(credited_ids) - full
    condition = Q(customer_id__in=full)
    if partial:
        condition |= Q(customer_id__in=partial, kind__in=[AccountKind.AVAILABLE, AccountKind.PENDING,
                                                          AccountKind.DEBT])
    rows = (
        Account.objects.select_related("customer")
        .filter(condition)
        .order_by("pk")
        .select_for_update(of=("self",), no_key=True)
    )
    grouped: dict[int, dict[str, Account]] = {}
    for account in rows:
        grouped.setdefault(account.customer_id, {})[account.kind] = account
    result = {}
    for customer_id, by_kind in grouped.items():
        any_account = next(iter(by_kind.values()))
        result[customer_id] = CustomerAccounts(
            customer=any_account.customer,
            available=by_kind[AccountKind.AVAILABLE],
            pending=by_kind.get(AccountKind.PENDING),
            held=by_kind.get(AccountKind.HELD),
            debt=by_kind[AccountKind.DEBT],
        )
    return result


def accounts_lock(*, accounts: QuerySet[Account]) -> list[int]:
    """Lock the account rows ``accounts`` selects, in pk order, and return their ids.

    For set-based writes (rolling an import batch back) that touch thousands of accounts: no model
    instances are built. Must run inside ``transaction.atomic``.
    """
    return list(
        accounts.order_by("pk").select_for_update(of=("self",), no_key=True)
        .values_list("pk", flat=True)
    )
