"""Frozen value types returned by the public API.

They are plain data: a View or Repository builds them from stored rows and never keeps a
reference back, so they can be passed around, compared and serialised freely.
"""

from __future__ import annotations

import base64
import builtins
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias

from .codec import check_name, check_props, json_equal, patched

JSON: TypeAlias = Any
"""A JSON value: str, int, finite float, bool, None, list or dict with string keys."""

ElementKind = Literal["entity", "relation", "document", "kv"]
ChangeKind = Literal["created", "modified", "deleted"]


@dataclass(frozen=True, slots=True)
class Entity:
    """A node of the graph: an id, a type and JSON properties, and optionally the valid-time
    interval ``[valid_from, valid_to)`` in which it holds in the world (None: an open end;
    docs/valid-time.md)."""

    id: str
    type: str
    props: dict[str, JSON] = field(default_factory=dict)
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    def to_dict(self) -> dict[str, JSON]:
        return {"type": self.type, "props": self.props, **_interval(self)}

    def patch(self, props: Mapping[str, JSON] | None,
              type: str | None = None) -> tuple[dict[str, JSON], Entity]:
        """The checked patch and this entity with it applied (keys given as None removed;
        ``type`` retypes; the valid-time interval is kept): the one update rule of embedded
        and remote transactions."""
        patch = check_props(props, f"properties of entity {self.id!r}")
        new_type = self.type if type is None else check_name(type,
                                                             f"type of entity {self.id!r}")
        return patch, Entity(self.id, new_type, patched(self.props, patch), self.valid_from,
                             self.valid_to)


@dataclass(frozen=True, slots=True)
class Relation:
    """A directed, typed edge between two entities, with its own properties and optionally a
    valid-time interval (as :class:`Entity`)."""

    id: str
    type: str
    source: str
    target: str
    props: dict[str, JSON] = field(default_factory=dict)
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    def to_dict(self) -> dict[str, JSON]:
        return {"type": self.type, "source": self.source, "target": self.target,
                "props": self.props, **_interval(self)}

    def patch(self, props: Mapping[str, JSON] | None) -> tuple[dict[str, JSON], Relation]:
        """The checked patch and this relation with it applied (as :meth:`Entity.patch`)."""
        patch = check_props(props, f"properties of relation {self.id!r}")
        return patch, Relation(self.id, self.type, self.source, self.target,
                               patched(self.props, patch), self.valid_from, self.valid_to)


def _interval(element: Entity | Relation) -> dict[str, JSON]:
    """``valid_from`` / ``valid_to`` as ISO text in an element's state form, present only
    when the element has an interval (states without valid time look as before)."""
    if element.valid_from is None and element.valid_to is None:
        return {}
    return {"valid_from": _iso(element.valid_from), "valid_to": _iso(element.valid_to)}


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


@dataclass(frozen=True, slots=True)
class Document:
    """A JSON value stored under a key in a named collection."""

    collection: str
    key: str
    value: JSON

    def to_dict(self) -> dict[str, JSON]:
        return {"collection": self.collection, "key": self.key, "value": self.value}


Element: TypeAlias = Entity | Relation | Document


@dataclass(frozen=True, slots=True)
class CommitStats:
    """How many elements of each kind one commit created, modified and deleted."""

    entities_created: int = 0
    entities_modified: int = 0
    entities_deleted: int = 0
    relations_created: int = 0
    relations_modified: int = 0
    relations_deleted: int = 0
    documents_created: int = 0
    documents_modified: int = 0
    documents_deleted: int = 0
    kv_changed: int = 0

    @property
    def created(self) -> int:
        return self.entities_created + self.relations_created + self.documents_created

    @property
    def modified(self) -> int:
        return self.entities_modified + self.relations_modified + self.documents_modified

    @property
    def deleted(self) -> int:
        return self.entities_deleted + self.relations_deleted + self.documents_deleted

    @property
    def documents_changed(self) -> int:
        return self.documents_created + self.documents_modified + self.documents_deleted

    @property
    def total(self) -> int:
        return self.created + self.modified + self.deleted + self.kv_changed

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Commit:
    """One immutable commit: who, when, why, and the state it produced.

    ``id`` is the hash of (parents, state hash, author, message, time, metadata), as in git;
    ``state_hash`` depends only on the visible state. ``seq`` and ``line`` locate the commit
    inside this repository (seqs grow with every commit).
    """

    id: str
    parents: tuple[str, ...]
    author: str
    message: str
    timestamp: datetime
    metadata: dict[str, JSON]
    stats: CommitStats
    state_hash: str
    seq: int
    line: int

    @property
    def short_id(self) -> str:
        return self.id[:10]



@dataclass(frozen=True, slots=True)
class Change:
    """One element changed by a commit or between two versions: its old and new value."""

    kind: ChangeKind
    element: ElementKind
    id: str
    old: Any
    new: Any
    collection: str | None = None
    provenance: dict[str, JSON] | None = None
    """Where the new value came from (for a deletion: the deletion's), if recorded
    (docs/provenance.md)."""

    def property_changes(self) -> dict[str, tuple[JSON, JSON]]:
        """Per property (or top-level document field): ``(old, new)``; missing is ``None``.

        Type, source and target changes of entities and relations appear as ``@type``,
        ``@source`` and ``@target``. A document that is not an object on both sides shows
        as one ``@value`` field. Values are compared as JSON: ``1`` → ``1.0`` or ``true``,
        and ``0.0`` → ``-0.0``, are changes, at any depth.
        """
        return property_changes(self.old, self.new)



SHAPE_FIELDS = ("@type", "@source", "@target", "@valid")
"""The fields of an entity or relation that are not properties (``@``-names are reserved);
``@valid`` is the valid-time interval ``[from, to]`` as ISO text (None: an open end), present
only when the element has one, so it diffs and merges as one field."""


def element_fields(value: Any, *, whole: bool = False) -> dict[str, JSON]:
    """An element as one flat dict of fields, the unit of diffs and merges: properties plus
    ``@type``, ``@source``, ``@target``; a document's top-level fields, or its whole value as
    ``@value`` when it is not an object (or ``whole``)."""
    if value is None:
        return {}
    if isinstance(value, Entity):
        return {**value.props, "@type": value.type, **_valid_field(value)}
    if isinstance(value, Relation):
        return {**value.props, "@type": value.type, "@source": value.source,
                "@target": value.target, **_valid_field(value)}
    if isinstance(value, Document):
        if isinstance(value.value, dict) and not whole:
            return dict(value.value)
        return {"@value": value.value}
    return {"@value": value}


def _valid_field(element: Entity | Relation) -> dict[str, JSON]:
    if element.valid_from is None and element.valid_to is None:
        return {}
    return {"@valid": [_iso(element.valid_from), _iso(element.valid_to)]}


def aligned_fields(*values: Any) -> list[dict[str, JSON]]:
    """The field views of several versions of one element, made comparable: documents are
    split into top-level fields only when every present version is an object, else each is
    one ``@value`` field (so an object never mixes with a scalar, and an object holding an
    ``@value`` key is never mistaken for a scalar)."""
    whole = any(isinstance(v, Document) and not isinstance(v.value, dict) for v in values)
    return [element_fields(v, whole=whole) for v in values]


def property_changes(old: Any, new: Any) -> dict[str, tuple[JSON, JSON]]:
    """Field-level differences between two element values (either may be ``None``), compared
    as JSON: ``1``, ``1.0`` and ``true`` are different values (:func:`json_equal`)."""
    before, after = aligned_fields(old, new)
    out: dict[str, tuple[JSON, JSON]] = {}
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name), after.get(name)
        if (name in before) != (name in after) or not json_equal(a, b):
            out[name] = (a, b)
    return out



@dataclass(frozen=True, slots=True)
class Version:
    """One version of an element in its history: the commit and what it did."""

    commit: Commit
    kind: ChangeKind
    value: Any
    origin: str | None = None
    """For values brought in by a merge or cherry-pick, the id of the commit that made them."""
    element: ElementKind | None = None
    """Which element this is a version of: ``"entity"`` for the entity asked about,
    ``"relation"`` for one of its relations (or for a relation asked about), ...; with
    :attr:`id` it tells versions of an entity's own properties from versions of its facts."""
    id: str | None = None
    """The id of the element (a relation's id, a document's key), also for a deletion."""
    provenance: dict[str, JSON] | None = None
    """Where this version came from, as the write recorded it (docs/provenance.md)."""


Relations = Literal["out", "in", "both", "none"]
"""Which relations of an entity count as its facts in history, blame and ``log(touching=)``:
outgoing (the entity is their source, the default), incoming, both, or none."""


@dataclass(frozen=True, slots=True)
class Blame:
    """The commit that last set one property to its current value; for a relation fact
    (key ``"@relation <id>"`` in :meth:`Repository.blame`), the commit that last changed the
    relation, with ``relation`` set to its id and ``value`` its type, ends and properties."""

    property: str
    value: JSON
    commit: Commit
    origin: str | None = None
    relation: str | None = None
    provenance: dict[str, JSON] | None = None
    """The provenance of the credited version: where the property's value came from."""


@dataclass(frozen=True, slots=True)
class Branch:
    """A named, movable pointer to the head of a line of commits."""

    name: str
    head: Commit | None
    current: bool = False
    ahead: int | None = None
    behind: int | None = None


@dataclass(frozen=True, slots=True)
class Tag:
    """A name for one commit; annotated tags also carry a message, author and time."""

    name: str
    commit: Commit
    message: str | None = None
    author: str | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class RefLogEntry:
    """One movement of a branch or tag: from which commit to which, when, by whom, why."""

    name: str
    old: str | None
    new: str | None
    timestamp: datetime
    author: str
    message: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """One clash found by a merge, cherry-pick or revert.

    ``property`` is None when the whole element clashes (modified on one side and deleted on the
    other, or created on both sides with different content); values are the element's field
    values at the merge base, on our side and on their side (None when absent).
    """

    element: ElementKind
    id: str
    property: str | None
    base: JSON
    ours: JSON
    theirs: JSON
    collection: str | None = None
    reason: str = "both sides changed it differently"

    @builtins.property
    def key(self) -> tuple[str, str, str | None]:
        """The key to use in ``resolutions={...}``: ``(element, id, property)``."""
        ident = f"{self.collection}/{self.id}" if self.collection else self.id
        return (self.element, ident, self.property)



# -- key-value state (models/kv.py, docs/kv.md) ---------------------------------------------
@dataclass(frozen=True, slots=True)
class Entry:
    """One key-value entry as a state holds it.

    ``version`` counts the writes since the key was last created (1 for a new key; deleting
    and re-creating starts again at 1, as in etcd). ``created_at`` / ``updated_at`` are the
    times of the commits that created this incarnation of the key and wrote this version;
    ``commit`` is the id of the latter.
    """

    key: str
    value: bytes
    version: int
    created_at: datetime
    updated_at: datetime
    commit: str = ""



KVEventType = Literal["created", "updated", "deleted", "resync"]
"""``resync``: the watch started before the retention horizon; per-key changes up to
``commit`` were compacted away, so re-read the state at ``commit`` (a snapshot), then apply
the events that follow."""


@dataclass(frozen=True, slots=True)
class KVEvent:
    """One change to a watched key: what happened, the new value and version (None / 0 when
    deleted), and the commit of the watched branch that made it."""

    type: KVEventType
    key: str
    value: bytes | None
    version: int
    commit: Commit
    origin: str | None = None
    """When ``commit`` brought the change in from elsewhere (a merge, cherry-pick or rollback;
    or the head of a history the branch was moved to), the id of the commit that originally
    made it."""



# -- diffs and merges (versioning/diff.py, versioning/merge.py) -----------------------------
class ChangeList(Sequence["Change"]):
    """A diff's changes whose element and change kind are known before their values are
    decoded: counting them (``Diff.stats``, ``len``) decodes nothing; an item is decoded (and
    its stored hash checked) the first time it is read. Compares equal to a list of the same
    changes."""

    __slots__ = ()

    def kinds(self) -> list[tuple[ElementKind, ChangeKind]]:
        """``(element, kind)`` of each change, in order, without decoding values."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(x == y for x, y in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


def _kinds(changes: Sequence[Change]) -> list[tuple[ElementKind, ChangeKind]]:
    if isinstance(changes, ChangeList):
        return changes.kinds()
    return [(c.element, c.kind) for c in changes]


@dataclass(frozen=True, slots=True)
class Diff:
    """What changed from state ``a`` to state ``b``: one :class:`Change` per element, ordered
    by element (entities, relations, documents, kv), collection and id.

    A page of a diff (``Repository.diff(a, b, limit=…)``) holds the changes of one window of
    that order and in :attr:`next` the cursor of the following page."""

    a: Commit | None
    b: Commit | None
    changes: Sequence[Change] = field(default_factory=list)

    def _select(self, element: str, kind: ChangeKind) -> list[Change]:
        return [self.changes[i] for i, k in enumerate(_kinds(self.changes))
                if k == (element, kind)]

    @property
    def entities_added(self) -> list[Change]:
        return self._select("entity", "created")

    @property
    def entities_removed(self) -> list[Change]:
        return self._select("entity", "deleted")

    @property
    def entities_modified(self) -> list[Change]:
        return self._select("entity", "modified")

    @property
    def relations_added(self) -> list[Change]:
        return self._select("relation", "created")

    @property
    def relations_removed(self) -> list[Change]:
        return self._select("relation", "deleted")

    @property
    def relations_modified(self) -> list[Change]:
        return self._select("relation", "modified")

    @property
    def documents_changed(self) -> list[Change]:
        return [self.changes[i] for i, (element, _) in enumerate(_kinds(self.changes))
                if element == "document"]

    @property
    def stats(self) -> CommitStats:
        """Counts of :attr:`changes` (of this page, for a page), decoding no value."""
        return stats_of(_kinds(self.changes))

    def __len__(self) -> int:
        return len(self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __iter__(self) -> Any:
        return iter(self.changes)

    def to_json_patch(self) -> list[dict[str, Any]]:
        """RFC 6902 operations turning ``a``'s ``View.to_dict()`` into ``b``'s."""
        ops: list[dict[str, Any]] = []
        docs_by_collection: dict[str, list[Change]] = {}
        for change in self.changes:
            if change.element == "document":
                docs_by_collection.setdefault(change.collection or "", []).append(change)
            elif change.element in ("entity", "relation"):
                root = "/entities" if change.element == "entity" else "/relations"
                ops += _element_ops(root, change)
            elif change.element == "kv":
                ops += _kv_ops(change)
        for collection, changes in docs_by_collection.items():
            ops += _collection_ops(collection, changes, self.collection_presence)
        return ops

    collection_presence: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    """Whether each document collection the changes touch exists at ``a`` and at ``b``
    (for :meth:`to_json_patch`)."""

    next: str | None = None
    """For a page: the cursor of the following page (pass it as ``after=``); None on the last
    page and for a whole diff."""


def stat_name(element: ElementKind, kind: ChangeKind) -> str:
    """The :class:`CommitStats` field counting changes of that element and kind."""
    if element == "kv":
        return "kv_changed"
    group = {"entity": "entities", "relation": "relations", "document": "documents"}[element]
    return f"{group}_{kind}"


def stats_of(kinds: Iterable[tuple[ElementKind, ChangeKind]]) -> CommitStats:
    """Counts of changes by element and change kind."""
    counts: dict[str, int] = {}
    for element, kind in kinds:
        name = stat_name(element, kind)
        counts[name] = counts.get(name, 0) + 1
    return CommitStats(**counts)


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _element_ops(root: str, change: Change) -> list[dict[str, Any]]:
    path = root + _pointer(change.id)
    if change.kind == "created":
        return [{"op": "add", "path": path, "value": change.new.to_dict()}]
    if change.kind == "deleted":
        return [{"op": "remove", "path": path}]
    ops: list[dict[str, Any]] = []
    old, new = change.old.to_dict(), change.new.to_dict()
    for name in ("type", "source", "target"):
        if name in new and not json_equal(old.get(name), new[name]):
            ops.append({"op": "replace", "path": path + _pointer(name), "value": new[name]})
    for name in ("valid_from", "valid_to"):  # present only when the element has an interval
        if name not in new:
            if name in old:
                ops.append({"op": "remove", "path": path + _pointer(name)})
        elif name not in old or old[name] != new[name]:
            ops.append({"op": "add" if name not in old else "replace",
                        "path": path + _pointer(name), "value": new[name]})
    before, after = old["props"], new["props"]
    for prop in sorted(before.keys() | after.keys()):
        target = path + _pointer("props", prop)
        if prop not in after:
            ops.append({"op": "remove", "path": target})
        elif prop not in before:
            ops.append({"op": "add", "path": target, "value": after[prop]})
        elif not json_equal(before[prop], after[prop]):  # 1 -> true is a change, at any depth
            ops.append({"op": "replace", "path": target, "value": after[prop]})
    return ops


def _kv_ops(change: Change) -> list[dict[str, Any]]:
    path = "/kv" + _pointer(change.id)
    if change.kind == "deleted":
        return [{"op": "remove", "path": path}]
    value = base64.b64encode(change.new).decode()
    return [{"op": "add" if change.kind == "created" else "replace", "path": path,
             "value": value}]


def _collection_ops(collection: str, changes: list[Change],
                    presence: dict[str, tuple[bool, bool]]) -> list[dict[str, Any]]:
    in_a, in_b = presence.get(collection, (True, True))
    root = "/documents" + _pointer(collection)
    if not in_a and in_b:
        return [{"op": "add", "path": root,
                 "value": {c.id: c.new.value for c in changes if c.new is not None}}]
    if in_a and not in_b:
        return [{"op": "remove", "path": root}]
    ops: list[dict[str, Any]] = []
    for change in changes:
        path = root + _pointer(change.id)
        if change.kind == "created":
            ops.append({"op": "add", "path": path, "value": change.new.value})
        elif change.kind == "deleted":
            ops.append({"op": "remove", "path": path})
        else:
            ops.append({"op": "replace", "path": path, "value": change.new.value})
    return ops


SchemaKind = Literal["entity", "relation", "collection"]


@dataclass(frozen=True, slots=True)
class Schema:
    """The rules for one entity type, relation type or document collection
    (``repo.set_schema``; docs/schemas.md). ``json_schema`` (JSON Schema 2020-12) checks an
    entity's or relation's properties or a document's value; the graph rules JSON Schema cannot
    say: ``source_types`` / ``target_types`` (the types a relation's endpoints may have),
    ``max_per_source`` (at most this many relations of the type from one entity) and ``unique``
    (properties no two entities of the type share)."""

    kind: SchemaKind
    target: str
    json_schema: JSON = None
    source_types: list[str] | None = None
    target_types: list[str] | None = None
    max_per_source: int | None = None
    unique: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a state breaks its schemas: which element (``element`` kind, ``id``,
    ``collection`` for documents), where in its value (``path``, a JSON Pointer, ``""`` for
    the whole value) and which ``rule`` (a JSON Schema keyword such as ``"required"``, or
    ``"source_types"``, ``"target_types"``, ``"max_per_source"``, ``"unique"``)."""

    element: str
    id: str
    path: str
    rule: str
    message: str
    collection: str | None = None

    def __str__(self) -> str:
        where = f"{self.collection}/{self.id}" if self.collection else self.id
        return f"{self.element} {where!r} at {self.path or '/'!r}: {self.message} [{self.rule}]"


@dataclass(frozen=True, slots=True)
class ShaclResult:
    """One SHACL validation result: the ``focus`` node, the ``path`` (a property IRI, or a
    SPARQL-like rendering of a complex path; None for node constraints), the offending
    ``value``, the ``constraint`` component (e.g. ``sh:MinCountConstraintComponent``), the
    ``shape`` that raised it, its ``severity`` (``Violation``, ``Warning``, ``Info``) and
    the ``message``. Terms are N-Triples text (``<iri>``, ``"literal"``, ``_:b0``)."""

    focus: str
    path: str | None
    value: str | None
    constraint: str
    shape: str | None
    severity: str
    message: str


@dataclass(frozen=True, slots=True)
class ShaclReport:
    """What :meth:`Repository.validate_shacl` found at one version: ``conforms`` and every
    result (sorted by focus node, path, constraint), at ``commit``."""

    conforms: bool
    results: list[ShaclResult]
    commit: str | None = None
    triples: int = 0
    """How many triples of the version were validated."""


MergeStatus = Literal["fast_forward", "merged", "conflict", "up_to_date"]


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What a merge, cherry-pick or combine did (or, for a preview, would do).

    ``status`` is ``"merged"`` (a new commit was written), ``"fast_forward"`` (the branch now
    points at their head), ``"up_to_date"`` (nothing to do) or ``"conflict"`` (nothing written;
    see ``conflicts``). ``commit`` is where the target branch points afterwards (None for
    conflicts and previews). ``resolved`` lists the conflicts a strategy or resolution settled.
    ``diff`` (previews only) holds the changes the target branch would see.
    """

    status: MergeStatus
    commit: Commit | None = None
    conflicts: list[Conflict] = field(default_factory=list)
    base: Commit | None = None
    source: Commit | None = None
    target: Commit | None = None
    resolved: list[Conflict] = field(default_factory=list)
    diff: Diff | None = None
    dry_run: bool = False
    violations: list[Violation] = field(default_factory=list)
    """Previews only: the schema violations the merge would cause (it would be refused)."""

    @property
    def ok(self) -> bool:
        """True unless the merge stopped on conflicts."""
        return self.status != "conflict"


# -- descriptions returned by administration methods ----------------------------------------
@dataclass(frozen=True, slots=True)
class IndexInfo:
    """A declared index: on ``field`` of the entities of type ``type`` or of the documents of
    collection ``type`` (``element`` says which)."""

    name: str
    element: str
    type: str
    field: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "element": self.element, "type": self.type,
                "field": self.field}


@dataclass(frozen=True, slots=True)
class ViewInfo:
    """A materialized view: its name, what it reads, its query (the JSON form ``{"where",
    "select", "order_by"}``; ``palimpsest.Query.of(info.query)`` rebuilds it), and the last
    commit seq it has been brought up to."""

    name: str
    element: str
    type: str
    query: dict[str, JSON]
    synced_seq: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "element": self.element, "type": self.type,
                "query": self.query, "synced_seq": self.synced_seq}


@dataclass(frozen=True, slots=True)
class Erasure:
    """One erasure: which element, why, by whom, when, how many stored versions it blanked,
    and the id of the commit that records it in the log."""

    id: int
    element: str
    key: str
    collection: str | None
    reason: str
    author: str
    timestamp: datetime
    rows: int
    commit: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "element": self.element, "key": self.key,
                "collection": self.collection, "reason": self.reason, "author": self.author,
                "timestamp": self.timestamp.isoformat(), "rows": self.rows,
                "commit": self.commit}


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How much history of the branches matching ``pattern`` stays readable: the last
    ``keep_us`` microseconds of time and/or the last ``keep_commits`` commits."""

    pattern: str
    keep_us: int | None
    keep_commits: int | None

    @property
    def keep(self) -> timedelta | None:
        return timedelta(microseconds=self.keep_us) if self.keep_us is not None else None

    def to_dict(self) -> dict[str, object]:
        return {"pattern": self.pattern, "keep_seconds": (self.keep_us // 1_000_000
                                                          if self.keep_us is not None else None),
                "keep_commits": self.keep_commits}


BackupFormat = Literal["sqlite", "archive"]


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """Where a backup went, in which format, how big it is and whether fsck passed on it."""

    path: str
    format: BackupFormat
    commits: int
    bytes: int
    verified: bool

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "format": self.format, "commits": self.commits,
                "bytes": self.bytes, "verified": self.verified}


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What a copy wrote: counts, and the head commit id of every branch (equal on both
    sides)."""

    url: str
    commits: int
    rows: int
    records: int
    heads: dict[str, str | None]

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "commits": self.commits, "rows": self.rows,
                "records": self.records, "heads": dict(self.heads)}


# -- sync (docs/sync.md) ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Remote:
    """Another repository this one fetches from and pushes to: a SQLite path, a
    ``postgresql://`` URL or an ``http(s)://`` server (its token is not shown)."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a clone, fetch, pull or push moved: the commits sent (or received) and already
    present, their rows, the bytes of the pack, and each ref it set (name -> commit id, None
    for an empty branch). ``status``: ``"up_to_date"``, ``"updated"``, or for a pull the merge's
    status (``"fast_forward"``, ``"merged"``, ``"conflict"``)."""

    remote: str
    status: str
    commits: int
    skipped: int
    rows: int
    bytes: int
    refs: dict[str, str | None]


# -- search (docs/search.md) -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TextIndex:
    """A declared full-text index: the ``fields`` of the entities of ``type`` or of the
    documents of collection ``type`` (``element`` says which)."""

    name: str
    element: str
    type: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VectorIndex:
    """A declared vector property: ``property`` of the entities of ``type`` (or documents of
    collection ``type``) holds an array of ``dimensions`` numbers, compared by ``metric``
    (``"cosine"``, ``"l2"`` or ``"dot"``)."""

    name: str
    element: str
    type: str
    property: str
    dimensions: int
    metric: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One element found by a full-text search: its ``score`` (higher is better: BM25 on
    SQLite, ``ts_rank`` on PostgreSQL) and, per field that matched, its text with each
    matching token marked ``<mark>…</mark>`` (long texts cut around the first match)."""

    element: Entity | Document
    score: float
    highlights: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SimilarHit:
    """One element found by a similarity search: its ``distance`` to the query vector
    (smaller is nearer: ``1 - cosine`` for cosine, Euclidean for l2, ``-dot`` for dot)."""

    element: Entity | Document
    distance: float


@dataclass(frozen=True, slots=True)
class CypherResult:
    """The answer of a Cypher query (``View.cypher``): column names and rows of values, each
    a JSON value (``1``, ``1.0`` and ``true`` stay apart), an :class:`Entity` (a node), a
    :class:`Relation` (a relationship), a list of them, or ``None`` (Cypher's null)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Each row as a dict by column name."""
        return (dict(zip(self.columns, row, strict=True)) for row in self.rows)

    def __len__(self) -> int:
        return len(self.rows)


# -- maintenance reports -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Problem:
    """One integrity problem: which check found it, where, and what is wrong."""

    check: str
    """row-hash, erasure, orphan-row, row-shape, commit-id, state-hash, parent, line, ref,
    head, pruned, superseded, or index (the engine's own check of indexes and pages)."""
    message: str
    rid: int | None = None
    seq: int | None = None
    name: str | None = None

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        return {"check": self.check, "message": self.message, "rid": self.rid, "seq": self.seq,
                "name": self.name}


@dataclass(frozen=True, slots=True)
class FsckReport:
    """What fsck checked and every problem found (empty ``problems`` means healthy)."""

    rows: int = 0
    commits: int = 0
    refs: int = 0
    pruned_commits: int = 0
    erased_rows: int = 0
    problems: list[str] = field(default_factory=list)
    details: list[Problem] = field(default_factory=list)
    engine_check: str | None = None
    """How the engine checked indexes (``integrity_check``, ``amcheck``, ``index-scan
    comparison``), or None when it did not run (``last=N``)."""
    unchecked_indexes: list[str] = field(default_factory=list)
    repaired_indexes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def rids(self, check: str | None = None) -> set[int]:
        """Row ids with problems (of one check)."""
        return {p.rid for p in self.details
                if p.rid is not None and (check is None or p.check == check)}

    def seqs(self, check: str | None = None) -> set[int]:
        """Commit seqs with problems (of one check)."""
        return {p.seq for p in self.details
                if p.seq is not None and p.rid is None and (check is None or p.check == check)}

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "rows": self.rows, "commits": self.commits, "refs": self.refs,
                "pruned_commits": self.pruned_commits, "erased_rows": self.erased_rows,
                "problems": self.problems, "details": [p.to_dict() for p in self.details],
                "engine_check": self.engine_check, "unchecked_indexes": self.unchecked_indexes,
                "repaired_indexes": self.repaired_indexes}


@dataclass(frozen=True, slots=True)
class GcReport:
    """What one gc run did (or, with ``dry_run``, would do)."""

    commits_pruned: int = 0
    rows_deleted: int = 0
    rows_kept: int = 0
    readable_commits: int = 0
    horizons: dict[str, str | None] = field(default_factory=dict)
    """Branch -> id of its horizon commit (None: the whole history is kept)."""
    dry_run: bool = False
    vacuumed: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"commits_pruned": self.commits_pruned, "rows_deleted": self.rows_deleted,
                "rows_kept": self.rows_kept, "readable_commits": self.readable_commits,
                "horizons": self.horizons, "dry_run": self.dry_run, "vacuumed": self.vacuumed}
