"""Purchases per second through ``loyalty.services.purchase_create`` vs the same SQL by hand.

Usage (PostgreSQL must answer; the script creates and drops its own database):

    .venv/bin/python bench/purchase.py [--customers 5000] [--purchases 3000] [--threads 1 8]

For each thread count it runs N purchases through the service (no HTTP), then N purchases as the
same statements written in raw SQL over psycopg (read the referral ancestors; lock the customer's
accounts; read the customer, look up the request id and take the operation's id from its
sequence; insert the operation and its entries and update the balance and the customer in one
statement; settings and tiers come from memory in both), and prints
purchases/s for both, their ratio and the queries per purchase.
"""

import argparse
import os
import random
import statistics
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
parser.add_argument("--customers", type=int, default=5000)
parser.add_argument("--purchases", type=int, default=3000, help="per run")
parser.add_argument("--threads", type=int, nargs="+", default=[1, 8])
parser.add_argument("--server", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
parser.add_argument("--db", default="loyalty_bench_purchase")
args = parser.parse_args()

import psycopg  # noqa: E402

with psycopg.connect(f"{args.server}/postgres", autocommit=True) as admin:
    admin.execute(f'DROP DATABASE IF EXISTS "{args.db}"')
    admin.execute(f'CREATE DATABASE "{args.db}"')

DSN = f"{args.server}/{args.db}"
os.environ["DATABASE_URL"] = DSN
os.environ["DEBUG"] = "false"  # no query log: it would cost memory and time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from loyalty.models import Account, Branch, Customer, Tier  # noqa: E402
from loyalty.program import program_load  # noqa: E402
from loyalty.services import points_adjust, purchase_create  # noqa: E402
from loyalty.services.ledger import customer_accounts_create, system_account  # noqa: E402


def generate() -> list[int]:
    """The Sakura program and ``--customers`` customers with their accounts and some points."""
    call_command("migrate", verbosity=0)
    program_load((ROOT / "presets" / "sakura.yaml").read_text(encoding="utf-8"))
    tier = Tier.objects.order_by("min_total_spent").first()
    Customer.objects.bulk_create(
        [Customer(phone=f"+7916{i:07d}", name=f"Bench {i}", tier=tier) for i in range(args.customers)],
        batch_size=5000,
    )
    ids = list(Customer.objects.values_list("pk", flat=True))
    for pk in ids:
        customer_accounts_create(customer_id=pk)
    for pk in ids[:: max(1, len(ids) // 500)]:  # some customers start with points to redeem
        points_adjust(customer=Customer(pk=pk), amount=2000, reason="bench start")
    for kind in ("issued", "spent"):
        system_account(kind)
    return ids


def run(threads: int, work) -> tuple[float, list[float]]:
    per_thread = args.purchases // threads
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        local = []
        state = work.setup()
        barrier.wait()
        for _ in range(per_thread):
            t0 = time.perf_counter()
            work.purchase(state, rng)
            local.append(time.perf_counter() - t0)
        work.teardown(state)
        with lock:
            latencies.extend(local)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    return per_thread * threads / elapsed, latencies


class ServiceWork:
    def __init__(self, ids, branch):
        self.ids, self.branch = ids, branch

    def setup(self):
        return None

    def purchase(self, state, rng):
        customer = Customer(pk=rng.choice(self.ids))
        purchase_create(customer=customer, branch=self.branch, total=Decimal(rng.randrange(300, 5000)),
                        points=None, request_id=uuid.uuid4().hex)

    def teardown(self, state):
        connections.close_all()


class RawSqlWork:
    """The statements the service runs, by hand over psycopg: the ceiling for this schema.

    Like the service, it reads settings and tiers from memory (see loyalty.program_cache)."""

    def __init__(self, ids, branch):
        self.ids, self.branch_id = ids, branch.pk
        self.issued = system_account("issued").pk
        self.rates = dict(Tier.objects.values_list("pk", "cashback_percent"))

    def setup(self):
        return psycopg.connect(DSN)

    def purchase(self, conn, rng):
        customer_id = rng.choice(self.ids)
        total = Decimal(rng.randrange(300, 5000))
        with conn.transaction(), conn.cursor() as cur:
            # The program has referral levels: the sale first reads the buyer's rewarded ancestors.
            cur.execute(
                "SELECT a.ancestor_id, a.depth, l.percent FROM referrals_referralancestor a "
                "JOIN referrals_referrallevel l ON l.level = a.depth "
                "WHERE a.descendant_id = %s AND l.percent > 0 ORDER BY a.depth",
                (customer_id,),
            )
            cur.fetchall()
            # The accounts locked, then (a statement of its own, so that it sees what a sale the
            # lock waited for wrote) the customer and the request id, as the service.
            request_id = uuid.uuid4().hex
            cur.execute(
                "SELECT a.id, a.kind, a.balance FROM loyalty_account a "
                "WHERE a.customer_id = %s ORDER BY a.id FOR NO KEY UPDATE OF a", (customer_id,))
            rows = cur.fetchall()
            available = next(r for r in rows if r[1] == "available")
            cur.execute(
                "SELECT c.total_spent, c.purchase_count, c.tier_id, "
                "(SELECT o.id FROM loyalty_operation o WHERE o.request_id = %s LIMIT 1), "
                "nextval(pg_get_serial_sequence('loyalty_operation', 'id')) "
                "FROM loyalty_customer c WHERE c.id = %s", (request_id, customer_id))
            spent, count, tier_id, _replayed, operation_id = cur.fetchone()
            rate = self.rates[tier_id]
            cashback = (total * rate / 100).quantize(Decimal("0.01"))
            # The operation (its id taken above), the entry, the balance and the customer's totals
            # in one statement, as the service.
            cur.execute(
                "WITH o AS (INSERT INTO loyalty_operation (id, kind, state, created_at, customer_id, "
                "branch_id, cashier_external_id, cashier_name, total, excluded_total, "
                "unredeemable_total, points, cash, cashback, cashback_percent, refunded_total, "
                "receipt_number, request_id, comment, balance_after) VALUES (%s, 'purchase', "
                "'NORMAL', now(), %s, %s, '', '', %s, 0, 0, 0, %s, %s, %s, 0, '', %s, '', %s)), "
                "b AS (UPDATE loyalty_account SET balance = %s WHERE id = %s), "
                "c AS (UPDATE loyalty_customer SET total_spent = %s, purchase_count = %s, "
                "last_purchase_at = now() WHERE id = %s) "
                "INSERT INTO loyalty_entry (operation_id, kind, source_id, destination_id, amount, "
                "created_at) VALUES (%s, 'cashback', %s, %s, %s, now())",
                (operation_id, customer_id, self.branch_id, total, total, cashback, rate,
                 request_id, available[2] + cashback,
                 available[2] + cashback, available[0], spent + total, count + 1,
                 customer_id, operation_id, self.issued, available[0], cashback),
            )

    def teardown(self, conn):
        conn.close()


def queries_per_purchase(ids, branch) -> int:
    customer = Customer(pk=ids[0])
    purchase_create(customer=customer, branch=branch, total=100)
    with CaptureQueriesContext(connection) as ctx:
        purchase_create(customer=customer, branch=branch, total=100, request_id=uuid.uuid4().hex)
    return len(ctx.captured_queries)


def main() -> None:
    t0 = time.perf_counter()
    ids = generate()
    branch = Branch.objects.first()
    print(f"generated {len(ids)} customers in {time.perf_counter() - t0:.1f}s on {args.db}")
    print(f"queries per purchase through the service: {queries_per_purchase(ids, branch)} "
          "(incl. BEGIN/COMMIT)")
    print(f"{'threads':>7} {'service/s':>10} {'raw SQL/s':>10} {'ratio':>6} "
          f"{'svc p50 ms':>10} {'svc p95 ms':>10}")
    for threads in args.threads:
        service_rate, lat = run(threads, ServiceWork(ids, branch))
        raw_rate, _ = run(threads, RawSqlWork(ids, branch))
        lat.sort()
        p95 = lat[int(len(lat) * 0.95)]
        print(f"{threads:>7} {service_rate:>10.0f} {raw_rate:>10.0f} {service_rate / raw_rate:>6.2f} "
              f"{statistics.median(lat) * 1000:>10.2f} {p95 * 1000:>10.2f}")
    # The run's own ledger must still be consistent.
    from loyalty.ledger_check import ledger_verify

    report = ledger_verify()
    print(f"ledger after the run: {'OK' if report.ok else 'NOT consistent'} "
          f"({report.entries} entries, {Account.objects.count()} accounts)")
    connections.close_all()


if __name__ == "__main__":
    main()
