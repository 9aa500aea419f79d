"""Integrity verification: value hashes, commit ids, state hashes, refs, lines, derived data.

State hashes are recomputed from the rows: each commit's state is its predecessor's on the same
chain plus the terms of what it wrote minus the terms of what those rows replaced — the same
rule the writer uses, evaluated independently from stored rows only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..codec import EMPTY_STATE, commit_id, content_hash, decode, element_term, state_combine
from ..storage.base import Database
from ..storage.visibility import read_row
from .commits import CommitStore


@dataclass(slots=True)
class FsckReport:
    """What fsck checked and every problem found (empty ``problems`` means healthy)."""

    rows: int = 0
    commits: int = 0
    refs: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "rows": self.rows, "commits": self.commits, "refs": self.refs,
                "problems": self.problems}


def fsck(db: Database, commits: CommitStore, *, last: int | None = None) -> FsckReport:
    report = FsckReport()
    min_seq = 0
    if last is not None:
        row = db.one("SELECT seq FROM commits ORDER BY seq DESC LIMIT 1 OFFSET ?",
                     (max(last - 1, 0),))
        min_seq = int(row[0]) if row else 0
    with db.read():
        _check_rows(db, report, min_seq)
        _check_commits(db, commits, report, min_seq)
        _check_refs(db, commits, report)
        _check_superseded(db, report, min_seq)
    return report


def _check_rows(db: Database, report: FsckReport, min_seq: int) -> None:
    for rid, kind, key, seq, op, type_, source, target, value, hash_ in db.iterate(
            "SELECT rid, kind, key, seq, op, type, source, target, value, hash FROM rows "
            "WHERE seq >= ?", (min_seq,)):
        report.rows += 1
        if op == 1 and (value is None or hash_ is None or
                        content_hash(kind, type_, source, target, value) != bytes(hash_)):
            report.problems.append(f"row {rid} ({kind} {key!r}, seq {seq}): value does not "
                                   "match its hash")


def _check_commits(db: Database, commits: CommitStore, report: FsckReport, min_seq: int) -> None:
    for seq, cid, line, parents, author, message, time_us, metadata, state in db.iterate(
            "SELECT seq, id, line, parents, author, message, time_us, metadata, state_hash "
            "FROM commits WHERE seq >= ? ORDER BY seq", (min_seq,)):
        report.commits += 1
        if commit_id(decode(parents), bytes(state), author, message, time_us,
                     decode(metadata)) != cid:
            report.problems.append(f"commit {cid[:12]} (seq {seq}): id does not match content")
        chain = commits.chain(line, seq)
        prev = db.one("SELECT seq, state_hash FROM commits WHERE " +
                      " OR ".join("(line = ? AND seq <= ?)" for _ in chain) +
                      " AND seq < ? ORDER BY seq DESC LIMIT 1",
                      [x for pair in chain for x in pair] + [seq])
        before = bytes(prev[1]) if prev else EMPTY_STATE
        prev_chain = commits.chain(line, int(prev[0])) if prev else ((line, 0),)
        added = removed = 0
        for kind, key, op, hash_ in db.all("SELECT kind, key, op, hash FROM rows WHERE line = ? "
                                           "AND seq = ?", (line, seq)):
            old = read_row(db, prev_chain, kind, key) if prev else None
            if old is not None and old.op == 1 and old.hash is not None:
                removed += element_term(kind, key, bytes(old.hash))
            if op == 1 and hash_ is not None:
                added += element_term(kind, key, bytes(hash_))
        if state_combine(before, added, removed) != bytes(state):
            report.problems.append(f"commit {cid[:12]} (seq {seq}): state hash does not match "
                                   "the rows")


def _check_refs(db: Database, commits: CommitStore, report: FsckReport) -> None:
    for name, kind, line, commit_seq in db.all("SELECT name, kind, line, commit_seq FROM refs"):
        report.refs += 1
        if kind == "branch":
            if db.one("SELECT 1 FROM lines WHERE id = ?", (line,)) is None:
                report.problems.append(f"branch {name!r} points at missing line {line}")
        elif db.one("SELECT 1 FROM commits WHERE seq = ?", (commit_seq,)) is None:
            report.problems.append(f"tag {name!r} points at missing commit seq {commit_seq}")
    for line, parent, fork, head in db.all("SELECT id, parent, fork_seq, head_seq FROM lines"):
        if parent is not None and db.one("SELECT 1 FROM commits WHERE seq = ? AND line = ?",
                                         (fork, parent)) is None:
            report.problems.append(f"line {line} forks from missing commit seq {fork}")
        if head is not None and db.one("SELECT 1 FROM commits WHERE seq = ? AND line = ?",
                                       (head, line)) is None:
            report.problems.append(f"line {line} head seq {head} is not one of its commits")


def _check_superseded(db: Database, report: FsckReport, min_seq: int) -> None:
    bad = db.one("SELECT count(*) FROM rows r WHERE r.seq >= ? AND coalesce(r.superseded, -1) != "
                 "coalesce((SELECT min(n.seq) FROM rows n WHERE n.kind = r.kind AND "
                 "n.key = r.key AND n.line = r.line AND n.seq > r.seq), -1)", (min_seq,))
    if bad and bad[0]:
        report.problems.append(f"{bad[0]} rows have a stale 'superseded' mark; "
                               "run fsck with repair_indexes=True")
