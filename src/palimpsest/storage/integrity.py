"""The engine's own view of the files: are the indexes consistent with their tables?

palimpsest's hashes prove that every value read is the value written, but a damaged *index*
can make a read miss a row or find the wrong one without any value being damaged. These
checks ask the engine:

* SQLite: ``PRAGMA integrity_check`` (every b-tree page, every index entry against its table
  row, uniqueness); its messages name the index when one is at fault.
* PostgreSQL: every index of the repository's schema must be valid (``indisvalid``); each
  B-tree index is then compared with its table — with the ``amcheck`` extension when it is
  installed (``bt_index_check(index, heapallindexed => true)``: the index's structure and
  one index entry per table row), otherwise by reading the key columns once through an
  index-only scan and once through a sequential scan and comparing count and checksum
  (indexes on expressions cannot be read back that way and are listed as unchecked).

:func:`reindex` rebuilds indexes from their tables (``REINDEX``); tables are the truth.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .base import Database
from .cache import bump_rewrites


@dataclass(slots=True)
class EngineCheck:
    """What the engine check did: the method, the problems (index name or None, message),
    and indexes it could not check."""

    method: str
    problems: list[tuple[str | None, str]] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)


_SQLITE_INDEX = re.compile(r"\bindex (\w+)")


def check(db: Database, *, use_amcheck: bool = True) -> EngineCheck:
    """Run the engine's consistency check (outside any transaction of ``db``)."""
    if db.dialect.name == "sqlite":
        return _check_sqlite(db)
    return _check_postgres(db, use_amcheck)


def reindex(db: Database, names: Sequence[str] | None = None) -> None:
    """Rebuild ``names`` (or every index of the repository) from the tables."""
    if db.dialect.name == "sqlite":
        with db.write():
            for name in names or [""]:
                db.run(f'REINDEX "{name}"' if name else "REINDEX")
            bump_rewrites(db)  # reads through the damaged index may have been cached
        return
    schema = str(getattr(db, "schema", "public"))
    targets = list(names) if names else [str(r[0]) for r in db.all(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ?", (schema,))]
    with db.write():
        for name in targets:
            db.run(f'REINDEX INDEX "{schema}"."{name}"')
        bump_rewrites(db)


def _check_sqlite(db: Database) -> EngineCheck:
    result = EngineCheck("integrity_check")
    try:
        rows = db.all("PRAGMA integrity_check")
    except Exception as exc:  # the file is too damaged to even walk
        result.problems.append((None, f"the SQLite file is damaged: {exc}"))
        return result
    for (message,) in rows:
        if message == "ok":
            continue
        found = _SQLITE_INDEX.search(str(message))
        result.problems.append((found.group(1) if found else None, str(message)))
    return result


def _indexes(db: Database, schema: str) -> list[tuple[str, str, bool, str, bool]]:
    """(index, table, valid, access method, on plain columns only) for the schema."""
    return [(str(name), str(table), bool(valid), str(am), bool(plain)) for
            name, table, valid, am, plain in db.all(
                "SELECT c.relname, t.relname, i.indisvalid, am.amname, "
                "(i.indexprs IS NULL) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_am am ON am.oid = c.relam "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? "
                "ORDER BY t.relname, c.relname", (schema,))]


def _amcheck_schema(db: Database) -> str | None:
    row = db.one("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON "
                 "n.oid = e.extnamespace WHERE e.extname = 'amcheck'")
    return str(row[0]) if row else None


def _check_postgres(db: Database, use_amcheck: bool) -> EngineCheck:
    schema = str(getattr(db, "schema", "public"))
    amcheck = _amcheck_schema(db) if use_amcheck else None
    result = EngineCheck("amcheck" if amcheck else "index-scan comparison")
    for name, table, valid, am, plain in _indexes(db, schema):
        if not valid:
            result.problems.append((name, f"index {name} on {table} is marked invalid (an "
                                    "interrupted CREATE INDEX or REINDEX); rebuild it"))
            continue
        if am != "btree":
            result.unchecked.append(name)
            continue
        try:
            if amcheck:
                db.one(f'SELECT "{amcheck}".bt_index_check(\'"{schema}"."{name}"\'::regclass, '
                       "true)")
            elif plain:
                message = _compare(db, schema, name, table)
                if message:
                    result.problems.append((name, message))
            else:
                result.unchecked.append(name)
        except Exception as exc:  # amcheck reports corruption as an error
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            result.problems.append((name, f"index {name} on {table}: {text}"))
    return result


def _compare(db: Database, schema: str, name: str, table: str) -> str | None:
    """Read the index's key columns through an index-only scan of that index and through a
    sequential scan of the table; both must give the same count and checksum."""
    cols = [str(r[0]) for r in db.all(
        "SELECT pg_get_indexdef(i.indexrelid, k, true) FROM pg_index i, "
        "generate_series(1, i.indnkeyatts) k WHERE i.indexrelid = ?::regclass ORDER BY k",
        (f'"{schema}"."{name}"',))]
    pred = db.one("SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = "
                  "?::regclass", (f'"{schema}"."{name}"',))
    where = f" WHERE {pred[0]}" if pred and pred[0] else ""
    keys = ", ".join(cols)
    sql = (f"SELECT count(*), coalesce(sum(hashtextextended(ROW({keys})::text, 0)), 0) "
           f'FROM (SELECT {keys} FROM "{schema}"."{table}"{where} ORDER BY {keys}) s')
    outcomes = []
    for settings in (("enable_seqscan", "enable_indexscan", "enable_bitmapscan", "enable_sort"),
                     ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan")):
        with db.read():
            for setting in settings:
                db.run(f"SET LOCAL {setting} = off")
            if "enable_seqscan" in settings:
                plan = " ".join(str(r[0]) for r in db.all("EXPLAIN " + sql))
                if f"Index Only Scan using {name} " not in plan:
                    return None  # the planner would not read this index alone: not comparable
            outcomes.append(db.one(sql))
    through_index, through_table = outcomes
    if through_index != through_table:
        seen = through_index[0] if through_index else "?"
        rows = through_table[0] if through_table else "?"
        return (f"index {name} on {table} disagrees with its table: {seen} entries through "
                f"the index, {rows} rows in the table (or their keys differ)")
    return None
