"""Property tests for merge: the laws of a three-way merge.

* Merging a branch whose state equals the merge base (even through other commits) changes
  nothing, and merging an ancestor is "up_to_date".
* When a merge is clean, merging a into b and b into a give the same state.
* After a clean merge, every property-level change either side made since the base is present.

Values include ones Python's ``==`` confuses (``1``, ``1.0``, ``true``; ``0.0``, ``-0.0``;
nested), and states are compared as canonical JSON, so a type-only change cannot vanish.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest.codec import canonical, json_equal

IDS = ["a", "b", "c", "d"]
values = st.one_of(st.integers(0, 2), st.sampled_from(["p", "q", 1.0, True, False, 0.0, -0.0,
                                                      [1], [True], {"n": 1.0}]))
op_st = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(IDS), st.sampled_from(["x", "y", "z"]), values),
    st.tuples(st.just("unset"), st.sampled_from(IDS), st.sampled_from(["x", "y", "z"])),
    st.tuples(st.just("put"), st.sampled_from(IDS), st.sampled_from(["T", "U"])),
    st.tuples(st.just("delete"), st.sampled_from(IDS)),
    st.tuples(st.just("relate"), st.sampled_from(IDS), st.sampled_from(IDS)),
    st.tuples(st.just("unrelate"), st.sampled_from(IDS), st.sampled_from(IDS)),
    st.tuples(st.just("doc"), st.sampled_from(["k1", "k2"]), st.sampled_from(["f", "g"]),
              values),
)
ops_st = st.lists(op_st, max_size=6)
SETTINGS = settings(max_examples=int(os.environ.get("PALIMPSEST_HYPOTHESIS_EXAMPLES", "40")),
                    deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _apply(repo: palimpsest.Repository, branch: str, op: tuple[Any, ...]) -> None:
    """Apply one op as one commit on ``branch`` when it makes sense there."""
    with repo.transaction(str(op), branch=branch) as tx:
        kind, *args = op
        if kind == "set" and tx.entity(args[0]) is not None:
            tx.update_entity(args[0], {args[1]: args[2]})
        elif kind == "unset" and tx.entity(args[0]) is not None:
            tx.update_entity(args[0], {args[1]: None})
        elif kind == "put":
            tx.put_entity(args[0], args[1], {"x": 0})
        elif kind == "delete" and tx.entity(args[0]) is not None:
            tx.delete_entity(args[0])
        elif kind == "relate" and tx.entity(args[0]) and tx.entity(args[1]):
            tx.put_relation(f"{args[0]}-{args[1]}", "R", args[0], args[1])
        elif kind == "unrelate" and tx.relation(f"{args[0]}-{args[1]}") is not None:
            tx.delete_relation(f"{args[0]}-{args[1]}")
        elif kind == "doc":
            current = tx.document("docs", args[0])
            value = dict(current.value) if current is not None else {}
            value[args[1]] = args[2]
            tx.put_document("docs", args[0], value)


def _build(base_ops: list[Any], left: list[Any], right: list[Any]) -> palimpsest.Repository:
    repo = palimpsest.open(":memory:")
    repo.put_entity("a", "T", {"x": 0})  # the history never starts empty
    for op in base_ops:
        _apply(repo, "main", op)
    repo.create_branch("left")
    repo.create_branch("right")
    for op in left:
        _apply(repo, "left", op)
    for op in right:
        _apply(repo, "right", op)
    return repo


@SETTINGS
@given(base=ops_st, side=ops_st)
def test_merging_the_base_is_the_identity(base: list[Any], side: list[Any]) -> None:
    repo = _build(base, side, [])
    base_commit = repo.resolve("right")
    before = canonical(repo.at("left").to_dict())
    assert repo.merge("right", into="left").status == "up_to_date"
    assert canonical(repo.at("left").to_dict()) == before
    # a branch that changed things and rolled back to the base: merging it changes nothing
    repo.put_entity("zz", "T", {}, branch="right")
    repo.rollback(base_commit, branch="right")
    result = repo.merge("right", into="left")
    assert result.status in ("merged", "fast_forward", "up_to_date"), result.conflicts
    assert canonical(repo.at("left").to_dict()) == before


@SETTINGS
@given(base=ops_st, left=ops_st, right=ops_st)
def test_merge_is_symmetric_when_clean(base: list[Any], left: list[Any],
                                       right: list[Any]) -> None:
    repo = _build(base, left, right)
    repo.create_branch("lr", "left")
    repo.create_branch("rl", "right")
    one = repo.merge("right", into="lr")
    two = repo.merge("left", into="rl")
    assert (one.status == "conflict") == (two.status == "conflict")
    if one.status != "conflict":
        assert canonical(repo.at("lr").to_dict()) == canonical(repo.at("rl").to_dict())


@SETTINGS
@given(base=ops_st, left=ops_st, right=ops_st)
def test_clean_merge_keeps_every_change(base: list[Any], left: list[Any],
                                        right: list[Any]) -> None:
    repo = _build(base, left, right)
    fork = repo.merge_base("left", "right")
    assert fork is not None
    result = repo.merge("right", into="left")
    if result.status == "conflict":
        assert result.conflicts and repo.resolve("left").id == result.target.id  # type: ignore[union-attr]
        return
    merged = repo.at("left")
    for side in ("left", "right"):
        for change in repo.diff(fork, side).changes:
            now = _element(merged, change)
            if change.kind == "deleted":
                assert now is None, (side, change)
                continue
            assert now is not None, (side, change)
            fields = palimpsest.Change("created", change.element, change.id, None, now,
                                       change.collection).property_changes()
            for name, (_, new) in change.property_changes().items():
                assert json_equal(fields.get(name, (None, None))[1], new), (side, change, name)


def _element(view: palimpsest.View, change: palimpsest.Change) -> Any:
    if change.element == "entity":
        return view.entity(change.id)
    if change.element == "relation":
        return view.relation(change.id)
    assert change.collection is not None
    return view.document(change.collection, change.id)
