"""Restoring old states as new commits: rollback and revert. History is never rewritten.

Rollback is O(1): the branch moves to a new line forked at the target (nothing is copied, so
the new line's state is the target's by the visibility rule) and gets one commit with no rows
whose first parent is the old head, so the undone commits stay in its log. That commit's state
hash is the target's. History, blame, time travel and ``log --touching`` follow the first
parent through it (:mod:`.firstparent`); diff, merge and revert read states by their chains
and need nothing special.
Revert is a three-way merge with the reverted commit as base and its parent as "theirs".
"""

from __future__ import annotations

from collections.abc import Callable

from ..codec import now_us, to_us
from ..errors import RevertConflict
from ..storage.base import Database
from ..storage.visibility import Chain, StoredRow, adjacent, rows_at_both
from ..types import Commit, Conflict
from .elements import DELETE, Write, deletion, to_value, write_from_row
from .merge import PlanWriter
from .refs import Ref, RefStore
from .threeway import merge_keys


def rollback_writes(db: Database, head: Chain, target: Chain
                    ) -> tuple[list[Write], dict[tuple[str, str], StoredRow | None]]:
    """Writes that turn the ``head`` state into the ``target`` state, and the head rows they
    replace (so the commit need not read them again)."""
    writes: list[Write] = []
    replaced: dict[tuple[str, str], StoredRow | None] = {}
    for kind, key, now, then in rows_at_both(db, head, target):
        replaced[(kind, key)] = now
        if then is None or then.op == DELETE:
            writes.append(deletion(kind, key))
        else:
            writes.append(write_from_row(then, origin=then.origin if then.origin else then.seq))
    return writes, replaced


def revert_writes(db: Database, *, commit: Chain, parent: Chain, head: Chain) -> list[Write]:
    """Writes that undo one commit on top of ``head``; raises RevertConflict when later
    commits changed the same fields again."""
    outcome = merge_keys(db, None, base=commit, ours=head, theirs=parent)
    conflicts = list(outcome.conflicts)
    # Undoing a creation must not silently drop relations added to it later.
    deleted = {w.key for w in outcome.writes if w.kind == "e" and w.op == DELETE}
    if deleted:
        deleted_rels = {w.key for w in outcome.writes if w.kind == "r" and w.op == DELETE}
        ends = sorted(deleted)
        for row in adjacent(db, head, ends, column="source") + \
                adjacent(db, head, ends, column="target"):
            if row.key not in deleted_rels:
                conflicts.append(Conflict("relation", row.key, None, None, to_value(row).to_dict(),
                                          None, reason="added after the reverted commit to an "
                                                       "entity the revert would delete"))
    if conflicts:
        names = ", ".join(sorted({f"{c.element} {c.id}" for c in conflicts}))
        raise RevertConflict(f"cannot revert: later commits changed {names} again; "
                             "revert those first or edit by hand", conflicts)
    return outcome.writes


def rollback(refs: RefStore, ref: Ref, *, branch: str, message: str | None, author: str,
             notify: Callable[[Commit | None], None] | None = None) -> Commit:
    """A commit on ``branch`` whose state equals ``ref``'s (see :meth:`Repository.rollback`),
    in O(1): a new line forked at the target, holding one commit without rows whose first
    parent is the branch's old head."""
    commits, db = refs.commits, refs.db
    with db.write():
        db.lock(f"branch:{branch}")  # like a commit: writers to the branch land one at a time
        head = refs.branch_head(branch)  # RefNotFound for an unknown branch
        target = refs.commit_of(ref)
        line = commits.fork_at(target)
        db.run("UPDATE refs SET line = ? WHERE name = ? AND kind = 'branch'", (line, branch))
        # Times never decrease along first parents: not before the old head (nor the target,
        # the line's fork).
        times = [now_us(), to_us(target.timestamp)]
        if head is not None:
            times.append(to_us(head.timestamp))
        written = commits.write_commit(
            line=line, writes=[], parents=[head.id] if head is not None else [],
            author=author, message=message or f"Roll back to {target.short_id}",
            metadata={"rollback_to": target.id}, time_us=max(times), head_seq=target.seq)
        assert written is not None
        refs.log_move(branch, head.seq if head is not None else None, written.seq, author,
                      f"rollback: to {target.short_id}")  # the branch moved to a new line
    if notify is not None:
        notify(written)
    return written


def revert(refs: RefStore, ref: Ref, *, branch: str, message: str | None, author: str,
           write: PlanWriter) -> Commit:
    """A commit on ``branch`` undoing one commit (see :meth:`Repository.revert`)."""
    commits = refs.commits
    target = refs.commit_of(ref)
    parent = commits.by_id(target.parents[0]) if target.parents else None
    with refs.db.write():
        writes = revert_writes(refs.db, commit=commits.commit_chain(target),
                               parent=commits.commit_chain(parent),
                               head=refs.branch_chain(branch))
        return write(branch, message or f'Revert "{target.message}"', author,
                     {"reverts": target.id}, writes, {}, ())
