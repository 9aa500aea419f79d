"""Declared property indexes: fast equality and range queries on one field of one collection
or entity type, at the head and at every past commit.

An index is an expression index on the JSON field inside ``rows.value``, partial to the rows of
that collection / type (``WHERE kind = 'd' AND type = 'notes'``). Rows are append-only and every
version of an element is a row, so the same index serves every state: a query finds the
candidate rows through the index and the visibility rule keeps those its commit sees. The
``query_indexes`` table records what was declared, so every process knows which indexes exist.
"""

from __future__ import annotations

from ..codec import digest, now_us
from ..errors import NotFound, QueryError
from ..storage.base import Database
from ..types import IndexInfo
from .filters import KEY_FIELD, Filter, indexable_fields, parse_field
from .target import ELEMENT_NAMES, Target


def index_name(kind: str, type_: str, field: str) -> str:
    """A stable SQL identifier for the index of (kind, type, field)."""
    return "qix_" + digest(f"{kind}\x00{type_}\x00{field}".encode()).hex()[:20]


def _where(target: Target) -> str:
    name = target.type.replace("'", "''")
    return f"kind = '{target.kind}' AND type = '{name}'"


def create(db: Database, target: Target, field: str) -> IndexInfo:
    """Declare (idempotently) an index on ``field`` and build it."""
    path = parse_field(field, "field")
    if path == (KEY_FIELD,):
        raise QueryError("field: keys are always indexed; declare an index on a property")
    name = index_name(target.kind, target.type, field)
    info = IndexInfo(name, target.element, target.type, field)
    with db.write():
        for i, expr in enumerate(db.dialect.json_index_exprs("value", path)):
            suffix = f"_{i}" if i else ""
            db.run(f"CREATE INDEX IF NOT EXISTS {name}{suffix} ON rows (({expr})) "
                   f"WHERE {_where(target)}")
        if db.one("SELECT 1 FROM query_indexes WHERE name = ?", (name,)) is None:
            db.run("INSERT INTO query_indexes (name, kind, type, field, time_us) "
                   "VALUES (?, ?, ?, ?, ?)", (name, target.kind, target.type, field, now_us()))
    return info


def drop(db: Database, target: Target, field: str) -> None:
    name = index_name(target.kind, target.type, field)
    with db.write():
        if db.one("SELECT 1 FROM query_indexes WHERE name = ?", (name,)) is None:
            raise NotFound(f"no index on {target.element} {target.type!r} field {field!r}")
        count = len(db.dialect.json_index_exprs("value", parse_field(field)))
        for i in range(count):
            db.run(f"DROP INDEX IF EXISTS {name}{f'_{i}' if i else ''}")
        db.run("DELETE FROM query_indexes WHERE name = ?", (name,))


def list_all(db: Database) -> list[IndexInfo]:
    rows = db.all("SELECT name, kind, type, field FROM query_indexes ORDER BY kind, type, field")
    return [IndexInfo(str(n), ELEMENT_NAMES[str(k)], str(t), str(f)) for n, k, t, f in rows]


def pick(db: Database, target: Target, flt: Filter | None) -> str | None:
    """The declared index a query with this filter should use, if any."""
    fields = indexable_fields(flt)
    if not fields:
        return None
    rows = db.all("SELECT field, name FROM query_indexes WHERE kind = ? AND type = ?",
                  (target.kind, target.type))
    declared = {str(f): str(n) for f, n in rows}
    for field in fields:
        if field in declared:
            return declared[field]
    return None
