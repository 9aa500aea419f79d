"""Commits whose state gc compacted away (the ``pruned`` table): is a commit still readable?"""

from __future__ import annotations

from ..codec import from_us
from ..errors import RetentionExpired
from ..storage.base import Database
from ..types import Commit
from .commits import CommitStore


def pruned_range(db: Database, commit: Commit) -> tuple[int | None, int] | None:
    """(horizon seq or None, gc time) when ``commit``'s state was compacted away, else None."""
    row = db.one("SELECT horizon, time_us FROM pruned WHERE line = ? AND lo_seq <= ? AND "
                 "hi_seq >= ? LIMIT 1", (commit.line, commit.seq, commit.seq))
    if row is None:
        return None
    return (int(row[0]) if row[0] is not None else None, int(row[1]))


def check_readable(commits: CommitStore, commit: Commit) -> Commit:
    """Return ``commit`` if its state can be read; raise RetentionExpired otherwise."""
    found = pruned_range(commits.db, commit)
    if found is None:
        return commit
    horizon_seq, gc_us = found
    when = commit.timestamp.isoformat()
    if horizon_seq is None:
        raise RetentionExpired(
            f"the state of commit {commit.short_id} ({when}) was compacted away by gc on "
            f"{from_us(gc_us).isoformat()}: no branch or tag reached it any more; its metadata "
            "is still in the log", commit=commit.id)
    horizon = commits.by_seq(horizon_seq)
    raise RetentionExpired(
        f"commit {commit.short_id} ({when}) lies before the retention horizon "
        f"{horizon.short_id} ({horizon.timestamp.isoformat()}); gc compacted its state on "
        f"{from_us(gc_us).isoformat()}; read {horizon.short_id} or later (its metadata is still "
        "in the log)", commit=commit.id, horizon=horizon.id)
