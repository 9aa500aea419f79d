"""Doltlite: SQLite with Dolt's versioning (prolly trees, git-like commits).

Same tables and write statements as the plain SQLite floor, plus one
``dolt_commit`` per commit. Past states are read with ``dolt_at_<table>(rev)``,
history with ``dolt_history_<table>``, diffs with ``dolt_diff_<table>(a, b)``,
branches with ``dolt_branch`` and rollback with ``dolt_reset('--hard', 'HEAD~N')``
(which moves the branch back; the rolled-back commits leave its log).

The ``doltlite`` module must have been imported before ``sqlite3`` (the worker
does it); :meth:`DoltlitePeer.setup` refuses to run on a stock SQLite engine.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from benchmarks.systems import sql_common
from benchmarks.systems.base import Handle, dir_bytes
from benchmarks.workload import AUTHOR, CommitSpec, Entity, Props, Relation, commit_time

_AUTHOR = f"bench <{AUTHOR}>"
GC_BUDGET_S = 180.0

# Relations are scanned once per query (dolt_at_<table> does not use secondary
# indexes), then both hops are answered from the materialized copy.
_NEIGHBORS2 = """
WITH r AS MATERIALIZED (SELECT source, target FROM dolt_at_relations(?1)),
     n1(id) AS (SELECT target FROM r WHERE source = ?2
                UNION SELECT source FROM r WHERE target = ?2)
SELECT id FROM n1
UNION SELECT target FROM r WHERE source IN n1
UNION SELECT source FROM r WHERE target IN n1
"""


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DoltlitePeer:
    """Doltlite driven through the standard sqlite3 module."""

    name = "doltlite"

    def __init__(self) -> None:
        self._dir = Path()
        self._conn: sqlite3.Connection | None = None
        self.gc = ""  # how the last checkpoint's garbage collection ended

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "setup() first"
        return self._conn

    def setup(self, path: Path) -> None:
        self._dir = path
        self._conn = sqlite3.connect(path / "dolt.db", isolation_level=None)
        try:
            self.conn.execute("SELECT dolt_version()").fetchone()
        except sqlite3.OperationalError as e:
            raise RuntimeError(
                "doltlite is not the active SQLite engine: import doltlite first"
            ) from e
        sql_common.create_schema(self.conn)

    def _dolt_commit(self, message: str, when: datetime, *flags: str) -> str:
        row = self.conn.execute(
            "SELECT dolt_commit(?, '-m', ?, '--date', ?, '--author', ?)",
            (*flags, message, _iso(when), _AUTHOR),
        ).fetchone()
        if self.conn.in_transaction:  # dolt_commit normally ends the SQL transaction itself
            self.conn.execute("COMMIT")
        return str(row[0])

    def bulk_import(self, entities: Sequence[Entity], relations: Sequence[Relation]) -> Handle:
        self.conn.execute("BEGIN")
        sql_common.insert_graph(self.conn, entities, relations)
        return self._dolt_commit("import", commit_time(-1), "-A")

    def commit(self, spec: CommitSpec) -> Handle:
        self.conn.execute("BEGIN")
        try:
            sql_common.apply_mutations(self.conn, spec)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return self._dolt_commit(spec.message, spec.timestamp, "-a")

    def commit_on(self, branch: str, spec: CommitSpec) -> Handle:
        """One commit on ``branch``, then back to main (the session's branch)."""
        self.conn.execute("SELECT dolt_checkout(?)", (branch,)).fetchone()
        try:
            return self.commit(spec)
        finally:
            self.conn.execute("SELECT dolt_checkout('main')").fetchone()

    def merge(self, branch: str) -> None:
        self.conn.execute("SELECT dolt_merge(?)", (branch,)).fetchone()
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def read_entity_head(self, entity_id: str) -> Props | None:
        return sql_common.read_entity_head(self.conn, entity_id)

    def count_type_head(self, type_: str) -> int:
        return sql_common.count_type_head(self.conn, type_)

    def neighbors2_head(self, entity_id: str) -> set[str]:
        return sql_common.neighbors2_head(self.conn, entity_id)

    def diff_stats(self, a: Handle, b: Handle) -> int:
        # rows added + deleted + modified, per table
        rows = self.conn.execute(
            "SELECT rows_added + rows_deleted + rows_modified FROM dolt_diff_stat(?, ?)", (a, b)
        ).fetchall()
        return sum(int(r[0]) for r in rows)

    def blame(self, entity_id: str) -> int:
        # row-level: the commit that last changed the row (palimpsest blames each property)
        row = self.conn.execute(
            "SELECT 1 FROM dolt_blame_entities WHERE id = ?", (entity_id,)
        ).fetchone()
        return 0 if row is None else 1

    def rollback_to(self, handle: Handle) -> None:
        self.conn.execute("SELECT dolt_reset('--hard', ?)", (handle,)).fetchone()

    def read_entity_at(self, handle: Handle, entity_id: str) -> Props | None:
        row = self.conn.execute(
            "SELECT props FROM dolt_at_entities(?) WHERE id = ?", (handle, entity_id)
        ).fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    def history(self, entity_id: str) -> list[Props]:
        # dolt_history has one row per commit in which the row exists: keep changes only.
        rows = self.conn.execute(
            "SELECT props FROM dolt_history_entities WHERE id = ?", (entity_id,)
        ).fetchall()
        versions: list[Props] = []
        last: str | None = None
        for (props,) in rows:
            if props != last:
                versions.append(dict(orjson.loads(props)))
                last = props
        return versions

    def count_type_at(self, handle: Handle, type_: str) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM dolt_at_entities(?) WHERE type = ?", (handle, type_)
        ).fetchone()
        return int(row[0])

    def neighbors2_at(self, handle: Handle, entity_id: str) -> set[str]:
        found = {r[0] for r in self.conn.execute(_NEIGHBORS2, (handle, entity_id))}
        found.discard(entity_id)
        return found

    def diff(self, a: Handle, b: Handle) -> int:
        total = 0
        for table in ("entities", "relations"):
            row = self.conn.execute(
                f"SELECT count(*) FROM dolt_diff_{table}(?, ?)", (a, b)
            ).fetchone()
            total += int(row[0])
        return total

    def diff_page(self, a: Handle, b: Handle) -> int:
        # the first 100 changed rows, entities first (as palimpsest's first page)
        rows = self.conn.execute(
            "SELECT * FROM dolt_diff_entities(?, ?) LIMIT 100", (a, b)).fetchall()
        if len(rows) < 100:
            rows += self.conn.execute("SELECT * FROM dolt_diff_relations(?, ?) LIMIT ?",
                                      (a, b, 100 - len(rows))).fetchall()
        return len(rows)

    def time_resolve(self, when: datetime) -> Handle:
        # dolt_log walks the branch newest first, so the first hit is the latest commit.
        row = self.conn.execute(
            "SELECT commit_hash FROM dolt_log WHERE date <= ? LIMIT 1",
            (when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),),
        ).fetchone()
        return None if row is None else str(row[0])

    def create_branch(self, name: str) -> None:
        self.conn.execute("SELECT dolt_branch(?)", (name,)).fetchone()

    def rollback(self, n_commits: int) -> None:
        self.conn.execute("SELECT dolt_reset('--hard', ?)", (f"HEAD~{n_commits}",)).fetchone()

    def storage_bytes(self) -> int:
        # Doltlite's checkpoint runs a garbage collection of the whole chunk store
        # (doltliteGcCompactStore), which shrank the store by 5-8% at the small and medium
        # sizes but ran for more than 10 minutes on the 4.8 GB store of the large size.
        # It is interrupted after GC_BUDGET_S; the size is then the store as the commits
        # left it (the JSON says so under "gc").
        timer = threading.Timer(GC_BUDGET_S, self.conn.interrupt)
        timer.start()
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            self.gc = "done"
        except sqlite3.OperationalError as e:
            if "interrupt" not in str(e):
                raise
            self.gc = f"interrupted after {GC_BUDGET_S:.0f} s"
        finally:
            timer.cancel()
        return dir_bytes(self._dir)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
