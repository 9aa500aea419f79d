"""The storage contract: a small protocol that SQLite and PostgreSQL both fulfil.

Upper layers write SQL with ``?`` placeholders in the common subset of both dialects; the
backend translates placeholders and supplies the few dialect-specific fragments (JSON access,
blob type). Writes happen inside ``write()``, which takes the backend's write lock, so a failed
or interrupted commit leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from .fulltext import FullText

_LOCK_WAIT: ContextVar[float | None] = ContextVar("palimpsest_lock_wait", default=None)


@contextmanager
def lock_wait(seconds: float | None) -> Iterator[None]:
    """Inside the block, a write waits at most ``seconds`` for the write lock (another
    writer's transaction, in this process or another), then raises
    :class:`~palimpsest.errors.LockTimeout` having written nothing. ``None``: the backend's
    default (SQLite: the busy timeout, 30 s; PostgreSQL: no limit).

    The limit is a context variable: it holds for this thread or task and for work it hands
    to worker threads with its context (``asyncio.to_thread``, Starlette's threadpool).
    """
    token = _LOCK_WAIT.set(seconds)
    try:
        yield
    finally:
        _LOCK_WAIT.reset(token)


def current_lock_wait() -> float | None:
    """The limit set by the innermost :func:`lock_wait` (None: the backend's default)."""
    return _LOCK_WAIT.get()


def bad_text(exc: UnicodeEncodeError) -> Exception:
    """Text that is not valid Unicode (a lone surrogate) can be neither stored nor looked up."""
    from ..errors import InvalidKey
    return InvalidKey(f"{exc.object[max(exc.start - 20, 0):exc.end + 20]!r} is not valid "
                      "Unicode text (it contains a lone surrogate)")


Row = tuple[Any, ...]
Params = Sequence[Any]
Tracer = Callable[[str, Params], None]


class Dialect(Protocol):
    """SQL fragments that differ between engines."""

    name: str
    blob: str
    bigint: str
    autoid: str
    """Column type of an id the engine assigns on insert (``rows.rid``, ``reflog.id``)."""
    seq_ddl: str
    """DDL appended to the schema for commit seq allocation (PostgreSQL: a sequence)."""
    next_seq: str
    """SQL yielding a new commit seq (``storage.schema.next_seq``)."""
    sync_seq: str
    """SQL moving seq allocation past every stored commit ("" where allocation reads them)."""

    def json_text(self, column: str, path: Sequence[str]) -> str:
        """SQL yielding the JSON value at ``path`` inside ``column`` as SQL text/number."""

    def json_number(self, column: str, path: Sequence[str]) -> str:
        """SQL yielding the JSON number at ``path`` as an SQL number (NULL if not a number)."""

    def json_path_exists(self, column: str, path: Sequence[str]) -> str:
        """SQL that is true when ``path`` exists inside ``column``."""

    # -- used by the query layer (palimpsest.query, docs/query.md) ---------------------------
    # Filters compile every comparison as ``<type test> AND <typed value> <op> ?``, so the
    # typed accessors below may return anything (but must not raise) when the value at the
    # path has another type; NULL is fine.
    json_types: Mapping[str, tuple[str, ...]]
    """For each JSON category ``null, true, false, number, string, array, object``: the names
    :meth:`json_type` yields for it (SQLite: ``integer``/``real`` for number, ``text`` for
    string...)."""

    def json_type(self, column: str, path: Sequence[str]) -> str:
        """SQL yielding the type name (see :attr:`json_types`) of the value at ``path``, NULL
        when the path is missing."""

    def json_string(self, column: str, path: Sequence[str]) -> str:
        """SQL yielding the JSON string at ``path`` as text that compares and sorts by code
        point (byte order of UTF-8; PostgreSQL: ``COLLATE "C"``)."""

    def json_array_has(self, column: str, path: Sequence[str], types: Sequence[str],
                       with_value: bool) -> str:
        """SQL true when the value at ``path`` is an array with an element whose type name is
        in ``types`` and, if ``with_value``, whose value equals the next ``?`` parameter
        (a number or string, compared like :meth:`json_number` / :meth:`json_string`)."""

    def text_contains(self, expr: str) -> str:
        """SQL true when the text ``expr`` contains the next ``?`` parameter (case-sensitive,
        an empty needle matches)."""

    def regex_search(self, expr: str) -> str:
        """SQL true when the regular expression in the next ``?`` parameter matches anywhere
        in the text ``expr`` (RE2 semantics, docs/query.md; the pattern is bound as
        :meth:`regex_pattern` returns it)."""

    def regex_pattern(self, pattern: str) -> str:
        """The parameter to bind for :meth:`regex_search` given an RE2 ``pattern`` (checked
        by ``storage.regex.check``): the pattern itself, or its spelling in the engine's own
        regex syntax."""

    def json_index_exprs(self, column: str, path: Sequence[str]) -> list[str]:
        """Expressions to index so that comparisons built from :meth:`json_number` and
        :meth:`json_string` on ``path`` can use an index (SQLite: one json_extract)."""

    fulltext: FullText
    """The engine's full-text search (SQLite FTS5, PostgreSQL tsvector; docs/search.md)."""

    def index_hint(self, index: str) -> str:
        """Text placed after ``FROM rows r`` to make the planner use ``index`` (SQLite:
        ``INDEXED BY``), or ``""`` where the planner picks well by itself."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do beyond the common contract; upper layers test these flags, never
    the backend's name or class."""

    file_backup: bool  # Database.backup_to writes a consistent copy as one SQLite file
    vacuum: bool  # VACUUM gives freed pages back to the file system (PostgreSQL: autovacuum)
    postgres_json: bool  # JSON in SQL is PostgreSQL's (json_each/->/#>>), else SQLite's JSON1


class Nesting:
    """The bookkeeping of one write transaction, shared by the backends: nested ``write()``
    calls are savepoints (run through ``execute``, which raises the backend's typed errors);
    after-commit callbacks wait for the outermost COMMIT, and a savepoint that rolls back drops
    those registered inside it."""

    __slots__ = ("_after", "_execute", "_marks")

    def __init__(self, execute: Callable[[str], object]) -> None:
        self._execute = execute
        self._after: list[Callable[[], None]] = []
        self._marks: list[int] = []  # len(_after) when each open savepoint began

    def defer(self, callback: Callable[[], None]) -> None:
        self._after.append(callback)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        name = f"sp{len(self._marks) + 1}"
        self._execute(f"SAVEPOINT {name}")
        self._marks.append(len(self._after))
        try:
            yield
        except BaseException:
            del self._after[self._marks.pop():]
            # the engine may have rolled the whole transaction back already (SQLite after an
            # I/O error, a dropped connection): the outermost level sees the error anyway
            with suppress(Exception):
                self._execute(f"ROLLBACK TO SAVEPOINT {name}")
                self._execute(f"RELEASE SAVEPOINT {name}")
            raise
        self._marks.pop()
        self._execute(f"RELEASE SAVEPOINT {name}")

    def committed(self) -> None:
        """Run the callbacks (the outermost transaction committed and released its locks)."""
        ready, self._after = self._after, []
        for callback in ready:
            callback()


class Database(Protocol):
    """A connection (or pool) to one repository's tables."""

    dialect: Dialect
    capabilities: Capabilities
    created: bool
    """Opening this handle created the repository (a new file or PostgreSQL schema)."""
    url: str
    tracer: Tracer | None

    def one(self, sql: str, params: Params = ()) -> Row | None: ...

    def all(self, sql: str, params: Params = ()) -> list[Row]: ...

    def iterate(self, sql: str, params: Params = ()) -> Iterator[Row]: ...

    def run(self, sql: str, params: Params = ()) -> int:
        """Execute a statement; returns the number of rows changed."""

    def many(self, sql: str, rows: Iterable[Params]) -> None: ...

    def script(self, sql: str) -> None:
        """Run several statements (schema creation)."""

    def write(self) -> AbstractContextManager[None]:
        """A write transaction holding the write lock; commits on success, rolls back on error."""

    def read(self) -> AbstractContextManager[None]:
        """A read transaction: every query inside sees one snapshot."""

    def in_write(self) -> bool: ...

    def change_token(self) -> object | None:
        """A cheap value that differs whenever any connection (this process or another)
        committed a write since this thread last asked (compare it only with this thread's
        earlier tokens); None inside a write or where no cheap check exists. The read cache
        (``storage/cache.py``) trusts what it holds while it stays the same."""

    def write_token(self, *, after_commit: bool = False) -> object | None:
        """Inside ``write()``: a cheap value that stays the same exactly while the database
        does: it differs from every earlier one once any connection (this process or another)
        committed, or this transaction changed a row. With ``after_commit``, the value the next
        write transaction of this handle will see first if this one commits as it stands and
        nothing else commits meanwhile. None outside a write or where no cheap check exists.
        Writers keep what they read under it (``storage.cache.WriteFacts``)."""

    def deadline(self, seconds: float | None) -> AbstractContextManager[None]:
        """Stop any query this thread runs inside the block once ``seconds`` have passed,
        raising :class:`~palimpsest.errors.QueryTimeout` (None: no limit)."""

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current write transaction has committed (at once when
        there is none); dropped if it rolls back. Notifications must not announce a commit
        that other connections cannot see yet."""

    def lock(self, name: str) -> None:
        """Inside ``write()``: take the named lock until the transaction ends, so writers of
        the same name (``"line:ID"``, ``"branch:NAME"``) run one after another. A no-op where
        ``write()`` already excludes every other writer (SQLite)."""

    def secure_delete(self, on: bool) -> None:
        """While on, deleted values are overwritten in the engine's files rather than left in
        freed pages (SQLite's ``secure_delete``; a no-op where the engine offers none)."""

    def truncate_log(self) -> bool:
        """Best effort to drop old page copies from the engine's log (SQLite: a TRUNCATE
        checkpoint of the write-ahead log); True when the engine reported success."""

    def backup_to(self, path: str) -> None:
        """A consistent online copy of the whole database as one SQLite file at ``path``
        (only where ``capabilities.file_backup``; elsewhere InvalidValue)."""

    def close(self) -> None: ...

    def drop(self) -> None:
        """Close and delete the repository (its file, or its PostgreSQL schema)."""
