"""Rollback in O(1) (docs/architecture.md, "Restore: rollback forks a line"): the branch moves
to a new line forked at the target and gets one commit without rows whose first parent is the
old head. Everything that reads history must follow the first parent through it."""

from __future__ import annotations

from pathlib import Path

import pytest

import palimpsest
from palimpsest import ConcurrentCommit


def _entity_history(repo: palimpsest.Repository, id: str, ref: str | None = None
                    ) -> list[tuple[str, object]]:
    return [(v.kind, v.value.props if v.value is not None else None)  # type: ignore[union-attr]
            for v in repo.history(id, ref, relations="none")]


def _ten_versions(repo: palimpsest.Repository) -> list[palimpsest.Commit]:
    """a.v = 1..10 on main, one commit each, dated a month apart (2025)."""
    return [repo.put_entity("a", "T", {"v": i}, timestamp=f"2025-{i:02d}-01")
            for i in range(1, 11)]


@pytest.mark.needs_embedded("counts rows in the database")
def test_rollback_copies_no_rows(repo: palimpsest.Repository) -> None:
    with repo.transaction("base") as tx:
        for i in range(300):
            tx.put_entity(f"e{i}", "T", {"n": i})
    target = repo.resolve("main")
    with repo.transaction("change everything") as tx:
        for i in range(300):
            tx.update_entity(f"e{i}", {"n": -i - 1})
        tx.put_entity("new", "T")
    head = repo.resolve("main")
    rows = repo.database.one("SELECT count(*) FROM rows")
    rolled = repo.rollback(target.id)
    assert repo.database.one("SELECT count(*) FROM rows") == rows  # nothing copied
    assert rolled.parents == (head.id,) and rolled.state_hash == target.state_hash
    assert repo.head().to_dict() == repo.at(target.id).to_dict()
    moved = repo.reflog("main")[0]
    assert (moved.old, moved.new, moved.message) == (head.id, rolled.id,
                                                     f"rollback: to {target.short_id}")
    # what the rollback changed is the diff from its first parent
    changes = repo.changes(rolled.id)
    assert len(changes) == 301 and {c.id for c in changes} >= {"new", "e0", "e299"}
    assert repo.fsck().ok


def test_ref_syntax_and_time_travel_follow_the_first_parent(repo: palimpsest.Repository) -> None:
    commits = _ten_versions(repo)
    rolled = repo.rollback(commits[1].id)  # back to v=2
    after = repo.update_entity("a", {"w": 1})
    assert repo.resolve("main~1").id == rolled.id
    assert repo.resolve("main~2").id == commits[9].id  # through the rollback: the old head
    assert repo.resolve("main^^^").id == commits[8].id
    assert repo.resolve("main~11").id == commits[0].id
    assert [c.id for c in repo.log(limit=None, first_parent=True)] == \
        [after.id, rolled.id, *[c.id for c in reversed(commits)]]
    # the state of main at a time follows the first parents back through the rollback
    assert repo.resolve("main@2025-08-15").id == commits[7].id  # v=8, undone since
    assert repo.at("main@2025-08-15").entity("a").props == {"v": 8}  # type: ignore[union-attr]
    assert repo.resolve("main@2025-01-15").id == commits[0].id
    assert repo.resolve(f"main@{rolled.timestamp.isoformat()}").id == rolled.id
    assert repo.log(limit=None, since="2025-09-15", first_parent=True)[-1].id == commits[9].id


def test_history_and_blame_show_the_undone_versions_and_the_rollback(
        repo: palimpsest.Repository) -> None:
    commits = _ten_versions(repo)
    repo.put_entity("b", "T", {"k": 1})  # b is created after the target: the rollback deletes it
    rolled = repo.rollback(commits[0].id)
    history = _entity_history(repo, "a")
    assert history == [("modified", {"v": 1}),
                       *[("modified", {"v": i}) for i in range(10, 1, -1)],
                       ("created", {"v": 1})]
    versions = repo.history("a", relations="none")
    assert versions[0].commit.id == rolled.id and versions[0].origin == commits[0].id
    assert _entity_history(repo, "b") == [("deleted", None), ("created", {"k": 1})]
    blame = repo.blame("a", relations="none")
    assert blame["v"].commit.id == rolled.id
    assert blame["v"].origin == commits[0].id  # the value was first written there
    # later writes after the rollback stack on top
    repo.update_entity("a", {"v": 5})
    assert _entity_history(repo, "a")[:2] == [("modified", {"v": 5}), ("modified", {"v": 1})]
    # the history at the old head is unchanged
    assert len(_entity_history(repo, "a", commits[9].id)) == 10


def test_rollback_to_another_branchs_commit(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"v": 1})
    repo.create_branch("side")
    repo.put_entity("a", "T", {"v": "side"}, branch="side")
    elsewhere = repo.put_relation("r", "R", "a", "a", {"w": 1}, branch="side")
    repo.put_entity("a", "T", {"v": 2})
    head = repo.resolve("main")
    rolled = repo.rollback(elsewhere.id)
    assert rolled.parents == (head.id,)
    assert repo.head().to_dict() == repo.at("side").to_dict()
    assert _entity_history(repo, "a") == [("modified", {"v": "side"}), ("modified", {"v": 2}),
                                          ("created", {"v": 1})]
    # the entity's relation facts: r exists only in the restored state
    facts = [(v.element, v.id, v.kind) for v in repo.history("a")]
    assert facts[:2] == [("entity", "a", "modified"), ("relation", "r", "created")]
    assert "@relation r" in repo.blame("a")
    touching = [c.id for c in repo.log(limit=None, touching="a", relations="none")]
    assert touching[0] == rolled.id


def test_log_touching_lists_a_rollback_only_for_what_it_changed(
        repo: palimpsest.Repository) -> None:
    target = repo.put_entity("a", "T", {"v": 1})
    repo.put_entity("b", "T", {"v": 1})
    repo.put_entity("b", "T", {"v": 2})
    rolled = repo.rollback(repo.resolve("main~1").id)  # undoes b's update only
    assert rolled.id in [c.id for c in repo.log(touching="b", relations="none")]
    assert [c.id for c in repo.log(touching="a", relations="none")] == [target.id]
    # an entity's relation facts: the rollback removes a's outgoing relation, not a itself
    linked = repo.put_relation("ab", "R", "a", "b")
    undone = repo.rollback(rolled.id)
    assert [c.id for c in repo.log(touching="a")] == [undone.id, linked.id, target.id]
    assert [c.id for c in repo.log(touching="a", relations="none")] == [target.id]
    assert [c.id for c in repo.log(touching="b", relations="in")][:2] == [undone.id, linked.id]


def test_diff_merge_cherry_pick_and_revert_across_a_rollback(
        repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1, "y": 1})
    target = repo.resolve("main")
    repo.update_entity("a", {"x": 2})
    repo.put_entity("c", "T")
    head = repo.resolve("main")
    repo.create_branch("feature")  # forked at the head about to be undone
    repo.update_entity("a", {"y": 9}, branch="feature")
    rolled = repo.rollback(target.id)
    diff = repo.diff(head.id, rolled.id)
    assert sorted(c.id for c in diff.changes) == ["a", "c"]
    assert repo.diff(target.id, rolled.id).changes == []
    # merge: the base is the old head; the rollback's undo and the feature's change both hold
    assert repo.merge_base("main", "feature").id == head.id  # type: ignore[union-attr]
    result = repo.merge("feature", into="main")
    assert result.status == "merged"
    assert repo.head().entity("a").props == {"x": 1, "y": 9}  # type: ignore[union-attr]
    assert repo.head().entity("c") is None
    # cherry-pick the rollback onto a branch still at the old head
    repo.create_branch("old", head.id)
    picked = repo.cherry_pick(rolled.id, onto="old")
    assert picked.status == "merged"
    assert repo.at("old").to_dict() == repo.at(target.id).to_dict()
    # revert the rollback: its undone changes come back
    repo.create_branch("again", rolled.id)
    repo.revert(rolled.id, branch="again")
    assert repo.at("again").to_dict() == repo.at(head.id).to_dict()


def test_rollback_of_a_branch_without_commits_and_to_its_own_head(
        repo: palimpsest.Repository) -> None:
    first = repo.put_entity("a", "T")
    same = repo.rollback("main")
    assert same.parents == (first.id,) and same.state_hash == first.state_hash
    assert repo.resolve("main~1").id == first.id
    assert _entity_history(repo, "a") == [("created", {})]


@pytest.mark.needs_embedded("a transaction held open across another writer")
def test_a_transaction_open_across_a_rollback(repo: palimpsest.Repository) -> None:
    target = repo.put_entity("a", "T", {"v": 1})
    repo.update_entity("a", {"v": 2})
    repo.put_entity("b", "T")
    with pytest.raises(ConcurrentCommit), repo.transaction() as tx:
        tx.update_entity("a", {"w": 1})  # read a at v=2, which the rollback undoes
        repo.rollback(target.id)
    with repo.transaction() as tx:
        tx.put_entity("z", "T")  # reads nothing the rollback changed: lands on top of it
        rolled = repo.rollback(target.id)
    assert tx.commit is not None and tx.commit.parents == (rolled.id,)
    assert sorted(e.id for e in repo.head().entities()) == ["a", "z"]


@pytest.mark.needs_embedded("gc and retention run on the host")
def test_retention_and_gc_across_rollbacks(repo: palimpsest.Repository) -> None:
    commits = _ten_versions(repo)
    rolled = repo.rollback(commits[2].id)
    later = repo.update_entity("a", {"w": 1})
    # keep= a time: the horizon is main's state at that time, before the rollback (not the
    # target's history, which the chain would give)
    repo.set_retention("main", keep="30d")
    assert repo.gc(dry_run=True).horizons["main"] == commits[9].id
    repo.set_retention("main", keep_commits=3)
    report = repo.gc()
    assert report.horizons["main"] == commits[9].id  # later, rolled, then the old head
    assert repo.at(rolled.id).entity("a").props == {"v": 3}  # type: ignore[union-attr]
    assert repo.at(later.id).entity("a").props == {"v": 3, "w": 1}  # type: ignore[union-attr]
    assert repo.at(commits[9].id).entity("a").props == {"v": 10}  # type: ignore[union-attr]
    with pytest.raises(palimpsest.RetentionExpired):
        repo.at(commits[8].id)
    assert repo.fsck().ok


@pytest.mark.needs_embedded("export / import and copy work on files of the host")
def test_archive_and_copy_round_trip_rollbacks(repo: palimpsest.Repository,
                                                tmp_path: Path) -> None:
    commits = _ten_versions(repo)
    repo.create_branch("side", commits[3].id)
    elsewhere = repo.put_entity("s", "T", {"side": True}, branch="side")
    repo.rollback(commits[4].id)
    repo.update_entity("a", {"x": 1})
    repo.rollback(elsewhere.id)  # to a commit main never reached

    def snapshot(r: palimpsest.Repository, ref: str) -> tuple[object, ...]:
        return ([(c.id, c.state_hash) for c in r.log(ref, limit=None)], r.at(ref).to_dict(),
                [(v.commit.id, v.kind) for v in r.history("a", ref)],
                r.resolve(f"{ref}@2025-07-15").id)

    path = tmp_path / "all.jsonl"
    repo.export(path)
    copy = palimpsest.import_(path, tmp_path / "copy.db")
    assert snapshot(copy, "main") == snapshot(repo, "main")
    assert copy.fsck().ok
    copy.close()
    one = tmp_path / "main.jsonl"
    repo.export(one, ref="main")  # a partial export must carry the restored states' commits
    partial = palimpsest.import_(one)
    assert snapshot(partial, "main") == snapshot(repo, "main")
    assert partial.fsck().ok
    partial.close()
    report = repo.copy_to(str(tmp_path / "copied.db"))
    assert report.heads["main"] == repo.resolve("main").id
    with palimpsest.open(str(tmp_path / "copied.db")) as copied:
        assert snapshot(copied, "main") == snapshot(repo, "main")
        assert copied.fsck().ok


@pytest.mark.needs_embedded("the remote watch is a server-sent event stream")
def test_watches_see_a_rollback(repo: palimpsest.Repository) -> None:
    kv = repo.kv
    kv.set("/w/a", b"1")
    target = repo.resolve("main")
    with kv.watch("/w/*") as watch, repo.watch() as commits:
        kv.set("/w/a", b"2")
        kv.set("/w/b", b"new")
        assert len(watch.poll()) == 2
        assert len(commits.poll()) == 2
        rolled = repo.rollback(target.id)
        events = watch.poll()
        assert [c.id for c in commits.poll()] == [rolled.id]
    assert [(e.type, e.key, e.value) for e in events] == [("updated", "/w/a", b"1"),
                                                          ("deleted", "/w/b", None)]
