"""The one visibility rule: what state a commit sees.

A commit's *chain* is its line and that line's ancestors, each with the highest seq visible from
it: ``((line, seq), (parent, fork_seq), …)``, tip first. For every key, the state at the commit
is the row with the highest seq inside the chain, unless that row is a deletion.

Within one line, ``superseded`` (the seq of the next row for the same key on that line) lets a
scan test a row alone: it is the latest of its line up to ``seq`` when
``seq <= bound < superseded``. A row on an ancestor line is also hidden when a nearer line of the
chain has a row for the key; that set of keys is small (a branch's own changes), so SQL
materialises it once per query. Every read of elements — point reads, scans by type, adjacency,
listings, exports — builds its SQL here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from ..codec import check_count
from .base import Database

Chain = tuple[tuple[int, int], ...]
"""((line, max visible seq), …), tip first."""

COLUMNS = "r.rid, r.kind, r.key, r.line, r.seq, r.op, r.type, r.source, r.target, r.value, " \
          "r.hash, r.origin"


class StoredRow(NamedTuple):
    rid: int
    kind: str
    key: str
    line: int
    seq: int
    op: int
    type: str | None
    source: str | None
    target: str | None
    value: str | None
    hash: bytes | None
    origin: int | None


def in_chain(chain: Chain, alias: str = "r") -> tuple[str, list[Any]]:
    """SQL true for rows inside the chain (not yet choosing the latest per key)."""
    parts, params = [], []
    for line, bound in chain:
        parts.append(f"({alias}.line = ? AND {alias}.seq <= ?)")
        params += [line, bound]
    return "(" + " OR ".join(parts) + ")", params


def visible(chain: Chain, kind: str, alias: str = "r", *, table: str = "rows",
            partition: str = "kind", by_position: bool = True) -> tuple[str, list[Any]]:
    """SQL true for the rows of ``kind`` that hold the state at the chain's commit.

    Deletion rows pass too (they hide older rows); callers add ``op = 1`` to get live elements.
    ``table`` / ``partition`` apply the same rule to a derived table shaped like ``rows``
    whose keys are partitioned by that column (the query layer's materialized views).
    ``by_position=False`` keeps the planner from driving the query by the (line, seq) indexes
    (unary ``+``), for queries that another index should drive (adjacency).
    """
    parts: list[str] = []
    params: list[Any] = []
    col = f"{alias}." if by_position else f"+{alias}."
    for i, (line, bound) in enumerate(chain):
        part = (f"({col}line = ? AND {col}seq <= ? AND "
                f"({alias}.superseded IS NULL OR {alias}.superseded > ?)")
        params += [line, bound, bound]
        if i:
            nearer, nearer_params = in_chain(chain[:i], "x")
            part += (f" AND {alias}.key NOT IN (SELECT x.key FROM {table} x "
                     f"WHERE x.{partition} = ? AND {nearer})")
            params += [kind, *nearer_params]
        parts.append(part + ")")
    return "(" + " OR ".join(parts) + ")", params


def read_row(db: Database, chain: Chain, kind: str, key: str) -> StoredRow | None:
    """The row holding ``key`` at the chain's commit (possibly a deletion), or None."""
    where, params = in_chain(chain)
    row = db.one(f"SELECT {COLUMNS} FROM rows r WHERE r.kind = ? AND r.key = ? AND {where} "
                 "ORDER BY r.seq DESC LIMIT 1", [kind, key, *params])
    return StoredRow(*row) if row else None


def read_rows(db: Database, chain: Chain, kind: str, keys: Sequence[str]) -> dict[str, StoredRow]:
    """Point reads of many keys with one query per 500 keys (diffs, merges, batch writes).

    Returns the row holding each key at the chain's commit (possibly a deletion); keys with no
    row are absent from the result.
    """
    out: dict[str, StoredRow] = {}
    where, params = in_chain(chain)
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        marks = ",".join("?" * len(chunk))
        rows = db.all(f"SELECT {COLUMNS} FROM rows r WHERE r.kind = ? AND r.key IN ({marks}) "
                      f"AND {where}", [kind, *chunk, *params])
        for row in rows:
            found = out.get(row[2])
            if found is None or row[4] > found.seq:
                out[row[2]] = StoredRow(*row)
    return out


def read_latest(db: Database, chain: Chain, kind: str, keys: Sequence[str]
                ) -> dict[str, StoredRow]:
    """Like :func:`read_rows`, reading only each key's latest row on each chain line
    (``seq <= bound < superseded``) instead of every version: batch point reads whose cost
    does not grow with a key's history (the kv batch writes)."""
    out: dict[str, StoredRow] = {}
    parts, bounds = [], []
    for line, bound in chain:
        parts.append("(r.line = ? AND r.seq <= ? AND (r.superseded IS NULL OR "
                     "r.superseded > ?))")
        bounds += [line, bound, bound]
    where = "(" + " OR ".join(parts) + ")"
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.all(f"SELECT {COLUMNS} FROM rows r WHERE r.kind = ? AND r.key IN "
                          f"({marks}) AND {where}", [kind, *chunk, *bounds]):
            found = out.get(row[2])
            if found is None or row[4] > found.seq:  # the nearest line has the highest seq
                out[row[2]] = StoredRow(*row)
    return out


def scan(db: Database, chain: Chain, kind: str, *, type_: str | None = None,
         extra: str = "", extra_params: Sequence[Any] = (), order: str = "r.key",
         limit: int | None = None, offset: int = 0, hint: str = "") -> Iterator[StoredRow]:
    """Live rows of ``kind`` (optionally one type or collection) at the chain's commit.

    ``extra`` is an SQL filter on ``r``; ``hint`` goes after ``FROM rows r`` (the dialect's
    ``index_hint`` for a declared query index)."""
    where, params = visible(chain, kind)
    sql = f"SELECT {COLUMNS} FROM rows r {hint} WHERE r.kind = ? AND r.op = 1 AND {where}"
    args: list[Any] = [kind, *params]
    if type_ is not None:
        sql += " AND r.type = ?"
        args.append(type_)
    if extra:
        sql += f" AND ({extra})"
        args += list(extra_params)
    sql += f" ORDER BY {order}"
    if limit is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        args += [2**63 - 1 if limit is None else check_count(limit, "limit"),  # no limit,
                 check_count(offset, "offset")]                              # in both dialects
    for row in db.iterate(sql, args):
        yield StoredRow(*row)


def scan_hashes(db: Database, chain: Chain, kind: str) -> dict[str, bytes | None]:
    """``{key: hash}`` of the live rows of ``kind`` at the chain's commit.

    What a versioned import compares a new release against: the hash covers kind, type,
    endpoints and value, so equal hashes mean an unchanged element and the stored values need
    not be read, decoded or re-hashed. An erased row (its value starts with ``!``, which
    canonical JSON never does) maps to None: it equals nothing, so a re-import rewrites it."""
    where, params = visible(chain, kind)
    rows = db.iterate(
        "SELECT r.key, CASE WHEN substr(r.value, 1, 1) = '!' THEN NULL ELSE r.hash END "
        f"FROM rows r WHERE r.kind = ? AND r.op = 1 AND {where}", [kind, *params])
    return {key: (bytes(hash_) if hash_ is not None else None) for key, hash_ in rows}


def count(db: Database, chain: Chain, kind: str, *, type_: str | None = None) -> int:
    where, params = visible(chain, kind)
    sql = f"SELECT count(*) FROM rows r WHERE r.kind = ? AND r.op = 1 AND {where}"
    args: list[Any] = [kind, *params]
    if type_ is not None:
        sql += " AND r.type = ?"
        args.append(type_)
    row = db.one(sql, args)
    return int(row[0]) if row else 0


def adjacent(db: Database, chain: Chain, ids: Sequence[str], *, column: str,
             rel_type: str | None = None) -> list[StoredRow]:
    """Live relations whose ``column`` (``source`` or ``target``) is one of ``ids``."""
    if column not in ("source", "target") or not ids:
        return []
    out: list[StoredRow] = []
    where, params = visible(chain, "r", by_position=False)
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        marks = ",".join("?" * len(chunk))
        sql = (f"SELECT {COLUMNS} FROM rows r WHERE r.{column} IN ({marks}) AND +r.kind = 'r' "
               f"AND r.op = 1 AND {where}")
        args: list[Any] = [*chunk, *params]
        if rel_type is not None:
            sql += " AND r.type = ?"
            args.append(rel_type)
        out += [StoredRow(*row) for row in db.all(sql, args)]
    return out


def divergent(a: Chain, b: Chain, alias: str = "r") -> tuple[str, list[Any]] | None:
    """SQL true for rows in one chain and not the other (None when the chains are equal).

    Two chains share their common lines up to the lower bound; only rows above it (the
    segments after the histories diverge) can make the states differ, so what this selects is
    O(changes).
    """
    bounds_a, bounds_b = dict(a), dict(b)
    parts, params = [], []
    for line in bounds_a.keys() | bounds_b.keys():
        lo, hi = sorted((bounds_a.get(line, 0), bounds_b.get(line, 0)))
        if lo < hi:
            parts.append(f"({alias}.line = ? AND {alias}.seq > ? AND {alias}.seq <= ?)")
            params += [line, lo, hi]
    return ("(" + " OR ".join(parts) + ")", params) if parts else None


def changed_keys(db: Database, a: Chain, b: Chain) -> list[tuple[str, str]]:
    """(kind, key) of every row in one chain and not the other: the keys that can differ."""
    segments = divergent(a, b)
    if segments is None:
        return []
    where, params = segments
    rows = db.all(f"SELECT DISTINCT r.kind, r.key FROM rows r WHERE {where}", params)
    return sorted((str(k), str(key)) for k, key in rows)


def rows_at_both(db: Database, a: Chain, b: Chain
                 ) -> list[tuple[str, str, StoredRow | None, StoredRow | None]]:
    """For every key that can differ between two states: ``(kind, key, row at a, row at b)``.

    Reads the rows of the segments only one chain sees, once. Those segments lie after the
    chains diverged, so their rows are newer than anything both chains see: the newest of them
    for a key is that key's visible row on that side. Only the other side needs a lookup,
    batched. This is the O(changes) core of diff and rollback.
    """
    segments = divergent(a, b)
    if segments is None:
        return []
    where, params = segments
    bounds_a, bounds_b = dict(a), dict(b)
    only: tuple[dict[tuple[str, str], StoredRow], dict[tuple[str, str], StoredRow]] = ({}, {})
    for raw in db.all(f"SELECT {COLUMNS} FROM rows r WHERE {where}", params):
        row = StoredRow(*raw)
        side = only[0] if bounds_a.get(row.line, 0) > bounds_b.get(row.line, 0) else only[1]
        ident = (row.kind, row.key)
        seen = side.get(ident)
        if seen is None or row.seq > seen.seq:
            side[ident] = row
    keys = sorted(only[0].keys() | only[1].keys())
    found: list[dict[tuple[str, str], StoredRow]] = [dict(only[0]), dict(only[1])]
    for index, chain in ((0, a), (1, b)):
        missing: dict[str, list[str]] = {}
        for kind, key in keys:
            if (kind, key) not in only[index]:
                missing.setdefault(kind, []).append(key)
        for kind, names in missing.items():
            for key, row in read_rows(db, chain, kind, names).items():
                found[index][(kind, key)] = row
    return [(kind, key, found[0].get((kind, key)), found[1].get((kind, key)))
            for kind, key in keys]
