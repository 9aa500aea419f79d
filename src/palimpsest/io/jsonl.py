"""Graph snapshots as JSON and JSON Lines (the state at one ref, not its history).

JSON: one object shaped like :meth:`View.to_dict`::

    {"format": "palimpsest-graph", "version": 1,
     "entities": {"ada": {"type": "Person", "props": {...}}},
     "relations": {"r1": {"type": "KNOWS", "source": "ada", "target": "bob", "props": {}}},
     "documents": {"notes": {"n1": {...}}}}

JSON Lines: one element per line, in the same terms::

    {"kind": "entity", "id": "ada", "type": "Person", "props": {...}}
    {"kind": "relation", "id": "r1", "type": "KNOWS", "source": "ada", "target": "bob"}
    {"kind": "document", "collection": "notes", "key": "n1", "value": {...}}

A first line ``{"kind": "header", "format": "palimpsest-graph", ...}`` is optional. The full
history goes to the *archive* format instead (:meth:`Repository.export`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import orjson

from ..errors import InvalidInput, InvalidValue
from ..types import JSON
from .snapshot import Snapshot

FORMAT = "palimpsest-graph"
VERSION = 1
_SORT = orjson.OPT_SORT_KEYS


def _line_of(text: bytes, pos: int) -> int:
    return text.count(b"\n", 0, max(pos, 0)) + 1


def _props(record: dict[str, Any], what: str) -> dict[str, JSON]:
    props = record.get("props", {})
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise ValueError(f"{what}: props must be an object, not {type(props).__name__}")
    return props


def _text(record: dict[str, Any], name: str, what: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what}: {name!r} must be a non-empty string")
    return value


def _interval(snap: Snapshot, kind: str, ident: str, record: dict[str, Any]) -> None:
    """``valid_from`` / ``valid_to`` of a record (ISO text or null), when it has them."""
    try:
        snap.set_interval(kind, ident, record.get("valid_from"), record.get("valid_to"))
    except InvalidValue as exc:
        raise ValueError(str(exc)) from None


def _add(snap: Snapshot, record: Any, source: str | None, line: int | None) -> None:
    """Add one JSON Lines record to the snapshot (ValueError when malformed)."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    kind = record.get("kind")
    if kind in ("entity", "relation"):
        reason = snap.duplicate(kind, _text(record, "id", kind))
        if reason is not None:
            raise ValueError(reason)
    if kind == "entity":
        eid = _text(record, "id", "entity")
        snap.entities[eid] = (_text(record, "type", f"entity {eid!r}"),
                              _props(record, f"entity {eid!r}"))
        snap.where[("entity", eid)] = (source, line)
        _interval(snap, "entity", eid, record)
    elif kind == "relation":
        rid = _text(record, "id", "relation")
        what = f"relation {rid!r}"
        snap.relations[rid] = (_text(record, "type", what), _text(record, "source", what),
                               _text(record, "target", what), _props(record, what))
        snap.where[("relation", rid)] = (source, line)
        _interval(snap, "relation", rid, record)
    elif kind == "document":
        collection = _text(record, "collection", "document")
        key = _text(record, "key", f"document in {collection!r}")
        if "value" not in record:
            raise ValueError(f"document {collection}/{key}: 'value' is missing")
        if snap.documents is None:
            snap.documents = {}
        if (collection, key) in snap.documents:
            first = snap.where.get(("document", f"{collection}/{key}"), (None, None))[1]
            raise ValueError(f"document {collection}/{key} appears twice"
                             + (f" (first on line {first})" if first else ""))
        snap.documents[(collection, key)] = record["value"]
        snap.where[("document", f"{collection}/{key}")] = (source, line)
    elif kind == "header":
        if record.get("format") not in (None, FORMAT):
            raise ValueError(f"not a palimpsest graph file (format {record.get('format')!r})")
    else:
        raise ValueError(f"'kind' must be entity, relation, document or header, not {kind!r}")


def read_jsonl(stream: IO[bytes], *, source: str | None = None,
               skip_invalid: bool = False) -> Snapshot:
    """Read a JSON Lines graph; a bad line raises :class:`InvalidInput` (file, line, reason)
    unless ``skip_invalid``, which skips and counts it."""
    snap = Snapshot(source=source)
    for number, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
            if number == 1 and isinstance(record, dict) and record.get("t") == "header":
                raise ValueError("this is a history archive; import it with --format archive "
                                 "into an empty repository")
            _add(snap, record, source, number)
        except (orjson.JSONDecodeError, ValueError) as exc:
            reason = f"not JSON ({exc})" if isinstance(exc, orjson.JSONDecodeError) else str(exc)
            snap.reject(InvalidInput(reason, source=source, line=number), skip_invalid)
    return snap


def read_json(data: bytes, *, source: str | None = None, skip_invalid: bool = False) -> Snapshot:
    """Read a JSON graph (the :meth:`View.to_dict` shape)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not JSON ({exc.msg})", source=source,
                           line=_line_of(data, exc.pos)) from None
    if not isinstance(doc, dict) or doc.get("format") not in (None, FORMAT):
        raise InvalidInput("expected an object with 'entities', 'relations' and/or "
                           "'documents'", source=source, line=1)
    snap = Snapshot(source=source)
    sections = (("entities", "entity"), ("relations", "relation"))
    for section, kind in sections:
        items = doc.get(section) or {}
        if not isinstance(items, dict):
            raise InvalidInput(f"{section!r} must be an object keyed by id", source=source)
        for ident, body in items.items():
            try:
                record = dict(body) if isinstance(body, dict) else body
                if isinstance(record, dict):
                    record.update(kind=kind, id=ident)
                _add(snap, record, source, None)
            except (ValueError, TypeError) as exc:
                snap.reject(InvalidInput(f"{section}.{ident}: {exc}", source=source),
                            skip_invalid)
    if "documents" in doc:
        collections = doc["documents"] or {}
        if not isinstance(collections, dict) or not all(isinstance(v, dict)
                                                        for v in collections.values()):
            raise InvalidInput("'documents' must map collection -> key -> value",
                               source=source)
        snap.documents = {(c, k): v for c, docs in collections.items() for k, v in docs.items()}
    return snap


def jsonl_records(snap: Snapshot, *, header: dict[str, JSON] | None = None
                  ) -> Iterator[bytes]:
    """The lines of a JSON Lines graph file (each ending in a newline), sorted by id."""
    yield orjson.dumps({"kind": "header", "format": FORMAT, "version": VERSION,
                        **(header or {})}, option=_SORT) + b"\n"
    for eid in sorted(snap.entities):
        etype, props = snap.entities[eid]
        yield orjson.dumps({"kind": "entity", "id": eid, "type": etype, "props": props,
                            **snap.interval_fields("entity", eid)}, option=_SORT) + b"\n"
    for rid in sorted(snap.relations):
        rtype, source, target, props = snap.relations[rid]
        yield orjson.dumps({"kind": "relation", "id": rid, "type": rtype, "source": source,
                            "target": target, "props": props,
                            **snap.interval_fields("relation", rid)}, option=_SORT) + b"\n"
    for (collection, key) in sorted(snap.documents or {}):
        value = (snap.documents or {})[(collection, key)]
        yield orjson.dumps({"kind": "document", "collection": collection, "key": key,
                            "value": value}, option=_SORT) + b"\n"


def json_bytes(snap: Snapshot, *, header: dict[str, JSON] | None = None) -> bytes:
    """A JSON graph file (sorted keys, indented) for a snapshot."""
    body = {"format": FORMAT, "version": VERSION, **(header or {}), **snap.to_dict()}
    return orjson.dumps(body, option=_SORT | orjson.OPT_INDENT_2) + b"\n"
