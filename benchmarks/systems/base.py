"""The small contract every benchmarked system implements.

A system is driven by ``benchmarks.worker``: set up in an empty directory,
fed the base graph, then the commits, then queried. Commit handles are
opaque to the harness (a hash, a transaction id, a palimpsest commit id).
A figure a system cannot produce raises :class:`Unsupported`, and the
report prints "n/a" for it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from benchmarks.workload import CommitSpec, Entity, Props, Relation

Handle = Any  # an opaque commit handle, only ever passed back to the same system


class Unsupported(Exception):
    """Raised for a figure the system has no way to produce."""


class System(Protocol):
    """What the harness asks of each system; every method is one measured operation."""

    name: str

    def setup(self, path: Path) -> None:
        """Create an empty store in directory ``path``."""
        ...

    def bulk_import(self, entities: Sequence[Entity], relations: Sequence[Relation]) -> Handle:
        """Load the base graph as one commit and return its handle."""
        ...

    def commit(self, spec: CommitSpec) -> Handle:
        """Apply one commit's mutations atomically and durably; return its handle."""
        ...

    def read_entity_at(self, handle: Handle, entity_id: str) -> Props | None:
        """Properties of one entity as of a past commit, or None if absent."""
        ...

    def history(self, entity_id: str) -> list[Props]:
        """Every distinct version of one entity on the current branch, newest first."""
        ...

    def count_type_at(self, handle: Handle, type_: str) -> int:
        """Number of entities of one type as of a past commit."""
        ...

    def neighbors2_at(self, handle: Handle, entity_id: str) -> set[str]:
        """Ids within two hops (either direction), start excluded, at a past commit."""
        ...

    def diff(self, a: Handle, b: Handle) -> int:
        """Number of entities and relations whose state differs between two commits."""
        ...

    def time_resolve(self, when: datetime) -> Handle:
        """The latest commit at or before ``when``."""
        ...

    def create_branch(self, name: str) -> None:
        """Create a branch at the current head."""
        ...

    def rollback(self, n_commits: int) -> None:
        """Make the current branch's state equal to that of ``n_commits`` commits ago."""
        ...

    def storage_bytes(self) -> int:
        """Bytes on disk after a checkpoint (WAL folded into the main file)."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


def checkpoint(conn: Any, attempts: int = 100) -> None:
    """Fold a SQLite WAL into the main file (TRUNCATE) on a DB-API connection.

    Retries while another connection (a background checkpointer, say) holds it busy,
    because a silently failed checkpoint would count the WAL as storage.
    """
    for _ in range(attempts):
        cur = conn.cursor()
        try:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = cur.fetchone()[0]
        finally:
            cur.close()
        if not busy:
            return
        time.sleep(0.05)
    raise RuntimeError("the WAL checkpoint stayed busy")


def dir_bytes(path: Path) -> int:
    """Total size of the regular files under ``path`` (database, WAL, side files)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
