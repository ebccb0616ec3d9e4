"""Benchmark of the till's hot path: lookup → calculate → confirm, through Django's test client.

Builds (once) a business of ``--customers`` customers on the database ``DATABASE_URL`` names:
customers and their four accounts in bulk (no points move: every balance starts at zero), then a
history for some of them through the loyalty services (opening balances, sales, refunds), one of
them a regular with hundreds of sales. Then it serves ``--rounds`` customers as a cashier would and
prints p50/p95/max per step in milliseconds.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_till_bench \\
        .venv/bin/python bench/till.py --customers 50000 --rounds 300

The database is created if missing and reused on later runs (``--rebuild`` starts over).
Target: p95 under 50 ms per step on PostgreSQL.
"""

import argparse
import os
import random
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

PHONE_BASE = 9160000000  # +7 916 000-00-00 upwards: valid Russian mobile numbers
BATCH = 5000


def database_ensure() -> None:
    """Create the PostgreSQL database named by DATABASE_URL when it does not exist yet."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def phone(i: int) -> str:
    return f"+7{PHONE_BASE + i}"


def spelled(e164: str, rng: random.Random) -> str:
    """The number as a cashier might type it."""
    d = e164[2:]
    return rng.choice([
        f"8 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"+7 ({d[:3]}) {d[3:6]} {d[6:8]} {d[8:]}",
        d,
        f"8{d}",
    ])


def build(customers: int, rng: random.Random, out) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from loyalty.models import (
        CUSTOMER_ACCOUNT_KINDS,
        Account,
        Branch,
        Customer,
        StaffMember,
        Tier,
    )
    from loyalty.services import points_adjust, purchase_create, purchase_refund

    if not Tier.objects.exists():
        call_command("loadprogram", str(ROOT / "presets" / "sakura.yaml"), stdout=open(os.devnull, "w"))
    branch = Branch.objects.order_by("pk").first() or Branch.objects.create(name="Bench")
    user, _ = get_user_model().objects.get_or_create(username="bench-cashier")
    StaffMember.objects.get_or_create(user=user, defaults={"branch": branch})

    have = Customer.objects.count()
    if have >= customers:
        out(f"reusing {have} customers")
        return
    tier = Tier.objects.order_by("min_total_spent").first()
    now = timezone.now()
    started = time.perf_counter()
    for start in range(have, customers, BATCH):
        stop = min(start + BATCH, customers)
        with transaction.atomic():
            made = Customer.objects.bulk_create(
                [Customer(phone=phone(i), name=f"Customer {i}", tier=tier, joined_at=now)
                 for i in range(start, stop)]
            )
            # Every customer owns his four accounts (loyalty.services.ledger.customer_accounts_create
            # does the same one customer at a time); balances start at zero, no points move here.
            Account.objects.bulk_create(
                [Account(customer_id=c.pk, kind=kind, balance=Decimal("0.00"))
                 for c in made for kind in CUSTOMER_ACCOUNT_KINDS]
            )
        out(f"  {stop} customers...")
    out(f"bulk insert: {time.perf_counter() - started:.1f} s")

    # History through the services, as the till writes it.
    started = time.perf_counter()
    ids = list(Customer.objects.order_by("?").values_list("pk", flat=True)[:600])
    regular = ids[0]
    for n, customer_id in enumerate(ids):
        customer = Customer.objects.get(pk=customer_id)
        points_adjust(customer=customer, amount=rng.choice([300, 1000, 5000]), reason="opening")
        sales = 300 if customer_id == regular else rng.choice([1, 2, 5, 10, 20])
        for _ in range(sales):
            receipt = purchase_create(customer=customer, branch=branch, cashier=user,
                                      total=Decimal(rng.randrange(300, 5000)))
            if rng.random() < 0.03:
                purchase_refund(operation_id=receipt.operation_id, amount=Decimal(100))
        if n % 100 == 99:
            out(f"  {n + 1} customers with history...")
    out(f"history through the services: {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")


def serve(rounds: int, rng: random.Random, out) -> dict[str, list[float]]:
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse

    from loyalty.models import Customer

    client = Client(HTTP_HOST="localhost", HTTP_HX_REQUEST="true")
    client.force_login(get_user_model().objects.get(username="bench-cashier"))
    total = Customer.objects.count()
    busy = list(Customer.objects.annotate(n=Count("operations")).filter(n__gt=0)
                .order_by("-n").values_list("phone", flat=True)[:200])
    timings: dict[str, list[float]] = {"lookup": [], "last digits": [], "calculate": [],
                                       "confirm": []}
    cpu_times: dict[str, list[float]] = {step: [] for step in timings}

    def timed(step, call):
        started, cpu = time.perf_counter(), time.process_time()
        response = call()
        timings[step].append((time.perf_counter() - started) * 1000)
        # This process's CPU time: the Django side of the step, less sensitive to other load on a
        # shared machine than the wall time (PostgreSQL's own time is not in it).
        cpu_times[step].append((time.process_time() - cpu) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{step}: HTTP {response.status_code}")
        return response

    for n in range(rounds + 20):  # the first 20 warm caches and are not counted
        e164 = busy[n % len(busy)] if n % 2 else phone(rng.randrange(total))
        found = timed("lookup", lambda e=e164: client.get(
            reverse("cashier:search"), {"q": spelled(e, rng), "pick": "1"}))
        # The panel tells the browser its address: /till/customers/<id>/.
        customer_id = int(found["HX-Push-Url"].rstrip("/").rsplit("/", 1)[1])
        timed("last digits", lambda e=e164: client.get(reverse("cashier:search"), {"q": e[-4:]}))
        bill = str(rng.randrange(300, 5000))
        timed("calculate", lambda c=customer_id, b=bill: client.post(
            reverse("cashier:calc", args=[c]), {"total": b, "request_id": "x"}))
        timed("confirm", lambda c=customer_id, b=bill: client.post(
            reverse("cashier:sell", args=[c]), {"total": b, "request_id": uuid.uuid4().hex}))
        if n == 19:
            for values in [*timings.values(), *cpu_times.values()]:
                values.clear()
    return timings, cpu_times


def p(values: list[float], percent: int) -> float:
    """The ``percent``-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * percent / 100) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true", help="flush the database first")
    args = parser.parse_args()

    database_ensure()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    def out(line):
        print(line, flush=True)

    call_command("migrate", verbosity=0)
    if args.rebuild:
        call_command("flush", interactive=False, verbosity=0)
    rng = random.Random(args.seed)
    build(args.customers, rng, out)
    timings, cpu_times = serve(args.rounds, rng, out)
    out(f"\n{connection.vendor}, {args.rounds} rounds, customers: {args.customers}")
    out(f"{'step':<12} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   {'cpu p50':>8} {'cpu p95':>8}")
    for step, values in timings.items():
        cpu = cpu_times[step]
        out(f"{step:<12} {p(values, 50):8.1f} {p(values, 95):8.1f} {max(values):8.1f}   "
            f"{p(cpu, 50):8.1f} {p(cpu, 95):8.1f}")


if __name__ == "__main__":
    main()
