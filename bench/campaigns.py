"""Benchmark of the nightly jobs on PostgreSQL: time and peak memory of each, on N customers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench \
        python bench/campaigns.py --customers 1000000

Drops and creates the database named in DATABASE_URL (it need not exist), then creates a base of
N customers with COPY-free set-based SQL (INSERT ... SELECT generate_series): their four accounts
each, spendable balances for 30% and pending cashback for 5% through
``loyalty.services.postings.points_grant_bulk`` (so every balance equals the sum of its entries),
birthdays over the year, last purchases over two years. Then runs each job
of ``runcampaigns`` for one date, twice (the second run must touch nobody), and prints per job the
customers touched, seconds and peak memory: the Python heap peak (tracemalloc) and the process's
resident peak. Ends with a ledger check. Target: every job under 10 s and 200 MB.

Generating a million customers takes minutes, so the fresh base is kept as a template database
``<name>_base``; ``--reuse`` recreates ``<name>`` from it (a file copy) instead of generating, so
each run starts from the same base with the first night's whole backlog still to do.
"""

import argparse
import os
import resource
import sys
import time
import tracemalloc
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("NOTIFY_CONSOLE", "false")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

AS_OF = date(2026, 6, 15)
MSK = ZoneInfo("Europe/Moscow")


def sql(statement: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def generate(n: int) -> None:
    from campaigns.models import CampaignSettings
    from loyalty.models import BusinessSettings, EntryKind, OperationKind, Tier
    from loyalty.services.ledger import system_account_cache_clear
    from loyalty.services.postings import points_grant_bulk

    sql("TRUNCATE loyalty_entry, loyalty_operation, loyalty_account, loyalty_customer_tags, "
        "campaigns_notification, campaigns_reviewmark, campaigns_certificate, campaigns_jobrun, "
        "loyalty_customer RESTART IDENTITY CASCADE")
    call_command("loadprogram", str(Path(__file__).resolve().parent.parent / "presets/sakura.yaml"))
    settings = BusinessSettings.load()
    settings.accrual_delay_days = 3
    settings.expiry_months_after_last_purchase = 12
    settings.save()
    CampaignSettings.load()
    base_tier = Tier.objects.order_by("min_total_spent").first()
    now = datetime.now(MSK)
    t0 = time.perf_counter()
    # Customers: last purchase spread over the two years before AS_OF, a birthday every day of the
    # year, half agreed to messages (and have an e-mail), total spent up to 80 000.
    sql("""
        INSERT INTO loyalty_customer (phone, uid, name, email, birthday, gender, source, joined_at,
            created_at, tier_id, tier_pinned, total_spent, purchase_count, last_purchase_at,
            is_blocked, consent_messages, former_phone)
        SELECT '+79' || lpad(i::text, 9, '0'), gen_random_uuid(), 'Customer ' || i,
               CASE WHEN i %% 2 = 0 THEN 'c' || i || '@example.com' ELSE '' END,
               date '1960-01-01' + (i * 7919 %% 18250)::int, '', '',
               %s - interval '800 days',
               %s - interval '800 days', %s, false, (i * 31 %% 80000), 1 + i %% 9,
               %s - ((i * 104729) %% (730 * 24 * 60)) * interval '1 minute',
               false, i %% 2 = 0, ''
        FROM generate_series(1::bigint, %s) AS i""", [now, now, base_tier.pk, datetime.combine(
        AS_OF, datetime.min.time(), MSK), n])
    sql("""
        INSERT INTO loyalty_account (kind, customer_id, balance)
        SELECT k.kind, c.id, 0 FROM loyalty_customer c
        CROSS JOIN (VALUES ('available'), ('pending'), ('held'), ('debt')) AS k(kind)
        ORDER BY c.id""")
    # The business's accounts, as migration loyalty 0005 makes them (TRUNCATE took them away):
    # a job must not be the one creating them, the first run would time that too.
    sql("""
        INSERT INTO loyalty_account (kind, customer_id, balance)
        VALUES ('issued', NULL, NULL), ('spent', NULL, NULL), ('expired', NULL, NULL)""")
    system_account_cache_clear()
    print(f"customers and accounts: {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    points_grant_bulk(
        rows_sql="SELECT id AS customer_id, (50 + id %% 2000)::numeric(14,2) AS amount, "
                 "NULL::timestamptz AS release_at FROM loyalty_customer WHERE id %% 10 < 3",
        params=[], operation_kind=OperationKind.OPENING, entry_kind=EntryKind.OPENING, tag="bench")
    points_grant_bulk(
        rows_sql="SELECT id AS customer_id, (10 + id %% 300)::numeric(14,2) AS amount, "
                 "%s - (id %% 6) * interval '1 day' AS release_at FROM loyalty_customer "
                 "WHERE id %% 20 = 7",
        params=[datetime.combine(AS_OF, datetime.min.time(), MSK) + timedelta(days=2)],
        operation_kind=OperationKind.OPENING, entry_kind=EntryKind.CASHBACK, tag="bench-pending")
    print(f"balances through the bulk path: {time.perf_counter() - t0:.1f} s", flush=True)
    # Tiers as the till keeps them, then 1% of customers spent enough since to move up tonight.
    from loyalty.program import tiers_reassign

    tiers_reassign()
    sql("UPDATE loyalty_customer SET total_spent = total_spent + 20000 WHERE id %% 100 = 3", [])
    t0 = time.perf_counter()
    sql("VACUUM ANALYZE")
    print(f"vacuum analyze: {time.perf_counter() - t0:.1f} s", flush=True)


def _admin_sql(statement: str) -> None:
    """Run ``statement`` outside any transaction on the server's ``postgres`` database."""
    import psycopg

    params = {k: v for k, v in connection.get_connection_params().items()
              if k in ("host", "port", "user", "password")}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(statement)


def _snapshot_name() -> str:
    return f"{connection.settings_dict['NAME']}_base"


def snapshot_save() -> None:
    """Keep the generated base as a template database for ``--reuse``."""
    name, snapshot = connection.settings_dict["NAME"], _snapshot_name()
    connection.close()
    _admin_sql(f'DROP DATABASE IF EXISTS "{snapshot}"')
    _admin_sql(f'CREATE DATABASE "{snapshot}" TEMPLATE "{name}" STRATEGY FILE_COPY')


def database_fresh() -> None:
    """Drop and create the benchmark database (it need not exist yet)."""
    name = connection.settings_dict["NAME"]
    connection.close()
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_sql(f'CREATE DATABASE "{name}"')


def snapshot_restore() -> bool:
    """Recreate the benchmark database from its template; False when there is none yet."""
    name, snapshot = connection.settings_dict["NAME"], _snapshot_name()
    connection.close()
    try:
        # FILE_COPY: the default (WAL_LOG) writes the whole base to the WAL, and the checkpoints
        # that follows would land in the middle of the jobs measured next.
        _admin_sql(f'CREATE DATABASE "{name}_new" TEMPLATE "{snapshot}" STRATEGY FILE_COPY')
    except Exception as error:  # noqa: BLE001 - no snapshot (or unusable): generate instead
        print(f"no reusable base ({str(error).strip()}): generating one", flush=True)
        return False
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_sql(f'ALTER DATABASE "{name}_new" RENAME TO "{name}"')
    return True


def measure(job: str, as_of: date) -> tuple[int, float, float, float]:
    from campaigns.services.jobs import job_run

    connection.close()  # each job on a fresh connection, as a worker's task would
    tracemalloc.start()
    t0 = time.perf_counter()
    touched = job_run(job=job, as_of=as_of)
    seconds = time.perf_counter() - t0
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return touched, seconds, peak / 2**20, rss


def _slow_statements(execute, statement, params, many, context):
    t0 = time.perf_counter()
    try:
        return execute(statement, params, many, context)
    finally:
        seconds = time.perf_counter() - t0
        if seconds > 0.1:
            print(f"    {seconds:6.2f} s  {' '.join(statement.split())[:150]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true",
                        help="start from the base a previous run generated (<db>_base)")
    parser.add_argument("--profile", action="store_true",
                        help="print every job statement that takes over 0.1 s")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("set DATABASE_URL to a PostgreSQL database")
    t0 = time.perf_counter()
    reused = args.reuse and snapshot_restore()
    if not reused:
        database_fresh()
    call_command("migrate", verbosity=0)
    from campaigns.models import CampaignSettings, JobRun

    if reused:
        print(f"base restored from {_snapshot_name()}: {time.perf_counter() - t0:.1f} s",
              flush=True)
    else:
        generate(args.customers)
        snapshot_save()
    JobRun.objects.all().delete()
    CampaignSettings.objects.filter(pk=1).update(
        birthday_points=300, birthday_days_before=3, winback_points=150, winback_after_days=60)
    from campaigns import tasks
    from campaigns.services.jobs import JOBS
    from campaigns.services.notifications import notifications_send

    with connection.cursor() as cursor:  # start from a clean checkpoint, whichever way we came
        cursor.execute("CHECKPOINT")
    # Messages go out from their own task in production: keep their sending out of the jobs' time.
    tasks.notifications_send.delay = lambda *args, **kwargs: None
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # measure, not print

    if args.profile:
        connection.execute_wrappers.append(_slow_statements)
    print("first: the backlog of the day before (every expiry and release ever due, as on the "
          "first night after switching a campaign on); night: the next day; rerun: that day again")
    print(f"{'job':10} {'run':>8} {'touched':>9} {'seconds':>8} {'heap MB':>8} {'RSS MB':>7}")
    for job in JOBS:
        for label, day in (("first", AS_OF - timedelta(days=1)), ("night", AS_OF),
                           ("rerun", AS_OF)):
            touched, seconds, heap, rss = measure(job, day)
            print(f"{job:10} {label:>8} {touched:>9} {seconds:>8.2f} {heap:>8.1f} {rss:>7.0f}",
                  flush=True)
    t0 = time.perf_counter()
    sent = notifications_send(limit=500)
    print(f"sending one batch of queued messages: {sent} in {time.perf_counter() - t0:.2f} s "
          "(console/e-mail backend)")
    # ledger_verify's per-account subqueries take minutes at this size: the same check as one
    # hash aggregate over the entries.
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("""
            WITH moves AS (SELECT destination_id AS account_id, amount FROM loyalty_entry
                           UNION ALL SELECT source_id, -amount FROM loyalty_entry),
                 sums AS (SELECT account_id, SUM(amount) AS total FROM moves GROUP BY account_id)
            SELECT (SELECT COUNT(*) FROM loyalty_account a LEFT JOIN sums s ON s.account_id = a.id
                    WHERE a.customer_id IS NOT NULL AND a.balance <> COALESCE(s.total, 0)),
                   (SELECT COALESCE(SUM(total), 0) FROM sums),
                   (SELECT COUNT(*) FROM loyalty_entry)""")
        mismatches, total, entries = cursor.fetchone()
    print(f"ledger check: {mismatches} balances differ from their entries, ledger sums to {total}, "
          f"{entries} entries ({time.perf_counter() - t0:.1f} s)")

if __name__ == "__main__":
    main()
