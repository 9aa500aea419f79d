"""Transactions: a batch of writes that becomes exactly one commit, or nothing.

Writes are buffered in memory and validated as they are made (bad input fails at once, with
the repository untouched); reads inside the transaction see its own writes. On a clean exit
the commit is written in one database transaction under the write lock. If another writer moved
the branch meanwhile, the commit still lands on the new head when none of the elements this
transaction read or wrote changed there; otherwise :class:`ConcurrentCommit` is raised
(optimistic concurrency) and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .codec import check_json, check_name, check_props, encode, to_us
from .errors import ConcurrentCommit, IntegrityError, InvalidValue, NotFound, ReadOnly
from .models import graph
from .storage.visibility import Chain, StoredRow, changed_keys, read_row, read_rows
from .types import JSON, Commit, Document, Entity, Relation
from .versioning.elements import DELETE, PUT, Write, doc_key, to_value

if TYPE_CHECKING:
    from .repository import Repository

Ident = tuple[str, str]


def _as_row(write: Write) -> StoredRow:
    return StoredRow(0, write.kind, write.key, 0, 0, write.op, write.type, write.source,
                     write.target, write.value, None, None)


class Transaction:
    """One commit in the making; use it as a context manager from
    :meth:`Repository.transaction`. After the block, :attr:`commit` is the commit written."""

    def __init__(self, repo: Repository, *, branch: str, message: str, author: str,
                 metadata: Mapping[str, JSON] | None, timestamp: datetime | str | None,
                 extra_parents: Sequence[str] = ()) -> None:
        if not isinstance(message, str):
            raise InvalidValue("message must be a string")
        check_name(author, "author")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidValue(f"metadata must be a dict, not {type(metadata).__name__}")
        meta = dict(metadata or {})
        check_json(meta, "metadata")
        encode([message, meta])  # rejects what JSON cannot hold (lone surrogates, > 16 MiB)
        self._repo = repo
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
        self._scanned = False
        self._open = True
        self._line, self._head_seq = self._position()
        self._chain: Chain = repo._commits.chain(self._line, self._head_seq or 0)

    def _position(self) -> tuple[int, int | None]:
        position = self._repo._commits.branch_position(self.branch)
        if position is None:
            self._repo._refs.branch_line(self.branch)  # raises RefNotFound with a hint
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

    def _check_open(self) -> None:
        if not self._open:
            raise ReadOnly("this transaction has ended; start a new one")

    # -- reads (see own writes) ----------------------------------------------------------
    def _row(self, kind: str, key: str) -> StoredRow | None:
        ident = (kind, key)
        pending = self._pending.get(ident)
        if pending is not None:
            return _as_row(pending)
        if ident not in self._known:
            self._known[ident] = read_row(self._repo._db, self._chain, kind, key)
        return self._known[ident]

    def _exists(self, kind: str, key: str) -> bool:
        pending = self._pending.get((kind, key))
        if pending is not None:
            return pending.op == PUT
        row = self._row(kind, key)
        return row is not None and row.op == PUT

    def _prefetch(self, kind: str, keys: Iterable[str]) -> None:
        """Read the base rows of many keys in one batch (bulk writes, integrity checks)."""
        todo = [k for k in dict.fromkeys(keys)
                if (kind, k) not in self._pending and (kind, k) not in self._known]
        if todo:
            found = read_rows(self._repo._db, self._chain, kind, todo)
            for key in todo:
                self._known[(kind, key)] = found.get(key)

    def _live(self, kind: str, key: str) -> Any:
        row = self._row(kind, key)
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

    def relations(self, *, source: str | None = None,
                  target: str | None = None) -> list[Relation]:
        """Relations from ``source`` and/or to ``target``, including this transaction's."""
        ids = [x for x in (source, target) if x is not None]
        found = {r.id: r for r in graph.incident(self._repo._db, self._chain, ids)
                 if ("r", r.id) not in self._pending}  # pending versions decide below
        for end in ids:
            for key in self._pending_ends.get(end, ()):
                found[key] = to_value(_as_row(self._pending[("r", key)]), check=False)
        return [r for _, r in sorted(found.items())
                if (source is None or r.source == source) and (target is None or r.target == target)]

    def entities(self, type: str | None = None) -> Iterator[Entity]:
        """Entities at the transaction's base with its own writes applied (a scan: any
        concurrent commit to the branch will make this transaction conflict)."""
        self._scanned = True
        own = {key: w for (kind, key), w in self._pending.items() if kind == "e"}
        merged = {e.id: e for e in graph.entities(self._repo._db, self._chain, type=type)
                  if e.id not in own}
        for key, write in own.items():
            if write.op == PUT and (type is None or write.type == type):
                merged[key] = to_value(_as_row(write), check=False)
        for key in sorted(merged):
            yield merged[key]

    # -- writes --------------------------------------------------------------------------
    def _put(self, write: Write) -> None:
        self._check_open()
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

    def put_entity(self, id: str, type: str, props: Mapping[str, JSON] | None = None) -> Entity:
        """Create or replace an entity (type and all properties)."""
        check_name(id, "entity id")
        check_name(type, f"type of entity {id!r}")
        values = check_props(props, f"properties of entity {id!r}")
        self._put(Write("e", id, PUT, type, value=encode(values)))
        return Entity(id, type, values)

    def update_entity(self, id: str, props: Mapping[str, JSON] | None = None, *,
                      type: str | None = None) -> Entity:
        """Patch an entity's properties: given keys are set, keys given as None removed."""
        current = self.entity(id)
        if current is None:
            raise NotFound(f"cannot update entity {id!r}: it does not exist "
                           "(use put_entity to create it)")
        patch = check_props(props, f"properties of entity {id!r}")
        merged = dict(current.props)
        for name, value in patch.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        new_type = current.type if type is None else check_name(type, f"type of entity {id!r}")
        # stored props and the patch are both validated: the merge needs no second check
        self._put(Write("e", id, PUT, new_type, value=encode(merged)))
        return Entity(id, new_type, merged)

    def delete_entity(self, id: str) -> None:
        """Delete an entity and every relation that starts or ends at it."""
        check_name(id, "entity id")
        if self.entity(id) is None:
            raise NotFound(f"cannot delete entity {id!r}: it does not exist")
        for rel in self.relations(source=id) + self.relations(target=id):
            self._put(Write("r", rel.id, DELETE))
        self._put(Write("e", id, DELETE))

    def delete_entities(self, ids: Iterable[str]) -> None:
        """Delete many entities and their relations, like :meth:`delete_entity` on each, but
        with one batched lookup of their relations (a versioned import deletes thousands;
        ``delete_entity`` queries the stored relations once per entity)."""
        wanted: list[str] = []
        for id in ids:
            check_name(id, "entity id")
            if self.entity(id) is None:
                raise NotFound(f"cannot delete entity {id!r}: it does not exist")
            wanted.append(id)
        ends = set(wanted)
        for rel in graph.incident(self._repo._db, self._chain, wanted):
            if ("r", rel.id) not in self._pending:
                self._put(Write("r", rel.id, DELETE))
        for end in ends:
            for key in list(self._pending_ends.get(end, ())):
                self._put(Write("r", key, DELETE))
        for id in wanted:
            self._put(Write("e", id, DELETE))

    def put_relation(self, id: str, type: str, source: str, target: str,
                     props: Mapping[str, JSON] | None = None) -> Relation:
        """Create or replace a relation; both endpoints must exist."""
        check_name(id, "relation id")
        check_name(type, f"type of relation {id!r}")
        check_name(source, f"source of relation {id!r}")
        check_name(target, f"target of relation {id!r}")
        values = check_props(props,
                             f"properties of relation {id!r}")
        for end, name in ((source, "source"), (target, "target")):
            if not self._exists("e", end):
                raise NotFound(f"relation {id!r}: {name} entity {end!r} does not exist; "
                               "create it first")
        self._put(Write("r", id, PUT, type, source, target, encode(values)))
        return Relation(id, type, source, target, values)

    def put_entities(self, entities: Iterable[tuple[str, str, Mapping[str, JSON] | None]]
                     ) -> int:
        """Bulk :meth:`put_entity` of ``(id, type, props)`` tuples; returns how many."""
        count = 0
        for id, type, props in entities:
            self.put_entity(id, type, props)
            count += 1
        return count

    def put_relations(self, relations: Iterable[
            tuple[str, str, str, str, Mapping[str, JSON] | None]]) -> int:
        """Bulk :meth:`put_relation` of ``(id, type, source, target, props)`` tuples; endpoint
        checks are batched. Returns how many."""
        items = list(relations)
        self._prefetch("e", [x for item in items for x in (item[2], item[3])])
        for id, type, source, target, props in items:
            self.put_relation(id, type, source, target, props)
        return len(items)

    def update_relation(self, id: str, props: Mapping[str, JSON] | None = None) -> Relation:
        """Patch a relation's properties (None removes a property)."""
        current = self.relation(id)
        if current is None:
            raise NotFound(f"cannot update relation {id!r}: it does not exist")
        patch = check_props(props,
                            f"properties of relation {id!r}")
        merged = {**current.props, **patch}
        merged = {k: v for k, v in merged.items() if v is not None}
        return self.put_relation(id, current.type, current.source, current.target, merged)

    def delete_relation(self, id: str) -> None:
        check_name(id, "relation id")
        if self.relation(id) is None:
            raise NotFound(f"cannot delete relation {id!r}: it does not exist")
        self._put(Write("r", id, DELETE))

    def put_document(self, collection: str, key: str, value: JSON) -> Document:
        """Create or replace the JSON document ``key`` in ``collection``."""
        check_name(collection, "collection")
        check_name(key, f"document key in {collection!r}")
        check_json(value, f"document {collection}/{key}")
        self._put(Write("d", doc_key(collection, key), PUT, collection, value=encode(value)))
        return Document(collection, key, value)

    def delete_document(self, collection: str, key: str) -> None:
        check_name(collection, "collection")
        check_name(key, f"document key in {collection!r}")
        if self.document(collection, key) is None:
            raise NotFound(f"cannot delete document {collection}/{key}: it does not exist")
        self._put(Write("d", doc_key(collection, key), DELETE))

    def write_raw(self, write: Write) -> None:
        """Queue a prepared row write (used by rollback, revert, merge and the kv API)."""
        if write.kind == "r" and write.op == PUT:
            self._unchecked = True  # its endpoints are checked when the commit lands
        self._put(write)

    # -- commit --------------------------------------------------------------------------
    def _finish(self) -> None:
        repo = self._repo
        db, commits = repo._db, repo._commits
        with db.write():
            db.lock(f"branch:{self.branch}")  # commits to one branch land one at a time
            line, head = self._position()
            known: dict[Ident, StoredRow | None] | None = self._known
            if (line, head) != (self._line, self._head_seq):
                moved_to = commits.chain(line, head or 0)
                moved = set(changed_keys(db, self._chain, moved_to))
                clash = moved & (set(self._known) | set(self._pending))
                if clash or self._scanned:
                    what = ", ".join(f"{k}:{v}" for k, v in sorted(clash)[:5]) or "a scan"
                    raise ConcurrentCommit(
                        f"branch {self.branch!r} moved while this transaction ran and changed "
                        f"what it read or wrote ({what}); retry it on the new head",
                        key=self.branch, expected=self._head_seq, found=head)
                self._line, self._head_seq, self._chain, known = line, head, moved_to, None
            self._check_graph(recheck=known is None or self._unchecked)
            parents = [commits.by_seq(head).id] if head is not None else []
            parents += [p for p in self._extra_parents if p not in parents]
            written = commits.write_commit(
                line=line, writes=list(self._pending.values()), parents=parents,
                author=self.author, message=self.message, metadata=self.metadata,
                time_us=self._time_us, known_old=known, head_seq=head)
            assert written is not None
            self.commit = written
        repo._notify(self.commit)

    def _check_graph(self, *, recheck: bool) -> None:
        """Cascade entity deletions to relations and refuse dangling relations, against the
        state the commit will really land on.

        Each relation's endpoints were checked when it was added; they can only have gone
        since if the branch moved (``recheck``) or this transaction deletes entities.
        """
        deleted = [key for (kind, key), w in self._pending.items()
                   if kind == "e" and w.op == DELETE]
        if deleted:
            for rel in graph.incident(self._repo._db, self._chain, deleted):
                if ("r", rel.id) not in self._pending:
                    self._pending[("r", rel.id)] = Write("r", rel.id, DELETE)
        if not recheck and not deleted:
            return
        relations = [(key, w) for (kind, key), w in self._pending.items()
                     if kind == "r" and w.op == PUT]
        ends = {str(e) for _, w in relations for e in (w.source, w.target)}
        stored = read_rows(self._repo._db, self._chain, "e",
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
