"""Views: immutable states at any commit, reads through indexes, traversal."""

from __future__ import annotations

import pytest

import palimpsest
from palimpsest import Entity


def _graph(repo: palimpsest.Repository) -> palimpsest.Commit:
    with repo.transaction(message="graph") as tx:
        for i in range(6):
            tx.put_entity(f"n{i}", "Even" if i % 2 == 0 else "Odd", {"i": i, "name": f"node {i}"})
        for a, b in [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5)]:
            tx.put_relation(f"r{a}{b}", "NEXT" if b == a + 1 else "JUMP", f"n{a}", f"n{b}",
                            {"w": a + b})
    assert tx.commit is not None
    return tx.commit


def test_view_is_immutable_after_later_commits(repo: palimpsest.Repository) -> None:
    first = _graph(repo)
    view = repo.at(first.id)
    before = view.to_dict()
    repo.update_entity("n1", {"i": 100})
    repo.delete_entity("n2")
    repo.put_entity("n9", "Odd")
    assert view.to_dict() == before
    assert view.entity("n2") is not None
    assert repo.head().entity("n2") is None
    assert view.commit == first


def test_entities_by_type_and_where(repo: palimpsest.Repository) -> None:
    _graph(repo)
    view = repo.head()
    assert [e.id for e in view.entities(type="Even")] == ["n0", "n2", "n4"]
    assert [e.id for e in view.entities(where={"i": 3})] == ["n3"]
    assert [e.id for e in view.entities(type="Odd", where={"name": "node 5"})] == ["n5"]
    assert list(view.entities(where={"i": True})) == []  # bool is not 1
    assert [e.id for e in view.entities(limit=2, offset=1)] == ["n1", "n2"]
    assert view.count() == 6 and view.count("Even") == 3
    assert view.count_relations() == 5


def test_relations_filters(repo: palimpsest.Repository) -> None:
    _graph(repo)
    view = repo.head()
    assert [r.id for r in view.relations(type="JUMP")] == ["r05"]
    assert [r.id for r in view.relations(source="n0")] == ["r01", "r05"]
    assert [r.id for r in view.relations(target="n2")] == ["r12"]
    assert [r.id for r in view.relations(source="n0", target="n5")] == ["r05"]
    assert view.relation("r12").props == {"w": 3}  # type: ignore[union-attr]


def test_neighbors(repo: palimpsest.Repository) -> None:
    _graph(repo)
    view = repo.head()
    assert [e.id for e in view.neighbors("n0")] == ["n1", "n5"]
    assert [e.id for e in view.neighbors("n0", depth=2)] == ["n1", "n5", "n2"]
    assert [e.id for e in view.neighbors("n2", direction="in")] == ["n1"]
    assert [e.id for e in view.neighbors("n2", direction="out", depth=5)] == ["n3", "n4"]
    assert [e.id for e in view.neighbors("n0", rel_type="JUMP")] == ["n5"]
    assert isinstance(view.neighbors("n0")[0], Entity)


def test_neighbors_at_a_past_commit(repo: palimpsest.Repository) -> None:
    first = _graph(repo)
    repo.delete_relation("r01")
    repo.put_relation("r02", "NEW", "n0", "n2")
    assert [e.id for e in repo.head().neighbors("n0")] == ["n2", "n5"]
    assert [e.id for e in repo.at(first.id).neighbors("n0")] == ["n1", "n5"]


def test_reads_on_a_branch_combine_branch_and_base_rows(repo: palimpsest.Repository) -> None:
    _graph(repo)
    repo.create_branch("b")
    repo.update_entity("n1", {"i": 10}, branch="b")
    repo.delete_entity("n3", branch="b")
    repo.update_entity("n0", {"i": -1})  # on main, after the fork
    view = repo.at("b")
    assert view.entity("n1").props["i"] == 10  # type: ignore[union-attr]
    assert view.entity("n0").props["i"] == 0  # type: ignore[union-attr]
    assert view.entity("n3") is None
    assert [e.id for e in view.entities(type="Odd")] == ["n1", "n5"]
    assert view.count("Odd") == 2
    assert sorted(r.id for r in view.relations()) == ["r01", "r05", "r12"]
    # a branch of a branch
    repo.create_branch("c", from_="b")
    repo.put_entity("n3", "Odd", {"back": True}, branch="c")
    assert repo.at("c").count("Odd") == 3
    assert repo.at("b").entity("n3") is None


def test_get_entity_raises_not_found(repo: palimpsest.Repository) -> None:
    _graph(repo)
    import pytest
    with pytest.raises(palimpsest.NotFound):
        repo.head().get_entity("missing")


@pytest.mark.needs_embedded("corrupts rows through repo.database")
def test_corrupt_value_is_detected_on_read(repo: palimpsest.Repository) -> None:
    import pytest
    repo.put_entity("a", "T", {"secret": 1})
    repo.database.run("UPDATE rows SET value = ? WHERE key = 'a'", ('{"secret":2}',))
    with pytest.raises(palimpsest.CorruptObject, match="does not match its hash"):
        repo.head().entity("a")
    assert not repo.fsck().ok
