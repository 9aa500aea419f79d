"""One state on the server, read over HTTP: :class:`RemoteView`, the remote face of
:class:`palimpsest.view.View` (see :mod:`palimpsest.remote.repository`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from .. import wire
from ..codec import from_us, to_us
from ..errors import NotFound, QueryError
from ..query.aggregate import parse_aggregates
from ..query.engine import check_page
from ..storage.visibility import check_window
from ..types import (
    JSON,
    Commit,
    CypherResult,
    Document,
    Entity,
    Relation,
    SearchHit,
    SimilarHit,
    ViewInfo,
)
from ..view import unnarrowed
from .http import _order, _p, _where, when_text
from .kv import RemoteKV
from .kv import Server as KVServer


class Server(KVServer, Protocol):
    """What RemoteView needs of the client: requests (JSON and raw), event streams (for its
    kv) and the declared views."""

    def request_bytes(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      content: bytes | None = None,
                      headers: Mapping[str, str] | None = None) -> tuple[str, bytes]: ...

    def views(self) -> list[ViewInfo]: ...


class RemoteView:
    """One immutable state on the server: every read names the same commit id."""

    def __init__(self, repo: Server, commit: Commit | None, *,
                 valid: Mapping[str, str] | None = None) -> None:
        self._repo = repo
        self.commit = commit
        self._valid = dict(valid or {})  # {"valid_at": T} or {"valid_between": "A/B"}

    def __repr__(self) -> str:
        at = self.commit.short_id if self.commit else "empty"
        narrowed = "".join(f" {k}={v}" for k, v in self._valid.items())
        return f"<RemoteView at {at}{narrowed}>"

    def valid_at(self, when: datetime | str) -> RemoteView:
        """This state narrowed to what is valid at ``when`` (the server's ``valid_at``)."""
        to_us(when)  # a malformed time fails here, as embedded
        return RemoteView(self._repo, self.commit, valid={"valid_at": _when(when)})

    def valid_between(self, start: datetime | str, end: datetime | str) -> RemoteView:
        """This state narrowed to what is valid at some time in ``[start, end)``."""
        check_window(to_us(start), to_us(end))
        return RemoteView(self._repo, self.commit,
                          valid={"valid_between": f"{_when(start)}/{_when(end)}"})

    @property
    def valid_window(self) -> tuple[datetime, datetime] | None:
        """The valid-time window ``[start, end)`` this view is narrowed to (None: none)."""
        if "valid_at" in self._valid:
            at = to_us(self._valid["valid_at"])
            return from_us(at), from_us(at + 1)
        if "valid_between" in self._valid:
            start, _, end = self._valid["valid_between"].partition("/")
            return from_us(to_us(start)), from_us(to_us(end))
        return None

    def _get(self, path: str, **params: Any) -> Any:
        assert self.commit is not None
        return self._repo.request("GET", path, params={"ref": self.commit.id, **self._valid,
                                                       **params})

    def _maybe(self, path: str) -> Any:
        if self.commit is None:
            return None
        try:
            return self._get(path)
        except NotFound:
            return None

    def entity(self, id: str) -> Entity | None:
        data = self._maybe(f"/api/entities/{_p(id)}")
        return wire.decode(Entity, data) if data else None

    def get_entity(self, id: str) -> Entity:
        found = self.entity(id)
        if found is None:
            raise NotFound(f"no entity {id!r} at {self!r}")
        return found

    def entities(self, type: str | None = None, where: Mapping[str, JSON] | None = None, *,
                 limit: int | None = None, offset: int = 0,
                 source: str | None = None) -> Iterator[Entity]:
        """Entities in id order, fetched a page at a time."""
        page = 1000
        if self.commit is None:
            return
        import orjson
        where_text = orjson.dumps(dict(where)).decode() if where else None
        remaining = limit
        while remaining is None or remaining > 0:
            size = page if remaining is None else min(page, remaining)
            rows = self._get("/api/entities", type=type, where=where_text, limit=size,
                             offset=offset, source=source)
            for row in rows:
                yield wire.decode(Entity, row)
            if len(rows) < size:
                return
            offset += len(rows)
            if remaining is not None:
                remaining -= len(rows)

    def count(self, type: str | None = None) -> int:
        if self.commit is None:
            return 0
        return int(self._get("/api/count", type=type)["count"])

    def count_relations(self, type: str | None = None) -> int:
        if self.commit is None:
            return 0
        return int(self._get("/api/count", type=type, element="relation")["count"])

    def relation(self, id: str) -> Relation | None:
        data = self._maybe(f"/api/relations/{_p(id)}")
        return wire.decode(Relation, data) if data else None

    def relations(self, type: str | None = None, source: str | None = None,
                  target: str | None = None) -> Iterator[Relation]:
        if self.commit is None:
            return iter(())
        offset, out = 0, []
        while True:
            rows = self._get("/api/relations", type=type, source=source, target=target,
                             limit=10_000, offset=offset)
            out += [wire.decode(Relation, r) for r in rows]
            if len(rows) < 10_000:
                return iter(out)
            offset += len(rows)

    def neighbors(self, id: str, depth: int = 1, rel_type: str | None = None,
                  direction: str = "both") -> list[Entity]:
        if self.commit is None:
            return []
        rows = self._get(f"/api/neighbors/{_p(id)}", depth=depth, rel_type=rel_type,
                         direction=direction)
        return [wire.decode(Entity, r) for r in rows]

    def document(self, collection: str, key: str) -> Document | None:
        data = self._maybe(f"/api/documents/{_p(collection)}/{_p(key)}")
        return wire.decode(Document, data) if data else None

    def documents(self, collection: str, *, limit: int | None = None,
                  offset: int = 0) -> Iterator[Document]:
        if self.commit is None:
            return iter(())
        rows = self._get(f"/api/documents/{_p(collection)}",
                         limit=limit if limit is not None else 10_000, offset=offset)
        return iter([wire.decode(Document, r) for r in rows])

    def collections(self) -> list[str]:
        if self.commit is None:
            return []
        return list(self._get("/api/collections"))

    def query(self, collection_or_type: str, where: Mapping[str, Any] | None = None, *,
              select: list[str] | None = None, order_by: Any = None,
              limit: int | None = None, offset: int = 0,
              kind: str | None = None) -> list[Document | Entity]:
        """Like View.query; ``where`` in the dict form (``Filter.to_dict()``)."""
        if self.commit is None:
            return []
        if kind not in (None, "document", "entity"):
            raise QueryError(f"kind: must be 'document' or 'entity', not {kind!r}")
        check_page(limit, offset)
        if limit == 0:
            return []
        body = {"target": collection_or_type, "where": _where(where),
                "select": [select] if isinstance(select, str) else select, "order_by": _order(order_by), "limit": limit or 10_000,
                "offset": offset, "kind": kind, "ref": self.commit.id, **self._valid}
        rows = self._repo.request("POST", "/api/query",
                                json={k: v for k, v in body.items() if v is not None})
        return [wire.decode(Entity, r) if "props" in r else wire.decode(Document, r)
                for r in rows]

    def aggregate(self, collection_or_type: str, aggregates: Any = None, *,
                  where: Any = None, group_by: str | list[str] | None = None,
                  kind: str | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        """Like View.aggregate; ``where`` in the dict form (``Filter.to_dict()``)."""
        if self.commit is None:
            return [] if group_by else {}
        body = {"target": collection_or_type, "aggregates": {
                    name: agg.to_dict() for name, agg in parse_aggregates(aggregates).items()},
                "where": _where(where), "group_by": group_by, "kind": kind,
                "ref": self.commit.id, **self._valid}
        result: dict[str, Any] | list[dict[str, Any]] = self._repo.request(
            "POST", "/api/aggregate", json={k: v for k, v in body.items() if v is not None})
        return result

    def materialized(self, name: str, *, where: Any = None, order_by: Any = None,
                     limit: int | None = None, offset: int = 0) -> list[Document | Entity]:
        """The members of materialized view ``name`` at this view's commit."""
        if self._valid:
            raise unnarrowed("a materialized view")
        check_page(limit, offset)
        body = {"ref": self.commit.id if self.commit is not None else None,
                "where": _where(where), "order_by": _order(order_by), "limit": limit,
                "offset": offset}
        if self.commit is None:  # the empty state: no members, but the view must exist
            if name not in {v.name for v in self._repo.views()}:
                raise NotFound(f"no materialized view {name!r}; create it with "
                               "repo.create_view")
            return []
        rows = self._repo.request("POST", f"/api/views/{_p(name)}/members",
                                  json={k: v for k, v in body.items() if v is not None})
        return [wire.decode(Entity, r) if isinstance(r, dict) and "props" in r and "type" in r
                else wire.decode(Document, r) if isinstance(r, dict) and "collection" in r
                else r for r in rows]

    @property
    def kv(self) -> RemoteKV:
        """The key-value state at this commit (read-only)."""
        return RemoteKV(self._repo, None, at=self.commit.id if self.commit else "")

    def search(self, query: str, *, type: str | None = None, kind: str | None = None,
               where: Any = None, limit: int | None = 10, offset: int = 0) -> list[SearchHit]:
        """Like View.search; ``where`` in the dict form (``Filter.to_dict()``)."""
        if self._valid:
            raise unnarrowed("full-text search")
        if self.commit is None:
            return []
        body = {"query": query, "type": type, "kind": kind, "where": _where(where),
                "limit": limit, "offset": offset, "ref": self.commit.id}
        rows = self._repo.request("POST", "/api/search", json=body)
        return [wire.decode(SearchHit, r) for r in rows]

    def similar(self, vector: Sequence[float], k: int = 10, *, type: str | None = None,
                property: str | None = None, kind: str | None = None, where: Any = None,
                exact: bool = False) -> list[SimilarHit]:
        """Like View.similar; ``where`` in the dict form (``Filter.to_dict()``)."""
        if self._valid:
            raise unnarrowed("similarity search")
        if self.commit is None:
            return []
        body = {"vector": list(vector), "k": k, "type": type, "property": property,
                "kind": kind, "where": _where(where), "exact": exact, "ref": self.commit.id}
        rows = self._repo.request("POST", "/api/similar", json=body)
        return [wire.decode(SimilarHit, r) for r in rows]

    def sparql(self, text: str, *, prefixes: Mapping[str, str] | None = None,
               timeout: float | None = None) -> Any:
        """A SPARQL query at this commit, through the server's SPARQL 1.1 Protocol endpoint
        (``POST /sparql``): the same answers as the embedded ``View.sparql``."""
        if self._valid:
            raise unnarrowed("SPARQL")
        import orjson
        import pyoxigraph as ox

        from ..query.sparql import Solution, Solutions
        from ..query.sparql_results import Triples

        if self.commit is None:  # a branch without commits: the empty graph
            from ..repository import Repository
            from ..storage import open_database
            with Repository(open_database(":memory:")) as empty:
                return empty.head().sparql(text, prefixes=prefixes, timeout=timeout)
        params = {"ref": self.commit.id, "timeout": timeout,
                  "prefixes": orjson.dumps(dict(prefixes)).decode() if prefixes else None}
        kind, data = self._repo.request_bytes(
            "POST", "/sparql", params=params, content=text.encode(),
            headers={"Content-Type": "application/sparql-query",
                     "Accept": "application/sparql-results+json, application/n-triples"})
        if kind == "application/n-triples":
            return Triples(q.triple for q in ox.parse(data, ox.RdfFormat.N_TRIPLES))
        answer = ox.parse_query_results(data, ox.QueryResultsFormat.JSON)
        if isinstance(answer, ox.QueryBoolean):
            return bool(answer)
        names = [v.value for v in answer.variables]
        index = {n: i for i, n in enumerate(names)}
        return Solutions(names, [Solution(index, tuple(s[n] for n in names)) for s in answer])

    def sparql_explain(self, text: str, *, prefixes: Mapping[str, str] | None = None) -> str:
        """The SQL the server runs for this query (``GET /api/sparql/explain``)."""
        if self._valid:
            raise unnarrowed("SPARQL")
        import orjson

        params = {"query": text, "ref": self.commit.id if self.commit else None,
                  "prefixes": orjson.dumps(dict(prefixes)).decode() if prefixes else None}
        result: dict[str, str] = self._repo.request("GET", "/api/sparql/explain", params=params)
        return result["sql"]

    def cypher(self, text: str, params: Mapping[str, Any] | None = None, *,
               timeout: float | None = None) -> CypherResult:
        """An openCypher read query at this commit (``POST /api/cypher``)."""
        if self._valid:
            raise unnarrowed("Cypher")
        if self.commit is None:  # a branch without commits: the empty graph
            from ..repository import Repository
            from ..storage import open_database
            with Repository(open_database(":memory:")) as empty:
                return empty.head().cypher(text, params, timeout=timeout)
        body = {"query": text, "params": dict(params or {}), "ref": self.commit.id,
                "timeout": timeout}
        return wire.decode(CypherResult, self._repo.request("POST", "/api/cypher", json=body))

    def cypher_explain(self, text: str, params: Mapping[str, Any] | None = None) -> str:
        """The SQL the server runs for this query (``POST /api/cypher/explain``)."""
        if self._valid:
            raise unnarrowed("Cypher")
        body = {"query": text, "params": dict(params or {}),
                "ref": self.commit.id if self.commit else None}
        result: dict[str, str] = self._repo.request("POST", "/api/cypher/explain", json=body)
        return result["sql"]

    def to_dict(self) -> dict[str, Any]:
        if self.commit is None:
            return {"entities": {}, "relations": {}, "documents": {}, "kv": {}}
        result: dict[str, Any] = self._get("/api/state")
        return result


def _when(when: datetime | str) -> str:
    return str(when_text(when))


__all__ = ["RemoteView"]
