"""Schema and write statements shared by the two raw-SQL systems.

Plain SQLite (the floor) and Doltlite store the graph the same way: one
row per entity and per relation, properties as JSON text, indexes on the
columns the queries filter by. Updates are JSON merge patches done by the
engine (``json_patch``), so the Python side does one statement per mutation.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from benchmarks.workload import (
    CommitSpec,
    CreateEntity,
    CreateRelation,
    DeleteEntity,
    DeleteRelation,
    Entity,
    Props,
    Relation,
)

SCHEMA = (
    "CREATE TABLE entities (id TEXT PRIMARY KEY, type TEXT NOT NULL, props TEXT NOT NULL)",
    "CREATE INDEX entities_type ON entities(type)",
    "CREATE TABLE relations (id TEXT PRIMARY KEY, type TEXT NOT NULL,"
    " source TEXT NOT NULL, target TEXT NOT NULL, props TEXT NOT NULL)",
    "CREATE INDEX relations_source ON relations(source)",
    "CREATE INDEX relations_target ON relations(target)",
)


# The page-cache settings palimpsest uses on SQLite, so that SQLite-based systems
# differ by what they store and do, not by how much memory SQLite may use.
TUNING = (
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA mmap_size=268435456",
)


def configure(conn: Any) -> None:
    """WAL, synchronous=NORMAL and :data:`TUNING` on a DB-API SQLite connection."""
    cur = conn.cursor()
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", *TUNING):
        cur.execute(pragma)
    cur.close()


def dumps(value: object) -> str:
    """Compact JSON text, as SQLite's JSON functions expect."""
    return orjson.dumps(value).decode()


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the two tables and their indexes."""
    for statement in SCHEMA:
        conn.execute(statement)


def insert_graph(
    conn: sqlite3.Connection, entities: Sequence[Entity], relations: Sequence[Relation]
) -> None:
    """Insert the base graph with two executemany calls (caller owns the transaction)."""
    conn.executemany(
        "INSERT INTO entities (id, type, props) VALUES (?, ?, ?)",
        [(e.id, e.type, dumps(e.props)) for e in entities],
    )
    conn.executemany(
        "INSERT INTO relations (id, type, source, target, props) VALUES (?, ?, ?, ?, ?)",
        [(r.id, r.type, r.source, r.target, dumps(r.props)) for r in relations],
    )


def apply_mutations(conn: sqlite3.Connection, spec: CommitSpec) -> None:
    """Apply one commit's mutations (caller owns the transaction)."""
    for m in spec.mutations:
        if isinstance(m, CreateEntity):
            e = m.entity
            conn.execute(
                "INSERT INTO entities (id, type, props) VALUES (?, ?, ?)",
                (e.id, e.type, dumps(e.props)),
            )
        elif isinstance(m, DeleteEntity):
            conn.execute("DELETE FROM relations WHERE source = ?", (m.id,))
            conn.execute("DELETE FROM relations WHERE target = ?", (m.id,))
            conn.execute("DELETE FROM entities WHERE id = ?", (m.id,))
        elif isinstance(m, CreateRelation):
            r = m.relation
            conn.execute(
                "INSERT INTO relations (id, type, source, target, props) VALUES (?, ?, ?, ?, ?)",
                (r.id, r.type, r.source, r.target, dumps(r.props)),
            )
        elif isinstance(m, DeleteRelation):
            conn.execute("DELETE FROM relations WHERE id = ?", (m.id,))
        else:
            conn.execute(
                "UPDATE entities SET props = json_patch(props, ?) WHERE id = ?",
                (dumps(m.patch), m.id),
            )


# Reads of the current state (the head), answered from the indexed tables.
_NEIGHBORS2_HEAD = """
WITH n1(id) AS (SELECT target FROM relations WHERE source = ?1
                UNION SELECT source FROM relations WHERE target = ?1)
SELECT id FROM n1
UNION SELECT target FROM relations WHERE source IN n1
UNION SELECT source FROM relations WHERE target IN n1
"""


def read_entity_head(conn: sqlite3.Connection, entity_id: str) -> Props | None:
    """One entity's properties in the current state, or None."""
    row = conn.execute("SELECT props FROM entities WHERE id = ?", (entity_id,)).fetchone()
    return None if row is None else dict(orjson.loads(row[0]))


def count_type_head(conn: sqlite3.Connection, type_: str) -> int:
    """Entities of one type in the current state."""
    return int(conn.execute("SELECT count(*) FROM entities WHERE type = ?", (type_,)).fetchone()[0])


def neighbors2_head(conn: sqlite3.Connection, entity_id: str) -> set[str]:
    """Ids within two hops (either direction) in the current state, start excluded."""
    found = {r[0] for r in conn.execute(_NEIGHBORS2_HEAD, (entity_id,))}
    found.discard(entity_id)
    return found
