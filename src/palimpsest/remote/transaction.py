"""A transaction of the HTTP client: writes are checked and buffered on the client, reads see
them (like the embedded :class:`palimpsest.transaction.Transaction`), and a clean exit sends
the buffer to the server as one commit (``POST /api/transaction``).

Reads outside the buffer go to the state of the branch when the transaction first read or
wrote (its base: one commit id, so reads agree with each other). Every read joins the
transaction's read set (point reads by key, found or not; listings, counts, adjacency and kv
prefixes as predicates, as the embedded transaction records them), which is sent with the
writes and the base: the server lands the commit on the branch's head only if nothing the
transaction read or wrote changed since its base, else the client raises
:class:`~palimpsest.errors.ConcurrentCommit` (docs/architecture.md, "Read sets"). A block that
wrote nothing sends nothing: ``commit`` stays None (the embedded one writes an empty commit).
"""

from __future__ import annotations

import base64
import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from ..codec import (
    check_document,
    check_interval,
    check_json,
    check_name,
    check_props,
    encode,
    from_us,
    updated_interval,
)
from ..errors import InvalidValue, NotFound, QueryError, ReadOnly
from ..models import kv as kvmodel
from ..types import JSON, Commit, Document, Entity, Entry, Relation
from ..versioning import provenance as prov
from .http import interval_body


def _time(time_us: int | None) -> datetime | None:
    return None if time_us is None else from_us(time_us)


def _interval_op(lo: int | None, hi: int | None) -> dict[str, Any]:
    """The interval fields of a put op (none without an interval)."""
    return interval_body(_time(lo), _time(hi), None)


def _update_op(valid_from: datetime | str | None, valid_to: datetime | str | None
               ) -> dict[str, Any]:
    """The interval fields of an update op: the ends given (None keeps, "open" opens)."""
    return interval_body(valid_from, valid_to, None)


def _matches(props: Mapping[str, JSON], where: Mapping[str, JSON] | None) -> bool:
    """``where`` as the embedded ``entities(where=...)`` reads it: equal values, bools apart."""
    return all(name in props and props[name] == value
               and isinstance(props[name], bool) == isinstance(value, bool)
               for name, value in (where or {}).items())


class Reads:
    """A remote transaction's read set in its wire form (``schemas.ReadsIn`` on the server):
    point reads by key and the predicates of :class:`palimpsest.versioning.readset.ReadSet`."""

    def __init__(self) -> None:
        self.keys: dict[str, set[Any]] = {"entities": set(), "relations": set(),
                                          "documents": set(), "kv": set()}
        self.all: set[str] = set()
        self.types: set[tuple[str, str]] = set()
        self.ends: dict[str, set[str]] = {"relations_from": set(), "relations_to": set()}
        self.kv_prefixes: set[str] = set()
        self.paused = False

    def key(self, what: str, key: Any) -> None:
        if not self.paused:
            self.keys[what].add(key)

    def kind(self, element: str, type: str | None) -> None:
        if self.paused:
            return
        if type is None:
            self.all.add(element)
        else:
            self.types.add((element, type))

    def end(self, column: str, entity: str) -> None:
        if not self.paused:
            self.ends["relations_from" if column == "source" else "relations_to"].add(entity)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: sorted(found) for name, found in self.keys.items()}
        out["documents"] = [list(pair) for pair in out["documents"]]
        out |= {name: sorted(found) for name, found in self.ends.items()}
        out |= {"all": sorted(self.all), "types": [list(t) for t in sorted(self.types)],
                "kv_prefixes": sorted(self.kv_prefixes)}
        return {name: value for name, value in out.items() if value}


class RemoteTransaction:
    """Writes buffered on the client and sent as one commit when the block ends cleanly;
    reads inside the block see them and join its read set."""

    def __init__(self, base: Callable[[], Any], send: Callable[[dict[str, Any]], Commit]
                 ) -> None:
        self._base_of = base
        self._base: Any = None
        self._send = send
        self.ops: list[dict[str, Any]] = []
        self._blocks = prov.Blocks()  # the open provenance() blocks
        self.commit: Commit | None = None
        self._ended = False
        self._entities: dict[str, Entity | None] = {}
        self._relations: dict[str, Relation | None] = {}
        self._documents: dict[tuple[str, str], Document | None] = {}
        self.kv_writes: dict[str, Entry | None] = {}
        """This transaction's key-value writes (None: deleted), for ``tx.kv``."""
        self.reads = Reads()

    def __enter__(self) -> RemoteTransaction:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._ended = True
        if exc_type is None and self.ops:
            body: dict[str, Any] = {"ops": self.ops}
            if self._base is not None:
                commit = self._base.commit
                body |= {"base": commit.id if commit is not None else None,
                         "reads": self.reads.to_wire()}
            self.commit = self._send(body)

    @property
    def _view(self) -> Any:
        """The base state: the branch's when the transaction first read or wrote."""
        if self._base is None:
            self._base = self._base_of()
        return self._base

    @property
    def base_state(self) -> Any:
        """The state this transaction reads (a RemoteView), pinned on first use."""
        return self._view

    def check_open(self) -> None:
        """Raise ReadOnly once the transaction has ended."""
        if self._ended:
            raise ReadOnly("this transaction has ended; start a new one to write")

    def send_later(self, op: dict[str, Any]) -> None:
        """Queue one op of ``POST /api/transaction`` (the kv API builds on it)."""
        self._op(op)

    # -- reads: the buffer first, then the base state ------------------------------------
    def entity(self, id: str) -> Entity | None:
        if id in self._entities:
            return self._entities[id]
        self.reads.key("entities", id)
        found: Entity | None = self._view.entity(id)
        return found

    def relation(self, id: str) -> Relation | None:
        if id in self._relations:
            return self._relations[id]
        self.reads.key("relations", id)
        found: Relation | None = self._view.relation(id)
        return found

    def document(self, collection: str, key: str) -> Document | None:
        if (collection, key) in self._documents:
            return self._documents[(collection, key)]
        self.reads.key("documents", (collection, key))
        found: Document | None = self._view.document(collection, key)
        return found

    def relations(self, type: str | None = None, source: str | None = None,
                  target: str | None = None) -> list[Relation]:
        """Relations (of one type, from ``source``, to ``target``), own writes included, by id."""
        if source is None and target is None:
            self.reads.kind("relation", type)
        else:
            self.reads.end("source" if source is not None else "target",
                           source if source is not None else str(target))
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
        self.reads.kind("entity", type)
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
        self.reads.kind("document", collection)
        own = {k: d for (c, k), d in self._documents.items() if c == collection}
        found = {d.key: d for d in self._view.documents(collection) if d.key not in own}
        found.update({k: d for k, d in own.items() if d is not None})
        ordered = [found[key] for key in sorted(found)][offset:]
        return ordered if limit is None else ordered[:limit]

    def _untouched(self, collection_or_type: str, kind: str | None) -> None:
        if isinstance(collection_or_type, str):  # "no such collection" is a result too
            for element in {"document": ("document",), "entity": ("entity",)}.get(
                    kind or "", ("document", "entity")):
                self.reads.kind(element, collection_or_type)
        docs = kind in (None, "document") and any(
            c == collection_or_type for c, _ in self._documents)
        ents = not docs and kind in (None, "entity") and (any(
            e is not None and e.type == collection_or_type for e in self._entities.values())
            or any(e is not None and e.type == collection_or_type  # replaced or deleted
                   for e in (self._base_entity(key) for key in list(self._entities))))
        if docs or ents:
            raise QueryError(
                f"this transaction wrote {'document' if docs else 'entity'}s of "
                f"{collection_or_type!r}: queries and aggregates in a transaction read its "
                "base state, so run them before writing (or use documents() / entities(), "
                "which include the transaction's writes)")

    def _base_entity(self, id: str) -> Entity | None:
        """An entity at the base, ignoring this transaction's writes (a read)."""
        self.reads.key("entities", id)
        found: Entity | None = self._view.entity(id)
        return found

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

    @property
    def kv(self) -> RemoteTransactionKV:
        """The key-value state inside this transaction: reads see its writes and join its
        read set; ``set`` / ``delete`` become part of its commit."""
        return RemoteTransactionKV(self)

    # -- writes: checked now, sent at the end --------------------------------------------
    def _op(self, op: dict[str, Any], provenance: Mapping[str, JSON] | None = None) -> None:
        self.check_open()
        if self._blocks.text(provenance) is not None:
            op["provenance"] = prov.merged(self._blocks.current, provenance)
        _ = self._view  # the base: what the server checks the transaction against
        self.ops.append(op)

    def provenance(self, **fields: JSON) -> AbstractContextManager[None]:
        """Give every write inside the block this provenance record (like the embedded
        :meth:`palimpsest.transaction.Transaction.provenance`)."""
        self.check_open()
        return self._blocks.open(fields)

    def put_entity(self, id: str, type: str, props: Mapping[str, JSON] | None = None, *,
                   valid_from: datetime | str | None = None,
                   valid_to: datetime | str | None = None,
                   provenance: Mapping[str, JSON] | None = None) -> Entity:
        check_name(id, "entity id")
        check_name(type, f"type of entity {id!r}")
        values = check_props(props, f"properties of entity {id!r}")
        lo, hi = check_interval(valid_from, valid_to, f"entity {id!r}")
        self._op({"op": "put_entity", "id": id, "type": type, "props": values,
                  **_interval_op(lo, hi)}, provenance)
        made = Entity(id, type, values, _time(lo), _time(hi))
        self._entities[id] = made
        return made

    def put_entities(self, entities: Iterable[tuple[str, str, Mapping[str, JSON] | None]]
                     ) -> int:
        items = list(entities)
        for id, type, props in items:
            self.put_entity(id, type, props)
        return len(items)

    def update_entity(self, id: str, props: Mapping[str, JSON] | None = None, *,
                      type: str | None = None, valid_from: datetime | str | None = None,
                      valid_to: datetime | str | None = None,
                      provenance: Mapping[str, JSON] | None = None) -> Entity:
        """Patch an entity's properties: given keys are set, keys given as None removed.
        ``valid_from`` / ``valid_to`` replace an end of its valid-time interval (None keeps
        it, ``"open"`` opens it)."""
        current = self.entity(id)
        if current is None:
            raise NotFound(f"cannot update entity {id!r}: it does not exist "
                           "(use put_entity to create it)")
        patch, made = current.patch(props, type)
        lo, hi = updated_interval(made.valid_from, made.valid_to, valid_from, valid_to,
                                  f"entity {id!r}")
        made = replace(made, valid_from=_time(lo), valid_to=_time(hi))
        self._op({"op": "update_entity", "id": id, "props": patch, "type": type,
                  **_update_op(valid_from, valid_to)}, provenance)
        self._entities[id] = made
        return made

    def delete_entity(self, id: str, *, provenance: Mapping[str, JSON] | None = None) -> None:
        """Delete an entity and every relation that starts or ends at it."""
        check_name(id, "entity id")
        if self.entity(id) is None:
            raise NotFound(f"cannot delete entity {id!r}: it does not exist")
        self.reads.paused = True  # the cascade is redone where the commit lands: not a read
        try:
            cascade = self.relations(source=id) + self.relations(target=id)
        finally:
            self.reads.paused = False
        for rel in cascade:
            self._relations[rel.id] = None  # the server cascades too
        self._op({"op": "delete_entity", "id": id}, provenance)
        self._entities[id] = None

    def delete_entities(self, ids: Iterable[str]) -> None:
        for id in ids:
            self.delete_entity(id)

    def put_relation(self, id: str, type: str, source: str, target: str,
                     props: Mapping[str, JSON] | None = None, *,
                     valid_from: datetime | str | None = None,
                     valid_to: datetime | str | None = None,
                     provenance: Mapping[str, JSON] | None = None) -> Relation:
        check_name(id, "relation id")
        check_name(type, f"type of relation {id!r}")
        check_name(source, f"source of relation {id!r}")
        check_name(target, f"target of relation {id!r}")
        values = check_props(props, f"properties of relation {id!r}")
        lo, hi = check_interval(valid_from, valid_to, f"relation {id!r}")
        for end, name in ((source, "source"), (target, "target")):
            if self.entity(end) is None:
                raise NotFound(f"relation {id!r}: {name} entity {end!r} does not exist; "
                               "create it first")
        self._op({"op": "put_relation", "id": id, "type": type, "source": source,
                  "target": target, "props": values, **_interval_op(lo, hi)}, provenance)
        made = Relation(id, type, source, target, values, _time(lo), _time(hi))
        self._relations[id] = made
        return made

    def put_relations(self, relations: Iterable[
            tuple[str, str, str, str, Mapping[str, JSON] | None]]) -> int:
        items = list(relations)
        for item in items:
            self.put_relation(*item)
        return len(items)

    def update_relation(self, id: str, props: Mapping[str, JSON] | None = None, *,
                        valid_from: datetime | str | None = None,
                        valid_to: datetime | str | None = None,
                        provenance: Mapping[str, JSON] | None = None) -> Relation:
        current = self.relation(id)
        if current is None:
            raise NotFound(f"cannot update relation {id!r}: it does not exist")
        patch, made = current.patch(props)
        lo, hi = updated_interval(made.valid_from, made.valid_to, valid_from, valid_to,
                                  f"relation {id!r}")
        made = replace(made, valid_from=_time(lo), valid_to=_time(hi))
        self._op({"op": "update_relation", "id": id, "props": patch,
                  **_update_op(valid_from, valid_to)}, provenance)
        self._relations[id] = made
        return made

    def delete_relation(self, id: str, *, provenance: Mapping[str, JSON] | None = None) -> None:
        check_name(id, "relation id")
        if self.relation(id) is None:
            raise NotFound(f"cannot delete relation {id!r}: it does not exist")
        self._op({"op": "delete_relation", "id": id}, provenance)
        self._relations[id] = None

    def put_document(self, collection: str, key: str, value: JSON, *,
                     provenance: Mapping[str, JSON] | None = None) -> Document:
        check_name(collection, "collection")
        check_name(key, f"document key in {collection!r}")
        check_document(value, f"document {collection}/{key}")
        self._op({"op": "put_document", "collection": collection, "key": key,
                  "value": value}, provenance)
        made = Document(collection, key, value)
        self._documents[(collection, key)] = made
        return made

    def delete_document(self, collection: str, key: str, *,
                        provenance: Mapping[str, JSON] | None = None) -> None:
        check_name(collection, "collection")
        check_name(key, f"document key in {collection!r}")
        if self.document(collection, key) is None:
            raise NotFound(f"cannot delete document {collection}/{key}: it does not exist")
        self._op({"op": "delete_document", "collection": collection, "key": key}, provenance)
        self._documents[(collection, key)] = None


class RemoteTransactionKV:
    """The key-value state inside a remote transaction (``tx.kv``), like the embedded
    ``TransactionKV``: reads see the transaction's writes and join its read set (a key, or a
    prefix whatever the page); writes are ops of its commit. Entries it wrote have no commit
    id yet (``commit == ""``) and the current time."""

    def __init__(self, tx: RemoteTransaction) -> None:
        self._tx = tx

    def _base(self, key: str) -> Entry | None:
        self._tx.reads.key("kv", key)
        found: Entry | None = self._tx.base_state.kv.get(key)
        return found

    def get(self, key: str) -> Entry | None:
        key = kvmodel.check_key(key)
        own = self._tx.kv_writes
        return own[key] if key in own else self._base(key)

    def exists(self, key: str) -> bool:
        return self.get(key) is not None

    def version(self, key: str) -> int:
        """The key's version (0: missing); a key this transaction wrote shows its new one."""
        entry = self.get(key)
        return 0 if entry is None else entry.version

    def list(self, prefix: str = "/", *, limit: int | None = None,
             start_after: str | None = None) -> builtins.list[Entry]:
        """Entries whose key starts with ``prefix``, in key order (see KeyValue.list)."""
        low, high = kvmodel.prefix_range(kvmodel.check_prefix(prefix))
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise InvalidValue(f"limit must be a non-negative integer, got {limit!r}")
        tx = self._tx
        tx.reads.kv_prefixes.add(prefix)
        own = {k: e for k, e in tx.kv_writes.items()
               if low <= k < high and (start_after is None or k > start_after)}
        found = {e.key: e for e in tx.base_state.kv.list(
            prefix, start_after=start_after,
            limit=None if limit is None else limit + len(own))}
        for key, entry in own.items():
            found.pop(key, None)
            if entry is not None:
                found[key] = entry
        rows = [found[key] for key in sorted(found)]
        return rows if limit is None else rows[:limit]

    def keys(self, prefix: str = "/", *, limit: int | None = None,
             start_after: str | None = None) -> builtins.list[str]:
        return [e.key for e in self.list(prefix, limit=limit, start_after=start_after)]

    def count(self, prefix: str = "/") -> int:
        return len(self.list(prefix))

    def set(self, key: str, value: bytes) -> Entry:
        """Write ``value`` at ``key`` in this transaction's commit."""
        key = kvmodel.check_key(key)
        data = kvmodel.to_bytes(value)
        now = datetime.now(UTC)
        own = self._tx.kv_writes
        if key in own:  # written before: one new version however often (deleted: a new key)
            previous = own[key]
            version, created = (1, now) if previous is None else (
                previous.version, previous.created_at)
        else:
            stored = self._base(key)
            version, created = (1, now) if stored is None else (
                stored.version + 1, stored.created_at)
        self._tx.send_later({"op": "kv_set", "key": key,
                             "value": base64.b64encode(data).decode()})
        entry = Entry(key, data, version, created, now, "")
        own[key] = entry
        return entry

    def set_json(self, key: str, value: JSON) -> Entry:
        check_json(value, f"kv value at {key}")
        return self.set(key, encode(value).encode())

    def delete(self, key: str) -> bool:
        """Delete ``key`` in this transaction's commit; False when it is missing."""
        self._tx.check_open()
        if self.get(key) is None:
            return False
        self._tx.send_later({"op": "kv_delete", "key": key})
        self._tx.kv_writes[key] = None
        return True
