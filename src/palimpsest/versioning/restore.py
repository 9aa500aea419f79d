"""Restoring old states as new commits: rollback and revert. History is never rewritten.

Rollback writes, for every key that differs between the head and the target (found from the
two chains in O(changes)), the target's row again; the new commit's state hash therefore equals
the target's. Copying those rows (rather than re-pointing the branch) keeps history, blame and
the audit trail row-based and the first-parent log equal to the line chain.
Revert is a three-way merge with the reverted commit as base and its parent as "theirs".
"""

from __future__ import annotations

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
             write: PlanWriter) -> Commit:
    """A commit on ``branch`` whose state equals ``ref``'s (see :meth:`Repository.rollback`)."""
    target = refs.commit_of(ref)
    with refs.db.write():
        writes, replaced = rollback_writes(refs.db, refs.branch_chain(branch),
                                           refs.commits.commit_chain(target))
        return write(branch, message or f"Roll back to {target.short_id}", author,
                     {"rollback_to": target.id}, writes, replaced, ())


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
