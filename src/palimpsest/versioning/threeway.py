"""Field-level three-way merge of element versions: the one rule behind merge, cherry-pick and
revert.

For each key: if both sides agree, nothing to do; if only one side changed it since the base,
that side wins; if both changed it, fields (properties, plus ``@type``, ``@source``,
``@target``; a document's top-level fields) merge independently by the same rule, and a field
changed differently on both sides is a :class:`~palimpsest.types.Conflict`. Deleting on one side
while the other modified, and creating the same id differently on both, clash as whole elements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..codec import decode, encode, json_equal, to_us
from ..storage.base import Database
from ..storage.visibility import Chain, StoredRow, changed_keys, read_rows, row_triples
from ..types import JSON, SHAPE_FIELDS, Conflict, Document, aligned_fields
from .elements import (
    PUT,
    Write,
    deletion,
    display_key,
    element_name,
    public_id,
    row_of_write,
    to_value,
    write_from_row,
)

_MISSING: Any = object()
Side = str  # "ours" | "theirs"
Resolver = Callable[[Conflict], "Side | Resolved | None"]
RowReader = Callable[[str, str], "StoredRow | None"]


@dataclass(frozen=True, slots=True)
class Resolved:
    """An explicit value chosen for a conflicting field (``Resolved(None)`` removes it)."""

    value: JSON


@dataclass(slots=True)
class MergeOutcome:
    writes: list[Write] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    ours: dict[tuple[str, str], StoredRow | None] = field(default_factory=dict)
    """The row each merged key has on our side (for the commit's bookkeeping and previews)."""


def read_many(db: Database, chain: Chain, keys: Iterable[tuple[str, str]]
              ) -> dict[tuple[str, str], StoredRow]:
    """The rows holding many (kind, key) pairs at the chain's commit (deletions included)."""
    by_kind: dict[str, list[str]] = {}
    for kind, key in keys:
        by_kind.setdefault(kind, []).append(key)
    out: dict[tuple[str, str], StoredRow] = {}
    for kind, names in by_kind.items():
        for key, row in read_rows(db, chain, kind, names).items():
            out[(kind, key)] = row
    return out


def _live(row: StoredRow | None) -> StoredRow | None:
    return row if row is not None and row.op == PUT else None


def _same(a: StoredRow | None, b: StoredRow | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.hash is not None and b.hash is not None and bytes(a.hash) == bytes(b.hash)


def _fields(*rows: StoredRow) -> tuple[list[dict[str, JSON]], bool]:
    """The aligned field views of versions of one key (:func:`aligned_fields`), and whether
    each is one ``@value`` field holding the whole value."""
    if rows[0].kind == "k":  # kv bytes merge as their stored (base64) text
        return [{"@value": decode(row.value or "null")} for row in rows], True
    values = [to_value(row) for row in rows]
    whole = any(isinstance(v, Document) and not isinstance(v.value, dict) for v in values)
    return aligned_fields(*values), whole


def _rebuild(template: StoredRow, fields: dict[str, JSON], origin: int | None,
             whole: bool) -> Write:
    if template.kind in ("e", "r"):
        props = {k: v for k, v in fields.items() if k not in SHAPE_FIELDS}
        valid = fields.get("@valid") or [None, None]
        return Write(template.kind, template.key, PUT, fields.get("@type"),
                     fields.get("@source"), fields.get("@target"), encode(props), origin,
                     valid_from=None if valid[0] is None else to_us(valid[0]),
                     valid_to=None if valid[1] is None else to_us(valid[1]))
    value = fields.get("@value") if whole else fields
    return Write(template.kind, template.key, PUT, template.type, value=encode(value),
                 origin=origin)


def _equal(a: JSON, b: JSON) -> bool:
    if a is _MISSING or b is _MISSING:
        return a is b
    return json_equal(a, b)


def _plain(value: JSON) -> JSON:
    return None if value is _MISSING else value


def merge_keys(db: Database, keys: Iterable[tuple[str, str]] | None, *, base: Chain,
               ours: Chain, theirs: Chain, resolve: Resolver | None = None,
               origin_of: Callable[[StoredRow], int | None] | None = None,
               base_row: RowReader | None = None) -> MergeOutcome:
    """Merge ``theirs`` into ``ours`` for ``keys``; writes are what ``ours`` must change.

    ``keys=None`` merges every key that changed between ``base`` and ``theirs``, reading
    them with their three versions in one set-based query (:func:`row_triples`).
    ``base_row`` replaces reading the base at the ``base`` chain (a virtual base, see
    :func:`blend_rows`)."""
    if keys is None and base_row is None:
        return merge_rows(row_triples(db, base, theirs, ours), resolve=resolve,
                          origin_of=origin_of)
    if keys is None:
        keys = changed_keys(db, base, theirs)
    keys = list(keys)
    base_rows = read_many(db, base, keys) if base_row is None else {}
    ours_rows = read_many(db, ours, keys)
    theirs_rows = read_many(db, theirs, keys)
    return merge_rows(((kind, key,
                        base_row(kind, key) if base_row else base_rows.get((kind, key)),
                        theirs_rows.get((kind, key)), ours_rows.get((kind, key)))
                       for kind, key in keys), resolve=resolve, origin_of=origin_of)


def merge_rows(rows: Iterable[tuple[str, str, StoredRow | None, StoredRow | None,
                                    StoredRow | None]], *, resolve: Resolver | None = None,
               origin_of: Callable[[StoredRow], int | None] | None = None) -> MergeOutcome:
    """The three-way merge of keys given with their rows ``(kind, key, base, theirs,
    ours)``: hashes decide, and only keys both sides changed are decoded."""
    out = MergeOutcome()
    for kind, key, base_row, t_row, ours_row in rows:
        ident = (kind, key)
        b = _live(base_row)
        out.ours[ident] = ours_row
        o = _live(ours_row)
        t = _live(t_row)
        if _same(o, t) or _same(t, b):
            continue
        origin = origin_of(t_row) if origin_of and t_row is not None else None
        if _same(o, b):
            if t is None:
                out.writes.append(deletion(kind, key))
            else:
                out.writes.append(write_from_row(t, origin=origin))
            continue
        _clash(out, kind, key, b, o, t, resolve, origin)
    return out


def _clash(out: MergeOutcome, kind: str, key: str, b: StoredRow | None, o: StoredRow | None,
           t: StoredRow | None, resolve: Resolver | None, origin: int | None) -> None:
    ident, collection = public_id(kind, key)
    element = element_name(kind)
    if o is None or t is None or b is None:
        reason = ("deleted on one side, modified on the other" if b is not None
                  else "created on both sides with different content")
        conflict = Conflict(element, ident, None, whole_value(b), whole_value(o),
                            whole_value(t), collection, reason)
        choice = resolve(conflict) if resolve else None
        if choice == "theirs":
            out.writes.append(deletion(kind, key) if t is None else write_from_row(t, origin=origin))
        elif choice != "ours":
            out.conflicts.append(conflict)
        return
    (fb, fo, ft), whole = _fields(b, o, t)
    merged: dict[str, JSON] = {}
    unresolved = False
    for name in sorted(fb.keys() | fo.keys() | ft.keys()):
        vb, vo, vt = fb.get(name, _MISSING), fo.get(name, _MISSING), ft.get(name, _MISSING)
        if _equal(vo, vt) or _equal(vt, vb):
            result = vo
        elif _equal(vo, vb):
            result = vt
        else:
            conflict = Conflict(element, ident, name, _plain(vb), _plain(vo), _plain(vt),
                                collection)
            choice = resolve(conflict) if resolve else None
            if choice == "ours":
                result = vo
            elif choice == "theirs":
                result = vt
            elif isinstance(choice, Resolved):
                result = _MISSING if choice.value is None else choice.value
            else:
                out.conflicts.append(conflict)
                unresolved = True
                continue
        if result is not _MISSING:
            merged[name] = result
    if not unresolved and not _same_fields(merged, fo):
        out.writes.append(_rebuild(o, merged, origin, whole))


def _same_fields(a: dict[str, JSON], b: dict[str, JSON]) -> bool:
    return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)


def blend_rows(kind: str, key: str, ancestor: StoredRow | None, a: StoredRow | None,
               b: StoredRow | None) -> StoredRow | None:
    """A conflict-free three-way blend of two versions, used to build a virtual merge base:
    fields both changed differently, and whole-element clashes, keep the ancestor's value."""
    anc, a, b = _live(ancestor), _live(a), _live(b)
    if _same(a, b) or _same(b, anc):
        return a
    if _same(a, anc):
        return b
    if a is None or b is None or anc is None:
        return anc
    out = MergeOutcome()
    _clash(out, kind, key, anc, a, b, lambda c: Resolved(c.base), None)
    if not out.writes:
        return a
    w = out.writes[0]
    return row_of_write(w._replace(origin=None), w.hash)


def whole_value(row: StoredRow | None) -> JSON:
    """A whole element as shown in a Conflict: its ``to_dict()``, or None when absent."""
    if row is None or row.op != PUT:
        return None
    value = to_value(row)
    return value.to_dict() if hasattr(value, "to_dict") else display_key(row)
