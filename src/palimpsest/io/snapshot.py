"""Graph snapshots and versioned import.

A :class:`Snapshot` is a whole graph (entities, relations, optionally documents) read from a
file in any format. :func:`import_graph` turns a branch's state into a snapshot in **one**
commit that records only what changed: elements missing from the snapshot are deleted
(``mode="replace"``), changed ones rewritten, unchanged ones not touched. The commit's diff is
therefore the real difference between two releases of a data set, and importing the same
release twice records an empty commit.

The comparison is done in Python against one scan of the branch head (O(graph)), and only the
changes go through the :class:`~palimpsest.transaction.Transaction`, which validates them as
any other write. The whole import holds the repository's write lock, so no other commit can
slip in between the scan and the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..codec import (
    check_document,
    check_interval,
    check_name,
    check_props,
    content_hash,
    encode,
    from_us,
)
from ..errors import InvalidInput, InvalidValue, NotFound, PalimpsestError
from ..storage.visibility import scan_hashes
from ..types import JSON, Commit, CommitStats
from ..versioning.elements import PUT, Write, deletion

if TYPE_CHECKING:
    from ..repository import Repository
    from ..transaction import Transaction
    from ..view import View

Mode = Literal["replace", "merge"]
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called now and then during long operations."""

EntityData = tuple[str, dict[str, JSON]]
RelationData = tuple[str, str, str, dict[str, JSON]]
Where = tuple[str | None, int | None]
Interval = tuple[int | None, int | None]
_OPEN: Interval = (None, None)

MAX_KEPT_ERRORS = 100

_ABSENT: Any = object()

GRAPH_ATTRS = ("@graph", "attributes")
"""The document (collection, key) holding graph-level attributes (NetworkX ``G.graph``)."""


class GraphLike(Protocol):
    """Anything with ``entities`` and ``relations`` dicts shaped like :class:`Snapshot`'s
    (such as :class:`palimpsest.io.rdf.GraphData`)."""

    @property
    def entities(self) -> Mapping[str, EntityData]: ...

    @property
    def relations(self) -> Mapping[str, RelationData]: ...


@dataclass(slots=True)
class Snapshot:
    """A whole graph, as read from a file: ``entities[id] = (type, props)``,
    ``relations[id] = (type, source, target, props)``, and ``documents[(collection, key)] =
    value`` (None when the format carries no documents, which then stay untouched).

    ``skipped`` and ``errors`` report bad input skipped while reading; ``where`` maps
    ``(kind, id)`` to the ``(file, line)`` it came from, for error messages.
    """

    entities: dict[str, EntityData] = field(default_factory=dict)
    relations: dict[str, RelationData] = field(default_factory=dict)
    documents: dict[tuple[str, str], JSON] | None = None
    skipped: int = 0
    errors: list[InvalidInput] = field(default_factory=list)
    where: dict[tuple[str, str], Where] = field(default_factory=dict)
    source: str | None = None
    attrs: dict[str, JSON] | None = None
    """Graph-level attributes (NetworkX ``G.graph``), stored as the document
    :data:`GRAPH_ATTRS`; None leaves that document untouched."""
    intervals: dict[tuple[str, str], Interval] = field(default_factory=dict)
    """``(kind, id)`` → the valid-time interval ``(valid_from, valid_to)`` in microseconds of
    the entities and relations that have one (docs/valid-time.md); the others have none."""

    def __len__(self) -> int:
        return len(self.entities) + len(self.relations) + len(self.documents or {})

    def update(self, other: Snapshot) -> None:
        """Add another snapshot's elements (several files, one import); later files win."""
        self.entities.update(other.entities)
        self.relations.update(other.relations)
        if other.documents is not None:
            self.documents = {**(self.documents or {}), **other.documents}
        if other.attrs is not None:
            self.attrs = {**(self.attrs or {}), **other.attrs}
        self.skipped += other.skipped
        self.errors += other.errors
        self.where.update(other.where)
        self.intervals.update(other.intervals)

    def set_interval(self, kind: str, ident: str, valid_from: Any, valid_to: Any) -> None:
        """Record an element's valid-time interval read from a file (ISO text, a datetime or
        None for an open end; nothing when both are None). InvalidValue when malformed."""
        if valid_from is None and valid_to is None:
            self.intervals.pop((kind, ident), None)
            return
        for end in (valid_from, valid_to):
            if end is not None and not isinstance(end, str | datetime):
                raise InvalidValue(f"valid time of {kind} {ident!r}: expected ISO 8601 text, "
                                   f"got {type(end).__name__}")
        self.intervals[(kind, ident)] = check_interval(valid_from, valid_to,
                                                       f"{kind} {ident!r}")

    def interval_text(self, kind: str, ident: str) -> tuple[str | None, str | None]:
        """An element's interval as ISO text (None, None without one), for writers."""
        lo, hi = self.intervals.get((kind, ident), (None, None))
        return (None if lo is None else from_us(lo).isoformat(),
                None if hi is None else from_us(hi).isoformat())

    def duplicate(self, kind: str, ident: str, hint: str = "") -> str | None:
        """Why adding ``ident`` again would be wrong (None if it is new): two records of one
        input must never silently become one element."""
        table: Mapping[str, Any] = self.entities if kind == "entity" else \
            self.relations if kind == "relation" else {}
        if ident not in table:
            return None
        first = self.where.get((kind, ident), (None, None))[1]
        at = f" (first on line {first})" if first else ""
        return f"{kind} id {ident!r} is used twice{at}; every {kind} needs its own id{hint}"

    def add(self, kind: str, ident: str, data: EntityData | RelationData, source: str | None,
            line: int | None, skip_invalid: bool, hint: str = "") -> None:
        """Add an entity or relation read from one input; a repeated id is rejected."""
        reason = self.duplicate(kind, ident, hint)
        if reason is not None:
            self.reject(InvalidInput(reason, source=source, line=line), skip_invalid)
            return
        if kind == "entity":
            self.entities[ident] = data  # type: ignore[assignment]
        else:
            self.relations[ident] = data  # type: ignore[assignment]
        self.where[(kind, ident)] = (source, line)

    def reject(self, error: InvalidInput, skip_invalid: bool) -> None:
        """Record bad input: raise it, or (``skip_invalid``) count it and go on."""
        if not skip_invalid:
            raise error
        self.skipped += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(error)

    def locate(self, kind: str, ident: str, reason: str) -> InvalidInput:
        """An :class:`InvalidInput` naming the file and line the element came from."""
        source, line = self.where.get((kind, ident), (self.source, None))
        return InvalidInput(reason, source=source, line=line)

    def to_dict(self) -> dict[str, Any]:
        """The ``View.to_dict()`` shape: entities, relations and documents by id."""
        docs: dict[str, dict[str, JSON]] = {}
        for (collection, key), value in sorted((self.documents or {}).items()):
            docs.setdefault(collection, {})[key] = value
        return {
            "entities": {i: {"type": t, "props": p, **self.interval_fields("entity", i)}
                         for i, (t, p) in self.entities.items()},
            "relations": {i: {"type": t, "source": s, "target": o, "props": p,
                              **self.interval_fields("relation", i)}
                          for i, (t, s, o, p) in self.relations.items()},
            "documents": docs,
        }

    def interval_fields(self, kind: str, ident: str) -> dict[str, JSON]:
        """``valid_from`` / ``valid_to`` of a written record (none without an interval)."""
        if (kind, ident) not in self.intervals:
            return {}
        lo, hi = self.interval_text(kind, ident)
        return {"valid_from": lo, "valid_to": hi}


def as_snapshot(data: Snapshot | GraphLike, *, source: str | None = None) -> Snapshot:
    """Wrap any graph-shaped object (an RDF ``GraphData``, say) as a :class:`Snapshot`."""
    if isinstance(data, Snapshot):
        return data
    snap = Snapshot(dict(data.entities), dict(data.relations), source=source)
    snap.skipped = int(getattr(data, "skipped", 0) or 0)
    for error in getattr(data, "errors", ()) or ():
        snap.errors.append(InvalidInput(str(getattr(error, "reason", error)),
                                        source=getattr(error, "source", None) or source,
                                        line=getattr(error, "line", None)))
    return snap


def snapshot_of(view: View) -> Snapshot:
    """The state a view shows, as a :class:`Snapshot` (for export)."""
    snap = Snapshot()
    for entity in view.entities():
        snap.entities[entity.id] = (entity.type, entity.props)
        snap.set_interval("entity", entity.id, entity.valid_from, entity.valid_to)
    for rel in view.relations():
        snap.relations[rel.id] = (rel.type, rel.source, rel.target, rel.props)
        snap.set_interval("relation", rel.id, rel.valid_from, rel.valid_to)
    snap.documents = {}
    for collection in view.collections():
        for doc in view.documents(collection):
            snap.documents[(collection, doc.key)] = doc.value
    return snap


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: the commit written and its change counts, how many elements of
    the input were already up to date, and the bad input skipped (``--skip-invalid``)."""

    commit: Commit | None
    mode: str
    elements: int
    unchanged: int
    skipped: int = 0
    errors: tuple[str, ...] = ()

    @property
    def stats(self) -> CommitStats:
        return self.commit.stats if self.commit is not None else CommitStats()

    def to_dict(self) -> dict[str, Any]:
        return {"commit": self.commit.id if self.commit else None, "mode": self.mode,
                "elements": self.elements, "unchanged": self.unchanged,
                "skipped": self.skipped, "errors": list(self.errors),
                "stats": self.stats.to_dict()}


class _Texts:
    """Validation and canonical text of the elements of one import, in a tight loop: the
    names that repeat (types, endpoints) are checked once, empty properties cost nothing."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def name(self, value: Any, what: str) -> None:
        if value.__class__ is not str or value not in self.names:
            self.names.add(check_name(value, what))

    @staticmethod
    def props(props: Any, where: str) -> str:
        if props.__class__ is dict and not props:
            return "{}"
        return encode(check_props(props, where))

    @staticmethod
    def same(kind: str, key: Any, type_: Any, source: Any, target: Any, props: Any,
             stored: Mapping[str, bytes | None], interval: Interval = (None, None)) -> bool:
        """Whether the element equals its stored version, by hash. Only the properties need
        checking: a key, type and endpoints equal to a stored row's were checked when it was
        written. False when in doubt (the caller then checks everything)."""
        old = stored.get(key) if key.__class__ is str else None
        if old is None or type_.__class__ is not str or not (
                source is None or source.__class__ is str) or not (
                target is None or target.__class__ is str):
            return False
        try:
            text = "{}" if props.__class__ is dict and not props else \
                encode(check_props(props, "properties"))
        except PalimpsestError:
            return False
        return old == content_hash(kind, type_, source, target, text, *interval)

    def entity(self, eid: str, etype: str, props: Any) -> str:
        check_name(eid, "entity id")
        self.name(etype, f"type of entity {eid!r}")
        return self.props(props, f"properties of entity {eid!r}")

    def relation(self, rid: str, rtype: str, source: str, target: str, props: Any) -> str:
        check_name(rid, "relation id")
        names = self.names
        if rtype.__class__ is not str or rtype not in names:
            self.name(rtype, f"type of relation {rid!r}")
        if source.__class__ is not str or source not in names:
            self.name(source, f"source of relation {rid!r}")
        if target.__class__ is not str or target not in names:
            self.name(target, f"target of relation {rid!r}")
        if props.__class__ is dict and not props:
            return "{}"
        return encode(check_props(props, f"properties of relation {rid!r}"))


class _Tick:
    def __init__(self, progress: Progress | None, stage: str, total: int) -> None:
        self.progress, self.stage, self.total, self.done = progress, stage, total, 0
        if progress is not None:
            progress(stage, 0, total)

    def __call__(self, step: int = 1) -> None:
        self.done += step
        if self.progress is not None and (self.done % 2000 == 0 or self.done == self.total):
            self.progress(self.stage, self.done, self.total)


def import_graph(repo: Repository, data: Snapshot | GraphLike, *, mode: Mode = "replace",
                 branch: str | None = None, message: str | None = None,
                 author: str | None = None, timestamp: datetime | str | None = None,
                 metadata: Mapping[str, JSON] | None = None, skip_invalid: bool = False,
                 progress: Progress | None = None) -> ImportResult:
    """Make ``branch`` hold ``data`` in one commit that records only the differences.

    ``mode="replace"``: entities and relations (and documents, if the snapshot has any)
    missing from ``data`` are deleted, so the branch's graph equals ``data`` afterwards.
    ``mode="merge"``: only adds and updates. Elements whose type, endpoints and properties
    are unchanged are not written. Invalid elements raise :class:`InvalidInput` (file, line,
    reason) and nothing is committed, unless ``skip_invalid``: then they are left out,
    counted in ``ImportResult.skipped``, and (replace mode) their old versions deleted.
    """
    if mode not in ("replace", "merge"):
        raise InvalidValue(f"mode must be 'replace' or 'merge', not {mode!r}")
    snap = as_snapshot(data)
    if snap.errors and not skip_invalid:
        raise snap.errors[0]
    target = branch or repo.current_branch
    text = message if message is not None else f"Import {snap.source or 'graph'} ({mode})"
    unchanged = 0
    with repo.database.write():
        view = repo.at(target)
        tx = repo.transaction(text, author=author, metadata=metadata, timestamp=timestamp,
                              branch=target)
        with tx:
            tick = _Tick(progress, "compare", len(snap))
            # the stored hashes say what is unchanged: no stored value is read or decoded
            old_entities = scan_hashes(repo.database, view.chain, "e")
            old_relations = scan_hashes(repo.database, view.chain, "r")
            # 1. compare (and validate) without writing
            put_entities: list[tuple[str, str, str, Interval]] = []
            texts = _Texts()
            kept_entities: set[str] = set()
            same = texts.same
            intervals = snap.intervals
            for eid, (etype, props) in snap.entities.items():
                tick()
                valid = intervals.get(("entity", eid), _OPEN) if intervals else _OPEN
                if same("e", eid, etype, None, None, props, old_entities, valid):
                    unchanged += 1
                    kept_entities.add(eid)
                    continue
                try:
                    new_text = texts.entity(eid, etype, props)
                except PalimpsestError as exc:
                    snap.reject(snap.locate("entity", eid, str(exc)), skip_invalid)
                    continue
                old = old_entities.get(eid, _ABSENT)
                if old is not _ABSENT and old == content_hash("e", etype, None, None, new_text,
                                                              *valid):
                    unchanged += 1
                else:
                    put_entities.append((eid, etype, new_text, valid))
                kept_entities.add(eid)
            alive = kept_entities if mode == "replace" else kept_entities | old_entities.keys()
            put_relations: list[tuple[str, str, str, str, str, Interval]] = []
            kept_relations: set[str] = set()
            for rid, (rtype, source, target_id, props) in snap.relations.items():
                tick()
                valid = intervals.get(("relation", rid), _OPEN) if intervals else _OPEN
                if same("r", rid, rtype, source, target_id, props, old_relations, valid) and \
                        source in alive and target_id in alive:
                    unchanged += 1
                    kept_relations.add(rid)
                    continue
                try:
                    new_text = texts.relation(rid, rtype, source, target_id, props)
                    if source not in alive or target_id not in alive:
                        name, end = (("source", source) if source not in alive
                                     else ("target", target_id))
                        where = "import" if mode == "replace" else "import or the branch"
                        raise NotFound(f"relation {rid!r}: {name} entity {end!r} is not "
                                       f"in the {where}")
                except PalimpsestError as exc:
                    snap.reject(snap.locate("relation", rid, str(exc)), skip_invalid)
                    continue
                old_rel = old_relations.get(rid, _ABSENT)
                if old_rel is not _ABSENT and \
                        old_rel == content_hash("r", rtype, source, target_id, new_text, *valid):
                    unchanged += 1
                else:
                    put_relations.append((rid, rtype, source, target_id, new_text, valid))
                kept_relations.add(rid)
            # 2. deletions (entities in one batch: their relations are looked up at once)
            if mode == "replace":
                gone_entities = [e for e in old_entities if e not in kept_entities]
                gone_relations = [r for r in old_relations if r not in kept_relations]
                tick = _Tick(progress, "delete", len(gone_relations) + len(gone_entities))
                tx.delete_entities(gone_entities)  # cascades to their relations
                tick(len(gone_entities))
                for rid in gone_relations:
                    if tx.pending("r", rid) is None:  # else: a cascaded deletion
                        tx.write_raw(deletion("r", rid))
                    tick()
            # 3. the new and changed elements
            tick = _Tick(progress, "write", len(put_entities) + len(put_relations))
            # validated and encoded above: queued as they are (the relations' endpoints are
            # checked again, in one batch, against the state the commit lands on)
            for eid, etype, new_text, (lo, hi) in put_entities:
                tx.write_raw(Write("e", eid, PUT, etype, value=new_text, valid_from=lo,
                                   valid_to=hi))
                tick()
            for rid, rtype, source, target_id, new_text, (lo, hi) in put_relations:
                tx.write_raw(Write("r", rid, PUT, rtype, source, target_id, new_text,
                                   valid_from=lo, valid_to=hi))
                tick()
            _import_attrs(tx, view, snap, mode)
            unchanged += _import_documents(tx, view, snap, mode, skip_invalid, tick)
            if progress is not None:
                progress("commit", 0, 1)
    if progress is not None:
        progress("commit", 1, 1)
    return ImportResult(tx.commit, mode, len(snap), unchanged, snap.skipped,
                        tuple(str(e) for e in snap.errors))


def _import_documents(tx: Transaction, view: View, snap: Snapshot, mode: Mode, skip_invalid: bool,
                      tick: _Tick) -> int:
    if snap.documents is None:
        return 0
    unchanged = 0
    old: dict[tuple[str, str], JSON] = {}
    for collection in view.collections():
        for doc in view.documents(collection):
            old[(collection, doc.key)] = doc.value
    kept: set[tuple[str, str]] = set()
    for (collection, key), value in snap.documents.items():
        tick()
        ident = (collection, key)
        try:
            check_document(value, f"document {collection}/{key}")
            if ident in old and encode(old[ident]) == encode(value):
                unchanged += 1
            else:
                tx.put_document(collection, key, value)
        except PalimpsestError as exc:
            snap.reject(snap.locate("document", f"{collection}/{key}", str(exc)), skip_invalid)
            continue
        kept.add(ident)
    if mode == "replace":
        for collection, key in old:
            if (collection, key) not in kept:
                tx.delete_document(collection, key)
    return unchanged


def _import_attrs(tx: Transaction, view: View, snap: Snapshot, mode: Mode) -> None:
    """Graph-level attributes: the document :data:`GRAPH_ATTRS` becomes ``snap.attrs``
    (deleted when empty, in replace mode; merged into the old ones in merge mode)."""
    if snap.attrs is None:
        return
    check_document(snap.attrs, "graph attributes")
    if snap.documents is not None:  # they are imported with the other documents
        if snap.attrs and GRAPH_ATTRS not in snap.documents:
            snap.documents[GRAPH_ATTRS] = snap.attrs
        return
    old = view.document(*GRAPH_ATTRS)
    before = old.value if old is not None and isinstance(old.value, dict) else None
    value = snap.attrs if mode == "replace" else {**(before or {}), **snap.attrs}
    if not value:
        if before is not None:
            tx.delete_document(*GRAPH_ATTRS)
    elif before is None or encode(before) != encode(value):
        tx.put_document(*GRAPH_ATTRS, value)
