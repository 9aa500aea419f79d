"""The shared backend: one repository in a PostgreSQL schema, used by many processes and machines.

psycopg 3 with a connection pool. Outside a transaction every statement runs on a pooled
connection in autocommit mode (each sees the latest committed state). ``write()`` binds one
connection to the calling thread for the whole transaction (READ COMMITTED; nested calls are
savepoints); ``read()`` binds one in REPEATABLE READ READ ONLY, so every query inside sees one
snapshot. Readers never block writers: a View only reads rows at or below its commit's seq,
which never change.

Writers serialise through transaction-scoped advisory locks (:meth:`PostgresDatabase.lock`):
one per branch and one per line (commits to one branch land one after another, each on the
latest head). Commit seqs come from a sequence with no lock held to COMMIT, so writers on
different branches never wait for each other (docs/postgres.md, "Many writers"). Every write
transaction that changed something sends a NOTIFY on the repository's channel;
:meth:`PostgresDatabase.wait_for_notification` lets watchers in other processes wake up at once
(they still re-read: a notification can be missed). With ``replica=`` URLs, reads outside a
write transaction go to a streaming replica (``storage/replicas.py``).

URL: ``postgresql://user[:password]@host[:port]/dbname[?schema=NAME&pool_size=N&...]``;
``schema`` (default ``public``) lets several repositories share one database, ``pool_size``
bounds the connections of one handle; other parameters go to libpq. Errors name the server and
database, never the password.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pgerrors
from psycopg.adapt import Loader
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import (
    ConcurrentCommit,
    DatabaseUnavailable,
    InvalidValue,
    LockTimeout,
    QueryError,
    QueryTimeout,
    ReadOnly,
    StorageError,
)
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
from .postgres_sql import PostgresDialect, adapt_ddl, translate
from .replicas import LSN_SQL, Replicas

_OPTIONS = ("schema", "pool_size", "replica", "replica_wait")
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_ITERSIZE = 2000
_COPY_FROM = 64  # rows in one many() call from which a plain INSERT becomes a COPY
_PLAIN_INSERT = re.compile(r"^\s*INSERT INTO (\w+) \(([\w\s,]+)\) VALUES \(\?(?:\s*,\s*\?)*\)\s*$",
                           re.IGNORECASE)


class _NumericLoader(Loader):
    """numeric -> int when integral (as SQLite returns sums of integers), else float."""

    def load(self, data: Any) -> Any:
        text = bytes(data).decode()
        try:
            return int(text)
        except ValueError:
            return float(text)


# -- connection settings -----------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A parsed URL: what to connect to and how to describe it (without the password)."""

    conninfo: str
    schema: str
    host: str
    port: str
    dbname: str
    password: str | None
    pool_size: int
    display: str = field(default="")
    replicas: tuple[str, ...] = ()
    """``replica=`` URLs (docs/postgres.md, "Read replicas")."""
    replica_wait: float = 1.0

    @property
    def where(self) -> str:
        return f"PostgreSQL server {self.host}:{self.port}, database {self.dbname!r}"


def parse_url(url: str) -> Target:
    """Split palimpsest's options (``schema``, ``pool_size``) from a libpq URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise InvalidValue(f"not a PostgreSQL URL (postgresql://user@host/db): {parts.scheme}://")
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = {k: v for k, v in query if k in _OPTIONS}
    replicas = tuple(v for k, v in query if k == "replica" and v)
    try:
        replica_wait = float(options.get("replica_wait", "1"))
    except ValueError:
        raise InvalidValue("replica_wait must be a number of seconds") from None
    if not replica_wait >= 0:
        raise InvalidValue("replica_wait must be zero or more seconds")
    rest = [(k, v) for k, v in query if k not in _OPTIONS]
    schema = options.get("schema", "public") or "public"
    if not _SCHEMA_NAME.match(schema):
        raise InvalidValue(f"schema {schema!r} is not valid: use letters, digits and _ "
                           "(not starting with a digit, at most 63 characters)")
    try:
        pool_size = int(options.get("pool_size", "10"))
    except ValueError:
        raise InvalidValue("pool_size must be a whole number") from None
    if pool_size < 1:
        raise InvalidValue("pool_size must be at least 1")
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), ""))
    host = parts.hostname or dict(rest).get("host") or "localhost"
    port = str(parts.port or dict(rest).get("port") or 5432)
    dbname = unquote(parts.path.lstrip("/")) or dict(rest).get("dbname") or \
        unquote(parts.username or "") or "postgres"
    password = unquote(parts.password) if parts.password else dict(rest).get("password")
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(":" + parts.password + "@", ":***@", 1)
    shown = [(k, "***" if k == "password" else parse_url(v).display if k == "replica" else v)
             for k, v in query]
    display = urlunsplit((parts.scheme, netloc, parts.path, urlencode(shown, quote_via=quote),
                          ""))
    return Target(conninfo=conninfo, schema=schema, host=host, port=port, dbname=dbname,
                  password=password, pool_size=pool_size, display=display, replicas=replicas,
                  replica_wait=replica_wait)


def _key(schema: str, name: str) -> int:
    """A signed 64-bit advisory lock key for ``name`` in this repository (schema)."""
    digest = hashlib.blake2b(f"palimpsest\0{schema}\0{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def channel_name(schema: str) -> str:
    """The LISTEN/NOTIFY channel of the repository in ``schema``."""
    return "palimpsest_" + hashlib.blake2b(schema.encode(), digest_size=8).hexdigest()


class _Bound:
    """The connection a thread's transaction holds."""

    __slots__ = ("conn", "dirty", "seq", "tx", "xid")

    def __init__(self, conn: psycopg.Connection[Any], tx: Nesting | None) -> None:
        self.conn = conn
        self.tx = tx  # None in a read transaction
        self.dirty = False
        self.seq: int | None = None
        self.xid: str | None = None


# -- the database ------------------------------------------------------------------------
class PostgresDatabase:
    """A pool of connections to one repository (one schema of one PostgreSQL database)."""

    def __init__(self, url: str, *, connect_timeout: float = 10.0,
                 replicas: Sequence[str] = ()) -> None:
        self.target = parse_url(url)
        self.url = self.target.display
        self.schema = self.target.schema
        self.dialect: Dialect = PostgresDialect()
        self.capabilities = Capabilities(file_backup=False, vacuum=False,
                                         postgres_json=True)
        self.tracer: Tracer | None = None
        self.channel = channel_name(self.schema)
        self._local = threading.local()
        self._closed = False
        self.created = False
        self._listener: _Listener | None = None
        self._listener_lock = threading.Lock()
        self._connect_timeout = connect_timeout
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self.target.conninfo, min_size=1, max_size=self.target.pool_size,
            kwargs=self._connect_kwargs(), configure=self._configure, open=False,
            timeout=60.0, name=f"palimpsest-{self.schema}")
        self.replicas: Replicas | None = None
        """Where reads go when the handle has streaming replicas (``replica=`` URLs)."""
        self._bootstrap()
        urls = [*self.target.replicas, *replicas]
        if urls:
            infos = [parse_url(u).conninfo for u in urls]
            self.replicas = Replicas(infos, pool_size=self.target.pool_size,
                                     wait=self.target.replica_wait,
                                     kwargs=self._connect_kwargs(), configure=self._configure,
                                     name=f"palimpsest-{self.schema}")
            row = self.one(LSN_SQL)  # the primary: replicas serve reads once they have
            self.replicas.wrote(int(row[0]) if row else 0)  # what opening wrote or read

    # -- connections ---------------------------------------------------------------------
    def _connect_kwargs(self) -> dict[str, Any]:
        return {"autocommit": True, "connect_timeout": max(1, int(self._connect_timeout)),
                "application_name": "palimpsest"}

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.adapters.register_loader("numeric", _NumericLoader)
        conn.execute(f'SET search_path TO "{self.schema}"')

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.target.conninfo, **self._connect_kwargs())
        except psycopg.Error as exc:
            detail = self._scrub(" ".join(str(exc).split()) or type(exc).__name__)
            raise DatabaseUnavailable(f"cannot connect to {self.target.where}: {detail}") \
                from None
        self._configure(conn)
        return conn

    def _bootstrap(self) -> None:
        """Create or migrate the tables under a lock, so processes opening a new repository at
        the same moment don't race."""
        from .schema import create_schema

        conn = self._connect()  # fail fast, with a clear message, when unreachable
        try:
            try:
                # look first: opening an existing repository needs no CREATE privilege
                self.created = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                                            (self.schema,)).fetchone() is None
                if self.created:
                    with suppress(pgerrors.UniqueViolation):  # another process was quicker
                        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                # held for the session: released when this connection closes, come what may
                conn.execute("SELECT pg_advisory_lock(%s)", (_key(self.schema, "schema"),))
            except psycopg.Error as exc:
                raise self._error(exc, "creating the schema") from None
            try:
                self._pool.open(wait=True, timeout=self._connect_timeout)
            except PoolTimeout:
                self._pool.close()
                raise DatabaseUnavailable(
                    f"cannot connect to {self.target.where}: timed out after "
                    f"{self._connect_timeout:g} s") from None
            try:
                create_schema(self)
            except BaseException:
                self._pool.close()
                raise
        finally:
            conn.close()

    def _scrub(self, text: str) -> str:
        password = self.target.password
        if password:
            text = text.replace(password, "***")
        return text

    def _error(self, exc: BaseException, doing: str) -> Exception:
        """A palimpsest error for a driver error: connection problems name the server and
        database; lock conflicts are ConcurrentCommit or LockTimeout. Never the password."""
        detail = self._scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else
                             type(exc).__name__)
        if isinstance(exc, pgerrors.LockNotAvailable):  # lock_timeout (storage.base.lock_wait)
            return LockTimeout.waited(self.target.where, current_lock_wait())
        if isinstance(exc, pgerrors.SerializationFailure | pgerrors.DeadlockDetected):
            return ConcurrentCommit(f"a concurrent writer got in the way ({detail}); retry")
        if isinstance(exc, pgerrors.InvalidRegularExpression):
            return QueryError(f"invalid regular expression for PostgreSQL: {detail} (see "
                              "docs/query.md for the regex dialect)")
        if isinstance(exc, pgerrors.NumericValueOutOfRange):  # a huge limit, offset or seq
            return InvalidValue(f"a number in the request is out of range: {detail}")
        if isinstance(exc, pgerrors.QueryCanceled):
            return QueryTimeout(f"the query ran past its time limit on {self.target.where}; "
                                "narrow it (a filter on a declared index, a smaller limit)")
        if isinstance(exc, PoolTimeout):
            return DatabaseUnavailable(f"{self.target.where}: {doing} failed: no free "
                                       "connection in the pool (raise ?pool_size=)")
        if _broken(exc) or isinstance(exc, psycopg.InterfaceError):
            return DatabaseUnavailable(f"{self.target.where}: {doing} failed: {detail}")
        if isinstance(exc, psycopg.OperationalError):  # disk full, I/O error, cancelled
            return StorageError(f"the database engine failed on {self.target.where}: "
                                f"{detail}; nothing was written")
        if isinstance(exc, psycopg.Error):
            return exc  # a bug in the SQL: the server's message has no password in it
        return DatabaseUnavailable(f"{self.target.where}: {doing} failed: {detail}")

    def _bound(self) -> _Bound | None:
        bound: _Bound | None = getattr(self._local, "bound", None)
        return bound

    def _trace(self, sql: str, params: Params) -> None:
        if self.tracer is not None:
            self.tracer(sql, params)

    def _execute(self, sql: str, params: Params, fetch: str) -> Any:
        """Run one statement on the thread's transaction connection or a pooled one;
        ``fetch``: ``"one"``, ``"all"`` or ``"count"`` (rows changed)."""
        self._trace(sql, params)
        query = translate(sql)
        bound = self._bound()
        timeout = getattr(self._local, "timeout_ms", None)
        limit = f"SET LOCAL statement_timeout = {timeout}"  # Database.deadline
        if bound is not None:
            try:
                if timeout is not None:
                    bound.conn.execute(limit)
                cur = bound.conn.execute(query, params)
            except psycopg.Error as exc:
                raise self._error(exc, "a query") from None
            except UnicodeEncodeError as exc:
                raise bad_text(exc) from None
            bound.dirty = bound.dirty or fetch == "count"
            return _fetch(cur, fetch)
        retry = fetch != "count"  # a read can be re-run on a fresh connection; a write can't
        if retry and self.replicas is not None and _is_read(sql):
            done, result = self._on_replica(query, params, fetch, limit if timeout else None)
            if done:
                return result
        while True:
            try:
                with self._pool.connection() as conn, \
                        conn.transaction() if timeout is not None else nullcontext():
                    if timeout is not None:
                        conn.execute(limit)
                    return _fetch(conn.execute(query, params), fetch)
            except UnicodeEncodeError as exc:
                raise bad_text(exc) from None
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if retry and _broken(exc):
                    retry = False
                    self._pool.check()
                    continue
                raise self._error(exc, "a query") from None
            except (psycopg.Error, PoolTimeout) as exc:
                raise self._error(exc, "a query") from None

    def _on_replica(self, query: str, params: Params, fetch: str,
                    limit: str | None) -> tuple[bool, Any]:
        """Run a read on a replica that has this handle's writes: ``(True, result)``, or
        ``(False, None)`` when it must run on the primary."""
        assert self.replicas is not None
        try:
            with self.replicas.connection() as picked:
                if picked is None:
                    return False, None
                _, conn = picked
                with conn.transaction() if limit else nullcontext():
                    if limit:
                        conn.execute(limit)
                    return True, _fetch(conn.execute(query, params), fetch)
        except UnicodeEncodeError as exc:
            raise bad_text(exc) from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if isinstance(exc, pgerrors.QueryCanceled):
                raise self._error(exc, "a query") from None
            return False, None  # the replica went away: the primary answers
        except (pgerrors.ReadOnlySqlTransaction, pgerrors.FeatureNotSupported):
            return False, None  # not a plain read after all
        except pgerrors.SerializationFailure:
            return False, None  # cancelled by a conflict with the replica's replay
        except psycopg.Error as exc:
            raise self._error(exc, "a query") from None

    # -- the Database protocol -----------------------------------------------------------
    def one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._execute(sql, params, "one")
        return row

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        rows: list[Row] = self._execute(sql, params, "all")
        return rows

    def iterate(self, sql: str, params: Params = ()) -> Iterator[Row]:
        """Rows one batch at a time inside a transaction (a server-side cursor), else all
        at once."""
        bound = self._bound()
        if bound is None:
            return iter(self.all(sql, params))
        return self._stream(bound, sql, params)

    def _stream(self, bound: _Bound, sql: str, params: Params) -> Iterator[Row]:
        self._trace(sql, params)
        self._cursors = getattr(self, "_cursors", 0) + 1
        cursor = bound.conn.cursor(name=f"palimpsest_c{self._cursors}")
        cursor.itersize = _ITERSIZE
        try:
            cursor.execute(translate(sql), params)
            while True:
                rows = cursor.fetchmany(_ITERSIZE)
                if not rows:
                    break
                yield from rows
        except psycopg.Error as exc:
            raise self._error(exc, "a query") from None
        except UnicodeEncodeError as exc:
            raise bad_text(exc) from None
        finally:
            # Close only while the same transaction is open on this thread: the connection
            # may serve someone else by now, and a transaction's end closes cursors anyway.
            if self._bound() is bound and not bound.conn.broken:
                with suppress(psycopg.Error):
                    cursor.close()

    def run(self, sql: str, params: Params = ()) -> int:
        count: int = self._execute(sql, params, "count")
        bound = self._bound()
        if bound is not None and sql.lstrip()[:19].upper() == "INSERT INTO COMMITS" and params:
            bound.seq = params[0] if isinstance(params[0], int) else bound.seq
        return count

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        self._trace(sql, ())
        batch = list(rows)
        if not batch:
            return
        query = translate(sql)
        bound = self._bound()
        if bound is None:
            with self.write():
                self.many(sql, batch)
            return
        copy = _PLAIN_INSERT.match(sql) if len(batch) >= _COPY_FROM else None
        try:
            with bound.conn.cursor() as cur:
                if copy is not None:  # bulk loads: COPY is several times faster
                    with cur.copy(f"COPY {copy.group(1)} ({copy.group(2)}) FROM STDIN") as out:
                        for row in batch:
                            out.write_row(row)
                else:
                    cur.executemany(query, batch)
        except psycopg.Error as exc:
            raise self._error(exc, "a batch write") from None
        except UnicodeEncodeError as exc:
            raise bad_text(exc) from None
        bound.dirty = True

    def script(self, sql: str) -> None:
        """Run DDL; text columns get the bytewise collation SQLite uses."""
        with self.write():
            bound = self._bound()
            assert bound is not None
            self._trace(sql, ())
            try:  # one round trip: no parameters, so the simple protocol runs them all
                bound.conn.execute(adapt_ddl(sql))
            except psycopg.Error as exc:
                raise self._error(exc, "creating tables") from None
            bound.dirty = True

    def in_write(self) -> bool:
        bound = self._bound()
        return bound is not None and bound.tx is not None

    def change_token(self) -> object | None:
        # One round trip: the newest commit, ref move, current branch and rewrite epoch.
        if self.in_write():
            return None
        token = self._token()
        if self.replicas is not None:  # name the server too: reads may come from either
            return self.replicas.source(), token
        return token

    def _token(self) -> object | None:
        # Not max(seq): seqs of different lines commit out of order. A commit raises its
        # line's head_seq, and heads never move back, so the sum grows with every commit.
        return self.one("SELECT l.s, l.n, (SELECT max(id) FROM reflog), "
                        "(SELECT value FROM meta WHERE name = 'head'), "
                        "(SELECT value FROM meta WHERE name = 'rewrites') "
                        "FROM (SELECT sum(head_seq) AS s, count(*) AS n FROM lines) l")

    def write_token(self, *, after_commit: bool = False) -> object | None:
        return None  # no cheap check: other sessions commit without a trace here

    def lock(self, name: str) -> None:
        """Take the named lock (e.g. ``"seq"``, ``"branch:main"``) until the write transaction
        ends: writers holding the same name run one after another."""
        bound = self._bound()
        if bound is None or bound.tx is None:
            raise ReadOnly("lock() needs a write transaction (db.write())")
        self._execute("SELECT pg_advisory_xact_lock(?)", (_key(self.schema, name),), "one")

    @contextmanager
    def write(self) -> Iterator[None]:
        bound = self._bound()
        if bound is not None:
            if bound.tx is None:
                raise ReadOnly("cannot write inside a read transaction")
            with bound.tx.savepoint():
                yield
            return
        wait = current_lock_wait()  # storage.base.lock_wait: bound waits for locks
        limit = "" if wait is None else f"; SET LOCAL lock_timeout = {max(int(wait * 1000), 1)}"
        conn, xid = self._begin("BEGIN ISOLATION LEVEL READ COMMITTED; "
                                "SELECT txid_current()::text" + limit)
        tx = Nesting(lambda sql: self._savepoint(conn, sql))
        bound = _Bound(conn, tx)
        bound.xid = xid
        self._local.bound = bound
        try:
            try:
                yield
            except BaseException:
                self._local.bound = None
                self._end(conn, "ROLLBACK")
                raise
            self._local.bound = None
            self._commit(bound)
        finally:
            self._local.bound = None
            self._release(conn)
        tx.committed()

    @contextmanager
    def deadline(self, seconds: float | None) -> Iterator[None]:
        previous = getattr(self._local, "timeout_ms", None)
        self._local.timeout_ms = None if seconds is None else max(int(seconds * 1000), 1)
        try:
            yield
        finally:
            self._local.timeout_ms = previous

    def after_commit(self, callback: Callable[[], None]) -> None:
        bound = self._bound()
        if bound is not None and bound.tx is not None:
            bound.tx.defer(callback)
        else:
            callback()

    @contextmanager
    def read(self) -> Iterator[None]:
        if self._bound() is not None:
            yield
            return
        if self.replicas is not None:
            with self.replicas.connection() as picked:
                if picked is not None:
                    conn = picked[1]
                    try:
                        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    except psycopg.Error as exc:
                        raise self._error(exc, "starting a transaction") from None
                    yield from self._reading(conn, release=False)
                    return
        conn, _ = self._begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield from self._reading(conn, release=True)

    def _reading(self, conn: psycopg.Connection[Any], *, release: bool) -> Iterator[None]:
        bound = _Bound(conn, None)
        self._local.bound = bound
        try:
            yield
        finally:
            self._local.bound = None
            self._end(conn, "COMMIT")
            if release:
                self._release(conn)

    def _begin(self, statement: str) -> tuple[psycopg.Connection[Any], str | None]:
        """A pooled connection with a transaction begun; a dead pooled connection is replaced
        once (nothing was sent on it yet, so retrying is safe)."""
        for attempt in (1, 2):
            try:
                conn = self._pool.getconn()
            except PoolTimeout as exc:
                raise self._error(exc, "waiting for a connection") from None
            try:
                cur = conn.execute(statement)
                xid = None
                if "txid_current" in statement:
                    cur.nextset()
                    row = cur.fetchone()
                    xid = str(row[0]) if row else None
                return conn, xid
            except psycopg.Error as exc:
                self._release(conn)
                if attempt == 1 and _broken(exc):
                    self._pool.check()
                    continue
                raise self._error(exc, "starting a transaction") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _savepoint(self, conn: psycopg.Connection[Any], statement: str) -> None:
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            raise self._error(exc, "a savepoint") from None

    def _end(self, conn: psycopg.Connection[Any], statement: str) -> None:
        if conn.broken or conn.closed:
            return
        with suppress(psycopg.Error):  # if the connection is gone, the server rolls back
            conn.execute(statement)

    def _commit(self, bound: _Bound) -> None:
        """COMMIT, announcing the change; when the connection drops during COMMIT, ask the
        server whether the transaction landed (it did whole, or not at all)."""
        conn = bound.conn
        try:
            if bound.dirty:  # one round trip: NOTIFY is delivered at COMMIT
                payload = "" if bound.seq is None else str(int(bound.seq))
                tail = "" if self.replicas is None else f"; {LSN_SQL}"
                cur = conn.execute(f"NOTIFY \"{self.channel}\", '{payload}'; COMMIT{tail}")
                if self.replicas is not None:  # read-your-writes: where the commit ended
                    while cur.nextset():
                        pass
                    row = cur.fetchone()
                    if row is not None:
                        self.replicas.wrote(int(row[0]))
            else:
                conn.execute("COMMIT")
        except psycopg.Error as exc:
            if not _broken(exc) or bound.xid is None:
                self._end(conn, "ROLLBACK")
                raise self._error(exc, "commit") from None
            status = self._xact_status(bound.xid)
            if status == "committed":
                return
            raise DatabaseUnavailable(
                f"{self.target.where}: the connection dropped during commit; the server "
                f"reports the transaction {status or 'unknown'}"
                + (": nothing was written" if status == "aborted" else
                   " (it either landed whole or not at all; check repo.log())")) from None

    def _xact_status(self, xid: str) -> str | None:
        try:
            with self._pool.connection() as conn:
                self._pool.check()
                row = conn.execute("SELECT pg_xact_status(%s::xid8)", (xid,)).fetchone()
                return str(row[0]) if row and row[0] is not None else None
        except (psycopg.Error, PoolTimeout):
            return None

    def _release(self, conn: psycopg.Connection[Any]) -> None:
        try:
            self._pool.putconn(conn)
        except Exception:  # the pool was closed meanwhile
            conn.close()

    def secure_delete(self, on: bool) -> None:
        """PostgreSQL has no such setting."""

    def truncate_log(self) -> bool:
        return False

    def backup_to(self, path: str) -> None:
        raise InvalidValue("a file backup needs the SQLite backend; use format='archive' "
                           "(or pg_dump for PostgreSQL)")

    # -- notifications -------------------------------------------------------------------
    def wait_for_notification(self, timeout: float) -> bool:
        """Block until a write transaction on this repository commits (in any process on any
        machine), or ``timeout`` seconds pass; True when one did (or the listening connection
        was re-established, when some may have been missed). A notification only shortens
        the wait: callers still re-read what changed (a catch-up read)."""
        return self._listening().wait(timeout)

    def on_notification(self, callback: Callable[[int | None], None]) -> Callable[[], None]:
        """Call ``callback(seq)`` (from a background thread) whenever a write transaction on
        this repository commits anywhere; ``seq`` is the new commit's seq, or None for other
        writes (branch moves, tags) and after a reconnect. Returns a function that
        unsubscribes. Like :meth:`wait_for_notification`, a wake-up call, not a change log."""
        listener = self._listening()
        listener.callbacks.append(callback)

        def unsubscribe() -> None:
            with suppress(ValueError):
                listener.callbacks.remove(callback)

        return unsubscribe

    def _listening(self) -> _Listener:
        with self._listener_lock:
            if self._listener is None:
                if self._closed:
                    raise ReadOnly("this database handle is closed")
                self._listener = _Listener(self)
            return self._listener

    # -- tools ---------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._listener_lock:
            if self._listener is not None:
                self._listener.stop()
                self._listener = None
        self._pool.close()
        if self.replicas is not None:
            self.replicas.close()

    def drop(self) -> None:
        """Drop the repository's schema, then close."""
        with self._pool.connection() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        self.close()

    @property
    def pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        """The psycopg pool (tests and tools only)."""
        return self._pool


def _fetch(cur: psycopg.Cursor[Any], fetch: str) -> Any:
    return cur.fetchone() if fetch == "one" else cur.fetchall() if fetch == "all" else \
        cur.rowcount


_NOT_READS = ("nextval", "setval", "pg_advisory", "txid_current", "pg_current_wal",
              "pg_xact_status")


def _is_read(sql: str) -> bool:
    """A statement a replica can answer (plain SELECTs; the primary runs the rest)."""
    head = sql.lstrip()[:6].upper()
    return head in ("SELECT", "WITH ") and not any(f in sql for f in _NOT_READS)


def _broken(exc: BaseException) -> bool:
    """True when an error means the connection is unusable (dropped, server restarted)."""
    if isinstance(exc, pgerrors.AdminShutdown | pgerrors.CannotConnectNow):
        return True
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return exc.sqlstate is None or exc.sqlstate.startswith("08") or \
            exc.sqlstate.startswith("57P")
    return False


class _Listener:
    """One LISTENing connection per handle; a thread wakes every waiter on each notification
    and reconnects after a connection loss."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._cond = threading.Condition()
        self._count = 0
        self.callbacks: list[Callable[[int | None], None]] = []
        self._stopped = False
        self._conn: psycopg.Connection[Any] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="palimpsest-listen",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(10.0)

    def _loop(self) -> None:
        delay = 0.1
        while not self._stopped:
            try:
                conn = psycopg.connect(self._db.target.conninfo, autocommit=True,
                                       connect_timeout=10, application_name="palimpsest")
                conn.execute(f'LISTEN "{self._db.channel}"')
                self._conn = conn
                self._bump(None)  # (re)connected: waiters re-read in case they missed some
                self._ready.set()
                delay = 0.1
                while not self._stopped:
                    for note in conn.notifies(timeout=0.5):
                        self._bump(int(note.payload) if note.payload.isdigit() else None)
            except psycopg.Error:
                if self._stopped:
                    break
                self._ready.set()
                threading.Event().wait(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if self._conn is not None:
                    with suppress(psycopg.Error):
                        self._conn.close()
                    self._conn = None

    def _bump(self, seq: int | None) -> None:
        with self._cond:
            self._count += 1
            self._cond.notify_all()
        for callback in list(self.callbacks):
            with suppress(Exception):  # a subscriber's failure must not stop the others
                callback(seq)

    def wait(self, timeout: float) -> bool:
        with self._cond:
            start = self._count
            return self._cond.wait_for(lambda: self._count != start, timeout=timeout)

    def stop(self) -> None:
        self._stopped = True
        self._thread.join(timeout=2.0)


__all__ = ["PostgresDatabase", "PostgresDialect", "Target", "adapt_ddl", "channel_name",
           "parse_url", "translate"]
