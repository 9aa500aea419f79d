"""The JSON encoding of every public value type: one encoder and one decoder per type.

The HTTP server answers with these shapes, the HTTP client rebuilds values from them and the
CLI's ``--json`` prints them, so a value looks the same on every face, and
``decode(type(x), encode(x)) == x`` exactly (``tests/test_wire.py``)::

    wire.encode(commit)                  # {"id": ..., "timestamp": "2026-...+00:00", ...}
    wire.decode(Commit, data)            # the Commit again

Conventions: times are ISO 8601 text (``datetime.isoformat``); key-value values (bytes) are
base64 text; a commit inside another value is the whole commit; absent values are ``null``,
never missing keys. JSON values (properties, documents, metadata) pass through unchanged, so
``1``, ``1.0`` and ``true`` stay distinct. Decoders ignore keys they do not know (derived ones
such as ``short_id``, a change's ``properties`` or a diff's ``stats``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar, cast

from .errors import InvalidValue
from .types import (
    JSON,
    Blame,
    Branch,
    Change,
    Commit,
    CommitStats,
    Conflict,
    Diff,
    Document,
    Entity,
    Entry,
    KVEvent,
    MergeResult,
    RefLogEntry,
    Relation,
    Tag,
    Version,
)

T = TypeVar("T")
Data = Mapping[str, Any]


def encode(value: Any) -> dict[str, JSON]:
    """The JSON object of a value of one of :data:`TYPES`."""
    codec = _CODECS.get(type(value))
    if codec is None:
        raise InvalidValue(f"{type(value).__name__} has no JSON encoding")
    out: dict[str, JSON] = codec[0](value)
    return out


def decode(cls: type[T], data: Any) -> T:
    """The ``cls`` value that :func:`encode` turned into ``data``."""
    codec = _CODECS.get(cls)
    if codec is None:
        raise InvalidValue(f"{cls.__name__} has no JSON encoding")
    return cast(T, codec[1](data))


# -- pieces ----------------------------------------------------------------------------------
def _time(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _time_from(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _bytes(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


def _bytes_from(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def _maybe(data: Any, cls: type[T]) -> T | None:
    return None if data is None else decode(cls, data)


def value(element: Any) -> JSON:
    """An element's value as a change or version holds it: an Entity, Relation or Document
    encoded, key-value bytes as base64, ``None`` as ``null``."""
    if isinstance(element, bytes):
        return _bytes(element)
    if isinstance(element, Entity | Relation | Document):
        return encode(element)
    return element


def value_from(element: str | None, data: Any) -> Any:
    """The element value :func:`value` encoded; ``element`` names its kind (when None, the
    shape tells: relations have ends, documents a collection, kv values are text)."""
    if data is None:
        return None
    if element is None:
        element = ("kv" if isinstance(data, str) else "relation" if "source" in data
                   else "document" if "collection" in data else "entity")
    if element == "entity":
        return decode(Entity, data)
    if element == "relation":
        return decode(Relation, data)
    if element == "document":
        return decode(Document, data)
    return _bytes_from(data)


# -- graph and documents ---------------------------------------------------------------------
def _entity(e: Entity) -> JSON:
    return {"id": e.id, "type": e.type, "props": e.props}


def _entity_from(d: Data) -> Entity:
    return Entity(d["id"], d["type"], dict(d.get("props") or {}))


def _relation(r: Relation) -> JSON:
    return {"id": r.id, "type": r.type, "source": r.source, "target": r.target,
            "props": r.props}


def _relation_from(d: Data) -> Relation:
    return Relation(d["id"], d["type"], d["source"], d["target"], dict(d.get("props") or {}))


def _document(d: Document) -> JSON:
    return {"collection": d.collection, "key": d.key, "value": d.value}


def _document_from(d: Data) -> Document:
    return Document(d["collection"], d["key"], d["value"])


# -- commits and refs ------------------------------------------------------------------------
def _stats(s: CommitStats) -> JSON:
    return s.to_dict()


def _stats_from(d: Data) -> CommitStats:
    return CommitStats(**d)


def _commit(c: Commit) -> JSON:
    return {"id": c.id, "parents": list(c.parents), "author": c.author,
            "message": c.message, "timestamp": _time(c.timestamp), "metadata": c.metadata,
            "stats": _stats(c.stats), "state_hash": c.state_hash, "short_id": c.short_id,
            "seq": c.seq, "line": c.line}


def _commit_from(d: Data) -> Commit:
    return Commit(d["id"], tuple(d["parents"]), d["author"], d["message"],
                  datetime.fromisoformat(d["timestamp"]), dict(d["metadata"]),
                  _stats_from(d["stats"]), d["state_hash"], int(d["seq"]), int(d["line"]))


def _branch(b: Branch) -> JSON:
    return {"name": b.name, "head": _maybe_encode(b.head), "current": b.current,
            "ahead": b.ahead, "behind": b.behind}


def _branch_from(d: Data) -> Branch:
    return Branch(d["name"], _maybe(d.get("head"), Commit), bool(d.get("current", False)),
                  d.get("ahead"), d.get("behind"))


def _tag(t: Tag) -> JSON:
    return {"name": t.name, "commit": _commit(t.commit), "message": t.message,
            "author": t.author, "timestamp": _time(t.timestamp)}


def _tag_from(d: Data) -> Tag:
    return Tag(d["name"], _commit_from(d["commit"]), d.get("message"), d.get("author"),
               _time_from(d.get("timestamp")))


def _reflog(e: RefLogEntry) -> JSON:
    return {"name": e.name, "old": e.old, "new": e.new, "timestamp": _time(e.timestamp),
            "author": e.author, "message": e.message}


def _reflog_from(d: Data) -> RefLogEntry:
    return RefLogEntry(d["name"], d.get("old"), d.get("new"),
                       datetime.fromisoformat(d["timestamp"]), d["author"], d["message"])


def _maybe_encode(value: Any) -> JSON:
    return None if value is None else encode(value)


# -- history ---------------------------------------------------------------------------------
def _change(c: Change) -> JSON:
    return {"kind": c.kind, "element": c.element, "id": c.id, "collection": c.collection,
            "old": value(c.old), "new": value(c.new),
            "properties": {name: {"old": value(old), "new": value(new)}
                           for name, (old, new) in c.property_changes().items()}}


def _change_from(d: Data) -> Change:
    element = d["element"]
    return Change(d["kind"], element, d["id"], value_from(element, d["old"]),
                  value_from(element, d["new"]), d.get("collection"))


def _version(v: Version) -> JSON:
    return {"commit": _commit(v.commit), "kind": v.kind, "value": value(v.value),
            "origin": v.origin, "element": v.element, "id": v.id}


def _version_from(d: Data) -> Version:
    element = d.get("element")
    return Version(_commit_from(d["commit"]), d["kind"], value_from(element, d["value"]),
                   d.get("origin"), element, d.get("id"))


def _blame(b: Blame) -> JSON:
    return {"property": b.property, "value": b.value, "commit": _commit(b.commit),
            "origin": b.origin, "relation": b.relation}


def _blame_from(d: Data) -> Blame:
    return Blame(d["property"], d["value"], _commit_from(d["commit"]), d.get("origin"),
                 d.get("relation"))


def _diff(diff: Diff) -> JSON:
    return {"from": diff.a.id if diff.a else None, "to": diff.b.id if diff.b else None,
            "from_commit": _maybe_encode(diff.a), "to_commit": _maybe_encode(diff.b),
            "stats": _stats(diff.stats), "changes": [_change(c) for c in diff.changes],
            "collection_presence": {k: list(v) for k, v in diff.collection_presence.items()}}


def _diff_from(d: Data) -> Diff:
    return Diff(_maybe(d.get("from_commit"), Commit), _maybe(d.get("to_commit"), Commit),
                [_change_from(c) for c in d["changes"]],
                {k: (bool(v[0]), bool(v[1]))
                 for k, v in (d.get("collection_presence") or {}).items()})


# -- merges ----------------------------------------------------------------------------------
def _conflict(c: Conflict) -> JSON:
    return {"element": c.element, "id": c.id, "collection": c.collection,
            "property": c.property, "base": c.base, "ours": c.ours, "theirs": c.theirs,
            "reason": c.reason}


def _conflict_from(d: Data) -> Conflict:
    return Conflict(d["element"], d["id"], d.get("property"), d.get("base"), d.get("ours"),
                    d.get("theirs"), d.get("collection"),
                    d.get("reason", "both sides changed it differently"))


def _merge(m: MergeResult) -> JSON:
    """``changes`` are the preview's incoming changes (the diff's); ``diff`` holds the rest of
    the diff, without repeating them."""
    diff = None
    if m.diff is not None:
        diff = {k: v for k, v in _diff(m.diff).items() if k not in ("changes", "stats")}
    return {"status": m.status, "commit": _maybe_encode(m.commit),
            "base": _maybe_encode(m.base), "source": _maybe_encode(m.source),
            "target": _maybe_encode(m.target),
            "conflicts": [_conflict(c) for c in m.conflicts],
            "resolved": [_conflict(c) for c in m.resolved],
            "changes": None if m.diff is None else [_change(c) for c in m.diff.changes],
            "diff": diff, "dry_run": m.dry_run}


def _merge_from(d: Data) -> MergeResult:
    changes = d.get("changes")
    diff = None
    if changes is not None:
        diff = _diff_from({**(d.get("diff") or {}), "changes": changes})
    return MergeResult(d["status"], _maybe(d.get("commit"), Commit),
                       [_conflict_from(c) for c in d.get("conflicts") or []],
                       _maybe(d.get("base"), Commit), _maybe(d.get("source"), Commit),
                       _maybe(d.get("target"), Commit),
                       [_conflict_from(c) for c in d.get("resolved") or []], diff,
                       bool(d.get("dry_run", changes is not None)))


# -- key-value state -------------------------------------------------------------------------
def _entry(e: Entry) -> JSON:
    return {"key": e.key, "value": _bytes(e.value), "version": e.version,
            "created_at": _time(e.created_at), "updated_at": _time(e.updated_at),
            "commit": e.commit}


def _entry_from(d: Data) -> Entry:
    return Entry(d["key"], base64.b64decode(d["value"]), int(d["version"]),
                 datetime.fromisoformat(d["created_at"]),
                 datetime.fromisoformat(d["updated_at"]), d.get("commit", ""))


def _kv_event(e: KVEvent) -> JSON:
    return {"type": e.type, "key": e.key, "value": _bytes(e.value), "version": e.version,
            "commit": _commit(e.commit), "origin": e.origin}


def _kv_event_from(d: Data) -> KVEvent:
    return KVEvent(d["type"], d["key"], _bytes_from(d.get("value")), int(d["version"]),
                   _commit_from(d["commit"]), d.get("origin"))


_Codec = tuple[Callable[[Any], JSON], Callable[[Any], Any]]
_CODECS: dict[type[Any], _Codec] = {
    Entity: (_entity, _entity_from),
    Relation: (_relation, _relation_from),
    Document: (_document, _document_from),
    CommitStats: (_stats, _stats_from),
    Commit: (_commit, _commit_from),
    Branch: (_branch, _branch_from),
    Tag: (_tag, _tag_from),
    RefLogEntry: (_reflog, _reflog_from),
    Change: (_change, _change_from),
    Version: (_version, _version_from),
    Blame: (_blame, _blame_from),
    Diff: (_diff, _diff_from),
    Conflict: (_conflict, _conflict_from),
    MergeResult: (_merge, _merge_from),
    Entry: (_entry, _entry_from),
    KVEvent: (_kv_event, _kv_event_from),
}

TYPES: tuple[type[Any], ...] = tuple(_CODECS)
"""Every value type with a JSON encoding."""
