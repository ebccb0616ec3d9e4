"""How other apps take part in a sale without the loyalty app knowing them.

A ``PurchaseExtension`` (registered with ``purchase_extension_register`` from its app's
``AppConfig.ready``) is asked twice by ``purchase_create``:

1. before any lock, ``customers_to_lock(customer)``: ids of other customers whose accounts it will
   credit (a referral chain's ancestors, say), so that every account of the sale is locked in one
   query, in primary-key order;
2. under the locks, ``moves(context)``: ledger moves to add to the sale (with ``credit_moves`` for
   points given to a customer: it repays debt first).

An extension may also write rows of its own in ``moves`` (returning no moves): they are in the
sale's transaction, under its locks, after the operation got its id. On PostgreSQL the operation's
row itself is written only with the sale's last statement (foreign keys to it are checked at
commit), so ``moves`` must not read it back from the database. A row that needs nothing back
(no id, no answer) is better added to ``context.statements`` as an INSERT: it goes to the database
with the sale's last statement (on PostgreSQL, as a part of that one statement), which saves the
sale a round trip. The Partner API writes its webhook outbox row so
(``partner.outbox.OperationOutbox``), whatever way the sale inserts the operation; a writer of
sales must therefore call every extension's ``moves`` and run ``context.statements``.

A refund needs nothing from extensions: ``purchase_refund`` reverses, in the refunded proportion,
every entry of the sale that credited another customer, up the same chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .locks import CustomerAccounts
    from .models import Customer, Operation
    from .services.ledger import Move
    from .services.purchases import PurchaseCalculation


@dataclass
class PurchaseContext:
    """A sale being written: its operation (with its id; on PostgreSQL its row is written with
    the sale's last statement), numbers, and every locked account."""

    operation: Operation
    customer: Customer
    calculation: PurchaseCalculation
    accounts: dict[int, CustomerAccounts]
    first_purchase: bool
    # When points this sale credits become spendable (the program's accrual delay); None: at once.
    # Credits to other customers use it too: their pending accounts are locked when it is set.
    release_at: datetime | None = None
    extra: dict = field(default_factory=dict)
    # INSERTs (SQL, params) of rows the extensions write with the sale and need nothing back from:
    # run with the sale's entries, in its transaction (see the module's docstring).
    statements: list[tuple[str, list]] = field(default_factory=list)


class PurchaseExtension(Protocol):
    def customers_to_lock(self, customer: Customer) -> list[int]: ...

    def moves(self, context: PurchaseContext) -> list[Move]: ...


_extensions: list[PurchaseExtension] = []


def purchase_extension_register(extension: PurchaseExtension) -> None:
    if extension not in _extensions:
        _extensions.append(extension)


def purchase_extensions() -> list[PurchaseExtension]:
    return list(_extensions)


# Merging customers (``loyalty.services.merge.customer_merge``): apps that keep rows per customer
# (referral links, certificates...) register a hook ``hook(*, source, target)``; it runs inside the
# merge's transaction after the points moved and before it commits.
_merge_hooks: list = []


def customer_merge_hook_register(hook) -> None:
    if hook not in _merge_hooks:
        _merge_hooks.append(hook)


def customer_merge_hooks() -> list:
    return list(_merge_hooks)


# Tier rules: ways other than the total spent to reach a tier (a number of friends who bought, in
# ``referrals``). A customer holds the highest tier his total spent OR any rule gives him; a pinned
# tier stays pinned. A rule has two methods:
#
# - ``tier_reached(customer, tiers, earned) -> Tier | None``: the highest of ``tiers`` the rule gives
#   ``customer`` when it ranks above ``earned`` (what his total spent earns), else None. Called by
#   ``customer_tier_recompute`` (every sale, refund, merge); it should not read the database when
#   no tier it gives can rank above ``earned``.
# - ``tier_conditions(tiers) -> dict[tier_id, Q]``: for the set-based nightly review
#   (``customers_tier_review``), a condition on ``Customer`` under which the rule gives each tier.
_tier_rules: list = []


def tier_rule_register(rule) -> None:
    if rule not in _tier_rules:
        _tier_rules.append(rule)


def tier_rules() -> list:
    return list(_tier_rules)
