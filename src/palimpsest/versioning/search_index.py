"""Declared search indexes and their upkeep: full-text fields and vector properties.

An index holds one entry per indexed *row* — per version of an element, keyed by the row's
identity ``(kind, key, line, seq)`` — never per state. Rows are immutable, so an entry is
written once, when its row is: every state on every branch is then served by the same entries,
and a search keeps the matches whose row the visibility rule shows at the view's commit
(``query/search.py``). Nothing is re-indexed per version or per branch.

Upkeep happens in four places, each one call: :func:`index_rows` when a commit inserts rows
(``commits.write_commit``: transactions, imports, merges, rollbacks, kv and document writes
all land there), :func:`rebuild` after rows are loaded from an archive or copy,
:func:`forget` when an element is erased (its text and vectors must not stay searchable), and
:func:`prune` after gc deleted rows. The ``search_indexes`` table is the registry, so every
process knows what is declared; its ``generation`` changes whenever entries are removed, so
in-memory approximate indexes (``query/ann.py``) know to rebuild.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..codec import decode, digest, encode, now_us
from ..errors import InvalidValue, NotFound
from ..storage.base import Database
from ..storage.cache import facts_of
from ..storage.fulltext import Entry, tokens
from ..types import TextIndex, VectorIndex
from .elements import PUT, is_erased, public_id

TEXT, VECTOR = "text", "vector"
METRICS = ("cosine", "l2", "dot")
ELEMENTS = {"e": "entity", "d": "document"}
MAX_DIMENSIONS = 65_536
_BATCH = 2_000

NewRow = tuple[str, str, int, str | None, str | None]
"""A row a commit inserts: kind, key, op, type, value (canonical JSON text)."""


@dataclass(frozen=True, slots=True)
class Declared:
    """One row of the registry."""

    name: str
    mode: str
    kind: str
    type: str
    spec: dict[str, Any]
    generation: int

    @property
    def table(self) -> str:
        return self.name

    @property
    def fields(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(f.split(".")) for f in self.spec["fields"])

    def info(self) -> TextIndex | VectorIndex:
        element = ELEMENTS[self.kind]
        if self.mode == TEXT:
            return TextIndex(self.name, element, self.type, tuple(self.spec["fields"]))
        return VectorIndex(self.name, element, self.type, self.spec["property"],
                           int(self.spec["dimensions"]), self.spec["metric"])


def _name(mode: str, kind: str, type_: str, what: str = "") -> str:
    tag = "sx_" if mode == TEXT else "sv_"
    return tag + digest(f"{mode}\x00{kind}\x00{type_}\x00{what}".encode()).hex()[:20]


def declared(db: Database, mode: str | None = None) -> list[Declared]:
    """The declared indexes (of one mode), by kind, type and name."""
    rows = db.all("SELECT name, mode, kind, type, spec, generation FROM search_indexes "
                  "ORDER BY kind, type, name")
    return [Declared(str(n), str(m), str(k), str(t), decode(s), int(g))
            for n, m, k, t, s, g in rows if mode is None or m == mode]


def find(db: Database, name: str) -> Declared | None:
    return next((d for d in declared(db) if d.name == name), None)


# -- declaring ---------------------------------------------------------------------------------
def _register(db: Database, d: Declared) -> None:
    # the generation starts at the declaration time: a dropped and re-declared index never
    # meets an approximate index built for its predecessor
    now = now_us()
    db.run("INSERT INTO search_indexes (name, mode, kind, type, spec, generation, time_us) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)", (d.name, d.mode, d.kind, d.type, encode(d.spec),
                                            max(d.generation, now), now))


def create_text(db: Database, kind: str, type_: str, fields: Sequence[str]) -> TextIndex:
    """Declare the full-text index of ``fields`` (dotted paths) of one entity type or
    collection and index every stored version; idempotent for the same fields."""
    if isinstance(fields, str) or not isinstance(fields, Sequence) or not fields or not all(
            isinstance(f, str) and f and all(fields) for f in fields):
        raise InvalidValue("fields: give a non-empty list of property names (dotted paths "
                           "reach inside objects), e.g. fields=['name', 'bio']")
    if len(set(fields)) != len(fields) or len(fields) > 64:
        raise InvalidValue("fields: name each field once, at most 64 fields")
    d = Declared(_name(TEXT, kind, type_), TEXT, kind, type_, {"fields": list(fields)}, 0)
    with db.write():
        found = find(db, d.name)
        if found is not None:
            if found.spec != d.spec:
                raise InvalidValue(f"{ELEMENTS[kind]} {type_!r} already has a text index on "
                                   f"{found.spec['fields']}; drop it first to change fields")
            return _text_info(found)
        _register(db, d)
        db.dialect.fulltext.create(db, d.table, len(fields))
        _backfill(db, d)
    return _text_info(d)


def create_vector(db: Database, kind: str, type_: str, prop: str, dimensions: int,
                  metric: str) -> VectorIndex:
    """Declare that ``prop`` holds vectors of ``dimensions`` numbers compared by ``metric``;
    index every stored version (versions whose value is not such a vector are skipped) and
    check every later write. Idempotent for the same declaration."""
    if not isinstance(prop, str) or not prop:
        raise InvalidValue("property: give the name of the property holding the vectors")
    if not isinstance(dimensions, int) or isinstance(dimensions, bool) or \
            not 1 <= dimensions <= MAX_DIMENSIONS:
        raise InvalidValue(f"dimensions: an integer from 1 to {MAX_DIMENSIONS}, not "
                           f"{dimensions!r}")
    if metric not in METRICS:
        raise InvalidValue(f"metric: one of {', '.join(METRICS)}, not {metric!r}")
    spec = {"property": prop, "dimensions": dimensions, "metric": metric}
    d = Declared(_name(VECTOR, kind, type_, prop), VECTOR, kind, type_, spec, 0)
    with db.write():
        found = find(db, d.name)
        if found is not None:
            if found.spec != spec:
                raise InvalidValue(f"{ELEMENTS[kind]} {type_!r} property {prop!r} already has "
                                   f"a vector index ({found.spec['dimensions']} dimensions, "
                                   f"{found.spec['metric']}); drop it first to change it")
            return _vector_info(found)
        _register(db, d)
        b = db.dialect
        db.run(f"CREATE TABLE IF NOT EXISTS {d.table} (kind TEXT NOT NULL, key TEXT NOT NULL, "
               f"line {b.bigint} NOT NULL, seq {b.bigint} NOT NULL, vec {b.blob} NOT NULL, "
               "PRIMARY KEY (kind, key, line, seq))")
        _backfill(db, d)
    return _vector_info(d)


def _text_info(d: Declared) -> TextIndex:
    info = d.info()
    assert isinstance(info, TextIndex)
    return info


def _vector_info(d: Declared) -> VectorIndex:
    info = d.info()
    assert isinstance(info, VectorIndex)
    return info


def drop(db: Database, mode: str, kind: str, type_: str, prop: str = "") -> None:
    name = _name(mode, kind, type_, prop)
    with db.write():
        if find(db, name) is None:
            what = f"a vector index on {prop!r} of" if mode == VECTOR else "a text index on"
            raise NotFound(f"there is no {what} {ELEMENTS[kind]} {type_!r}")
        _drop_table(db, mode, name)
        db.run("DELETE FROM search_indexes WHERE name = ?", (name,))


def _drop_table(db: Database, mode: str, table: str) -> None:
    if mode == TEXT:
        db.dialect.fulltext.drop(db, table)
    else:
        db.run(f"DROP TABLE IF EXISTS {table}")


# -- entries -----------------------------------------------------------------------------------
def lookup_path(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def field_tokens(value: Any, path: tuple[str, ...]) -> list[str]:
    """The tokens of one field of an element's value: its string, or the strings of an
    array, in order (other values hold no text)."""
    out: list[str] = []
    for text in strings(lookup_path(value, path)):
        out += tokens(text)
    return out


def pack(vector: Sequence[float]) -> bytes:
    """A vector as stored: little-endian float32."""
    return struct.pack(f"<{len(vector)}f", *vector)


def vector_of(value: Any, d: Declared) -> list[float] | None:
    """The vector ``d`` declares in ``value``: None when the property is absent or null;
    InvalidValue when it is anything but an array of the declared number of finite numbers
    that fit a 32-bit float."""
    found = lookup_path(value, (d.spec["property"],))
    if found is None:
        return None
    size = int(d.spec["dimensions"])
    if not isinstance(found, list) or len(found) != size or not all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
            and abs(x) <= 3.4e38 for x in found):
        shown = f"an array of {len(found)} items" if isinstance(found, list) else \
            type(found).__name__
        raise InvalidValue(
            f"{ELEMENTS[d.kind]} {d.type!r} property {d.spec['property']!r} is declared a "
            f"vector of {size} numbers (its vector index) but got {shown}; write an array of "
            f"{size} finite numbers, null, or leave the property out")
    return [float(x) for x in found]


def _entries(d: Declared, rows: Iterable[tuple[str, str, int, int, str | None]],
             strict: bool) -> tuple[list[Entry], list[tuple[str, str, int, int, bytes]]]:
    text: list[Entry] = []
    vectors: list[tuple[str, str, int, int, bytes]] = []
    for kind, key, line, seq, raw in rows:
        if raw is None or is_erased(raw):
            continue
        value = decode(raw)
        if d.mode == TEXT:
            fields = [field_tokens(value, path) for path in d.fields]
            if any(fields):
                text.append((kind, key, line, seq, fields))
            continue
        try:
            vector = vector_of(value, d)
        except InvalidValue as exc:
            if strict:
                ident, collection = public_id(kind, key)
                where = f"{collection}/{ident}" if collection else ident
                raise InvalidValue(f"{where!r}: {exc}") from None
            continue  # an old version from before the declaration: not searchable
        if vector is not None:
            vectors.append((kind, key, line, seq, pack(vector)))
    return text, vectors


def _store(db: Database, d: Declared, rows: Iterable[tuple[str, str, int, int, str | None]],
           strict: bool) -> None:
    text, vectors = _entries(d, rows, strict)
    if text:
        db.dialect.fulltext.add(db, d.table, text)
    if vectors:
        db.many(f"INSERT INTO {d.table} (kind, key, line, seq, vec) VALUES (?, ?, ?, ?, ?)",
                vectors)


def _backfill(db: Database, d: Declared) -> None:
    batch: list[tuple[str, str, int, int, str | None]] = []
    for kind, key, line, seq, value in db.iterate(
            "SELECT kind, key, line, seq, value FROM rows WHERE kind = ? AND type = ? "
            "AND op = ?", (d.kind, d.type, PUT)):
        batch.append((str(kind), str(key), int(line), int(seq), value))
        if len(batch) >= _BATCH:
            _store(db, d, batch, strict=False)
            batch = []
    _store(db, d, batch, strict=False)


def committed(db: Database) -> tuple[Declared, ...]:
    """The declared indexes, as a commit reads them (inside a write, kept between commits:
    storage.cache.WriteFacts)."""
    return facts_of(db).get(db, "search_indexes",  # type: ignore[no-any-return]
                            lambda: tuple(declared(db)))


def index_rows(db: Database, line: int, seq: int, rows: Sequence[NewRow],
               indexes: Sequence[Declared] | None = None) -> None:
    """Index the rows one commit inserts (the caller holds ``db.write()``): the commit hook,
    given the declared ``indexes`` read before the rows went in (default: read now). A vector
    that does not fit its declaration fails the commit (InvalidValue)."""
    for d in declared(db) if indexes is None else indexes:
        mine = [(kind, key, line, seq, value) for kind, key, op, type_, value in rows
                if op == PUT and kind == d.kind and type_ == d.type]
        if mine:
            _store(db, d, mine, strict=True)


def forget(db: Database, kind: str, key: str) -> None:
    """Remove every entry of one element (its erasure; the caller holds ``db.write()``)."""
    for d in declared(db):
        if d.kind != kind:
            continue
        if d.mode == TEXT:
            db.dialect.fulltext.remove_key(db, d.table, kind, key)
        else:
            db.run(f"DELETE FROM {d.table} WHERE kind = ? AND key = ?", (kind, key))
        _bump(db, d)


def prune(db: Database) -> None:
    """Remove entries whose row gc deleted (the caller holds ``db.write()``)."""
    for d in declared(db):
        if d.mode == TEXT:
            db.dialect.fulltext.remove_orphans(db, d.table)
        else:
            db.run(f"DELETE FROM {d.table} WHERE NOT EXISTS (SELECT 1 FROM rows r WHERE "
                   f"r.kind = {d.table}.kind AND r.key = {d.table}.key AND "
                   f"r.line = {d.table}.line AND r.seq = {d.table}.seq)")
        _bump(db, d)


def rebuild(db: Database) -> None:
    """Re-index every declared index from the stored rows (after an archive import or a
    copy loaded rows without commits; the caller holds ``db.write()``)."""
    for d in declared(db):
        _drop_table(db, d.mode, d.table)
        db.run("DELETE FROM search_indexes WHERE name = ?", (d.name,))
        if d.mode == TEXT:
            create_text(db, d.kind, d.type, d.spec["fields"])
        else:
            create_vector(db, d.kind, d.type, d.spec["property"], int(d.spec["dimensions"]),
                          d.spec["metric"])
        db.run("UPDATE search_indexes SET generation = ? WHERE name = ?",
               (d.generation + 1, d.name))


def _bump(db: Database, d: Declared) -> None:
    db.run("UPDATE search_indexes SET generation = generation + 1 WHERE name = ?", (d.name,))
