"""Every read the views need, with the joins inside."""

from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from .models import Account, AccountKind, Customer, Entry, Operation
from .phones import try_normalize_phone


def customer_get_by_phone(*, phone: str) -> Customer | None:
    """The customer with this phone in any spelling, with tier; None when unknown or invalid."""
    normalized = try_normalize_phone(phone)
    if normalized is None:
        return None
    return Customer.objects.select_related("tier").filter(phone=normalized).first()


def customer_balances(*, customer: Customer) -> dict[str, Decimal]:
    """Cached balances of the customer's accounts by kind (one query)."""
    return dict(
        Account.objects.filter(customer=customer).values_list("kind", "balance")
    )


def account_balance_from_entries(*, account_id: int) -> Decimal:
    """The balance as the ledger defines it: entries in minus entries out (two indexed sums)."""
    incoming = Entry.objects.filter(destination_id=account_id).aggregate(s=Sum("amount"))["s"]
    outgoing = Entry.objects.filter(source_id=account_id).aggregate(s=Sum("amount"))["s"]
    return (incoming or Decimal(0)) - (outgoing or Decimal(0))


def operation_list(*, customer: Customer | None = None, branch=None, since=None) -> QuerySet:
    qs = Operation.objects.select_related("customer", "branch", "cashier")
    if customer is not None:
        qs = qs.filter(customer=customer)
    if branch is not None:
        qs = qs.filter(branch=branch)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return qs


def points_liability() -> Decimal:
    """Outstanding points: what all customers hold, spendable or pending (glossary)."""
    total = Account.objects.filter(
        Q(kind=AccountKind.AVAILABLE) | Q(kind=AccountKind.PENDING) | Q(kind=AccountKind.HELD),
        customer__isnull=False,
    ).aggregate(s=Sum("balance"))["s"]
    return total or Decimal(0)
