"""Graphs as CSV: one file of entities, one of relations.

``entities.csv`` has the columns ``id, type`` and one column per property;
``relations.csv`` has ``id, type, source, target`` and one column per property. A relation
with an empty ``id`` gets ``"<source> <type> <target>"`` (as RDF triples do).

Cells: an empty cell means "no such property". Any other cell that parses as JSON is that
JSON value (``42``, ``true``, ``[1, 2]``, ``{"a": 1}``, ``"quoted text"``); anything else is
the text itself. Export writes strings bare unless they would read back as something else
(``"42"`` is written as ``"\\"42\\""``), so export and import round-trip exactly. A property
named like a fixed column (``id``, ``type``, ``source``, ``target``) or starting with
``props.`` gets the column name ``props.<name>``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import IO

import orjson

from ..errors import InvalidInput, InvalidValue
from ..types import JSON
from .snapshot import Snapshot

ENTITY_COLUMNS = ("id", "type")
RELATION_COLUMNS = ("id", "type", "source", "target")
_RESERVED = {"id", "type", "source", "target", "valid_from", "valid_to"}
VALID_COLUMNS = ("valid_from", "valid_to")
"""Optional columns: the element's valid-time interval (ISO 8601; empty for an open end)."""
_PREFIX = "props."


def _cell_value(text: str) -> JSON:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _cell_text(value: JSON) -> str:
    if isinstance(value, str):
        if value == "":
            return '""'
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return orjson.dumps(value).decode()
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _column(prop: str) -> str:
    return _PREFIX + prop if prop in _RESERVED or prop.startswith(_PREFIX) else prop


def _prop(column: str) -> str:
    return column[len(_PREFIX):] if column.startswith(_PREFIX) else column


def is_relations_header(header: Iterable[str]) -> bool:
    """True when a CSV header names relations (has ``source`` and ``target``)."""
    names = set(header)
    return "source" in names and "target" in names


def read_csv(stream: IO[str], *, source: str | None = None, skip_invalid: bool = False,
             into: Snapshot | None = None) -> Snapshot:
    """Read an entities or relations CSV file (told apart by its header) into a snapshot."""
    snap = into if into is not None else Snapshot(source=source)
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        return snap
    except csv.Error as exc:
        raise InvalidInput(f"not CSV ({exc})", source=source, line=1) from None
    relations = is_relations_header(header)
    fixed = RELATION_COLUMNS if relations else ENTITY_COLUMNS
    missing = [c for c in fixed if c not in header and c != "id"]
    if missing or (not relations and "id" not in header):
        need = ", ".join(fixed)
        raise InvalidInput(f"the header must have the columns {need} (missing: "
                           f"{', '.join(missing) or 'id'})", source=source, line=1)
    index = {name: header.index(name) for name in (*fixed, *VALID_COLUMNS) if name in header}
    extra = [(i, _prop(name)) for i, name in enumerate(header)
             if name not in fixed and name not in VALID_COLUMNS]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            snap.reject(InvalidInput(f"not CSV ({exc})", source=source, line=reader.line_num),
                        skip_invalid)
            continue
        line = reader.line_num
        if not any(row):
            continue
        if len(row) != len(header):
            snap.reject(InvalidInput(f"{len(row)} cells where the header has {len(header)}",
                                     source=source, line=line), skip_invalid)
            continue
        cells = {name: row[i] for name, i in index.items()}
        props = {name: _cell_value(row[i]) for i, name in extra if row[i] != ""}
        absent = [c for c in fixed if c != "id" and not cells.get(c)]
        if absent or (not relations and not cells.get("id")):
            snap.reject(InvalidInput(f"empty {', '.join(absent) or 'id'}", source=source,
                                     line=line), skip_invalid)
            continue
        if relations:
            kind = "relation"
            ident = cells.get("id") or f"{cells['source']} {cells['type']} {cells['target']}"
            snap.add("relation", ident, (cells["type"], cells["source"], cells["target"],
                                         props),
                     source, line, skip_invalid,
                     "" if cells.get("id") else " (an id column tells parallel relations apart)")
        else:
            kind, ident = "entity", cells["id"]
            snap.add("entity", ident, (cells["type"], props), source, line, skip_invalid)
        try:
            snap.set_interval(kind, ident, cells.get("valid_from") or None,
                              cells.get("valid_to") or None)
        except InvalidValue as exc:
            snap.reject(InvalidInput(str(exc), source=source, line=line), skip_invalid)
    return snap


def _write(rows: list[tuple[list[str], dict[str, JSON]]], fixed: tuple[str, ...]) -> str:
    """Rows of (fixed cells, properties); the fixed cells may end with the valid-time
    columns (when ``fixed`` does)."""
    names = sorted({k for _, props in rows for k in props})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*fixed, *(_column(n) for n in names)])
    for cells, props in rows:
        writer.writerow([*cells, *(_cell_text(props[n]) if n in props else "" for n in names)])
    return out.getvalue()


def _with_valid(snap: Snapshot, kind: str, ident: str, cells: list[str], dated: bool
                ) -> list[str]:
    if not dated:
        return cells
    lo, hi = snap.interval_text(kind, ident)
    return [*cells, lo or "", hi or ""]


def entities_csv(snap: Snapshot) -> str:
    """The entities of a snapshot as CSV text, by id (with the valid-time columns when any
    entity has an interval)."""
    dated = any(kind == "entity" for kind, _ in snap.intervals)
    return _write([(_with_valid(snap, "entity", eid, [eid, snap.entities[eid][0]], dated),
                    snap.entities[eid][1]) for eid in sorted(snap.entities)],
                  ENTITY_COLUMNS + VALID_COLUMNS if dated else ENTITY_COLUMNS)


def relations_csv(snap: Snapshot) -> str:
    """The relations of a snapshot as CSV text, by id (valid-time columns as for entities)."""
    dated = any(kind == "relation" for kind, _ in snap.intervals)
    rows = []
    for rid in sorted(snap.relations):
        rtype, source, target, props = snap.relations[rid]
        rows.append((_with_valid(snap, "relation", rid, [rid, rtype, source, target], dated),
                     props))
    return _write(rows, RELATION_COLUMNS + VALID_COLUMNS if dated else RELATION_COLUMNS)
