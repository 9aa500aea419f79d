"""Stored rows <-> element values, with hash verification on every read.

Each element kind is stored in the one ``rows`` table: entities keep their type in ``type``,
relations also ``source`` and ``target``, documents use the collection as ``type`` and
``collection + "\\x1f" + key`` as their key, key-value entries their path.
"""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

from ..codec import DOC_SEP, content_hash, decode, encode, from_us
from ..errors import CorruptObject
from ..storage.visibility import StoredRow
from ..types import Document, ElementKind, Entity, Relation

PUT, DELETE = 1, 0

ERASED = "!erased "
"""Prefix of the value of an erased row. Canonical JSON never starts with ``!``, so an erased
row cannot be mistaken for data; the row keeps the hash of the value it had."""


def is_erased(value: str | None) -> bool:
    return value is not None and value.startswith(ERASED)


def erased_value(info: dict[str, Any]) -> str:
    """The stored value of an erased row: the marker and who erased it, when and why."""
    return ERASED + encode(info)


def tombstone(value: str) -> dict[str, Any]:
    """``{"@erased": {"by", "at", "reason", "erasure"}}``: what reads of an erased row return
    in place of the properties (entities, relations) or value (documents, kv)."""
    info = decode(value[len(ERASED):])
    return {"@erased": info}


class Write(NamedTuple):
    """One element change waiting to become a row of a commit (a named tuple: immutable, and
    built several times faster than a frozen dataclass, which bulk writes feel)."""

    kind: str
    key: str
    op: int
    type: str | None = None
    source: str | None = None
    target: str | None = None
    value: str | None = None
    origin: int | None = None
    stored_hash: bytes | None = None
    """For a copy of a stored row (rollback, merge, cherry-pick): the row's hash, kept rather
    than recomputed (an erased row keeps the erased value's; a damaged value stays detectably
    damaged instead of getting a new hash that matches it)."""
    valid_from: int | None = None
    """The valid-time interval ``[valid_from, valid_to)`` in microseconds (None: open)."""
    valid_to: int | None = None
    provenance: int | str | None = None
    """Where the fact came from: a stored record's id (a copied row), or the canonical JSON
    text of a new record (``versioning/provenance.py``), interned when the commit is written."""

    @property
    def hash(self) -> bytes | None:
        if self.op == DELETE or self.value is None:
            return None
        if self.stored_hash is not None:
            return self.stored_hash
        return content_hash(self.kind, self.type, self.source, self.target, self.value,
                            self.valid_from, self.valid_to)


def write_from_row(row: StoredRow, *, origin: int | None = None) -> Write:
    """A write that reproduces a stored row (rollback, merge, cherry-pick)."""
    return Write(row.kind, row.key, row.op, row.type, row.source, row.target, row.value,
                 origin if origin is not None else row.origin,
                 bytes(row.hash) if row.hash is not None else None,
                 row.valid_from, row.valid_to, row.provenance)


def row_of_write(write: Write, hash_: bytes | None = None) -> StoredRow:
    """An unsaved write as a row (no rid, line or seq): what reads of pending writes see."""
    return StoredRow(0, write.kind, write.key, 0, 0, write.op, write.type, write.source,
                     write.target, write.value, hash_, write.origin, write.valid_from,
                     write.valid_to,
                     write.provenance if isinstance(write.provenance, int) else None)


def deletion(kind: str, key: str) -> Write:
    return Write(kind, key, DELETE)


def verify(row: StoredRow) -> None:
    """Raise CorruptObject if a stored value does not match its hash."""
    if row.op == DELETE:
        return
    if row.value is None or row.hash is None:
        raise CorruptObject(f"row {row.rid} ({row.kind} {row.key!r}) has no value or hash")
    if is_erased(row.value):
        return  # erased on purpose; fsck checks the erasure record
    expected = content_hash(row.kind, row.type, row.source, row.target, row.value,
                            row.valid_from, row.valid_to)
    if bytes(row.hash) != expected:
        raise CorruptObject(f"stored value of {element_name(row.kind)} {display_key(row)!r} "
                            f"(row {row.rid}, seq {row.seq}) does not match its hash; "
                            "run fsck and restore from a backup")


def element_name(kind: str) -> ElementKind:
    names: dict[str, ElementKind] = {"e": "entity", "r": "relation", "d": "document", "k": "kv"}
    return names[kind]


def doc_key(collection: str, key: str) -> str:
    return collection + DOC_SEP + key


def split_doc_key(key: str) -> tuple[str, str]:
    collection, _, doc = key.partition(DOC_SEP)
    return collection, doc


def display_key(row: StoredRow) -> str:
    if row.kind == "d":
        collection, key = split_doc_key(row.key)
        return f"{collection}/{key}"
    return row.key


def to_value(row: StoredRow | None, *, check: bool = True) -> Any:
    """The element a live row holds (Entity, Relation, Document or kv bytes); None if deleted."""
    if row is None or row.op == DELETE:
        return None
    if check:
        verify(row)
    assert row.value is not None
    data: Any
    if is_erased(row.value):
        data = tombstone(row.value)
        if row.kind == "k":
            return encode(data).encode()
    else:
        data = decode(row.value)
    valid_from = None if row.valid_from is None else from_us(row.valid_from)
    valid_to = None if row.valid_to is None else from_us(row.valid_to)
    if row.kind == "e":
        return Entity(row.key, row.type or "", data, valid_from, valid_to)
    if row.kind == "r":
        return Relation(row.key, row.type or "", row.source or "", row.target or "", data,
                        valid_from, valid_to)
    if row.kind == "d":
        collection, key = split_doc_key(row.key)
        return Document(collection, key, data)
    return base64.b64decode(data)


def public_id(kind: str, key: str) -> tuple[str, str | None]:
    """(id, collection) as shown to users for a stored key."""
    if kind == "d":
        collection, doc = split_doc_key(key)
        return doc, collection
    return key, None
