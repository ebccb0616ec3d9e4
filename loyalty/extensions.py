"""How other apps take part in a sale without the loyalty app knowing them.

A ``PurchaseExtension`` (registered with ``purchase_extension_register`` from its app's
``AppConfig.ready``) is asked twice by ``purchase_create``:

1. before any lock, ``customers_to_lock(customer)``: ids of other customers whose accounts it will
   credit (a referral chain's ancestors, say), so that every account of the sale is locked in one
   query, in primary-key order;
2. under the locks, ``moves(context)``: ledger moves to add to the sale (with ``credit_moves`` for
   points given to a customer: it repays debt first).

A refund needs nothing from extensions: ``purchase_refund`` reverses, in the refunded proportion,
every entry of the sale that credited another customer, up the same chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .locks import CustomerAccounts
    from .models import Customer, Operation
    from .services.ledger import Move
    from .services.purchases import PurchaseCalculation


@dataclass
class PurchaseContext:
    """A sale being written: its operation (saved), numbers, and every locked account."""

    operation: Operation
    customer: Customer
    calculation: PurchaseCalculation
    accounts: dict[int, CustomerAccounts]
    first_purchase: bool
    extra: dict = field(default_factory=dict)


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
