"""The embedded backend: one SQLite file (WAL) or ``:memory:``.

One connection per Repository handle, guarded by a re-entrant lock so a handle can be shared by
threads. Write transactions use ``BEGIN IMMEDIATE`` so the write lock is taken up front (no
deadlock-prone lock upgrades); nested ``write()`` calls become savepoints.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from ..errors import InvalidValue, LockTimeout, QueryTimeout, StorageError
from . import regex
from .base import (
    Capabilities,
    Dialect,
    Nesting,
    Params,
    Row,
    Tracer,
    bad_text,
    current_lock_wait,
)
from .fulltext import FullText, SQLiteFullText


def _path_literal(path: Sequence[str]) -> str:
    parts = "".join('."' + p.replace('"', '\\"') + '"' for p in path)
    return "'$" + parts.replace("'", "''") + "'"


class SQLiteDialect:
    name = "sqlite"
    fulltext: FullText = SQLiteFullText()
    blob = "BLOB"
    bigint = "INTEGER"
    autoid = "INTEGER PRIMARY KEY"
    seq_ddl = ""
    next_seq = "SELECT coalesce(max(seq), 0) + 1 FROM commits"  # one writer at a time
    sync_seq = ""

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
        return f"({expr} REGEXP ?)"  # RE2 (storage/regex.py), registered as regexp()

    def regex_pattern(self, pattern: str) -> str:
        return pattern

    def json_index_exprs(self, column: str, path: Sequence[str]) -> list[str]:
        return [self.json_text(column, path)]

    def index_hint(self, index: str) -> str:
        return f"INDEXED BY {index}"


def _is_engine_failure(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


def _is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock past the busy timeout."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED))
    return "database is locked" in str(exc)


def _refused(exc: UnicodeEncodeError | OverflowError) -> Exception:
    """The typed error for a value the engine cannot take."""
    if isinstance(exc, UnicodeEncodeError):
        return bad_text(exc)
    # a Python integer beyond SQLite's 64-bit INTEGER (a huge limit, offset or seq)
    return InvalidValue("a number in the request is outside the 64-bit integer range "
                        "(-2**63 to 2**63 - 1) that the database stores")


def _storage_error(exc: BaseException, url: str) -> Exception:
    return StorageError(f"the database engine failed on {url}: {exc}; nothing was written "
                        "(free disk space, check the disk or retry when the lock is free)")


class SQLiteDatabase:
    """A SQLite database with palimpsest's pragmas and transaction discipline.

    Writes go through one writer connection, used by one thread at a time (the thread holding
    the write lock, :meth:`write`). Reads outside a write use the calling thread's own reader
    connection (opened on its first read, closed when the thread ends or on :meth:`close`), so
    a long write, or a write waiting for another process's lock, never holds up readers (WAL:
    each reader sees the last committed state). A thread inside :meth:`write` reads on the
    writer connection and sees its own uncommitted rows. ``:memory:`` databases have a single
    connection shared under the lock.
    """

    def __init__(self, path: str, *, durability: str = "normal", timeout: float = 30.0) -> None:
        self.url = path
        self.dialect: Dialect = SQLiteDialect()
        self.capabilities = Capabilities(file_backup=True, vacuum=True,
                                         postgres_json=False)
        self.tracer: Tracer | None = None
        sync = {"full": "FULL", "normal": "NORMAL", "off": "OFF"}.get(durability)
        if sync is None:
            raise InvalidValue(f"durability must be 'full', 'normal' or 'off', not {durability!r}")
        self._path = path
        self._timeout = timeout
        self._shared = path == ":memory:" or path.startswith("file::memory:")
        self.created = self._shared or not os.path.exists(path)
        self._wlock = threading.RLock()  # the writer connection, one thread at a time
        self._committed = 0  # write transactions committed through this handle
        self._owner: int | None = None  # the thread inside write()
        self._tx: Nesting | None = None  # the open write transaction's savepoints, callbacks
        self._version: int | None = None  # the writer's PRAGMA data_version in this write
        self._version_cursor: sqlite3.Cursor | None = None
        self._local = _ThreadState()  # this thread's reader connection and deadline
        self._readers: weakref.WeakSet[_Connection] = weakref.WeakSet()  # to close them all
        self._readers_lock = threading.Lock()
        self._busy_ms = int(timeout * 1000)
        self._conn = self._connect()
        if not self._shared:
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={sync}")
        self._checkpointer: _Checkpointer | None = None
        if not self._shared:
            # Commits should not pay for copying the WAL back into the database file (and its
            # fsync): a background thread checkpoints instead. It cannot reset the WAL while
            # commits keep coming, so past 8,192 pages (32 MB) the writer checkpoints itself,
            # which bounds the WAL. Durability is unchanged.
            self._conn.execute("PRAGMA wal_autocheckpoint=8192")
            self._checkpointer = _Checkpointer(path, timeout)

    def _connect(self, cache_kb: int = 65536) -> _Connection:
        conn: _Connection = sqlite3.connect(self._path, timeout=self._timeout,
                                            isolation_level=None, check_same_thread=False,
                                            factory=_Connection)
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.create_function("regexp", 2, regex.search, deterministic=True)  # query filters
        conn.execute(f"PRAGMA cache_size=-{cache_kb}")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA mmap_size=268435456")
        return conn

    def _trace(self, sql: str, params: Params) -> None:
        if self.tracer is not None:
            self.tracer(sql, params)

    # -- connections ---------------------------------------------------------------------
    def _mine(self) -> bool:
        """This thread is inside write() (only it sets or clears ``_owner`` to itself)."""
        return self._owner == threading.get_ident()

    def _reader(self) -> sqlite3.Connection | None:
        """This thread's reader connection; None when reads must use the writer connection
        (a shared in-memory database, or this thread is inside write())."""
        if self._shared or self._owner == threading.get_ident():
            return None
        conn = self._local.conn
        if conn is None:
            conn = self._local.conn = self._connect(cache_kb=16384)
            with self._readers_lock:
                self._readers.add(conn)
        return conn

    def _read(self, sql: str, params: Params, fetch_all: bool) -> Any:
        self._trace(sql, params)
        conn = self._reader()
        if conn is None:
            with self._wlock:
                return self._execute(self._conn, sql, params, fetch_all)
        return self._execute(conn, sql, params, fetch_all)

    def _execute(self, conn: sqlite3.Connection, sql: str, params: Params,
                 fetch_all: bool) -> Any:
        if self._local.limit is None:  # no deadline: the short path of _statement
            try:
                cursor = conn.execute(sql, params)
                return cursor.fetchall() if fetch_all else cursor.fetchone()
            except (UnicodeEncodeError, OverflowError) as exc:
                raise _refused(exc) from exc
        with self._statement(conn):
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if fetch_all else cursor.fetchone()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The writer connection for statements outside or inside write()."""
        if self._mine():
            with self._statement(self._conn):
                yield self._conn
            return
        self._acquire(self._wait_limit())
        try:
            with self._statement(self._conn):
                yield self._conn
        finally:
            self._committed += 1  # a statement outside write() commits by itself
            self._wlock.release()

    @contextmanager
    def _statement(self, conn: sqlite3.Connection) -> Iterator[None]:
        """One statement on ``conn``: the deadline's progress handler installed, values the
        engine cannot take (lone surrogates, integers past 64 bits) refused with typed errors."""
        limited = self._local.limit is not None
        if limited:  # Database.deadline
            conn.set_progress_handler(self._past_deadline, 1000)
        try:
            yield
        except (UnicodeEncodeError, OverflowError) as exc:
            raise _refused(exc) from exc
        finally:
            if limited:
                conn.set_progress_handler(None, 0)

    def _wait_limit(self) -> float:
        wait = current_lock_wait()
        return self._timeout if wait is None else max(wait, 0.0)

    def _acquire(self, wait: float) -> None:
        """Take the in-process write lock within ``wait`` seconds, or raise LockTimeout."""
        if not self._wlock.acquire(timeout=wait):
            raise LockTimeout.waited(self.url, wait)

    # -- statements ----------------------------------------------------------------------
    def one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._read(sql, params, False)
        return row

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        rows: list[Row] = self._read(sql, params, True)
        return rows

    def iterate(self, sql: str, params: Params = ()) -> Iterator[Row]:
        # Rows are fetched in one go: a View's rows never change, and holding a cursor open
        # across user code would pin a connection.
        return iter(self.all(sql, params))

    def run(self, sql: str, params: Params = ()) -> int:
        self._trace(sql, params)
        if self._owner == threading.get_ident() and self._local.limit is None:
            try:  # inside write(), no deadline: the short path of _writing
                return self._conn.execute(sql, params).rowcount
            except (UnicodeEncodeError, OverflowError) as exc:
                raise _refused(exc) from exc
        with self._writing() as conn:
            return conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        self._trace(sql, ())
        if self._owner == threading.get_ident() and self._local.limit is None:
            try:
                self._conn.executemany(sql, rows)
                return
            except (UnicodeEncodeError, OverflowError) as exc:
                raise _refused(exc) from exc
        with self._writing() as conn:
            conn.executemany(sql, rows)

    def script(self, sql: str) -> None:
        # executescript() would COMMIT first; run statements one by one inside write().
        with self._writing() as conn:
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def in_write(self) -> bool:
        return self._mine()

    def change_token(self) -> object | None:
        # PRAGMA data_version changes when another connection commits; this handle's own
        # commits (the writer connection, or the one shared in-memory connection) count too.
        if self._owner == threading.get_ident():
            return None
        local = self._local
        cursor = local.version_cursor
        if cursor is None:
            conn = self._reader()
            if conn is None:  # the one shared in-memory connection
                with self._wlock:
                    row = self._conn.execute("PRAGMA data_version").fetchone()
                return (self._committed, row[0])
            cursor = local.version_cursor = conn.cursor()
        return (self._committed, cursor.execute("PRAGMA data_version").fetchone()[0])

    def write_token(self, *, after_commit: bool = False) -> object | None:
        # (commits through this handle, PRAGMA data_version of the writer connection: moves
        # when another connection commits, read once per transaction since nobody else can
        # commit while it holds the lock, rows changed by the writer connection so far)
        if self._owner != threading.get_ident() or self._tx is None:
            return None
        version = self._version
        if version is None:
            cursor = self._version_cursor
            if cursor is None:
                cursor = self._version_cursor = self._conn.cursor()
            version = self._version = cursor.execute("PRAGMA data_version").fetchone()[0]
        return (self._committed + after_commit, version, self._conn.total_changes)

    def lock(self, name: str) -> None:
        """BEGIN IMMEDIATE already holds the one write lock."""

    @contextmanager
    def write(self) -> Iterator[None]:
        # Engine failures (disk full, I/O error, damaged file) become StorageError after the
        # rollback, so callers see one clear, typed error; waiting longer than the lock wait
        # (storage.base.lock_wait, else the busy timeout) for another writer is LockTimeout.
        if self._mine() and self._tx is not None:
            with self._tx.savepoint():
                yield
            return
        wait = self._wait_limit()
        started = time.monotonic()
        self._acquire(wait)
        try:
            self._owner = threading.get_ident()
            left = max(int((wait - (time.monotonic() - started)) * 1000), 0)
            try:
                if left != self._busy_ms:
                    self._conn.execute(f"PRAGMA busy_timeout={left}")
                    self._busy_ms = left
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                if _is_busy(exc):
                    raise LockTimeout.waited(self.url, wait) from None
                raise _storage_error(exc, self.url) from exc
            tx = yield from self._transaction()
        finally:
            self._owner = None
            self._wlock.release()
        tx.committed()

    def _transaction(self) -> Generator[None, None, Nesting]:
        """The body of a top-level write() once BEGIN IMMEDIATE has run; returns its
        bookkeeping, whose callbacks run once the lock is released."""
        tx = self._tx = Nesting(self._in_transaction)
        self._version = None
        try:
            yield
        except BaseException as exc:
            self._tx = None
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                if self._conn.in_transaction:
                    raise
                # SQLite already rolled back by itself (e.g. after an I/O error)
            if _is_engine_failure(exc):
                if _is_busy(exc):
                    raise LockTimeout.waited(self.url, self._wait_limit()) from exc
                raise _storage_error(exc, self.url) from exc
            raise
        self._tx = None
        try:
            self._conn.execute("COMMIT")
            self._committed += 1
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise _storage_error(exc, self.url) from exc
        if self._checkpointer is not None:
            self._checkpointer.dirty.set()
        return tx

    def _in_transaction(self, sql: str) -> None:
        """A statement of the open write transaction (savepoints)."""
        try:
            self._conn.execute(sql)
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.url) from exc

    @contextmanager
    def deadline(self, seconds: float | None) -> Iterator[None]:
        if seconds is None:
            yield
            return
        previous = self._local.limit
        self._local.limit = time.monotonic() + seconds
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise QueryTimeout(f"the query ran past its limit of {seconds:g} s; narrow it "
                                   "(a filter on a declared index, a smaller limit)") from None
            raise
        finally:
            self._local.limit = previous

    def _past_deadline(self) -> int:
        limit = self._local.limit
        return 1 if limit is not None and time.monotonic() > limit else 0

    def after_commit(self, callback: Callable[[], None]) -> None:
        tx = self._tx
        if tx is not None and self._mine():
            tx.defer(callback)
            return
        callback()

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._wlock if self._shared else contextlib.nullcontext():
            conn = self._conn if self._shared else self._reader()
            if conn is None or conn.in_transaction:  # inside write(), or a nested read()
                yield
                return
            conn.execute("BEGIN")
            try:
                yield
            finally:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("COMMIT")

    def secure_delete(self, on: bool) -> None:
        self.run(f"PRAGMA secure_delete={'ON' if on else 'OFF'}")

    def truncate_log(self) -> bool:
        try:
            row = self.one("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception:  # another connection holds a read transaction: try again later
            return False
        return bool(row is not None and row[0] == 0)

    def backup_to(self, path: str) -> None:
        """A consistent online copy of the whole database (SQLite's backup API)."""
        with self._writing() as conn:
            target = sqlite3.connect(path)
            try:
                conn.backup(target)
            finally:
                target.close()

    def drop(self) -> None:
        """Close, then delete the file (and its WAL)."""
        self.close()
        for suffix in ("", "-wal", "-shm") if not self._shared else ():
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._path + suffix)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._readers_lock:
            readers = list(self._readers)
            self._readers = weakref.WeakSet()
        for conn in readers:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        with self._wlock:
            self._conn.close()


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (the set of a database's readers)."""


class _ThreadState(threading.local):
    """Per thread: its reader connection (closed with the thread) and its query deadline."""

    conn: _Connection | None = None
    limit: float | None = None
    version_cursor: sqlite3.Cursor | None = None  # PRAGMA data_version (change_token)


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
