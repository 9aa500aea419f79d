"""The embedded backend: one SQLite file (WAL) or ``:memory:``.

One connection per Repository handle, guarded by a re-entrant lock so a handle can be shared by
threads. Write transactions use ``BEGIN IMMEDIATE`` so the write lock is taken up front (no
deadlock-prone lock upgrades); nested ``write()`` calls become savepoints.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .base import Params, Row, Tracer


def _path_literal(path: Sequence[str]) -> str:
    parts = "".join('."' + p.replace('"', '\\"') + '"' for p in path)
    return "'$" + parts.replace("'", "''") + "'"


class SQLiteDialect:
    name = "sqlite"
    blob = "BLOB"
    bigint = "INTEGER"

    def json_text(self, column: str, path: Sequence[str]) -> str:
        return f"json_extract({column}, {_path_literal(path)})"

    def json_path_exists(self, column: str, path: Sequence[str]) -> str:
        return f"json_type({column}, {_path_literal(path)}) IS NOT NULL"


class SQLiteDatabase:
    """A SQLite connection with palimpsest's pragmas and transaction discipline."""

    def __init__(self, path: str, *, durability: str = "normal", timeout: float = 30.0) -> None:
        self.url = path
        self.dialect = SQLiteDialect()
        self.tracer: Tracer | None = None
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                     check_same_thread=False)
        self._conn.execute("PRAGMA foreign_keys=OFF")
        if path != ":memory:" and not path.startswith("file::memory:"):
            self._conn.execute("PRAGMA journal_mode=WAL")
        sync = {"full": "FULL", "normal": "NORMAL", "off": "OFF"}.get(durability)
        if sync is None:
            raise ValueError(f"durability must be 'full', 'normal' or 'off', not {durability!r}")
        self._conn.execute(f"PRAGMA synchronous={sync}")
        self._conn.execute("PRAGMA cache_size=-65536")
        self._conn.execute("PRAGMA temp_store=MEMORY")
        self._conn.execute("PRAGMA mmap_size=268435456")

    def _trace(self, sql: str, params: Params) -> None:
        if self.tracer is not None:
            self.tracer(sql, params)

    def one(self, sql: str, params: Params = ()) -> Row | None:
        self._trace(sql, params)
        with self._lock:
            row: Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        self._trace(sql, params)
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def iterate(self, sql: str, params: Params = ()) -> Iterator[Row]:
        # Rows are fetched in one go: a View's rows never change, and holding a cursor open
        # across user code would keep the lock.
        return iter(self.all(sql, params))

    def run(self, sql: str, params: Params = ()) -> int:
        self._trace(sql, params)
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        self._trace(sql, ())
        with self._lock:
            self._conn.executemany(sql, rows)

    def script(self, sql: str) -> None:
        # executescript() would COMMIT first; run statements one by one inside write().
        with self._lock:
            for statement in sql.split(";"):
                if statement.strip():
                    self._conn.execute(statement)

    def in_write(self) -> bool:
        return self._depth > 0

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._conn.execute("BEGIN IMMEDIATE")
            else:
                self._conn.execute(f"SAVEPOINT sp{self._depth}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.execute("ROLLBACK")
                else:
                    self._conn.execute(f"ROLLBACK TO sp{self._depth}")
                    self._conn.execute(f"RELEASE sp{self._depth}")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._conn.execute("COMMIT")
            else:
                self._conn.execute(f"RELEASE sp{self._depth}")

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._lock:
            if self._depth > 0 or self._conn.in_transaction:
                yield
                return
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                self._conn.execute("COMMIT")

    def backup_to(self, path: str) -> None:
        """A consistent online copy of the whole database (SQLite's backup API)."""
        with self._lock:
            target = sqlite3.connect(path)
            try:
                self._conn.backup(target)
            finally:
                target.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @property
    def raw(self) -> Any:
        """The underlying sqlite3 connection (tests and tools only)."""
        return self._conn
