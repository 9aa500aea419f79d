"""Retention policies and gc: old states are compacted, newer ones and pins stay exact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import palimpsest
from palimpsest import InvalidKey, InvalidValue, Repository, RetentionExpired


def _history(repo: Repository, n: int = 20, *, keys: int = 5) -> list[palimpsest.Commit]:
    """n commits on main, one a day from 2024-01-01, each updating one of ``keys`` entities."""
    out = []
    for i in range(n):
        with repo.transaction(f"c{i}", timestamp=f"2024-01-{i + 1:02d}T00:00:00Z") as tx:
            tx.put_entity(f"e{i % keys}", "T", {"i": i})
            if i == 3:
                tx.put_document("docs", "d", {"at": i})
        assert tx.commit is not None
        out.append(tx.commit)
    return out


def _state(view: palimpsest.View) -> dict[str, Any]:
    return view.to_dict()


def test_policy_validation_and_listing(repo: Repository) -> None:
    assert repo.set_retention("release/*", "2w") is not None
    policy = repo.set_retention("main", keep_commits=3, keep=timedelta(days=1))
    assert policy is not None and policy.keep == timedelta(days=1)
    assert [p.pattern for p in repo.retention()] == ["main", "release/*"]
    assert repo.set_retention("main") is None  # neither argument: removed
    assert [p.pattern for p in repo.retention()] == ["release/*"]
    for bad in ("5 parsecs", "0d", "-1d", True, 1.5):
        with pytest.raises(InvalidValue):
            repo.set_retention("main", bad)  # type: ignore[arg-type]
    for n in (0, -3, True, "3"):
        with pytest.raises(InvalidValue):
            repo.set_retention("main", keep_commits=n)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        repo.set_retention("", "1d")


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_gc_keeps_horizon_state_and_prunes_older(repo: Repository) -> None:
    commits = _history(repo)
    before = {c.id: _state(repo.at(c.id)) for c in commits}
    repo.set_retention("main", keep_commits=5)
    assert repo.horizon() == commits[15]
    report = repo.gc()
    assert report.horizons == {"main": commits[15].id}
    assert report.commits_pruned == 15
    assert report.rows_deleted > 0
    for c in commits[15:]:  # every state from the horizon on is exact
        assert _state(repo.at(c.id)) == before[c.id]
    for c in commits[:15]:
        with pytest.raises(RetentionExpired) as info:
            repo.at(c.id)
        assert info.value.horizon == commits[15].id
        assert commits[15].short_id in str(info.value)
        assert repo.commit(c.id).message == c.message  # metadata is kept
    assert [c.id for c in repo.log(limit=None)] == [c.id for c in reversed(commits)]
    assert repo.head().document("docs", "d") is not None  # untouched since c3: still visible
    report = repo.fsck()
    assert report.ok, report.problems
    assert report.pruned_commits == 15


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_time_travel_before_horizon_names_it(repo: Repository) -> None:
    commits = _history(repo)
    repo.set_retention("main", "7d")
    report = repo.gc(now="2024-01-25T00:00:00Z")  # horizon: the state at 2024-01-18
    assert report.horizons["main"] == commits[17].id
    assert repo.at("2024-01-18T12:00:00Z").commit == commits[17]
    with pytest.raises(RetentionExpired, match=commits[17].short_id):
        repo.at("2024-01-10")
    with pytest.raises(RetentionExpired):
        repo.at("main~5")
    assert repo.at("main~2").commit == commits[17]
    assert repo.fsck().ok


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_tags_pin_states_and_branches_keep_their_fork(repo: Repository) -> None:
    commits = _history(repo)
    repo.tag("pinned", commits[4].id)
    repo.create_branch("feature", commits[8].id)
    repo.put_entity("f", "T", {"x": 1}, branch="feature", timestamp="2024-02-01")
    pinned, feature = _state(repo.at("pinned")), _state(repo.at("feature"))
    fork = _state(repo.at(commits[8].id))
    repo.set_retention("main", keep_commits=2)
    repo.gc()
    assert _state(repo.at("pinned")) == pinned
    assert _state(repo.at("feature")) == feature
    assert _state(repo.at(commits[8].id)) == fork  # the merge base / fork point stays
    assert repo.at(commits[5].id).entity("e0") is not None  # feature reaches it: kept
    with pytest.raises(RetentionExpired):
        repo.at(commits[10].id)
    with pytest.raises(RetentionExpired):  # no new pins on compacted states
        repo.tag("late", commits[10].id)
    with pytest.raises(RetentionExpired):
        repo.create_branch("late", commits[10].id)
    assert repo.fsck().ok


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_gc_removes_rows_of_deleted_branches(repo: Repository) -> None:
    _history(repo, 3)
    repo.create_branch("tmp")
    for i in range(5):
        repo.put_entity(f"tmp{i}", "T", {"i": i}, branch="tmp")
    tip = repo.resolve("tmp")
    repo.delete_branch("tmp")
    report = repo.gc()
    assert report.rows_deleted == 5
    assert report.commits_pruned == 5
    with pytest.raises(RetentionExpired) as info:
        repo.at(tip.id)
    assert info.value.horizon is None
    assert "no branch or tag" in str(info.value)
    assert repo.fsck().ok


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_gc_without_policies_keeps_everything_reachable(repo: Repository) -> None:
    commits = _history(repo, 8)
    states = {c.id: _state(repo.at(c.id)) for c in commits}
    report = repo.gc()
    assert (report.commits_pruned, report.rows_deleted) == (0, 0)
    assert {c.id: _state(repo.at(c.id)) for c in commits} == states


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_dry_run_changes_nothing(repo: Repository) -> None:
    commits = _history(repo, 10)
    repo.set_retention("main", keep_commits=2)
    dry = repo.gc(dry_run=True)
    assert dry.dry_run and dry.commits_pruned == 8 and dry.rows_deleted > 0
    assert repo.at(commits[0].id).entity("e0") is not None
    real = repo.gc()
    assert (real.commits_pruned, real.rows_deleted) == (dry.commits_pruned, dry.rows_deleted)


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_gc_is_repeatable_and_writes_continue(repo: Repository) -> None:
    commits = _history(repo, 10)
    repo.set_retention("main", keep_commits=3)
    repo.gc()
    more = []
    for i in range(5):
        more.append(repo.put_entity(f"e{i}", "T", {"later": i}, timestamp="2024-03-01"))
    second = repo.gc()
    assert second.commits_pruned == 5  # commits[7..9] made way for newer ones
    assert repo.head().entity("e4") == palimpsest.Entity("e4", "T", {"later": 4})
    with pytest.raises(RetentionExpired):
        repo.at(commits[9].id)
    assert repo.at(more[2].id).entity("e2") == palimpsest.Entity("e2", "T", {"later": 2})
    report = repo.fsck()
    assert report.ok, report.problems
    assert repo.fsck(repair_indexes=True).ok  # rebuilding derived data keeps it consistent


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_open_views_survive_gc(repo: Repository) -> None:
    commits = _history(repo, 10)
    old = repo.at(commits[1].id)
    expected = _state(old)
    repo.set_retention("main", keep_commits=1)
    repo.gc()
    assert _state(old) == expected  # this handle's open View kept its state
    del old
    assert repo.gc().commits_pruned == 1  # once the View is gone, so is the pin
    assert repo.fsck().ok


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_diff_rollback_and_history_after_gc(repo: Repository) -> None:
    commits = _history(repo, 12)
    repo.set_retention("main", keep_commits=4)
    repo.gc()
    diff = repo.diff(commits[8].id, commits[11].id)
    assert {c.id for c in diff.changes} == {"e4", "e0", "e1"}
    repo.rollback(commits[8].id)
    assert _state(repo.head()) == _state(repo.at(commits[8].id))
    versions = repo.history("e0")
    # rollback, c10, and c5 (the value at the horizon); c0's version was compacted away
    assert [v.value.props["i"] for v in versions if v.value] == [5, 10, 5]
    assert repo.fsck().ok


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_policy_patterns_match_branches(repo: Repository) -> None:
    _history(repo, 4)
    repo.create_branch("release/1")
    for i in range(4):
        repo.put_entity("r", "T", {"i": i}, branch="release/1")
    repo.set_retention("release/*", keep_commits=1)
    report = repo.gc()
    assert report.horizons["main"] is None
    assert report.horizons["release/1"] == repo.resolve("release/1").id
    assert report.commits_pruned == 3  # the release branch's own older commits only
    assert repo.at("main").count() == 4


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_watch_from_before_the_horizon_resyncs_instead_of_skipping(
        repo: palimpsest.Repository) -> None:
    commits = [repo.resolve(repo.kv.set("/a", b"%d" % i).commit) for i in range(8)]
    repo.set_retention("main", keep_commits=3)
    repo.gc()
    with pytest.raises(palimpsest.RetentionExpired):
        repo.at(commits[0].id)
    horizon = repo.horizon()  # the oldest state gc kept (policy: the last 3 commits)
    assert horizon is not None and horizon.id == commits[-3].id
    # kv watch: a distinct resync event naming the snapshot to re-read, then later changes
    later = repo.resolve(repo.kv.set("/a", b"after").commit)
    with repo.kv.watch("/a", since=commits[0].id, timeout=0) as watch:
        events = watch.poll()
    assert events[0].type == "resync" and events[0].commit == horizon
    assert repo.at(events[0].commit.id).kv.get("/a") is not None  # the snapshot is readable
    assert [e.commit for e in events[1:]][-1] == later
    assert all(e.type != "resync" for e in events[1:])
    # commit watch: every later commit's metadata is still delivered
    with repo.watch(since=commits[0].id, timeout=0) as watch:
        delivered = watch.poll()
    assert [c.id for c in delivered] == [c.id for c in commits[1:]] + [later.id]


@pytest.mark.needs_embedded("runs gc, which only the host runs (no route)")
def test_merge_whose_base_was_compacted_is_refused(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"v": 0})
    repo.create_branch("feature")
    repo.update_entity("a", {"w": 1}, branch="feature")
    repo.tag("feature-done", "feature")  # the tag keeps the branch's head readable
    repo.delete_branch("feature")
    for i in range(5):
        repo.update_entity("a", {"v": i + 1})
    repo.set_retention("main", keep_commits=2)
    repo.gc()
    head = repo.resolve("main")
    with pytest.raises(RetentionExpired):
        repo.merge("feature-done", into="main")
    assert repo.resolve("main") == head  # nothing written
