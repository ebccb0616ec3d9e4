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
  process has (so a burst ends at most one apart);
- a process with more than ``SHED_ABOVE`` over the fewest closes connections as it answers on
  them (``Connection: close``); their clients reconnect and land on a process with room (the
  margin keeps a client that comes and goes from making them close connections back and forth);
- a process that is shutting down gives its slot up at once; the master frees the slot of one
  that exited (``child_exit`` in config/gunicorn.conf.py); a slot not refreshed for
  ``STALE_SECONDS`` belongs to a process that died anyway, and is ignored and reused.

A process whose listening is off polls every 50 ms instead of every second, so a connection
never waits on a stale decision for longer than that. With one worker, or with ``reuse_port``
(a socket per process), it behaves as ``gthread``.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import time

from gunicorn.workers.gthread import ThreadWorker

SLOTS = 256
SHED_ABOVE = 2  # connections over the fewest before a process closes some as it answers
STALE_SECONDS = 3.0
POLL_WHILE_NOT_LISTENING = 0.05

_PID, _CONNECTIONS, _BEAT = range(3)
# Made at import, in the master, before the workers are forked: every worker shares it.
_table = multiprocessing.RawArray(ctypes.c_double, SLOTS * 3)
_slots_used = multiprocessing.RawValue(ctypes.c_int, 0)  # slots above this were never claimed
_claim_lock = multiprocessing.Lock()


def _now() -> float:
    return time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on the machine


def slot_free(pid: int) -> None:
    """Forget the slot of a worker that exited (the master calls this from ``child_exit``): a
    killed worker's count would otherwise hold the others back until its slot goes stale."""
    for slot in range(_slots_used.value):
        if _table[slot * 3 + _PID] == pid:
            _table[slot * 3 + _PID] = 0


class FairThreadWorker(ThreadWorker):
    _slot: int | None = None
    _connections = 0
    _keepalived_cap = 0

    @classmethod
    def check_config(cls, cfg, log) -> None:
        super().check_config(cfg, log)
        if cfg.reuse_port:
            log.warning("reuse_port gives each process a listening socket of its own: "
                        "FairThreadWorker then works as plain gthread.")

    # ``ThreadWorker`` counts its connections in ``nr_conns``; the property mirrors the count
    # into the shared table.
    @property
    def nr_conns(self) -> int:
        return self._connections

    @nr_conns.setter
    def nr_conns(self, value: int) -> None:
        self._connections = value
        slot = self._slot
        if slot is not None and _table[slot * 3 + _PID] == os.getpid():
            _table[slot * 3 + _CONNECTIONS] = value

    # ``ThreadWorker`` closes a connection after its answer when it keeps as many alive as this.
    @property
    def max_keepalived(self) -> int:
        return 0 if self._connections > self._fewest() + SHED_ABOVE else self._keepalived_cap

    @max_keepalived.setter
    def max_keepalived(self, value: int) -> None:
        self._keepalived_cap = value

    def run(self) -> None:
        # With reuse_port each process has its own socket, and the kernel queues connections
        # for a process that is not listening: balancing would strand them.
        if not self.cfg.reuse_port:
            self._claim()
        try:
            super().run()
        finally:
            self._release()

    def is_parent_alive(self) -> bool:
        alive = super().is_parent_alive()
        if not alive:
            self.alive = False  # (gthread leaves its loop without saying so: stop listening)
        return alive

    def _claim(self) -> None:
        pid, now = os.getpid(), _now()
        # A worker killed while holding the lock never releases it: wait a little, then go on
        # without it (two processes might then share a slot: less balanced, never stuck).
        locked = _claim_lock.acquire(timeout=1.0)
        try:
            for slot in range(SLOTS):
                base = slot * 3
                if (not _table[base + _PID] or _table[base + _PID] == pid
                        or now - _table[base + _BEAT] > STALE_SECONDS):
                    # The count and the beat first, the pid last: no reader pairs this pid
                    # with the count of the process that held the slot before.
                    _table[base + _CONNECTIONS] = self._connections
                    _table[base + _BEAT] = now
                    _table[base + _PID] = pid
                    self._slot = slot
                    _slots_used.value = max(_slots_used.value, slot + 1)
                    return
            self._slot = None  # more processes than slots: this one just takes what comes
        finally:
            if locked:
                _claim_lock.release()

    def _release(self) -> None:
        if self._slot is not None and _table[self._slot * 3 + _PID] == os.getpid():
            _table[self._slot * 3 + _PID] = 0
        self._slot = None

    def _beat(self) -> None:
        if not self.alive:
            # Shutting down: it accepts no more, so its count must not hold the others back.
            self._release()
            return
        if self.cfg.reuse_port:
            return
        if self._slot is not None and _table[self._slot * 3 + _PID] != os.getpid():
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
                and self._connections <= self._fewest())

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and self._may_accept())

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        self._beat()
        if self.alive:
            super().set_accept_enabled(self._may_accept())
        if not self._accepting:
            timeout = min(timeout, POLL_WHILE_NOT_LISTENING)
        super().wait_for_and_dispatch_events(timeout)
