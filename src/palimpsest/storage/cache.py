"""The read cache: decoded, verified elements kept in memory while nothing changed.

A committed row never changes, so the element a key holds at a chain (a commit's state) is the
same on every read: :class:`ReadCache` keeps it, keyed by ``(kind, key, chain)``, and hands it
out again without SQL, hash check or decoding (a copy of mutable JSON, so callers may modify
what they get). Hash verification still runs on every row read from disk: only values that
passed it are cached. What a branch *name* resolves to does change (a commit moves the head):
those resolutions are cached too, and dropped whenever :meth:`Database.change_token` says some
connection committed since this thread last looked (SQLite: ``PRAGMA data_version`` plus this
handle's own commits, one cheap statement; PostgreSQL: one query for the newest commit, ref move
and current branch).

Two maintenance operations do rewrite committed rows: erasure (values blanked) and gc (rows
deleted). Each bumps the repository's *rewrite epoch* (:func:`bump_rewrites`, the ``rewrites``
row of ``meta``) in its write transaction; a cache that sees the change token move reads the
epoch and, if it moved, forgets everything. So a value erased or collected by any process is
never served again once that process has committed.

No cache use inside a write transaction (its reads may see rows that roll back). The cache is
bounded (entries and bytes of stored value text); when full, the oldest quarter goes.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Collection, Hashable
from typing import Any

from .base import Database
from .visibility import Chain

DEFAULT_ENTRIES = 50_000
DEFAULT_BYTES = 64 << 20

MISS: Any = object()
"""What :meth:`ReadCache.get` returns for a key it does not hold (None is a cached "absent")."""


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts and lists; scalars are immutable)."""
    if isinstance(value, dict):
        return {k: copy_json(v) if isinstance(v, dict | list) else v for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) if isinstance(v, dict | list) else v for v in value]
    return value


class ReadCache:
    """The read cache of one database handle (see the module doc); thread-safe."""

    def __init__(self, *, entries: int = DEFAULT_ENTRIES, max_bytes: int = DEFAULT_BYTES) -> None:
        self.entries = entries
        self.max_bytes = max_bytes
        self._rows: dict[tuple[str, str, Chain], tuple[Any, int]] = {}
        self._bytes = 0
        self._heads: dict[Hashable, Any] = {}
        self._epoch: object = MISS
        self._generation = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self.hits = 0
        self.misses = 0
        self.facts = WriteFacts()  # the handle's write facts, whatever the cache's size

    @property
    def enabled(self) -> bool:
        return self.entries > 0

    def configure(self, entries: int) -> None:
        """Hold at most ``entries`` elements (0: off)."""
        with self._lock:
            self.entries = max(int(entries), 0)
            self._forget()

    def _forget(self) -> None:
        self._rows.clear()
        self._heads.clear()
        self._bytes = 0
        self._generation += 1

    def clear(self) -> None:
        with self._lock:
            self._forget()

    def size(self) -> int:
        """How many elements the cache holds."""
        return len(self._rows)

    def fresh(self, db: Database) -> int | None:
        """Check for commits since this thread last looked; the generation to store under,
        or None when the cache must not be used now (off, inside a write, no cheap check)."""
        if self.entries <= 0:
            return None
        token = db.change_token()
        if token is None:
            return None
        if token == self._local.__dict__.get("token"):
            return self._generation
        row = db.one("SELECT value FROM meta WHERE name = 'rewrites'")
        epoch = row[0] if row else None
        with self._lock:
            self._heads.clear()
            if epoch != self._epoch:
                self._rows.clear()
                self._bytes = 0
                self._epoch = epoch
            self._generation += 1
            generation = self._generation
        self._local.token = token
        return generation

    # -- elements at a chain -------------------------------------------------------------
    def get(self, kind: str, key: str, chain: Chain) -> Any:
        """The cached element (None: cached as absent), or :data:`MISS`."""
        found = self._rows.get((kind, key, chain))
        if found is None:
            self.misses += 1
            return MISS
        self.hits += 1
        return found[0]

    def put(self, generation: int, kind: str, key: str, chain: Chain, value: Any,
            size: int) -> None:
        """Keep ``value`` (verified, decoded) unless the cache was cleared since
        ``generation`` was handed out (the value may predate a rewrite)."""
        if size > self.max_bytes // 16:
            return
        with self._lock:
            if generation != self._generation:
                return
            ident = (kind, key, chain)
            old = self._rows.get(ident)
            if old is not None:
                self._bytes -= old[1]
            self._rows[ident] = (value, size)
            self._bytes += size
            if len(self._rows) > self.entries or self._bytes > self.max_bytes:
                drop = max(len(self._rows) // 4, 1)
                for gone in list(self._rows)[:drop]:
                    self._bytes -= self._rows.pop(gone)[1]

    # -- what names resolve to (branch heads) --------------------------------------------
    def head(self, generation: int, name: Hashable, resolve: Callable[[], Any]) -> Any:
        """What ``name`` resolves to now (a branch's head chain or position; None: the
        current branch), resolved once per change of the database."""
        found = self._heads.get(name, MISS)
        if found is MISS:
            found = resolve()
            with self._lock:
                if generation == self._generation:
                    self._heads[name] = found
        return found


class WriteFacts:
    """What write transactions read about the committed state — the current branch, a
    branch's position, the declared search indexes — kept for the next write transaction of
    the same handle, so a commit does not read them again.

    Valid while :meth:`Database.write_token` stays the same: another connection's commit, or
    any row this handle changed, moves the token and empties the facts. A commit carries them
    over itself (:meth:`carry`): what it knew before its rows, with its line's head moved, is
    installed under the token the next write transaction will see if nothing else committed.
    Facts are immutable values. No token (PostgreSQL, outside a write): always read.
    """

    def __init__(self) -> None:
        self._token: object = MISS
        self._facts: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, db: Database, name: Hashable, load: Callable[[], Any]) -> Any:
        """The fact ``name`` as ``load()`` reads it now, kept while the token stays."""
        token = db.write_token()
        if token is None:
            return load()
        with self._lock:
            if token == self._token:
                found = self._facts.get(name, MISS)
                if found is not MISS:
                    return found
            else:
                self._token, self._facts = token, {}
        value = load()
        with self._lock:
            if self._token == token:
                self._facts[name] = value
        return value

    def known(self, db: Database) -> dict[Hashable, Any] | None:
        """A copy of the facts valid now (None without a token)."""
        token = db.write_token()
        if token is None:
            return None
        with self._lock:
            return dict(self._facts) if token == self._token else {}

    def carry(self, db: Database, before: dict[Hashable, Any], line: int, seq: int,
              written: Collection[tuple[str, str | None]]) -> None:
        """At the end of a commit of ``line`` at ``seq`` whose rows were the transaction's
        only change so far: keep ``before`` (the facts valid when it started) for the next
        write transaction, each branch on ``line`` now at ``seq``. A fact named ``("rows",
        kind, type)`` says whether a row of that kind and type exists (rows are only removed
        by rewrites, which move the token): a no stays only when the commit ``written`` no
        row of that (kind, type)."""
        token = db.write_token(after_commit=True)
        if token is None:
            return
        facts: dict[Hashable, Any] = {}
        for name, value in before.items():
            if isinstance(name, tuple) and name and name[0] == "position":
                facts[name] = (line, seq) if value is not None and value[0] == line else value
            elif isinstance(name, tuple) and name and name[0] == "rows":
                if value or (name[1], name[2]) not in written:
                    facts[name] = value
            else:
                facts[name] = value

        def install() -> None:
            with self._lock:
                self._token, self._facts = token, facts

        db.after_commit(install)


_CACHES: dict[int, ReadCache] = {}
_CACHES_LOCK = threading.Lock()


def cache_of(db: Database) -> ReadCache:
    """The read cache of a database handle (made on first use, dropped with the handle)."""
    cache = _CACHES.get(id(db))
    if cache is None:
        with _CACHES_LOCK:
            cache = _CACHES.get(id(db))
            if cache is None:
                cache = _CACHES[id(db)] = ReadCache()
                weakref.finalize(db, _CACHES.pop, id(db), None)
    return cache


def facts_of(db: Database) -> WriteFacts:
    """The write facts of a database handle (kept with its read cache, whether that is on or
    off)."""
    return cache_of(db).facts


def bump_rewrites(db: Database) -> None:
    """Inside a write that rewrites committed rows (erasure, gc): move the rewrite epoch, so
    every read cache on this repository, in any process, forgets what it holds."""
    row = db.one("SELECT value FROM meta WHERE name = 'rewrites'")
    if row is None:
        db.run("INSERT INTO meta (name, value) VALUES ('rewrites', '1')")
    else:
        db.run("UPDATE meta SET value = ? WHERE name = 'rewrites'", (str(int(row[0]) + 1),))
    db.after_commit(cache_of(db).clear)


def read_through(db: Database, kind: str, key: object, chain: Chain,
                 load: Callable[[], tuple[Any, int, Any]], copy: Callable[[Any], Any]) -> Any:
    """The element ``load()`` reads — (the form to cache, the size of its stored text, what
    this caller gets: a value no later reader shares) — or, when the cache holds it,
    ``copy`` of the cached form (a fresh copy of mutable parts)."""
    cache = cache_of(db)
    generation = cache.fresh(db) if type(key) is str else None
    if generation is None:
        return load()[2]
    assert isinstance(key, str)
    cached = cache.get(kind, key, chain)
    if cached is MISS:
        cached, size, value = load()
        cache.put(generation, kind, key, chain, cached, size)
        return value
    return copy(cached)
