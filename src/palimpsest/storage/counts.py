"""Maintained counts of live elements by kind and type, so counting a type costs the same
however long the history (issue 14).

``type_counts`` holds, for each commit that changed how many live elements of a ``(kind,
type)`` there are, the new count: ``(line, kind, type, seq, n)``. The count at any state is
then the newest entry at or below the bound on the nearest line of the state's chain that has
one (a line with no entry for the type did not change its count since it forked): one indexed
lookup per chain line. The writer (``versioning/commits.py``) adds the entries of each commit
from the deltas it already knows (old and new row of every key it writes); like
``superseded``, the table is derived from the rows and :func:`rebuild` recomputes it (schema
migration 3 → 4, archive import, copies, fsck repair). Rows without a type (key-value
entries) are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .base import Database

Chain = tuple[tuple[int, int], ...]
"""((line, max visible seq), …), tip first (as ``visibility.Chain``)."""


def count_at(db: Database, chain: Chain, kind: str, type_: str) -> int:
    """Live elements of ``kind`` with type ``type_`` at the chain's commit."""
    for line, bound in chain:
        row = db.one("SELECT n FROM type_counts WHERE line = ? AND kind = ? AND type = ? AND "
                     "seq <= ? ORDER BY seq DESC LIMIT 1", (line, kind, type_, bound))
        if row is not None:
            return int(row[0])
    return 0


def record(db: Database, line: int, seq: int, parent: Chain | None,
           deltas: Mapping[tuple[str, str], int]) -> None:
    """Store the counts a new commit ``(line, seq)`` on top of state ``parent`` leaves, for
    every ``(kind, type)`` whose count it changes by ``deltas[(kind, type)]``."""
    entries = []
    for (kind, type_), delta in sorted(deltas.items()):
        if delta:
            before = count_at(db, parent, kind, type_) if parent else 0
            entries.append((line, kind, type_, seq, before + delta))
    if entries:
        db.many("INSERT INTO type_counts (line, kind, type, seq, n) VALUES (?, ?, ?, ?, ?)",
                entries)


def deltas_of(changes: Iterable[tuple[str, int | None, str | None, int, str | None]]
              ) -> dict[tuple[str, str], int]:
    """``(kind, old op, old type, new op, new type)`` of each written key → count deltas."""
    out: dict[tuple[str, str], int] = {}
    for kind, old_op, old_type, new_op, new_type in changes:
        if old_op == 1 and old_type is not None:
            out[(kind, old_type)] = out.get((kind, old_type), 0) - 1
        if new_op == 1 and new_type is not None:
            out[(kind, new_type)] = out.get((kind, new_type), 0) + 1
    return out


def rebuild(db: Database) -> None:
    """Recompute ``type_counts`` from the rows (needs ``superseded`` to be right), line by
    line, parents first: for each line, +1 for every live row at its seq, -1 for every live
    row at the seq that superseded it, and -1 for the row a line's first row of a key hides
    on the parent chain; running sums from the parent's count at the fork."""
    with db.write():
        db.run("DELETE FROM type_counts")
        lines = db.all("SELECT id, parent, fork_seq FROM lines ORDER BY id")
        origin = {int(i): (p, f) for i, p, f in lines}
        for line, _, _ in lines:
            chain = _parent_chain(origin, int(line))
            _rebuild_line(db, int(line), chain)


def _parent_chain(origin: Mapping[int, tuple[Any, Any]], line: int) -> Chain:
    out = []
    parent, fork = origin[line]
    while parent is not None and fork is not None:
        out.append((int(parent), int(fork)))
        parent, fork = origin.get(int(parent), (None, None))
    return tuple(out)


def _rebuild_line(db: Database, line: int, parent: Chain) -> None:
    sql = ("SELECT r.seq AS seq, r.kind AS kind, r.type AS type, 1 AS d FROM rows r WHERE r.line = ? AND r.op = 1 "
           "AND r.type IS NOT NULL "
           "UNION ALL SELECT r.superseded, r.kind, r.type, -1 FROM rows r WHERE r.line = ? "
           "AND r.op = 1 AND r.type IS NOT NULL AND r.superseded IS NOT NULL")
    args: list[Any] = [line, line]
    if parent:
        within = " OR ".join("(x.line = ? AND x.seq <= ?)" for _ in parent)
        sql += (" UNION ALL SELECT r.seq, r.kind, h.type, -1 FROM rows r JOIN rows h ON "
                "h.rid = (SELECT x.rid FROM rows x WHERE x.kind = r.kind AND x.key = r.key AND "
                f"({within}) ORDER BY x.seq DESC LIMIT 1) WHERE r.line = ? AND h.op = 1 AND "
                "h.type IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rows p WHERE p.kind = r.kind "
                "AND p.key = r.key AND p.line = r.line AND p.seq < r.seq)")
        args += [v for part in parent for v in part] + [line]
    grouped = db.all(f"SELECT seq, kind, type, sum(d) FROM ({sql}) u "
                     "GROUP BY seq, kind, type ORDER BY seq", args)
    running: dict[tuple[str, str], int] = {}
    entries: list[Sequence[Any]] = []
    for seq, kind, type_, delta in grouped:
        if not delta:
            continue
        key = (str(kind), str(type_))
        if key not in running:
            running[key] = count_at(db, parent, *key) if parent else 0
        running[key] += int(delta)
        entries.append((line, key[0], key[1], int(seq), running[key]))
    if entries:
        db.many("INSERT INTO type_counts (line, kind, type, seq, n) VALUES (?, ?, ?, ?, ?)",
                entries)
