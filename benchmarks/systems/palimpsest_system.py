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
    CreateRelation,
    DeleteEntity,
    DeleteRelation,
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
            # the bulk forms: put_relations checks the endpoints in batches
            tx.put_entities((e.id, e.type, e.props) for e in entities)
            tx.put_relations((r.id, r.type, r.source, r.target, r.props) for r in relations)
        assert tx.commit is not None
        return tx.commit.id

    def commit(self, spec: CommitSpec) -> Handle:
        return self.commit_on(None, spec)

    def commit_on(self, branch: str | None, spec: CommitSpec) -> Handle:
        """One commit of ``spec`` on ``branch`` (default: the current branch)."""
        with self.repo.transaction(
            spec.message, author=spec.author, timestamp=spec.timestamp, branch=branch
        ) as tx:
            for m in spec.mutations:
                if isinstance(m, CreateEntity):
                    e = m.entity
                    tx.put_entity(e.id, type=e.type, props=e.props)
                elif isinstance(m, DeleteEntity):
                    tx.delete_entity(m.id)
                elif isinstance(m, CreateRelation):
                    r = m.relation
                    tx.put_relation(r.id, type=r.type, source=r.source, target=r.target,
                                    props=r.props)
                elif isinstance(m, DeleteRelation):
                    tx.delete_relation(m.id)
                else:
                    tx.update_entity(m.id, m.patch)
        assert tx.commit is not None
        return tx.commit.id

    def merge(self, branch: str) -> None:
        result = self.repo.merge(branch, message=f"merge {branch}")
        assert result.status == "merged", result.status

    def read_entity_head(self, entity_id: str) -> Props | None:
        e = self.repo.head().entity(entity_id)
        return None if e is None else dict(e.props)

    def count_type_head(self, type_: str) -> int:
        return self.repo.head().count(type=type_)

    def neighbors2_head(self, entity_id: str) -> set[str]:
        found = {e.id for e in self.repo.head().neighbors(entity_id, depth=2)}
        found.discard(entity_id)
        return found

    def diff_stats(self, a: Handle, b: Handle) -> int:
        s = self.repo.diff_stats(a, b)
        return (s.entities_created + s.entities_modified + s.entities_deleted
                + s.relations_created + s.relations_modified + s.relations_deleted)

    def blame(self, entity_id: str) -> int:
        try:
            blamed = self.repo.blame(entity_id, element="entity")
        except palimpsest.NotFound:
            return 0
        return 1 if blamed else 0

    def rollback_to(self, handle: Handle) -> None:
        self.repo.rollback(handle, message="bench rollback")

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

    def diff_page(self, a: Handle, b: Handle) -> int:
        """The first page of a diff (100 changes), its values read, as a UI shows it."""
        page = self.repo.diff(a, b, limit=100)
        return sum(1 for c in page.changes if c.new is not None or c.old is not None)

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
