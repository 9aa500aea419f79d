"""palimpsest itself, driven only through its public API (design.md section 4).

The base graph is one transaction (``put_entity`` / ``put_relation``), each
workload commit is one ``repo.transaction(...)`` with the commit's time given
as ``timestamp=``, and handles are commit ids. Reads of the past open
``repo.at(commit_id)``; a time is resolved with ``repo.resolve(iso_string)``;
rollback is ``repo.rollback("<branch>~N")``, a new commit that keeps history.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import palimpsest
from benchmarks.systems.base import Handle, checkpoint, dir_bytes
from benchmarks.workload import (
    AUTHOR,
    CommitSpec,
    CreateEntity,
    DeleteEntity,
    Entity,
    Props,
    Relation,
    commit_time,
)

_FILE = "palimpsest.db"


class PalimpsestSystem:
    """A palimpsest repository in one SQLite file, default durability (WAL, NORMAL)."""

    name = "palimpsest"

    def __init__(self) -> None:
        self._dir = Path()
        self._repo: palimpsest.Repository | None = None

    @property
    def repo(self) -> palimpsest.Repository:
        assert self._repo is not None, "setup() first"
        return self._repo

    def setup(self, path: Path) -> None:
        self._dir = path
        self._repo = palimpsest.open(str(path / _FILE), author=AUTHOR)

    def bulk_import(self, entities: Sequence[Entity], relations: Sequence[Relation]) -> Handle:
        with self.repo.transaction("import", author=AUTHOR, timestamp=commit_time(-1)) as tx:
            for e in entities:
                tx.put_entity(e.id, type=e.type, props=e.props)
            for r in relations:
                tx.put_relation(r.id, type=r.type, source=r.source, target=r.target, props=r.props)
        assert tx.commit is not None
        return tx.commit.id

    def commit(self, spec: CommitSpec) -> Handle:
        with self.repo.transaction(
            spec.message, author=spec.author, timestamp=spec.timestamp
        ) as tx:
            for m in spec.mutations:
                if isinstance(m, CreateEntity):
                    e = m.entity
                    tx.put_entity(e.id, type=e.type, props=e.props)
                elif isinstance(m, DeleteEntity):
                    tx.delete_entity(m.id)
                else:
                    tx.update_entity(m.id, m.patch)
        assert tx.commit is not None
        return tx.commit.id

    def read_entity_at(self, handle: Handle, entity_id: str) -> Props | None:
        e = self.repo.at(handle).entity(entity_id)
        return None if e is None else dict(e.props)

    def history(self, entity_id: str) -> list[Props]:
        return [
            dict(v.value.props)
            for v in self.repo.history(entity_id, element="entity", relations="none")
            if v.kind != "deleted"
        ]

    def count_type_at(self, handle: Handle, type_: str) -> int:
        return self.repo.at(handle).count(type=type_)

    def neighbors2_at(self, handle: Handle, entity_id: str) -> set[str]:
        found = {e.id for e in self.repo.at(handle).neighbors(entity_id, depth=2)}
        found.discard(entity_id)
        return found

    def diff(self, a: Handle, b: Handle) -> int:
        return len(self.repo.diff(a, b).changes)

    def time_resolve(self, when: datetime) -> Handle:
        return self.repo.resolve(when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")).id

    def create_branch(self, name: str) -> None:
        self.repo.create_branch(name)

    def rollback(self, n_commits: int) -> None:
        self.repo.rollback(f"{self.repo.current_branch}~{n_commits}", message="bench rollback")

    def storage_bytes(self) -> int:
        # A second connection folds the WAL into the main file; the repository is idle.
        conn = sqlite3.connect(self._dir / _FILE)
        try:
            checkpoint(conn)
        finally:
            conn.close()
        return dir_bytes(self._dir)

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None
