"""Diffs between any two states, at property level, and their RFC 6902 rendering.

A diff costs what its result costs. The keys that can differ between two commits are those
with rows in one chain and not the other; one set-based query
(:func:`palimpsest.storage.visibility.row_pairs`) returns each such key with its row on both
sides, and hashes decide which really changed, so the change kinds and counts are known
without decoding any value. Values are decoded (and their hashes checked) only when a change is
read (:class:`RowChanges`). Pages (``limit``/``after``) run the index seeks for one window of
keys only, so the first page of a huge diff is as quick as a small diff; :func:`stats` counts
in SQL alone. Keys written on both sides but ending equal do not appear.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

from ..errors import InvalidValue
from ..storage.base import Database
from ..storage.visibility import (
    KIND_ORDER,
    Chain,
    StoredRow,
    change_counts,
    raw_pairs,
    scan,
    stored,
)
from ..types import Change, ChangeKind, ChangeList, Commit, CommitStats, ElementKind, stat_name
from ..types import Diff as Diff  # its home before types.py
from . import provenance
from .elements import DELETE, element_name, public_id, split_doc_key, to_value

_FIRST_WINDOW = 64


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
    """Changes kept as their stored rows (:func:`raw_pairs` tuples) and decoded on first read
    (see :class:`ChangeList`). Holds no database handle: the rows were read with the diff."""

    __slots__ = ("_decoded", "_records", "_rows")

    def __init__(self, rows: Sequence[tuple[Any, ...]],
                 records: Mapping[int, dict[str, Any]] | None = None) -> None:
        self._rows = list(rows)
        self._records = records or {}
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
        found = self._decoded[index]
        if found is None:
            raw = self._rows[index]
            found = self._decoded[index] = _change(raw[3], *stored(raw), self._records)
        return found

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
        rows = [raw for raw in raw_pairs(db, chain_a, chain_b, after=start) if raw[3]]
        return _diff(db, a, chain_a, b, chain_b, rows, None)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidValue(f"limit must be a positive integer, not {limit!r}; omit it for the "
                           "whole diff")
    found: list[tuple[Any, ...]] = []
    window = max(limit + 1, _FIRST_WINDOW)
    while len(found) <= limit:
        pairs = raw_pairs(db, chain_a, chain_b, after=start, limit=window)
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
    made = [new.provenance for raw in rows
            for new in stored(raw)[1:] if new is not None and new.provenance is not None]
    return Diff(a, b, RowChanges(rows, provenance.records(db, made)), presence, cursor)


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
