"""The embedded backend: one SQLite file (WAL) or ``:memory:``.

One connection per Repository handle, guarded by a re-entrant lock so a handle can be shared by
threads. Write transactions use ``BEGIN IMMEDIATE`` so the write lock is taken up front (no
deadlock-prone lock upgrades); nested ``write()`` calls become savepoints.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from ..errors import InvalidValue, QueryTimeout
from .base import Dialect, Params, Row, Tracer


def _path_literal(path: Sequence[str]) -> str:
    parts = "".join('."' + p.replace('"', '\\"') + '"' for p in path)
    return "'$" + parts.replace("'", "''") + "'"


class SQLiteDialect:
    name = "sqlite"
    blob = "BLOB"
    bigint = "INTEGER"
    autoid = "INTEGER PRIMARY KEY"

    def json_text(self, column: str, path: Sequence[str]) -> str:
        return f"json_extract({column}, {_path_literal(path)})"

    def json_number(self, column: str, path: Sequence[str]) -> str:
        # json_extract already yields numbers as numbers (text never equals a number)
        return f"json_extract({column}, {_path_literal(path)})"

    def json_path_exists(self, column: str, path: Sequence[str]) -> str:
        return f"json_type({column}, {_path_literal(path)}) IS NOT NULL"

    # -- query layer (see Dialect in base.py) ------------------------------------------------
    json_types: Mapping[str, tuple[str, ...]] = MappingProxyType({
        "null": ("null",), "true": ("true",), "false": ("false",),
        "number": ("integer", "real"), "string": ("text",), "array": ("array",),
        "object": ("object",)})

    def json_type(self, column: str, path: Sequence[str]) -> str:
        return f"json_type({column}, {_path_literal(path)})"

    def json_string(self, column: str, path: Sequence[str]) -> str:
        # the same expression as json_text, so one expression index serves both
        return f"json_extract({column}, {_path_literal(path)})"

    def json_array_has(self, column: str, path: Sequence[str], types: Sequence[str],
                       with_value: bool) -> str:
        names = ", ".join("'" + t + "'" for t in types)
        test = " AND j.atom = ?" if with_value else ""
        return (f"(json_type({column}, {_path_literal(path)}) = 'array' AND EXISTS (SELECT 1 "
                f"FROM json_each({column}, {_path_literal(path)}) j WHERE j.type IN ({names})"
                f"{test}))")

    def text_contains(self, expr: str) -> str:
        return f"(instr({expr}, ?) > 0)"

    def regex_search(self, expr: str) -> str:
        return f"({expr} REGEXP ?)"

    def json_index_exprs(self, column: str, path: Sequence[str]) -> list[str]:
        return [self.json_text(column, path)]

    def index_hint(self, index: str) -> str:
        return f"INDEXED BY {index}"


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str | None, value: object) -> int | None:
    """SQLite's ``x REGEXP y`` calls ``regexp(y, x)``: Python ``re.search`` semantics."""
    if pattern is None or not isinstance(value, str):
        return None
    return 1 if _compiled(pattern).search(value) else 0


def _is_engine_failure(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


def _bad_text(exc: UnicodeEncodeError) -> Exception:
    """Text that is not valid Unicode (a lone surrogate) can be neither stored nor looked up."""
    from ..errors import InvalidKey
    return InvalidKey(f"{exc.object[max(exc.start - 20, 0):exc.end + 20]!r} is not valid "
                      "Unicode text (it contains a lone surrogate)")


def _bad_number() -> Exception:
    """A Python integer beyond SQLite's 64-bit INTEGER (a huge limit, offset or seq)."""
    from ..errors import InvalidValue
    return InvalidValue("a number in the request is outside the 64-bit integer range "
                        "(-2**63 to 2**63 - 1) that the database stores")


def _storage_error(exc: BaseException, url: str) -> Exception:
    from ..errors import StorageError
    return StorageError(f"the database engine failed on {url}: {exc}; nothing was written "
                        "(free disk space, check the disk or retry when the lock is free)")


class SQLiteDatabase:
    """A SQLite connection with palimpsest's pragmas and transaction discipline."""

    def __init__(self, path: str, *, durability: str = "normal", timeout: float = 30.0) -> None:
        self.url = path
        self.dialect: Dialect = SQLiteDialect()
        self.tracer: Tracer | None = None
        self._lock = threading.RLock()
        self._depth = 0
        self._after: list[Callable[[], None]] = []
        self._deadlines: dict[int, float] = {}  # thread -> monotonic time limit
        self._marks: list[int] = []  # len(self._after) at each open savepoint
        self._conn = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                     check_same_thread=False)
        self._conn.execute("PRAGMA foreign_keys=OFF")
        self._conn.create_function("regexp", 2, _regexp, deterministic=True)  # query filters
        if path != ":memory:" and not path.startswith("file::memory:"):
            self._conn.execute("PRAGMA journal_mode=WAL")
        sync = {"full": "FULL", "normal": "NORMAL", "off": "OFF"}.get(durability)
        if sync is None:
            raise InvalidValue(f"durability must be 'full', 'normal' or 'off', not {durability!r}")
        self._conn.execute(f"PRAGMA synchronous={sync}")
        self._conn.execute("PRAGMA cache_size=-65536")
        self._conn.execute("PRAGMA temp_store=MEMORY")
        self._conn.execute("PRAGMA mmap_size=268435456")
        self._checkpointer: _Checkpointer | None = None
        if path != ":memory:" and not path.startswith("file::memory:"):
            # Commits should not pay for copying the WAL back into the database file (and its
            # fsync): a background thread checkpoints instead. It cannot reset the WAL while
            # commits keep coming, so past 8,192 pages (32 MB) the writer checkpoints itself,
            # which bounds the WAL. Durability is unchanged.
            self._conn.execute("PRAGMA wal_autocheckpoint=8192")
            self._checkpointer = _Checkpointer(path, timeout)

    def _trace(self, sql: str, params: Params) -> None:
        if self.tracer is not None:
            self.tracer(sql, params)

    def one(self, sql: str, params: Params = ()) -> Row | None:
        self._trace(sql, params)
        with self._lock:
            try:
                row: Row | None = self._conn.execute(sql, params).fetchone()
            except UnicodeEncodeError as exc:
                raise _bad_text(exc) from exc
            except OverflowError as exc:
                raise _bad_number() from exc
            return row

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        self._trace(sql, params)
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except UnicodeEncodeError as exc:
                raise _bad_text(exc) from exc
            except OverflowError as exc:
                raise _bad_number() from exc

    def iterate(self, sql: str, params: Params = ()) -> Iterator[Row]:
        # Rows are fetched in one go: a View's rows never change, and holding a cursor open
        # across user code would keep the lock.
        return iter(self.all(sql, params))

    def run(self, sql: str, params: Params = ()) -> int:
        self._trace(sql, params)
        with self._lock:
            try:
                return self._conn.execute(sql, params).rowcount
            except UnicodeEncodeError as exc:
                raise _bad_text(exc) from exc
            except OverflowError as exc:
                raise _bad_number() from exc

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        self._trace(sql, ())
        with self._lock:
            try:
                self._conn.executemany(sql, rows)
            except UnicodeEncodeError as exc:
                raise _bad_text(exc) from exc
            except OverflowError as exc:
                raise _bad_number() from exc

    def script(self, sql: str) -> None:
        # executescript() would COMMIT first; run statements one by one inside write().
        with self._lock:
            for statement in sql.split(";"):
                if statement.strip():
                    self._conn.execute(statement)

    def in_write(self) -> bool:
        return self._depth > 0

    def lock(self, name: str) -> None:
        """BEGIN IMMEDIATE already holds the one write lock."""

    @contextmanager
    def write(self) -> Iterator[None]:
        # Engine failures (disk full, I/O error, lock timeout, damaged file) become
        # StorageError after the rollback, so callers see one clear, typed error.
        with self._lock:
            try:
                if self._depth == 0:
                    self._conn.execute("BEGIN IMMEDIATE")
                else:
                    self._conn.execute(f"SAVEPOINT sp{self._depth}")
            except sqlite3.Error as exc:
                raise _storage_error(exc, self.url) from exc
            self._depth += 1
            self._marks.append(len(self._after))
            try:
                yield
            except BaseException as exc:
                self._depth -= 1
                del self._after[self._marks.pop():]
                try:
                    if self._depth == 0:
                        self._conn.execute("ROLLBACK")
                    else:
                        self._conn.execute(f"ROLLBACK TO sp{self._depth}")
                        self._conn.execute(f"RELEASE sp{self._depth}")
                except sqlite3.Error:
                    if self._conn.in_transaction and self._depth == 0:
                        raise
                    # SQLite already rolled back by itself (e.g. after an I/O error)
                if _is_engine_failure(exc):
                    raise _storage_error(exc, self.url) from exc
                raise
            self._depth -= 1
            self._marks.pop()
            try:
                if self._depth == 0:
                    self._conn.execute("COMMIT")
                    if self._checkpointer is not None:
                        self._checkpointer.dirty.set()
                else:
                    self._conn.execute(f"RELEASE sp{self._depth}")
            except sqlite3.Error as exc:
                del self._after[:]
                if self._depth == 0 and self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise _storage_error(exc, self.url) from exc
            ready = self._after[:] if self._depth == 0 else []
            if ready:
                del self._after[:]
        for callback in ready:
            callback()

    @contextmanager
    def deadline(self, seconds: float | None) -> Iterator[None]:
        if seconds is None:
            yield
            return
        me = threading.get_ident()
        with self._lock:
            if not self._deadlines:  # the handler costs a little: install it only when needed
                self._conn.set_progress_handler(self._past_deadline, 1000)
            self._deadlines[me] = time.monotonic() + seconds
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise QueryTimeout(f"the query ran past its limit of {seconds:g} s; narrow it "
                                   "(a filter on a declared index, a smaller limit)") from None
            raise
        finally:
            with self._lock:
                self._deadlines.pop(me, None)
                if not self._deadlines:
                    self._conn.set_progress_handler(None, 0)

    def _past_deadline(self) -> int:
        limit = self._deadlines.get(threading.get_ident())
        return 1 if limit is not None and time.monotonic() > limit else 0

    def after_commit(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if self._depth > 0:
                self._after.append(callback)
                return
        callback()

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
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._lock:
            self._conn.close()

    @property
    def raw(self) -> Any:
        """The underlying sqlite3 connection (tests and tools only)."""
        return self._conn


class _Checkpointer:
    """Copies the WAL back into the database file from a background thread.

    Runs a PASSIVE checkpoint (never waits for readers or blocks writers) at most every
    ``interval`` seconds after commits, on its own connection, and a last one on close.
    """

    def __init__(self, path: str, timeout: float, interval: float = 0.5) -> None:
        self._path = path
        self._timeout = timeout
        self._interval = interval
        self.dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="palimpsest-checkpoint",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None,
                               check_same_thread=False)
        try:
            while not self._stopping.is_set():
                if self.dirty.wait(self._interval) and not self._stopping.is_set():
                    self.dirty.clear()
                    self._checkpoint(conn)
                    self._stopping.wait(self._interval)
            self._checkpoint(conn)
        finally:
            conn.close()

    @staticmethod
    def _checkpoint(conn: sqlite3.Connection) -> None:
        # busy or closed: the next round (or the next opener) checkpoints
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def stop(self) -> None:
        self._stopping.set()
        self.dirty.set()
        self._thread.join(timeout=5)
