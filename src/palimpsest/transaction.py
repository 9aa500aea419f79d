"""Transactions: a batch of writes that becomes exactly one commit, or nothing.

Writes are buffered in memory and validated as they are made (bad input fails at once, with
the repository untouched); reads inside the transaction see its own writes. On a clean exit
the commit is written in one database transaction under the write lock. If another writer moved
the branch meanwhile, the commit still lands on the new head when nothing this transaction read
or wrote changed there — every read joins its read set: point reads by key, listings, counts,
adjacency, neighbors, queries and kv prefixes as predicates (:mod:`.versioning.readset`);
otherwise :class:`ConcurrentCommit` is raised (optimistic concurrency, serializable: no write
skew) and nothing is written.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from .codec import (
    check_document,
    check_interval,
    check_json,
    check_name,
    check_props,
    encode,
    from_us,
    to_us,
    updated_interval,
)
from .errors import (
    ConcurrentCommit,
    IntegrityError,
    InvalidValue,
    NotFound,
    QueryError,
    ReadOnly,
)
from .models import documents as docs
from .models import graph, schemas
from .models import kv as kvmodel
from .models.graph import Direction
from .query import aggregate as query_aggregate
from .query import engine as query_engine
from .query.target import Target, resolve_target
from .storage import visibility
from .storage.base import Database
from .storage.visibility import Chain, StoredRow, adjacent, read_row, read_rows, scan
from .types import JSON, Commit, Document, Entity, Entry, Relation
from .versioning import provenance as prov
from .versioning.elements import (
    DELETE,
    PUT,
    Write,
    doc_key,
    row_of_write,
    split_doc_key,
    to_value,
)
from .versioning.readset import ReadSet, first_conflict
from .versioning.refs import RefStore

Ident = tuple[str, str]


def _time(time_us: int | None) -> datetime | None:
    return None if time_us is None else from_us(time_us)


def _as_row(write: Write) -> StoredRow:
    return row_of_write(write)


class Transaction:
    """One commit in the making; use it as a context manager from
    :meth:`Repository.transaction`. After the block, :attr:`commit` is the commit written."""

    def __init__(self, refs: RefStore, *, branch: str, message: str, author: str,
                 metadata: Mapping[str, JSON] | None, timestamp: datetime | str | None,
                 extra_parents: Sequence[str] = (),
                 notify: Callable[[Commit | None], None] | None = None) -> None:
        if not isinstance(message, str):
            raise InvalidValue("message must be a string")
        check_name(author, "author")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidValue(f"metadata must be a dict, not {type(metadata).__name__}")
        meta = dict(metadata or {})
        check_json(meta, "metadata")
        encode([message, meta])  # rejects what JSON cannot hold (lone surrogates, > 16 MiB)
        self._refs, self._commits, self._db = refs, refs.commits, refs.commits.db
        self._notify = notify
        self.branch = branch
        self.message = message
        self.author = author
        self.metadata = meta
        self._time_us = to_us(timestamp) if timestamp is not None else None
        self._extra_parents = list(extra_parents)  # a merge's second parent
        self.commit: Commit | None = None
        self._pending: dict[Ident, Write] = {}
        self._pending_ends: dict[str, set[str]] = {}  # entity id -> pending relation ids
        self._unchecked = False  # raw relation writes whose endpoints nobody checked yet
        self._known: dict[Ident, StoredRow | None] = {}
        self._reads = ReadSet()  # predicate reads; point reads are the keys of _known
        self._blocks = prov.Blocks()  # the open provenance() blocks
        self._open = True
        self._line, self._head_seq = self._position()
        self._chain: Chain = self._commits.chain(self._line, self._head_seq or 0)

    def _position(self) -> tuple[int, int | None]:
        position = self._commits.branch_position(self.branch)
        if position is None:
            self._refs.branch_line(self.branch)  # raises RefNotFound with a hint
            raise AssertionError("unreachable")
        return position

    # -- context manager -----------------------------------------------------------------
    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                self._finish()
        finally:
            self._open = False

    def check_open(self) -> None:
        """Raise ReadOnly once the transaction has ended."""
        if not self._open:
            raise ReadOnly("this transaction has ended; start a new one")

    # -- for code building on transactions (merge, rollback, the kv API) ------------------
    @property
    def database(self) -> Database:
        return self._db

    @property
    def chain(self) -> Chain:
        """The chain of the state this transaction reads (its base)."""
        return self._chain

    @property
    def reads(self) -> ReadSet:
        """The predicate reads made so far (point reads are tracked by :meth:`row`)."""
        return self._reads

    def pending(self, kind: str, key: str) -> Write | None:
        """This transaction's write of one key, if any."""
        return self._pending.get((kind, key))

    def assume_read(self, rows: Mapping[Ident, StoredRow | None]) -> None:
        """Record base rows the caller read under the write lock, so the commit need not read
        them again (they join the read set)."""
        self._known.update(rows)

    def start_at(self, commit: Commit | None) -> None:
        """Read from ``commit``'s state (None: the empty state) instead of the branch head, as
        if the transaction had been opened then: when it commits, what changed on the branch
        since is checked against its read set. Only before its first read or write (the
        server runs a remote transaction from the client's base this way)."""
        if self._known or self._pending or self._reads:
            raise InvalidValue("start_at must come before the transaction's first read or "
                               "write")
        if commit is not None:
            self._line = commit.line
        self._head_seq = None if commit is None else commit.seq
        self._chain = self._commits.commit_chain(commit)

    # -- reads (see own writes; every read joins the read set, see versioning/readset.py) -----
    def row(self, kind: str, key: str) -> StoredRow | None:
        """The row of one key as this transaction sees it (its own write, else the base row;
        a read joins the read set)."""
        ident = (kind, key)
        pending = self._pending.get(ident)
        if pending is not None:
            return _as_row(pending)
        if ident not in self._known:
            self._known[ident] = read_row(self._db, self._chain, kind, key)
        return self._known[ident]

    def _exists(self, kind: str, key: str) -> bool:
        pending = self._pending.get((kind, key))
        if pending is not None:
            return pending.op == PUT
        row = self.row(kind, key)
        return row is not None and row.op == PUT

    def _prefetch(self, kind: str, keys: Iterable[str]) -> None:
        """Read the base rows of many keys in one batch (bulk writes, integrity checks)."""
        todo = [k for k in dict.fromkeys(keys)
                if (kind, k) not in self._pending and (kind, k) not in self._known]
        if todo:
            found = read_rows(self._db, self._chain, kind, todo)
            for key in todo:
                self._known[(kind, key)] = found.get(key)

    def base_rows(self, kind: str, keys: Iterable[str]) -> dict[str, StoredRow | None]:
        """The rows of ``keys`` at the base state, ignoring this transaction's writes."""
        wanted = list(dict.fromkeys(keys))
        todo = [k for k in wanted if (kind, k) not in self._known]
        if todo:
            found = read_rows(self._db, self._chain, kind, todo)
            for key in todo:
                self._known[(kind, key)] = found.get(key)
        return {k: self._known[(kind, k)] for k in wanted}

    def own_writes(self, kind: str, prefix: str = "") -> dict[str, Write]:
        """This transaction's writes of ``kind`` (keys starting with ``prefix``)."""
        return {key: w for (k, key), w in self._pending.items()
                if k == kind and key.startswith(prefix)}

    def _live(self, kind: str, key: str) -> Any:
        row = self.row(kind, key)
        # stored rows are hash-checked like every read; pending ones have no hash yet
        return to_value(row, check=row is not None and row.hash is not None)

    def entity(self, id: str) -> Entity | None:
        value = self._live("e", id)
        return value if isinstance(value, Entity) else None

    def relation(self, id: str) -> Relation | None:
        value = self._live("r", id)
        return value if isinstance(value, Relation) else None

    def document(self, collection: str, key: str) -> Document | None:
        value = self._live("d", doc_key(collection, key))
        return value if isinstance(value, Document) else None

    def _adjacent(self, ids: Sequence[str], column: str, *, track: bool = True
                  ) -> dict[str, Relation]:
        """Live relations whose ``column`` (source/target) is one of ``ids``, own writes
        applied; ``track=False`` for the transaction's own bookkeeping (delete cascades are
        redone against the state the commit lands on)."""
        if track:
            for ident in ids:
                self._reads.end(column, ident)
        found = {row.key: to_value(row) for row in
                 adjacent(self._db, self._chain, list(ids), column=column)
                 if ("r", row.key) not in self._pending}  # pending versions decide below
        wanted = set(ids)
        for ident in ids:
            for key in self._pending_ends.get(ident, ()):
                write = self._pending[("r", key)]
                if write.op == PUT and getattr(write, column) in wanted:
                    found[key] = to_value(_as_row(write), check=False)
        return found

    def relations(self, type: str | None = None, source: str | None = None,
                  target: str | None = None) -> list[Relation]:
        """Relations (of one type, from ``source``, to ``target``), including this
        transaction's, by id."""
        if source is None and target is None:
            self._reads.kind("r", type)
            own = self.own_writes("r")
            found = {r.id: r for r in graph.relations(self._db, self._chain, type=type)
                     if r.id not in own}
            for key, write in own.items():
                if write.op == PUT:
                    found[key] = to_value(_as_row(write), check=False)
        elif source is not None:
            found = self._adjacent([source], "source")
        else:
            assert target is not None
            found = self._adjacent([target], "target")
        return [r for _, r in sorted(found.items())
                if (source is None or r.source == source) and (target is None or r.target == target)
                and (type is None or r.type == type)]

    def entities(self, type: str | None = None, where: Mapping[str, JSON] | None = None
                 ) -> Iterator[Entity]:
        """Entities (of one type, with property values equal to ``where``) at the
        transaction's base with its own writes applied, by id."""
        self._reads.kind("e", type)
        own = self.own_writes("e")
        merged = {e.id: e for e in graph.entities(self._db, self._chain, type=type,
                                                  where=where)
                  if e.id not in own}
        for key, write in own.items():
            if write.op == PUT and (type is None or write.type == type):
                value = to_value(_as_row(write), check=False)
                if graph.matches(value.props, where):
                    merged[key] = value
        return iter([merged[key] for key in sorted(merged)])

    def _count(self, kind: str, type: str | None) -> int:
        self._reads.kind(kind, type)
        found = visibility.count(self._db, self._chain, kind, type_=type)
        own = self.own_writes(kind)
        for old in self.base_rows(kind, own).values():
            if old is not None and old.op == PUT and (type is None or old.type == type):
                found -= 1
        for write in own.values():
            if write.op == PUT and (type is None or write.type == type):
                found += 1
        return found

    def count(self, type: str | None = None) -> int:
        """Number of entities (of one type), this transaction's writes included."""
        return self._count("e", type)

    def count_relations(self, type: str | None = None) -> int:
        return self._count("r", type)

    def neighbors(self, id: str, depth: int = 1, rel_type: str | None = None,
                  direction: Direction = "both") -> list[Entity]:
        """Entities reachable from ``id`` within ``depth`` relations, nearest first (like
        :meth:`View.neighbors`), this transaction's writes included."""
        if direction not in ("out", "in", "both"):
            raise InvalidValue(f"direction must be 'out', 'in' or 'both', not {direction!r}")
        seen, frontier, found = {id}, [id], []
        for _ in range(max(depth, 0)):
            if not frontier:
                break
            reached: set[str] = set()
            if direction in ("out", "both"):
                reached |= {r.target for r in self._adjacent(frontier, "source").values()
                            if rel_type is None or r.type == rel_type}
            if direction in ("in", "both"):
                reached |= {r.source for r in self._adjacent(frontier, "target").values()
                            if rel_type is None or r.type == rel_type}
            frontier = sorted(reached - seen)
            seen |= reached
            found += frontier
        self._prefetch("e", found)
        return [e for e in (self.entity(key) for key in found) if e is not None]

    def documents(self, collection: str, *, limit: int | None = None,
                  offset: int = 0) -> list[Document]:
        """The documents of ``collection`` by key, this transaction's writes included."""
        check_name(collection, "collection")
        self._reads.kind("d", collection)
        own = self.own_writes("d", doc_key(collection, ""))
        base_limit = None if limit is None else limit + offset + len(own)
        merged = {doc_key(d.collection, d.key): d for d in
                  docs.documents(self._db, self._chain, collection, limit=base_limit)}
        for key, write in own.items():
            merged.pop(key, None)
            if write.op == PUT:
                merged[key] = to_value(_as_row(write), check=False)
        ordered = [merged[key] for key in sorted(merged)][offset:]
        return ordered if limit is None else ordered[:limit]

    def _query_target(self, collection_or_type: str, kind: str | None) -> Target:
        names = {"document": ("d",), "entity": ("e",)}.get(kind or "", ("d", "e"))
        if isinstance(collection_or_type, str):
            for code in names:  # recorded first: "no such collection" is a result too
                self._reads.kind(code, collection_or_type)
        target = resolve_target(self._db, collection_or_type, kind)
        if target.kind == "d":
            touched = bool(self.own_writes("d", doc_key(target.type, "")))
        else:
            own = self.own_writes("e")
            touched = any(w.type == target.type for w in own.values()) or any(
                r is not None and r.type == target.type
                for r in self.base_rows("e", own).values())
        if touched:
            raise QueryError(
                f"this transaction wrote {target.element}s of {target.type!r}: queries and "
                "aggregates in a transaction read its base state, so run them before writing "
                "(or use documents() / entities(), which include the transaction's writes)")
        return target

    def query(self, collection_or_type: str, where: query_engine.Where = None, *,
              select: Any = None, order_by: Any = None, limit: int | None = None,
              offset: int = 0, kind: str | None = None) -> list[Document | Entity]:
        """Like :meth:`View.query` at the transaction's base state; the collection (or entity
        type) joins the read set. Refused after this transaction wrote to it."""
        target = self._query_target(collection_or_type, kind)
        return query_engine.run(self._db, self._chain, target, where=where,
                                select=select, order_by=order_by, limit=limit, offset=offset)

    def aggregate(self, collection_or_type: str, aggregates: Any = None, *,
                  where: query_engine.Where = None, group_by: str | list[str] | None = None,
                  kind: str | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        """Like :meth:`View.aggregate` at the transaction's base state (see :meth:`query`)."""
        target = self._query_target(collection_or_type, kind)
        return query_aggregate.run(self._db, self._chain, target, aggregates,
                                   where=where, group_by=group_by)

    @property
    def kv(self) -> TransactionKV:
        """The key-value state inside this transaction: reads see its writes and join its
        read set; ``set`` / ``delete`` become part of its commit."""
        return TransactionKV(self)

    # -- writes --------------------------------------------------------------------------
    def provenance(self, **fields: JSON) -> AbstractContextManager[None]:
        """Give every write inside the block this provenance record (``source=``,
        ``extractor=``, ``span=``, ``confidence=``, any JSON fields); a write's own
        ``provenance=`` fields are laid over it. Blocks nest the same way."""
        self.check_open()
        return self._blocks.open(fields)

    def _prov(self, provenance: Mapping[str, JSON] | None) -> str | None:
        """The canonical text of a write's provenance: its own over the open blocks'."""
        return self._blocks.text(provenance)

    def _put(self, write: Write) -> None:
        self.check_open()
        ident = (write.kind, write.key)
        if write.kind == "r":  # keep the endpoint index of pending relations current
            previous = self._pending.get(ident)
            if previous is not None and previous.op == PUT:
                for end in (previous.source, previous.target):
                    self._pending_ends.get(str(end), set()).discard(write.key)
            if write.op == PUT:
                for end in (write.source, write.target):
                    self._pending_ends.setdefault(str(end), set()).add(write.key)
        self._pending[ident] = write

    def put_entity(self, id: str, type: str, props: Mapping[str, JSON] | None = None, *,
                   valid_from: datetime | str | None = None,
                   valid_to: datetime | str | None = None,
                   provenance: Mapping[str, JSON] | None = None) -> Entity:
        """Create or replace an entity (type, all properties and its valid-time interval
        ``[valid_from, valid_to)``, None for an open end; docs/valid-time.md); ``provenance``
        says where it came from (docs/provenance.md)."""
        lo, hi = check_interval(valid_from, valid_to, f"entity {id!r}")
        return Entity(id, type, self._put_entity(id, type, props, lo, hi,
                                                 self._prov(provenance)), _time(lo), _time(hi))

    def _put_entity(self, id: str, type: str, props: Mapping[str, JSON] | None,
                    valid_from: int | None = None, valid_to: int | None = None,
                    source: str | None = None) -> dict[str, JSON]:
        check_name(id, "entity id")
        check_name(type, f"type of entity {id!r}")
        values = check_props(props, f"properties of entity {id!r}")
        self._put(Write("e", id, PUT, type, value=encode(values), valid_from=valid_from,
                        valid_to=valid_to, provenance=source))
        return values

    def update_entity(self, id: str, props: Mapping[str, JSON] | None = None, *,
                      type: str | None = None, valid_from: datetime | str | None = None,
                      valid_to: datetime | str | None = None,
                      provenance: Mapping[str, JSON] | None = None) -> Entity:
        """Patch an entity's properties: given keys are set, keys given as None removed.
        ``valid_from`` / ``valid_to`` replace an end of its valid-time interval (None keeps
        it, ``"open"`` opens it). The new version's provenance is ``provenance`` (not the old
        version's)."""
        source = self._prov(provenance)
        current = self.entity(id)
        if current is None:
            raise NotFound(f"cannot update entity {id!r}: it does not exist "
                           "(use put_entity to create it)")
        _, made = current.patch(props, type)
        lo, hi = updated_interval(made.valid_from, made.valid_to, valid_from, valid_to,
                                  f"entity {id!r}")
        made = replace(made, valid_from=_time(lo), valid_to=_time(hi))
        # stored props and the patch are both validated: the merge needs no second check
        self._put(Write("e", id, PUT, made.type, value=encode(made.props), valid_from=lo,
                        valid_to=hi, provenance=source))
        return made

    def delete_entity(self, id: str, *, provenance: Mapping[str, JSON] | None = None) -> None:
        """Delete an entity and every relation that starts or ends at it (the deletions carry
        ``provenance``: who said it is gone)."""
        check_name(id, "entity id")
        source = self._prov(provenance)
        if self.entity(id) is None:
            raise NotFound(f"cannot delete entity {id!r}: it does not exist")
        ends = {**self._adjacent([id], "source", track=False),
                **self._adjacent([id], "target", track=False)}
        for key in sorted(ends):
            self._put(Write("r", key, DELETE, provenance=source))
        self._put(Write("e", id, DELETE, provenance=source))

    def delete_entities(self, ids: Iterable[str]) -> None:
        """Delete many entities and their relations, like :meth:`delete_entity` on each, but
        with one batched lookup of their relations (a versioned import deletes thousands;
        ``delete_entity`` queries the stored relations once per entity)."""
        wanted: list[str] = []
        source = self._prov(None)
        ids = [check_name(id, "entity id") for id in ids]
        self._prefetch("e", ids)  # one batched read, not one query per id
        for id in ids:
            if self.entity(id) is None:
                raise NotFound(f"cannot delete entity {id!r}: it does not exist")
            wanted.append(id)
        ends = set(wanted)
        for rel in graph.incident(self._db, self._chain, wanted):
            if ("r", rel.id) not in self._pending:
                self._put(Write("r", rel.id, DELETE, provenance=source))
        for end in ends:
            for key in list(self._pending_ends.get(end, ())):
                self._put(Write("r", key, DELETE, provenance=source))
        for id in wanted:
            self._put(Write("e", id, DELETE, provenance=source))

    def put_relation(self, id: str, type: str, source: str, target: str,
                     props: Mapping[str, JSON] | None = None, *,
                     valid_from: datetime | str | None = None,
                     valid_to: datetime | str | None = None,
                     provenance: Mapping[str, JSON] | None = None) -> Relation:
        """Create or replace a relation; both endpoints must exist. ``valid_from`` /
        ``valid_to``: its valid-time interval, as :meth:`put_entity`."""
        values = self._check_relation(id, type, source, target, props)
        lo, hi = check_interval(valid_from, valid_to, f"relation {id!r}")
        self._put_relation(id, type, source, target, values, lo, hi, self._prov(provenance))
        return Relation(id, type, source, target, values, _time(lo), _time(hi))

    @staticmethod
    def _check_relation(id: str, type: str, source: str, target: str,
                        props: Mapping[str, JSON] | None) -> dict[str, JSON]:
        check_name(id, "relation id")
        check_name(type, f"type of relation {id!r}")
        check_name(source, f"source of relation {id!r}")
        check_name(target, f"target of relation {id!r}")
        return check_props(props, f"properties of relation {id!r}")

    def _put_relation(self, id: str, type: str, source: str, target: str,
                      values: dict[str, JSON], valid_from: int | None = None,
                      valid_to: int | None = None, origin: str | None = None) -> None:
        for end, name in ((source, "source"), (target, "target")):
            if not self._exists("e", end):
                raise NotFound(f"relation {id!r}: {name} entity {end!r} does not exist; "
                               "create it first")
        self._put(Write("r", id, PUT, type, source, target, encode(values),
                        valid_from=valid_from, valid_to=valid_to, provenance=origin))

    def put_entities(self, entities: Iterable[tuple[str, str, Mapping[str, JSON] | None]]
                     ) -> int:
        """Bulk :meth:`put_entity` of ``(id, type, props)`` tuples; returns how many."""
        count = 0
        source = self._prov(None)  # the open provenance() block's, if any
        for id, type, props in entities:
            self._put_entity(id, type, props, source=source)  # no Entity built: a count
            count += 1
        return count

    def put_relations(self, relations: Iterable[
            tuple[str, str, str, str, Mapping[str, JSON] | None]]) -> int:
        """Bulk :meth:`put_relation` of ``(id, type, source, target, props)`` tuples; endpoint
        checks are batched. Returns how many."""
        items = list(relations)
        origin = self._prov(None)  # the open provenance() block's, if any
        self._prefetch("e", [x for item in items for x in (item[2], item[3])])
        for id, type, source, target, props in items:
            values = self._check_relation(id, type, source, target, props)
            # no Relation built
            self._put_relation(id, type, source, target, values, origin=origin)
        return len(items)

    def update_relation(self, id: str, props: Mapping[str, JSON] | None = None, *,
                        valid_from: datetime | str | None = None,
                        valid_to: datetime | str | None = None,
                        provenance: Mapping[str, JSON] | None = None) -> Relation:
        """Patch a relation's properties (None removes a property) and the ends of its
        valid-time interval (as :meth:`update_entity`)."""
        origin = self._prov(provenance)
        current = self.relation(id)
        if current is None:
            raise NotFound(f"cannot update relation {id!r}: it does not exist")
        _, made = current.patch(props)
        lo, hi = updated_interval(made.valid_from, made.valid_to, valid_from, valid_to,
                                  f"relation {id!r}")
        made = replace(made, valid_from=_time(lo), valid_to=_time(hi))
        # like update_entity: the patch is checked, stored properties are kept as they are
        self._put_relation(id, made.type, made.source, made.target, made.props, lo, hi,
                           origin)
        return made

    def delete_relation(self, id: str, *,
                        provenance: Mapping[str, JSON] | None = None) -> None:
        check_name(id, "relation id")
        origin = self._prov(provenance)
        if self.relation(id) is None:
            raise NotFound(f"cannot delete relation {id!r}: it does not exist")
        self._put(Write("r", id, DELETE, provenance=origin))

    def put_document(self, collection: str, key: str, value: JSON, *,
                     provenance: Mapping[str, JSON] | None = None) -> Document:
        """Create or replace the JSON document ``key`` in ``collection``."""
        check_name(collection, "collection")
        check_name(key, f"document key in {collection!r}")
        check_document(value, f"document {collection}/{key}")
        self._put(Write("d", doc_key(collection, key), PUT, collection, value=encode(value),
                        provenance=self._prov(provenance)))
        return Document(collection, key, value)

    def delete_document(self, collection: str, key: str, *,
                        provenance: Mapping[str, JSON] | None = None) -> None:
        check_name(collection, "collection")
        check_name(key, f"document key in {collection!r}")
        origin = self._prov(provenance)
        if self.document(collection, key) is None:
            raise NotFound(f"cannot delete document {collection}/{key}: it does not exist")
        self._put(Write("d", doc_key(collection, key), DELETE, provenance=origin))

    def write_raw(self, write: Write) -> None:
        """Queue a prepared row write (used by rollback, revert, merge and the kv API)."""
        if write.kind == "r" and write.op == PUT:
            self._unchecked = True  # its endpoints are checked when the commit lands
        self._put(write)

    # -- commit --------------------------------------------------------------------------
    def _finish(self) -> None:
        db, commits = self._db, self._commits
        with db.write():
            db.lock(f"branch:{self.branch}")  # commits to one branch land one at a time
            line, head = self._position()
            known: dict[Ident, StoredRow | None] | None = self._known
            if (line, head) != (self._line, self._head_seq):
                moved_to = commits.chain(line, head or 0)
                why = first_conflict(db, self._chain, moved_to,
                                     set(self._known) | set(self._pending), self._reads)
                if why is not None:
                    raise ConcurrentCommit(
                        f"branch {self.branch!r} moved while this transaction ran and changed "
                        f"what it read or wrote ({why}); retry it on the new head",
                        key=self.branch, expected=self._head_seq, found=head)
                self._line, self._head_seq, self._chain, known = line, head, moved_to, None
            self._check_graph(recheck=known is None or self._unchecked)
            schemas.check(db, self._chain, self._pending)  # SchemaViolation: nothing written
            parents = [commits.by_seq(head).id] if head is not None else []
            parents += [p for p in self._extra_parents if p not in parents]
            written = commits.write_commit(
                line=line, writes=list(self._pending.values()), parents=parents,
                author=self.author, message=self.message, metadata=self.metadata,
                time_us=self._time_us, known_old=known, head_seq=head)
            assert written is not None
            self.commit = written
        if self._notify is not None:
            self._notify(self.commit)

    def _check_graph(self, *, recheck: bool) -> None:
        """Cascade entity deletions to relations and refuse dangling relations, against the
        state the commit will really land on.

        Each relation's endpoints were checked when it was added; they can only have gone
        since if the branch moved (``recheck``) or this transaction deletes entities.
        """
        deleted = [key for (kind, key), w in self._pending.items()
                   if kind == "e" and w.op == DELETE]
        if deleted:
            for rel in graph.incident(self._db, self._chain, deleted):
                if ("r", rel.id) not in self._pending:
                    self._pending[("r", rel.id)] = Write("r", rel.id, DELETE)
        if not recheck and not deleted:
            return
        relations = [(key, w) for (kind, key), w in self._pending.items()
                     if kind == "r" and w.op == PUT]
        ends = {str(e) for _, w in relations for e in (w.source, w.target)}
        stored = read_rows(self._db, self._chain, "e",
                           [e for e in ends if ("e", e) not in self._pending])
        for key, write in relations:
            for end in (write.source, write.target):
                assert end is not None
                pending = self._pending.get(("e", end))
                if pending is not None:
                    alive = pending.op == PUT
                else:
                    row = stored.get(end)
                    alive = row is not None and row.op == PUT
                if not alive:
                    raise IntegrityError(f"relation {key!r} points at entity {end!r}, which "
                                         "does not exist when this commit lands")


def retract_source(tx: Transaction, source: str) -> None:
    """Delete, in ``tx``, every entity, relation and document whose current version came from
    provenance ``source`` (:meth:`Repository.retract`). The scan is a predicate read of every
    element of those kinds, so a concurrent write of any of them makes the commit retry."""
    where, params = prov.source_filter(source)
    found: dict[str, list[str]] = {}
    for kind in ("e", "r", "d"):
        tx.reads.kind(kind, None)
        found[kind] = [row.key for row in scan(tx.database, tx.chain, kind, extra=where,
                                               extra_params=params)]
    tx.delete_entities(found["e"])
    for key in found["r"]:
        if tx.relation(key) is not None:  # not already gone with one of its ends
            tx.delete_relation(key)
    for key in found["d"]:
        collection, name = split_doc_key(key)
        tx.delete_document(collection, name)


class TransactionKV:
    """The key-value state inside a transaction (``tx.kv``).

    Reads see the transaction's own writes and join its read set: a key read by ``get`` /
    ``exists`` / ``version``, a prefix read by ``list`` / ``keys`` / ``count`` (the whole
    prefix, whatever the page). Writes are part of the transaction's commit; a key written
    several times gets one new version, as in :meth:`KeyValue.transaction`. Entries this
    transaction wrote have no commit id yet (``commit == ""``) and the current time.
    """

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def row(self, key: str) -> StoredRow | None:
        row = self._tx.row(kvmodel.KIND, kvmodel.check_key(key))
        return row if row is not None and row.op == PUT else None

    def _entries(self, rows: Sequence[StoredRow]) -> builtins.list[Entry]:
        saved = [row for row in rows if row.hash is not None]
        stored = {entry.key: entry for entry in kvmodel.entries(self._tx.database, saved)}
        now = datetime.now(UTC)
        out = []
        for row in rows:
            if row.hash is not None:
                out.append(stored[row.key])
                continue
            version, created = kvmodel.parse_tag(row)
            out.append(Entry(row.key, to_value(row, check=False), version,
                             from_us(created) if created is not None else now, now, ""))
        return out

    def get(self, key: str) -> Entry | None:
        row = self.row(key)
        return self._entries([row])[0] if row is not None else None

    def exists(self, key: str) -> bool:
        return self.row(key) is not None

    def version(self, key: str) -> int:
        """The key's version (0: missing); a key this transaction wrote shows its new one."""
        return kvmodel.current_version(self.row(key))

    def _scan(self, prefix: str, limit: int | None, start_after: str | None
              ) -> builtins.list[StoredRow]:
        tx = self._tx
        low, high = kvmodel.prefix_range(kvmodel.check_prefix(prefix))
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise InvalidValue(f"limit must be a non-negative integer, got {limit!r}")
        tx.reads.range(kvmodel.KIND, low, high)
        extra, params = "r.key >= ? AND r.key < ?", [low, high]
        if start_after is not None:
            extra += " AND r.key > ?"
            params.append(start_after)
        own = {key: w for key, w in tx.own_writes(kvmodel.KIND).items()
               if low <= key < high and (start_after is None or key > start_after)}
        found = {row.key: row for row in scan(
            tx.database, tx.chain, kvmodel.KIND, extra=extra, extra_params=params,
            limit=None if limit is None else limit + len(own))}
        for key, write in own.items():
            found.pop(key, None)
            if write.op == PUT:
                found[key] = _as_row(write)
        rows = [found[key] for key in sorted(found)]
        return rows if limit is None else rows[:limit]

    def list(self, prefix: str = "/", *, limit: int | None = None,
             start_after: str | None = None) -> builtins.list[Entry]:
        """Entries whose key starts with ``prefix``, in key order (see KeyValue.list)."""
        return self._entries(self._scan(prefix, limit, start_after))

    def keys(self, prefix: str = "/", *, limit: int | None = None,
             start_after: str | None = None) -> builtins.list[str]:
        return [row.key for row in self._scan(prefix, limit, start_after)]

    def count(self, prefix: str = "/") -> int:
        return len(self._scan(prefix, None, None))

    def set(self, key: str, value: bytes) -> Entry:
        """Write ``value`` at ``key`` in this transaction's commit."""
        tx = self._tx
        tx.check_open()
        key = kvmodel.check_key(key)
        data = kvmodel.to_bytes(value)
        pending = tx.pending(kvmodel.KIND, key)
        base = None if pending is not None and pending.op == DELETE else \
            tx.base_rows(kvmodel.KIND, [key])[key]
        write, version, created = kvmodel.put_write(tx.database, key, data, base)
        tx.write_raw(write)
        now = datetime.now(UTC)
        return Entry(key, data, version, from_us(created) if created is not None else now,
                     now, "")

    def set_json(self, key: str, value: JSON) -> Entry:
        check_json(value, f"kv value at {key}")
        return self.set(key, encode(value).encode())

    def delete(self, key: str) -> bool:
        """Delete ``key`` in this transaction's commit; False when it is missing."""
        self._tx.check_open()
        if self.row(key) is None:
            return False
        self._tx.write_raw(Write(kvmodel.KIND, key, DELETE))
        return True
