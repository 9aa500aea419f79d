"""History: the commit log, one element's versions, blame, merge bases, ahead/behind.

The log walks the commit graph newest first by seq (seqs grow with every commit, so a parent
always has a lower seq than its child). An element's history reads only that element's rows
inside the ref's chain through the (kind, key, line, seq) index: no walk over all commits.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from ..codec import json_equal, to_us
from ..storage.visibility import COLUMNS, Chain, StoredRow, in_chain
from ..types import (
    JSON,
    Blame,
    ChangeKind,
    Commit,
    Document,
    Entity,
    Relation,
    Version,
    property_changes,
)
from .commits import CommitStore
from .elements import DELETE, doc_key, to_value


def walk(commits: CommitStore, heads: list[Commit], *, first_parent: bool = False
         ) -> Iterator[Commit]:
    """Every commit reachable from ``heads``, newest (highest seq) first, each once."""
    heap = [(-c.seq, c.id) for c in heads]
    heapq.heapify(heap)
    seen = {c.id for c in heads}
    while heap:
        _, cid = heapq.heappop(heap)
        commit = commits.by_id(cid)
        if commit is None:
            continue
        yield commit
        parents = commit.parents[:1] if first_parent else commit.parents
        for pid in parents:
            if pid not in seen:
                seen.add(pid)
                parent = commits.by_id(pid)
                if parent is not None:
                    heapq.heappush(heap, (-parent.seq, pid))


def log(commits: CommitStore, head: Commit | None, *, limit: int | None = 50,
        author: str | None = None, since_us: int | None = None, until_us: int | None = None,
        touching: set[int] | None = None, first_parent: bool = False) -> list[Commit]:
    """Commits reachable from ``head``, newest first, filtered."""
    if head is None:
        return []
    out: list[Commit] = []
    for commit in walk(commits, [head], first_parent=first_parent):
        time_us = _us(commit)
        if until_us is not None and time_us > until_us:
            continue
        if since_us is not None and time_us < since_us:
            if first_parent:
                break  # times never decrease along first parents
            continue
        if author is not None and commit.author != author:
            continue
        if touching is not None and commit.seq not in touching:
            continue
        out.append(commit)
        if limit is not None and len(out) >= limit:
            break
    return out


def _us(commit: Commit) -> int:
    return to_us(commit.timestamp)


def seqs_touching(commits: CommitStore, kind: str, key: str) -> set[int]:
    rows = commits.db.all("SELECT seq FROM rows WHERE kind = ? AND key = ?", (kind, key))
    return {int(r[0]) for r in rows}


def element_rows(commits: CommitStore, chain: Chain, kind: str, key: str) -> list[StoredRow]:
    """All rows of one element visible along a chain, newest first."""
    where, params = in_chain(chain)
    rows = commits.db.all(f"SELECT {COLUMNS} FROM rows r WHERE r.kind = ? AND r.key = ? AND "
                          f"{where} ORDER BY r.seq DESC", [kind, key, *params])
    return [StoredRow(*r) for r in rows]


def history(commits: CommitStore, chain: Chain, kind: str, key: str,
            limit: int | None = None) -> list[Version]:
    """Every version of one element along a chain, newest first."""
    rows = element_rows(commits, chain, kind, key)
    out: list[Version] = []
    for i, row in enumerate(rows):
        older = rows[i + 1] if i + 1 < len(rows) else None
        change: ChangeKind = ("deleted" if row.op == DELETE else
                              "modified" if older is not None and older.op != DELETE
                              else "created")
        origin = commits.by_seq(row.origin).id if row.origin is not None else None
        out.append(Version(commits.by_seq(row.seq), change, to_value(row), origin))
        if limit is not None and len(out) >= limit:
            break
    return out


def blame(versions: list[Version], commits: CommitStore | None = None) -> dict[str, Blame]:
    """For each field of the current value, the oldest version in the unbroken run that
    already held that field's current value.

    With ``commits``, a value brought in by a merge or cherry-pick is followed to its own
    side's history, so ``Blame.origin`` names the commit that originally set it.
    """
    if not versions or versions[0].kind == "deleted":
        return {}
    current = property_changes(None, versions[0].value)
    out: dict[str, Blame] = {}
    for name, (_, value) in current.items():
        credit = versions[0]
        for version in versions[1:]:
            if version.kind == "deleted":
                break
            fields = property_changes(None, version.value)
            if name not in fields or not json_equal(fields[name][1], value):
                break
            credit = version
        origin = credit.origin
        if origin is not None and commits is not None:
            origin = _original(commits, credit, name, value)
        out[name] = Blame(name, value, credit.commit, origin)
    return out


def _original(commits: CommitStore, version: Version, name: str, value: JSON) -> str | None:
    """The commit that set ``name`` to ``value`` on the side a merged row came from; None when
    that side never held the value (the merge itself chose it, e.g. a resolution)."""
    assert version.origin is not None
    source = commits.by_id(version.origin)
    element = version.value
    if source is None or not isinstance(element, Entity | Relation | Document):
        return version.origin
    kind, key = (("e", element.id) if isinstance(element, Entity) else
                 ("r", element.id) if isinstance(element, Relation) else
                 ("d", doc_key(element.collection, element.key)))
    older = history(commits, commits.commit_chain(source), kind, key)
    found = blame(older, commits).get(name)  # origins are older commits: this terminates
    if found is None or not json_equal(found.value, value):
        return None
    return found.origin or found.commit.id


def merge_bases(commits: CommitStore, a: Commit, b: Commit) -> list[Commit]:
    """Best common ancestors of two commits (several in criss-cross histories), newest first.

    Paints the ancestors of each side walking by descending seq, as git does. A parent always
    has a lower seq than its children, so a commit's paint is final when it is popped. The walk
    stops when every queued commit descends from a common ancestor already found.
    """
    if a.id == b.id:
        return [a]
    flags: dict[str, int] = {a.id: 1, b.id: 2}
    heap = [(-a.seq, a.id), (-b.seq, b.id)]
    heapq.heapify(heap)
    results: list[Commit] = []
    while heap and any(not flags[c] & 4 for _, c in heap):
        _, cid = heapq.heappop(heap)
        flag = flags[cid]
        commit = commits.by_id(cid)
        if commit is None:
            continue
        if flag & 3 == 3 and not flag & 4:
            results.append(commit)
            flag |= 4  # its ancestors are common too, but not "best"
        for pid in commit.parents:
            before = flags.get(pid, 0)
            if before | flag != before:
                flags[pid] = before | flag
                if before == 0:
                    parent = commits.by_id(pid)
                    if parent is not None:
                        heapq.heappush(heap, (-parent.seq, pid))
    return [c for c in results
            if not any(o.id != c.id and is_ancestor(commits, c, o) for o in results)]


def is_ancestor(commits: CommitStore, ancestor: Commit, descendant: Commit) -> bool:
    """True when ``ancestor`` is reachable from ``descendant`` (or is it)."""
    for commit in walk(commits, [descendant]):
        if commit.id == ancestor.id:
            return True
        if commit.seq < ancestor.seq:
            return False
    return False


def ahead_behind(commits: CommitStore, a: Commit | None, b: Commit | None) -> tuple[int, int]:
    """(commits reachable from a but not b, commits reachable from b but not a)."""
    if a is None or b is None:
        count = len(log(commits, a or b, limit=None))
        return (count, 0) if a is not None else (0, count)
    only_a = _exclusive(commits, a, b)
    only_b = _exclusive(commits, b, a)
    return only_a, only_b


def _exclusive(commits: CommitStore, a: Commit, b: Commit) -> int:
    """Number of ancestors of ``a`` that are not ancestors of ``b``."""
    flags: dict[str, int] = {a.id: 1}
    flags[b.id] = flags.get(b.id, 0) | 2
    heap = [(-a.seq, a.id)] + ([(-b.seq, b.id)] if b.id != a.id else [])
    heapq.heapify(heap)
    count = 0
    while heap:
        if all(flags[c] & 2 for _, c in heap):
            break
        _, cid = heapq.heappop(heap)
        flag = flags[cid]
        if flag == 1:
            count += 1
        commit = commits.by_id(cid)
        if commit is None:
            continue
        for pid in commit.parents:
            before = flags.get(pid)
            after = (before or 0) | flag
            if before is None:
                parent = commits.by_id(pid)
                if parent is not None:
                    heapq.heappush(heap, (-parent.seq, pid))
            flags[pid] = after
    return count
