"""A gunicorn ``gthread`` worker that keeps the open connections spread evenly over the processes.

gunicorn's worker processes all accept from one listening socket, and a kept-alive connection
stays with the process that accepted it. When many clients connect at once (tills opening at
nine, an integration starting its pool, a benchmark), the split is whatever the scheduler made
of the race: 5 and 27 of 32 connections were seen on two processes. The process with 27 then
serves them on one core (its Python threads share one GIL) while the other idles half the time:
its clients wait four times as long, and the machine does less.

``FairThreadWorker`` makes each process take its share:

- the processes count their open connections in a table of shared memory, made in the master
  before it forks (one slot per process: its pid, its count, the last time its loop ran);
- a process listens for new connections only while it has no more than the fewest any live
  process has, plus one (``SLACK``);
- a process with more than ``2 * SLACK`` over the fewest closes connections as it answers on
  them (``Connection: close``); their clients reconnect and land on a process with room;
- a slot not refreshed for ``STALE_SECONDS`` belongs to a process that died, and is ignored and
  reused.

A process whose listening is off polls every 50 ms instead of every second, so a connection
never waits on a stale decision for longer than that. With one worker it behaves as ``gthread``.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import time

from gunicorn.workers.gthread import ThreadWorker

SLOTS = 256
SLACK = 1
STALE_SECONDS = 3.0
POLL_WHILE_NOT_LISTENING = 0.05

_PID, _CONNECTIONS, _BEAT = range(3)
# Made at import, in the master, before the workers are forked: every worker shares it.
_table = multiprocessing.RawArray(ctypes.c_double, SLOTS * 3)
_slots_used = multiprocessing.RawValue(ctypes.c_int, 0)  # slots above this were never claimed
_claim_lock = multiprocessing.Lock()


def _now() -> float:
    return time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on the machine


class FairThreadWorker(ThreadWorker):
    _slot: int | None = None
    _connections = 0
    _keepalived_cap = 0

    # ``ThreadWorker`` counts its connections in ``nr_conns``; the property mirrors the count
    # into the shared table.
    @property
    def nr_conns(self) -> int:
        return self._connections

    @nr_conns.setter
    def nr_conns(self, value: int) -> None:
        self._connections = value
        if self._slot is not None:
            _table[self._slot * 3 + _CONNECTIONS] = value

    # ``ThreadWorker`` closes a connection after its answer when it keeps as many alive as this.
    @property
    def max_keepalived(self) -> int:
        return 0 if self._connections > self._fewest() + 2 * SLACK else self._keepalived_cap

    @max_keepalived.setter
    def max_keepalived(self, value: int) -> None:
        self._keepalived_cap = value

    def run(self) -> None:
        self._claim()
        try:
            super().run()
        finally:
            self._release()

    def _claim(self) -> None:
        pid, now = os.getpid(), _now()
        with _claim_lock:
            for slot in range(SLOTS):
                base = slot * 3
                if (not _table[base + _PID] or _table[base + _PID] == pid
                        or now - _table[base + _BEAT] > STALE_SECONDS):
                    _table[base + _PID], _table[base + _BEAT] = pid, now
                    _table[base + _CONNECTIONS] = self._connections
                    self._slot = slot
                    _slots_used.value = max(_slots_used.value, slot + 1)
                    return
        self._slot = None  # more processes than slots: this one just takes what comes

    def _release(self) -> None:
        if self._slot is not None and _table[self._slot * 3 + _PID] == os.getpid():
            _table[self._slot * 3 + _PID] = 0
        self._slot = None

    def _beat(self) -> None:
        if self._slot is None or _table[self._slot * 3 + _PID] != os.getpid():
            self._claim()  # taken over while this process stalled: take a free one
        if self._slot is not None:
            _table[self._slot * 3 + _BEAT] = _now()

    def _fewest(self) -> float:
        """The fewest connections any live process holds (this one included)."""
        fewest, now = self._connections, _now()
        if self._slot is None:
            return fewest
        for slot in range(_slots_used.value):
            base = slot * 3
            if _table[base + _PID] and now - _table[base + _BEAT] <= STALE_SECONDS:
                fewest = min(fewest, _table[base + _CONNECTIONS])
        return fewest

    def _may_accept(self) -> bool:
        return (self.alive and self._connections < self.worker_connections
                and self._connections <= self._fewest() + SLACK)

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and self._may_accept())

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        self._beat()
        if self.alive:
            super().set_accept_enabled(self._may_accept())
        if not self._accepting:
            timeout = min(timeout, POLL_WHILE_NOT_LISTENING)
        super().wait_for_and_dispatch_events(timeout)
