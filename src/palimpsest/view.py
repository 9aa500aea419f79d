"""A View: one immutable state of the repository, at one commit.

Rows are append-only and a View reads only rows inside its commit's chain, so it keeps
answering the same after later commits, in this process or any other.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from . import api
from .codec import from_us, to_us
from .errors import InvalidValue, NotFound, UnsupportedQuery
from .models import documents as docs
from .models import graph
from .models.graph import Direction
from .models.kv import KeyValue
from .query import aggregate as query_aggregate
from .query import engine as query_engine
from .query import search
from .query import views as query_views
from .query.sparql_versions import Versions
from .query.target import resolve_target
from .storage.base import Database
from .storage.visibility import Chain, Window, check_window, show_window
from .types import JSON, Commit, CypherResult, Document, Entity, Relation, SearchHit, SimilarHit


class View:
    """Read-only access to the state at :attr:`commit` (None: the empty state).

    >>> import palimpsest
    >>> repo = palimpsest.open(":memory:")
    >>> first = repo.put_entity("ada", type="Person", props={"born": 1815})
    >>> repo.head().entity("ada").props
    {'born': 1815}
    """

    def __init__(self, db: Database, chain: Chain, commit: Commit | None, *,
                 versions: Versions | None = None, window: Window | None = None) -> None:
        self._db = db
        self._chain = chain
        self.commit = commit
        self._versions = versions
        self._window = window

    def __repr__(self) -> str:
        at = self.commit.short_id if self.commit else "empty"
        if self._window is None:
            return f"<View at {at}>"
        return f"<View at {at} valid {show_window(self._window)}>"

    @property
    def chain(self) -> Chain:
        """The (line, seq) chain this view reads (see docs/architecture.md)."""
        return self._chain

    # -- valid time (docs/valid-time.md) -------------------------------------------------
    def valid_at(self, when: datetime | str) -> View:
        """This state narrowed to the entities and relations valid at ``when`` (valid time:
        when a fact holds in the world, beside the commit's transaction time). Elements
        without an interval are always valid; documents and kv entries have none."""
        at = to_us(when)
        return View(self._db, self._chain, self.commit, versions=self._versions,
                    window=(at, at + 1))

    def valid_between(self, start: datetime | str, end: datetime | str) -> View:
        """This state narrowed to the entities and relations valid at some time in
        ``[start, end)`` (their interval overlaps it)."""
        window = check_window(to_us(start), to_us(end))
        return View(self._db, self._chain, self.commit, versions=self._versions,
                    window=window)

    @property
    def valid_window(self) -> tuple[datetime, datetime] | None:
        """The valid-time window ``[start, end)`` this view is narrowed to (None: none;
        ``valid_at(t)`` is ``[t, t + 1µs)``)."""
        if self._window is None:
            return None
        return from_us(self._window[0]), from_us(self._window[1])

    # -- graph ---------------------------------------------------------------------------
    def entity(self, id: str) -> Entity | None:
        """The entity with this id, or None."""
        return graph.entity(self._db, self._chain, id, window=self._window)

    def get_entity(self, id: str) -> Entity:
        """Like :meth:`entity` but raises :class:`palimpsest.NotFound` when missing."""
        found = self.entity(id)
        if found is None:
            raise NotFound(f"no entity {id!r} at {self!r}")
        return found

    def entities(self, type: str | None = None, where: Mapping[str, JSON] | None = None, *,
                 limit: int | None = None, offset: int = 0,
                 source: str | None = None) -> Iterator[Entity]:
        """Entities in id order, optionally of one type, with property values equal to
        ``where``, and whose current version came from provenance ``source``."""
        return graph.entities(self._db, self._chain, type=type, where=where, limit=limit,
                              offset=offset, source=source, window=self._window)

    def count(self, type: str | None = None) -> int:
        """Number of entities (of one type) in this state, counted in SQL."""
        return graph.count_entities(self._db, self._chain, type=type, window=self._window)

    def relation(self, id: str) -> Relation | None:
        return graph.relation(self._db, self._chain, id, window=self._window)

    def relations(self, type: str | None = None, source: str | None = None,
                  target: str | None = None) -> Iterator[Relation]:
        """Relations, optionally filtered by type, source and target."""
        return graph.relations(self._db, self._chain, type=type, source=source, target=target,
                               window=self._window)

    def count_relations(self, type: str | None = None) -> int:
        return graph.count_relations(self._db, self._chain, type=type, window=self._window)

    def neighbors(self, id: str, depth: int = 1, rel_type: str | None = None,
                  direction: Direction = "both") -> list[Entity]:
        """Entities reachable from ``id`` within ``depth`` relations, nearest first."""
        return graph.neighbors(self._db, self._chain, id, depth=depth, rel_type=rel_type,
                               direction=direction, window=self._window)

    # -- documents -----------------------------------------------------------------------
    def document(self, collection: str, key: str) -> Document | None:
        return docs.document(self._db, self._chain, collection, key)

    def documents(self, collection: str, *, limit: int | None = None,
                  offset: int = 0) -> Iterator[Document]:
        return docs.documents(self._db, self._chain, collection, limit=limit, offset=offset)

    def collections(self) -> list[str]:
        return docs.collections(self._db, self._chain)

    # -- queries and key-value state (docs/query.md, docs/kv.md) --------------------------
    def query(self, collection_or_type: str, where: query_engine.Where = None, *,
              select: Any = None, order_by: Any = None, limit: int | None = None,
              offset: int = 0, kind: str | None = None) -> list[Document | Entity]:
        """Documents of a collection (or entities of a type) matching ``where`` (a Filter
        such as ``F("age") > 30``, or its dict form), sorted by ``order_by`` (``"-age"`` for
        descending; default: by key), paged by ``limit`` / ``offset``; ``select`` keeps only
        the named fields. Runs in SQL at this view's commit; raises QueryError on a bad query
        or an unknown collection (``kind="document"`` / ``"entity"`` settles a name used for
        both)."""
        target = resolve_target(self._db, collection_or_type, kind)
        return query_engine.run(self._db, self._chain, target, where=where, select=select,
                                order_by=order_by, limit=limit, offset=offset,
                                window=self._window)

    def aggregate(self, collection_or_type: str, aggregates: Any = None, *,
                  where: query_engine.Where = None, group_by: str | list[str] | None = None,
                  kind: str | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        """Aggregates (``{"n": Agg.count(), "total": Agg.sum("amount")}``; default: count)
        over the matching elements: one dict, or with ``group_by`` one dict per group."""
        target = resolve_target(self._db, collection_or_type, kind)
        return query_aggregate.run(self._db, self._chain, target, aggregates, where=where,
                                   group_by=group_by, window=self._window)

    def materialized(self, name: str, *, where: query_engine.Where = None,
                     order_by: Any = None, limit: int | None = None,
                     offset: int = 0) -> list[Document | Entity]:
        """The members of materialized view ``name`` (``Repository.create_view``) at this
        view's commit."""
        if self._window is not None:
            raise unnarrowed("a materialized view")
        return query_views.read(self._db, self._chain, name, where=where, order_by=order_by,
                                limit=limit, offset=offset)

    def sparql(self, text: str, *, prefixes: Mapping[str, str] | None = None,
               timeout: float | None = None) -> Any:
        """Answer a SPARQL SELECT (``Solutions``: rows of pyoxigraph terms) or ASK (bool)
        over the graph ``export`` writes as RDF at this commit, compiled to one SQL query
        (docs/sparql.md). ``prefixes`` as for RDF export; needs ``palimpsest[sparql]``."""
        if self._window is not None:
            raise unnarrowed("SPARQL")
        from .query import sparql
        return sparql.run(self._db, self._chain, text, prefixes, timeout, self._versions)

    def sparql_explain(self, text: str, *, prefixes: Mapping[str, str] | None = None) -> str:
        """The SQL that :meth:`sparql` runs for this query (parameters inlined as ``?``)."""
        if self._window is not None:
            raise unnarrowed("SPARQL")
        from .query import sparql
        return sparql.compile_query(self._db, self._chain, text, prefixes, self._versions).sql

    def cypher(self, text: str, params: Mapping[str, Any] | None = None, *,
               timeout: float | None = None) -> CypherResult:
        """Answer an openCypher read query at this commit, compiled to one SQL query
        (docs/cypher.md); needs ``palimpsest[cypher]``."""
        if self._window is not None:
            raise unnarrowed("Cypher")
        from .query import cypher
        return cypher.run(self._db, self._chain, text, params, timeout)

    def cypher_explain(self, text: str, params: Mapping[str, Any] | None = None) -> str:
        """The SQL that :meth:`cypher` runs for this query (parameters as ``?``)."""
        if self._window is not None:
            raise unnarrowed("Cypher")
        from .query import cypher
        return cypher.compile_query(self._db, self._chain, text, params).sql

    # -- search (docs/search.md) ---------------------------------------------------------
    def search(self, query: str, *, type: str | None = None, kind: str | None = None,
               where: Any = None, limit: int | None = 10, offset: int = 0) -> list[SearchHit]:
        """Full-text search at this view's commit: the elements whose indexed fields
        (``Repository.create_text_index``) hold every word, ``"quoted phrase"`` and
        ``prefix*`` of ``query``, best first, with highlights. ``type`` picks one index
        (default: all), ``where`` filters as in :meth:`query`."""
        if self._window is not None:
            raise unnarrowed("full-text search")
        return search.text(self._db, self._chain, query, type_=type, kind=kind, where=where,
                           limit=limit, offset=offset)

    def similar(self, vector: Sequence[float], k: int = 10, *, type: str | None = None,
                property: str | None = None, kind: str | None = None, where: Any = None,
                exact: bool = False) -> list[SimilarHit]:
        """The ``k`` elements whose declared vector property
        (``Repository.create_vector_index``) is nearest to ``vector`` at this view's commit,
        nearest first. At a branch head without ``where`` an approximate index answers;
        in the past, with ``where`` or with ``exact=True``, an exact scan."""
        if self._window is not None:
            raise unnarrowed("similarity search")
        return search.similar(self._db, self._chain, vector, k=k, type_=type, kind=kind,
                              prop=property, where=where, exact=exact)

    @property
    def kv(self) -> KeyValue:
        """The key-value state at this commit (read-only)."""
        return KeyValue(self._db, chain=self._chain)

    # -- whole state ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The whole state as one JSON object: ``entities`` and ``relations`` by id,
        ``documents`` by collection then key, and ``kv`` (key-value entries: key → value as
        base64 text). ``Repository.diff(a, b).to_json_patch()`` turns ``a``'s into ``b``'s
        exactly."""
        out: dict[str, Any] = {
            "entities": {e.id: e.to_dict() for e in self.entities()},
            "relations": {r.id: r.to_dict() for r in self.relations()},
            "documents": {},
            "kv": {e.key: base64.b64encode(e.value).decode() for e in self.kv.list()},
        }
        for name in self.collections():
            out["documents"][name] = {d.key: d.value for d in self.documents(name)}
        return out


V = TypeVar("V", bound=api.View)


def narrowed(view: V, valid_at: str | None, valid_between: str | None) -> V:
    """``view`` narrowed to a valid time given as text, as the faces take it: ``valid_at``
    (an ISO time) or ``valid_between`` (``START/END``), not both (the CLI's ``--valid-at`` /
    ``--valid-between``, the server's query parameters)."""
    if valid_at is not None and valid_between is not None:
        raise InvalidValue("give valid_at or valid_between, not both")
    if valid_at is not None:
        return cast(V, view.valid_at(valid_at))
    if valid_between is not None:
        start, slash, end = valid_between.partition("/")
        if not slash:
            raise InvalidValue(f"valid_between {valid_between!r} must be START/END, e.g. "
                               "2020-01-01/2021-01-01")
        return cast(V, view.valid_between(start, end))
    return view


def unnarrowed(what: str) -> UnsupportedQuery:
    """The error of a read that does not honour valid time yet, on a narrowed view: refused
    rather than answered over the whole state (docs/valid-time.md)."""
    return UnsupportedQuery(f"{what} does not honour valid time yet: run it on a view without "
                            "valid_at / valid_between", "valid time")
