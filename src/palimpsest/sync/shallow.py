"""Shallow transfers: ``clone(depth=N)`` / ``clone(since=TIME)`` bring the recent history only.

The sender picks a *horizon* seq: for each wanted head, its ``depth``-th first-parent commit,
or the commit it was at ``since`` (a commit is kept when either rule keeps it). Commits of the
pack older than the horizon travel as metadata only (``"shallow": "pruned"``: everything the id
hashes, plus stats), and a recent commit whose state base is one of them travels as a *graft*
(``"shallow": "graft"``): its whole state as rows, based on the empty state. The receiver
verifies every id from its content, computes each graft's state hash from its rows, and records
the metadata-only commits as a ``pruned`` range whose horizon is the first graft: exactly what
gc leaves behind (``maintenance/retention.py``), so reading before the horizon raises
``RetentionExpired`` naming it, and ``log`` still lists every commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from ..codec import to_us
from ..errors import InvalidValue
from ..storage.visibility import StoredRow, scan
from ..types import Commit
from ..versioning.commits import CommitStore
from ..versioning.firstparent import at_time

KINDS = ("e", "r", "d", "k")


def horizon(commits: CommitStore, wants: Sequence[str], *, depth: int | None = None,
            since: str | datetime | None = None) -> int | None:
    """The oldest seq the receiver gets whole (None: everything)."""
    if depth is None and since is None:
        return None
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or
                              depth < 1):
        raise InvalidValue(f"depth must be a whole number of commits, 1 or more, not {depth!r}")
    since_us = to_us(since) if since is not None else None
    found: list[int] = []
    for cid in wants:
        head = commits.by_id(cid)
        if head is None:
            continue
        keep: list[int | None] = []
        if depth is not None:
            commit: Commit | None = head
            for _ in range(depth - 1):
                assert commit is not None
                commit = commits.by_id(commit.parents[0]) if commit.parents else None
                if commit is None:
                    break
            keep.append(commit.seq if commit is not None else None)
        if since_us is not None:
            at = at_time(commits, head, since_us)
            keep.append(at.seq if at is not None else None)
        if any(k is None for k in keep):
            return None  # one rule keeps this head's whole history
        found.append(min(k for k in keep if k is not None))
    return min(found) if found else None


def full_state(commits: CommitStore, commit: Commit) -> Iterator[StoredRow]:
    """Every live row of ``commit``'s state: a graft's rows."""
    chain = commits.chain(commit.line, commit.seq)
    for kind in KINDS:
        yield from scan(commits.db, chain, kind, order="r.key")


def shallow_options(depth: int | None, since: str | datetime | None) -> dict[str, Any]:
    """The wire form of the options (``since`` as ISO text)."""
    out: dict[str, Any] = {}
    if depth is not None:
        out["depth"] = depth
    if since is not None:
        out["since"] = since.isoformat() if isinstance(since, datetime) else since
    return out
