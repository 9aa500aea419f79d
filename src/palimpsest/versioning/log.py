"""History: the commit log, one element's versions, blame, merge bases, ahead/behind.

The log walks the commit graph newest first by seq (seqs grow with every commit, so a parent
always has a lower seq than its child). An element's history reads only that element's rows
inside the ref's chain through the (kind, key, line, seq) index: no walk over all commits.
An entity's facts include its relations: their keys come from the (source, line, seq) and
(target, line, seq) indexes, then their rows from the unique index.

History follows the first-parent path (:mod:`.firstparent`), which differs from the chain only
through rollbacks: a rollback commit writes no rows, so each one on the path adds a version of
a key when two point reads (the key at its first parent, and at itself) differ.
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Iterable, Iterator, Sequence

from ..codec import json_equal, to_us
from ..errors import InvalidValue
from ..storage.visibility import COLUMNS, Chain, StoredRow, in_chain, read_row, read_rows
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
from ..types import Relations as Relations
from . import provenance
from .commits import CommitStore
from .elements import DELETE, PUT, doc_key, element_name, public_id, to_value
from .firstparent import path, rollback_parent, state_base

ENDS: dict[str, tuple[str, ...]] = {"out": ("source",), "in": ("target",),
                                    "both": ("source", "target"), "none": ()}
_BATCH = 500


def walk(commits: CommitStore, heads: list[Commit], *, first_parent: bool = False,
         state_bases: bool = False) -> Iterator[Commit]:
    """Every commit reachable from ``heads``, newest (highest seq) first, each once; with
    ``state_bases`` also through the target of each rollback (whose rows its state reads)."""
    heap = [(-c.seq, c.id) for c in heads]
    heapq.heapify(heap)
    seen = {c.id for c in heads}
    while heap:
        _, cid = heapq.heappop(heap)
        commit = commits.by_id(cid)
        if commit is None:
            continue
        yield commit
        parents = list(commit.parents[:1] if first_parent else commit.parents)
        if state_bases and rollback_parent(commits, commit) is not None:
            base = state_base(commits, commit)
            if base is not None:
                parents.append(base.id)
        for pid in parents:
            if pid not in seen:
                seen.add(pid)
                parent = commits.by_id(pid)
                if parent is not None:
                    heapq.heappush(heap, (-parent.seq, pid))


def log(commits: CommitStore, head: Commit | None, *, limit: int | None = 50,
        author: str | None = None, since_us: int | None = None, until_us: int | None = None,
        touching: Container[int] | None = None, first_parent: bool = False) -> list[Commit]:
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


class Touching:
    """The commits that changed some elements, asked by seq (``seq in touching``).

    Commits that wrote rows are known from the rows themselves (on any line). A rollback commit
    writes none: it changed a key when the key's row differs between its first parent and its
    state, two batched point reads made only for the rollback commits a log walk meets.
    """

    def __init__(self, commits: CommitStore, keys: list[tuple[str, str]],
                 relations: Relations) -> None:
        self.commits = commits
        self.keys = keys
        self.relations = relations
        self.seqs: set[int] = set()
        self._relation_keys: dict[str, list[str]] = {}
        for kind, key in keys:
            rows = commits.db.all("SELECT seq FROM rows WHERE kind = ? AND key = ?", (kind, key))
            self.seqs.update(int(r[0]) for r in rows)
            if kind == "e" and relations != "none":
                self.seqs |= seqs_touching_relations(commits, key, relations)

    def __contains__(self, seq: object) -> bool:
        if not isinstance(seq, int):
            return False
        if seq in self.seqs:
            return True
        commit = self.commits.by_seq(seq)
        before = rollback_parent(self.commits, commit)
        return before is not None and self._rollback_touches(before, commit)

    def _rollback_touches(self, before: Commit, commit: Commit) -> bool:
        chains = (self.commits.commit_chain(before), self.commits.commit_chain(commit))
        db = self.commits.db
        for kind, key in self.keys:
            old, new = (read_row(db, chain, kind, key) for chain in chains)
            if not same_row(old, new):
                return True
            if kind == "e" and self.relations != "none":
                ends = ENDS[self.relations]
                rels = self._relation_keys.get(key)
                if rels is None:
                    rels = relation_keys(self.commits, None, key, self.relations)
                    self._relation_keys[key] = rels
                olds, news = (read_rows(db, chain, "r", rels) for chain in chains)
                for rel in rels:
                    a, b = olds.get(rel), news.get(rel)
                    if not same_row(a, b) and any(
                            row is not None and _touches(row, key, ends) for row in (a, b)):
                        return True
        return False


def seqs_touching(commits: CommitStore, keys: list[tuple[str, str]],
                  relations: Relations = "none") -> Touching:
    """The commits (on any line) that changed one of these elements, or for an entity one of
    its ``relations``: a :class:`Touching`, asked ``seq in touching``."""
    return Touching(commits, keys, check_relations(relations))


def same_row(a: StoredRow | None, b: StoredRow | None) -> bool:
    """Whether two rows hold the same element state (absent and deleted are the same)."""
    live_a = a is not None and a.op == PUT
    live_b = b is not None and b.op == PUT
    if not live_a or not live_b:
        return live_a == live_b
    assert a is not None and b is not None
    return a.hash is not None and b.hash is not None and bytes(a.hash) == bytes(b.hash)


def _rollback_row(commit: Commit, kind: str, key: str, before: StoredRow | None,
                  after: StoredRow | None) -> StoredRow | None:
    """The version a rollback commit made of one key, as a row of that commit (None when the
    key is the same on both sides). It credits the commit that first wrote the value, as a
    copied row would."""
    if same_row(before, after) and (after is None or after.op == DELETE or before is None
                                    or before.provenance == after.provenance):
        return None  # (the same value from another source is a version too)
    if after is None or after.op == DELETE:
        return StoredRow(0, kind, key, commit.line, commit.seq, DELETE, None, None, None, None,
                         None, None)
    origin = after.origin if after.origin is not None else after.seq
    return after._replace(line=commit.line, seq=commit.seq, origin=origin)


def rows_along(commits: CommitStore, chain: Chain, kind: str, keys: Sequence[str]
               ) -> dict[str, list[StoredRow]]:
    """For each key, its rows along the first-parent path of the chain's commit, newest
    first, with one row for each rollback commit on the path that changed it."""
    segments, rollbacks = path(commits, *chain[0])
    where, params = in_chain(segments)
    unique = list(dict.fromkeys(keys))
    out: dict[str, list[StoredRow]] = {}
    for i in range(0, len(unique), _BATCH):
        batch = unique[i:i + _BATCH]
        marks = ", ".join("?" * len(batch))
        for r in commits.db.all(f"SELECT {COLUMNS} FROM rows r WHERE r.kind = ? AND "
                                f"r.key IN ({marks}) AND {where} ORDER BY r.key, r.seq DESC",
                                [kind, *batch, *params]):
            row = StoredRow(*r)
            out.setdefault(row.key, []).append(row)
    for commit in rollbacks:
        before = rollback_parent(commits, commit)
        assert before is not None
        olds = read_rows(commits.db, commits.commit_chain(before), kind, unique)
        news = read_rows(commits.db, commits.commit_chain(commit), kind, unique)
        for key in unique:
            made = _rollback_row(commit, kind, key, olds.get(key), news.get(key))
            if made is not None:
                out.setdefault(key, []).append(made)
    if rollbacks:
        for rows in out.values():
            rows.sort(key=lambda row: -row.seq)
    return out


def element_rows(commits: CommitStore, chain: Chain, kind: str, key: str) -> list[StoredRow]:
    """All versions of one element along the chain commit's first-parent path, newest first."""
    return rows_along(commits, chain, kind, [key]).get(key, [])


def history(commits: CommitStore, chain: Chain, kind: str, key: str,
            limit: int | None = None) -> list[Version]:
    """Every version of one element along a chain, newest first."""
    rows = element_rows(commits, chain, kind, key)
    out: list[Version] = []
    for i, row in enumerate(rows):
        out.append(_version(commits, row, rows[i + 1] if i + 1 < len(rows) else None))
        if limit is not None and len(out) >= limit:
            break
    return out


def _version(commits: CommitStore, row: StoredRow, older: StoredRow | None) -> Version:
    change: ChangeKind = ("deleted" if row.op == DELETE else
                          "modified" if older is not None and older.op != DELETE
                          else "created")
    origin = commits.by_seq(row.origin).id if row.origin is not None else None
    return Version(commits.by_seq(row.seq), change, to_value(row), origin,
                   element_name(row.kind), public_id(row.kind, row.key)[0],
                   provenance.record(commits.db, row.provenance))


# -- an entity's facts: its relations ---------------------------------------------------------
def check_relations(relations: object) -> Relations:
    if relations not in ENDS:
        raise InvalidValue(f"relations must be 'out', 'in', 'both' or 'none', not {relations!r}")
    return relations  # type: ignore[return-value]


def _touches(row: StoredRow, entity: str, ends: tuple[str, ...]) -> bool:
    """Whether a relation row is live with ``entity`` at one of the ``ends``."""
    return row.op == PUT and any(getattr(row, end) == entity for end in ends)


def relation_keys(commits: CommitStore, chain: Chain | None, entity: str,
                  relations: Relations) -> list[str]:
    """Ids of the relations that had ``entity`` as an end (source for "out", target for "in")
    in some row along the chain commit's first-parent path or in a state a rollback on it
    restored (None: on any line), through the source/target indexes."""
    scopes: list[tuple[str, list[object]]] = [("1 = 1", [])]
    if chain is not None:
        segments, rollbacks = path(commits, *chain[0])
        scopes = [in_chain(segments)]
        scopes += [in_chain(commits.commit_chain(c)) for c in rollbacks]
    keys: set[str] = set()
    for where, params in scopes:
        for end in ENDS[relations]:
            rows = commits.db.all(f"SELECT DISTINCT r.key FROM rows r WHERE r.{end} = ? AND "
                                  f"r.kind = 'r' AND {where}", [entity, *params])
            keys.update(str(r[0]) for r in rows)
    return sorted(keys)


def relation_histories(commits: CommitStore, chain: Chain, entity: str, relations: Relations
                       ) -> dict[str, list[Version]]:
    """For each relation of ``entity`` (see :func:`relation_keys`), newest first, the versions
    that concern the entity: those where the relation has it as an end, and the one right
    after such a version (the relation deleted, or moved to another entity)."""
    ends = ENDS[relations]
    keys = relation_keys(commits, chain, entity, relations)
    by_key = rows_along(commits, chain, "r", keys)
    out: dict[str, list[Version]] = {}
    for key, rows in sorted(by_key.items()):
        versions = []
        for i, row in enumerate(rows):
            older = rows[i + 1] if i + 1 < len(rows) else None
            if _touches(row, entity, ends) or (older is not None and
                                               _touches(older, entity, ends)):
                versions.append(_version(commits, row, older))
        if versions:
            out[key] = versions
    return out


def facts_history(commits: CommitStore, chain: Chain, keys: list[tuple[str, str]],
                  relations: Relations, limit: int | None = None) -> list[Version]:
    """The history of the first of ``keys`` that has one; an entity's includes the versions
    of its ``relations`` (:func:`relation_histories`), merged by :func:`with_relations`."""
    relations = check_relations(relations)
    for kind, key in keys:
        if kind == "e" and relations != "none":
            own = history(commits, chain, kind, key)
            if own:
                return with_relations(own, relation_histories(commits, chain, key, relations),
                                      limit)
            continue
        versions = history(commits, chain, kind, key, limit)
        if versions:
            return versions
    return []


def facts_blame(commits: CommitStore, chain: Chain, keys: list[tuple[str, str]],
                relations: Relations) -> dict[str, Blame] | None:
    """Blame of the first of ``keys`` that has a history (None when none has); an entity's
    also credits each current relation fact (:func:`blame_relations`)."""
    relations = check_relations(relations)
    for kind, key in keys:
        versions = history(commits, chain, kind, key)
        if versions:
            found = blame(versions, commits)
            if kind == "e" and relations != "none" and versions[0].kind != "deleted":
                related = relation_histories(commits, chain, key, relations)
                found |= blame_relations(related, key, relations, commits)
            return found
    return None


def with_relations(own: list[Version], related: dict[str, list[Version]],
                   limit: int | None = None) -> list[Version]:
    """One history: newest commit first; within a commit the element's own version first,
    then its relations' by id."""
    items = [(-v.commit.seq, 0, "", v) for v in own]
    items += [(-v.commit.seq, 1, key, v) for key, versions in related.items()
              for v in versions]
    items.sort(key=lambda item: item[:3])
    out = [item[3] for item in items]
    return out[:limit] if limit is not None else out


def blame_relations(related: dict[str, list[Version]], entity: str, relations: Relations,
                    commits: CommitStore) -> dict[str, Blame]:
    """For each relation fact the entity has now, the commit that last changed it: key
    ``"@relation <id>"``, credited like the newest of its fields' blames (so a merged
    relation names its original commit in ``origin``)."""
    ends = ENDS[relations]
    out: dict[str, Blame] = {}
    for key, versions in sorted(related.items()):
        current = versions[0].value
        if not isinstance(current, Relation) or not any(
                getattr(current, end) == entity for end in ends):
            continue  # deleted, or no longer an end of it
        fields = blame(versions, commits)
        if not fields:
            continue
        credit = max(fields.values(), key=lambda b: b.commit.seq)
        name = f"@relation {key}"
        out[name] = Blame(name, current.to_dict(), credit.commit, credit.origin, key,
                          credit.provenance)
    return out


def seqs_touching_relations(commits: CommitStore, entity: str, relations: Relations
                            ) -> set[int]:
    """Seqs of the commits (on any line) that changed a relation fact of ``entity``: rows
    with the entity as an end, and rows deleting or moving a relation that had it."""
    ends = ENDS[relations]
    keys = relation_keys(commits, None, entity, relations)
    out: set[int] = set()
    for i in range(0, len(keys), _BATCH):
        batch = keys[i:i + _BATCH]
        marks = ", ".join("?" * len(batch))
        for r in commits.db.all(f"SELECT {COLUMNS} FROM rows r WHERE r.kind = 'r' AND "
                                f"r.key IN ({marks})", batch):
            row = StoredRow(*r)
            if _touches(row, entity, ends):
                out.add(row.seq)
                continue
            before = read_row(commits.db, commits.chain(row.line, row.seq - 1), "r", row.key)
            if before is not None and _touches(before, entity, ends):
                out.add(row.seq)
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
        out[name] = Blame(name, value, credit.commit, origin, None, credit.provenance)
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


def reachable_since(commits: CommitStore, head: Commit, known: Iterable[Commit]
                    ) -> list[Commit]:
    """The commits reachable from ``head`` and from none of ``known``, oldest (lowest seq)
    first, so each comes after its parents.

    Paints ancestors from both sides walking by descending seq (a commit's paint is final
    when it is popped, as in :func:`merge_bases`) and stops when every queued commit is an
    ancestor of ``known``: O(new commits) plus the walk down to where the sides meet.
    """
    flags: dict[str, int] = {head.id: 1}
    heap = [(-head.seq, head.id)]
    for tip in known:
        if tip.id not in flags:
            heap.append((-tip.seq, tip.id))
        flags[tip.id] = flags.get(tip.id, 0) | 2
    heapq.heapify(heap)
    out: list[Commit] = []
    while heap and not all(flags[cid] & 2 for _, cid in heap):
        _, cid = heapq.heappop(heap)
        flag = flags[cid]
        commit = commits.by_id(cid)
        if commit is None:
            continue
        if flag == 1:
            out.append(commit)
        for pid in commit.parents:
            before = flags.get(pid)
            flags[pid] = (before or 0) | flag
            if before is None:
                parent = commits.by_id(pid)
                if parent is not None:
                    heapq.heappush(heap, (-parent.seq, pid))
    out.reverse()
    return out


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
