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

from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from ..codec import check_count, from_us
from ..errors import InvalidValue
from .base import Database
from .counts import count_at

Chain = tuple[tuple[int, int], ...]
"""((line, max visible seq), …), tip first."""

COLUMNS = "r.rid, r.kind, r.key, r.line, r.seq, r.op, r.type, r.source, r.target, r.value, " \
          "r.hash, r.origin, r.valid_from, r.valid_to, r.provenance"


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
    valid_from: int | None = None
    valid_to: int | None = None
    provenance: int | None = None
    """The id of the row's provenance record (``versioning/provenance.py``), if any."""


Window = tuple[int, int]
"""A valid-time window ``[lo, hi)`` in microseconds: the rows whose interval overlaps it.
``View.valid_at(t)`` is ``(t, t + 1)``, ``View.valid_between(a, b)`` is ``(a, b)``."""


def check_window(start: int, end: int) -> Window:
    """``[start, end)`` as a window; raises InvalidValue unless ``start < end``."""
    if start >= end:
        raise InvalidValue(f"valid_between: the start ({show_time(start)}) must come before "
                           f"the end ({show_time(end)}); for one instant use valid_at")
    return start, end


def show_window(window: Window) -> str:
    """A window as text: ``at T`` for one instant, else ``[A, B)``."""
    if window[1] == window[0] + 1:
        return f"at {show_time(window[0])}"
    return f"[{show_time(window[0])}, {show_time(window[1])})"


def show_time(time_us: int) -> str:
    return from_us(time_us).isoformat()


def in_window(window: Window | None, alias: str = "r") -> tuple[str, list[Any]]:
    """SQL true for rows whose valid-time interval overlaps ``window`` (a NULL end is open),
    ``""`` without a window. A filter on the visible rows, never a choice between versions:
    the state at a commit is decided first, valid time then narrows it."""
    if window is None:
        return "", []
    return (f"({alias}.valid_from IS NULL OR {alias}.valid_from < ?) AND "
            f"({alias}.valid_to IS NULL OR {alias}.valid_to > ?)"), [window[1], window[0]]


def row_in_window(row: StoredRow | None, window: Window | None) -> bool:
    """:func:`in_window` for one row already read (point reads)."""
    if row is None or window is None:
        return row is not None
    return ((row.valid_from is None or row.valid_from < window[1])
            and (row.valid_to is None or row.valid_to > window[0]))


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
         limit: int | None = None, offset: int = 0, hint: str = "",
         window: Window | None = None) -> Iterator[StoredRow]:
    """Live rows of ``kind`` (optionally one type or collection) at the chain's commit.

    ``extra`` is an SQL filter on ``r``; ``hint`` goes after ``FROM rows r`` (the dialect's
    ``index_hint`` for a declared query index); ``window`` keeps the rows valid in it."""
    where, params = visible(chain, kind)
    sql = f"SELECT {COLUMNS} FROM rows r {hint} WHERE r.kind = ? AND r.op = 1 AND {where}"
    args: list[Any] = [kind, *params]
    if type_ is not None:
        sql += " AND r.type = ?"
        args.append(type_)
    valid, valid_params = in_window(window)
    if valid:
        sql += f" AND {valid}"
        args += valid_params
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


def count(db: Database, chain: Chain, kind: str, *, type_: str | None = None,
          window: Window | None = None) -> int:
    """Live elements of ``kind`` at the chain's commit; of one type and not narrowed to a
    valid time, the maintained count (one lookup per chain line, ``storage/counts.py``): the
    stored counts know nothing of valid time, so a narrowed count scans."""
    if type_ is not None and window is None:
        return count_at(db, chain, kind, type_)
    where, params = visible(chain, kind)
    sql = f"SELECT count(*) FROM rows r WHERE r.kind = ? AND r.op = 1 AND {where}"
    args: list[Any] = [kind, *params]
    if type_ is not None:
        sql += " AND r.type = ?"
        args.append(type_)
    valid, valid_params = in_window(window)
    if valid:
        sql += f" AND {valid}"
        args += valid_params
    row = db.one(sql, args)
    return int(row[0]) if row else 0


def adjacent(db: Database, chain: Chain, ids: Sequence[str], *, column: str,
             rel_type: str | None = None, window: Window | None = None) -> list[StoredRow]:
    """Live relations whose ``column`` (``source`` or ``target``) is one of ``ids`` (valid
    in ``window`` when given)."""
    if column not in ("source", "target") or not ids:
        return []
    out: list[StoredRow] = []
    where, params = visible(chain, "r", by_position=False)
    valid, valid_params = in_window(window)
    if valid:
        where, params = f"{where} AND {valid}", [*params, *valid_params]
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
    """(kind, key) of every row in one chain and not the other: the keys that can differ
    (each segment's newest row of a key stands for all its rows there)."""
    segments = _segments(a, b)
    if not segments:
        return []
    where, params = _newest(segments)
    rows = db.all(f"SELECT DISTINCT r.kind, r.key FROM rows r WHERE {where}", params)
    return sorted((str(k), str(key)) for k, key in rows)


KIND_ORDER = "erdk"
"""The order of element kinds in a diff: entities, relations, documents, key-value entries."""

_ORDER = "(CASE {0}.kind WHEN 'e' THEN 0 WHEN 'r' THEN 1 WHEN 'd' THEN 2 ELSE 3 END)"
_CHANGE = ("(CASE WHEN COALESCE({0}.op, 0) = 1 AND COALESCE({1}.op, 0) = 1 THEN "
           "(CASE WHEN {0}.hash = {1}.hash THEN NULL ELSE 'modified' END) "
           "WHEN COALESCE({1}.op, 0) = 1 THEN 'created' "
           "WHEN COALESCE({0}.op, 0) = 1 THEN 'deleted' END)")


class RowPair(NamedTuple):
    """One key that can differ between two states, with the row holding it on each side
    (None: no row; a deletion row when it was deleted)."""

    kind: str
    key: str
    old: StoredRow | None
    new: StoredRow | None


def _holder(chain: Chain, ref: str) -> tuple[str, list[Any]]:
    """SQL scalar: the rid of the row holding ``ref``'s key at the chain's commit."""
    if not chain:
        return "NULL", []
    where, params = in_chain(chain, "x")
    return (f"(SELECT x.rid FROM rows x WHERE x.kind = {ref}.kind AND x.key = {ref}.key AND "
            f"{where} ORDER BY x.seq DESC LIMIT 1)"), params


def _segments(a: Chain, b: Chain) -> list[tuple[int, int, int, int]]:
    """``(side, line, lo, hi)`` of the segments only one chain sees (side 0: ``a``)."""
    bounds_a, bounds_b = dict(a), dict(b)
    out = []
    for line in sorted(bounds_a.keys() | bounds_b.keys()):
        lo, hi = bounds_a.get(line, 0), bounds_b.get(line, 0)
        if lo != hi:
            out.append((0 if lo > hi else 1, line, min(lo, hi), max(lo, hi)))
    return out


def _newest(segments: Sequence[tuple[int, int, int, int]]) -> tuple[str, list[Any]]:
    """SQL true for the newest row of each key within each segment (through ``superseded``,
    so no grouping): every key with a row in the segments appears, once per segment."""
    parts, params = [], []
    for _, line, lo, hi in segments:
        parts.append("(r.line = ? AND r.seq > ? AND r.seq <= ? AND "
                     "(r.superseded IS NULL OR r.superseded > ?))")
        params += [line, lo, hi, hi]
    return "(" + " OR ".join(parts) + ")", params


def _window(segments: Sequence[tuple[int, int, int, int]], after: tuple[str, str] | None,
            limit: int | None, select: str) -> tuple[str, list[Any]]:
    """``WITH c``: the candidate rows (``select`` of them) after the cursor, the first
    ``limit`` in diff order; seeks and joins come after, so they run for the window only."""
    where, args = _newest(segments)
    order = _ORDER.format("r")
    sql = f"WITH c AS (SELECT {select} FROM rows r WHERE {where}"
    if after is not None:
        sql += f" AND ({order} > ? OR ({order} = ? AND r.key > ?))"
        rank = KIND_ORDER.index(after[0])
        args += [rank, rank, after[1]]
    if limit is not None:
        sql += " ORDER BY o, key LIMIT ?"
        args.append(limit)
    return sql + ") ", args


class _Pairs(NamedTuple):
    sql: str
    """``WITH c … SELECT … FROM c LEFT JOIN …``: the caller adds its select list after
    :attr:`select` and ``c.kind, c.key`` name each candidate."""
    args: list[Any]
    old: str
    """The alias holding each candidate's row at ``a`` (its columns named as in ``rows``)."""
    new: str


def _pairs(a: Chain, b: Chain, segments: Sequence[tuple[int, int, int, int]], *,
           after: tuple[str, str] | None, limit: int | None,
           select: Callable[[str, str], str], third: Chain | None = None,
           carry: str = COLUMNS.replace("r.", "")) -> _Pairs:
    """One query over the candidate keys joined with their rows at ``a`` and at ``b``.

    With one segment (one state descends from the other along a line: the common case) the
    segment's newest row of a key is that side's row, so only the other side needs an index
    seek; otherwise both sides seek (the visibility rule: the highest seq inside the chain).
    ``carry``: the columns of the segment's row the select list reads in that case (it must
    include ``rid``, ``kind`` and ``key``); fewer columns, less copied."""
    order = _ORDER.format("r")
    if len(segments) == 1:
        side = segments[0][0]
        with_sql, args = _window(segments, after, limit, f"{order} AS o, {carry}")
        seek, seek_args = _holder(b if side == 0 else a, "c")
        old, new = ("c", "X") if side == 0 else ("X", "c")
        sql = f"{with_sql}SELECT {select(old, new)} FROM c LEFT JOIN rows X ON X.rid = {seek}"
        extra, extra_args = _third(third)
        return _Pairs(sql + extra, [*args, *seek_args, *extra_args], old, new)
    with_sql, args = _window(segments, after, limit,
                             f"DISTINCT {order} AS o, r.kind AS kind, r.key AS key")
    old, old_args = _holder(a, "c")
    new, new_args = _holder(b, "c")
    sql = (f"{with_sql}SELECT {select('A', 'B')} FROM c LEFT JOIN rows A ON A.rid = {old} "
           f"LEFT JOIN rows B ON B.rid = {new}")
    extra, extra_args = _third(third)
    return _Pairs(sql + extra, [*args, *old_args, *new_args, *extra_args], "A", "B")


def _third(chain: Chain | None) -> tuple[str, list[Any]]:
    """The join of each candidate's row at a third state (alias ``Z``), for merges."""
    if chain is None:
        return "", []
    seek, args = _holder(chain, "c")
    return f" LEFT JOIN rows Z ON Z.rid = {seek}", args


def raw_pairs(db: Database, a: Chain, b: Chain, *, after: tuple[str, str] | None = None,
              limit: int | None = None) -> list[tuple[Any, ...]]:
    """:func:`row_pairs` as raw tuples ``(order, kind, key, change, *old, *new)`` (``change``:
    ``created`` / ``modified`` / ``deleted``, computed in SQL from ops and hashes, None when
    the rows are equal; ``old`` / ``new``: :data:`PAIR_FIELDS`, all None without a row), for
    callers that build rows only for what they read (:func:`stored`)."""
    segments = _segments(a, b)
    if not segments or limit == 0:
        return []
    cols = ", ".join(f"{{0}}.{name}" for name in PAIR_FIELDS)
    q = _pairs(a, b, segments, after=after, limit=limit,
               select=lambda old, new: f"c.o, c.kind, c.key, {_CHANGE.format(old, new)}, "
                                       f"{cols.format(old)}, {cols.format(new)}")
    rows = db.all(q.sql + (" ORDER BY c.o, c.key" if limit is not None else ""), q.args)
    if limit is None:
        rows.sort(key=itemgetter(0, 2))  # code point order = SQL's bytewise order
    return rows


CHANGE_FIELDS = ("o", "kind", "key", "change", "old_rid", "new_rid")
"""The fields of a :func:`change_rids` tuple."""


def change_rids(db: Database, a: Chain, b: Chain, *, after: tuple[str, str] | None = None,
                limit: int | None = None) -> list[tuple[Any, ...]]:
    """The diff from ``a`` to ``b`` as slim tuples :data:`CHANGE_FIELDS` in diff order: the
    change (``created`` / ``modified`` / ``deleted``, from ops and hashes in SQL) and the rids
    of the old and new rows (None without a row), read later with :func:`rows_by_rid` when a
    change's values are needed. So a diff copies no value out of SQL until it is read.

    Without ``limit`` only real changes are returned; with it, one window of candidates
    (as :func:`raw_pairs`: equal keys included, their ``change`` None) so the caller can tell
    a full window from the last one."""
    segments = _segments(a, b)
    if not segments or limit == 0:
        return []
    q = _pairs(a, b, segments, after=after, limit=limit, carry="rid, kind, key, op, hash",
               select=lambda old, new: f"c.o AS o, c.kind AS kind, c.key AS key, "
                                       f"{_CHANGE.format(old, new)} AS change, "
                                       f"{old}.rid AS old_rid, {new}.rid AS new_rid")
    if limit is not None:
        return db.all(q.sql + " ORDER BY c.o, c.key", q.args)
    return db.all(f"SELECT * FROM ({q.sql}) d WHERE d.change IS NOT NULL ORDER BY d.o, d.key",
                  q.args)  # bytewise order on both backends = code point order


def rows_by_rid(db: Database, rids: Sequence[int]) -> dict[int, StoredRow]:
    """The stored rows with these rids (absent: removed since, by gc), 500 per query."""
    out: dict[int, StoredRow] = {}
    unique = list(dict.fromkeys(rids))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.all(f"SELECT {COLUMNS} FROM rows r WHERE r.rid IN ({marks})", chunk):
            out[row[0]] = StoredRow(*row)
    return out


def row_triples(db: Database, base: Chain, theirs: Chain, ours: Chain
                ) -> list[tuple[str, str, StoredRow | None, StoredRow | None, StoredRow | None]]:
    """For every key that can differ between ``base`` and ``theirs``: ``(kind, key, row at
    base, row at theirs, row at ours)``, sorted by ``(kind, key)``, in one query
    (:func:`row_pairs` with a third seek): what a three-way merge, cherry-pick or revert
    reads."""
    segments = _segments(base, theirs)
    if not segments:
        return []
    cols = ", ".join(f"{{0}}.{name}" for name in PAIR_FIELDS)
    q = _pairs(base, theirs, segments, after=None, limit=None, third=ours,
               select=lambda old, new: f"c.o, c.kind, c.key, NULL, {cols.format(old)}, "
                                       f"{cols.format(new)}, {cols.format('Z')}")
    rows = db.all(q.sql, q.args)
    rows.sort(key=itemgetter(1, 2))
    width = len(PAIR_FIELDS)
    out = []
    for raw in rows:
        old, new = stored(raw)
        out.append((raw[1], raw[2], old, new, _row(raw[1], raw[2], raw[4 + 2 * width:])))
    return out


def row_pairs(db: Database, a: Chain, b: Chain, *, after: tuple[str, str] | None = None,
              limit: int | None = None) -> list[RowPair]:
    """Every key that can differ between two states, in diff order (kind: entities,
    relations, documents, kv; then key), with its row on each side: one set-based query.

    The candidates are the keys with rows in the segments only one chain sees (they lie after
    the chains diverged, so nothing else can differ); each side's row is the one with the
    highest seq inside that side's chain. Keys whose rows turn out equal are included (callers
    compare hashes). ``after`` (a ``(kind, key)`` cursor) and ``limit`` select one window of
    candidates, for paging: the index seeks then run for that window only.
    """
    return [RowPair(raw[1], raw[2], *stored(raw)) for raw in
            raw_pairs(db, a, b, after=after, limit=limit)]


PAIR_FIELDS = ("rid", "line", "seq", "op", "type", "source", "target", "value", "hash",
               "origin", "valid_from", "valid_to", "provenance")


def stored(raw: Sequence[Any]) -> tuple[StoredRow | None, StoredRow | None]:
    """The old and new rows of a :func:`raw_pairs` tuple."""
    width = len(PAIR_FIELDS)
    return _row(raw[1], raw[2], raw[4:4 + width]), _row(raw[1], raw[2], raw[4 + width:])


def _row(kind: str, key: str, fields: Sequence[Any]) -> StoredRow | None:
    (rid, line, seq, op, type_, source, target, value, hash_, origin, valid_from, valid_to,
     provenance) = fields[:len(PAIR_FIELDS)]
    return None if rid is None else StoredRow(rid, kind, key, line, seq, op, type_, source,
                                              target, value, hash_, origin, valid_from,
                                              valid_to, provenance)


def change_counts(db: Database, a: Chain, b: Chain) -> dict[tuple[str, str, str], int]:
    """How many elements changed between two states, by ``(kind, change, type)`` (change:
    ``created`` / ``modified`` / ``deleted``; type: the new row's, else the old one's),
    counted in SQL from row ops and hashes: no value is read or decoded."""
    segments = _segments(a, b)
    if not segments:
        return {}
    q = _pairs(a, b, segments, after=None, limit=None, carry="rid, kind, key, op, hash, type",
               select=lambda old, new: f"c.kind, {_CHANGE.format(old, new)} AS change, "
                                       f"COALESCE({new}.type, {old}.type) AS t, count(*)")
    return {(str(kind), str(change), str(type_ or "")): int(n)
            for kind, change, type_, n in db.all(q.sql + " GROUP BY c.kind, change, t", q.args)
            if change is not None}


def rows_at_both(db: Database, a: Chain, b: Chain
                 ) -> list[tuple[str, str, StoredRow | None, StoredRow | None]]:
    """For every key that can differ between two states: ``(kind, key, row at a, row at b)``
    (:func:`row_pairs`; the O(changes) core of diff, rollback and read-set checks)."""
    return [(p.kind, p.key, p.old, p.new) for p in row_pairs(db, a, b)]
