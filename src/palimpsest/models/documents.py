"""The document model: collections of JSON values, read at any state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..codec import decode
from ..storage.base import Database
from ..storage.cache import copy_json, read_through
from ..storage.visibility import Chain, read_row, scan
from ..types import Document
from ..versioning.elements import doc_key, is_erased, to_value


def document(db: Database, chain: Chain, collection: str, key: str) -> Document | None:
    """The document at the chain's state (served by the read cache when it holds it)."""
    stored = doc_key(collection, key)

    def load() -> tuple[Any, int, Any]:  # see graph._load
        row = read_row(db, chain, "d", stored)
        value = to_value(row)  # hash-checked
        if row is None or value is None:
            return None, 0, None
        if is_erased(row.value):
            return (value,), len(row.value or ""), to_value(row)
        return (value.collection, value.key, row.value), len(row.value or ""), value

    value = read_through(db, "d", stored, chain, load, _copy)
    return value if isinstance(value, Document) else None


def _copy(cached: Any) -> Document | None:
    if cached is None:
        return None
    if len(cached) == 1:
        old = cached[0]
        return Document(old.collection, old.key, copy_json(old.value))
    return Document(cached[0], cached[1], decode(cached[2]))


def documents(db: Database, chain: Chain, collection: str, *, limit: int | None = None,
              offset: int = 0) -> Iterator[Document]:
    for row in scan(db, chain, "d", type_=collection, limit=limit, offset=offset):
        yield to_value(row)


def collections(db: Database, chain: Chain) -> list[str]:
    """Names of collections holding at least one document at this state."""
    names = [r[0] for r in db.all("SELECT DISTINCT type FROM rows WHERE kind = 'd' AND type IS NOT NULL")]
    return sorted(n for n in names if next(scan(db, chain, "d", type_=n, limit=1), None))
