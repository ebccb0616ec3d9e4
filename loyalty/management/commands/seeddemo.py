"""Demo data: logins, then a business with history — a migrated base, new members, a season.

``seeddemo --customers N --months M`` simulates M months of a small business:

* about a third of the customers come from an old base, imported as one ``ImportBatch`` (phones in
  mixed spellings, opening balances for some) exactly as the owner's import does;
* the rest register over the months (welcome bonus), a tenth stay phone-only;
* purchases follow the season (December and summer peaks, a January dip) and a heavy tail: a
  quarter of the customers bring most of the turnover, so tiers rise by spending; about a quarter
  of bills redeem what the tier allows; ~3% of sales are refunded, fully or in part.

Every point moves through the loyalty services, in time order, so the demo ledger is exactly what
real use writes; only the operations' times are set back afterwards (demo data only).

Referral chains and certificates are built by their own apps: they add demo data by registering a
``DemoStep`` with ``demo_step_register`` (``customer_joined`` is called as each customer appears,
``purchase_made`` after each sale, ``finished`` at the end).
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from loyalty.exceptions import LoyaltyError
from loyalty.models import Branch, Customer, ImportBatch, Operation, StaffMember
from loyalty.phones import try_normalize_phone
from loyalty.roles import CASHIER, MANAGER, OWNER, roles_ensure
from loyalty.services import customer_register, purchase_calculate, purchase_create, purchase_refund
from loyalty.services.customers import customer_get_or_create_by_phone
from loyalty.services.imports import import_batch_create, import_batch_run

FEMALE = ["Анна", "Мария", "Елена", "Ольга", "Ирина", "Наталья", "Татьяна", "Юлия", "Екатерина"]
MALE = ["Дмитрий", "Алексей", "Сергей", "Иван", "Андрей", "Павел", "Михаил", "Никита"]
# A surname's masculine form; the feminine adds "а".
SURNAMES = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов", "Новиков",
            "Морозов", "Петров", "Волков", "Соловьёв", "Васильев", "Зайцев", "Павлов"]

SOURCES = ["", "Instagram", "ВКонтакте", "сайт", "рекомендация", "вывеска"]
# Relative turnover by calendar month (Jan..Dec): a January dip, summer and December peaks.
SEASON = [0.7, 0.8, 0.9, 0.9, 1.0, 1.2, 1.3, 1.3, 1.0, 0.9, 1.0, 1.6]
DEMO_PASSWORD = "demo12345"  # noqa: S105 - printed on the console for the demo, never in production


def demo_users_ensure() -> list[tuple[str, str, str]]:
    """Owner and cashier logins for the demo; returns (role, username, password) rows."""
    roles_ensure()
    user_model = get_user_model()
    branch = Branch.objects.order_by("pk").first() or Branch.objects.create(name="Main")
    rows = []
    for username, group, staff in (("owner", OWNER, True), ("manager", MANAGER, True),
                                   ("cashier", CASHIER, False)):
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": staff, "is_superuser": username == "owner"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(Group.objects.get(name=group))
        StaffMember.objects.get_or_create(user=user, defaults={"branch": branch})
        rows.append((group, username, DEMO_PASSWORD))
    return rows


def _person(rng: random.Random) -> tuple[str, str]:
    """A given name and a surname of the same gender."""
    female = rng.random() < 0.55
    first = rng.choice(FEMALE if female else MALE)
    last = rng.choice(SURNAMES) + ("а" if female else "")
    return first, last


@dataclass
class DemoContext:
    rng: random.Random
    start: datetime
    end: datetime
    branches: list[Branch]
    cashier: object
    customers: list[Customer] = field(default_factory=list)
    times: list[tuple[int, datetime]] = field(default_factory=list)  # (operation id, when)


class DemoStep:
    """Another app's part of the demo; override what it needs."""

    def customer_joined(self, context: DemoContext, customer: Customer, when: datetime) -> None: ...

    def purchase_made(self, context: DemoContext, customer: Customer, operation_id: int,
                      when: datetime) -> None: ...

    def finished(self, context: DemoContext) -> None: ...


_steps: list[DemoStep] = []


def demo_step_register(step: DemoStep) -> None:
    if step not in _steps:
        _steps.append(step)


def _seasonal_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment between start and end, denser in busy months."""
    span = (end - start).total_seconds()
    while True:
        when = start + timedelta(seconds=rng.random() * span)
        if rng.random() * max(SEASON) <= SEASON[when.month - 1]:
            return when


def _phone_spelling(rng: random.Random, phone: str) -> str:
    d = phone[2:]
    return rng.choice([phone, f"8{d}", f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
                       f"+7 {d[:3]} {d[3:6]} {d[6:8]} {d[8:]}", d])


class Command(BaseCommand):
    help = "Create demo logins and a business with a migrated base and months of sales."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300)
        parser.add_argument("--months", type=int, default=6)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--if-empty", action="store_true",
                            help="Do nothing when customers already exist.")

    def handle(self, *args, customers, months, seed, if_empty, **options):
        rows = demo_users_ensure()
        if if_empty and Customer.objects.exists():
            self.stdout.write("Demo customers already exist; skipped.")
        else:
            fast = connection.vendor == "sqlite" and not connection.in_atomic_block
            if fast:
                # Demo data only: thousands of small transactions, each fsync'd by SQLite, are
                # most of the time; a crash while seeding just means seeding again.
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA synchronous = OFF")
            try:
                self._business(customers, max(1, months), random.Random(seed))
            finally:
                if fast:
                    with connection.cursor() as cursor:
                        cursor.execute("PRAGMA synchronous = FULL")
        self.stdout.write(self.style.SUCCESS("Demo logins (change them before real use):"))
        for role, username, password in rows:
            self.stdout.write(f"  {role:8} {username} / {password}")

    def _phones(self, rng, count):
        taken = set(Customer.objects.values_list("phone", flat=True))
        phones = []
        while len(phones) < count:
            phone = f"+79{rng.randrange(10**9):09d}"
            # Not every +79... number is assigned; the services (and the import) refuse the rest.
            if phone not in taken and try_normalize_phone(phone) == phone:
                taken.add(phone)
                phones.append(phone)
        return phones

    def _business(self, count, months, rng):
        end = timezone.now()
        ctx = DemoContext(
            rng=rng, start=end - timedelta(days=30 * months), end=end,
            branches=list(Branch.objects.filter(is_active=True)) or [Branch.objects.first()],
            cashier=get_user_model().objects.filter(username="cashier").first(),
        )
        phones = self._phones(rng, count)
        migrated = phones[: count // 3]
        self._import_old_base(ctx, migrated)
        # Everyone else joins at a moment of the period; events are replayed in time order.
        events = [(ctx.start, "import", p) for p in migrated]
        events += [(_seasonal_time(rng, ctx.start, end), "join", p) for p in phones[count // 3:]]
        events.sort()
        by_phone = {c.phone: c for c in Customer.objects.filter(phone__in=migrated)}
        timeline = []
        for when, kind, phone in events:
            registered = False
            if kind == "join":
                if rng.random() < 0.9:
                    customer = customer_register(
                        phone=phone, name="{} {}".format(*_person(rng)),
                        source=rng.choice(SOURCES), consent_messages=rng.random() < 0.7,
                    )
                    registered = True
                else:  # points by phone number: the owner never registered
                    customer, _created = customer_get_or_create_by_phone(phone=phone)
            else:
                customer = by_phone[phone]
            ctx.customers.append(customer)
            # Steps see a customer who has just joined (an invitation is recorded only then),
            # and set their own rows' times back themselves.
            for step in _steps:
                step.customer_joined(ctx, customer, when)
            if registered:
                Customer.objects.filter(pk=customer.pk).update(joined_at=when)
                Operation.objects.filter(customer=customer).update(created_at=when)
            # A heavy tail: most buy once or twice, a regular quarter buys often.
            visits = rng.choice([0, 1, 1, 1, 2, 2, 3]) if rng.random() < 0.75 else rng.randrange(5, 16)
            timeline += [(_seasonal_time(rng, when, end), customer.pk) for _n in range(visits)]
        timeline.sort()
        customers = {c.pk: c for c in ctx.customers}
        sales = refunds = 0
        for when, customer_pk in timeline:
            if self._sale(ctx, customers[customer_pk], when):
                sales += 1
                if rng.random() < 0.03:
                    refunds += 1
        self._backdate(ctx)
        refunds = self._refunds(ctx, refunds)
        for step in _steps:
            step.finished(ctx)
        self.stdout.write(f"Created {len(ctx.customers)} demo customers ({len(migrated)} imported), "
                          f"{sales} sales, {refunds} refunds.")

    def _import_old_base(self, ctx, phones):
        """The customer base the business had before: one import batch, like the owner's."""
        if not phones:
            return
        rng = ctx.rng
        lines = ["Телефон;ФИО;Дата рождения;Баллы"]
        for phone in phones:
            birthday = (f"{rng.randrange(1, 29):02d}.{rng.randrange(1, 13):02d}."
                        f"{rng.randrange(1955, 2005)}" if rng.random() < 0.6 else "")
            balance = str(rng.randrange(50, 1500)) if rng.random() < 0.4 else ""
            lines.append(f"{_phone_spelling(rng, phone)};{' '.join(reversed(_person(rng)))};"
                         f"{birthday};{balance}")
        batch = import_batch_create(data="\n".join(lines).encode("utf-8"),
                                    file_name="old-base.csv")
        import_batch_run(batch_id=batch.pk)
        with transaction.atomic():
            ImportBatch.objects.filter(pk=batch.pk).update(created_at=ctx.start,
                                                           finished_at=ctx.start)
            Operation.objects.filter(import_batch=batch).update(created_at=ctx.start)

    def _sale(self, ctx, customer, when) -> bool:
        rng = ctx.rng
        # Bills around 1,500 with a long right tail (a party order now and then).
        total = Decimal(int(min(25000, max(300, rng.lognormvariate(7.2, 0.6)))))
        points = None
        if rng.random() < 0.25:
            customer.refresh_from_db(fields=["tier"])
            points = purchase_calculate(customer=customer, total=total).max_points or None
        try:
            receipt = purchase_create(customer=customer, branch=rng.choice(ctx.branches),
                                      cashier=ctx.cashier, total=total, points=points)
        except LoyaltyError:
            return False  # a demo bill the rules refuse is simply not made
        ctx.times.append((receipt.operation_id, when))
        for step in _steps:
            step.purchase_made(ctx, customer, receipt.operation_id, when)
        return True

    @transaction.atomic
    def _backdate(self, ctx):
        """Set the sales' times to the simulated ones (demo data only: real operations always
        carry the time they were made), and each customer's last purchase to match."""
        operations = [Operation(pk=pk, created_at=when) for pk, when in ctx.times]
        Operation.objects.bulk_update(operations, ["created_at"], batch_size=500)
        last = (Operation.objects.filter(customer=OuterRef("pk"), kind="purchase")
                .order_by("-created_at").values("created_at")[:1])
        Customer.objects.filter(last_purchase_at__isnull=False).update(
            last_purchase_at=Subquery(last))

    def _refunds(self, ctx, count) -> int:
        sales = list(Operation.objects.filter(kind="purchase", state="NORMAL")
                     .order_by("?").values_list("pk", "total", "created_at")[:count])
        for pk, total, created_at in sales:
            amount = None if ctx.rng.random() < 0.6 else (total / 2).quantize(Decimal(1))
            receipt = purchase_refund(operation_id=pk, amount=amount, comment="demo")
            # A few hours or days after the sale, never later than now.
            later = created_at + timedelta(hours=ctx.rng.randrange(1, 72))
            Operation.objects.filter(pk=receipt.operation_id).update(
                created_at=min(later, max(created_at, timezone.now())))
        return len(sales)
