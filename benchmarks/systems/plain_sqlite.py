"""The floor: the same writes on plain SQLite tables, with no history at all.

WAL journal, ``synchronous=NORMAL``, one transaction per commit: the
durability palimpsest offers on SQLite. Only the write figures and storage
exist here; every read of the past is unsupported by construction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from benchmarks.systems import sql_common
from benchmarks.systems.base import Handle, Unsupported, checkpoint, dir_bytes
from benchmarks.workload import CommitSpec, Entity, Props, Relation

_NO_HISTORY = "plain tables keep no history"


class PlainSQLite:
    """Current state only; what a commit would cost without versioning."""

    name = "plain_sqlite"

    def __init__(self) -> None:
        self._dir = Path()
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "setup() first"
        return self._conn

    def setup(self, path: Path) -> None:
        self._dir = path
        self._conn = sqlite3.connect(path / "plain.db", isolation_level=None)
        sql_common.configure(self.conn)
        sql_common.create_schema(self.conn)

    def bulk_import(self, entities: Sequence[Entity], relations: Sequence[Relation]) -> Handle:
        with self.conn:
            self.conn.execute("BEGIN")
            sql_common.insert_graph(self.conn, entities, relations)
        return None

    def commit(self, spec: CommitSpec) -> Handle:
        with self.conn:
            self.conn.execute("BEGIN")
            sql_common.apply_mutations(self.conn, spec)
        return None

    def read_entity_head(self, entity_id: str) -> Props | None:
        return sql_common.read_entity_head(self.conn, entity_id)

    def count_type_head(self, type_: str) -> int:
        return sql_common.count_type_head(self.conn, type_)

    def neighbors2_head(self, entity_id: str) -> set[str]:
        return sql_common.neighbors2_head(self.conn, entity_id)

    def read_entity_at(self, handle: Handle, entity_id: str) -> Props | None:
        raise Unsupported(_NO_HISTORY)

    def history(self, entity_id: str) -> list[Props]:
        raise Unsupported(_NO_HISTORY)

    def count_type_at(self, handle: Handle, type_: str) -> int:
        raise Unsupported(_NO_HISTORY)

    def neighbors2_at(self, handle: Handle, entity_id: str) -> set[str]:
        raise Unsupported(_NO_HISTORY)

    def diff(self, a: Handle, b: Handle) -> int:
        raise Unsupported(_NO_HISTORY)

    def time_resolve(self, when: datetime) -> Handle:
        raise Unsupported(_NO_HISTORY)

    def create_branch(self, name: str) -> None:
        raise Unsupported("no branches")

    def rollback(self, n_commits: int) -> None:
        raise Unsupported(_NO_HISTORY)

    def storage_bytes(self) -> int:
        checkpoint(self.conn)
        return dir_bytes(self._dir)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
