"""Demo data: branches and logins, then customers with a history of sales and refunds.

Everything goes through the loyalty services, so the demo ledger is exactly what real use writes.
"""

import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from loyalty.models import Branch, Customer, Operation, StaffMember
from loyalty.roles import CASHIER, MANAGER, OWNER, roles_ensure
from loyalty.services import customer_register, purchase_create, purchase_refund
from loyalty.services.customers import customer_get_or_create_by_phone

FIRST = ["Анна", "Мария", "Елена", "Ольга", "Ирина", "Дмитрий", "Алексей", "Сергей", "Иван",
         "Наталья", "Татьяна", "Андрей", "Павел", "Юлия", "Екатерина", "Михаил", "Никита"]
LAST = ["Иванова", "Смирнова", "Кузнецова", "Попова", "Соколов", "Лебедев", "Козлов", "Новиков",
        "Морозова", "Петров", "Волкова", "Соловьёв", "Васильева", "Зайцев", "Павлова"]
SOURCES = ["", "Instagram", "ВКонтакте", "сайт", "рекомендация", "вывеска"]
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


class Command(BaseCommand):
    help = "Create demo logins and customers with purchases (through the services)."

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
            self._customers(customers, months, random.Random(seed))
        self.stdout.write(self.style.SUCCESS("Demo logins (change them before real use):"))
        for role, username, password in rows:
            self.stdout.write(f"  {role:8} {username} / {password}")

    def _customers(self, count, months, rng):
        branches = list(Branch.objects.all())
        cashier = get_user_model().objects.filter(username="cashier").first()
        start = timezone.now() - timedelta(days=30 * months)
        made = 0
        for i in range(count):
            phone = f"+7916{rng.randrange(10**6, 10**7):07d}"
            if Customer.objects.filter(phone=phone).exists():
                continue
            if rng.random() < 0.9:
                customer = customer_register(
                    phone=phone, name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    source=rng.choice(SOURCES), consent_messages=rng.random() < 0.7,
                )
            else:  # points by phone number: the owner never registered
                customer, _ = customer_get_or_create_by_phone(phone=phone)
            for _n in range(rng.choice([0, 1, 1, 2, 3, 3, 4, 6, 9])):
                customer.refresh_from_db()
                total = Decimal(rng.randrange(400, 6000))
                balance = customer.accounts.get(kind="available").balance
                points = min(balance, (total * Decimal("0.3")).quantize(Decimal(1))) if (
                    rng.random() < 0.3) else Decimal(0)
                try:
                    receipt = purchase_create(
                        customer=customer, branch=rng.choice(branches), cashier=cashier,
                        total=total, points=points,
                    )
                except Exception:  # noqa: S112, BLE001 - a demo sale the cap refuses is skipped
                    continue
                when = start + timedelta(seconds=rng.randrange(int((timezone.now() - start)
                                                                    .total_seconds())))
                with transaction.atomic():
                    # Spread the demo history over past months (demo data only: real
                    # operations always carry the time they were made).
                    Operation.objects.filter(pk=receipt.operation_id).update(created_at=when)
                if rng.random() < 0.04:
                    purchase_refund(operation_id=receipt.operation_id,
                                    amount=(total / 2).quantize(Decimal(1)))
            made += 1
            if i % 100 == 99:
                self.stdout.write(f"  {i + 1} customers...")
        self.stdout.write(f"Created {made} demo customers.")
