"""Provenance records: where a fact came from, stored beside the row, not in its value.

A record is a JSON object (``{"source": "doc-17", "span": [120, 180], "extractor":
"model-x", "confidence": 0.83}``; every field optional, ``source`` a string when given). The
``provenance`` table keeps each distinct record once, keyed by the BLAKE2b hash of its
canonical JSON, with ``source`` copied out for filters; a row points at its record through
``rows.provenance``. A record is not part of the row's value hash, so the state hash and
commit ids do not depend on it (docs/provenance.md says what diff, merge and blame make of
that). Records are interned by the writer with ``INSERT … ON CONFLICT (hash) DO NOTHING``
(ids from the table's identity column), so no lock is taken: two writers interning the same
new record meet on the unique index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..codec import check_json, decode, encode
from ..errors import InvalidValue
from ..storage.base import Database

Record = dict[str, Any]


def check(value: Mapping[str, Any] | None, what: str = "provenance") -> str | None:
    """The canonical JSON text of a provenance record (None for None); InvalidValue when it is
    not a JSON object or its ``source`` is not a non-empty string."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidValue(f"{what} must be a dict such as {{'source': 'doc-17'}}, not "
                           f"{type(value).__name__}")
    record = dict(value)
    if not record:
        raise InvalidValue(f"{what} is empty; pass None for no provenance")
    check_json(record, what)
    source = record.get("source")
    if "source" in record and (not isinstance(source, str) or not source):
        raise InvalidValue(f"{what}: 'source' must be a non-empty string, not {source!r}")
    return encode(record)


def merged(base: Mapping[str, Any] | None, extra: Mapping[str, Any] | None
           ) -> dict[str, Any] | None:
    """A ``tx.provenance(...)`` block's record with a write's own fields over it."""
    if base is None and extra is None:
        return None
    if extra is not None and not isinstance(extra, Mapping):
        check(extra)  # raises with the message
    return {**(base or {}), **(extra or {})}


class Blocks:
    """The open ``with tx.provenance(...)`` blocks of one transaction (embedded or remote):
    :attr:`current` is the record their fields make, innermost last."""

    def __init__(self) -> None:
        self.current: dict[str, Any] | None = None

    @contextmanager
    def open(self, fields: Mapping[str, Any]) -> Iterator[None]:
        before = self.current
        record = merged(before, fields)
        check(record)
        self.current = record
        try:
            yield
        finally:
            self.current = before

    def text(self, provenance: Mapping[str, Any] | None) -> str | None:
        """The canonical text of a write's record: its own fields over the blocks'."""
        return check(merged(self.current, provenance))


def _hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=32).digest()


def intern(db: Database, texts: Iterable[str]) -> dict[str, int]:
    """The record id of each canonical text, inserting the missing ones (the caller holds
    ``db.write()``)."""
    wanted = {text: _hash(text) for text in dict.fromkeys(texts)}
    if not wanted:
        return {}
    by_hash = {h: t for t, h in wanted.items()}
    out = _ids(db, by_hash)
    missing = [t for t in wanted if t not in out]
    if missing:
        inserts = []
        for text in missing:
            source = decode(text).get("source")
            inserts.append((wanted[text], source if isinstance(source, str) else None, text))
        db.many("INSERT INTO provenance (hash, source, value) VALUES (?, ?, ?) "
                "ON CONFLICT (hash) DO NOTHING", inserts)
        out |= _ids(db, {wanted[t]: t for t in missing})
    return out


def _ids(db: Database, by_hash: dict[bytes, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    hashes = list(by_hash)
    for start in range(0, len(hashes), 500):
        chunk = hashes[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for rid, digest in db.all(f"SELECT id, hash FROM provenance WHERE hash IN ({marks})",
                                  chunk):
            out[by_hash[bytes(digest)]] = int(rid)
    return out


def records(db: Database, ids: Iterable[int | None]) -> dict[int, Record]:
    """The records of ``ids`` (None and unknown ids are left out)."""
    wanted = sorted({int(i) for i in ids if i is not None})
    out: dict[int, Record] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for rid, text in db.all(f"SELECT id, value FROM provenance WHERE id IN ({marks})",
                                chunk):
            out[int(rid)] = decode(text)
    return out


def record(db: Database, rid: int | None) -> Record | None:
    return records(db, [rid]).get(rid) if rid is not None else None


def text_of(db: Database, rid: int | None) -> str | None:
    """The canonical JSON text of one record (archives copy it as it is)."""
    if rid is None:
        return None
    row = db.one("SELECT value FROM provenance WHERE id = ?", (rid,))
    return str(row[0]) if row else None


def source_filter(source: str | Sequence[str], alias: str = "r") -> tuple[str, list[Any]]:
    """SQL true for rows whose provenance record has ``source`` (one name, or any of several)."""
    names = [source] if isinstance(source, str) else list(source)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise InvalidValue(f"source must be a non-empty string (or a list of them), not "
                           f"{source!r}")
    marks = ",".join("?" * len(names))
    return (f"{alias}.provenance IN (SELECT p.id FROM provenance p WHERE p.source IN "
            f"({marks}))"), names
