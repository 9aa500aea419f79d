"""Diffs between any two states, at property level, and their RFC 6902 rendering.

The keys that can differ between two commits are those with rows in one chain and not the
other (:func:`palimpsest.storage.visibility.changed_keys`), so a diff costs O(changes), not
O(graph size). Keys written on both sides but ending equal do not appear.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from ..codec import json_equal
from ..storage.base import Database
from ..storage.visibility import Chain, StoredRow, rows_at_both, scan
from ..types import Change, ChangeKind, Commit, CommitStats
from .elements import DELETE, element_name, public_id, to_value


@dataclass(frozen=True, slots=True)
class Diff:
    """What changed from state ``a`` to state ``b``: one :class:`Change` per element."""

    a: Commit | None
    b: Commit | None
    changes: list[Change] = field(default_factory=list)

    def _select(self, element: str, kind: ChangeKind) -> list[Change]:
        return [c for c in self.changes if c.element == element and c.kind == kind]

    @property
    def entities_added(self) -> list[Change]:
        return self._select("entity", "created")

    @property
    def entities_removed(self) -> list[Change]:
        return self._select("entity", "deleted")

    @property
    def entities_modified(self) -> list[Change]:
        return self._select("entity", "modified")

    @property
    def relations_added(self) -> list[Change]:
        return self._select("relation", "created")

    @property
    def relations_removed(self) -> list[Change]:
        return self._select("relation", "deleted")

    @property
    def relations_modified(self) -> list[Change]:
        return self._select("relation", "modified")

    @property
    def documents_changed(self) -> list[Change]:
        return [c for c in self.changes if c.element == "document"]

    @property
    def stats(self) -> CommitStats:
        counts: dict[str, int] = {}
        for change in self.changes:
            if change.element == "kv":
                name = "kv_changed"
            else:
                group = {"entity": "entities", "relation": "relations",
                         "document": "documents"}[change.element]
                name = f"{group}_{change.kind}"
            counts[name] = counts.get(name, 0) + 1
        return CommitStats(**counts)

    def __len__(self) -> int:
        return len(self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __iter__(self) -> Any:
        return iter(self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.a.id if self.a else None,
            "to": self.b.id if self.b else None,
            "stats": self.stats.to_dict(),
            "changes": [c.to_dict() | {"properties": {
                k: {"old": o, "new": n} for k, (o, n) in c.property_changes().items()}}
                for c in self.changes],
        }

    def to_json_patch(self) -> list[dict[str, Any]]:
        """RFC 6902 operations turning ``a``'s ``View.to_dict()`` into ``b``'s."""
        ops: list[dict[str, Any]] = []
        docs_by_collection: dict[str, list[Change]] = {}
        for change in self.changes:
            if change.element == "document":
                docs_by_collection.setdefault(change.collection or "", []).append(change)
            elif change.element in ("entity", "relation"):
                root = "/entities" if change.element == "entity" else "/relations"
                ops += _element_ops(root, change)
            elif change.element == "kv":
                ops += _kv_ops(change)
        for collection, changes in docs_by_collection.items():
            ops += _collection_ops(collection, changes, self._collection_presence)
        return ops

    # Filled by compute(): whether a document collection exists at a and at b.
    _collection_presence: dict[str, tuple[bool, bool]] = field(default_factory=dict)


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _element_ops(root: str, change: Change) -> list[dict[str, Any]]:
    path = root + _pointer(change.id)
    if change.kind == "created":
        return [{"op": "add", "path": path, "value": change.new.to_dict()}]
    if change.kind == "deleted":
        return [{"op": "remove", "path": path}]
    ops: list[dict[str, Any]] = []
    old, new = change.old.to_dict(), change.new.to_dict()
    for name in ("type", "source", "target"):
        if name in new and not json_equal(old.get(name), new[name]):
            ops.append({"op": "replace", "path": path + _pointer(name), "value": new[name]})
    before, after = old["props"], new["props"]
    for prop in sorted(before.keys() | after.keys()):
        target = path + _pointer("props", prop)
        if prop not in after:
            ops.append({"op": "remove", "path": target})
        elif prop not in before:
            ops.append({"op": "add", "path": target, "value": after[prop]})
        elif not json_equal(before[prop], after[prop]):  # 1 -> true is a change, at any depth
            ops.append({"op": "replace", "path": target, "value": after[prop]})
    return ops


def _kv_ops(change: Change) -> list[dict[str, Any]]:
    path = "/kv" + _pointer(change.id)
    if change.kind == "deleted":
        return [{"op": "remove", "path": path}]
    value = base64.b64encode(change.new).decode()
    return [{"op": "add" if change.kind == "created" else "replace", "path": path,
             "value": value}]


def _collection_ops(collection: str, changes: list[Change],
                    presence: dict[str, tuple[bool, bool]]) -> list[dict[str, Any]]:
    in_a, in_b = presence.get(collection, (True, True))
    root = "/documents" + _pointer(collection)
    if not in_a and in_b:
        return [{"op": "add", "path": root,
                 "value": {c.id: c.new.value for c in changes if c.new is not None}}]
    if in_a and not in_b:
        return [{"op": "remove", "path": root}]
    ops: list[dict[str, Any]] = []
    for change in changes:
        path = root + _pointer(change.id)
        if change.kind == "created":
            ops.append({"op": "add", "path": path, "value": change.new.value})
        elif change.kind == "deleted":
            ops.append({"op": "remove", "path": path})
        else:
            ops.append({"op": "replace", "path": path, "value": change.new.value})
    return ops


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
