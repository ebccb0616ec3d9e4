"""Reads of the till screen: finding a customer, his panel, the cashier's shift.

Every function here runs a fixed number of queries whatever the customer's or the branch's history:
the till is the most used page and must stay fast with tens of thousands of customers.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.functions import Reverse
from django.utils import timezone

from campaigns.models import CampaignSettings, Certificate, CertificateStatus
from loyalty.models import (
    Account,
    AccountKind,
    Branch,
    Customer,
    Operation,
    OperationKind,
    StaffMember,
)
from loyalty.money import ZERO
from loyalty.phones import try_normalize_phone
from loyalty.services.certificates import certificate_points_of

SEARCH_LIMIT = 8
MIN_SUFFIX_DIGITS = 4
PAYMENT_CODE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class SearchResult:
    """What the search box found for ``query``.

    ``customers``: matches (at most ``SEARCH_LIMIT``). ``phone``: the query read as a full, valid
    phone number (E.164), else "". ``unknown_phone`` is True when that number has no customer yet:
    the till offers "sell to this number" and "register".
    """

    query: str
    customers: list[Customer] = field(default_factory=list)
    phone: str = ""
    by_code: bool = False
    too_short: bool = False  # digits typed, but fewer than a last-digits search needs

    @property
    def unknown_phone(self) -> bool:
        return bool(self.phone) and not self.customers

    @property
    def single(self) -> Customer | None:
        return self.customers[0] if len(self.customers) == 1 else None


def staff_member_get(*, user) -> StaffMember | None:
    """The user's branch binding (with the branch), or None when he is not bound to one."""
    if not user.is_authenticated:
        return None
    return StaffMember.objects.select_related("branch").filter(user=user).first()


def customer_get_by_payment_code(*, code: str) -> Customer | None:
    """The customer whose card currently shows the 6-digit payment ``code``.

    Hook for the till's search box: payment codes arrive with the customer card issue, which
    replaces this body with the real lookup. Until then no code exists, so nothing is found; the
    till never pretends a code matched.
    """
    return None


def customer_search(*, query: str) -> SearchResult:
    """Find customers by what the cashier typed: a phone in any spelling, its last digits, or a
    6-digit payment code. One query (plus the code lookup) whatever the history.
    """
    text = (query or "").strip()
    digits = re.sub(r"\D", "", text)
    if not digits:
        return SearchResult(query=text)
    base = Customer.objects.select_related("tier")
    if PAYMENT_CODE.match(text):
        customer = customer_get_by_payment_code(code=text)
        if customer is not None:
            return SearchResult(query=text, customers=[customer], by_code=True)
    phone = try_normalize_phone(text) or ""
    if phone:
        # A whole number: read the customer through his accounts, balances included, so the
        # panel that opens next needs no second query.
        customer = _customer_with_balances(Account.objects.filter(customer__phone=phone))
        return SearchResult(query=text, customers=[customer] if customer else [], phone=phone)
    if len(digits) < MIN_SUFFIX_DIGITS:
        return SearchResult(query=text, too_short=True)
    # The last digits of a number: what a customer says when asked "the end of your phone?".
    if connection.vendor == "postgresql":
        # Compared reversed, as a prefix, so PostgreSQL uses the index of cashier migration 0001.
        found = base.annotate(phone_reversed=Reverse("phone")).filter(
            phone_reversed__startswith=digits[::-1])
    else:
        # SQLite computes REVERSE in Python row by row; its own LIKE scan is far faster there.
        found = base.filter(phone__endswith=digits)
    found = found.order_by(F("last_purchase_at").desc(nulls_last=True), "pk")[:SEARCH_LIMIT]
    return SearchResult(query=text, customers=list(found))


def till_customer_get(*, customer_id: int) -> Customer | None:
    """The customer for the till panel with tier and balances, in one query of four rows."""
    return _customer_with_balances(Account.objects.filter(customer_id=customer_id))


def _customer_with_balances(accounts: QuerySet) -> Customer | None:
    """One customer's accounts joined to him and his tier (every customer owns four, see
    ``loyalty.models``) → the customer carrying ``spendable``, ``pending`` and ``debt``, the cached
    balances, so the panel never touches the ledger's entries. One query of four rows.
    """
    accounts = list(accounts.select_related("customer__tier"))
    if not accounts:
        return None
    balances = {account.kind: account.balance for account in accounts}
    customer = accounts[0].customer
    customer.spendable = balances.get(AccountKind.AVAILABLE) or ZERO
    customer.pending = balances.get(AccountKind.PENDING) or ZERO
    customer.debt = balances.get(AccountKind.DEBT) or ZERO
    return customer


def customer_recent_operations(*, customer: Customer, limit: int = 5) -> list[Operation]:
    """The customer's latest sales and refunds (any branch), newest first; one indexed query."""
    return list(
        Operation.objects.select_related("branch")
        .filter(customer=customer, kind__in=[OperationKind.PURCHASE, OperationKind.REFUND])
        .order_by("-created_at", "-pk")[:limit]
    )


def customer_active_certificates(*, customer: Customer, limit: int = 10) -> list[Certificate]:
    """The customer's certificates he may present today, soonest to expire first; one query."""
    today = timezone.localdate()
    return list(
        Certificate.objects.filter(customer=customer, status=CertificateStatus.ACTIVE,
                                   valid_from__lte=today, valid_until__gte=today)
        .order_by("valid_until", "pk")[:limit]
    )


def campaign_settings_get() -> CampaignSettings:
    """The campaigns' settings (their defaults while the row is not saved yet); one query, never a
    write, so the panel's query count does not depend on whether the owner saved them."""
    return CampaignSettings.objects.filter(pk=1).first() or CampaignSettings(pk=1)


def birthday_near(*, birthday: date | None, today: date, days_before: int,
                  days_after: int) -> bool:
    """True when ``today`` is within ``days_before`` a birthday through ``days_after`` it (a 29
    February birthday counts on 28 February in other years, as the birthday campaign does)."""
    if birthday is None:
        return False
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            day = birthday.replace(year=year)
        except ValueError:
            day = date(year, 2, 28)
        if day - timedelta(days=days_before) <= today <= day + timedelta(days=days_after):
            return True
    return False


def operation_certificate_points(*, operation: Operation) -> Decimal:
    """The points a certificate paid in this sale (0 without one); one query."""
    return certificate_points_of(operation_id=operation.pk)


def till_sale_replayed(*, customer: Customer, request_id: str) -> Operation | None:
    """The sale already recorded under this till request id (a second click), else None."""
    return Operation.objects.filter(request_id=request_id, customer=customer,
                                    kind=OperationKind.PURCHASE).first()


@dataclass(frozen=True)
class ShiftTotals:
    sales: int
    sales_total: Decimal
    cash: Decimal
    points_redeemed: Decimal
    cashback: Decimal
    refunds: int
    refunds_total: Decimal


def receipt_already_sold(*, branch: Branch, receipt_number: str, since: datetime) -> Operation | None:
    """A sale at ``branch`` since ``since`` with this receipt number, if there is one: typing a
    sale again after a lost connection books it twice (and its cashback). Uses the (branch,
    time) index."""
    if not receipt_number.strip():
        return None
    return (Operation.objects.filter(branch=branch, created_at__gte=since,
                                     kind=OperationKind.PURCHASE,
                                     receipt_number=receipt_number.strip())
            .order_by("-created_at").first())


def shift_operations(*, cashier, branch: Branch, since: datetime) -> list[Operation]:
    """This cashier's sales and refunds at ``branch`` since ``since``, newest first."""
    return list(
        Operation.objects.select_related("customer")
        .filter(cashier=cashier, branch=branch, created_at__gte=since,
                kind__in=[OperationKind.PURCHASE, OperationKind.REFUND])
        .order_by("-created_at", "-pk")
    )


def shift_totals(operations: list[Operation]) -> ShiftTotals:
    """Totals of a shift's operations (already loaded: no query)."""
    sales = [o for o in operations if o.kind == OperationKind.PURCHASE]
    refunds = [o for o in operations if o.kind == OperationKind.REFUND]
    return ShiftTotals(
        sales=len(sales),
        sales_total=sum((o.total for o in sales), ZERO),
        cash=sum((o.cash for o in sales), ZERO) - sum((o.cash for o in refunds), ZERO),
        points_redeemed=sum((o.points for o in sales), ZERO),
        cashback=sum((o.cashback for o in sales), ZERO),
        refunds=len(refunds),
        refunds_total=sum((o.total for o in refunds), ZERO),
    )


def branch_operation_get(*, operation_id: int, branch: Branch) -> Operation | None:
    """A sale or refund of ``branch`` with its customer and origin; None for another branch's."""
    return (
        Operation.objects.select_related("customer__tier", "origin", "cashier")
        .filter(pk=operation_id, branch=branch,
                kind__in=[OperationKind.PURCHASE, OperationKind.REFUND])
        .first()
    )


def operation_refunds(*, operation: Operation) -> QuerySet:
    return operation.refunds.order_by("created_at", "pk")
