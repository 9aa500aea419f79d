"""Branches, tags, HEAD and the ref syntax."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import palimpsest
from palimpsest import AmbiguousRef, InvalidKey, RefNotFound


def _history(repo: palimpsest.Repository, n: int) -> list[palimpsest.Commit]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return [repo.put_entity("e", "T", {"n": i}, timestamp=base + timedelta(days=i))
            for i in range(n)]


def test_new_repository_has_main_and_no_commit(repo: palimpsest.Repository) -> None:
    assert repo.current_branch == "main"
    assert [b.name for b in repo.branches()] == ["main"]
    assert repo.head().commit is None
    assert list(repo.head().entities()) == []
    assert repo.log() == []
    with pytest.raises(RefNotFound):
        repo.resolve("main")


def test_branch_create_checkout_delete(repo: palimpsest.Repository) -> None:
    commits = _history(repo, 3)
    branch = repo.create_branch("experiment", from_="main~1")
    assert branch.head == commits[1]
    repo.checkout("experiment")
    assert repo.current_branch == "experiment"
    c = repo.put_entity("x", "T")
    assert c.parents == (commits[1].id,)
    assert repo.at("main").entity("x") is None
    assert repo.at("experiment").entity("x") is not None
    assert repo.head().entity("e").props == {"n": 1}  # type: ignore[union-attr]
    with pytest.raises(palimpsest.InvalidValue, match="current branch"):
        repo.delete_branch("experiment")
    repo.checkout("main")
    repo.delete_branch("experiment")
    assert [b.name for b in repo.branches()] == ["main"]
    with pytest.raises(RefNotFound):
        repo.checkout("experiment")
    # the commit survives by id
    assert repo.at(c.id).entity("x") is not None


def test_branch_names_are_validated(repo: palimpsest.Repository) -> None:
    _history(repo, 1)
    for bad in ["", "has space", "a..b", "HEAD", "-x", "x~1", "x^", "a:b", "end/", "x@y"]:
        with pytest.raises(InvalidKey):
            repo.create_branch(bad)
    repo.create_branch("feature/one")
    with pytest.raises(InvalidKey, match="already exists"):
        repo.create_branch("feature/one")


def test_branch_from_empty_repository(repo: palimpsest.Repository) -> None:
    repo.create_branch("b")
    repo.put_entity("a", "T", branch="b")
    assert repo.at("b").entity("a") is not None
    assert repo.head().entity("a") is None


def test_writes_to_a_branch_do_not_leak(repo: palimpsest.Repository) -> None:
    _history(repo, 2)
    repo.create_branch("b")
    repo.put_entity("only-b", "T", branch="b")
    repo.put_entity("only-main", "T")
    assert repo.at("b").entity("only-main") is None
    assert repo.at("main").entity("only-b") is None
    assert repo.at("b").entity("e").props == {"n": 1}  # type: ignore[union-attr]


def test_tags_lightweight_and_annotated(repo: palimpsest.Repository) -> None:
    commits = _history(repo, 3)
    light = repo.tag("v1", "main~2")
    assert light.commit == commits[0] and light.message is None
    annotated = repo.tag("v2", message="second release", author="rel@example.com")
    assert annotated.commit == commits[2]
    assert annotated.message == "second release" and annotated.author == "rel@example.com"
    assert annotated.timestamp is not None
    assert [t.name for t in repo.tags()] == ["v1", "v2"]
    assert repo.at("v1").entity("e").props == {"n": 0}  # type: ignore[union-attr]
    with pytest.raises(InvalidKey):
        repo.tag("v1")
    repo.tag("v1", "main", force=True)
    assert repo.resolve("v1") == commits[2]
    repo.delete_tag("v1")
    with pytest.raises(RefNotFound):
        repo.resolve("v1")


def test_ref_syntax(repo: palimpsest.Repository) -> None:
    commits = _history(repo, 5)
    assert repo.resolve("HEAD") == commits[4]
    assert repo.resolve("main") == commits[4]
    assert repo.resolve("main~0") == commits[4]
    assert repo.resolve("main~3") == commits[1]
    assert repo.resolve("main^") == commits[3]
    assert repo.resolve("main^^") == commits[2]
    assert repo.resolve("main~2^") == commits[1]
    assert repo.resolve(commits[2].id) == commits[2]
    assert repo.resolve(commits[2].id[:8]) == commits[2]
    assert repo.resolve(commits[2].id[:8] + "~1") == commits[1]
    with pytest.raises(RefNotFound, match="past the start"):
        repo.resolve("main~5")
    with pytest.raises(RefNotFound):
        repo.resolve("nope")
    with pytest.raises(RefNotFound):
        repo.resolve("abcdef" if not any(c.id.startswith("abcdef") for c in commits) else "fffff0")


def test_ambiguous_prefix_lists_candidates(repo: palimpsest.Repository) -> None:
    ids = [c.id for c in _history(repo, 40)]
    by_prefix: dict[str, list[str]] = {}
    for cid in ids:
        by_prefix.setdefault(cid[:1], []).append(cid)
    # find two ids sharing a 1-char prefix and force a 6+ char ambiguous prefix through SQL
    prefix, group = next((p, g) for p, g in by_prefix.items() if len(g) > 1)
    db = repo.database
    db.run("UPDATE commits SET id = ? WHERE id = ?", ("abcdef" + group[0][6:], group[0]))
    db.run("UPDATE commits SET id = ? WHERE id = ?", ("abcdef" + group[1][6:], group[1]))
    with pytest.raises(AmbiguousRef) as info:
        repo.resolve("abcdef")
    assert len(info.value.candidates) == 2
    assert prefix  # the group existed


def test_time_travel_by_timestamp(repo: palimpsest.Repository) -> None:
    commits = _history(repo, 5)  # days 0..4 of 2026-01
    assert repo.resolve("2026-01-03T00:00:00Z") == commits[2]
    assert repo.resolve("2026-01-03T12:00:00Z") == commits[2]
    assert repo.resolve("2026-01-03") == commits[2]
    assert repo.resolve(datetime(2026, 1, 4, 23, 0)) == commits[3]  # naive = UTC
    assert repo.resolve("2030-01-01") == commits[4]
    assert repo.at("2026-01-02T06:00:00+00:00").entity("e").props == {"n": 1}  # type: ignore[union-attr]
    with pytest.raises(RefNotFound, match="before the first commit"):
        repo.resolve("2025-12-31")
    repo.create_branch("b", from_="main~3")
    repo.put_entity("e", "T", {"n": 99}, branch="b", timestamp="2026-02-01")
    assert repo.resolve("b@2026-01-10") == commits[1]
    assert repo.resolve("b@2026-02-02").parents == (commits[1].id,)
    assert repo.resolve("main@2026-01-02") == commits[1]


def test_reflog_records_branch_and_tag_moves(repo: palimpsest.Repository) -> None:
    commits = _history(repo, 2)
    repo.create_branch("b", from_="main~1")
    repo.tag("t")
    entries = repo.reflog("b")
    assert entries[0].new == commits[0].id and entries[0].message == "branch: created"
    assert repo.reflog("t")[0].new == commits[1].id


def test_checkout_is_persistent(open_repo, repo_url: str) -> None:  # type: ignore[no-untyped-def]
    if repo_url == ":memory:":
        pytest.skip("a second handle on :memory: is a different database")
    first = open_repo()
    first.put_entity("a", "T")
    first.create_branch("dev")
    first.checkout("dev")
    second = open_repo()
    assert second.current_branch == "dev"
