"""Diffs between any two states, at property level, and their RFC 6902 rendering.

A diff costs what its result costs. The keys that can differ between two commits are those
with rows in one chain and not the other; one set-based query
(:func:`palimpsest.storage.visibility.change_rids`) finds each such key's row on both sides
and decides from ops and hashes which really changed, returning the change kind and the two
rows' rids only, so the change kinds and counts are known without copying or decoding any
value. Values are read in batches, decoded and hash-checked only when a change is read
(:class:`RowChanges`). Pages (``limit``/``after``) run the index seeks for one window of
keys only, so the first page of a huge diff is as quick as a small diff; :func:`stats` counts
in SQL alone. Keys written on both sides but ending equal do not appear.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

from ..errors import InvalidValue, RetentionExpired
from ..storage.base import Database
from ..storage.visibility import (
    KIND_ORDER,
    Chain,
    StoredRow,
    change_counts,
    change_rids,
    rows_by_rid,
    scan,
)
from ..types import Change, ChangeKind, ChangeList, Commit, CommitStats, ElementKind, stat_name
from ..types import Diff as Diff  # its home before types.py
from . import provenance
from .elements import DELETE, element_name, public_id, split_doc_key, to_value

_FIRST_WINDOW = 64
_BATCH = 256
"""Changes read (values fetched and decoded) together when one of them is first read."""


def change_kind(old_row: StoredRow | None, new_row: StoredRow | None) -> ChangeKind | None:
    """What happened to a key between two of its stored versions (None: nothing), from row
    ops and hashes alone."""
    old_live = old_row is not None and old_row.op != DELETE
    new_live = new_row is not None and new_row.op != DELETE
    if old_live and new_live:
        assert old_row is not None and new_row is not None
        if old_row.hash is not None and new_row.hash is not None and \
                bytes(old_row.hash) == bytes(new_row.hash):
            return None
        return "modified"
    return "created" if new_live else "deleted" if old_live else None


def _change(kind: ChangeKind, old_row: StoredRow | None, new_row: StoredRow | None,
            records: Mapping[int, dict[str, Any]]) -> Change:
    row = new_row if new_row is not None else old_row
    assert row is not None
    ident, collection = public_id(row.kind, row.key)
    made = new_row.provenance if new_row is not None else None
    return Change(kind, element_name(row.kind), ident,
                  to_value(old_row) if kind != "created" else None,
                  to_value(new_row) if kind != "deleted" else None, collection,
                  records.get(made) if made is not None else None)


def change_between(old_row: StoredRow | None, new_row: StoredRow | None,
                   records: Mapping[int, dict[str, Any]] | None = None) -> Change | None:
    """The change from one stored version of an element to another (None if equal);
    ``records``: the provenance records of the rows (``versioning/provenance.py``)."""
    kind = change_kind(old_row, new_row)
    return None if kind is None else _change(kind, old_row, new_row, records or {})


class RowChanges(ChangeList):
    """Changes kept as their kinds and the rids of their rows (:func:`change_rids` tuples);
    a change's rows are read (:func:`rows_by_rid`, a batch of neighbours at a time), decoded
    and hash-checked the first time it is read (see :class:`ChangeList`). Rows are immutable,
    so a later read gives what the diff saw; one that gc has removed since raises
    :class:`RetentionExpired` (compute the diff again)."""

    __slots__ = ("_decoded", "_fetch", "_records", "_rows")

    def __init__(self, rows: Sequence[tuple[Any, ...]],
                 fetch: Callable[[Sequence[int]], dict[int, StoredRow]],
                 records: Callable[[Iterable[int | None]], Mapping[int, dict[str, Any]]]
                 | None = None) -> None:
        """``fetch`` reads rows by rid; ``records`` the provenance records of rows
        (``versioning/provenance.py``), read with each batch."""
        self._rows = list(rows)
        self._fetch = fetch
        self._records = records
        self._decoded: list[Change | None] = [None] * len(self._rows)

    def kinds(self) -> list[tuple[ElementKind, ChangeKind]]:
        return [(element_name(raw[1]), raw[3]) for raw in self._rows]

    def keys(self) -> list[tuple[str, str]]:
        """``(kind, key)`` of each change, as stored."""
        return [(raw[1], raw[2]) for raw in self._rows]

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Change: ...

    @overload
    def __getitem__(self, index: slice) -> list[Change]: ...

    def __getitem__(self, index: int | slice) -> Change | list[Change]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self._rows)
        if not 0 <= index < len(self._rows):
            raise IndexError("change index out of range")
        found = self._decoded[index]
        if found is None:
            self._load(index - index % _BATCH)
            found = self._decoded[index]
            assert found is not None
        return found

    def _load(self, start: int) -> None:
        """Read, decode and check the changes ``start`` … ``start + _BATCH`` in one go."""
        window = range(start, min(start + _BATCH, len(self._rows)))
        rids = [rid for i in window for rid in self._rows[i][4:6] if rid is not None]
        rows = self._fetch(rids)
        records = self._records([row.provenance for row in rows.values()]) \
            if self._records is not None else {}
        for i in window:
            if self._decoded[i] is not None:
                continue
            _, _, key, change, old_rid, new_rid = self._rows[i]
            old, new = rows.get(old_rid), rows.get(new_rid)
            if (old_rid is not None and old is None) or (new_rid is not None and new is None):
                raise RetentionExpired(
                    f"a version in this diff (of {key!r}) was removed by gc after the diff "
                    "was computed; compute the diff again")
            self._decoded[i] = _change(change, old, new, records)

    def __iter__(self) -> Iterator[Change]:
        for i in range(len(self._rows)):
            yield self[i]


def cursor_of(kind: str, key: str) -> str:
    """The opaque page cursor after element ``(kind, key)``."""
    return f"{kind}:{key}"


def parse_cursor(after: str) -> tuple[str, str]:
    if not isinstance(after, str) or len(after) < 2 or after[1] != ":" \
            or after[0] not in KIND_ORDER:
        raise InvalidValue(f"{after!r} is not a diff cursor: pass the 'next' of the previous "
                           "page as after=")
    return after[0], after[2:]


def compute(db: Database, a: Commit | None, chain_a: Chain, b: Commit | None,
            chain_b: Chain, *, limit: int | None = None, after: str | None = None) -> Diff:
    """The diff from state ``a`` to state ``b``, or one page of it (``limit`` changes after
    the cursor ``after``)."""
    start = parse_cursor(after) if after is not None else None
    if limit is None:
        return _diff(db, a, chain_a, b, chain_b, change_rids(db, chain_a, chain_b, after=start),
                     None)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidValue(f"limit must be a positive integer, not {limit!r}; omit it for the "
                           "whole diff")
    found: list[tuple[Any, ...]] = []
    window = max(limit + 1, _FIRST_WINDOW)
    while len(found) <= limit:
        pairs = change_rids(db, chain_a, chain_b, after=start, limit=window)
        found += [raw for raw in pairs if raw[3]]
        if len(pairs) < window:
            break
        start = (pairs[-1][1], pairs[-1][2])
        window *= 2  # keys written on both sides but equal again were skipped: read further
    page = found[:limit]
    cursor = cursor_of(page[-1][1], page[-1][2]) if len(found) > limit else None
    return _diff(db, a, chain_a, b, chain_b, page, cursor)


def _diff(db: Database, a: Commit | None, chain_a: Chain, b: Commit | None, chain_b: Chain,
          rows: list[tuple[Any, ...]], cursor: str | None) -> Diff:
    collections = sorted({split_doc_key(raw[2])[0] for raw in rows if raw[1] == "d"})
    presence = {name: (_has_collection(db, chain_a, name), _has_collection(db, chain_b, name))
                for name in collections}
    return Diff(a, b, RowChanges(rows, lambda rids: rows_by_rid(db, rids),
                                 lambda ids: provenance.records(db, ids)), presence, cursor)


def stats(db: Database, chain_a: Chain, chain_b: Chain) -> CommitStats:
    """The counts of the diff from ``chain_a``'s state to ``chain_b``'s, straight from SQL
    (row ops and hashes; no value is read)."""
    counts: dict[str, int] = {}
    for (kind, change, _), n in change_counts(db, chain_a, chain_b).items():
        name = stat_name(element_name(kind), change)  # type: ignore[arg-type]
        counts[name] = counts.get(name, 0) + n
    return CommitStats(**counts)


def _has_collection(db: Database, chain: Chain, collection: str) -> bool:
    return next(scan(db, chain, "d", type_=collection, limit=1), None) is not None
