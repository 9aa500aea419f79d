"""Property tests: palimpsest equals a plain in-memory model at every commit.

Random sequences of writes, branch creations, checkouts, rollbacks and reverts are applied to
a repository and to a dict-of-snapshots model; afterwards the state at every commit, the diff
between random pairs of commits, and each entity's history along every branch (alone, and with
its outgoing relations) must agree.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest

IDS = ["a", "b", "c", "d"]
TYPES = ["T", "U"]
props_st = st.dictionaries(st.sampled_from(["x", "y", "z"]),
                           st.one_of(st.integers(-3, 3), st.text(max_size=2), st.booleans(),
                                     st.none(), st.lists(st.integers(0, 2), max_size=2)),
                           max_size=3)
op_st = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(IDS), st.sampled_from(TYPES), props_st),
    st.tuples(st.just("update"), st.sampled_from(IDS), props_st),
    st.tuples(st.just("delete"), st.sampled_from(IDS)),
    st.tuples(st.just("relate"), st.sampled_from(IDS), st.sampled_from(IDS), st.integers(0, 2)),
    st.tuples(st.just("unrelate"), st.integers(0, 2), st.sampled_from(IDS), st.sampled_from(IDS)),
    st.tuples(st.just("branch"), st.sampled_from(["b1", "b2"])),
    st.tuples(st.just("checkout"), st.sampled_from(["main", "b1", "b2"])),
    st.tuples(st.just("rollback"), st.integers(1, 3)),
    st.tuples(st.just("revert_head"),),
)

State = dict[str, dict[str, Any]]


def _empty() -> State:
    return {"entities": {}, "relations": {}, "documents": {}}


def _apply(repo: palimpsest.Repository, model: State, op: tuple[Any, ...]) -> bool:
    """Apply a write op to both; returns False when it is not applicable."""
    kind = op[0]
    ents, rels = model["entities"], model["relations"]
    with repo.transaction(message=str(op)) as tx:
        if kind == "put":
            _, ident, type_, props = op
            tx.put_entity(ident, type_, props)
            ents[ident] = {"type": type_, "props": dict(props)}
        elif kind == "update":
            _, ident, patch = op
            if ident not in ents:
                raise _Skip
            tx.update_entity(ident, patch)
            merged = dict(ents[ident]["props"])
            for k, v in patch.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
            ents[ident]["props"] = merged
        elif kind == "delete":
            _, ident = op
            if ident not in ents:
                raise _Skip
            tx.delete_entity(ident)
            del ents[ident]
            for rid in [r for r, v in rels.items() if ident in (v["source"], v["target"])]:
                del rels[rid]
        elif kind == "relate":
            _, src, dst, n = op
            if src not in ents or dst not in ents:
                raise _Skip
            rid = f"{src}-{dst}-{n}"
            tx.put_relation(rid, "R", src, dst, {"n": n})
            rels[rid] = {"type": "R", "source": src, "target": dst, "props": {"n": n}}
        elif kind == "unrelate":
            _, n, src, dst = op
            rid = f"{src}-{dst}-{n}"
            if rid not in rels:
                raise _Skip
            tx.delete_relation(rid)
            del rels[rid]
    return True


class _Skip(Exception):
    pass


@settings(max_examples=int(os.environ.get("PALIMPSEST_HYPOTHESIS_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_st, min_size=1, max_size=25), pairs=st.lists(
    st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=5))
def test_repository_matches_model(ops: list[tuple[Any, ...]],
                                  pairs: list[tuple[int, int]]) -> None:
    repo = palimpsest.open(":memory:")
    snapshots: dict[str, State] = {}          # commit id -> model state
    heads: dict[str, list[str]] = {"main": []}  # branch -> first-parent commit ids
    models: dict[str, State] = {"main": _empty()}
    current = "main"
    for op in ops:
        kind = op[0]
        if kind == "branch":
            name = op[1]
            if name in heads:
                continue
            repo.create_branch(name)
            heads[name] = list(heads[current])
            models[name] = copy.deepcopy(models[current])
            continue
        if kind == "checkout":
            if op[1] in heads:
                repo.checkout(op[1])
                current = op[1]
            continue
        line = heads[current]
        if kind == "rollback":
            steps = op[1]
            if len(line) <= steps:
                continue
            target = line[-1 - steps]
            commit = repo.rollback(target)
            models[current] = copy.deepcopy(snapshots[target])
        elif kind == "revert_head":
            if not line:
                continue
            head = repo.resolve(line[-1])
            parent_state = snapshots[head.parents[0]] if head.parents else _empty()
            commit = repo.revert(head.id)
            models[current] = copy.deepcopy(parent_state)
        else:
            trial = copy.deepcopy(models[current])
            try:
                _apply(repo, trial, op)
            except _Skip:
                continue
            models[current] = trial
            commit = repo.resolve(current)
        line.append(commit.id)
        snapshots[commit.id] = copy.deepcopy(models[current])

    # 1. the state at every commit equals the model's
    for cid, state in snapshots.items():
        assert repo.at(cid).to_dict() == state, cid
    # 2. diffs between commits equal the model's differences
    ids = list(snapshots)
    for i, j in pairs if ids else []:
        a, b = ids[i % len(ids)], ids[j % len(ids)]
        diff = repo.diff(a, b)
        changed = {(c.element, c.id) for c in diff.changes}
        expected = set()
        for group, element in (("entities", "entity"), ("relations", "relation")):
            sa, sb = snapshots[a][group], snapshots[b][group]
            expected |= {(element, k) for k in sa.keys() | sb.keys() if sa.get(k) != sb.get(k)}
        assert changed == expected
        # equal states have equal state hashes
        if snapshots[a] == snapshots[b]:
            assert repo.resolve(a).state_hash == repo.resolve(b).state_hash
    # 3. per-entity history along each branch equals the model's sequence of changes
    for name, line in heads.items():
        if not line:
            continue
        for ident in IDS:
            expected: list[Any] = []
            previous: Any = None
            for cid in line:
                value = snapshots[cid]["entities"].get(ident)
                if value != previous:
                    expected.append(value)
                previous = value
            got = [None if v.value is None else v.value.to_dict()
                   for v in reversed(repo.history(ident, name, relations="none"))]
            assert got == expected, (name, ident)
            # 4. with its outgoing relations: per commit, exactly the facts that changed
            wanted: list[tuple[str, dict[tuple[str, str], Any]]] = []
            before: tuple[Any, dict[str, Any]] = (None, {})
            for cid in line:
                snap = snapshots[cid]
                now = (snap["entities"].get(ident),
                       {r: v for r, v in snap["relations"].items() if v["source"] == ident})
                changed = {("entity", ident): now[0]} if now[0] != before[0] else {}
                changed |= {("relation", r): now[1].get(r) for r in before[1].keys() | now[1]
                            if before[1].get(r) != now[1].get(r)}
                if changed:
                    wanted.append((cid, changed))
                before = now
            facts: dict[str, dict[tuple[str, str], Any]] = {}
            for v in reversed(repo.history(ident, name)):
                facts.setdefault(v.commit.id, {})[(v.element or "", v.id or "")] = (
                    None if v.value is None else v.value.to_dict())
            assert list(facts.items()) == wanted, (name, ident)
    assert repo.fsck().ok
    repo.close()
