"""Reads from PostgreSQL streaming replicas, writes to the primary, with read-your-writes.

A handle opened with replicas (``palimpsest.open(url, replicas=[...])`` or ``?replica=URL``)
sends every statement outside a write transaction, and every ``read()`` snapshot, to one
replica (the same one while it serves: reads never go back in time by hopping between
replicas that replayed different amounts). Writes always go to the primary.

Read-your-writes: after a write transaction commits, the handle remembers the primary's WAL
position (LSN) at that moment. A read then goes to the replica only once the replica has
replayed at least that far (``pg_last_wal_replay_lsn()``), waiting up to ``wait`` seconds;
past that bound the read goes to the primary, which always has it. Since a commit and its
rows are one transaction, a replica either has a whole commit or none of it, and anything a
replica shows at a commit is exact (the visibility rule only reads rows at or below the
commit's seq on its lines, which never change).

A replica that cannot be reached is left alone for a few seconds and reads go to the next
one, or to the primary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

_RETRY_DOWN_S = 5.0
_POLL_S = 0.002

LSN_SQL = "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"
"""The primary's WAL write position, as a number (run right after a COMMIT)."""


class Replicas:
    """Connection pools to the replicas of one primary, and the LSN bookkeeping."""

    def __init__(self, conninfos: Sequence[str], *, pool_size: int, wait: float,
                 kwargs: dict[str, Any], configure: Callable[[psycopg.Connection[Any]], None],
                 name: str) -> None:
        self.wait = wait
        self._pools: list[ConnectionPool[psycopg.Connection[Any]]] = [
            ConnectionPool(info, min_size=0, max_size=pool_size, kwargs=kwargs,
                           configure=configure, open=True, timeout=10.0,
                           name=f"{name}-replica{i}")
            for i, info in enumerate(conninfos)]
        self._lock = threading.Lock()
        self._current = 0
        self._down_until = [0.0] * len(self._pools)
        self._replayed = [0] * len(self._pools)  # the highest replay LSN each one showed
        self.needed = 0  # LSN this handle must see: the end of its latest commit
        self._local = threading.local()
        self.reads = {"replica": 0, "primary": 0, "waited": 0}
        """How reads were served (tests and benchmarks): on a replica, on the primary (no
        replica had this handle's writes in time, or none was reachable), and how many of the
        replica reads first waited for the replay."""

    def wrote(self, lsn: int) -> None:
        """A write transaction of this handle committed at ``lsn`` (read-your-writes)."""
        with self._lock:
            self.needed = max(self.needed, lsn)

    @contextmanager
    def connection(self) -> Iterator[tuple[int, psycopg.Connection[Any]] | None]:
        """A replica connection that has replayed this handle's writes (``(index, conn)``), or
        None: read from the primary."""
        picked = self._acquire()
        if picked is None:
            self.reads["primary"] += 1
            self._local.source = -1
            yield None
            return
        index, conn = picked
        self.reads["replica"] += 1
        self._local.source = index
        try:
            yield index, conn
        except Exception:
            self._local.source = -1  # the caller may retry on the primary
            if conn.broken or conn.closed:
                self._down(index)
            raise
        finally:
            self._pools[index].putconn(conn)

    def source(self) -> int:
        """Which server answered this thread's latest read: a replica's index, or -1 for the
        primary (the read cache's change token names it, since two servers' states differ)."""
        source: int = getattr(self._local, "source", -1)
        return source

    def _acquire(self) -> tuple[int, psycopg.Connection[Any]] | None:
        count = len(self._pools)
        for step in range(count):
            index = (self._current + step) % count
            if self._down_until[index] > time.monotonic():
                continue
            try:
                conn = self._pools[index].getconn(timeout=2.0)
            except PoolTimeout:
                self._down(index)
                continue
            try:
                if self._caught_up(index, conn):
                    self._current = index
                    return index, conn
            except psycopg.Error:
                self._pools[index].putconn(conn)
                self._down(index)
                continue
            self._pools[index].putconn(conn)
            return None  # lagging: the primary has this handle's writes now
        return None

    def _caught_up(self, index: int, conn: psycopg.Connection[Any]) -> bool:
        """True once the replica has replayed up to :attr:`needed` (waiting up to
        :attr:`wait` seconds). A statement run afterwards on ``conn`` sees it: replay only
        moves forward, and each statement takes a new snapshot."""
        needed = self.needed
        if self._replayed[index] >= needed:
            return True
        deadline = time.monotonic() + self.wait
        waited = False
        while True:
            row = conn.execute("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn").fetchone()
            replayed = int(row[0]) if row and row[0] is not None else 0
            with self._lock:
                self._replayed[index] = max(self._replayed[index], replayed)
            if replayed >= needed:
                if waited:
                    self.reads["waited"] += 1
                return True
            if time.monotonic() >= deadline:
                return False
            waited = True
            time.sleep(_POLL_S)

    def _down(self, index: int) -> None:
        self._down_until[index] = time.monotonic() + _RETRY_DOWN_S
        self._current = (index + 1) % len(self._pools)

    def check(self) -> None:
        """Replace pooled connections the servers closed."""
        for pool in self._pools:
            with suppress(Exception):
                pool.check()

    def close(self) -> None:
        for pool in self._pools:
            pool.close()
