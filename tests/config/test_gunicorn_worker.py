"""The production gunicorn worker spreads kept-alive connections evenly over its processes."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
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
        self.log = tempfile.TemporaryFile()  # gunicorn's stderr (a pipe could fill and block it)
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and gunicorn
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py",
             "--workers", str(workers), "--threads", "2", "--worker-class", worker_class,
             "--bind", f"127.0.0.1:{self.port}", "--keep-alive", "30", "--log-level", "warning",
             "tests.config.pid_app:app"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log,
        )
        self.wait_for_workers(workers)

    def workers(self) -> set[int]:
        pid = self.process.pid
        return {int(child) for child in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}

    def wait_for_workers(self, count: int) -> None:
        """Until ``count`` workers run and each has answered (a probe is kept open until then, so
        that the next lands on another process)."""
        deadline, probes, seen = time.monotonic() + 30, [], set()
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    self.log.seek(0)
                    raise AssertionError(self.log.read().decode())
                if len(self.workers()) == count:
                    probe = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    probes.append(probe)
                    try:
                        seen.add(ask(probe))
                    except OSError:
                        pass
                    if seen >= self.workers():
                        return
                time.sleep(0.05)
        finally:
            for probe in probes:
                probe.close()
            time.sleep(0.1)  # the processes see the probes closed
        raise AssertionError(f"gunicorn did not start {count} workers")

    def connect(self) -> http.client.HTTPConnection:
        self.connections.append(http.client.HTTPConnection("127.0.0.1", self.port, timeout=10))
        return self.connections[-1]

    def stop(self) -> None:
        for conn in self.connections:
            conn.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.log.close()


def ask(conn: http.client.HTTPConnection, path: str = "/") -> int:
    """One GET on ``conn`` (reconnecting if the server closed it); the pid that answered."""
    conn.request("GET", path)
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
    # A process listens while it holds no more than the other: in a burst, 1 apart at most.
    assert len(split) == 2 and max(split.values()) - min(split.values()) <= 1, split
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


class FakeConfig:
    reuse_port = False


def test_while_a_worker_finishes_a_slow_request_on_its_way_out_the_others_take_connections(
        servers):
    """A worker told to stop (max_requests, SIGTTOU, a reload) lingers for its last requests; with
    a count of one it must not hold the others' listening back."""
    server = servers(workers=2)
    connections = [server.connect() for _ in range(12)]
    pids = ask_all_at_once(connections)
    leaving = pids[0]
    slow = threading.Thread(target=ask, args=(connections[0],), kwargs={"path": "/slow?4"})
    slow.start()
    time.sleep(0.3)
    os.kill(leaving, signal.SIGTERM)
    time.sleep(2.5)  # its kept-alive connections are closed (gunicorn lingers 2 s): it counts 1
    started = time.monotonic()
    newcomer = server.connect()
    assert ask(newcomer) != leaving
    assert time.monotonic() - started < 1.0
    slow.join()


def fake_worker(connections: int) -> FairThreadWorker:
    """A worker object with just what the sharing logic reads (no process, no sockets)."""
    worker = FairThreadWorker.__new__(FairThreadWorker)
    worker.alive, worker.worker_connections, worker.max_keepalived = True, 1000, 10
    worker.cfg = FakeConfig()
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


def test_a_process_listens_only_while_it_holds_no_more_than_the_fewest(table):
    other_process(table, 0, connections=5)
    worker = fake_worker(connections=5)
    worker._claim()
    assert worker._slot == 1 and table[1 * 3 + 1] == 5
    assert worker._may_accept()
    worker.nr_conns = 6  # mirrored into the table
    assert table[1 * 3 + 1] == 6
    assert not worker._may_accept()
    assert worker.max_keepalived == 10
    worker.nr_conns = 7
    assert worker.max_keepalived == 10  # 7 is not more than 5 + 2: it keeps its connections
    worker.nr_conns = 8
    assert worker.max_keepalived == 0  # over its share: closes connections as it answers
    worker._release()
    assert table[1 * 3] == 0


def test_a_dead_process_slot_is_ignored_and_reused(table):
    other_process(table, 0, connections=0, seconds_ago=gunicorn_worker.STALE_SECONDS + 1)
    worker = fake_worker(connections=9)
    worker._claim()
    assert worker._slot == 0  # the stale slot is taken over
    other_process(table, 1, connections=0, seconds_ago=gunicorn_worker.STALE_SECONDS + 1)
    assert worker._fewest() == 9  # a slot gone stale does not count
    assert worker._may_accept() and worker.max_keepalived == 10
    other_process(table, 1, connections=0)  # a live one does
    assert not worker._may_accept() and worker.max_keepalived == 0


def test_the_master_frees_the_slot_of_a_worker_that_exited(table):
    other_process(table, 0, connections=0)
    worker = fake_worker(connections=1)
    worker._claim()
    assert not worker._may_accept()
    gunicorn_worker.slot_free(table[0])  # child_exit in config/gunicorn.conf.py
    assert worker._may_accept()


def test_a_worker_shutting_down_gives_its_slot_up(table):
    worker = fake_worker(connections=1)
    worker._claim()
    worker.alive = False
    worker._beat()
    assert worker._slot is None and table[0] == 0


def test_a_process_whose_slot_was_taken_over_claims_another(table):
    worker = fake_worker(connections=3)
    worker._claim()
    other_process(table, 0, connections=1)  # another pid now holds slot 0
    worker._beat()
    assert worker._slot == 1 and table[3] == os.getpid()
