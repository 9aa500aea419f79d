"""A transaction of the HTTP client: writes are checked and buffered on the client, reads see
them (like the embedded :class:`palimpsest.transaction.Transaction`), and a clean exit sends
the buffer to the server as one commit (``POST /api/transaction``).

Reads outside the buffer go to the state of the branch when the transaction first read (one
commit id, so they agree with each other); the server lands the commit on the branch's head,
without checking what the transaction read (no ``ConcurrentCommit``). A block that wrote
nothing sends nothing: ``commit`` stays None (the embedded one writes an empty commit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

from .codec import check_document, check_name, check_props, patched
from .errors import InvalidValue, NotFound, QueryError, ReadOnly
from .types import JSON, Commit, Document, Entity, Relation


def _matches(props: Mapping[str, JSON], where: Mapping[str, JSON] | None) -> bool:
    """``where`` as the embedded ``entities(where=...)`` reads it: equal values, bools apart."""
    return all(name in props and props[name] == value
               and isinstance(props[name], bool) == isinstance(value, bool)
               for name, value in (where or {}).items())


class RemoteTransaction:
    """Writes buffered on the client and sent as one commit when the block ends cleanly;
    reads inside the block see them."""

    def __init__(self, base: Callable[[], Any], send: Callable[[list[dict[str, Any]]], Commit]
                 ) -> None:
        self._base_of = base
        self._base: Any = None
        self._send = send
        self.ops: list[dict[str, Any]] = []
        self.commit: Commit | None = None
        self._ended = False
        self._entities: dict[str, Entity | None] = {}
        self._relations: dict[str, Relation | None] = {}
        self._documents: dict[tuple[str, str], Document | None] = {}

    def __enter__(self) -> RemoteTransaction:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._ended = True
        if exc_type is None and self.ops:
            self.commit = self._send(self.ops)

    @property
    def _view(self) -> Any:
        if self._base is None:
            self._base = self._base_of()
        return self._base

    # -- reads: the buffer first, then the base state ------------------------------------
    def entity(self, id: str) -> Entity | None:
        if id in self._entities:
            return self._entities[id]
        found: Entity | None = self._view.entity(id)
        return found

    def relation(self, id: str) -> Relation | None:
        if id in self._relations:
            return self._relations[id]
        found: Relation | None = self._view.relation(id)
        return found

    def document(self, collection: str, key: str) -> Document | None:
        if (collection, key) in self._documents:
            return self._documents[(collection, key)]
        found: Document | None = self._view.document(collection, key)
        return found

    def relations(self, type: str | None = None, source: str | None = None,
                  target: str | None = None) -> list[Relation]:
        """Relations (of one type, from ``source``, to ``target``), own writes included, by id."""
        found = {r.id: r for r in self._view.relations(type=type, source=source, target=target)
                 if r.id not in self._relations}
        for key, rel in self._relations.items():
            if rel is not None and (type is None or rel.type == type) and (
                    source is None or rel.source == source) and (
                    target is None or rel.target == target):
                found[key] = rel
        return [found[key] for key in sorted(found)]

    def entities(self, type: str | None = None, where: Mapping[str, JSON] | None = None
                 ) -> Iterator[Entity]:
        found = {e.id: e for e in self._view.entities(type, where)
                 if e.id not in self._entities}
        for key, ent in self._entities.items():
            if ent is not None and (type is None or ent.type == type) and _matches(
                    ent.props, where):
                found[key] = ent
        return iter([found[key] for key in sorted(found)])

    def count(self, type: str | None = None) -> int:
        return sum(1 for _ in self.entities(type))

    def count_relations(self, type: str | None = None) -> int:
        return len(self.relations(type))

    def neighbors(self, id: str, depth: int = 1, rel_type: str | None = None,
                  direction: str = "both") -> list[Entity]:
        """Entities reachable from ``id`` within ``depth`` relations, nearest first."""
        if direction not in ("out", "in", "both"):
            raise InvalidValue(f"direction must be 'out', 'in' or 'both', not {direction!r}")
        seen, frontier, found = {id}, [id], []
        for _ in range(max(depth, 0)):
            reached: set[str] = set()
            for node in frontier:
                if direction in ("out", "both"):
                    reached |= {r.target for r in self.relations(rel_type, source=node)}
                if direction in ("in", "both"):
                    reached |= {r.source for r in self.relations(rel_type, target=node)}
            frontier = sorted(reached - seen)
            seen |= reached
            found += frontier
        return [e for e in (self.entity(key) for key in found) if e is not None]

    def documents(self, collection: str, *, limit: int | None = None,
                  offset: int = 0) -> list[Document]:
        check_name(collection, "collection")
        own = {k: d for (c, k), d in self._documents.items() if c == collection}
        found = {d.key: d for d in self._view.documents(collection) if d.key not in own}
        found.update({k: d for k, d in own.items() if d is not None})
        ordered = [found[key] for key in sorted(found)][offset:]
        return ordered if limit is None else ordered[:limit]

    def _untouched(self, collection_or_type: str, kind: str | None) -> None:
        docs = kind in (None, "document") and any(
            c == collection_or_type for c, _ in self._documents)
        ents = kind in (None, "entity") and any(
            e is not None and e.type == collection_or_type for e in self._entities.values())
        if docs or ents:
            raise QueryError(
                f"this transaction wrote to {collection_or_type!r}: queries and aggregates in "
                "a transaction read its base state, so run them before writing (or use "
                "documents() / entities(), which include the transaction's writes)")

    def query(self, collection_or_type: str, where: Any = None, *, select: Any = None,
              order_by: Any = None, limit: int | None = None, offset: int = 0,
              kind: str | None = None) -> list[Document | Entity]:
        """Like View.query at the transaction's base state; refused after writing to it."""
        self._untouched(collection_or_type, kind)
        found: list[Document | Entity] = self._view.query(
            collection_or_type, where, select=select, order_by=order_by, limit=limit,
            offset=offset, kind=kind)
        return found

    def aggregate(self, collection_or_type: str, aggregates: Any = None, *, where: Any = None,
                  group_by: str | list[str] | None = None,
                  kind: str | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        self._untouched(collection_or_type, kind)
        found: dict[str, Any] | list[dict[str, Any]] = self._view.aggregate(
            collection_or_type, aggregates, where=where, group_by=group_by, kind=kind)
        return found

    # -- writes: checked now, sent at the end --------------------------------------------
    def _op(self, op: dict[str, Any]) -> None:
        if self._ended:
            raise ReadOnly("this transaction has ended; start a new one to write")
        self.ops.append(op)

    def put_entity(self, id: str, type: str, props: Mapping[str, JSON] | None = None) -> Entity:
        check_name(id, "entity id")
        check_name(type, f"type of entity {id!r}")
        values = check_props(props, f"properties of entity {id!r}")
        self._op({"op": "put_entity", "id": id, "type": type, "props": values})
        made = Entity(id, type, values)
        self._entities[id] = made
        return made

    def put_entities(self, entities: Iterable[tuple[str, str, Mapping[str, JSON] | None]]
                     ) -> int:
        items = list(entities)
        for id, type, props in items:
            self.put_entity(id, type, props)
        return len(items)

    def update_entity(self, id: str, props: Mapping[str, JSON] | None = None, *,
                      type: str | None = None) -> Entity:
        """Patch an entity's properties: given keys are set, keys given as None removed."""
        current = self.entity(id)
        if current is None:
            raise NotFound(f"cannot update entity {id!r}: it does not exist "
                           "(use put_entity to create it)")
        patch = check_props(props, f"properties of entity {id!r}")
        merged = patched(current.props, patch)
        new_type = current.type if type is None else check_name(type, f"type of entity {id!r}")
        self._op({"op": "update_entity", "id": id, "props": patch, "type": type})
        made = Entity(id, new_type, merged)
        self._entities[id] = made
        return made

    def delete_entity(self, id: str) -> None:
        """Delete an entity and every relation that starts or ends at it."""
        check_name(id, "entity id")
        if self.entity(id) is None:
            raise NotFound(f"cannot delete entity {id!r}: it does not exist")
        for rel in self.relations(source=id) + self.relations(target=id):
            self._relations[rel.id] = None  # the server cascades too
        self._op({"op": "delete_entity", "id": id})
        self._entities[id] = None

    def delete_entities(self, ids: Iterable[str]) -> None:
        for id in ids:
            self.delete_entity(id)

    def put_relation(self, id: str, type: str, source: str, target: str,
                     props: Mapping[str, JSON] | None = None) -> Relation:
        check_name(id, "relation id")
        check_name(type, f"type of relation {id!r}")
        check_name(source, f"source of relation {id!r}")
        check_name(target, f"target of relation {id!r}")
        values = check_props(props, f"properties of relation {id!r}")
        for end, name in ((source, "source"), (target, "target")):
            if self.entity(end) is None:
                raise NotFound(f"relation {id!r}: {name} entity {end!r} does not exist; "
                               "create it first")
        self._op({"op": "put_relation", "id": id, "type": type, "source": source,
                         "target": target, "props": values})
        made = Relation(id, type, source, target, values)
        self._relations[id] = made
        return made

    def put_relations(self, relations: Iterable[
            tuple[str, str, str, str, Mapping[str, JSON] | None]]) -> int:
        items = list(relations)
        for item in items:
            self.put_relation(*item)
        return len(items)

    def update_relation(self, id: str, props: Mapping[str, JSON] | None = None) -> Relation:
        current = self.relation(id)
        if current is None:
            raise NotFound(f"cannot update relation {id!r}: it does not exist")
        patch = check_props(props, f"properties of relation {id!r}")
        merged = patched(current.props, patch)
        self._op({"op": "update_relation", "id": id, "props": patch})
        made = Relation(id, current.type, current.source, current.target,
                                       merged)
        self._relations[id] = made
        return made

    def delete_relation(self, id: str) -> None:
        check_name(id, "relation id")
        if self.relation(id) is None:
            raise NotFound(f"cannot delete relation {id!r}: it does not exist")
        self._op({"op": "delete_relation", "id": id})
        self._relations[id] = None

    def put_document(self, collection: str, key: str, value: JSON) -> Document:
        check_name(collection, "collection")
        check_name(key, f"document key in {collection!r}")
        check_document(value, f"document {collection}/{key}")
        self._op({"op": "put_document", "collection": collection, "key": key,
                         "value": value})
        made = Document(collection, key, value)
        self._documents[(collection, key)] = made
        return made

    def delete_document(self, collection: str, key: str) -> None:
        check_name(collection, "collection")
        check_name(key, f"document key in {collection!r}")
        if self.document(collection, key) is None:
            raise NotFound(f"cannot delete document {collection}/{key}: it does not exist")
        self._op({"op": "delete_document", "collection": collection, "key": key})
        self._documents[(collection, key)] = None
