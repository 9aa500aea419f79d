"""Rollback and revert write new commits; history is never rewritten."""

from __future__ import annotations

import pytest

import palimpsest


@pytest.mark.needs_embedded("checks the result with fsck")
def test_rollback_restores_state_and_keeps_history(repo: palimpsest.Repository) -> None:
    good = repo.put_entity("a", "T", {"v": 1})
    repo.put_entity("b", "T")
    repo.put_relation("ab", "R", "a", "b")
    repo.update_entity("a", {"v": 2})
    repo.delete_entity("b")
    head_before = repo.resolve("main")
    rolled = repo.rollback(good.id, message="undo bad import", author="ops")
    assert rolled.state_hash == good.state_hash
    assert rolled.parents == (head_before.id,)
    assert rolled.metadata == {"rollback_to": good.id}
    assert repo.head().to_dict() == repo.at(good.id).to_dict()
    assert len(repo.log()) == 6  # rolled-back commits stay in the log
    assert [v.kind for v in repo.history("a", relations="none")][:2] == ["modified",
                                                                          "modified"]
    assert repo.history("a", relations="none")[0].value.props == {"v": 1}
    # a's history includes its outgoing relation, deleted by the rollback
    assert [(v.element, v.id, v.kind) for v in repo.history("a")][:2] == [
        ("entity", "a", "modified"), ("relation", "ab", "deleted")]
    assert repo.fsck().ok


def test_rollback_by_ref_syntax_and_time(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"v": 1}, timestamp="2026-01-01")
    repo.put_entity("a", "T", {"v": 2}, timestamp="2026-02-01")
    repo.put_entity("a", "T", {"v": 3}, timestamp="2026-03-01")
    repo.rollback("main~2")
    assert repo.head().entity("a").props == {"v": 1}  # type: ignore[union-attr]
    repo.rollback("2026-02-15")
    assert repo.head().entity("a").props == {"v": 2}  # type: ignore[union-attr]


def test_revert_one_commit(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1, "y": 1})
    bad = repo.update_entity("a", {"x": 99})
    repo.update_entity("a", {"y": 2})  # a later change to another property
    created = repo.put_entity("c", "T")
    reverted = repo.revert(bad.id)
    assert reverted.metadata == {"reverts": bad.id}
    assert repo.head().entity("a").props == {"x": 1, "y": 2}  # type: ignore[union-attr]
    repo.revert(created.id)
    assert repo.head().entity("c") is None
    assert reverted.message.startswith("Revert")


def test_revert_conflict_changes_nothing(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1})
    bad = repo.update_entity("a", {"x": 2})
    repo.update_entity("a", {"x": 3})
    head = repo.resolve("main")
    with pytest.raises(palimpsest.RevertConflict) as info:
        repo.revert(bad.id)
    assert [(c.id, c.property) for c in info.value.conflicts] == [("a", "x")]
    assert repo.resolve("main") == head


def test_revert_of_creation_with_later_relations_conflicts(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T")
    created = repo.put_entity("b", "T")
    repo.put_relation("ab", "R", "a", "b")
    with pytest.raises(palimpsest.RevertConflict, match="relation ab"):
        repo.revert(created.id)
    assert repo.head().relation("ab") is not None


def test_revert_restores_deleted_entity_and_relations(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"k": 1})
    repo.put_entity("b", "T")
    repo.put_relation("ab", "R", "a", "b")
    deleted = repo.delete_entity("b")
    repo.revert(deleted.id)
    assert repo.head().entity("b") is not None
    assert repo.head().relation("ab") is not None


def test_revert_never_restores_a_dangling_relation(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T")
    repo.put_entity("b", "T")
    repo.put_relation("ab", "R", "a", "b")
    unlinked = repo.delete_relation("ab")
    repo.delete_entity("b")  # later: the relation's target goes away
    head = repo.resolve("main")
    with pytest.raises(palimpsest.PalimpsestError):
        repo.revert(unlinked.id)  # would bring back ab -> b, which no longer exists
    assert repo.resolve("main") == head
    assert repo.head().relation("ab") is None
