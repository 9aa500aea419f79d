"""Diffs at property level and as RFC 6902 JSON Patch."""

from __future__ import annotations

import jsonpatch
import pytest

import palimpsest
from palimpsest import wire


def _setup(repo: palimpsest.Repository) -> tuple[palimpsest.Commit, palimpsest.Commit]:
    with repo.transaction(message="v1") as tx:
        tx.put_entity("a", "T", {"x": 1, "y": "keep", "weird/key~": 0})
        tx.put_entity("b", "T", {"x": 2})
        tx.put_entity("gone", "T")
        tx.put_relation("ab", "R", "a", "b", {"w": 1})
        tx.put_document("notes", "n1", {"text": "hi"})
        tx.put_document("old", "o1", 5)
    v1 = tx.commit
    with repo.transaction(message="v2") as tx:
        tx.update_entity("a", {"x": 10, "z": [1, 2], "weird/key~": None})
        tx.update_entity("b", type="U")
        tx.delete_entity("gone")
        tx.put_entity("new", "T", {"n": True})
        tx.put_relation("ab", "R", "a", "new", {"w": 1})
        tx.put_relation("ba", "R", "b", "a")
        tx.put_document("notes", "n2", ["x"])
        tx.put_document("fresh", "f1", {"k": None})
        tx.delete_document("old", "o1")
    assert v1 is not None and tx.commit is not None
    return v1, tx.commit


def test_property_level_diff(repo: palimpsest.Repository) -> None:
    v1, v2 = _setup(repo)
    diff = repo.diff(v1.id, v2.id)
    assert [c.id for c in diff.entities_added] == ["new"]
    assert [c.id for c in diff.entities_removed] == ["gone"]
    assert [c.id for c in diff.entities_modified] == ["a", "b"]
    a = diff.entities_modified[0].property_changes()
    assert a == {"x": (1, 10), "z": (None, [1, 2]), "weird/key~": (0, None)}
    assert diff.entities_modified[1].property_changes() == {"@type": ("T", "U")}
    assert [c.id for c in diff.relations_added] == ["ba"]
    assert diff.relations_modified[0].property_changes() == {"@target": ("b", "new")}
    assert {(c.collection, c.id, c.kind) for c in diff.documents_changed} == {
        ("notes", "n2", "created"), ("fresh", "f1", "created"), ("old", "o1", "deleted")}
    stats = diff.stats
    assert (stats.entities_created, stats.entities_modified, stats.entities_deleted) == (1, 2, 1)
    assert len(diff) == len(diff.changes) == 9


def test_json_patch_transforms_a_into_b(repo: palimpsest.Repository) -> None:
    v1, v2 = _setup(repo)
    for a, b in [(v1.id, v2.id), (v2.id, v1.id)]:
        patch = repo.diff(a, b).to_json_patch()
        result = jsonpatch.apply_patch(repo.at(a).to_dict(), patch)
        assert result == repo.at(b).to_dict()


def test_diff_of_equal_states_is_empty(repo: palimpsest.Repository) -> None:
    v1, v2 = _setup(repo)
    assert not repo.diff(v2.id, v2.id)
    rolled = repo.rollback(v1.id)
    assert not repo.diff(v1.id, rolled.id)
    assert rolled.state_hash == v1.state_hash


def test_diff_across_branches_and_three_dot(repo: palimpsest.Repository) -> None:
    v1, _ = _setup(repo)
    repo.create_branch("feature", from_=v1.id)
    repo.put_entity("feat", "T", branch="feature")
    main_only = repo.diff("feature", "main")
    assert "feat" in {c.id for c in main_only.entities_removed}
    since_base = repo.diff("main...feature")
    assert [c.id for c in since_base.changes] == ["feat"]
    assert [c.id for c in repo.diff("main..feature").entities_added] == ["feat", "gone"]
    patch = repo.diff("main", "feature").to_json_patch()
    assert jsonpatch.apply_patch(repo.at("main").to_dict(), patch) == \
        repo.at("feature").to_dict()


def test_diff_encoding_is_json_ready(repo: palimpsest.Repository) -> None:
    import json
    v1, v2 = _setup(repo)
    data = wire.encode(repo.diff(v1.id, v2.id))
    assert data["from"] == v1.id and data["stats"]["entities_created"] == 1
    json.dumps(data)


def test_diff_pages_and_stats(repo: palimpsest.Repository) -> None:
    """Pages of a diff, concatenated, are the diff; diff_stats counts it without values."""
    v1 = repo.put_entity("seed", "T", {"n": 0})
    with repo.transaction("many") as tx:
        for i in range(7):
            tx.put_entity(f"e{i}", "T", {"n": i})
        tx.put_document("docs", "d1", {"f": 1})
        tx.put_document("docs", "d2", [1])
        tx.update_entity("seed", {"n": 0.0})  # 0 -> 0.0 is a change
    whole = repo.diff(v1.id)
    assert len(whole) == 10
    pages, after = [], None
    while True:
        page = repo.diff(v1.id, limit=3, after=after)
        assert len(page.changes) <= 3 and page.a == whole.a and page.b == whole.b
        pages += list(page.changes)
        after = page.next
        if after is None:
            break
    assert pages == list(whole.changes)
    assert repo.diff_stats(v1.id) == whole.stats
    assert whole.stats.entities_created == 7 and whole.stats.entities_modified == 1
    with pytest.raises(palimpsest.InvalidValue):
        repo.diff(v1.id, limit=3, after="not a cursor")
    with pytest.raises(palimpsest.InvalidValue):
        repo.diff(v1.id, limit=0)


def test_big_diff_reads_values_lazily_in_any_order(repo: palimpsest.Repository) -> None:
    """A diff longer than one read batch gives the same changes read backwards, by negative
    index, by slice or in order, and they match the states at both ends."""
    base = repo.put_entity("keep", "T", {"n": 0})
    with repo.transaction("many") as tx:
        for i in range(600):
            tx.put_entity(f"e{i:04}", "T" if i % 3 else "U", {"n": i, "f": i / 2})
    with repo.transaction("some") as tx:
        for i in range(0, 600, 7):
            tx.update_entity(f"e{i:04}", {"n": -i})
        tx.delete_entity("keep")
    diff = repo.diff(base.id)
    n = len(diff.changes)
    assert n == 601
    backwards = [diff.changes[i] for i in range(n - 1, -1, -1)]
    fresh = repo.diff(base.id).changes
    assert list(reversed(backwards)) == list(fresh) == fresh[0:n]
    assert fresh[-1] == diff.changes[n - 1] and fresh[-n] == diff.changes[0]
    with pytest.raises(IndexError):
        fresh[n]
    then, now = repo.at(base.id), repo.head()
    for change in fresh:
        if change.element == "entity":
            assert change.old == then.entity(change.id)
            assert change.new == now.entity(change.id)
    assert repo.diff_stats(base.id) == diff.stats
