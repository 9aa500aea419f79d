"""Commits and lines: reading them, and writing one commit's rows atomically.

A *line* is a sequence of commits that may fork from ``(parent line, fork seq)``. Seqs are unique
in the repository and grow along each line and from a commit to its descendants (not gap-free,
and on PostgreSQL not visible in seq order across lines: ``storage.schema.next_seq``), so a
commit is ``(line, seq)`` and its visible state is given by its chain (see
:mod:`palimpsest.storage.visibility`). Lines never change once forked; only their
``head_seq`` advances, so chains are cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..codec import (
    EMPTY_STATE,
    commit_id,
    decode,
    element_term,
    encode,
    from_us,
    now_us,
    state_combine,
)
from ..errors import InvalidValue, RefNotFound
from ..storage import counts as type_counts
from ..storage.base import Database, Row
from ..storage.cache import facts_of
from ..storage.schema import next_seq
from ..storage.visibility import Chain, StoredRow, read_rows
from ..types import Commit, CommitStats
from . import provenance, search_index
from .elements import DELETE, PUT, Write

_COMMIT_COLUMNS = ("seq, id, line, parents, author, message, time_us, metadata, stats, "
                   "state_hash")

_UNKNOWN: Any = object()

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

_STAT_NAMES = {"e": "entities", "r": "relations", "d": "documents"}

DEFAULT_MAX_CLOCK_SKEW_US = 86_400_000_000
"""How far in the future a given commit time may lie (one day): commit times never decrease
along first parents, so one commit dated in the future would clamp every later one."""


def id_bytes(cid: str) -> bytes:
    """A commit id as stored (schema 3): its 32 bytes, not 64 hex characters."""
    return bytes.fromhex(cid)


def id_text(stored: bytes | memoryview | str) -> str:
    """A stored commit id as the hex text every API shows."""
    return stored if isinstance(stored, str) else bytes(stored).hex()


def parents_bytes(parents: Sequence[str]) -> bytes:
    """A commit's parent ids as stored: their 32-byte forms, concatenated."""
    return b"".join(bytes.fromhex(p) for p in parents)


def parents_text(stored: bytes | memoryview) -> list[str]:
    """Stored parent ids as hex text; ValueError when they are not whole 32-byte ids."""
    raw = bytes(stored)
    if len(raw) % 32:
        raise ValueError(f"parent ids take {len(raw)} bytes, not a multiple of 32")
    return [raw[i:i + 32].hex() for i in range(0, len(raw), 32)]


def _duration(us: int) -> str:
    seconds = us // 1_000_000
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{us / 1_000_000:g} seconds"


class CommitStore:
    """Reads commits and lines, with caches for what never changes."""

    def __init__(self, db: Database, *, max_clock_skew: timedelta | None = None) -> None:
        self.db = db
        self.max_clock_skew_us = DEFAULT_MAX_CLOCK_SKEW_US
        if max_clock_skew is not None:
            if not isinstance(max_clock_skew, timedelta) or max_clock_skew < timedelta(0):
                raise InvalidValue(f"max_clock_skew must be a timedelta of zero or more, not "
                                   f"{max_clock_skew!r}")
            self.max_clock_skew_us = max_clock_skew // timedelta(microseconds=1)
        self._lines: dict[int, tuple[int | None, int | None]] = {}
        self._commits: OrderedDict[int, Commit] = OrderedDict()
        self._ids: dict[str, int] = {}  # commit id -> seq, for the cached commits
        self._lock = threading.Lock()

    # -- commits -------------------------------------------------------------------------
    def _from_row(self, row: Row) -> Commit:
        seq, cid, line, parents, author, message, time_us, metadata, stats, state = row
        commit = Commit(
            id=id_text(cid), parents=tuple(parents_text(parents)), author=author, message=message,
            timestamp=from_us(time_us), metadata=decode(metadata),
            stats=CommitStats(**decode(stats)), state_hash=bytes(state).hex(), seq=seq,
            line=line,
        )
        self._remember(commit)
        return commit

    def _remember(self, commit: Commit) -> None:
        # Inside a write transaction the commit may still roll back and its seq be reused:
        # cache it only once it is committed.
        if self.db.in_write():
            self.db.after_commit(lambda: self._cache(commit))
        else:
            self._cache(commit)

    def _cache(self, commit: Commit) -> None:
        with self._lock:
            self._commits[commit.seq] = commit
            self._ids[commit.id] = commit.seq
            if len(self._commits) > 4096:
                _, dropped = self._commits.popitem(last=False)
                self._ids.pop(dropped.id, None)

    def by_seq(self, seq: int) -> Commit:
        cached = self._commits.get(seq)
        if cached is not None:
            return cached
        row = self.db.one(f"SELECT {_COMMIT_COLUMNS} FROM commits WHERE seq = ?", (seq,))
        if row is None:
            raise RefNotFound(f"no commit with seq {seq}")
        return self._from_row(row)

    def by_id(self, cid: str) -> Commit | None:
        seq = self._ids.get(cid)
        if seq is not None:
            return self.by_seq(seq)
        try:
            key = id_bytes(cid)
        except ValueError:  # not hex: no commit has it
            return None
        row = self.db.one(f"SELECT {_COMMIT_COLUMNS} FROM commits WHERE id = ?", (key,))
        return self._from_row(row) if row else None

    def by_prefix(self, prefix: str, limit: int = 10) -> list[Commit]:
        prefix = prefix.lower()
        if len(prefix) > 64 or any(c not in "0123456789abcdef" for c in prefix):
            return []
        low = bytes.fromhex((prefix + "0" * 64)[:64])
        high = bytes.fromhex((prefix + "f" * 64)[:64])
        rows = self.db.all(f"SELECT {_COMMIT_COLUMNS} FROM commits WHERE id >= ? AND id <= ? "
                           "ORDER BY id LIMIT ?", (low, high, limit))
        return [self._from_row(r) for r in rows]

    def time_us(self, seq: int) -> int:
        """The time of the commit at ``seq`` in µs (from the commit cache when it holds it)."""
        return (self.by_seq(seq).timestamp - _EPOCH) // _MICRO

    def count(self) -> int:
        row = self.db.one("SELECT count(*) FROM commits")
        return int(row[0]) if row else 0

    # -- lines ---------------------------------------------------------------------------
    def line_origin(self, line: int) -> tuple[int | None, int | None]:
        """(parent line, fork seq) of a line; immutable, so cached."""
        known = self._lines.get(line)
        if known is None:
            row = self.db.one("SELECT parent, fork_seq FROM lines WHERE id = ?", (line,))
            if row is None:
                raise RefNotFound(f"line {line} does not exist")
            known = (row[0], row[1])
            self._lines[line] = known
        return known

    def branch_position(self, branch: str) -> tuple[int, int | None] | None:
        """(line, head seq) of a branch in one query; None if there is no such branch. Inside
        a write, kept between commits (``storage.cache.WriteFacts``)."""
        return facts_of(self.db).get(  # type: ignore[no-any-return]
            self.db, ("position", branch), lambda: self._branch_position(branch))

    def _branch_position(self, branch: str) -> tuple[int, int | None] | None:
        row = self.db.one("SELECT l.id, coalesce(l.head_seq, l.fork_seq) FROM refs r "
                          "JOIN lines l ON l.id = r.line WHERE r.name = ? AND r.kind = 'branch'",
                          (branch,))
        if row is None:
            return None
        return int(row[0]), (int(row[1]) if row[1] is not None else None)

    def line_head(self, line: int) -> int | None:
        """Seq of the commit a line's head is at: its latest own commit, else its fork point."""
        row = self.db.one("SELECT head_seq, fork_seq FROM lines WHERE id = ?", (line,))
        if row is None:
            raise RefNotFound(f"line {line} does not exist")
        head = row[0] if row[0] is not None else row[1]
        return int(head) if head is not None else None

    def chain(self, line: int, bound: int) -> Chain:
        """The chain of the state at seq ``bound`` on ``line``."""
        out = [(line, bound)]
        parent, fork = self.line_origin(line)
        while parent is not None and fork is not None:
            out.append((parent, fork))
            parent, fork = self.line_origin(parent)
        return tuple(out)

    def commit_chain(self, commit: Commit | None) -> Chain:
        if commit is None:
            return ((1, 0),)
        return self.chain(commit.line, commit.seq)

    def new_line(self, parent: int | None, fork_seq: int | None) -> int:
        self.db.lock("lines")  # line ids are allocated one writer at a time
        row = self.db.one("SELECT coalesce(max(id), 0) + 1 FROM lines")
        line = int(row[0]) if row else 1
        self.db.run("INSERT INTO lines (id, parent, fork_seq, head_seq) VALUES (?, ?, ?, NULL)",
                    (line, parent, fork_seq))
        return line

    def fork_at(self, commit: Commit | None) -> int:
        """A new, empty line whose state starts at ``commit`` (O(1): no rows are copied)."""
        if commit is None:
            return self.new_line(None, None)
        return self.new_line(commit.line, commit.seq)

    # -- writing -------------------------------------------------------------------------
    def write_commit(
        self, *, line: int, writes: Sequence[Write], parents: Sequence[str], author: str,
        message: str, metadata: dict[str, Any], time_us: int | None = None,
        known_old: dict[tuple[str, str], StoredRow | None] | None = None,
        allow_empty: bool = True, head_seq: int | object | None = _UNKNOWN,
    ) -> Commit | None:
        """Append one commit with ``writes`` to ``line``. The caller holds ``db.write()``.

        Writes that would not change anything (same value, or deleting a missing element) are
        dropped. Returns None when nothing is left and ``allow_empty`` is false. ``head_seq``
        is the line's current head when the caller has just read it under the write lock.
        """
        db = self.db
        head = self.line_head(line) if head_seq is _UNKNOWN else head_seq
        assert head is None or isinstance(head, int)
        head_chain = self.chain(line, head) if head is not None else ((line, 0),)
        parent = self.by_seq(head) if head is not None else None  # cached: commits never change
        parent_time = (parent.timestamp - _EPOCH) // _MICRO if parent is not None else None
        now = now_us()
        if time_us is None:
            time_us = max(now, parent_time or 0)
        elif time_us > now + self.max_clock_skew_us:
            raise InvalidValue(
                f"commit time {from_us(time_us).isoformat()} is more than "
                f"{_duration(self.max_clock_skew_us)} in the future (now "
                f"{from_us(now).isoformat()}); commit times never decrease, so it would hold "
                "back every later commit. Fix the timestamp or the clock, or open the "
                "repository with a larger max_clock_skew")
        elif parent_time is not None and time_us < parent_time:
            raise InvalidValue(
                f"commit time {from_us(time_us).isoformat()} is earlier than its parent's "
                f"({from_us(parent_time).isoformat()}); history must move forward in time")
        applied: list[tuple[StoredRow | None, Write, bytes | None]] = []
        olds = self._replaced_rows(head, head_chain, writes, known_old or {})
        records = provenance.intern(db, [w.provenance for w in writes
                                         if isinstance(w.provenance, str)])
        for write in writes:
            if isinstance(write.provenance, str):
                write = write._replace(provenance=records[write.provenance])
            old = olds.get((write.kind, write.key))
            new_hash = write.hash
            if write.op == DELETE and (old is None or old.op == DELETE):
                continue
            # same value from the same source: nothing to record. The same value from another
            # source is a new row (its provenance changes) that leaves the state hash as it is.
            if write.op == PUT and old is not None and old.op == PUT and \
                    old.hash is not None and bytes(old.hash) == new_hash and \
                    old.provenance == write.provenance:
                continue
            applied.append((old, write, new_hash))
        if not applied and not allow_empty:
            return None
        facts = facts_of(db)
        indexes = search_index.committed(db)  # read before the rows go in, with the facts
        before = facts.known(db)
        # The line's lock, held to COMMIT (callers hold their branch's already): the line's
        # commits get increasing seqs in commit order. No repository-wide lock: commits to
        # other lines proceed (docs/postgres.md, "Many writers", for why that stays exact).
        db.lock(f"line:{line}")
        seq = next_seq(db)
        added = removed = 0
        counts: dict[str, int] = {}
        inserts, supersede = [], []
        for old, write, new_hash in applied:
            inserts.append((write.kind, write.key, line, seq, write.op, write.type, write.source,
                            write.target, write.value, new_hash, write.origin,
                            write.valid_from, write.valid_to, write.provenance))
            old_live = old is not None and old.op == PUT
            if old is not None and old.line == line:
                supersede.append((seq, old.rid, line))
            if old_live:
                assert old is not None and old.hash is not None
                removed += element_term(write.kind, write.key, bytes(old.hash))
            if new_hash is not None:
                added += element_term(write.kind, write.key, new_hash)
            if old_live and new_hash is not None and old is not None and \
                    bytes(old.hash or b"") == new_hash:
                continue  # only the provenance changed: not a change of the state
            change = ("deleted" if write.op == DELETE else "modified" if old_live else "created")
            group = _STAT_NAMES.get(write.kind)
            stat = f"{group}_{change}" if group else "kv_changed"
            counts[stat] = counts.get(stat, 0) + 1
        if len(inserts) > 64:
            inserts.sort(key=lambda row: (row[0], row[1]))  # index locality for big commits
        db.many("INSERT INTO rows (kind, key, line, seq, op, type, source, target, value, hash, "
                "origin, valid_from, valid_to, provenance) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", inserts)
        if supersede:
            # the line too: partitioned or distributed by line, the update touches one part
            db.many("UPDATE rows SET superseded = ? WHERE rid = ? AND line = ?", supersede)
        type_counts.record(db, line, seq, head_chain, type_counts.deltas_of(
            (w.kind, old.op if old else None, old.type if old else None, w.op, w.type)
            for old, w, _ in applied))
        if indexes:
            search_index.index_rows(db, line, seq, [(w.kind, w.key, w.op, w.type, w.value)
                                                    for _, w, _ in applied], indexes)
        state = state_combine(bytes.fromhex(parent.state_hash) if parent else EMPTY_STATE,
                              added, removed)
        stats = CommitStats(**counts)
        meta = dict(metadata)
        cid = commit_id(list(parents), state, author, message, time_us, meta)
        db.run(f"INSERT INTO commits ({_COMMIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (seq, id_bytes(cid), line, parents_bytes(parents), author, message, time_us,
                encode(meta),
                encode(counts), state))  # the stats that are not zero
        db.run("UPDATE lines SET head_seq = ? WHERE id = ?", (seq, line))
        if before is not None:
            facts.carry(db, before, line, seq, {(w.kind, w.type) for _, w, _ in applied})
        commit = Commit(id=cid, parents=tuple(parents), author=author, message=message,
                        timestamp=from_us(time_us), metadata=meta, stats=stats,
                        state_hash=state.hex(), seq=seq, line=line)
        self._remember(commit)
        return commit

    def _replaced_rows(self, head: int | None, chain: Chain, writes: Sequence[Write],
                       known: dict[tuple[str, str], StoredRow | None]
                       ) -> dict[tuple[str, str], StoredRow | None]:
        """The rows that ``writes`` replace at the head: known ones, the rest batch-read."""
        out = dict(known)
        if head is None:  # an empty line with nothing to fork from: no older rows anywhere
            return out
        missing: dict[str, list[str]] = {}
        for write in writes:
            if (write.kind, write.key) not in out:
                missing.setdefault(write.kind, []).append(write.key)
        for kind, keys in missing.items():
            found = read_rows(self.db, chain, kind, keys)
            for key in keys:
                out[(kind, key)] = found.get(key)
        return out
