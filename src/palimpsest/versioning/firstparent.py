"""The first-parent path of a commit, exact across rollbacks.

A commit's *chain* (``storage/visibility.py``) says what state it sees; its *first-parent path*
says what history led to it. They are the same lines except after a rollback: a rollback commit
is the first commit of a new line forked at the target (so its state is the target's, with no
rows copied) while its first parent is the branch's old head. Nothing marks such a commit but
that shape: the first commit of a line whose first parent is not the commit the line forks from
(every other commit's first parent is the previous commit of its line, or the fork commit).

So the path is the chain with one change: where a line's first commit is a rollback, the path
continues at that commit's first parent instead of the fork. Like the chain it is a tuple of
``(line, bound)`` with one entry per line, so every chain-based SQL (``in_chain``) reads along
it; walking it costs one cached lookup per line, never a walk over commits.
"""

from __future__ import annotations

import threading
from weakref import WeakKeyDictionary

from ..storage.visibility import Chain
from ..types import Commit
from .commits import CommitStore

_FIRST: WeakKeyDictionary[CommitStore, dict[int, int]] = WeakKeyDictionary()
_LOCK = threading.Lock()


def first_commit(commits: CommitStore, line: int) -> Commit | None:
    """The oldest commit of ``line`` (None while it has none). Times never decrease along a
    line, so the (line, time, seq) index finds it in one probe; cached once committed."""
    with _LOCK:
        known = _FIRST.setdefault(commits, {}).get(line)
    if known is not None:
        return commits.by_seq(known)
    row = commits.db.one("SELECT seq FROM commits WHERE line = ? ORDER BY time_us, seq "
                         "LIMIT 1", (line,))
    if row is None:
        return None
    seq = int(row[0])
    if not commits.db.in_write():  # inside a write it could still roll back
        with _LOCK:
            _FIRST.setdefault(commits, {})[line] = seq
    return commits.by_seq(seq)


def rollback_parent(commits: CommitStore, commit: Commit) -> Commit | None:
    """For a rollback commit (its state base is not its first parent), that first parent: the
    branch head it rolled back from. None for every other commit."""
    if not commit.parents:
        return None
    parent = commits.by_id(commit.parents[0])
    if parent is None or parent.line == commit.line:
        return None
    fork_line, fork_seq = commits.line_origin(commit.line)
    if fork_seq is None or (parent.line, parent.seq) == (fork_line, fork_seq):
        return None  # a rollback line always forks at its target
    return parent


def state_base(commits: CommitStore, commit: Commit) -> Commit | None:
    """The commit whose state ``commit``'s own rows apply to: its first parent, except for a
    rollback, whose base is the target it restores (the commit its line forks from)."""
    if rollback_parent(commits, commit) is None:
        return commits.by_id(commit.parents[0]) if commit.parents else None
    _, fork = commits.line_origin(commit.line)
    return commits.by_seq(fork) if fork is not None else None


def path(commits: CommitStore, line: int, bound: int) -> tuple[Chain, list[Commit]]:
    """The first-parent path from the state at ``bound`` on ``line``: ``((line, bound), …)``
    newest first, one entry per line, and the rollback commits on it (newest first)."""
    out: list[tuple[int, int]] = []
    rollbacks: list[Commit] = []
    while True:
        out.append((line, bound))
        first = first_commit(commits, line)
        if first is not None and first.seq <= bound:
            before = rollback_parent(commits, first)
            if before is not None:
                rollbacks.append(first)
                line, bound = before.line, before.seq
                continue
        parent, fork = commits.line_origin(line)
        if parent is None or fork is None:
            return tuple(out), rollbacks
        line, bound = parent, fork


def commit_path(commits: CommitStore, commit: Commit | None) -> tuple[Chain, list[Commit]]:
    """:func:`path` from a commit (an empty history for None)."""
    if commit is None:
        return ((1, 0),), []
    return path(commits, commit.line, commit.seq)


def at_time(commits: CommitStore, head: Commit, time_us: int) -> Commit | None:
    """The newest first-parent ancestor of ``head`` (or itself) committed at or before
    ``time_us``; None when the whole history is younger. Commit times never decrease along
    first parents, so each line of the path is one indexed lookup."""
    segments, _ = path(commits, head.line, head.seq)
    for line, bound in segments:
        row = commits.db.one("SELECT seq FROM commits WHERE line = ? AND time_us <= ? AND "
                             "seq <= ? ORDER BY time_us DESC, seq DESC LIMIT 1",
                             (line, time_us, bound))
        if row is not None:
            return commits.by_seq(int(row[0]))
    return None
