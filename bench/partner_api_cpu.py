"""CPU per sale through the Partner API in-process: what the request costs around the service.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench_partner_cpu \\
        .venv/bin/python bench/partner_api_cpu.py [--sales 200] [--rounds 4] [--profile FILE]

Seeds the database as ``bench/partner_api.py`` does (it is dropped and made again: the full
program, a webhook endpoint, production settings, Celery publishing to an in-process broker), then
times, in this one process and without HTTP, the process CPU of:

- ``POST /partner/v2/operations`` called through the WSGI application (every middleware, DRF,
  the key, the body, the customer lookup, the sale, the answer);
- ``purchase_create`` alone with the same arguments (the service, with the webhook outbox row);
- ``GET /partner/v2/tags`` through WSGI (the framework's floor: the key and one query).

It prints the best of ``--rounds`` rounds for each (CPU time is less disturbed by other work on
a shared machine than wall time, but not immune). ``--profile FILE`` also writes a cProfile of the
POSTs (CPU-time clock) for ``python -m pstats FILE``.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.partner_api import database_recreate, setup  # noqa: E402 - after the path is set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sales", type=int, default=200, help="requests per round and kind")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--profile", help="write a cProfile of the POSTs to this file")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (it is dropped and recreated)")
    database_recreate(database_url)
    credentials, phones = setup(database_url, args.customers, referrals=True)

    from django.db import connection

    from config.wsgi import application
    from loyalty.models import Branch, Customer
    from loyalty.services import purchase_create

    auth = "Basic " + base64.b64encode(credentials.encode()).decode()
    branch = Branch.objects.get(name="Bench")
    customers = {c.phone: c for c in Customer.objects.filter(phone__in=phones)}

    def total_of(n: int) -> int:
        return 100 + (n * 104729) % 4900

    def wsgi(path: str, method: str, body: bytes = b"") -> None:
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": auth, "HTTP_ACCEPT": "application/json",
            "HTTP_X_ORIGIN_REQUEST_ID": str(uuid.uuid4()), "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": True,
            "wsgi.multiprocess": True, "wsgi.run_once": False,
        }
        status = []
        answer = b"".join(application(environ, lambda s, h, exc=None: status.append(s)))
        if not status[0].startswith("200"):
            raise SystemExit(f"{method} {path}: {status[0]} {answer[:300]!r}")

    def post(n: int) -> None:
        total = total_of(n)
        wsgi("/partner/v2/operations", "POST", json.dumps({
            "nonce": str(uuid.uuid4()), "participant": {"phone": phones[n * 31 % len(phones)]},
            "cashier": {"externalId": "till-1", "name": "Bench"},
            "receipt": {"total": total, "cash": total, "points": 0, "number": f"1-{n}"},
        }).encode())

    def service(n: int) -> None:
        purchase_create(customer=customers[phones[n * 31 % len(phones)]], branch=branch,
                        total=total_of(n), points=0, receipt_number=f"1-{n}",
                        request_id=f"bench:{uuid.uuid4()}", cashier_external_id="till-1",
                        cashier_name="Bench")

    def tags(n: int) -> None:
        wsgi("/partner/v2/tags", "GET")

    kinds = {"POST /operations": post, "purchase_create alone": service, "GET /tags": tags}
    for call in kinds.values():
        for n in range(30):  # warm caches, prepared statements, the dispatcher thread
            call(n)
    best = dict.fromkeys(kinds, float("inf"))
    n = 1000
    for _round in range(args.rounds):
        for name, call in kinds.items():
            started = time.process_time()
            for _ in range(args.sales):
                n += 1
                call(n)
            best[name] = min(best[name], (time.process_time() - started) * 1000 / args.sales)
    if args.profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(args.sales):
            n += 1
            post(n)
        profiler.disable()
        profiler.dump_stats(args.profile)
    connection.close()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPU per request, best of {args.rounds} rounds of {args.sales} "
          f"(load average {load:.1f}):")
    for name, ms in best.items():
        print(f"  {name:<24} {ms:6.2f} ms")
    around = best["POST /operations"] - best["purchase_create alone"]
    print(f"  {'API around the service':<24} {around:6.2f} ms")


if __name__ == "__main__":
    main()
