"""Benchmark: import a generated 100,000-row customer base into PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench python bench/import.py [--rows N]

Creates (drops first) the database named in DATABASE_URL, migrates it, writes a CSV the way real
exports look (phones in several spellings, ~1% invalid, ~1% duplicated, names in one column,
birthdays in three formats, opening balances on a third of the rows, Windows-1251, ``;``), then
times the whole import (read, check, normalise phones, write customers, accounts, tags and opening
balances) and reports the process's peak resident memory. Finally it verifies the ledger.
"""

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST = ["Анна", "Мария", "Елена", "Ольга", "Ирина", "Дмитрий", "Алексей", "Сергей", "Иван"]
LAST = ["Иванова", "Смирнова", "Кузнецова", "Попова", "Соколов", "Лебедев", "Козлов", "Новиков"]


def phone_spelling(rng: random.Random, digits: str) -> str:
    a, b, c, d = digits[:3], digits[3:6], digits[6:8], digits[8:]
    return rng.choice([
        f"+7{digits}", f"8{digits}", f"8 ({a}) {b}-{c}-{d}", f"+7 {a} {b} {c} {d}",
        f"7{digits}", f"8-{a}-{b}-{c}-{d}", digits,
    ])


def csv_generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    lines = ["Телефон;ФИО;Дата рождения;Пол;Email;Баллы;Теги;Источник"]
    used: list[str] = []
    for i in range(rows):
        if used and rng.random() < 0.01:
            digits = rng.choice(used)  # a duplicate inside the file
        else:
            digits = f"9{rng.randrange(10**9):09d}"
            used.append(digits)
        phone = "12-34" if rng.random() < 0.01 else phone_spelling(rng, digits)
        if rng.random() < 0.02:  # landlines and foreign numbers go the slow, exact way
            phone = rng.choice(["+7 495 123-45-67", "+44 20 7946 0958", "8 (812) 555-01-23"])
            phone = phone[:-2] + f"{i % 100:02d}"
        y, m, d = rng.randrange(1950, 2006), rng.randrange(1, 13), rng.randrange(1, 29)
        birthday = rng.choice([f"{d:02d}.{m:02d}.{y}", f"{y}-{m:02d}-{d:02d}", f"{d}/{m}/{y % 100:02d}",
                               "", "31.02.1990"])
        balance = str(rng.randrange(0, 5000)) if rng.random() < 0.33 else ""
        tags = rng.choice(["", "", "vip", "кофе, десерты"])
        lines.append(";".join([
            phone, f"{rng.choice(LAST)} {rng.choice(FIRST)}", birthday, rng.choice(["м", "ж", ""]),
            f"client{i}@example.com" if rng.random() < 0.3 else "", balance, tags,
            rng.choice(["", "Instagram", "сайт"]),
        ]))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))


def backend_cpu() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (same machine only)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_recreate(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="Also report Python's own peak allocation (slows the run ~2x).")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("set DATABASE_URL=postgres://…/loyalty_bench (the database is dropped and re-created)")
    database_recreate(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    import logging

    from django.core.management import call_command

    logging.getLogger("loyalty.services.imports").setLevel(logging.DEBUG)
    call_command("migrate", verbosity=0)
    call_command("loadprogram", str(ROOT / "presets" / "sakura.yaml"), verbosity=0)
    from loyalty.ledger_check import ledger_verify
    from loyalty.services.imports import import_batch_create, import_batch_run

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "base.csv"
        csv_generate(path, args.rows)
        size_mb = path.stat().st_size / 2**20
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if args.tracemalloc:
            tracemalloc.start()
        backend_before = backend_cpu()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        batch = import_batch_create(data=path.read_bytes(), file_name=path.name)
        batch = import_batch_run(batch_id=batch.pk)
        elapsed = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        backend = backend_cpu() - backend_before
        if args.tracemalloc:
            traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            print(f"tracemalloc peak during the import: {traced_peak:.0f} MB")
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows {args.rows} ({size_mb:.1f} MB CSV, cp1251, ';'): imported {batch.imported}, "
          f"updated {batch.updated}, skipped {batch.skipped}, rejected {batch.rejected}; "
          f"opening balances {batch.opening_total}")
    print(f"wall time {elapsed:.2f} s; peak RSS {rss_peak:.0f} MB "
          f"(before the import {rss_before:.0f} MB)")
    print(f"CPU used: this process {cpu:.2f} s + its PostgreSQL backend {backend:.2f} s = "
          f"{cpu + backend:.2f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          f"(other work on the machine stretches the wall time)")
    from loyalty.services.imports import import_batch_rollback

    started = time.perf_counter()
    import_batch_rollback(batch_id=batch.pk)
    print(f"rollback of the batch's {batch.opening_total} opening points: "
          f"{time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    report = ledger_verify()
    print(f"ledger_verify: {'ok' if report.ok else 'NOT OK'} ({report.accounts} accounts, "
          f"{report.entries} entries) in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
