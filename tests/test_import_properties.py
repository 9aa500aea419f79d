"""Versioned import against a model: whatever the sequence of releases, the branch holds exactly
the last one, each commit records only what differs from the one before, and bad input is
refused whether or not its element looks unchanged (the import compares by stored hash and
skips re-checking names it has stored)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest import InvalidInput
from palimpsest.io import Snapshot, import_graph
from palimpsest.io.snapshot import snapshot_of

IDS = ["a", "b", "c", "d"]
SCALARS = st.sampled_from([1, 1.0, True, 0, False, "1", None, [1], {"k": 1}, -(2**63)])
PROPS = st.dictionaries(st.sampled_from(["x", "y"]), SCALARS, max_size=2)


@st.composite
def releases(draw: st.DrawFn) -> Snapshot:
    snap = Snapshot()
    for eid in draw(st.lists(st.sampled_from(IDS), unique=True, max_size=4)):
        snap.entities[eid] = (draw(st.sampled_from(["T", "U"])), draw(PROPS))
    alive = sorted(snap.entities)
    if alive:
        for n in range(draw(st.integers(0, 3))):
            source, target = draw(st.sampled_from(alive)), draw(st.sampled_from(alive))
            rid = draw(st.sampled_from([f"r{n}", f"{source} knows {target}"]))
            snap.relations[rid] = (draw(st.sampled_from(["knows", "likes"])), source, target,
                                   draw(PROPS))
    return snap


def _state(repo: palimpsest.Repository) -> dict[str, Any]:
    data = snapshot_of(repo.head()).to_dict()
    data.pop("documents")
    return data


def _expected(snap: Snapshot) -> dict[str, Any]:
    data = snap.to_dict()
    data.pop("documents")
    return data


def _same(a: Any, b: Any) -> bool:  # exact JSON equality: 1, 1.0 and true differ
    import orjson
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        b, option=orjson.OPT_SORT_KEYS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(releases(), min_size=1, max_size=4))
def test_import_holds_each_release_and_records_only_changes(history: list[Snapshot]) -> None:
    repo = palimpsest.open(":memory:", author="model")
    previous: dict[str, Any] = {"entities": {}, "relations": {}}
    for snap in history:
        result = import_graph(repo, snap, message="release")
        state = _state(repo)
        assert _same(state, _expected(snap))
        unchanged = sum(1 for kind in ("entities", "relations") for key, value
                        in state[kind].items()
                        if key in previous[kind] and _same(previous[kind][key], value))
        assert result.unchanged == unchanged
        stats = result.stats
        written = (stats.entities_created + stats.entities_modified
                   + stats.relations_created + stats.relations_modified)
        assert written == len(snap) - unchanged
        previous = state
    assert repo.fsck().ok


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_number_is_refused_even_where_null_was_stored(bad: float) -> None:
    """orjson writes NaN as null: an element whose stored value holds null must not pass as
    unchanged when the new release gives NaN there."""
    repo = palimpsest.open(":memory:", author="model")
    import_graph(repo, Snapshot(entities={"a": ("T", {"x": None})}), message="first")
    with pytest.raises(InvalidInput, match="finite"):
        import_graph(repo, Snapshot(entities={"a": ("T", {"x": bad})}), message="second")


def test_bad_names_are_refused_for_stored_keys_too() -> None:
    repo = palimpsest.open(":memory:", author="model")
    import_graph(repo, Snapshot(entities={"a": ("T", {}), "b": ("T", {})},
                                relations={"r": ("knows", "a", "b", {})}), message="first")
    with pytest.raises(InvalidInput, match=r"type of|target of"):
        import_graph(repo, Snapshot(entities={"a": ("T\x01", {}), "b": ("T", {})}),
                     message="bad type")
    with pytest.raises(InvalidInput, match=r"type of|target of"):
        bad_target: Any = 5
        import_graph(repo, Snapshot(entities={"a": ("T", {}), "b": ("T", {})},
                                    relations={"r": ("knows", "a", bad_target, {})}),
                     message="bad target")
