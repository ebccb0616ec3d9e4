"""The production gunicorn worker spreads kept-alive connections evenly over its processes."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from config import gunicorn_worker
from config.gunicorn_worker import FairThreadWorker

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn with the production config file, serving ``pid_app`` on a loopback port."""

    def __init__(self, workers: int, worker_class: str = "config.gunicorn_worker.FairThreadWorker"):
        self.port = free_port()
        self.connections: list[http.client.HTTPConnection] = []
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and gunicorn
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py",
             "--workers", str(workers), "--threads", "2", "--worker-class", worker_class,
             "--bind", f"127.0.0.1:{self.port}", "--keep-alive", "30", "--log-level", "warning",
             "tests.config.pid_app:app"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        self.wait_for_workers(workers)

    def workers(self) -> set[int]:
        pid = self.process.pid
        return {int(child) for child in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}

    def wait_for_workers(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(self.process.stderr.read().decode())
            if len(self.workers()) == count:
                probe = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                try:  # booted: answers
                    ask(probe)
                    return
                except OSError:
                    pass
                finally:
                    probe.close()
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not start {count} workers")

    def connect(self) -> http.client.HTTPConnection:
        self.connections.append(http.client.HTTPConnection("127.0.0.1", self.port, timeout=10))
        return self.connections[-1]

    def stop(self) -> None:
        for conn in self.connections:
            conn.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.process.stderr.close()


def ask(conn: http.client.HTTPConnection) -> int:
    """One GET on ``conn`` (reconnecting if the server closed it); the pid that answered."""
    conn.request("GET", "/")
    response = conn.getresponse()
    assert response.status == 200
    return int(response.read())


def ask_all_at_once(connections: list[http.client.HTTPConnection]) -> list[int]:
    pids = [0] * len(connections)
    barrier = threading.Barrier(len(connections))

    def one(index: int) -> None:
        barrier.wait()
        pids[index] = ask(connections[index])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(connections))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return pids


@pytest.fixture
def servers():
    started = []
    yield lambda *args, **kwargs: started.append(Server(*args, **kwargs)) or started[-1]
    for server in started:
        server.stop()


def test_connections_opened_at_once_are_split_evenly_and_kept(servers):
    server = servers(workers=2)
    connections = [server.connect() for _ in range(24)]
    first = ask_all_at_once(connections)
    split = Counter(first)
    assert len(split) == 2 and max(split.values()) - min(split.values()) <= 3, split
    # Kept alive: each connection is answered by the same process again.
    assert ask_all_at_once(connections) == first


def test_a_process_added_later_takes_its_share_of_open_connections(servers):
    server = servers(workers=1)
    connections = [server.connect() for _ in range(12)]
    assert len(set(ask_all_at_once(connections))) == 1
    server.process.send_signal(signal.SIGTTIN)  # one worker more
    server.wait_for_workers(2)
    for _ in range(10):  # the crowded process closes connections as it answers; they reconnect
        pids = ask_all_at_once(connections)
    split = Counter(pids)
    assert len(split) == 2 and max(split.values()) - min(split.values()) <= 4, split


def fake_worker(connections: int) -> FairThreadWorker:
    """A worker object with just what the sharing logic reads (no process, no sockets)."""
    worker = FairThreadWorker.__new__(FairThreadWorker)
    worker.alive, worker.worker_connections, worker.max_keepalived = True, 1000, 10
    worker._connections = connections
    return worker


@pytest.fixture
def table():
    """An empty shared table for the test, restored after."""
    saved, used = list(gunicorn_worker._table), gunicorn_worker._slots_used.value
    for index in range(len(gunicorn_worker._table)):
        gunicorn_worker._table[index] = 0
    gunicorn_worker._slots_used.value = 0
    yield gunicorn_worker._table
    gunicorn_worker._table[:] = saved
    gunicorn_worker._slots_used.value = used


def other_process(table, slot: int, connections: int, seconds_ago: float = 0.0) -> None:
    table[slot * 3: slot * 3 + 3] = [os.getpid() + 1000 + slot, connections,
                                     time.monotonic() - seconds_ago]
    gunicorn_worker._slots_used.value = max(gunicorn_worker._slots_used.value, slot + 1)


def test_a_process_listens_only_while_it_holds_no_more_than_the_fewest_plus_one(table):
    other_process(table, 0, connections=5)
    worker = fake_worker(connections=6)
    worker._claim()
    assert worker._slot == 1 and table[1 * 3 + 1] == 6
    assert worker._may_accept()
    worker.nr_conns = 7  # mirrored into the table
    assert table[1 * 3 + 1] == 7
    assert not worker._may_accept()
    assert worker.max_keepalived == 10  # 7 is not more than 5 + 2: it keeps its connections
    worker.nr_conns = 8
    assert worker.max_keepalived == 0  # over its share: closes connections as it answers
    worker._release()
    assert table[1 * 3] == 0


def test_a_dead_process_slot_is_ignored_and_reused(table):
    other_process(table, 0, connections=0, seconds_ago=gunicorn_worker.STALE_SECONDS + 1)
    worker = fake_worker(connections=9)
    assert worker._fewest() == 9  # no slot yet: only itself
    worker._claim()
    assert worker._slot == 0  # the stale slot is taken over
    assert worker._may_accept() and worker.max_keepalived == 10


def test_a_process_whose_slot_was_taken_over_claims_another(table):
    worker = fake_worker(connections=3)
    worker._claim()
    other_process(table, 0, connections=1)  # another pid now holds slot 0
    worker._beat()
    assert worker._slot == 1 and table[3] == os.getpid()
