"""The document model: collections of JSON values, read at any state."""

from __future__ import annotations

from collections.abc import Iterator

from ..storage.base import Database
from ..storage.visibility import Chain, read_row, scan
from ..types import Document
from ..versioning.elements import doc_key, to_value


def document(db: Database, chain: Chain, collection: str, key: str) -> Document | None:
    value = to_value(read_row(db, chain, "d", doc_key(collection, key)))
    return value if isinstance(value, Document) else None


def documents(db: Database, chain: Chain, collection: str, *, limit: int | None = None,
              offset: int = 0) -> Iterator[Document]:
    for row in scan(db, chain, "d", type_=collection, limit=limit, offset=offset):
        yield to_value(row)


def collections(db: Database, chain: Chain) -> list[str]:
    """Names of collections holding at least one document at this state."""
    names = [r[0] for r in db.all("SELECT DISTINCT type FROM rows WHERE kind = 'd' AND type IS NOT NULL")]
    return sorted(n for n in names if next(scan(db, chain, "d", type_=n, limit=1), None))
