"""Erasure: removing an element's values from every version while history stays verifiable.

Each row that ever held a value of the element gets a tombstone in place of its value
(:data:`~palimpsest.versioning.elements.ERASED` followed by who erased it, when and why) and
keeps its stored hash. Commit ids and state hashes are built from hashes, never from values,
so they stay valid and fsck still passes; reads return the tombstone
(``{"@erased": {...}}`` as the properties or value) instead of raising CorruptObject. The
``erasures`` table is the audit record fsck checks every tombstone against; the caller also
writes an empty commit whose metadata names the erasure, so it appears in the log.

Ids, types and relation endpoints are part of keys and hashes and are not erased: keep
personal data in properties and document values, not in ids.
"""

from __future__ import annotations

from typing import Any

from ..codec import from_us, now_us
from ..errors import InvalidValue, NotFound
from ..storage.base import Database
from ..storage.cache import bump_rewrites
from ..types import Erasure
from ..versioning import provenance, search_index
from ..versioning.commits import id_text
from ..versioning.elements import ERASED, PUT, element_name, erased_value, public_id


def stored_key(db: Database, keys: list[tuple[str, str]]) -> tuple[str, str]:
    """The first of ``keys`` (kind, key) that has stored rows, else the first."""
    return next((k for k in keys if db.one(
        "SELECT 1 FROM rows WHERE kind = ? AND key = ? LIMIT 1", k)), keys[0])


def erase_rows(db: Database, kind: str, key: str, *, reason: str, author: str,
               only: tuple[str, list[Any]] = ("1 = 1", [])) -> Erasure:
    """Blank every stored value of one element (all lines, all versions; ``only``: the rows
    an SQL condition on ``rows`` keeps). The caller holds ``db.write()`` and records the audit
    commit (then :func:`link_commit`)."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidValue("erase needs a reason (it is kept in the audit record)")
    if len(reason) > 10_000:
        raise InvalidValue("the erasure reason is longer than 10,000 characters")
    found = db.one("SELECT count(*) FROM rows WHERE kind = ? AND key = ?", (kind, key))
    if not found or not found[0]:
        ident, collection = public_id(kind, key)
        where = f"{collection}/{ident}" if collection else ident
        raise NotFound(f"no {element_name(kind)} {where!r} in any version; nothing to erase")
    row = db.one("SELECT coalesce(max(id), 0) + 1 FROM erasures")
    number = int(row[0]) if row else 1
    time_us = now_us()
    marker = erased_value({"by": author, "at": from_us(time_us).isoformat(),
                           "reason": reason, "erasure": number})
    changed = db.run("UPDATE rows SET value = ? WHERE kind = ? AND key = ? AND op = ? AND "
                     f"value NOT LIKE ? AND {only[0]}",
                     (marker, kind, key, PUT, ERASED + "%", *only[1]))
    bump_rewrites(db)  # read caches in every process forget the erased values
    search_index.forget(db, kind, key)  # erased text and vectors must not stay searchable
    db.run("INSERT INTO erasures (id, kind, key, reason, author, time_us, row_count) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)", (number, kind, key, reason, author, time_us, changed))
    ident, collection = public_id(kind, key)
    return Erasure(number, element_name(kind), ident, collection, reason, author,
                   from_us(time_us), changed)


def source_keys(db: Database, source: str) -> tuple[list[tuple[str, str]], tuple[str, list[Any]]]:
    """The elements with a stored value from provenance ``source`` (any line, any version),
    and the SQL condition that picks those rows."""
    sql, args = provenance.source_filter(source, alias="rows")
    keys = [(str(k), str(key)) for k, key in db.all(
        f"SELECT DISTINCT kind, key FROM rows WHERE op = {PUT} AND value NOT LIKE ? AND {sql} "
        "ORDER BY kind, key", [ERASED + "%", *args])]
    if not keys:
        raise NotFound(f"no stored value came from source {source!r}; nothing to erase")
    return keys, (sql, args)


def link_commit(db: Database, erasure: Erasure, seq: int, commit_id: str) -> Erasure:
    db.run("UPDATE erasures SET commit_seq = ? WHERE id = ?", (seq, erasure.id))
    return Erasure(erasure.id, erasure.element, erasure.key, erasure.collection, erasure.reason,
                   erasure.author, erasure.timestamp, erasure.rows, commit_id)


def erasures(db: Database) -> list[Erasure]:
    """Every erasure, oldest first."""
    out = []
    for number, kind, key, reason, author, time_us, count, seq in db.all(
            "SELECT e.id, e.kind, e.key, e.reason, e.author, e.time_us, e.row_count, "
            "e.commit_seq FROM erasures e ORDER BY e.id"):
        ident, collection = public_id(kind, key)
        cid = None
        if seq is not None:
            found = db.one("SELECT id FROM commits WHERE seq = ?", (seq,))
            cid = id_text(found[0]) if found else None
        out.append(Erasure(int(number), element_name(kind), ident, collection, reason, author,
                           from_us(time_us), int(count), cid))
    return out


def scrub(db: Database) -> bool:
    """Best effort to drop old copies of erased values from the engine's files (SQLite: the
    write-ahead log); returns True when the engine reported success."""
    return db.truncate_log()
