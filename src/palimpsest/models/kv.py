"""The key-value model: hierarchical keys with per-key versions, at any state (etcd-like).

Storage: one ``rows`` row of kind ``k`` per write, ``key`` = the path, ``value`` = the bytes as
a JSON string of base64. The per-key version is stored with the row, in ``type``: ``"1"`` for a
new key (created by the commit of that row), ``"N:T"`` for version N of a key created at time T
(microseconds since the epoch). So a read is one row lookup joined to its commit, a hot key
costs no more than a cold one, and rollback, merge and cherry-pick carry the version of the
entry they bring. Because the version is part of the
row, writing the same bytes again is still a write (a new version), as in etcd.

Writes go through the repository (:class:`KVHost`, injected so this layer never imports the
API layer): each call is one commit, made under the branch's write lock, so version checks are
exact across threads and processes.
"""

from __future__ import annotations

import base64
import builtins
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..codec import MAX_VALUE_BYTES, check_count, decode, encode, from_us
from ..errors import InvalidKey, InvalidValue, ReadOnly, VersionConflict
from ..storage.base import Database
from ..storage.cache import MISS, cache_of
from ..storage.visibility import (
    COLUMNS,
    Chain,
    StoredRow,
    in_chain,
    read_latest,
    read_row,
    scan,
)
from ..types import JSON, Commit, Entry
from ..versioning.commits import id_text
from ..versioning.elements import DELETE, PUT, Write, to_value
from .kvgroup import GroupCommit

MAX_KEY_BYTES = 1024
KIND = "k"



class Reader:
    """The rows a kv write reads at the branch head, under the write lock: a key's current row
    (possibly a deletion) or None, one query per key or one per 500 with :meth:`prefetch`.
    What it read is :attr:`known`, so the commit does not read those rows again."""

    def __init__(self, db: Database, chain: Chain,
                 commit_time: Callable[[int], int] | None = None) -> None:
        self.db = db
        self.chain = chain
        self.known: dict[tuple[str, str], StoredRow | None] = {}
        self._times: dict[int, int] = {}
        self._commit_time = commit_time  # one commit's time (µs) by seq, e.g. from a cache

    def __call__(self, key: str) -> StoredRow | None:
        ident = (KIND, key)
        if ident not in self.known:
            self.known[ident] = read_row(self.db, self.chain, KIND, key)
        return self.known[ident]

    def prefetch(self, keys: Iterable[str]) -> None:
        """Read the rows of many keys in one batch, and the creation times they need."""
        todo = [k for k in keys if (KIND, k) not in self.known]
        if not todo:
            return
        found = read_latest(self.db, self.chain, KIND, todo)
        for key in todo:
            self.known[(KIND, key)] = found.get(key)
        self._creation_times(found.values())

    def _creation_times(self, rows: Iterable[StoredRow]) -> None:
        seqs = [r.seq for r in rows if r.op == PUT and parse_tag(r)[1] is None
                and r.seq not in self._times]
        if seqs:
            self._times.update((seq, t) for seq, (_, t) in commit_times(self.db, seqs).items())

    def created_us(self, row: StoredRow) -> int:
        """When the incarnation of the key that ``row`` holds was created (µs)."""
        created = parse_tag(row)[1]
        if created is not None:
            return created
        if row.seq not in self._times:
            if self._commit_time is not None:
                self._times[row.seq] = self._commit_time(row.seq)
            else:
                self._creation_times([row])
        return self._times.get(row.seq, 0)


Builder = Callable[[Reader], list[Write]]


# -- keys -----------------------------------------------------------------------------------
def check_key(key: object) -> str:
    """Validate a key: ``/`` first, ``/``-separated non-empty segments, no ``.`` or ``..``
    segment, no control characters, at most 1,024 bytes (UTF-8)."""
    if not isinstance(key, str):
        raise InvalidKey(f"a kv key must be a string, got {type(key).__name__}")
    if not key.startswith("/"):
        raise InvalidKey(f"kv key {key!r} must start with '/' (e.g. '/config/cluster')")
    try:
        size = len(key.encode())
    except UnicodeEncodeError:
        raise InvalidKey(f"kv key {key!r} is not valid Unicode text (a lone surrogate)") \
            from None
    if size > MAX_KEY_BYTES:
        raise InvalidKey(f"kv key {key[:40]!r}… is {size} bytes; the limit is "
                         f"{MAX_KEY_BYTES}")
    bad = _CONTROL.search(key)
    if bad is not None:
        raise InvalidKey(f"kv key {key!r} contains the control character {bad.group()!r}")
    if _ODD_SEGMENT.search(key) is None:  # the common case, in one scan
        return key
    segments = key[1:].split("/")
    for segment in segments:
        if not segment:
            raise InvalidKey(f"kv key {key!r} has an empty segment ('//' or a trailing '/')")
        if segment in (".", ".."):
            raise InvalidKey(f"kv key {key!r} has a {segment!r} segment; keys are not "
                             "relative paths")
    return key


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_ODD_SEGMENT = re.compile(r"//|/$|/\.\.?(?:/|$)")


def check_prefix(prefix: object) -> str:
    """A listing prefix: ``/`` alone, or a key, optionally ending with ``/``."""
    if prefix == "/":
        return "/"
    if not isinstance(prefix, str):
        raise InvalidKey(f"a kv prefix must be a string, got {type(prefix).__name__}")
    check_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def prefix_range(prefix: str) -> tuple[str, str]:
    """[low, high) bounds of the keys starting with ``prefix`` (code point order)."""
    last = prefix[-1]
    return prefix, prefix[:-1] + chr(ord(last) + 1)


def matches(pattern: str, key: str) -> bool:
    """``/a/*`` matches every key under ``/a/``; any other pattern one exact key."""
    if pattern.endswith("*"):
        return key.startswith(pattern[:-1])
    return key == pattern


def check_pattern(pattern: object) -> str:
    if not isinstance(pattern, str):
        raise InvalidKey(f"a watch pattern must be a string, got {type(pattern).__name__}")
    if pattern.endswith("*"):
        check_prefix(pattern[:-1] or "/")
        return pattern
    return check_key(pattern)


# -- versions and values --------------------------------------------------------------------
def version_tag(version: int, created_us: int | None) -> str:
    return "1" if version == 1 or created_us is None else f"{version}:{created_us}"


def parse_tag(row: StoredRow) -> tuple[int, int | None]:
    """(version, creation time in µs or None for "the time of this row's commit") of a live
    row; rows without a tag (written by other tools) count as version 1."""
    version, _, created = (row.type or "1").partition(":")
    try:
        return int(version), int(created) if created else None
    except ValueError:
        return 1, None


def to_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise InvalidValue(f"kv values are bytes, got {type(value).__name__}; encode text first "
                       "(value.encode()) or use set_json")


def encode_value(value: bytes) -> str:
    """The stored value: the canonical JSON string of the base64 text (the base64 alphabet
    needs no escaping, so the quotes are all JSON adds)."""
    if len(value) * 4 // 3 > MAX_VALUE_BYTES:
        raise InvalidValue(f"kv value of {len(value)} bytes is too large")
    return '"' + base64.b64encode(value).decode("ascii") + '"'


def put_write(db: Database, key: str, value: bytes, current: StoredRow | None
              ) -> tuple[Write, int, int | None]:
    """The row that writes ``value`` over ``current``: (write, new version, creation time in
    µs, None when this write creates the key)."""
    if current is None or current.op == DELETE:
        return Write(KIND, key, PUT, "1", value=encode_value(value)), 1, None
    old, created = parse_tag(current)
    if created is None:  # the current row created the key: its commit's time
        created = commit_times(db, [current.seq]).get(current.seq, ("", 0))[1]
    return (Write(KIND, key, PUT, version_tag(old + 1, created), value=encode_value(value)),
            old + 1, created)


def write_over(read: Reader, key: str, value: bytes) -> tuple[Write, int, int | None]:
    """:func:`put_write` over ``key``'s current row as ``read`` gives it (its creation time
    from the reader's batch)."""
    current = read(key)
    if current is None or current.op == DELETE:
        return Write(KIND, key, PUT, "1", value=encode_value(value)), 1, None
    old, created = parse_tag(current)
    if created is None:
        created = read.created_us(current)
    return (Write(KIND, key, PUT, version_tag(old + 1, created), value=encode_value(value)),
            old + 1, created)


def current_version(row: StoredRow | None) -> int:
    if row is None or row.op == DELETE:
        return 0
    return parse_tag(row)[0]


def commit_times(db: Database, seqs: Iterable[int]) -> dict[int, tuple[str, int]]:
    """{seq: (commit id, time_us)} for the given commit seqs."""
    wanted = sorted(set(seqs))
    out: dict[int, tuple[str, int]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        for seq, cid, time_us in db.all(
                f"SELECT seq, id, time_us FROM commits WHERE seq IN ({marks})", chunk):
            out[int(seq)] = (id_text(cid), int(time_us))
    return out


def to_entry(row: StoredRow, commit_id: str, time_us: int) -> Entry:
    """A live row and its commit's id and time -> an Entry (hash-checked)."""
    version, created = parse_tag(row)
    return Entry(row.key, to_value(row), version, from_us(time_us if created is None else created),
                 from_us(time_us), commit_id)


def entries(db: Database, rows: Sequence[StoredRow]) -> list[Entry]:
    """Live rows -> Entries, with commit times looked up in one go."""
    times = commit_times(db, [r.seq for r in rows])
    return [to_entry(row, *times.get(row.seq, ("", 0))) for row in rows]


def json_value(entry: Entry | None, key: str, default: JSON) -> JSON:
    """``entry``'s value decoded as JSON (``default`` when there is no entry)."""
    if entry is None:
        return default
    try:
        return decode(entry.value)
    except ValueError as exc:
        raise InvalidValue(f"the value at {key!r} is not JSON: {exc}") from exc


def read_entry(db: Database, chain: Chain, key: str) -> Entry | None:
    """The entry at ``key`` in the chain's state, in one query: :func:`read_row` (the latest
    row of the key inside the chain) joined to the commit that wrote it."""
    where, params = in_chain(chain)
    row = db.one(f"SELECT {COLUMNS}, c.id, c.time_us FROM rows r JOIN commits c ON c.seq = r.seq "
                 f"WHERE r.kind = ? AND r.key = ? AND {where} ORDER BY r.seq DESC LIMIT 1",
                 [KIND, key, *params])
    if row is None or row[5] != PUT:
        return None
    return to_entry(StoredRow(*row[:-2]), id_text(row[-2]), int(row[-1]))


# -- operations for transactions ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KVOp:
    """One check or write of :meth:`KeyValue.transaction`."""

    op: str
    key: str
    version: int | None = None
    value: bytes | None = None

    def __str__(self) -> str:
        if self.op == "check_version":
            return f"check_version({self.key!r}, {self.version})"
        if self.op == "set":
            return f"op_set({self.key!r}, <{len(self.value or b'')} bytes>)"
        return f"{'op_delete' if self.op == 'delete' else self.op}({self.key!r})"


def check_version(key: str, version: int) -> KVOp:
    """Holds when ``key`` is at ``version`` (0: missing)."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise InvalidValue(f"check_version: version must be an integer >= 0, got {version!r}")
    return KVOp("check_version", check_key(key), version=version)


def check_exists(key: str) -> KVOp:
    return KVOp("check_exists", check_key(key))


def check_missing(key: str) -> KVOp:
    return KVOp("check_missing", check_key(key))


def op_set(key: str, value: bytes) -> KVOp:
    return KVOp("set", check_key(key), value=to_bytes(value))


def op_delete(key: str) -> KVOp:
    return KVOp("delete", check_key(key))


def _check(op: KVOp, row: StoredRow | None, index: int) -> None:
    found = current_version(row)
    expected: Any
    if op.op == "check_version":
        ok, expected = found == op.version, op.version
    elif op.op == "check_exists":
        ok, expected = found > 0, "exists"
    else:
        ok, expected = found == 0, 0
    if not ok:
        state = f"version {found}" if found else "missing"
        raise VersionConflict(f"transaction check {index} failed: {op}: {op.key!r} is {state}; "
                              "nothing was changed", key=op.key, expected=expected, found=found)


# -- the facade -----------------------------------------------------------------------------
class KVHost(Protocol):
    """What a writable :class:`KeyValue` needs from the repository."""

    def kv_chain(self, branch: str | None) -> Chain:
        """The chain of ``branch``'s head (None: the current branch)."""

    def kv_commit(self, branch: str | None, message: str, author: str | None,
                  metadata: Mapping[str, JSON] | None, build: Builder) -> Commit | None:
        """Under the branch's write lock, ``build`` the writes from the rows it reads and
        commit them (None: nothing to write)."""

    def kv_watch(self, pattern: str, *, branch: str | None, since: Any,
                 timeout: float | None, interval: float) -> Any:
        """A watch of the keys matching ``pattern`` on ``branch``."""


class KeyValue:
    """The key-value state of one branch (``repo.kv``), or of one past state (``view.kv``,
    read-only).

    >>> import palimpsest
    >>> kv = palimpsest.open(":memory:").kv
    >>> kv.set("/config/cluster", b"v1").version
    1
    >>> kv.set("/config/cluster", b"v2").version
    2
    >>> kv.get("/config/cluster").value
    b'v2'
    """

    check_version = staticmethod(check_version)
    check_exists = staticmethod(check_exists)
    check_missing = staticmethod(check_missing)
    op_set = staticmethod(op_set)
    op_delete = staticmethod(op_delete)

    def __init__(self, db: Database, *, chain: Chain | None = None, host: KVHost | None = None,
                 branch: str | None = None, group: GroupCommit | None = None) -> None:
        self._db = db
        self._fixed = chain
        self._host = host
        self._group = group
        self._cache = cache_of(db)
        self.branch = branch

    def __repr__(self) -> str:
        if self._host is None:
            return "<KeyValue read-only>"
        return f"<KeyValue on {self.branch or 'the current branch'}>"

    @property
    def read_only(self) -> bool:
        return self._host is None

    def on(self, branch: str) -> KeyValue:
        """The same API on another branch."""
        if self._host is None:
            raise ReadOnly("a past state's kv is read-only; use repo.kv.on(branch)")
        return KeyValue(self._db, host=self._host, branch=branch, group=self._group)

    def _chain(self) -> Chain:
        if self._fixed is not None:
            return self._fixed
        assert self._host is not None
        return self._host.kv_chain(self.branch)

    def _writer(self) -> KVHost:
        if self._host is None:
            raise ReadOnly("this kv is a past state and read-only; write through repo.kv")
        return self._host

    # -- reads ---------------------------------------------------------------------------
    def _row(self, key: str) -> StoredRow | None:
        row = read_row(self._db, self._chain(), KIND, check_key(key))
        return row if row is not None and row.op == PUT else None

    def get(self, key: str) -> Entry | None:
        """The entry at ``key``, or None (from the read cache while nothing changed)."""
        cache = self._cache
        generation = cache.fresh(self._db) if type(key) is str else None
        if generation is None:
            return read_entry(self._db, self._chain(), check_key(key))
        chain = self._fixed
        if chain is None:
            assert self._host is not None
            host, branch = self._host, self.branch
            chain = cache.head(generation, ("kv", branch), lambda: host.kv_chain(branch))
        found = cache.get(KIND, key, chain)
        if found is MISS:
            found = read_entry(self._db, chain, check_key(key))
            cache.put(generation, KIND, key, chain, found,
                      len(found.value) if found is not None else 0)
        return found  # type: ignore[no-any-return]

    def get_json(self, key: str, default: JSON = None) -> JSON:
        """The value at ``key`` decoded as JSON (``default`` when missing)."""
        return json_value(self.get(key), key, default)

    def exists(self, key: str) -> bool:
        if self._cache.enabled:
            return self.get(key) is not None
        return self._row(key) is not None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.exists(key)

    def version(self, key: str) -> int:
        """The key's version: 0 when missing, 1 after creation, +1 per write."""
        if self._cache.enabled:
            entry = self.get(key)
            return entry.version if entry is not None else 0
        return current_version(self._row(key))

    def _scan(self, prefix: str, limit: int | None, start_after: str | None
              ) -> builtins.list[StoredRow]:
        low, high = prefix_range(check_prefix(prefix))
        extra, params = "r.key >= ? AND r.key < ?", [low, high]
        if start_after is not None:
            extra += " AND r.key > ?"
            params.append(start_after)
        if limit is not None:
            check_count(limit, "limit")
        return list(scan(self._db, self._chain(), KIND, extra=extra, extra_params=params,
                         limit=limit))

    def list(self, prefix: str = "/", *, limit: int | None = None,
             start_after: str | None = None) -> builtins.list[Entry]:
        """Entries whose key starts with ``prefix``, in key order; page with ``limit`` and
        ``start_after`` (the last key of the previous page)."""
        return entries(self._db, self._scan(prefix, limit, start_after))

    def keys(self, prefix: str = "/", *, limit: int | None = None,
             start_after: str | None = None) -> builtins.list[str]:
        return [row.key for row in self._scan(prefix, limit, start_after)]

    def count(self, prefix: str = "/") -> int:
        low, high = prefix_range(check_prefix(prefix))
        return sum(1 for _ in scan(self._db, self._chain(), KIND, extra="r.key >= ? AND "
                                   "r.key < ?", extra_params=[low, high]))

    # -- writes (one commit each) --------------------------------------------------------
    def _commit(self, message: str, author: str | None, metadata: Mapping[str, JSON] | None,
                keys: Iterable[str], build: Builder) -> Commit | None:
        host = self._writer()
        if self._group is not None and not self._db.in_write():
            # (inside a write this thread holds the lock a leader would wait for: no group)
            return self._group.submit(host, self.branch, message, author, metadata,
                                      frozenset(keys), build)
        return host.kv_commit(self.branch, message, author, metadata, build)

    @staticmethod
    def _written(key: str, value: bytes, version: int, created: int | None,
                 commit: Commit) -> Entry:
        created_at = commit.timestamp if created is None else from_us(created)
        return Entry(key, value, version, created_at, commit.timestamp, commit.id)

    def set(self, key: str, value: bytes, *, message: str | None = None,
            author: str | None = None, metadata: Mapping[str, JSON] | None = None) -> Entry:
        """Write ``value`` at ``key`` (one commit); returns the new entry."""
        return self._put(key, to_bytes(value), None, message or f"kv set {key}", author,
                         metadata)

    def set_json(self, key: str, value: JSON, **kwargs: Any) -> Entry:
        """Write a JSON value (canonical encoding) at ``key``."""
        from ..codec import check_json
        check_json(value, f"kv value at {key}")
        return self.set(key, encode(value).encode(), **kwargs)

    def set_many(self, items: Mapping[str, bytes], *, message: str | None = None,
                 author: str | None = None, metadata: Mapping[str, JSON] | None = None
                 ) -> builtins.list[Entry]:
        """Write every ``key: value`` of ``items`` in one commit (rows read and written in
        batches): the new entries, in the order given; no commit when ``items`` is empty."""
        if not isinstance(items, Mapping):
            raise InvalidValue(f"set_many takes a mapping of key to bytes, got "
                               f"{type(items).__name__}")
        values = {check_key(key): to_bytes(value) for key, value in items.items()}
        if not values:
            return []
        made: builtins.list[tuple[str, bytes, int, int | None]] = []

        def build(read: Reader) -> builtins.list[Write]:
            made.clear()
            read.prefetch(values)
            writes = []
            for key, value in values.items():
                write, version, created = write_over(read, key, value)
                writes.append(write)
                made.append((key, value, version, created))
            return writes

        commit = self._commit(message or f"kv set {len(values)} keys", author, metadata,
                              values, build)
        assert commit is not None
        stamp = commit.timestamp
        times: dict[int | None, datetime] = {None: stamp}  # keys created together share one
        out = []
        for key, value, version, created in made:
            created_at = times.get(created)
            if created_at is None:
                created_at = times[created] = from_us(created or 0)
            out.append(Entry(key, value, version, created_at, stamp, commit.id))
        return out

    def compare_and_set(self, key: str, expected_version: int, value: bytes, *,
                        message: str | None = None, author: str | None = None,
                        metadata: Mapping[str, JSON] | None = None) -> Entry:
        """Write ``value`` only if ``key`` is at ``expected_version`` (0: missing); otherwise
        raise VersionConflict(key, expected, found) and change nothing."""
        check_version(key, expected_version)
        return self._put(key, to_bytes(value), expected_version,
                         message or f"kv compare-and-set {key}", author, metadata)

    def create_if_not_exists(self, key: str, value: bytes, *, message: str | None = None,
                             author: str | None = None,
                             metadata: Mapping[str, JSON] | None = None) -> Entry:
        """Create ``key``; raise VersionConflict (expected 0) if it exists."""
        return self._put(key, to_bytes(value), 0, message or f"kv create {key}", author,
                         metadata)

    def _put(self, key: str, value: bytes, expected: int | None, message: str,
             author: str | None, metadata: Mapping[str, JSON] | None) -> Entry:
        check_key(key)
        result: builtins.list[tuple[int, int | None]] = []

        def build(read: Reader) -> builtins.list[Write]:
            if expected is not None:
                found = current_version(read(key))
                if found != expected:
                    raise VersionConflict(
                        f"{key!r} is at version {found}, not {expected}; nothing was changed "
                        "(read it again and retry)", key=key, expected=expected, found=found)
            write, version, created = write_over(read, key, value)
            result[:] = [(version, created)]
            return [write]

        commit = self._commit(message, author, metadata, (key,), build)
        assert commit is not None
        return self._written(key, value, *result[0], commit)

    def delete(self, key: str, *, expected_version: int | None = None,
               message: str | None = None, author: str | None = None,
               metadata: Mapping[str, JSON] | None = None) -> bool:
        """Delete ``key`` (one commit); False (and no commit) when it was missing. With
        ``expected_version``, raise VersionConflict unless the key is at that version."""
        check_key(key)
        wrote: builtins.list[bool] = []

        def build(read: Reader) -> builtins.list[Write]:
            found = current_version(read(key))
            if expected_version is not None and found != expected_version:
                raise VersionConflict(
                    f"{key!r} is at version {found}, not {expected_version}; nothing was "
                    "deleted", key=key, expected=expected_version, found=found)
            wrote[:] = [bool(found)]
            return [Write(KIND, key, DELETE)] if found else []

        self._commit(message or f"kv delete {key}", author, metadata, (key,), build)
        return bool(wrote and wrote[0])

    def transaction(self, ops: Sequence[KVOp], *, message: str | None = None,
                    author: str | None = None,
                    metadata: Mapping[str, JSON] | None = None) -> Commit | None:
        """Check every ``check_*`` op against the current state, then apply every ``op_*`` in
        one commit; if a check fails, raise VersionConflict naming it and change nothing.
        Returns the commit (None when the ops changed nothing)."""
        ops = list(ops)
        seen: set[str] = set()
        for op in ops:
            if not isinstance(op, KVOp):
                raise InvalidValue(f"transaction ops are made with kv.check_version, "
                                   f"check_exists, check_missing, op_set, op_delete; got {op!r}")
            if op.op in ("set", "delete"):
                if op.key in seen:
                    raise InvalidValue(f"transaction writes {op.key!r} twice; one write per key")
                seen.add(op.key)
        wrote: builtins.list[bool] = []

        def build(read: Reader) -> builtins.list[Write]:
            read.prefetch(op.key for op in ops)
            for i, op in enumerate(ops):
                if op.op.startswith("check_"):
                    _check(op, read(op.key), i)
            writes = []
            for op in ops:
                if op.op == "set":
                    assert op.value is not None
                    writes.append(write_over(read, op.key, op.value)[0])
                elif op.op == "delete" and current_version(read(op.key)):
                    writes.append(Write(KIND, op.key, DELETE))
            wrote[:] = [bool(writes)]
            return writes

        commit = self._commit(message or f"kv transaction ({len(ops)} ops)", author, metadata,
                              (op.key for op in ops), build)
        return commit if wrote and wrote[0] else None

    # -- watch ---------------------------------------------------------------------------
    def watch(self, pattern: str, *, since: Any = None, timeout: float | None = None,
              interval: float = 0.02) -> Any:
        """Events (:class:`palimpsest.KVEvent`) for every commit on this branch that
        touches a key matching ``pattern`` (``/a/b`` exact, ``/a/*`` every key under
        ``/a/``), in commit order; see :class:`palimpsest.watch.Watch`. ``since`` (a commit,
        ref or ``0`` for the beginning) replays the commits after it first."""
        return self._writer().kv_watch(check_pattern(pattern), branch=self.branch,
                                        since=since, timeout=timeout, interval=interval)
