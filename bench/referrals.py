"""Purchase throughput with a 5-level referral chain vs without one (issue #6).

Usage (PostgreSQL must answer; the script creates and drops its own database):

    .venv/bin/python bench/referrals.py [--sales 200] [--rounds 5]

Three kinds of sale, interleaved sale by sale so that load from other processes on the machine
hits them alike:
- ``plain``: the referral extension unregistered (the loyalty app alone), for reference;
- ``no chain``: a customer nobody invited (the extension reads the tree and finds nothing);
- ``5 levels``: the youngest of six generations with levels [3, 1, 1, 1, 1]: every sale credits
  five ancestors (five more customers' accounts locked and updated, five more entries).
Each sale is its own transaction (``purchase_create``), one connection, one thread. Prints sales
per second (median of rounds), queries per sale and the ratio the issue asks for (target >= 0.8).
"""

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
parser.add_argument("--sales", type=int, default=200, help="sales per kind per round")
parser.add_argument("--rounds", type=int, default=5)
parser.add_argument("--server", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
parser.add_argument("--db", default="loyalty_bench_referrals")
args = parser.parse_args()

import psycopg  # noqa: E402

with psycopg.connect(f"{args.server}/postgres", autocommit=True) as admin:
    admin.execute(f'DROP DATABASE IF EXISTS "{args.db}"')
    admin.execute(f'CREATE DATABASE "{args.db}"')

os.environ["DATABASE_URL"] = f"{args.server}/{args.db}"
os.environ["DEBUG"] = "false"  # no query log: it would cost memory and time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from loyalty import extensions  # noqa: E402
from loyalty.models import Branch, Tier  # noqa: E402
from loyalty.services import customer_register, purchase_create  # noqa: E402
from referrals.extension import referral_rewards  # noqa: E402
from referrals.selectors import reward_entries  # noqa: E402
from referrals.services import referral_link, referral_program_set  # noqa: E402


def phone(n: int) -> str:
    return f"+7917000{n:04d}"


def setup():
    call_command("migrate", verbosity=0)
    Tier.objects.get_or_create(name="Bench", defaults={"cashback_percent": Decimal(5),
                                                       "max_redeem_percent": Decimal(50)})
    branch, _ = Branch.objects.get_or_create(name="Bench")
    referral_program_set(first_purchase_bonus=Decimal(50),
                         levels_percent=[Decimal(3), *[Decimal(1)] * 4])
    people = [customer_register(phone=phone(i)) for i in range(6)]
    for friend, inviter in zip(people[1:], people, strict=False):
        referral_link(customer=friend, inviter=inviter.phone)
    loner = customer_register(phone=phone(10))
    plain = customer_register(phone=phone(11))
    return branch, {"plain": plain, "no chain": loner, "5 levels": people[-1]}


def one_sale(kind, customer, branch, i) -> float:
    """Seconds one sale takes (the extension unregistered for ``plain``)."""
    if kind == "plain":
        extensions._extensions.remove(referral_rewards)
    try:
        started = time.perf_counter()
        purchase_create(customer=customer, branch=branch, total=Decimal("1000.00") + i % 97)
        return time.perf_counter() - started
    finally:
        if referral_rewards not in extensions._extensions:
            extensions._extensions.append(referral_rewards)


def queries_per_sale(kind, customer, branch):
    registered = referral_rewards in extensions._extensions
    if kind == "plain":
        extensions._extensions.remove(referral_rewards)
    try:
        with CaptureQueriesContext(connection) as captured:
            purchase_create(customer=customer, branch=branch, total="100.00")
        return len(captured.captured_queries)
    finally:
        if registered and referral_rewards not in extensions._extensions:
            extensions._extensions.append(referral_rewards)


def main():
    branch, customers = setup()
    for i in range(5):  # warm up: first sales, system accounts, caches
        for kind, customer in customers.items():
            one_sale(kind, customer, branch, i)
    rates = {kind: [] for kind in customers}
    for _round in range(args.rounds):
        # Sale by sale in turn, so that load from other processes hits every kind alike.
        spent = dict.fromkeys(customers, 0.0)
        for i in range(args.sales):
            for kind, customer in customers.items():
                spent[kind] += one_sale(kind, customer, branch, i)
        for kind in customers:
            rates[kind].append(args.sales / spent[kind])
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; "
          f"{args.rounds} rounds x {args.sales} sales per kind")
    median = {kind: statistics.median(r) for kind, r in rates.items()}
    for kind, customer in customers.items():
        print(f"  {kind:9} {median[kind]:7.1f} sales/s (rounds: "
              f"{', '.join(f'{r:.0f}' for r in rates[kind])}); "
              f"{queries_per_sale(kind, customer, branch)} queries per sale")
    rewarded = (reward_entries().filter(operation__customer=customers["5 levels"])
                .values("level").distinct())
    print(f"  levels rewarded per chain sale: {rewarded.count()}")
    ratio = median["5 levels"] / median["no chain"]
    print(f"5-level chain / no chain: {ratio:.2f} (target >= 0.80); "
          f"/ plain: {median['5 levels'] / median['plain']:.2f}")
    return 0 if ratio >= 0.8 else 1


if __name__ == "__main__":
    try:
        code = main()
    finally:
        connection.close()
        with psycopg.connect(f"{args.server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.db}"')
    sys.exit(code)
