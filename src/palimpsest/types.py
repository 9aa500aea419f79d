"""Frozen value types returned by the public API.

They are plain data: a View or Repository builds them from stored rows and never keeps a
reference back, so they can be passed around, compared and serialised freely.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeAlias

from .codec import json_equal

JSON: TypeAlias = Any
"""A JSON value: str, int, finite float, bool, None, list or dict with string keys."""

ElementKind = Literal["entity", "relation", "document", "kv"]
ChangeKind = Literal["created", "modified", "deleted"]


@dataclass(frozen=True, slots=True)
class Entity:
    """A node of the graph: an id, a type and JSON properties."""

    id: str
    type: str
    props: dict[str, JSON] = field(default_factory=dict)

    def to_dict(self) -> dict[str, JSON]:
        return {"type": self.type, "props": self.props}


@dataclass(frozen=True, slots=True)
class Relation:
    """A directed, typed edge between two entities, with its own properties."""

    id: str
    type: str
    source: str
    target: str
    props: dict[str, JSON] = field(default_factory=dict)

    def to_dict(self) -> dict[str, JSON]:
        return {"type": self.type, "source": self.source, "target": self.target,
                "props": self.props}


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

    def to_dict(self) -> dict[str, JSON]:
        return {
            "id": self.id, "parents": list(self.parents), "author": self.author,
            "message": self.message, "timestamp": self.timestamp.isoformat(),
            "metadata": self.metadata, "stats": self.stats.to_dict(),
            "state_hash": self.state_hash,
        }


@dataclass(frozen=True, slots=True)
class Change:
    """One element changed by a commit or between two versions: its old and new value."""

    kind: ChangeKind
    element: ElementKind
    id: str
    old: Any
    new: Any
    collection: str | None = None

    def property_changes(self) -> dict[str, tuple[JSON, JSON]]:
        """Per property (or top-level document field): ``(old, new)``; missing is ``None``.

        Type, source and target changes of entities and relations appear as ``@type``,
        ``@source`` and ``@target``. A document that is not an object on both sides shows
        as one ``@value`` field. Values are compared as JSON: ``1`` → ``1.0`` or ``true``,
        and ``0.0`` → ``-0.0``, are changes, at any depth.
        """
        return property_changes(self.old, self.new)

    def to_dict(self) -> dict[str, JSON]:
        return {
            "kind": self.kind, "element": self.element, "id": self.id,
            "collection": self.collection,
            "old": _element_json(self.old), "new": _element_json(self.new),
        }


SHAPE_FIELDS = ("@type", "@source", "@target")
"""The fields of an entity or relation that are not properties (``@``-names are reserved)."""


def element_fields(value: Any, *, whole: bool = False) -> dict[str, JSON]:
    """An element as one flat dict of fields, the unit of diffs and merges: properties plus
    ``@type``, ``@source``, ``@target``; a document's top-level fields, or its whole value as
    ``@value`` when it is not an object (or ``whole``)."""
    if value is None:
        return {}
    if isinstance(value, Entity):
        return {**value.props, "@type": value.type}
    if isinstance(value, Relation):
        return {**value.props, "@type": value.type, "@source": value.source,
                "@target": value.target}
    if isinstance(value, Document):
        if isinstance(value.value, dict) and not whole:
            return dict(value.value)
        return {"@value": value.value}
    return {"@value": value}


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


def _element_json(value: Any) -> JSON:
    if value is None:
        return None
    if isinstance(value, Entity | Relation | Document):
        return value.to_dict()
    return value


@dataclass(frozen=True, slots=True)
class Version:
    """One version of an element in its history: the commit and what it did."""

    commit: Commit
    kind: ChangeKind
    value: Any
    origin: str | None = None
    """For values brought in by a merge or cherry-pick, the id of the commit that made them."""


@dataclass(frozen=True, slots=True)
class Blame:
    """The commit that last set one property to its current value."""

    property: str
    value: JSON
    commit: Commit
    origin: str | None = None


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

    def to_dict(self) -> dict[str, JSON]:
        return {"element": self.element, "id": self.id, "collection": self.collection,
                "property": self.property, "base": self.base, "ours": self.ours,
                "theirs": self.theirs, "reason": self.reason}


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

    def to_dict(self) -> dict[str, JSON]:
        import base64
        return {"key": self.key, "value": base64.b64encode(self.value).decode(),
                "version": self.version, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat(), "commit": self.commit}


KVEventType = Literal["created", "updated", "deleted", "resync"]
"""``resync``: the watch started before the retention horizon; per-key changes up to
``commit`` were compacted away, so re-read the state at ``commit`` (a snapshot), then apply
the events that follow."""


@dataclass(frozen=True, slots=True)
class KVEvent:
    """One change to a watched key: what happened, the new value and version (None / 0 when
    deleted), and the commit that made it."""

    type: KVEventType
    key: str
    value: bytes | None
    version: int
    commit: Commit

    def to_dict(self) -> dict[str, JSON]:
        import base64
        return {"type": self.type, "key": self.key,
                "value": None if self.value is None else base64.b64encode(self.value).decode(),
                "version": self.version, "commit": self.commit.id}
