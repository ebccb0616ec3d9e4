"""What bench/partner_api.py prints once the machine's speed is taken into account."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_partner_api", ROOT / "bench" / "partner_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def result(clients: int, per_second: float, p99: float = 0.0) -> dict:
    return {"clients": clients, "per_second": per_second, "p99": p99}


def test_the_floor_and_the_scaled_p99_come_from_the_same_run(bench):
    lines = bench.against_the_issues_machine([
        ("API (gunicorn, DRF)", result(32, 200, p99=250)),
        ("raw SQL (psycopg)", result(8, 400)),
        ("raw SQL (psycopg)", result(32, 320)),
        ("yardstick (raw, no refs)", result(16, 550)),
    ])
    assert lines[0] == ("this machine: raw SQL without referrals did 550 sales/s at 16 clients, "
                        "25% of the issue's ~2,200/s")
    # 32 clients / 400 sales/s (the fastest raw run) = 80 ms; 250 ms x 550 / 2,200 = 62.5 ms.
    assert "mean latency at least 80 ms here" in lines[1]
    assert "(400/s)" in lines[1]
    assert lines[1].endswith("p99 250 ms here is ~62 ms at the issue's machine's speed")


def test_without_the_yardstick_only_the_floor_is_said(bench):
    lines = bench.against_the_issues_machine([
        ("API (gunicorn, DRF)", result(8, 300, p99=50)),
        ("raw SQL (psycopg)", result(8, 400)),
    ])
    assert lines == ["API at 8 clients: mean latency at least 20 ms here even if the API were as "
                     "fast as raw SQL's best run (400/s)"]
