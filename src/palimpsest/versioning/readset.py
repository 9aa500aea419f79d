"""What a transaction read, as predicates over rows, and the commit-time check against them.

A transaction reads at its base state. If its branch moved before it commits, the commit may
land on the new head only when every read would have returned the same there: then the result
equals running the transaction after the commits that moved the branch (serializable).

Point reads are tracked by key (the transaction's ``known`` rows). Every other read is recorded
here as a *predicate* naming the rows it depends on:

- ``kinds``: every element of a kind (``entities()`` without a type, ``relations()`` of all
  types);
- ``types``: the elements of one kind and type — entities of a type, relations of a type,
  the documents of a collection (``where`` filters and queries are recorded by their type or
  collection, a superset of the rows that really matter);
- ``ends``: relations starting (``source``) or ending (``target``) at an entity (adjacency,
  neighbors);
- ``ranges``: keys of a kind inside ``[low, high)`` (kv prefix listings and counts).

At commit, :func:`first_conflict` reads the change set between the base and the new head with
both versions of every changed key (:func:`~palimpsest.storage.visibility.rows_at_both`), and a
predicate conflicts when the row on either side is live and matches it: an element that starts
to match, stops matching (deleted, retyped, re-pointed) or changes while matching. Unrelated
changes let the commit land. The cost is O(changes), paid only when the branch moved.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from ..storage.base import Database
from ..storage.visibility import Chain, StoredRow, changed_keys, rows_at_both
from .elements import PUT

Ident = tuple[str, str]

_NAMES = {"e": "entities", "r": "relations", "d": "documents", "k": "kv entries"}


@dataclass
class ReadSet:
    """The predicate reads of one transaction (point reads are kept by the transaction)."""

    kinds: set[str] = field(default_factory=set)
    types: set[tuple[str, str]] = field(default_factory=set)
    ends: set[tuple[str, str]] = field(default_factory=set)
    ranges: set[tuple[str, str, str]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.kinds or self.types or self.ends or self.ranges)

    def kind(self, kind: str, type_: str | None = None) -> None:
        """Record a read of every element of ``kind`` (of one type when ``type_`` is given)."""
        if type_ is None:
            self.kinds.add(kind)
        else:
            self.types.add((kind, type_))

    def end(self, column: str, entity: str) -> None:
        """Record a read of the relations whose ``column`` (source/target) is ``entity``."""
        assert column in ("source", "target")
        self.ends.add((column, entity))

    def range(self, kind: str, low: str, high: str) -> None:
        """Record a read of the keys of ``kind`` in ``[low, high)``."""
        self.ranges.add((kind, low, high))

    def matching(self, row: StoredRow) -> str | None:
        """A description of the first recorded read ``row`` could change, or None."""
        if row.op != PUT:
            return None  # a deletion row is no element; the live row it replaces is checked
        if row.kind in self.kinds:
            return f"all {_NAMES.get(row.kind, row.kind)}"
        if row.type is not None and (row.kind, row.type) in self.types:
            return f"{_NAMES.get(row.kind, row.kind)} of type {row.type!r}"
        if row.kind == "r":
            for column in ("source", "target"):
                end = getattr(row, column)
                if end is not None and (column, end) in self.ends:
                    word = "from" if column == "source" else "to"
                    return f"relations {word} {end!r}"
        for kind, low, high in self.ranges:
            if kind == row.kind and low <= row.key < high:
                return f"{_NAMES.get(kind, kind)} under {low!r}"
        return None


def first_conflict(db: Database, base: Chain, moved: Chain, keys: Collection[Ident],
                   reads: ReadSet) -> str | None:
    """Why a transaction based on ``base`` can't land on ``moved``: the first changed key it
    read or wrote, or the first predicate read a changed row matches; None when nothing it
    depends on changed."""
    if not reads:  # point reads only: the changed keys are enough
        clash = sorted(set(changed_keys(db, base, moved)) & set(keys))
        if not clash:
            return None
        return ", ".join(f"{kind}:{key}" for kind, key in clash[:5])
    for kind, key, old, new in rows_at_both(db, base, moved):
        if (kind, key) in keys:
            return f"{kind}:{key}"
        for row in (old, new):
            if row is not None:
                why = reads.matching(row)
                if why is not None:
                    return f"{why} ({kind}:{key} changed)"
    return None
