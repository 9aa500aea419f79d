"""Property test with two clocks: transaction time (commits, branches, merges, rollbacks) and
valid time (each entity's and relation's interval), against a dict model.

Random writes with random intervals (open ends included), interval corrections, deletions,
branches, checkouts, merges and rollbacks run on a repository and on a model that keeps a
snapshot per commit. Afterwards every pair (commit, valid time) answers like the model:
``repo.at(commit).valid_at(t)`` lists, counts, reads by id and walks neighbors exactly the
elements of the snapshot whose interval holds ``t`` (``[from, to)``: the start included, the
end not), and ``valid_between(a, b)`` those whose interval overlaps ``[a, b)``. The times
probed sit on every interval end and between them, so an off-by-one at an end fails.

Runs on SQLite and, with ``PALIMPSEST_TEST_POSTGRES``, on PostgreSQL (each example in a
schema of its own).
"""

from __future__ import annotations

import copy
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from conftest import POSTGRES_URL, _postgres_url, drop_postgres_schema

IDS = ["a", "b", "c"]
RELS = ["r1", "r2", "r3"]
BRANCHES = ["main", "b1", "b2"]
YEARS = [2000, 2001, 2002, 2003]


def T(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


PROBES = [T(1999), T(2000), datetime(2000, 6, 1, tzinfo=UTC), T(2001), T(2002),
          datetime(2002, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), T(2003), T(2010)]

end_st = st.one_of(st.none(), st.sampled_from(YEARS))


@st.composite
def interval_st(draw: Any) -> tuple[int | None, int | None]:
    lo, hi = draw(end_st), draw(end_st)
    if lo is not None and hi is not None and lo >= hi:
        lo, hi = min(lo, hi), max(lo, hi)
        if lo == hi:
            hi = None
    return lo, hi


op_st = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(IDS), st.sampled_from(["T", "U"]),
              interval_st()),
    st.tuples(st.just("revalid"), st.sampled_from(IDS), interval_st()),
    st.tuples(st.just("delete"), st.sampled_from(IDS)),
    st.tuples(st.just("relate"), st.sampled_from(RELS), st.sampled_from(IDS),
              st.sampled_from(IDS), interval_st()),
    st.tuples(st.just("unrelate"), st.sampled_from(RELS)),
    st.tuples(st.just("branch"), st.sampled_from(BRANCHES[1:])),
    st.tuples(st.just("checkout"), st.sampled_from(BRANCHES)),
    st.tuples(st.just("merge"), st.sampled_from(BRANCHES)),
    st.tuples(st.just("rollback"), st.integers(1, 4)),
)

Model = dict[str, dict[str, Any]]  # {"e": {id: (type, lo, hi)}, "r": {id: (src, tgt, lo, hi)}}


def _empty() -> Model:
    return {"e": {}, "r": {}}


def _t(year: int | None) -> datetime | None:
    return None if year is None else T(year)


def _holds(lo: int | None, hi: int | None, start: datetime, end: datetime) -> bool:
    """The interval [lo, hi) overlaps [start, end)."""
    return (lo is None or T(lo) < end) and (hi is None or T(hi) > start)


def _state(view: Any) -> Model:
    """A view's state in the model's form (intervals as years)."""
    def year(when: datetime | None) -> int | None:
        return None if when is None else when.year
    return {"e": {e.id: (e.type, year(e.valid_from), year(e.valid_to))
                  for e in view.entities()},
            "r": {r.id: (r.source, r.target, year(r.valid_from), year(r.valid_to))
                  for r in view.relations()}}


def _apply(tx: Any, model: Model, op: tuple[Any, ...]) -> bool:
    """Apply one write to a transaction and the model; False when it is not possible."""
    kind = op[0]
    if kind == "put":
        _, id, type_, (lo, hi) = op
        tx.put_entity(id, type_, {}, valid_from=_t(lo), valid_to=_t(hi))
        model["e"][id] = (type_, lo, hi)
    elif kind == "revalid":
        _, id, (lo, hi) = op
        if id not in model["e"]:
            return False
        tx.update_entity(id, valid_from="open" if lo is None else T(lo),
                         valid_to="open" if hi is None else T(hi))
        model["e"][id] = (model["e"][id][0], lo, hi)
    elif kind == "delete":
        if op[1] not in model["e"]:
            return False
        tx.delete_entity(op[1])
        del model["e"][op[1]]
        for rid, rel in list(model["r"].items()):
            if op[1] in rel[:2]:
                del model["r"][rid]
    elif kind == "relate":
        _, rid, src, tgt, (lo, hi) = op
        if src not in model["e"] or tgt not in model["e"]:
            return False
        tx.put_relation(rid, "R", src, tgt, valid_from=_t(lo), valid_to=_t(hi))
        model["r"][rid] = (src, tgt, lo, hi)
    else:  # unrelate
        if op[1] not in model["r"]:
            return False
        tx.delete_relation(op[1])
        del model["r"][op[1]]
    return True


def _check(repo: Any, commit: str, model: Model) -> None:
    view = repo.at(commit)
    assert _state(view) == model
    for start, end in [(t, None) for t in PROBES] + [(PROBES[i], PROBES[j]) for i, j in
                                                     ((0, 2), (2, 4), (3, 5), (5, 7), (1, 6))]:
        narrowed = view.valid_at(start) if end is None else view.valid_between(start, end)
        stop = end if end is not None else start + timedelta(microseconds=1)
        ents = {i: v for i, v in model["e"].items() if _holds(v[1], v[2], start, stop)}
        rels = {i: v for i, v in model["r"].items() if _holds(v[2], v[3], start, stop)}
        assert _state(narrowed) == {"e": ents, "r": rels}, (commit, start, end)
        assert narrowed.count() == len(ents)
        assert narrowed.count("T") == sum(1 for v in ents.values() if v[0] == "T")
        assert narrowed.count_relations("R") == len(rels)
        for id in IDS:
            found = narrowed.entity(id)
            assert (found is not None) == (id in ents)
            expected = sorted({r[1] for r in rels.values() if r[0] == id and r[1] in ents
                               and r[1] != id})
            assert [e.id for e in narrowed.neighbors(id, direction="out")] == expected
        for rid in RELS:
            assert (narrowed.relation(rid) is not None) == (rid in rels)
        try:
            typed = narrowed.query("T", kind="entity")
        except palimpsest.QueryError:  # no entity of type T anywhere in the repository yet
            typed = []
        assert sorted(e.id for e in typed) == sorted(i for i, v in ents.items() if v[0] == "T")


def _run(repo: Any, ops: list[tuple[Any, ...]]) -> None:
    snapshots: dict[str, Model] = {}
    heads: dict[str, list[str]] = {"main": []}
    models: dict[str, Model] = {"main": _empty()}
    current = "main"
    for op in ops:
        kind = op[0]
        if kind == "branch":
            if op[1] in heads or not heads[current]:
                continue
            repo.create_branch(op[1])
            heads[op[1]] = list(heads[current])
            models[op[1]] = copy.deepcopy(models[current])
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
            result = repo.merge(source, into=current)
            if result.status == "conflict":
                continue
            commit = repo.resolve(current).id
            # the merged state is checked field by field elsewhere (tests/test_merge*.py);
            # here it becomes the model, so valid-time reads are checked across both lines
            models[current] = _state(repo.at(commit))
        elif kind == "rollback":
            if len(line) <= op[1]:
                continue
            target = line[-1 - op[1]]
            commit = repo.rollback(target).id
            models[current] = copy.deepcopy(snapshots[target])
        else:
            model = copy.deepcopy(models[current])
            with repo.transaction(message=str(op)) as tx:
                if not _apply(tx, model, op):
                    continue
            assert tx.commit is not None
            commit = tx.commit.id
            models[current] = model
        snapshots[commit] = copy.deepcopy(models[current])
        line.append(commit)
    for commit, model in snapshots.items():
        _check(repo, commit, model)
    assert not repo.fsck().problems


EXAMPLES = int(os.environ.get("PALIMPSEST_HYPOTHESIS_EXAMPLES", "40"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_st, min_size=1, max_size=20))
def test_two_clocks_match_the_model(ops: list[tuple[Any, ...]]) -> None:
    with palimpsest.open(":memory:") as repo:
        _run(repo, ops)


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL tests need "
                    "PALIMPSEST_TEST_POSTGRES=postgresql://... (.ci/run sets it)")
@settings(max_examples=max(EXAMPLES // 5, 4), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_st, min_size=1, max_size=20))
def test_two_clocks_match_the_model_on_postgres(ops: list[tuple[Any, ...]]) -> None:
    schema = "vt_" + uuid.uuid4().hex[:16]  # a schema per example: the model starts empty
    repo = palimpsest.open(_postgres_url(schema))
    try:
        _run(repo, ops)
    finally:
        repo.close()
        drop_postgres_schema(schema)
