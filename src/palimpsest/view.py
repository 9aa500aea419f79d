"""A View: one immutable state of the repository, at one commit.

Rows are append-only and a View reads only rows inside its commit's chain, so it keeps
answering the same after later commits, in this process or any other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .models import documents as docs
from .models import graph
from .models.graph import Direction
from .storage.base import Database
from .storage.visibility import Chain
from .types import JSON, Commit, Document, Entity, Relation

if TYPE_CHECKING:
    pass


class View:
    """Read-only access to the state at :attr:`commit` (None: the empty state).

    >>> import palimpsest
    >>> repo = palimpsest.open(":memory:")
    >>> first = repo.put_entity("ada", type="Person", props={"born": 1815})
    >>> repo.head().entity("ada").props
    {'born': 1815}
    """

    def __init__(self, db: Database, chain: Chain, commit: Commit | None) -> None:
        self._db = db
        self._chain = chain
        self.commit = commit

    def __repr__(self) -> str:
        at = self.commit.short_id if self.commit else "empty"
        return f"<View at {at}>"

    @property
    def chain(self) -> Chain:
        """The (line, seq) chain this view reads (see docs/architecture.md)."""
        return self._chain

    # -- graph ---------------------------------------------------------------------------
    def entity(self, id: str) -> Entity | None:
        """The entity with this id, or None."""
        return graph.entity(self._db, self._chain, id)

    def get_entity(self, id: str) -> Entity:
        """Like :meth:`entity` but raises :class:`palimpsest.NotFound` when missing."""
        found = self.entity(id)
        if found is None:
            from .errors import NotFound
            raise NotFound(f"no entity {id!r} at {self!r}")
        return found

    def entities(self, type: str | None = None, where: Mapping[str, JSON] | None = None, *,
                 limit: int | None = None, offset: int = 0) -> Iterator[Entity]:
        """Entities in id order, optionally of one type and with property values equal to
        ``where``."""
        return graph.entities(self._db, self._chain, type=type, where=where, limit=limit,
                              offset=offset)

    def count(self, type: str | None = None) -> int:
        """Number of entities (of one type) in this state, counted in SQL."""
        return graph.count_entities(self._db, self._chain, type=type)

    def relation(self, id: str) -> Relation | None:
        return graph.relation(self._db, self._chain, id)

    def relations(self, type: str | None = None, source: str | None = None,
                  target: str | None = None) -> Iterator[Relation]:
        """Relations, optionally filtered by type, source and target."""
        return graph.relations(self._db, self._chain, type=type, source=source, target=target)

    def count_relations(self, type: str | None = None) -> int:
        return graph.count_relations(self._db, self._chain, type=type)

    def neighbors(self, id: str, depth: int = 1, rel_type: str | None = None,
                  direction: Direction = "both") -> list[Entity]:
        """Entities reachable from ``id`` within ``depth`` relations, nearest first."""
        return graph.neighbors(self._db, self._chain, id, depth=depth, rel_type=rel_type,
                               direction=direction)

    # -- documents -----------------------------------------------------------------------
    def document(self, collection: str, key: str) -> Document | None:
        return docs.document(self._db, self._chain, collection, key)

    def documents(self, collection: str, *, limit: int | None = None,
                  offset: int = 0) -> Iterator[Document]:
        return docs.documents(self._db, self._chain, collection, limit=limit, offset=offset)

    def collections(self) -> list[str]:
        return docs.collections(self._db, self._chain)

    # -- whole state ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The whole state as one JSON object: entities, relations and documents by id."""
        out: dict[str, Any] = {
            "entities": {e.id: e.to_dict() for e in self.entities()},
            "relations": {r.id: r.to_dict() for r in self.relations()},
            "documents": {},
        }
        for name in self.collections():
            out["documents"][name] = {d.key: d.value for d in self.documents(name)}
        return out
