"""Bounded waits for the write lock (``storage.base.lock_wait``): a write waits for another
writer up to its limit, then raises LockTimeout having written nothing; readers never wait."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import palimpsest
from conftest import POSTGRES_URL, _postgres_url, drop_postgres_schema
from palimpsest import LockTimeout
from palimpsest.storage.base import lock_wait

HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


@contextmanager
def write_lock_held(path: Path, seconds: float) -> Iterator[None]:
    """Another process holds ``BEGIN IMMEDIATE`` on the SQLite file for ``seconds``."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield
    finally:
        proc.kill()
        proc.wait()


def test_sqlite_write_waits_within_its_limit_then_times_out(tmp_path: Path) -> None:
    path = tmp_path / "wait.db"
    with palimpsest.open(str(path)) as repo:
        repo.put_entity("a", "T")
        with write_lock_held(path, 1), lock_wait(20):
            assert repo.put_entity("b", "T") is not None  # waits about 1 s, then lands
        with write_lock_held(path, 5), lock_wait(0.3), pytest.raises(LockTimeout) as caught:
            started = time.monotonic()
            repo.put_entity("c", "T")
        assert time.monotonic() - started < 4
        assert caught.value.code == "lock_timeout" and caught.value.retry_after >= 1
        assert isinstance(caught.value, palimpsest.StorageError)  # older handlers catch it
        assert repo.head().entity("b") is not None and repo.head().entity("c") is None


def test_sqlite_readers_do_not_wait_for_a_writer_in_the_same_process(tmp_path: Path) -> None:
    with palimpsest.open(str(tmp_path / "r.db")) as repo:
        repo.put_entity("a", "T", {"v": 1})
        inside, release = threading.Event(), threading.Event()

        def slow_writer() -> None:
            with repo.database.write():  # holds the write lock until released
                repo.put_entity("a", "T", {"v": 2})
                inside.set()
                release.wait(10)

        thread = threading.Thread(target=slow_writer)
        thread.start()
        assert inside.wait(10)
        try:
            entity = repo.head().entity("a")  # answers at once, with the committed state
            assert entity is not None and entity.props == {"v": 1}
            with lock_wait(0.2), pytest.raises(LockTimeout):
                repo.put_entity("b", "T")  # a second writer in this process times out
        finally:
            release.set()
            thread.join(10)
        entity = repo.head().entity("a")
        assert entity is not None and entity.props == {"v": 2}


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL tests need PALIMPSEST_TEST_POSTGRES")
def test_postgres_write_times_out_on_a_held_branch_lock() -> None:
    schema = "t_lockwait_" + str(int(time.time() * 1000) % 10**9)
    url = _postgres_url(schema)
    try:
        with palimpsest.open(url) as first, palimpsest.open(url) as second:
            first.put_entity("a", "T")
            held, release = threading.Event(), threading.Event()

            def hold() -> None:
                with first.database.write():
                    first.database.lock("branch:main")
                    held.set()
                    release.wait(10)

            thread = threading.Thread(target=hold)
            thread.start()
            assert held.wait(10)
            try:
                with lock_wait(0.3), pytest.raises(LockTimeout):
                    second.put_entity("b", "T")
                assert second.head().entity("a") is not None  # reads do not wait
            finally:
                release.set()
                thread.join(10)
            assert second.put_entity("b", "T") is not None
    finally:
        drop_postgres_schema(schema)
