"""Purchases per second through the Partner API under gunicorn on PostgreSQL, and raw SQL for scale.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench_partner \
        .venv/bin/python bench/partner_api.py [--clients 8 32] [--requests 1600]

1. Makes a fresh database (the name in DATABASE_URL, dropped and created again), migrates it and
   sets up the full program: five tiers and the referral program (Sakura's: 50 points once, then
   5/1/1 % up three circles, customers in an invitation tree), an API key, a webhook endpoint for
   new operations (deliveries are queued: the outbox row is written and Celery tasks published,
   in batches, to an in-process broker), and ``--customers`` customers, each with one purchase
   made (so that neither timed phase meets a first purchase).
2. Starts gunicorn on 127.0.0.1 with production's config file (``--workers`` processes, one per
   core by default, × ``--threads`` threads; ``--worker-class gthread`` for gunicorn's own worker,
   ``sync`` for one request at a time per process) and production settings, and for each
   ``--clients`` count runs that many client threads, each with its own keep-alive connection
   (opened before the clock starts, as a till keeps its own), sending
   ``POST /partner/v2/operations`` (a sale by phone with a nonce) until ``--requests`` sales are
   done. Reports sales/s, p50 and p99 latency, and the lowest and highest of the clients' own
   mean latencies (equal when each is served as fast as the others).
3. Runs the same sale as raw SQL through psycopg at the same concurrency: per sale one transaction
   that finds the customer, reads his referral chain (the closure table, the paid levels), locks
   his accounts and his ancestors' spendable and debt ones, then reads his row and tier and checks
   the request id,
   inserts the operation, the ledger entries (his cashback, each ancestor's reward, the inviter's
   bonus on a first purchase) and the webhook outbox row, and updates the balances and his totals
   and tier. ``--no-referrals`` leaves the referral program out of both.
4. Runs the raw-SQL sale without referrals at ``--yardstick`` clients (16), the issue's own
   yardstick for the machine, and prints what the figures mean on this machine: the floor a
   closed loop of clients puts under the mean latency, and the API's p99 scaled to the speed of
   the issue's machine (see ``against_the_issues_machine``).

Loopback only; every loop is bounded by ``--requests``. The load generator shares the CPU with the
server (and, on a shared machine, with everything else): read the figures as relative.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAKURA_TIERS = [("Новичок", 3, 0), ("Любитель", 5, 10000), ("Эксперт по вкусной еде", 7, 30000),
                ("Мастер японской кухни", 10, 60000), ("Любимый клиент", 12, 100000)]


def server_env(database_url: str) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
        "SECURE_SSL_REDIRECT": "False",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        # Tasks are published to an in-process broker: webhooks are queued, not posted.
        "CELERY_BROKER_URL": "memory://",
    })
    return env


def database_recreate(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup(database_url: str, customers: int, referrals: bool) -> tuple[str, list[str]]:
    """Migrate and seed; returns the key's credentials and the customers' phones."""
    os.environ.update(server_env(database_url))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from loyalty.models import Branch, BusinessSettings, Tier
    from loyalty.services import customer_get_or_create_by_phone
    from partner.models import WebhookEndpoint, WebhookEvent
    from partner.services import api_key_create

    settings = BusinessSettings.load()
    settings.name, settings.welcome_bonus = "Sakura", Decimal(100)
    settings.save()
    for position, (name, percent, threshold) in enumerate(SAKURA_TIERS):
        Tier.objects.create(name=name, position=position, cashback_percent=percent,
                            max_redeem_percent=50, min_total_spent=threshold)
    branch = Branch.objects.create(name="Bench")
    WebhookEndpoint.objects.create(event=WebhookEvent.OPERATION,
                                   url="http://127.0.0.1:9/webhook-receiver")
    phones = [f"+7916{1000000 + i:07d}" for i in range(customers)]
    made = [customer_get_or_create_by_phone(phone=phone)[0] for phone in phones]
    if referrals:
        # Sakura's referral program: 50 points once, then 5 % / 1 % / 1 % up three circles; each
        # customer invited by the one a third of his number (a tree about five generations deep).
        from referrals.services import referral_inviter_set, referral_program_set

        referral_program_set(first_purchase_bonus=Decimal(50),
                             levels_percent=[Decimal(5), Decimal(1), Decimal(1)])
        for index, customer in enumerate(made[1:], start=1):
            referral_inviter_set(customer=customer, inviter=made[index // 3])
    # One purchase each before anything is timed: otherwise the first timed phase (the API's)
    # would meet every customer's first purchase (the bonus, the chain read again, the inviter's
    # tier) and the raw-SQL phase after it none.
    from loyalty.services import purchase_create

    for customer in made:
        purchase_create(customer=customer, branch=branch, total=Decimal(100))
    credentials = api_key_create(name="bench", branch=branch).credentials
    from django.db import connections

    connections.close_all()
    return credentials, phones


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_load(clients: int, total: int, one_request) -> dict:
    """``clients`` threads take ``total`` requests from one counter until none is left (every
    client stays busy to the end); returns the rate, latency percentiles (ms) and the spread of
    the clients' own mean latencies (a client served by a crowded process waits longer).

    Each client first opens its connection (``one_request.connect(state)``, when the factory
    gives one), before the clock starts: a till keeps its connection, and 32 connections set up in
    the same millisecond made the first 32 sales wait up to twice the steady state's longest, a
    third of the slowest 1 % of a 2,400-sale run."""
    counter = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def worker(index: int) -> None:
        state = {}
        getattr(one_request, "connect", lambda _state: None)(state)
        barrier.wait()
        while (n := next(counter)) < total:  # (itertools.count is atomic under the GIL)
            started = time.perf_counter()
            ok = one_request(state, index, n)
            latencies[index].append((time.perf_counter() - started) * 1000)
            failures[index] += 0 if ok else 1
        state.get("close", lambda: None)()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started, cpu_started = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = [x for row in latencies for x in row]
    means = [statistics.fmean(row) for row in latencies if row]
    return {"clients": clients, "requests": len(flat), "failures": sum(failures),
            "client_cpu_ms": (time.process_time() - cpu_started) * 1000 / max(len(flat), 1),
            "seconds": elapsed, "per_second": len(flat) / elapsed,
            "p50": statistics.median(flat), "p99": percentile(flat, 0.99),
            "client_means": (min(means), max(means))}


class HttpClient:
    """A minimal HTTP/1.1 keep-alive client on one socket, for the load generator.

    The generator shares the CPU with the server it measures; ``http.client`` parses every
    response header in Python (about as much CPU per request as a light endpoint costs the server),
    so the figures said more about the client than about the API. This sends prepared bytes and
    reads the answer by its Content-Length (Django's CommonMiddleware always sets it)."""

    _LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
    _CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""
        self.closed = False

    def _more(self, data: bytes) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return data + chunk

    def request(self, data: bytes) -> tuple[int, bytes]:
        """Send one whole request; returns the status and the body of its answer."""
        self.sock.sendall(data)
        buffer = self.pending
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer = self._more(buffer)
        head, start = buffer[:end], end + 4
        length = self._LENGTH.search(head)
        if length is None:
            raise ConnectionError("an answer without Content-Length")
        stop = start + int(length.group(1))
        while len(buffer) < stop:
            buffer = self._more(buffer)
        self.pending = buffer[stop:]
        if self._CLOSE.search(head):
            self.close()
        return int(head[9:12]), buffer[start:stop]

    def close(self) -> None:
        self.closed = True
        self.sock.close()


def _client(state: dict, port: int) -> HttpClient:
    client = state.get("client")
    if client is None or client.closed:  # (a sync worker closes after each answer)
        client = state["client"] = HttpClient(port)
        state["close"] = client.close
    return client


def _send(state: dict, port: int, data: bytes) -> bool:
    try:
        status, _body = _client(state, port).request(data)
    except OSError:
        state.pop("client", None)
        return False
    return status == 200


def api_request_factory(port: int, credentials: str, phones: list[str]):
    head = ("POST /partner/v2/operations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Basic {base64.b64encode(credentials.encode()).decode()}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n")

    def one(state: dict, index: int, n: int) -> bool:
        total = 100 + (index * 7919 + n * 104729) % 4900
        body = json.dumps({
            "nonce": str(uuid.uuid4()),
            "participant": {"phone": phones[(index * 1009 + n * 31) % len(phones)]},
            "cashier": {"externalId": f"till-{index}", "name": "Bench"},
            "receipt": {"total": total, "cash": total, "points": 0, "number": f"{index}-{n}"},
        }).encode()
        request = (f"{head}X-Origin-Request-Id: {uuid.uuid4()}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        return _send(state, port, request)

    one.connect = lambda state: _client(state, port)
    return one


def tags_request_factory(port: int, credentials: str):
    """A baseline: the lightest authenticated endpoint (GET /tags: the key and one query)."""
    request = ("GET /partner/v2/tags HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Authorization: Basic {base64.b64encode(credentials.encode()).decode()}\r\n"
               "\r\n").encode()

    def one(state: dict, index: int, n: int) -> bool:
        return _send(state, port, request)

    one.connect = lambda state: _client(state, port)
    return one


def raw_request_factory(database_url: str, phones: list[str], *, referrals: bool = True):
    """The same sale as plain SQL statements in one transaction per sale: the API's work (tiers,
    the referral rewards up the chain, the webhook outbox row) as plainly as SQL can do it."""
    import psycopg

    def connect(state: dict) -> None:
        if state.get("conn") is None:
            conn = state["conn"] = psycopg.connect(database_url, autocommit=True)
            state["close"] = conn.close
            state["issued"] = conn.execute(
                "SELECT id FROM loyalty_account WHERE customer_id IS NULL AND kind = 'issued'"
            ).fetchone()[0]
            state["endpoint"] = conn.execute(
                "SELECT id FROM partner_webhookendpoint WHERE event = 'operation'").fetchone()[0]
            state["branch"] = conn.execute("SELECT id FROM loyalty_branch LIMIT 1").fetchone()[0]
            state["tiers"] = conn.execute(
                "SELECT id, min_total_spent FROM loyalty_tier ORDER BY min_total_spent DESC"
            ).fetchall()
            state["bonus"] = conn.execute(
                "SELECT COALESCE(MAX(first_purchase_bonus), 0) FROM referrals_referralprogram"
            ).fetchone()[0]

    def one(state: dict, index: int, n: int) -> bool:
        connect(state)
        conn = state["conn"]
        total = Decimal(100 + (index * 7919 + n * 104729) % 4900)
        phone = phones[(index * 1009 + n * 31) % len(phones)]
        request_id = f"raw:{uuid.uuid4()}"
        issued = state["issued"]
        with conn.transaction():
            customer_id = conn.execute(
                "SELECT id FROM loyalty_customer WHERE phone = %s", (phone,)).fetchone()[0]
            # The chain up to the deepest paid level, with each level's percent.
            chain = conn.execute(
                "SELECT a.ancestor_id, a.depth, l.percent FROM referrals_referralancestor a "
                "JOIN referrals_referrallevel l ON l.level = a.depth "
                "WHERE a.descendant_id = %s AND l.percent > 0 ORDER BY a.depth", (customer_id,)
            ).fetchall() if referrals else []
            # His accounts, and his ancestors' spendable and debt ones, in id order.
            accounts = conn.execute(
                "SELECT id, customer_id, kind, balance FROM loyalty_account "
                "WHERE customer_id = %s OR (customer_id = ANY(%s) AND kind IN ('available', 'debt')) "
                "ORDER BY id FOR NO KEY UPDATE",
                (customer_id, [a[0] for a in chain])).fetchall()
            available = {c: (i, b) for i, c, k, b in accounts if k == "available"}
            # Read after the lock, in a statement of its own: what a sale the lock waited for
            # wrote (his count, his total, his tier) is seen.
            percent, spent, count, replayed = conn.execute(
                "SELECT COALESCE(t.cashback_percent, 0), c.total_spent, c.purchase_count, "
                "(SELECT 1 FROM loyalty_operation WHERE request_id = %s) "
                "FROM loyalty_customer c LEFT JOIN loyalty_tier t ON t.id = c.tier_id "
                "WHERE c.id = %s", (request_id, customer_id)).fetchone()
            if replayed:
                return True
            cashback = (total * percent / 100).quantize(Decimal("0.01"))
            own_id, own_balance = available[customer_id]
            operation_id = conn.execute(
                "INSERT INTO loyalty_operation (kind, state, created_at, customer_id, branch_id, "
                "cashier_external_id, cashier_name, total, excluded_total, unredeemable_total, "
                "points, cash, cashback, cashback_percent, refunded_total, balance_after, "
                "receipt_number, request_id, comment) VALUES ('purchase', 'NORMAL', now(), %s, %s, "
                "%s, 'Bench', %s, 0, 0, 0, %s, %s, %s, 0, %s, %s, %s, '') RETURNING id",
                (customer_id, state["branch"], f"till-{index}", total, total, cashback, percent,
                 own_balance + cashback, f"{index}-{n}", request_id)).fetchone()[0]
            credits = [("cashback", customer_id, cashback)]
            for ancestor_id, depth, level_percent in chain:
                amount = (total * level_percent / 100).quantize(Decimal("0.01"))
                if depth == 1 and count == 0:
                    amount += state["bonus"]
                credits.append(("referral", ancestor_id, amount))
            credits = [c for c in credits if c[2] > 0]
            if credits:
                rows = [(operation_id, kind, issued, available[who][0], amount)
                        for kind, who, amount in credits]
                conn.execute(
                    "INSERT INTO loyalty_entry (operation_id, kind, source_id, destination_id, "
                    "amount, created_at) VALUES "
                    + ", ".join(["(%s, %s, %s, %s, %s, now())"] * len(rows)),
                    [value for row in rows for value in row])
                balances = [(available[who][0], available[who][1] + amount)
                            for _kind, who, amount in credits]
                conn.execute(
                    "UPDATE loyalty_account a SET balance = v.balance FROM (VALUES "
                    + ", ".join(["(%s::bigint, %s::numeric)"] * len(balances))
                    + ") AS v(id, balance) WHERE a.id = v.id",
                    [value for row in balances for value in row])
            spent += total
            tier = next((t for t, floor in state["tiers"] if floor <= spent), None)
            conn.execute(
                "UPDATE loyalty_customer SET total_spent = %s, purchase_count = purchase_count + 1, "
                "last_purchase_at = now(), tier_id = %s WHERE id = %s", (spent, tier, customer_id))
            conn.execute(
                "INSERT INTO partner_webhookdelivery (endpoint_id, event, operation_id, "
                "request_id, status, attempt_count, next_attempt_at, created_at) VALUES (%s, "
                "'operation', %s, %s, 'pending', 0, now(), now())",
                (state["endpoint"], operation_id, uuid.uuid4()))
        return True

    one.connect = connect
    return one


def process_tree_cpu_seconds(root_pid: int) -> float:
    """CPU seconds used so far by ``root_pid`` and its children (Linux /proc; 0 elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.parent.name), int(fields[1])
        if root_pid in (pid, ppid):
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks


def wait_until_up(port: int, credentials: str, seconds: float = 60) -> None:
    auth = "Basic " + base64.b64encode(credentials.encode()).decode()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/partner/v2/settings", headers={"Authorization": auth})
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not come up")


GUNICORN_CONF: dict = {}  # production's gunicorn settings
exec((ROOT / "config" / "gunicorn.conf.py").read_text(), GUNICORN_CONF)  # noqa: S102 - our own file

WORKER_CLASSES = {"fair": GUNICORN_CONF["worker_class"], "gthread": "gthread", "sync": "sync"}


def line(label: str, result: dict) -> str:
    cpu = (f", gunicorn CPU {result['server_cpu_ms']:.1f} ms/sale"
           if "server_cpu_ms" in result else "")
    cpu += f", load generator CPU {result['client_cpu_ms']:.2f} ms"
    cpu += ", clients' means {:.0f}-{:.0f} ms".format(*result["client_means"])
    return (f"{label:<26} clients={result['clients']:>3}  {result['per_second']:8.0f} sales/s  "
            f"p50 {result['p50']:6.1f} ms  p99 {result['p99']:6.1f} ms  "
            f"({result['requests']} in {result['seconds']:.1f} s, {result['failures']} failed{cpu})")


# The issue's scale: raw SQL did ~2,200 purchases/s at 16 clients on its 2-core machine.
ISSUES_RAW_RATE = 2200


def against_the_issues_machine(results: list[tuple[str, dict]]) -> list[str]:
    """What the run says once this machine's speed is taken into account.

    - The floor. ``N`` clients that each send the next sale when the last is answered wait on
      average ``N`` ÷ throughput (Little's law). The API does the raw-SQL twin's work and more, so
      its mean latency at ``N`` clients cannot be much below ``N`` ÷ the fastest raw-SQL rate of the
      run, however little the API itself cost.
    - The yardstick. The raw-SQL sale without referrals at 16 clients, against the issue's ~2,200/s,
      says how fast this machine is; the API's latencies scale with the machine (the work per sale
      is CPU), so ``p99 × this machine's rate ÷ 2,200`` is what it would show there.
    """
    lines = []
    raw_rates = [r["per_second"] for label, r in results if label.startswith("raw SQL")]
    yardstick = next((r for label, r in results if label.startswith("yardstick")), None)
    speed = yardstick["per_second"] / ISSUES_RAW_RATE if yardstick else None
    if speed:
        lines.append(f"this machine: raw SQL without referrals did {yardstick['per_second']:.0f} "
                     f"sales/s at {yardstick['clients']} clients, {speed:.0%} of the issue's "
                     f"~{ISSUES_RAW_RATE:,}/s")
    for label, result in results:
        if not label.startswith("API"):
            continue
        clients = result["clients"]
        text = f"API at {clients} clients:"
        if raw_rates:
            text += (f" mean latency at least {clients / max(raw_rates) * 1000:.0f} ms here even if"
                     f" the API were as fast as raw SQL's best run ({max(raw_rates):.0f}/s);")
        if speed:
            text += (f" p99 {result['p99']:.0f} ms here is ~{result['p99'] * speed:.0f} ms at the"
                     f" issue's machine's speed")
        lines.append(text.rstrip(";"))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--requests", type=int, default=1600, help="sales per run")
    parser.add_argument("--customers", type=int, default=500)
    # Production's shape (config/gunicorn.conf.py) unless given; docs/partner_api.md has the
    # shapes measured on the 2-core machine.
    parser.add_argument("--workers", type=int, default=GUNICORN_CONF["workers"])
    parser.add_argument("--threads", type=int, default=GUNICORN_CONF["threads"])
    parser.add_argument("--worker-class", default="fair", choices=sorted(WORKER_CLASSES),
                        help="fair: production's (config/gunicorn.conf.py), gthread with the "
                             "connections spread evenly over the processes; gthread: gunicorn's "
                             "own; sync: one request at a time per process, no keep-alive")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--no-referrals", action="store_true",
                        help="leave the referral program off (the raw-SQL sale pays no referral)")
    parser.add_argument("--baseline", action="store_true",
                        help="also time GET /tags (key + one query): what the machine gives DRF")
    parser.add_argument("--yardstick", type=int, default=16, metavar="CLIENTS",
                        help="also run raw SQL without referrals at this many clients, the issue's "
                             "own yardstick (~2,200 sales/s at 16 clients on its 2-core machine), "
                             "to read the figures against that machine; 0 skips it")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (it is dropped and recreated)")

    if not args.port:
        with socket.socket() as probe:  # a free loopback port (others may be serving on 8000...)
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    database_recreate(database_url)
    credentials, phones = setup(database_url, args.customers, referrals=not args.no_referrals)
    results = []
    threads = ["--threads", str(args.threads)] if args.worker_class != "sync" else []
    gunicorn = subprocess.Popen(  # noqa: S603 - our own venv's gunicorn, fixed arguments
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py",
         "config.wsgi:application", "--bind", f"127.0.0.1:{args.port}",
         "--workers", str(args.workers), *threads, "--worker-class",
         WORKER_CLASSES[args.worker_class], "--backlog", "256", "--log-level", "warning"],
        cwd=ROOT, env=server_env(database_url),
    )
    try:
        wait_until_up(args.port, credentials)
        api = api_request_factory(args.port, credentials, phones)
        run_load(8, 200, api)  # warm up every worker's connections and code paths
        for clients in args.clients:
            cpu_before = process_tree_cpu_seconds(gunicorn.pid)
            result = run_load(clients, args.requests, api)
            result["server_cpu_ms"] = (process_tree_cpu_seconds(gunicorn.pid) - cpu_before) \
                * 1000 / result["requests"]
            results.append(("API (gunicorn, DRF)", result))
        if args.baseline:
            tags = tags_request_factory(args.port, credentials)
            for clients in args.clients:
                results.append(("baseline GET /tags", run_load(clients, args.requests, tags)))
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)
    raw = raw_request_factory(database_url, phones, referrals=not args.no_referrals)
    for clients in args.clients:
        results.append(("raw SQL (psycopg)", run_load(clients, args.requests, raw)))
    if args.yardstick:
        plain = raw_request_factory(database_url, phones, referrals=False)
        results.append(("yardstick (raw, no refs)", run_load(args.yardstick, args.requests, plain)))

    from loyalty.ledger_check import ledger_verify

    ledger_ok = ledger_verify().ok
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"gunicorn: {args.workers} {args.worker_class} workers"
          f"{f' x {args.threads} threads' if threads else ''}; cores: {os.cpu_count()}; "
          f"load average at the end: {load:.1f}")
    for label, result in results:
        print(line(label, result))
    by_clients = {}
    for label, result in results:
        if label.startswith(("API", "raw")):
            by_clients.setdefault(result["clients"], {})[label.split()[0]] = result["per_second"]
    for clients, rates in by_clients.items():
        if "API" in rates and "raw" in rates:
            print(f"clients={clients}: API is {rates['API'] / rates['raw']:.0%} of raw SQL")
    for line_ in against_the_issues_machine(results):
        print(line_)
    print(f"ledger consistent after both runs: {ledger_ok}")


if __name__ == "__main__":
    main()
