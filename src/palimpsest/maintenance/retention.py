"""Retention policies and garbage collection: compacting old history without rewriting it.

A policy names branches by a glob pattern and says how much of their history stays readable:
the last ``keep`` of time, the last ``keep_commits`` first-parent commits, or both (a commit is
kept when either rule keeps it). The *horizon* of a branch is the oldest commit whose state
stays readable; its state is intact after gc, older states are not.

gc works out which commits must stay readable — every commit reachable from a branch at or
after its horizon (all of history for branches no policy matches), every tagged commit, the
merge bases between live branches, and the states of Views open in this process — and, per
line, the seqs ("bounds") at which those states read it. A row is needed when some bound of
its line lies in ``[seq, superseded)``: exactly the condition under which the visibility rule
would pick it. Every other row is deleted. Commits that are no longer readable keep their
metadata (id, parents, author, message, time, metadata, stats, state hash) and are recorded in
``pruned`` ranges; reading their state raises :class:`~palimpsest.errors.RetentionExpired`
naming the horizon. gc runs inside one write transaction: commits from other processes wait
for it, and readers of any readable state are never affected.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from ..codec import now_us
from ..errors import InvalidKey, InvalidValue
from ..storage.base import Database
from ..storage.cache import bump_rewrites
from ..types import Commit, GcReport, RetentionPolicy
from ..versioning import search_index
from ..versioning.commits import CommitStore
from ..versioning.firstparent import at_time, path
from ..versioning.log import merge_bases, walk
from ..versioning.pruned import check_readable, pruned_range

if TYPE_CHECKING:
    from ..versioning.refs import RefStore

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdwy])\s*$")
_US = 1_000_000

# A row is needed when a bound of its line lies in [seq, superseded): the visibility rule picks
# it there. (The coalesce gives the index an upper end: one range probe per row.)
_UNNEEDED = ("NOT EXISTS (SELECT 1 FROM gc_bounds b WHERE b.line = rows.line AND "
             "b.bound >= rows.seq AND b.bound < coalesce(rows.superseded, 9223372036854775807))")


def parse_keep(keep: str | timedelta | int) -> int:
    """Microseconds from ``"365d"``, ``"12h"``, ``"2w"``, ``"1y"`` (365 days), a timedelta or
    a number of seconds."""
    if isinstance(keep, bool):
        raise InvalidValue(f"keep must be a duration like '365d', not {keep!r}")
    if isinstance(keep, timedelta):
        seconds = keep.total_seconds()
    elif isinstance(keep, int):
        seconds = keep
    elif isinstance(keep, str) and (match := _DURATION.match(keep)):
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise InvalidValue(f"keep must be a duration like '365d', '12h', '2w' or a timedelta, "
                           f"not {keep!r}")
    if seconds <= 0 or seconds > 10_000 * 365 * 86400:
        raise InvalidValue(f"keep must be positive and under 10,000 years, not {keep!r}")
    return int(seconds * _US)


# -- policies -----------------------------------------------------------------------------
def set_policy(db: Database, pattern: str, *, keep: str | timedelta | int | None,
               keep_commits: int | None, author: str) -> RetentionPolicy | None:
    """Store (or, with neither ``keep`` nor ``keep_commits``, remove) the policy of a pattern."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > 255 or \
            any(ord(c) < 32 for c in pattern):
        raise InvalidKey(f"branch pattern {pattern!r} is not valid: use a glob like 'main' or "
                         "'release/*'")
    keep_us = parse_keep(keep) if keep is not None else None
    if keep_commits is not None and (isinstance(keep_commits, bool) or
                                     not isinstance(keep_commits, int) or
                                     not 1 <= keep_commits <= 2**62):
        raise InvalidValue(f"keep_commits must be a positive integer, not {keep_commits!r}")
    with db.write():
        db.run("DELETE FROM retention WHERE pattern = ?", (pattern,))
        if keep_us is None and keep_commits is None:
            return None
        db.run("INSERT INTO retention (pattern, keep_us, keep_commits, author, time_us) "
               "VALUES (?, ?, ?, ?, ?)", (pattern, keep_us, keep_commits, author, now_us()))
    return RetentionPolicy(pattern, keep_us, keep_commits)


def policies(db: Database) -> list[RetentionPolicy]:
    return [RetentionPolicy(p, k, n) for p, k, n in db.all(
        "SELECT pattern, keep_us, keep_commits FROM retention ORDER BY pattern")]


def _pruned_seqs(db: Database) -> set[int]:
    out: set[int] = set()
    for line, lo, hi in db.all("SELECT line, lo_seq, hi_seq FROM pruned"):
        out.update(int(r[0]) for r in db.all(
            "SELECT seq FROM commits WHERE line = ? AND seq >= ? AND seq <= ?", (line, lo, hi)))
    return out


# -- horizons -----------------------------------------------------------------------------
def _matching(rules: Sequence[RetentionPolicy], branch: str) -> list[RetentionPolicy]:
    return [p for p in rules if fnmatch.fnmatchcase(branch, p.pattern)]


def horizon_of(commits: CommitStore, head: Commit, rules: Sequence[RetentionPolicy],
               now: int) -> Commit | None:
    """The oldest first-parent commit of ``head`` whose state the rules keep (None: keep all).

    With several rules (or both ``keep`` and ``keep_commits``), each keeps its part and the
    most generous wins.
    """
    if not rules:
        return None
    best: Commit | None = None
    for rule in rules:
        for candidate in _rule_horizons(commits, head, rule, now):
            if candidate is None:
                return None
            if best is None or candidate.seq < best.seq:
                best = candidate
    return best


def _rule_horizons(commits: CommitStore, head: Commit, rule: RetentionPolicy, now: int
                   ) -> Iterable[Commit | None]:
    if rule.keep_commits is not None:
        yield _nth_first_parent(commits, head, rule.keep_commits - 1)
    if rule.keep_us is not None:
        yield _at_time(commits, head, now - rule.keep_us)


def _nth_first_parent(commits: CommitStore, head: Commit, steps: int) -> Commit | None:
    current = head
    for _ in range(steps):
        if not current.parents:
            return None
        parent = commits.by_id(current.parents[0])
        if parent is None:
            return None
        current = parent
    return current


def _at_time(commits: CommitStore, head: Commit, cutoff: int) -> Commit | None:
    """The state at ``cutoff``: the newest first-parent commit at or before it (commit times
    never decrease along first parents); None when the whole history is younger."""
    return at_time(commits, head, cutoff)


def horizon(commits: CommitStore, refs: RefStore, branch: str, *,
            now: int | None = None) -> Commit | None:
    """The retention horizon the policies give ``branch`` now (None: no limit)."""
    head = refs.branch_head(branch)
    if head is None:
        return None
    return horizon_of(commits, head, _matching(policies(commits.db), branch),
                      now if now is not None else now_us())


# -- gc -----------------------------------------------------------------------------------
def gc(commits: CommitStore, refs: RefStore, *, pinned: Iterable[Commit] = (),
       now: int | None = None, dry_run: bool = False) -> GcReport:
    """Apply the retention policies and remove rows no readable state needs (see module doc).

    ``pinned`` commits stay readable besides what the refs keep (the commits of open Views).
    """
    db = commits.db
    horizons: dict[str, str | None] = {}
    at = now if now is not None else now_us()
    with db.write():
        already = _pruned_seqs(db)
        rules = policies(db)
        readable: set[int] = set()
        heads: list[Commit] = []
        for name in refs.branch_names():
            head = refs.branch_head(name)
            if head is None:
                continue
            heads.append(head)
            cut = horizon_of(commits, head, _matching(rules, name), at)
            horizons[name] = cut.id if cut is not None else None
            floor = cut.seq if cut is not None else 0
            for commit in walk(commits, [head]):
                if commit.seq < floor:
                    break
                if commit.seq not in already:
                    readable.add(commit.seq)
        for (seq,) in db.all("SELECT commit_seq FROM refs WHERE kind = 'tag'"):
            if int(seq) not in already:
                readable.add(int(seq))
        for commit in pinned:
            if commit.seq not in already:
                readable.add(commit.seq)
        for i, a in enumerate(heads):
            for b in heads[i + 1:]:
                for base in merge_bases(commits, a, b):
                    if base.seq not in already:
                        readable.add(base.seq)
        bounds: set[tuple[int, int]] = set()
        for seq in readable:
            commit = commits.by_seq(seq)
            bounds.update(commits.chain(commit.line, commit.seq))
        newly = [(int(s), int(line)) for s, line in db.all("SELECT seq, line FROM commits")
                 if int(s) not in readable and int(s) not in already]
        doomed = _doomed_rows(db, bounds)
        total = db.one("SELECT count(*) FROM rows")
        report = GcReport(commits_pruned=len(newly), rows_deleted=doomed,
                          rows_kept=(int(total[0]) if total else 0) - doomed,
                          readable_commits=len(readable), horizons=horizons, dry_run=dry_run)
        if dry_run:
            db.run("DELETE FROM gc_bounds")
            return report
        db.run("DELETE FROM rows WHERE " + _UNNEEDED)
        bump_rewrites(db)  # read caches in every process forget what gc removed
        search_index.prune(db)
        db.run("DELETE FROM gc_bounds")
        _record_pruned(db, commits, newly, report, at)
    return report


def give_back_space(db: Database) -> bool:
    """Return the pages gc freed to the file system where the backend can (SQLite's
    ``VACUUM``); whether it did."""
    if not db.capabilities.vacuum:
        return False
    db.run("VACUUM")
    return True


def _doomed_rows(db: Database, bounds: set[tuple[int, int]]) -> int:
    db.script(f"CREATE TEMP TABLE IF NOT EXISTS gc_bounds (line {db.dialect.bigint} NOT NULL, "
              f"bound {db.dialect.bigint} NOT NULL);"
              "CREATE INDEX IF NOT EXISTS gc_bounds_line ON gc_bounds (line, bound)")
    db.run("DELETE FROM gc_bounds")
    db.many("INSERT INTO gc_bounds (line, bound) VALUES (?, ?)", sorted(bounds))
    row = db.one("SELECT count(*) FROM rows WHERE " + _UNNEEDED)
    return int(row[0]) if row else 0


def _record_pruned(db: Database, commits: CommitStore, newly: list[tuple[int, int]],
                   report: GcReport, at: int) -> None:
    """Store newly pruned commits as ranges of consecutive commits of each line."""
    if not newly:
        return
    by_line: dict[int, set[int]] = {}
    for seq, line in newly:
        by_line.setdefault(line, set()).add(seq)
    # A range before some branch's horizon names it; ranges no horizon explains were cut off
    # from every branch and tag (deleted branches, reset-away commits).
    before: dict[int, list[tuple[int, int]]] = {}
    for cid in report.horizons.values():
        cut = commits.by_id(cid) if cid is not None else None
        if cut is not None:
            for line, bound in path(commits, cut.line, cut.seq)[0]:
                before.setdefault(line, []).append((bound, cut.seq))
    ranges = []
    for line, seqs in by_line.items():
        order = [int(r[0]) for r in db.all("SELECT seq FROM commits WHERE line = ? ORDER BY seq",
                                           (line,))]
        run: list[int] = []
        for item in [*order, None]:
            if item is not None and item in seqs:
                run.append(item)
                continue
            if run:
                cuts = [h for bound, h in before.get(line, []) if bound >= run[-1]]
                ranges.append((line, run[0], run[-1], min(cuts) if cuts else None, at))
                run = []
    db.many("INSERT INTO pruned (line, lo_seq, hi_seq, horizon, time_us) VALUES "
            "(?, ?, ?, ?, ?)", ranges)


__all__ = ["GcReport", "RetentionPolicy", "check_readable", "gc", "horizon",
           "parse_keep", "policies", "pruned_range", "set_policy"]
