"""Diffs between any two states, at property level, and their RFC 6902 rendering.

The keys that can differ between two commits are those with rows in one chain and not the
other (:func:`palimpsest.storage.visibility.changed_keys`), so a diff costs O(changes), not
O(graph size). Keys written on both sides but ending equal do not appear.
"""

from __future__ import annotations

from ..storage.base import Database
from ..storage.visibility import Chain, StoredRow, rows_at_both, scan
from ..types import Change, ChangeKind, Commit
from ..types import Diff as Diff  # its home before types.py
from .elements import DELETE, element_name, public_id, to_value


def change_between(old_row: StoredRow | None, new_row: StoredRow | None) -> Change | None:
    """The change from one stored version of an element to another (None if equal)."""
    old_live = old_row is not None and old_row.op != DELETE
    new_live = new_row is not None and new_row.op != DELETE
    if not old_live and not new_live:
        return None
    if old_live and new_live:
        assert old_row is not None and new_row is not None
        if old_row.hash is not None and new_row.hash is not None and \
                bytes(old_row.hash) == bytes(new_row.hash):
            return None
    row = new_row if new_row is not None else old_row
    assert row is not None
    kind: ChangeKind = "modified" if old_live and new_live else \
        "created" if new_live else "deleted"
    ident, collection = public_id(row.kind, row.key)
    return Change(kind, element_name(row.kind), ident,
                  to_value(old_row) if old_live else None,
                  to_value(new_row) if new_live else None, collection)


def compute(db: Database, a: Commit | None, chain_a: Chain, b: Commit | None,
            chain_b: Chain) -> Diff:
    """The diff from state ``a`` to state ``b``."""
    changes: list[Change] = []
    collections: set[str] = set()
    for _, _, before, after in rows_at_both(db, chain_a, chain_b):
        change = change_between(before, after)
        if change is not None:
            changes.append(change)
            if change.collection is not None:
                collections.add(change.collection)
    order = {"entity": 0, "relation": 1, "document": 2, "kv": 3}
    changes.sort(key=lambda c: (order[c.element], c.collection or "", c.id))
    presence = {name: (_has_collection(db, chain_a, name), _has_collection(db, chain_b, name))
                for name in collections}
    return Diff(a, b, changes, presence)


def _has_collection(db: Database, chain: Chain, collection: str) -> bool:
    return next(scan(db, chain, "d", type_=collection, limit=1), None) is not None
