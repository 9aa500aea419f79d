"""Property tests: palimpsest equals a plain in-memory model at every commit.

Random sequences of writes (entities, relations, documents, key-value entries, and
*type-only* changes such as ``1`` → ``1.0`` → ``true`` or ``0.0`` → ``-0.0``, nested too),
branch creations, checkouts, merges, cherry-picks, rollbacks (a few steps back or to any
earlier commit of any branch) and reverts are applied to a repository and to a
dict-of-snapshots model; afterwards:

1. the state at every commit equals the model's, byte for byte in canonical JSON;
2. the diff between random pairs of commits reports exactly the elements and fields the model
   says differ (as JSON: Python's ``1 == True`` must not hide a change), and its JSON Patch
   turns one ``to_dict()`` into the other exactly;
3. each entity's history along every branch equals the model's sequence of values, alone
   and, per commit, with the changes of its outgoing relations (its facts);
4. a merge (or cherry-pick) is clean exactly when a field-level three-way merge of the models
   is, and then gives its state;
5. along every branch's first parents (through rollbacks, which write no rows): ``~N``, the
   first-parent log, ``log --touching`` an entity, time travel to each commit's time, and
   blame equal the model's.
"""

from __future__ import annotations

import base64
import copy
import os
from typing import Any

import jsonpatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest.codec import canonical, json_equal
from palimpsest.types import property_changes
from palimpsest.versioning.log import merge_bases

IDS = ["a", "b", "c", "d"]
TYPES = ["T", "U"]
BRANCHES = ["main", "b1", "b2"]
KV_KEYS = ["/k/1", "/k/2", "/x~y"]
DOC_KEYS = [("c1", "d1"), ("c1", "d2"), ("c2", "d1"), ("c~", "a/b~")]
# numbers Python calls equal while JSON does not: the stuff of type-only changes
scalars = st.one_of(st.sampled_from([0, 1, 0.0, -0.0, 1.0, True, False, 2.5]),
                    st.integers(-2, 2), st.text(max_size=2), st.none())
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=2), st.dictionaries(st.sampled_from(["p", "q"]), inner,
                                                 max_size=2)), max_leaves=4)
props_st = st.dictionaries(st.sampled_from(["x", "y", "z"]), json_values, max_size=3)
write_st = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(IDS), st.sampled_from(TYPES), props_st),
    st.tuples(st.just("update"), st.sampled_from(IDS), props_st),
    st.tuples(st.just("retype"), st.sampled_from(IDS), st.sampled_from(["x", "y", "z"]),
              st.integers(0, 3)),
    st.tuples(st.just("delete"), st.sampled_from(IDS)),
    st.tuples(st.just("relate"), st.sampled_from(IDS), st.sampled_from(IDS), st.integers(0, 2),
              json_values),
    st.tuples(st.just("unrelate"), st.integers(0, 2), st.sampled_from(IDS), st.sampled_from(IDS)),
    st.tuples(st.just("doc"), st.sampled_from(DOC_KEYS), json_values),
    st.tuples(st.just("redoc"), st.sampled_from(DOC_KEYS), st.integers(0, 3)),
    st.tuples(st.just("undoc"), st.sampled_from(DOC_KEYS)),
    st.tuples(st.just("kvset"), st.sampled_from(KV_KEYS), st.sampled_from([b"", b"1", b"\xff"])),
    st.tuples(st.just("kvdel"), st.sampled_from(KV_KEYS)),
)
op_st = st.one_of(
    write_st,
    st.tuples(st.just("branch"), st.sampled_from(BRANCHES[1:])),
    st.tuples(st.just("checkout"), st.sampled_from(BRANCHES)),
    st.tuples(st.just("merge"), st.sampled_from(BRANCHES)),
    st.tuples(st.just("rollback"), st.integers(1, 12)),
    st.tuples(st.just("rollback_any"), st.integers(0, 10**6)),
    st.tuples(st.just("pick"), st.sampled_from(BRANCHES)),
    st.tuples(st.just("revert_head"),),
)

State = dict[str, dict[str, Any]]
MISSING: Any = object()


def C(value: Any) -> bytes:
    """The identity of a JSON value: its canonical encoding."""
    return canonical(value)


def variant(value: Any, choice: int) -> Any:
    """A value Python's == calls equal to ``value`` but JSON does not (when there is one)."""
    if isinstance(value, bool):
        return [int(value), float(value)][choice % 2]
    if isinstance(value, int):
        options = [float(value)] + ([bool(value)] if value in (0, 1) else [])
        return options[choice % len(options)]
    if isinstance(value, float):
        if value == 0:
            return [-value, 0, False][choice % 3]
        return int(value) if value.is_integer() else value
    if isinstance(value, list):
        return [variant(v, choice) for v in value]
    if isinstance(value, dict):
        return {k: variant(v, choice) for k, v in value.items()}
    return value


def _empty() -> State:
    return {"entities": {}, "relations": {}, "documents": {}, "kv": {}}


class _Skip(Exception):
    pass


def _apply(repo: palimpsest.Repository, branch: str, model: State, op: tuple[Any, ...]) -> None:
    """Apply a write op to both as one commit; raises _Skip when it does not apply."""
    kind = op[0]
    ents, rels, docs, kv = model["entities"], model["relations"], model["documents"], model["kv"]
    if kind in ("kvset", "kvdel"):
        store = repo.kv.on(branch)
        if kind == "kvset":
            store.set(op[1], op[2])
            kv[op[1]] = base64.b64encode(op[2]).decode()
        else:
            if op[1] not in kv:
                raise _Skip
            store.delete(op[1])
            del kv[op[1]]
        return
    with repo.transaction(message=str(op), branch=branch) as tx:
        if kind == "put":
            _, ident, type_, props = op
            tx.put_entity(ident, type_, props)
            ents[ident] = {"type": type_, "props": dict(props)}
        elif kind in ("update", "retype"):
            ident = op[1]
            if ident not in ents:
                raise _Skip
            if kind == "update":
                patch = op[2]
            else:
                current = ents[ident]["props"].get(op[2])
                new = variant(current, op[3])
                if current is None or C(new) == C(current):
                    raise _Skip
                patch = {op[2]: new}
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
            _, src, dst, n, w = op
            if src not in ents or dst not in ents:
                raise _Skip
            rid = f"{src}-{dst}-{n}"
            tx.put_relation(rid, "R", src, dst, {"n": n, "w": w})
            rels[rid] = {"type": "R", "source": src, "target": dst, "props": {"n": n, "w": w}}
        elif kind == "unrelate":
            _, n, src, dst = op
            rid = f"{src}-{dst}-{n}"
            if rid not in rels:
                raise _Skip
            tx.delete_relation(rid)
            del rels[rid]
        elif kind in ("doc", "redoc"):
            (collection, key) = op[1]
            if kind == "doc":
                value = op[2]
            else:
                if key not in docs.get(collection, {}):
                    raise _Skip
                value = variant(docs[collection][key], op[2])
            tx.put_document(collection, key, value)
            docs.setdefault(collection, {})[key] = value
        elif kind == "undoc":
            (collection, key) = op[1]
            if key not in docs.get(collection, {}):
                raise _Skip
            tx.delete_document(collection, key)
            del docs[collection][key]
            if not docs[collection]:
                del docs[collection]


# -- the model's field view, diff and three-way merge ---------------------------------------
def _elements(state: State) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for group in ("entities", "relations", "kv"):
        for key, value in state[group].items():
            out[(group, key)] = value
    for collection, items in state["documents"].items():
        for key, value in items.items():
            out[("documents", f"{collection}/{key}")] = value
    return out


def _from_elements(elements: dict[tuple[str, str], Any]) -> State:
    state = _empty()
    for (group, key), value in sorted(elements.items()):
        if group == "documents":
            collection, _, doc = key.partition("/")
            state["documents"].setdefault(collection, {})[doc] = value
        else:
            state[group][key] = value
    return state


def _fields(group: str, values: list[Any]) -> tuple[list[dict[str, Any]], bool]:
    """Field views of versions of one element; documents split only if all are objects."""
    whole = group == "kv" or (group == "documents" and any(
        v is not MISSING and not isinstance(v, dict) for v in values))
    out = []
    for v in values:
        if v is MISSING:  # absent (None is a document's JSON null)
            out.append({})
        elif group in ("entities", "relations"):
            out.append({**v["props"], **{"@" + k: x for k, x in v.items() if k != "props"}})
        else:
            out.append({"@value": v} if whole else dict(v))
    return out, whole


def _rebuild(group: str, fields: dict[str, Any], whole: bool) -> Any:
    if group in ("entities", "relations"):
        shape = {k[1:]: v for k, v in fields.items() if k.startswith("@")}
        return {**shape, "props": {k: v for k, v in fields.items() if not k.startswith("@")}}
    return fields.get("@value") if whole else fields


def _field_diff(group: str, old: Any, new: Any) -> set[str]:
    (before, after), _ = _fields(group, [old, new])
    return {k for k in before.keys() | after.keys()
            if (k in before) != (k in after) or (k in before and C(before[k]) != C(after[k]))}


def _pick(b: Any, o: Any, t: Any) -> tuple[bool, Any]:
    """The three-way rule on one value: (clean, result)."""
    cb, co, ct = (None if x is MISSING else C(x) for x in (b, o, t))
    if co == ct or ct == cb:
        return True, o
    if co == cb:
        return True, t
    return False, None


def _model_merge(base: State, ours: State, theirs: State) -> tuple[State | None, bool]:
    """(merged state or None on conflict, whether every conflict is about kv)."""
    eb, eo, et = _elements(base), _elements(ours), _elements(theirs)
    merged: dict[tuple[str, str], Any] = {}
    kv_only = True
    clean = True
    for ident in sorted(eb.keys() | eo.keys() | et.keys()):
        group = ident[0]
        b, o, t = (e.get(ident, MISSING) for e in (eb, eo, et))
        ok, value = _pick(b, o, t)
        if not ok and MISSING not in (b, o, t):
            (fb, fo, ft), whole = _fields(group, [b, o, t])
            result: dict[str, Any] = {}
            ok = True
            for name in sorted(fb.keys() | fo.keys() | ft.keys()):
                good, v = _pick(fb.get(name, MISSING), fo.get(name, MISSING),
                                ft.get(name, MISSING))
                ok = ok and good
                if good and v is not MISSING:
                    result[name] = v
            value = _rebuild(group, result, whole)
        if not ok:
            clean = False
            kv_only = kv_only and group == "kv"
        elif value is not MISSING:
            merged[ident] = value
    state = _from_elements(merged)
    for rel in state["relations"].values():
        if rel["source"] not in state["entities"] or rel["target"] not in state["entities"]:
            clean, kv_only = False, False
    return (state if clean else None), kv_only


# -- the test -------------------------------------------------------------------------------
@settings(max_examples=int(os.environ.get("PALIMPSEST_HYPOTHESIS_EXAMPLES", "60")),
          deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
        if kind == "merge":
            source = op[1]
            if source == current or source not in heads or not heads[source] or not line:
                continue
            if not _merge(repo, current, source, heads, models, snapshots):
                continue
            commit = repo.resolve(current)
        elif kind == "rollback":
            steps = op[1]
            if len(line) <= steps:
                continue
            target = line[-1 - steps]
            commit = repo.rollback(target)
            models[current] = copy.deepcopy(snapshots[target])
        elif kind == "rollback_any":  # far back, or to another branch's commit
            if not snapshots:
                continue
            target = list(snapshots)[op[1] % len(snapshots)]
            commit = repo.rollback(target)
            models[current] = copy.deepcopy(snapshots[target])
        elif kind == "pick":  # cherry-pick another branch's head (maybe a rollback)
            source = op[1]
            if source == current or source not in heads or not heads[source]:
                continue
            if not _pick_commit(repo, current, heads[source][-1], models, snapshots):
                continue
            commit = repo.resolve(current)
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
                _apply(repo, current, trial, op)
            except _Skip:
                continue
            models[current] = trial
            commit = repo.resolve(current)
        line.append(commit.id)
        snapshots[commit.id] = copy.deepcopy(models[current])

    # 1. the state at every commit equals the model's, exactly
    types = {v["type"] for state in snapshots.values()
             for group in ("entities", "relations") for v in state[group].values()}
    for cid, state in snapshots.items():
        view = repo.at(cid)
        assert C(view.to_dict()) == C(state), cid
        # counts by type (maintained per commit) equal the model's, any type ever used
        for group, count in (("entities", view.count), ("relations", view.count_relations)):
            for type_ in sorted(types | {"never"}):
                want = sum(1 for v in state[group].values() if v["type"] == type_)
                assert count(type=type_) == want, (cid, group, type_)
    # 2. diffs between commits equal the model's differences; their patches are exact
    ids = list(snapshots)
    for i, j in pairs if ids else []:
        a, b = ids[i % len(ids)], ids[j % len(ids)]
        _check_diff(repo, a, b, snapshots[a], snapshots[b])
        # equal states have equal state hashes
        if C(snapshots[a]) == C(snapshots[b]) and not snapshots[a]["kv"]:
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
                if C(value) != C(previous):
                    expected.append(value)
                previous = value
            got = [None if v.value is None else v.value.to_dict()
                   for v in reversed(repo.history(ident, name, relations="none"))]
            assert C(got) == C(expected), (name, ident)
            # with its outgoing relations: per commit, exactly the facts that changed
            wanted: list[tuple[str, dict[tuple[str, str], Any]]] = []
            before: tuple[Any, dict[str, Any]] = (None, {})
            for cid in line:
                snap = snapshots[cid]
                now = (snap["entities"].get(ident),
                       {r: v for r, v in snap["relations"].items() if v["source"] == ident})
                changed = {("entity", ident): now[0]} if C(now[0]) != C(before[0]) else {}
                changed |= {("relation", r): now[1].get(r) for r in before[1].keys() | now[1]
                            if C(before[1].get(r)) != C(now[1].get(r))}
                if changed:
                    wanted.append((cid, changed))
                before = now
            facts: dict[str, dict[tuple[str, str], Any]] = {}
            for v in reversed(repo.history(ident, name)):
                facts.setdefault(v.commit.id, {})[(v.element or "", v.id or "")] = (
                    None if v.value is None else v.value.to_dict())
            def plain(items: Any) -> Any:  # JSON-able: [[commit, [[element, id, value]]]]
                return [[cid, sorted([*k, v] for k, v in changed.items())]
                        for cid, changed in items]
            assert C(plain(facts.items())) == C(plain(wanted)), (name, ident)
        _check_first_parents(repo, name, line, snapshots)
    assert repo.fsck().ok
    repo.close()


def _check_first_parents(repo: palimpsest.Repository, name: str, line: list[str],
                         snapshots: dict[str, State]) -> None:
    """~N, the first-parent log, log --touching, time travel and blame along ``line`` (the
    branch's first-parent commits, oldest first) equal the model's."""
    for steps in range(len(line)):
        assert repo.resolve(f"{name}~{steps}").id == line[-1 - steps], (name, steps)
    assert [c.id for c in repo.log(name, limit=None, first_parent=True)] == line[::-1]
    times = [repo.resolve(cid).timestamp for cid in line]
    for when in times:
        expected = max(i for i, t in enumerate(times) if t <= when)
        assert repo.resolve(f"{name}@{when.isoformat()}").id == line[expected], (name, when)
    for ident in IDS:
        changed, previous = [], None
        versions: list[tuple[str, Any]] = []  # (commit, value) where the entity changed
        for cid in line:
            value = snapshots[cid]["entities"].get(ident)
            if C(value) != C(previous):
                changed.append(cid)
                versions.append((cid, value))
            previous = value
        touching = repo.log(name, limit=None, touching=ident, relations="none",
                            first_parent=True)
        assert [c.id for c in touching] == changed[::-1], (name, ident)
        if not versions or versions[-1][1] is None:
            continue
        expected_blame: dict[str, str] = {}
        current = property_changes(None, palimpsest.Entity(ident, versions[-1][1]["type"],
                                                           versions[-1][1]["props"]))
        for field, (_, value) in current.items():
            credit = versions[-1][0]
            for cid, older in reversed(versions[:-1]):
                if older is None:
                    break
                fields = property_changes(None, palimpsest.Entity(ident, older["type"],
                                                                  older["props"]))
                if field not in fields or not json_equal(fields[field][1], value):
                    break
                credit = cid
            expected_blame[field] = credit
        got = {field: b.commit.id for field, b in
               repo.blame(ident, name, relations="none").items()}
        assert got == expected_blame, (name, ident)


def _pick_commit(repo: palimpsest.Repository, current: str, picked: str,
                 models: dict[str, State], snapshots: dict[str, State]) -> bool:
    """Cherry-pick ``picked`` onto ``current`` in both; True when a commit was written."""
    commit = repo.resolve(picked)
    base = snapshots[commit.parents[0]] if commit.parents else _empty()
    result = repo.cherry_pick(picked, onto=current)
    expected, kv_only = _model_merge(base, models[current], snapshots[picked])
    if result.status == "conflict":
        assert expected is None or kv_only, result.conflicts
        return False
    assert expected is not None, "the model expected a conflict"
    assert C(repo.at(current).to_dict()) == C(expected)
    models[current] = expected
    return result.status == "merged"


def _merge(repo: palimpsest.Repository, current: str, source: str,
           heads: dict[str, list[str]], models: dict[str, State],
           snapshots: dict[str, State]) -> bool:
    """Merge ``source`` into ``current`` in both; True when a commit was written."""
    ours, theirs = repo.resolve(current), repo.resolve(source)
    bases = merge_bases(repo._commits, ours, theirs)
    result = repo.merge(source, into=current)
    if result.status == "up_to_date":
        return False
    if result.status == "fast_forward":
        heads[current] = list(heads[source])
        models[current] = copy.deepcopy(models[source])
        return False
    if len(bases) != 1:  # criss-cross: a virtual base the model does not follow
        if result.status == "merged":
            models[current] = repo.at(current).to_dict()
        return result.status == "merged"
    expected, kv_only = _model_merge(snapshots[bases[0].id], models[current], models[source])
    if result.status == "conflict":
        # the model compares kv entries by value; the repository also by version
        assert expected is None or kv_only, result.conflicts
        return False
    assert expected is not None, "the model expected a conflict"
    assert C(repo.at(current).to_dict()) == C(expected)
    models[current] = expected
    return True


def _check_diff(repo: palimpsest.Repository, a: str, b: str, sa: State, sb: State) -> None:
    diff = repo.diff(a, b)
    ea, eb = _elements(sa), _elements(sb)
    expected = {k for k in ea.keys() | eb.keys()
                if k not in ea or k not in eb or C(ea[k]) != C(eb[k])}
    group_of = {"entity": "entities", "relation": "relations", "document": "documents",
                "kv": "kv"}
    got = set()
    for change in diff.changes:
        key = f"{change.collection}/{change.id}" if change.collection else change.id
        ident = (group_of[change.element], key)
        got.add(ident)
        if change.element == "kv":
            continue
        assert set(change.property_changes()) == _field_diff(
            ident[0], ea.get(ident, MISSING), eb.get(ident, MISSING)), change
    # a kv entry rewritten with the same bytes is a new version: a change with equal values
    extra = {k for k in got - expected if k[0] == "kv" and k in ea and k in eb}
    assert got - extra == expected
    patched = jsonpatch.apply_patch(repo.at(a).to_dict(), diff.to_json_patch())
    assert C(patched) == C(sb), (a, b)



START = {"x": 1, "y": [0.0], "z": {"p": True}}
# half of the writes are type-only changes to the one entity every history starts with
_retype_a = st.tuples(st.just("retype"), st.just("a"), st.sampled_from(sorted(START)),
                     st.integers(0, 3))
merge_st = st.booleans().flatmap(lambda retype: _retype_a if retype else write_st)


@settings(max_examples=int(os.environ.get("PALIMPSEST_HYPOTHESIS_EXAMPLES", "60")),
          deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.lists(merge_st, max_size=6), left=st.lists(merge_st, max_size=5),
       right=st.lists(merge_st, max_size=5))
def test_merge_matches_model(base: list[tuple[Any, ...]], left: list[tuple[Any, ...]],
                             right: list[tuple[Any, ...]]) -> None:
    """Two branches from one base: the merge equals the model's field-level three-way merge
    (type-only changes included), and so do the diffs and patches from the base."""
    repo = palimpsest.open(":memory:")
    repo.put_entity("a", "T", START)
    models = {"main": {**_empty(), "entities": {"a": {"type": "T", "props": START}}}}
    for branch, ops in (("main", base), ("left", left), ("right", right)):
        if branch != "main":
            repo.create_branch(branch, "main")
            models[branch] = copy.deepcopy(models["main"])
        for op in ops:
            try:
                trial = copy.deepcopy(models[branch])
                _apply(repo, branch, trial, op)
                models[branch] = trial
            except _Skip:
                pass
    for branch in ("left", "right"):
        _check_diff(repo, "main", branch, models["main"], models[branch])
    snapshots = {repo.resolve("main").id: models["main"]}
    heads = {name: [repo.resolve(name).id] for name in models}
    _merge(repo, "left", "right", heads, models, snapshots)
    assert C(repo.at("left").to_dict()) == C(models["left"])
    repo.close()
