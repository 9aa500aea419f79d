"""The JSON encoding of every public value type: one encoder and one decoder per type.

The HTTP server answers with these shapes, the HTTP client rebuilds values from them and the
CLI's ``--json`` prints them, so a value looks the same on every face, and
``decode(type(x), encode(x)) == x`` exactly (``tests/test_wire.py``)::

    wire.encode(commit)                  # {"id": ..., "timestamp": "2026-...+00:00", ...}
    wire.decode(Commit, data)            # the Commit again

Conventions: times are ISO 8601 text (``datetime.isoformat``); key-value values (bytes) are
base64 text; a commit inside another value is the whole commit; absent values are ``null``,
never missing keys. JSON values (properties, documents, metadata) pass through unchanged, so
``1``, ``1.0`` and ``true`` stay distinct. A value is the object of its dataclass fields unless
said otherwise below; decoders ignore keys they do not know (derived ones such as a commit's
``short_id``, a change's ``properties`` or a diff's ``stats``).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from types import UnionType
from typing import Any, TypeVar, cast, get_args, get_origin, get_type_hints

from .errors import InvalidValue
from .types import (
    JSON,
    BackupInfo,
    Blame,
    Branch,
    Change,
    Commit,
    CommitStats,
    Conflict,
    CopyReport,
    CypherResult,
    Diff,
    Document,
    Entity,
    Entry,
    Erasure,
    FsckReport,
    GcReport,
    IndexInfo,
    KVEvent,
    MergeResult,
    Problem,
    RefLogEntry,
    Relation,
    Remote,
    RetentionPolicy,
    Schema,
    SearchHit,
    ShaclReport,
    ShaclResult,
    SimilarHit,
    SyncReport,
    Tag,
    TextIndex,
    VectorIndex,
    Version,
    ViewInfo,
    Violation,
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


# -- the generic rule: a dataclass is the object of its fields -------------------------------
def _plain(cls: type[Any], *, skip: str = "") -> Callable[[Any], JSON]:
    names = [f.name for f in dataclasses.fields(cls) if f.name != skip]
    return lambda value: {name: _out(getattr(value, name)) for name in names}


def _out(v: Any) -> JSON:
    """A field's JSON: times as ISO text, bytes as base64, values of :data:`TYPES` encoded."""
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if type(v) in _CODECS:
        return encode(v)
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, list) and v and type(v[0]) in _CODECS:
        return [encode(x) for x in v]
    return v


def _plain_from(cls: type[Any]) -> Callable[[Any], Any]:
    return lambda data: cls(**{name: read(data[name]) for name, read in _readers(cls)
                               if name in data})


def _readers(cls: type[Any]) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """Each field's name and reader, worked out from its annotation on first use."""
    found = _READERS.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        found = _READERS[cls] = tuple((f.name, _reader(hints[f.name]))
                                      for f in dataclasses.fields(cls))
    return found


_READERS: dict[type[Any], tuple[tuple[str, Callable[[Any], Any]], ...]] = {}


def _reader(hint: Any) -> Callable[[Any], Any]:
    """How to read a field of type ``hint`` back from its JSON (``None`` stays ``None``)."""
    args = [a for a in get_args(hint) if a is not type(None)]
    if isinstance(hint, UnionType) and len(args) == 1:
        inner = _reader(args[0])
        return lambda data: None if data is None else inner(data)
    if hint is datetime:
        return datetime.fromisoformat
    if hint is bytes:
        return base64.b64decode
    if hint in _CODECS:
        return lambda data: decode(hint, data)
    if get_origin(hint) is tuple:
        return tuple
    if get_origin(hint) is list and args and args[0] in _CODECS:
        return lambda data: [decode(args[0], x) for x in data]
    return lambda data: data


# -- where a shape is more than the fields ---------------------------------------------------
def _value_from(element: str | None, data: Any) -> Any:
    """An element's value as a change or version holds it (an Entity, Relation, Document or
    key-value bytes); ``element`` names its kind (when None, the shape tells: relations have
    ends, documents a collection, kv values are base64 text)."""
    if data is None:
        return None
    if element is None:
        element = ("kv" if isinstance(data, str) else "relation" if "source" in data
                   else "document" if "collection" in data else "entity")
    if element == "kv":
        return base64.b64decode(data)
    return decode({"entity": Entity, "relation": Relation, "document": Document}[element], data)


def _commit(c: Commit) -> JSON:
    return {**_commit_fields(c), "short_id": c.short_id}


def _change(c: Change) -> JSON:
    return {**_change_fields(c), "properties": {
        name: {"old": _out(old), "new": _out(new)}
        for name, (old, new) in c.property_changes().items()}}


def _change_from(d: Data) -> Change:
    element = d["element"]
    return Change(d["kind"], element, d["id"], _value_from(element, d["old"]),
                  _value_from(element, d["new"]), d.get("collection"), d.get("provenance"))


def _version_from(d: Data) -> Version:
    element = d.get("element")
    return Version(decode(Commit, d["commit"]), d["kind"], _value_from(element, d["value"]),
                   d.get("origin"), element, d.get("id"), d.get("provenance"))


def _diff(diff: Diff) -> JSON:
    return {"from": diff.a.id if diff.a else None, "to": diff.b.id if diff.b else None,
            "from_commit": _out(diff.a), "to_commit": _out(diff.b),
            "stats": encode(diff.stats), "changes": [encode(c) for c in diff.changes],
            "collection_presence": {k: list(v) for k, v in diff.collection_presence.items()},
            "next": diff.next}


def _diff_from(d: Data) -> Diff:
    commit = _reader(Commit | None)
    return Diff(commit(d.get("from_commit")), commit(d.get("to_commit")),
                [_change_from(c) for c in d["changes"]],
                {k: (bool(v[0]), bool(v[1]))
                 for k, v in (d.get("collection_presence") or {}).items()}, d.get("next"))


def _merge(m: MergeResult) -> JSON:
    """``changes``: a preview's incoming changes; ``diff``: the rest of the preview's diff."""
    out = _merge_fields(m)
    diff = None if m.diff is None else _diff(m.diff)
    out["changes"] = None if diff is None else diff.pop("changes")
    out["diff"] = diff and {k: v for k, v in diff.items() if k != "stats"}
    return out


def _merge_from(d: Data) -> MergeResult:
    changes = d.get("changes")
    diff = None if changes is None else _diff_from({**(d.get("diff") or {}),
                                                    "changes": changes})
    result: MergeResult = _plain_from(MergeResult)({k: v for k, v in d.items() if k != "diff"})
    return dataclasses.replace(result, diff=diff)


def _hit(hit: SearchHit | SimilarHit) -> JSON:
    """A search hit: its element (with ``element`` naming the kind) and its score."""
    out = {f.name: _out(getattr(hit, f.name)) for f in dataclasses.fields(hit)}
    out["kind"] = "entity" if isinstance(hit.element, Entity) else "document"
    return out


def _hit_from(cls: type[Any]) -> Callable[[Any], Any]:
    def read(d: Data) -> Any:
        element = _value_from(d.get("kind"), d["element"])
        rest = {name: read(d[name]) for name, read in _readers(cls)
                if name in d and name != "element"}
        return cls(element=element, **rest)
    return read


def _cell(value: Any) -> JSON:
    """One value of a Cypher row, tagged so a node never reads as a map: ``{"value": v}``,
    ``{"entity": ...}``, ``{"relation": ...}`` or ``{"list": [cells]}`` (a list holding
    elements)."""
    if isinstance(value, Entity):
        return {"entity": encode(value)}
    if isinstance(value, Relation):
        return {"relation": encode(value)}
    if isinstance(value, list) and any(isinstance(v, Entity | Relation | list) for v in value):
        return {"list": [_cell(v) for v in value]}
    return {"value": value}


def _cell_from(data: Data) -> Any:
    if "entity" in data:
        return decode(Entity, data["entity"])
    if "relation" in data:
        return decode(Relation, data["relation"])
    if "list" in data:
        return [_cell_from(v) for v in data["list"]]
    return data["value"]


def _cypher(result: CypherResult) -> JSON:
    """A Cypher answer: ``columns`` and ``rows``, each row a list of tagged cells."""
    return {"columns": list(result.columns),
            "rows": [[_cell(v) for v in row] for row in result.rows]}


def _cypher_from(d: Data) -> CypherResult:
    return CypherResult(tuple(d["columns"]),
                        tuple(tuple(_cell_from(c) for c in row) for row in d["rows"]))


_commit_fields, _change_fields = _plain(Commit), _plain(Change)
_merge_fields = _plain(MergeResult, skip="diff")
_Codec = tuple[Callable[[Any], JSON], Callable[[Any], Any]]
_CUSTOM: dict[type[Any], _Codec] = {
    Commit: (_commit, _plain_from(Commit)),
    Change: (_change, _change_from),
    Version: (_plain(Version), _version_from),
    Diff: (_diff, _diff_from),
    MergeResult: (_merge, _merge_from),
    SearchHit: (_hit, _hit_from(SearchHit)),
    SimilarHit: (_hit, _hit_from(SimilarHit)),
    CypherResult: (_cypher, _cypher_from),
}
_CODECS: dict[type[Any], _Codec] = {
    cls: _CUSTOM.get(cls) or (_plain(cls), _plain_from(cls))
    for cls in (Entity, Relation, Document, CommitStats, Commit, Branch, Tag, RefLogEntry,
                Change, Version, Blame, Diff, Conflict, MergeResult, Entry, KVEvent,
                IndexInfo, ViewInfo, Erasure, RetentionPolicy, BackupInfo, CopyReport,
                Remote, SyncReport,
                TextIndex, VectorIndex, SearchHit, SimilarHit, CypherResult,
                Violation, Schema, Problem, FsckReport, GcReport, ShaclResult, ShaclReport)
}

TYPES: tuple[type[Any], ...] = tuple(_CODECS)
"""Every value type with a JSON encoding."""
