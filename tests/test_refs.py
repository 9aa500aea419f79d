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


@pytest.mark.needs_embedded("over HTTP a tag's author is the token's user")
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


@pytest.mark.needs_embedded("uses repo.database")
def test_ambiguous_prefix_lists_candidates(repo: palimpsest.Repository) -> None:
    ids = [c.id for c in _history(repo, 40)]
    by_prefix: dict[str, list[str]] = {}
    for cid in ids:
        by_prefix.setdefault(cid[:1], []).append(cid)
    # find two ids sharing a 1-char prefix and force a 6+ char ambiguous prefix through SQL
    prefix, group = next((p, g) for p, g in by_prefix.items() if len(g) > 1)
    db = repo.database
    for cid in group[:2]:  # ids are stored as their 32 bytes (schema 3)
        db.run("UPDATE commits SET id = ? WHERE id = ?",
               (bytes.fromhex("abcdef" + cid[6:]), bytes.fromhex(cid)))
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


# -- names never shadow commits (issue 12, point 3) --------------------------------------------
def test_names_the_ref_syntax_would_misread_are_refused(repo: palimpsest.Repository) -> None:
    commits = _history(repo, 2)
    refused = {
        "deadbeef": "hex digits", "abc123": "hex digits", "ABCDEF0": "hex digits",
        "0123456789": "hex digits", commits[0].id: "hex digits", commits[1].id[:10]: "hex digits",
        "2026-01-15": "date or time", "2026-01-15T10:00:00Z": "date or time",
        "2026-01-15-import": "date or time", "20260115": "hex digits",
        "x~1": "'~'", "x~": "'~'", "x^": "'\\^'", "x^2": "'\\^'", "a@b": "'@'",
        "main@2026-01-01": "'@'", "a..b": "'..'", "a...b": "'..'", "HEAD": "reserved",
    }
    for name, reason in refused.items():
        for create in (lambda n: repo.create_branch(n), lambda n: repo.tag(n)):
            with pytest.raises(palimpsest.InvalidRef, match=reason) as info:
                create(name)
            assert isinstance(info.value, InvalidKey) and info.value.code == "invalid_ref"
    for name in ("facade-2", "feature/abc123", "abc12", "v2026.01", "import-2026-01-15",
                 "g123456", "release/2.0"):
        repo.create_branch(name)
        repo.tag("t-" + name)
    assert repo.resolve("abc12") == commits[1]
    assert [c.id for c in repo.log(limit=1)] == [commits[1].id]  # nothing else moved


@pytest.mark.needs_embedded("uses repo.database")
def test_a_full_commit_id_wins_over_any_name(repo: palimpsest.Repository) -> None:
    """Repositories from before the rule may hold such names: they stay readable, but a full
    commit id always means the commit."""
    commits = _history(repo, 3)
    repo.create_branch("legacy", from_="main")
    repo.create_branch("old-hex", from_="main~1")
    repo.tag("old-tag", "main~2")
    db = repo.database
    with db.write():  # names an older version accepted
        db.run("UPDATE refs SET name = ? WHERE name = 'legacy'", (commits[0].id,))
        db.run("UPDATE refs SET name = 'deadbeef' WHERE name = 'old-hex'")
        db.run("UPDATE refs SET name = ? WHERE name = 'old-tag'", (commits[2].id[:12],))
    assert repo.resolve(commits[0].id) == commits[0]  # the commit, not the branch
    assert repo.at(commits[0].id).entity("e").props == {"n": 0}  # type: ignore[union-attr]
    assert repo.at(commits[0].id).commit == commits[0]
    assert repo.resolve(commits[0].id + "~0") == commits[0]
    assert repo.resolve("deadbeef") == commits[1]  # a legacy name still beats a prefix
    assert repo.at("deadbeef").entity("e").props == {"n": 1}  # type: ignore[union-attr]
    assert repo.resolve(commits[2].id[:12]) == commits[0]  # the legacy tag
    assert repo.resolve(commits[2].id[:13]) == commits[2]  # one more character: the commit
    assert {b.name for b in repo.branches()} == {"main", commits[0].id, "deadbeef"}
    repo.checkout("deadbeef")
    assert repo.current_branch == "deadbeef"
    repo.checkout("main")
    repo.delete_branch("deadbeef")
    repo.delete_branch(commits[0].id)
    repo.delete_tag(commits[2].id[:12])
    assert [b.name for b in repo.branches()] == ["main"]


# -- ref expressions never raise anything but PalimpsestError (issue 12, point 4) ---------------
def test_huge_and_malformed_ref_expressions_are_typed_errors(
        repo: palimpsest.Repository) -> None:
    commits = _history(repo, 3)
    huge = "9" * 5000  # int() refuses more than 4,300 digits
    for ref in ("main~" + huge, "main^" + huge, commits[0].id[:8] + "~" + huge,
                "HEAD~1~" + huge, "main~" + "9" * 19):
        with pytest.raises(palimpsest.InvalidRef, match="digits"):
            repo.at(ref)
        with pytest.raises(palimpsest.InvalidRef):
            repo.log(ref)
        with pytest.raises(palimpsest.InvalidRef):
            repo.diff(ref, "main")
        with pytest.raises(palimpsest.InvalidRef):
            repo.create_branch("from-huge", ref)
    assert repo.resolve("main~" + "0" * 18) == commits[2]  # 18 digits are fine
    with pytest.raises(RefNotFound, match="past the start"):
        repo.resolve("main~" + "9" * 18)
    for ref in ("0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "main@0001-01-01T00:00+23:59",
                "2026-13-45", "main@not-a-time", "main@"):
        with pytest.raises(palimpsest.InvalidRef) as info:
            repo.at(ref)
        assert isinstance(info.value, palimpsest.InvalidValue)  # what times raised before
    with pytest.raises(palimpsest.InvalidValue, match="out of range"):
        repo.log(since="0001-01-01T00:00:00+23:59")
    with pytest.raises(RefNotFound):
        repo.at("main~١")  # only ASCII digits count
