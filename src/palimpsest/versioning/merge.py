"""Merge, cherry-pick and set-merge (combine): planning the writes, never writing them.

:func:`merge`, :func:`cherry_pick` and :func:`combine` (at the end) take the write lock, ask one
of the ``plan_*`` functions what must change on the target branch, and commit that through the
:class:`PlanWriter` the Repository gives them (a Transaction). Planning reads O(changes) rows.

Rules (see docs/branching.md for the user's view):

* **Merge base.** The best common ancestor of the two heads (``log.merge_bases``). In
  criss-cross histories there are several; the base is then *virtual*: the bases blended
  field by field (:func:`virtual_base`), in the spirit of git's recursive strategy, so
  changes both sides already share are not reported as conflicts. ``MergeResult.base`` names
  the newest of them.
* **Three-way, field by field** (:mod:`.threeway`): keys that changed between the base and
  their head are merged into ours; a field changed differently on both sides is a Conflict.
* **No dangling relations.** A relation alive in the merged result whose source or target
  entity is deleted there is a structural Conflict on the relation. Resolving it with a side
  takes that side's relation *and its endpoints* (so "ours" keeps an entity we still point at).
* **Resolution.** ``strategy`` ("ours" / "theirs") resolves every conflict one way;
  ``resolutions`` maps :attr:`Conflict.key` tuples to "ours", "theirs", or a value for that
  field (``None`` removes it; wrap a literal "ours"/"theirs" string in :class:`Resolved`).
  Whole-element conflicts (property ``None``) accept only "ours" / "theirs".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ..errors import InvalidValue, MergeConflict
from ..storage.base import Database
from ..storage.visibility import Chain, StoredRow, adjacent, changed_keys, read_row, read_rows
from ..types import JSON, Change, Commit, Conflict, Diff, MergeStatus
from ..types import MergeResult as MergeResult  # its home before types.py
from . import provenance
from .commits import CommitStore, parents_text
from .diff import change_between
from .diff import compute as compute_diff
from .elements import (
    DELETE,
    PUT,
    Write,
    deletion,
    element_name,
    public_id,
    row_of_write,
    write_from_row,
)
from .log import is_ancestor, merge_bases
from .pruned import check_readable
from .refs import Ref, RefStore
from .threeway import (
    Resolved,
    RowReader,
    Side,
    blend_rows,
    merge_keys,
    read_many,
    whole_value,
)

Ident = tuple[str, str]
ResolutionKey = tuple[str, str, "str | None"]

_ELEMENTS = ("entity", "relation", "document", "kv")
_MISSING: Any = object()


@dataclass(slots=True)
class Plan:
    """The writes a merge needs on the target, and what stops it."""

    status: MergeStatus
    base: Commit | None = None
    writes: list[Write] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    known: dict[Ident, StoredRow | None] = field(default_factory=dict)
    """Rows already read on the target side, by key (spares reading them again)."""


class Resolver:
    """Turns ``strategy`` and ``resolutions`` into the per-conflict choice the three-way merge
    asks for, and remembers every conflict it was asked about."""

    def __init__(self, strategy: str | None = None,
                 resolutions: Mapping[ResolutionKey, Any] | None = None, *,
                 strategies: Sequence[str] = ("ours", "theirs"),
                 choices: Sequence[str] = ()) -> None:
        if strategy is not None and strategy not in strategies:
            raise InvalidValue(f"strategy must be None or one of "
                               f"{', '.join(map(repr, strategies))}, not {strategy!r}")
        self.strategy = strategy
        self.sides = (*strategies, *choices)
        self.resolutions: dict[ResolutionKey, Any] = {}
        for key, value in (resolutions or {}).items():
            self.resolutions[_check_key(key)] = value
        self.seen: dict[ResolutionKey, Conflict] = {}
        self.resolved: dict[ResolutionKey, Conflict] = {}

    @property
    def given(self) -> bool:
        """True when the caller asked for conflicts to be resolved."""
        return self.strategy is not None or bool(self.resolutions)

    def choose(self, conflict: Conflict) -> Any:
        """The raw choice for a conflict: a side name, a Resolved value, or None."""
        key = conflict.key
        self.seen[key] = conflict
        choice = self.resolutions.get(key, _MISSING)
        if choice is _MISSING:
            choice = self.strategy
        elif isinstance(choice, str) and choice in self.sides:
            pass
        elif conflict.property is None:
            raise InvalidValue(f"conflict {key} is about the whole {conflict.element}: resolve "
                               f"it with one of {', '.join(map(repr, self.sides))}, "
                               f"not {choice!r}")
        elif not isinstance(choice, Resolved):
            choice = Resolved(choice)
        if choice is not None:
            self.resolved[key] = conflict
        return choice

    def __call__(self, conflict: Conflict) -> Side | Resolved | None:
        choice = self.choose(conflict)
        return choice if choice is None or isinstance(choice, Resolved | str) else None

    def check_unused(self) -> None:
        """Refuse resolutions that match no conflict (a typo would otherwise go unnoticed)."""
        unused = [k for k in self.resolutions if k not in self.seen]
        if unused:
            raise InvalidValue(f"resolutions given for {', '.join(map(str, unused[:5]))}, "
                               "which did not conflict; use Conflict.key from the merge result")

    def settled(self, remaining: Sequence[Conflict]) -> list[Conflict]:
        left = {c.key for c in remaining}
        return [c for k, c in self.resolved.items() if k not in left]


def _check_key(key: object) -> ResolutionKey:
    if not (isinstance(key, tuple) and len(key) == 3 and key[0] in _ELEMENTS
            and isinstance(key[1], str) and (key[2] is None or isinstance(key[2], str))):
        raise InvalidValue(f"resolution keys are (element, id, property) tuples as in "
                           f"Conflict.key, e.g. ('entity', 'users', 'name'); got {key!r}")
    return (key[0], key[1], key[2])


def origin_of(row: StoredRow) -> int:
    """The seq credited for a row copied elsewhere: its own origin, else the row's commit."""
    return row.origin if row.origin is not None else row.seq


def _live(row: StoredRow | None) -> bool:
    return row is not None and row.op == PUT


# -- merge -----------------------------------------------------------------------------------
def plan_merge(db: Database, commits: CommitStore, ours: Commit | None, theirs: Commit | None,
               ours_chain: Chain, resolver: Resolver) -> Plan:
    """What merging ``theirs`` into the branch at ``ours`` takes."""
    if theirs is None or (ours is not None and descends(commits, ours, theirs)):
        return Plan("up_to_date", theirs)
    if ours is None or descends(commits, theirs, ours):
        return Plan("fast_forward", ours)
    bases = merge_bases(commits, ours, theirs)
    for candidate in bases:
        check_readable(commits, candidate)  # gc keeps merge bases of branches, not of any ref
    base = bases[0] if bases else None
    theirs_chain = commits.commit_chain(theirs)
    if len(bases) < 2:
        return _three_way(db, base, commits.commit_chain(base), ours_chain, theirs_chain,
                          resolver)
    keys: set[Ident] = set()
    for other in bases:
        keys.update(changed_keys(db, commits.commit_chain(other), theirs_chain))
    return _three_way(db, base, commits.commit_chain(base), ours_chain, theirs_chain,
                      resolver, keys=sorted(keys), base_row=virtual_base(db, commits, bases))


def descends(commits: CommitStore, commit: Commit, ancestor: Commit) -> bool:
    """True when ``ancestor`` is ``commit`` or one of its ancestors.

    Fast path, O(length of the line chain): a line's commits each have the previous one (the
    fork commit, for the first) as first parent, so a commit inside ``commit``'s chain is its
    ancestor once each line link is checked to be a plain fork. Otherwise walk the graph.
    """
    if ancestor.id == commit.id:
        return True
    if ancestor.seq > commit.seq:
        return False  # parents always have lower seqs
    chain = commits.commit_chain(commit)
    for i, (line, bound) in enumerate(chain):
        if line != ancestor.line:
            continue
        if ancestor.seq <= bound and all(
                _plain_fork(commits, chain[j][0], chain[j + 1][1]) for j in range(i)):
            return True
        break
    return is_ancestor(commits, ancestor, commit)


def _plain_fork(commits: CommitStore, line: int, fork_seq: int) -> bool:
    """Whether the first commit on ``line`` has its fork commit as first parent."""
    row = commits.db.one("SELECT parents FROM commits WHERE line = ? ORDER BY seq LIMIT 1",
                         (line,))
    if row is None:
        return True  # no commit of its own: its chain is its fork's
    parents = parents_text(row[0])
    return bool(parents) and parents[0] == commits.by_seq(fork_seq).id


def virtual_base(db: Database, commits: CommitStore, bases: Sequence[Commit]) -> RowReader:
    """Criss-cross histories: read the merge base as the blend of all best common ancestors.

    Each further base is blended into the first, field by field, against the newest common
    ancestor of the two; where they disagree, that ancestor's value is used (so a side's
    change relative to it still shows, and can only conflict, never vanish).
    """
    first = commits.commit_chain(bases[0])
    pairs = []
    for other in bases[1:]:
        anchors = merge_bases(commits, bases[0], other)
        pairs.append((commits.commit_chain(other),
                      commits.commit_chain(anchors[0] if anchors else None)))

    def read(kind: str, key: str) -> StoredRow | None:
        row = read_row(db, first, kind, key)
        for chain, anchor in pairs:
            row = blend_rows(kind, key, read_row(db, anchor, kind, key), row,
                             read_row(db, chain, kind, key))
        return row

    return read


def plan_cherry_pick(db: Database, commits: CommitStore, commit: Commit, ours_chain: Chain,
                     resolver: Resolver) -> Plan:
    """Apply what ``commit`` changed relative to its first parent on top of ``ours_chain``."""
    parent = commits.by_id(commit.parents[0]) if commit.parents else None
    plan = _three_way(db, parent, commits.commit_chain(parent), ours_chain,
                      commits.commit_chain(commit), resolver)
    if not plan.writes and not plan.conflicts:
        plan.status = "up_to_date"
    return plan


def _three_way(db: Database, base: Commit | None, base_chain: Chain, ours_chain: Chain,
               theirs_chain: Chain, resolver: Resolver, *, keys: Sequence[Ident] | None = None,
               base_row: RowReader | None = None) -> Plan:
    outcome = merge_keys(db, keys, base=base_chain, ours=ours_chain, theirs=theirs_chain,
                         resolve=resolver, origin_of=origin_of, base_row=base_row)
    writes = {(w.kind, w.key): w for w in outcome.writes}
    conflicts = list(outcome.conflicts)

    def read_base(kind: str, key: str) -> StoredRow | None:
        return base_row(kind, key) if base_row else read_row(db, base_chain, kind, key)

    _settle_graph(db, writes, conflicts, resolver, read_base,
                  {"ours": ours_chain, "theirs": theirs_chain})
    status: MergeStatus = "conflict" if conflicts else "merged"
    return Plan(status, base, list(writes.values()), conflicts, outcome.ours)


def _settle_graph(db: Database, writes: dict[Ident, Write], conflicts: list[Conflict],
                  resolver: Resolver, base_row: RowReader, chains: dict[str, Chain]) -> None:
    """Turn every relation left dangling by the merge into a conflict, or resolve it by
    taking one side's relation together with its endpoints."""
    reported = {c.id for c in conflicts if c.element == "relation" and c.property is None}
    for _ in range(3):
        dangling = [(k, m) for k, m in find_dangling(db, chains["ours"], writes)
                    if k not in reported]
        if not dangling:
            return
        for key, missing in dangling:
            rows = {side: read_row(db, chain, "r", key) for side, chain in chains.items()}
            rows["base"] = base_row("r", key)
            ends = " and ".join(repr(m) for m in missing)
            conflict = Conflict("relation", key, None, whole_value(rows["base"]),
                                whole_value(rows["ours"]), whole_value(rows["theirs"]),
                                reason=f"its endpoint {ends} is deleted in the merged graph "
                                       "(one side deleted it, the other still links to it)")
            choice = resolver.choose(conflict)
            if choice not in ("ours", "theirs"):
                conflicts.append(conflict)
                reported.add(key)
                continue
            _take_side(db, writes, key, rows[choice], chains, choice)
    for key, missing in find_dangling(db, chains["ours"], writes):  # never commit one
        if key not in reported:
            conflicts.append(Conflict("relation", key, None, None, None, None,
                                      reason=f"its endpoint {missing[0]!r} would be missing"))


def _take_side(db: Database, writes: dict[Ident, Write], key: str, row: StoredRow | None,
               chains: dict[str, Chain], side: str) -> None:
    """Make relation ``key`` look as it does on ``side``, keeping the endpoints it needs."""
    if side == "ours":
        writes.pop(("r", key), None)
    elif _live(row):
        assert row is not None
        writes[("r", key)] = write_from_row(row, origin=origin_of(row))
    elif _live(read_row(db, chains["ours"], "r", key)):
        writes[("r", key)] = deletion("r", key)
    else:
        writes.pop(("r", key), None)
    if not _live(row):
        return
    assert row is not None
    for end in dict.fromkeys((row.source, row.target)):
        assert end is not None
        write = writes.get(("e", end))
        if write is not None and write.op == PUT:
            continue
        if write is None and _live(read_row(db, chains["ours"], "e", end)):
            continue
        if side == "ours":  # alive on our side: drop the deletion the merge planned
            writes.pop(("e", end), None)
        else:
            entity = read_row(db, chains["theirs"], "e", end)
            if entity is not None and _live(entity):
                writes[("e", end)] = write_from_row(entity, origin=origin_of(entity))


def find_dangling(db: Database, chain: Chain, writes: Mapping[Ident, Write]
                  ) -> list[tuple[str, list[str]]]:
    """Relations alive after applying ``writes`` on top of ``chain`` that point at an entity
    that is not, with the missing endpoints."""
    cache: dict[str, bool] = {}
    ends = {e for (kind, _), w in writes.items() if kind == "r" and w.op == PUT
            for e in (w.source, w.target) if e is not None and ("e", e) not in writes}
    if ends:  # the endpoints the writes do not touch, read in one batch
        found_rows = read_rows(db, chain, "e", sorted(ends))
        cache.update({e: _live(found_rows.get(e)) for e in ends})

    def alive(entity: str) -> bool:
        if entity not in cache:
            write = writes.get(("e", entity))
            cache[entity] = write.op == PUT if write is not None else \
                _live(read_row(db, chain, "e", entity))
        return cache[entity]

    found: dict[str, list[str]] = {}
    for (kind, key), write in writes.items():
        if kind == "r" and write.op == PUT:
            missing = [e for e in dict.fromkeys((write.source, write.target))
                       if e is not None and not alive(e)]
            if missing:
                found[key] = missing
    deleted = sorted(key for (kind, key), w in writes.items() if kind == "e" and w.op == DELETE)
    if deleted:
        rows = adjacent(db, chain, deleted, column="source") + \
            adjacent(db, chain, deleted, column="target")
        for row in rows:
            if ("r", row.key) in writes or row.key in found:
                continue
            missing = [e for e in dict.fromkeys((row.source, row.target))
                       if e is not None and not alive(e)]
            if missing:
                found[row.key] = missing
    return sorted(found.items())


# -- combine ---------------------------------------------------------------------------------
def plan_combine(db: Database, commits: CommitStore, versions: Sequence[tuple[str, Commit]],
                 ours_chain: Chain, mode: str, resolver: Resolver) -> Plan:
    """Writes that make the target's entities, relations and documents the union (or
    intersection) of ``versions``; kv entries of the target are left alone.

    Only keys that differ between the versions, or between the first version and the target,
    can need a write, so this reads O(changes) rows. An element present in several versions
    with different content is a whole-element Conflict (``ours`` = the first version holding
    it, ``theirs`` = the first that differs); ``strategy`` "first" / "last" resolves by the
    order of ``versions``, ``resolutions`` by naming the ref whose content to take.
    """
    if mode not in ("union", "intersection"):
        raise InvalidValue(f"mode must be 'union' or 'intersection', not {mode!r}")
    chains = [commits.commit_chain(c) for _, c in versions]
    names = [n for n, _ in versions]
    keys = set(changed_keys(db, ours_chain, chains[0]))
    for chain in chains[1:]:
        keys.update(changed_keys(db, chains[0], chain))
    writes: dict[Ident, Write] = {}
    conflicts: list[Conflict] = []
    wanted = sorted(k for k in keys if k[0] != "k")
    found = [read_many(db, chain, wanted) for chain in chains]
    for kind, key in wanted:
        rows = [rows_of.get((kind, key)) for rows_of in found]
        held = [(i, r) for i, r in enumerate(rows) if r is not None and _live(r)]
        chosen: StoredRow | None = None
        if held and (mode == "union" or len(held) == len(rows)):
            chosen = held[0][1]
            differing = [(i, r) for i, r in held if bytes(r.hash or b"") != bytes(chosen.hash or b"")]
            if differing:
                chosen = _choose_version(held, differing[0], names, kind, key, resolver,
                                         conflicts)
                if chosen is None:
                    continue
        _put_if_changed(db, writes, ours_chain, kind, key, chosen)
    if mode == "intersection":
        for _ in range(3):
            dangling = find_dangling(db, ours_chain, writes)
            if not dangling:
                break
            for key, _missing in dangling:  # a relation is kept only with both endpoints
                _put_if_changed(db, writes, ours_chain, "r", key, None)
    status: MergeStatus = "conflict" if conflicts else "merged" if writes else "up_to_date"
    return Plan(status, None, list(writes.values()), conflicts)


def _choose_version(held: list[tuple[int, StoredRow]], first_diff: tuple[int, StoredRow],
                    names: list[str], kind: str, key: str, resolver: Resolver,
                    conflicts: list[Conflict]) -> StoredRow | None:
    first_i, first = held[0]
    other_i, other = first_diff
    ident, collection = public_id(kind, key)
    holders = ", ".join(names[i] for i, _ in held)
    conflict = Conflict(element_name(kind), ident, None, None, whole_value(first),
                        whole_value(other), collection,
                        reason=f"differs between {names[first_i]!r} and {names[other_i]!r} "
                               f"(present in {holders})")
    choice = resolver.choose(conflict)
    if choice == "first":
        return first
    if choice == "last":
        return held[-1][1]
    if isinstance(choice, str) and choice in names:
        for i, row in held:
            if names[i] == choice:
                return row
        raise InvalidValue(f"resolution for {conflict.key}: {choice!r} does not hold that "
                           f"{conflict.element}; pick one of {holders}")
    conflicts.append(conflict)
    return None


def _put_if_changed(db: Database, writes: dict[Ident, Write], chain: Chain, kind: str,
                    key: str, chosen: StoredRow | None) -> None:
    current = read_row(db, chain, kind, key)
    if chosen is None:
        if _live(current):
            writes[(kind, key)] = deletion(kind, key)
        else:
            writes.pop((kind, key), None)
    elif not (_live(current) and current is not None
              and bytes(current.hash or b"") == bytes(chosen.hash or b"")):
        writes[(kind, key)] = write_from_row(chosen, origin=origin_of(chosen))
    else:
        writes.pop((kind, key), None)


# -- previews --------------------------------------------------------------------------------
def changes_of(db: Database, chain: Chain, writes: Sequence[Write],
               known: Mapping[Ident, StoredRow | None] | None = None) -> list[Change]:
    """The changes ``writes`` would make to the state at ``chain``, sorted like a Diff."""
    out: list[Change] = []
    known = known or {}
    records = provenance.records(db, [w.provenance for w in writes
                                      if isinstance(w.provenance, int)])
    for write in writes:
        ident = (write.kind, write.key)
        old = known[ident] if ident in known else read_row(db, chain, write.kind, write.key)
        new = row_of_write(write, write.hash)
        change = change_between(old, new, records)
        if change is not None:
            out.append(change)
    order = {"entity": 0, "relation": 1, "document": 2, "kv": 3}
    out.sort(key=lambda c: (order[c.element], c.collection or "", c.id))
    return out



# -- running a merge, cherry-pick or combine ------------------------------------------------
class PlanWriter(Protocol):
    """Commits planned writes to ``branch`` (the Repository does it through a Transaction);
    ``known`` are base rows read under the write lock, which the commit need not reread."""

    def __call__(self, branch: str, message: str, author: str, metadata: Mapping[str, JSON],
                 writes: Sequence[Write], known: Mapping[Ident, StoredRow | None],
                 extra_parents: Sequence[str]) -> Commit: ...


class Vetter(Protocol):
    """The schema violations ``writes`` would cause on the state at ``chain`` (previews)."""

    def __call__(self, chain: Chain, writes: Sequence[Write]) -> list[Any]: ...


def merge(refs: RefStore, source: Ref, *, into: str, current: str, message: str | None,
          author: str, resolver: Resolver, dry_run: bool, write: PlanWriter,
          vet: Vetter | None = None, metadata: Mapping[str, JSON] | None = None) -> MergeResult:
    """Merge ``source`` into branch ``into`` (see :meth:`Repository.merge`), holding the write
    lock (a read transaction for ``dry_run``) so ``into`` cannot move meanwhile.

    ``metadata`` goes into the merge commit next to the ``merge`` entry; a merge that could
    fast-forward then writes a merge commit instead, so the metadata is recorded."""
    commits, db = refs.commits, refs.db
    refs.branch_line(into)
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise InvalidValue(f"metadata must be a dict, not {type(metadata).__name__}")
        if "merge" in metadata:
            raise InvalidValue("metadata key 'merge' is the merge's own record (source, "
                               "commit, base); name yours differently")
    if isinstance(source, str) and (source == into or (source == "HEAD" and into == current)):
        raise InvalidValue(f"cannot merge branch {into!r} into itself; name another "
                           "branch, tag or commit")
    with db.read() if dry_run else db.write():
        theirs = refs.resolve(source)
        ours = refs.branch_head(into)
        chain = refs.branch_chain(into)
        plan = plan_merge(db, commits, ours, theirs, chain, resolver)
        if plan.status == "fast_forward" and metadata and ours is not None \
                and theirs is not None:
            plan = _three_way(db, ours, commits.commit_chain(ours), chain,
                              commits.commit_chain(theirs), resolver)
        resolver.check_unused()
        if plan.status == "up_to_date":
            return MergeResult("up_to_date", None if dry_run else ours, base=plan.base,
                               source=theirs, target=ours, dry_run=dry_run,
                               diff=Diff(ours, ours) if dry_run else None)
        assert theirs is not None
        name = source if isinstance(source, str) else theirs.short_id
        if plan.status == "fast_forward":
            if dry_run:
                diff = compute_diff(db, ours, chain, theirs, commits.commit_chain(theirs))
                return MergeResult("fast_forward", base=ours, source=theirs, target=ours,
                                   diff=diff, dry_run=True)
            refs.move_branch(into, theirs, author=author, message=f"merge {name}: fast-forward")
            return MergeResult("fast_forward", theirs, base=ours, source=theirs, target=ours)
        assert ours is not None
        meta: dict[str, JSON] = {**(metadata or {}), "merge": {
            "source": name, "commit": theirs.id, "base": plan.base.id if plan.base else None}}
        return _finish(db, plan, resolver, into, ours, theirs, chain, dry_run,
                       message or f"Merge {name} into {into}", author, meta, [theirs.id], write,
                       vet)


def cherry_pick(refs: RefStore, commit: Ref, *, onto: str, message: str | None, author: str,
                resolver: Resolver, dry_run: bool, write: PlanWriter,
                vet: Vetter | None = None) -> MergeResult:
    """Apply one commit's changes to branch ``onto`` (see :meth:`Repository.cherry_pick`)."""
    refs.branch_line(onto)
    db = refs.db
    with db.read() if dry_run else db.write():
        picked = refs.commit_of(commit)
        ours = refs.branch_head(onto)
        chain = refs.branch_chain(onto)
        plan = plan_cherry_pick(db, refs.commits, picked, chain, resolver)
        note = f"(cherry picked from commit {picked.id})"
        return _finish(db, plan, resolver, onto, ours, picked, chain, dry_run,
                       message or "\n\n".join(filter(None, [picked.message, note])),
                       author, {"cherry_picked_from": picked.id}, [], write, vet)


def combine(refs: RefStore, versions: Sequence[Ref], *, mode: str, into: str,
            message: str | None, author: str, strategy: str | None,
            resolutions: Mapping[ResolutionKey, JSON] | None, dry_run: bool,
            write: PlanWriter, vet: Vetter | None = None) -> MergeResult:
    """The set-merge of ``versions`` onto branch ``into`` (see :meth:`Repository.combine`)."""
    if isinstance(versions, str) or len(versions) < 2:
        raise InvalidValue("combine needs a list of at least two refs, e.g. "
                           "repo.combine(['v1', 'v2'], mode='union')")
    refs.branch_line(into)
    db = refs.db
    with db.read() if dry_run else db.write():
        found = []
        for ref in versions:
            commit = refs.commit_of(ref)
            found.append((ref if isinstance(ref, str) else commit.short_id, commit))
        names = [n for n, _ in found]
        resolver = Resolver(strategy, resolutions, strategies=("first", "last"), choices=names)
        ours = refs.branch_head(into)
        chain = refs.branch_chain(into)
        plan = plan_combine(db, refs.commits, found, chain, mode, resolver)
        meta: dict[str, JSON] = {"combine": {"mode": mode, "refs": names,
                                             "commits": [c.id for _, c in found]}}
        return _finish(db, plan, resolver, into, ours, None, chain, dry_run,
                       message or f"Combine ({mode}) {', '.join(names)}", author, meta, [],
                       write, vet)


def _finish(db: Database, plan: Plan, resolver: Resolver, target: str, ours: Commit | None,
            source: Commit | None, chain: Chain, dry_run: bool, message: str, author: str,
            metadata: dict[str, JSON], extra_parents: list[str],
            write: PlanWriter, vet: Vetter | None = None) -> MergeResult:
    """Finish a planned merge: report conflicts, preview, or write the commit."""
    resolver.check_unused()
    settled = resolver.settled(plan.conflicts)
    result = MergeResult(plan.status, base=plan.base, source=source, target=ours,
                         resolved=settled, dry_run=dry_run)
    if plan.conflicts:
        if resolver.given and not dry_run:
            keys = ", ".join(str(c.key) for c in plan.conflicts[:5])
            raise MergeConflict(f"{len(plan.conflicts)} conflict(s) left unresolved "
                                f"({keys}); add them to resolutions= or pass strategy=",
                                plan.conflicts)
        return replace(result, status="conflict", conflicts=plan.conflicts)
    if dry_run:
        return replace(result, diff=Diff(ours, None, changes_of(db, chain, plan.writes,
                                                                plan.known)),
                       violations=vet(chain, plan.writes) if vet is not None else [])
    if plan.status == "up_to_date":
        return replace(result, commit=ours)
    commit = write(target, message, author, metadata, plan.writes, plan.known, extra_parents)
    return replace(result, status="merged", commit=commit)
