"""Integrity verification: value hashes, commit ids, state hashes, refs, lines, derived data.

State hashes are recomputed from the rows: each commit's state is its predecessor's on the same
chain plus the terms of what it wrote minus the terms of what those rows replaced — the same
rule the writer uses, evaluated independently from stored rows only. Commits whose state gc
compacted away (``pruned`` ranges) are checked for their id only; the first readable commit
after such a range has its state hash recomputed from its whole visible state instead. Erased
rows (tombstones) must match an erasure record; their stored hashes still feed the state hashes.

Every problem carries its location (row id, commit seq, ref or line) so a report can be acted
on, and fsck never changes anything; ``repair_indexes`` in :meth:`Repository.fsck` rebuilds
derived data first (never history).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace

from ..codec import (
    EMPTY_STATE,
    KIND_NAMES,
    check_count,
    commit_id,
    content_hash,
    decode,
    element_term,
    state_add,
    state_combine,
)
from ..storage import counts, integrity
from ..storage.base import Database
from ..storage.schema import rebuild_superseded
from ..storage.visibility import Chain, read_row, scan, visible
from ..types import FsckReport, Problem
from ..versioning.commits import CommitStore, id_bytes, id_text, parents_text
from ..versioning.elements import ERASED, is_erased


@dataclass(slots=True)
class _Tally:
    """The counts and problems fsck gathers while it checks; frozen into a FsckReport."""

    rows: int = 0
    commits: int = 0
    refs: int = 0
    pruned_commits: int = 0
    erased_rows: int = 0
    problems: list[str] = field(default_factory=list)
    details: list[Problem] = field(default_factory=list)
    engine_check: str | None = None
    unchecked_indexes: list[str] = field(default_factory=list)

    def add(self, check: str, message: str, *, rid: int | None = None, seq: int | None = None,
            name: str | None = None) -> None:
        self.details.append(Problem(check, message, rid, seq, name))
        self.problems.append(message)

    def report(self) -> FsckReport:
        return FsckReport(self.rows, self.commits, self.refs, self.pruned_commits,
                          self.erased_rows, self.problems, self.details, self.engine_check,
                          self.unchecked_indexes)


def check_repository(db: Database, commits: CommitStore, *, last: int | None = None,
                     repair_indexes: bool = False) -> FsckReport:
    """:meth:`Repository.fsck`: with ``repair_indexes``, first rebuild every index the
    engine finds damaged (all of them when it cannot tell which) and the ``superseded``
    column; then the full check, including the engine's (unless ``last=N``)."""
    repaired: list[str] = []
    if repair_indexes:
        found = integrity.check(db)
        if found.problems:
            names = sorted({name for name, _ in found.problems if name is not None})
            whole = any(name is None for name, _ in found.problems)
            integrity.reindex(db, None if whole else names)
            repaired = ["*"] if whole else names
        rebuild_superseded(db)
    report = fsck(db, commits, last=last, engine=last is None)
    return replace(report, repaired_indexes=repaired)


def fsck(db: Database, commits: CommitStore, *, last: int | None = None,
         engine: bool = False) -> FsckReport:
    """Check the repository (or, with ``last=N``, the newest N commits and their rows);
    ``engine`` adds the engine's own check of indexes and pages (run before the snapshot,
    since it must not share its transaction)."""
    report = _Tally()
    if engine:
        found = integrity.check(db)
        report.engine_check = found.method
        report.unchecked_indexes = found.unchecked
        for name, message in found.problems:
            report.add("index", f"{message}; run fsck with repair_indexes=True", name=name)
    with db.read():
        min_seq = 0
        if last is not None:
            check_count(last, "last")
            row = db.one("SELECT seq FROM commits ORDER BY seq DESC LIMIT 1 OFFSET ?",
                         (max(last - 1, 0),))
            min_seq = int(row[0]) if row else 0
        pruned = _Pruned(db)
        _check_rows(db, report, min_seq)
        _check_commits(db, commits, report, min_seq, pruned)
        _check_refs(db, report, pruned)
        _check_lines(db, report)
        _check_superseded(db, report, min_seq, pruned)
        _check_pruned(db, report, pruned)
        if last is None and not any(p.check == "superseded" for p in report.details):
            _check_type_counts(db, report)  # counted through superseded: only when it is right
    return report.report()


class _Pruned:
    """The pruned ranges, for membership tests."""

    def __init__(self, db: Database) -> None:
        self.ranges: dict[int, list[tuple[int, int, int | None]]] = {}
        for line, lo, hi, horizon in db.all("SELECT line, lo_seq, hi_seq, horizon FROM pruned"):
            self.ranges.setdefault(int(line), []).append(
                (int(lo), int(hi), int(horizon) if horizon is not None else None))

    def __contains__(self, item: tuple[int, int]) -> bool:
        line, seq = item
        return any(lo <= seq <= hi for lo, hi, _ in self.ranges.get(line, ()))


def _check_rows(db: Database, report: _Tally, min_seq: int) -> None:
    erasures = {int(i): (k, key) for i, k, key in db.all("SELECT id, kind, key FROM erasures")}

    def where() -> str:
        return f"row {rid} ({KIND_NAMES.get(kind, kind)} {key!r}, seq {seq})"

    for (rid, kind, key, line, seq, op, type_, source, target, value, hash_, valid_from,
         valid_to, has_commit) in \
            db.iterate("SELECT r.rid, r.kind, r.key, r.line, r.seq, r.op, r.type, r.source, "
                       "r.target, r.value, r.hash, r.valid_from, r.valid_to, c.seq "
                       "FROM rows r LEFT JOIN commits c "
                       "ON c.seq = r.seq AND c.line = r.line WHERE r.seq >= ?", (min_seq,)):
        report.rows += 1
        if kind not in KIND_NAMES or op not in (0, 1):
            report.add("row-shape", f"{where()}: unknown kind {kind!r} or op {op!r}", rid=rid,
                       seq=seq)
            continue
        if has_commit is None:
            report.add("orphan-row", f"{where()}: no commit {seq} on line {line} wrote it",
                       rid=rid, seq=seq)
        if op != 1:
            continue
        if value is None or hash_ is None:
            report.add("row-hash", f"{where()}: value or hash is missing", rid=rid, seq=seq)
        elif is_erased(value):
            report.erased_rows += 1
            _check_erased(report, erasures, where(), rid, seq, kind, key, value)
        elif content_hash(kind, type_, source, target, value, valid_from,
                          valid_to) != bytes(hash_):
            report.add("row-hash", f"{where()}: value does not match its hash", rid=rid,
                       seq=seq)


def _check_erased(report: _Tally, erasures: dict[int, tuple[str, str]], where: str,
                  rid: int, seq: int, kind: str, key: str, value: str) -> None:
    try:
        number = decode(value[len(ERASED):]).get("erasure")
    except Exception:  # the tombstone itself is damaged
        number = None
    if not isinstance(number, int) or erasures.get(number) != (kind, key):
        report.add("erasure", f"{where}: tombstone without a matching erasure record",
                   rid=rid, seq=seq)


def _check_commits(db: Database, commits: CommitStore, report: _Tally, min_seq: int,
                   pruned: _Pruned) -> None:
    order = _LineOrder(db, min_seq)
    lines = {int(r[0]) for r in db.all("SELECT id FROM lines")}
    written: dict[tuple[int, int], list[tuple[str, str, int, bytes | None]]] = {}
    for line, seq, kind, key, op, hash_ in db.iterate(
            "SELECT line, seq, kind, key, op, hash FROM rows WHERE seq >= ?", (min_seq,)):
        written.setdefault((int(line), int(seq)), []).append((kind, key, op, hash_))
    for seq, cid, line, parents, author, message, time_us, metadata, state in db.iterate(
            "SELECT seq, id, line, parents, author, message, time_us, metadata, state_hash "
            "FROM commits WHERE seq >= ? ORDER BY seq", (min_seq,)):
        report.commits += 1
        cid = id_text(cid)
        where = f"commit {cid[:12]} (seq {seq})"
        try:
            parent_ids = parents_text(parents)
            expected = commit_id(parent_ids, bytes(state), author, message, time_us,
                                 decode(metadata))
        except Exception:  # undecodable JSON: the commit row itself is damaged
            report.add("commit-id", f"{where}: metadata is not valid JSON or parents are not "
                       "32-byte ids", seq=seq)
            continue
        if expected != cid:
            report.add("commit-id", f"{where}: id does not match content", seq=seq)
        for pid in parent_ids if isinstance(parent_ids, list) else []:
            parent_seq = order.seq_of(pid) if isinstance(pid, str) else None
            if parent_seq is None:
                report.add("parent", f"{where}: parent {str(pid)[:12]} does not exist", seq=seq)
            elif parent_seq >= seq:
                report.add("parent", f"{where}: parent {pid[:12]} is not older", seq=seq)
        if line not in lines:
            report.add("line", f"{where}: its line {line} does not exist", seq=seq)
            continue
        if (line, seq) in pruned:
            report.pruned_commits += 1
            continue
        actual = _recomputed_state(db, commits, order, line, seq, pruned,
                                   written.get((line, seq), []))
        if actual != bytes(state):
            report.add("state-hash", f"{where}: state hash does not match the rows", seq=seq)


class _LineOrder:
    """Commit seqs per line (from ``min_seq`` on; older ones are looked up when needed), to
    find a commit's predecessor on its chain, its stored state hash, and parents by id."""

    def __init__(self, db: Database, min_seq: int) -> None:
        self.db = db
        self.min_seq = min_seq
        self.seqs: dict[int, list[int]] = {}
        self.ids: dict[str, int] = {}
        self.states: dict[int, bytes] = {}
        for seq, cid, line, state in db.all("SELECT seq, id, line, state_hash FROM commits "
                                            "WHERE seq >= ? ORDER BY seq", (min_seq,)):
            self.seqs.setdefault(int(line), []).append(int(seq))
            self.ids[id_text(cid)] = int(seq)
            self.states[int(seq)] = bytes(state)

    def previous(self, chain: Chain, seq: int) -> tuple[int, int] | None:
        """(line, seq) of the newest commit of ``chain`` older than ``seq``."""
        for line, bound in chain:
            own = self.seqs.get(line, [])
            at = bisect.bisect_left(own, min(seq, bound + 1))
            if at:
                return line, own[at - 1]
            if self.min_seq:  # quick mode: older commits were not loaded
                row = self.db.one("SELECT max(seq) FROM commits WHERE line = ? AND seq <= ? "
                                  "AND seq < ?", (line, bound, seq))
                if row is not None and row[0] is not None:
                    return line, int(row[0])
        return None

    def state(self, seq: int) -> bytes:
        if seq not in self.states:
            row = self.db.one("SELECT state_hash FROM commits WHERE seq = ?", (seq,))
            self.states[seq] = bytes(row[0]) if row else EMPTY_STATE
        return self.states[seq]

    def seq_of(self, cid: str) -> int | None:
        if cid not in self.ids and self.min_seq:
            row = self.db.one("SELECT seq FROM commits WHERE id = ?", (id_bytes(cid),))
            if row is not None:
                self.ids[cid] = int(row[0])
        return self.ids.get(cid)


def _recomputed_state(db: Database, commits: CommitStore, order: _LineOrder, line: int,
                      seq: int, pruned: _Pruned,
                      written: list[tuple[str, str, int, bytes | None]]) -> bytes:
    chain = commits.chain(line, seq)
    found = order.previous(chain, seq)
    if found is not None and found in pruned:
        return _full_state(db, chain)  # the predecessor's rows are gone: use the whole state
    before = order.state(found[1]) if found is not None else EMPTY_STATE
    prev_chain = commits.chain(line, found[1]) if found is not None else None
    added = removed = 0
    for kind, key, op, hash_ in written:
        old = read_row(db, prev_chain, kind, key) if prev_chain else None
        if old is not None and old.op == 1 and old.hash is not None:
            removed += element_term(kind, key, bytes(old.hash))
        if op == 1 and hash_ is not None:
            added += element_term(kind, key, bytes(hash_))
    return state_combine(before, added, removed)


def _full_state(db: Database, chain: Chain) -> bytes:
    state = EMPTY_STATE
    for kind in KIND_NAMES:
        for row in scan(db, chain, kind):
            if row.hash is not None:
                state = state_add(state, element_term(kind, row.key, bytes(row.hash)))
    return state


def _check_refs(db: Database, report: _Tally, pruned: _Pruned) -> None:
    for name, kind, line, commit_seq in db.all("SELECT name, kind, line, commit_seq FROM refs"):
        report.refs += 1
        if kind == "branch":
            if db.one("SELECT 1 FROM lines WHERE id = ?", (line,)) is None:
                report.add("ref", f"branch {name!r} points at missing line {line}", name=name)
        elif kind == "tag":
            row = db.one("SELECT line FROM commits WHERE seq = ?", (commit_seq,))
            if row is None:
                report.add("ref", f"tag {name!r} points at missing commit seq {commit_seq}",
                           name=name)
            elif (int(row[0]), int(commit_seq)) in pruned:
                report.add("ref", f"tag {name!r} pins commit seq {commit_seq}, whose state was "
                           "pruned", name=name)
        else:
            report.add("ref", f"ref {name!r} has unknown kind {kind!r}", name=name)
    head = db.one("SELECT value FROM meta WHERE name = 'head'")
    if head is None or db.one("SELECT 1 FROM refs WHERE name = ? AND kind = 'branch'",
                              (head[0],)) is None:
        report.add("head", f"HEAD names {head[0] if head else None!r}, which is not a branch",
                   name="HEAD")


def _check_lines(db: Database, report: _Tally) -> None:
    heads = {int(line): int(top) for line, top in db.all(
        "SELECT line, max(seq) FROM commits GROUP BY line")}
    for line, parent, fork, head in db.all("SELECT id, parent, fork_seq, head_seq FROM lines"):
        where = f"line {line}"
        if parent is not None:
            if parent >= line:
                report.add("line", f"{where} forks from line {parent}, which is not older",
                           name=str(line))
            if db.one("SELECT 1 FROM commits WHERE seq = ? AND line = ?", (fork, parent)) \
                    is None:
                report.add("line", f"{where} forks from missing commit seq {fork} of line "
                           f"{parent}", name=str(line))
        if head is not None and db.one("SELECT 1 FROM commits WHERE seq = ? AND line = ?",
                                       (head, line)) is None:
            report.add("line", f"{where} head seq {head} is not one of its commits",
                       name=str(line))
        elif heads.get(int(line)) != (int(head) if head is not None else None):
            report.add("line", f"{where} head seq {head} is not its newest commit "
                       f"({heads.get(int(line))})", name=str(line))


def _check_superseded(db: Database, report: _Tally, min_seq: int, pruned: _Pruned) -> None:
    """``superseded`` must name the next row of the key on the line, or (after gc deleted
    that row) a seq inside a pruned range before the next remaining row."""
    bad = 0
    for rid, line, seq, mark, following in db.iterate(
            "SELECT r.rid, r.line, r.seq, r.superseded, (SELECT min(n.seq) FROM rows n WHERE "
            "n.kind = r.kind AND n.key = r.key AND n.line = r.line AND n.seq > r.seq) FROM rows r "
            "WHERE r.seq >= ? AND coalesce(r.superseded, -1) != coalesce((SELECT min(n.seq) "
            "FROM rows n WHERE n.kind = r.kind AND n.key = r.key AND n.line = r.line AND "
            "n.seq > r.seq), -1)", (min_seq,)):
        gap = mark is not None and mark > seq and \
            (following is None or mark < following) and (line, mark) in pruned
        if not gap:
            bad += 1
            if bad <= 100:
                report.add("superseded", f"row {rid} (line {line}, seq {seq}): 'superseded' is "
                           f"{mark}, the next row is at {following}; run fsck with "
                           "repair_indexes=True", rid=rid, seq=seq)
    if bad > 100:
        report.add("superseded", f"... and {bad - 100} more rows with a stale 'superseded' mark")


def _check_type_counts(db: Database, report: _Tally) -> None:
    """The maintained counts by type (``storage/counts.py``) at every branch head and tag
    must equal the live rows counted. Refs or lines that are themselves broken are left to
    the other checks."""
    origin = {int(i): (p, f, h) for i, p, f, h in
              db.all("SELECT id, parent, fork_seq, head_seq FROM lines")}

    def chain(line: int, bound: int) -> Chain | None:
        out, seen = [(line, bound)], {line}
        parent, fork = origin[line][0], origin[line][1]
        while parent is not None and fork is not None:
            if int(parent) in seen or int(parent) not in origin:
                return None
            seen.add(int(parent))
            out.append((int(parent), int(fork)))
            parent, fork = origin[int(parent)][0], origin[int(parent)][1]
        return tuple(out)

    heads: dict[str, Chain] = {}
    for name, kind, line, seq in db.all("SELECT name, kind, line, commit_seq FROM refs"):
        found: Chain | None = None
        if kind == "branch" and line is not None and int(line) in origin:
            _, fork, head = origin[int(line)]
            bound = head if head is not None else fork
            found = chain(int(line), int(bound)) if bound is not None else None
        elif seq is not None:
            tagged = db.one("SELECT line FROM commits WHERE seq = ?", (seq,))
            if tagged is not None and int(tagged[0]) in origin:
                found = chain(int(tagged[0]), int(seq))
        if found is not None:
            heads[str(name)] = found
    for name, at in sorted(heads.items()):
        lines = ",".join(str(int(part[0])) for part in at)
        for kind in ("e", "r", "d"):
            where, params = visible(at, kind)
            counted = {str(t): int(n) for t, n in db.all(
                f"SELECT r.type, count(*) FROM rows r WHERE r.kind = ? AND r.op = 1 AND {where} "
                "AND r.type IS NOT NULL GROUP BY r.type", [kind, *params])}
            kept = {str(t) for (t,) in db.all(
                f"SELECT DISTINCT type FROM type_counts WHERE kind = ? AND line IN ({lines})",
                (kind,))}
            for type_ in sorted(counted.keys() | kept):
                n = counts.count_at(db, at, kind, type_)
                if n != counted.get(type_, 0):
                    report.add("counts", f"{name}: the maintained count of {KIND_NAMES[kind]} "
                               f"of type {type_!r} is {n}, the rows hold {counted.get(type_, 0)}; "
                               "run fsck with repair_indexes=True", name=name)


def _check_pruned(db: Database, report: _Tally, pruned: _Pruned) -> None:
    for line, ranges in pruned.ranges.items():
        for lo, hi, horizon in ranges:
            where = f"pruned range {lo}..{hi} of line {line}"
            if lo > hi:
                report.add("pruned", f"{where} is empty", seq=lo)
            if horizon is not None and \
                    db.one("SELECT 1 FROM commits WHERE seq = ?", (horizon,)) is None:
                report.add("pruned", f"{where} names missing horizon seq {horizon}", seq=lo)
