"""Ledger verification: every cached balance equals its entries' sum; the ledger sums to zero.

Set-based: a few aggregate queries whatever the size of the ledger.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Round

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


def _sum(direction: str) -> Subquery:
    amount = DecimalField(max_digits=20, decimal_places=2)
    return Coalesce(
        Subquery(
            Entry.objects.filter(**{direction: OuterRef("pk")})
            .order_by().values(direction).annotate(s=Sum("amount")).values("s")[:1],
            output_field=amount,
        ),
        Value(Decimal(0)),
        output_field=amount,
    )


def ledger_verify() -> LedgerReport:
    report = LedgerReport()
    # Round: SQLite sums decimals as floats; on PostgreSQL numeric sums are exact anyway.
    accounts = Account.objects.annotate(
        computed=Round(_sum("destination") - _sum("source"), 2)
    )
    report.accounts = accounts.count()
    report.entries = Entry.objects.count()
    total = accounts.aggregate(s=Sum("computed"))["s"] or Decimal(0)
    report.total = Decimal(total).quantize(Decimal("0.01"))
    report.mismatches = list(
        accounts.filter(customer__isnull=False).exclude(balance=F("computed"))
        .values_list("pk", "balance", "computed")
    )
    report.sign_violations = list(
        accounts.filter(
            Q(kind__in=[AccountKind.AVAILABLE, AccountKind.PENDING, AccountKind.HELD],
              computed__lt=0)
            | Q(kind=AccountKind.DEBT, computed__gt=0)
        ).values_list("pk", flat=True)
    )
    return report
