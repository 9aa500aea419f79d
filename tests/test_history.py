"""History and audit: log filters, changes with old/new values, per-element history, blame."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import palimpsest
from palimpsest import wire


def _edits(repo: palimpsest.Repository) -> list[palimpsest.Commit]:
    out = [
        repo.put_entity("users", "Endpoint", {"path": "GET /users"}, author="alice",
                        message="create", timestamp="2026-01-01T00:00:00Z"),
        repo.update_entity("users", {"description": "All users"}, author="bob",
                           message="describe", timestamp="2026-01-02T00:00:00Z"),
        repo.put_entity("other", "Endpoint", {}, author="alice", message="other",
                        timestamp="2026-01-03T00:00:00Z"),
        repo.update_entity("users", {"path": "GET /v2/users"}, author="carol",
                           message="v2", timestamp="2026-01-04T00:00:00Z"),
    ]
    return out


def test_log_newest_first_with_filters(repo: palimpsest.Repository) -> None:
    commits = _edits(repo)
    assert repo.log() == commits[::-1]
    assert repo.log(limit=2) == commits[:1:-1]
    assert repo.log(author="alice") == [commits[2], commits[0]]
    assert repo.log(since="2026-01-02") == commits[:0:-1]
    assert repo.log(until=datetime(2026, 1, 2, tzinfo=UTC)) == [commits[1], commits[0]]
    assert repo.log(touching="users") == [commits[3], commits[1], commits[0]]
    assert repo.log("main~2") == [commits[1], commits[0]]


def test_changes_have_old_and_new_values(repo: palimpsest.Repository) -> None:
    commits = _edits(repo)
    (change,) = repo.changes(commits[3])
    assert change.kind == "modified" and change.element == "entity" and change.id == "users"
    assert change.old.props == {"path": "GET /users", "description": "All users"}
    assert change.new.props["path"] == "GET /v2/users"
    assert change.property_changes() == {"path": ("GET /users", "GET /v2/users")}
    (created,) = repo.changes(commits[0])
    assert created.kind == "created" and created.old is None


def test_history_of_one_entity(repo: palimpsest.Repository) -> None:
    commits = _edits(repo)
    repo.delete_entity("users", author="dave")
    history = repo.history("users")
    assert [v.kind for v in history] == ["deleted", "modified", "modified", "created"]
    assert [v.commit.author for v in history] == ["dave", "carol", "bob", "alice"]
    assert history[1].value.props["path"] == "GET /v2/users"
    assert history[0].value is None
    assert repo.history("users", "main~1") == history[1:]
    assert [v.commit for v in repo.history("users", commits[1].id)] == [commits[1], commits[0]]
    assert repo.history("never") == []


def test_history_of_documents_and_relations(repo: palimpsest.Repository) -> None:
    repo.put_document("notes", "n1", {"v": 1})
    repo.put_document("notes", "n1", {"v": 2})
    assert [v.value.value for v in repo.history(("notes", "n1"))] == [{"v": 2}, {"v": 1}]
    repo.put_entity("a", "T")
    repo.put_relation("rel", "R", "a", "a", {"w": 1})
    repo.put_relation("rel", "R", "a", "a", {"w": 2})
    assert [v.value.props["w"] for v in repo.history("rel")] == [2, 1]
    assert len(repo.history("rel", element="relation")) == 2


def test_blame_credits_the_commit_that_set_each_property(repo: palimpsest.Repository) -> None:
    commits = _edits(repo)
    blame = repo.blame("users")
    assert blame["path"].commit == commits[3] and blame["path"].value == "GET /v2/users"
    assert blame["description"].commit == commits[1]
    assert blame["@type"].commit == commits[0]
    # a property set back to an older value is credited to the commit that set it last
    repo.update_entity("users", {"description": "changed"})
    last = repo.update_entity("users", {"description": "All users"})
    assert repo.blame("users")["description"].commit == last


def test_commit_lookup_and_short_id(repo: palimpsest.Repository) -> None:
    commits = _edits(repo)
    assert repo.commit(commits[2].short_id) == commits[2]
    assert wire.encode(commits[2])["author"] == "alice"


# -- an entity's history is the history of its facts (its relations) -------------------------
def _facts(versions: list[palimpsest.Version]) -> list[tuple[str, str | None, str | None]]:
    return [(v.kind, v.element, v.id) for v in versions]


def test_entity_history_includes_its_relations(repo: palimpsest.Repository) -> None:
    c1 = repo.put_entity("a", "T", {"v": 1})
    repo.put_entity("b", "T")
    repo.put_entity("c", "T")
    c2 = repo.put_relation("ab", "R", "a", "b")
    repo.put_relation("ca", "R", "c", "a")
    repo.put_relation("aa", "SELF", "a", "a")
    repo.update_entity("b", {"x": 1})                      # not a fact of a
    c3 = repo.put_relation("ab", "R", "c", "b")            # re-pointed away from a
    repo.update_entity("a", {"v": 2})
    repo.put_relation("ab", "R", "c", "b", {"w": 1})       # no longer a's: not shown
    assert _facts(repo.history("a")) == [
        ("modified", "entity", "a"), ("modified", "relation", "ab"),
        ("created", "relation", "aa"), ("created", "relation", "ab"),
        ("created", "entity", "a")]
    assert _facts(repo.history("a", relations="in")) == [
        ("modified", "entity", "a"), ("created", "relation", "aa"),
        ("created", "relation", "ca"), ("created", "entity", "a")]
    both = repo.history("a", relations="both")
    assert [v.id for v in both].count("aa") == 1 and len(both) == 6
    assert _facts(repo.history("a", relations="none")) == [
        ("modified", "entity", "a"), ("created", "entity", "a")]
    assert len(repo.history("a", limit=2)) == 2
    assert repo.history("a")[1].commit.id == c3.id and repo.history("a")[3].commit.id == c2.id
    # a relation id or a document: its own history, as before
    assert _facts(repo.history("ab")) == [("modified", "relation", "ab")] * 2 + [
        ("created", "relation", "ab")]
    # the log: every commit that changed a or one of its outgoing relations
    assert len(repo.log(touching="a")) == 5
    assert len(repo.log(touching="a", relations="none")) == 2
    assert len(repo.log(touching="a", relations="both")) == 6
    assert repo.log(touching="a", limit=None)[-1].id == c1.id
    # blame: a's properties, and the relation facts a has now
    blame = repo.blame("a")
    assert set(blame) == {"@type", "v", "@relation aa"}
    assert blame["@relation aa"].relation == "aa"
    assert blame["@relation aa"].value == {"type": "SELF", "source": "a", "target": "a",
                                           "props": {}}
    assert set(repo.blame("a", relations="in")) == {"@type", "v", "@relation aa",
                                                    "@relation ca"}
    assert set(repo.blame("a", relations="none")) == {"@type", "v"}
    with pytest.raises(palimpsest.InvalidValue):
        repo.history("a", relations="sideways")  # type: ignore[arg-type]


def test_deleting_an_entity_shows_its_relations_go(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T")
    repo.put_entity("b", "T")
    repo.put_relation("ab", "R", "a", "b")
    gone = repo.delete_entity("a")  # cascades to ab
    assert _facts(repo.history("a")[:2]) == [("deleted", "entity", "a"),
                                             ("deleted", "relation", "ab")]
    assert repo.history("a")[1].commit.id == gone.id and repo.history("a")[1].value is None
    assert _facts(repo.history("b", relations="in"))[0] == ("deleted", "relation", "ab")


def test_blame_credits_a_merged_relation_to_its_commit(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T")
    repo.put_entity("b", "T")
    repo.create_branch("side")
    made = repo.put_relation("ab", "R", "a", "b", branch="side")
    repo.update_entity("b", {"x": 1})
    merged = repo.merge("side")
    assert merged.commit is not None and merged.status == "merged"
    fact = repo.blame("a")["@relation ab"]
    assert fact.commit.id == merged.commit.id and fact.origin == made.id
    versions = repo.history("a")
    assert (versions[0].element, versions[0].id, versions[0].origin) == ("relation", "ab",
                                                                         made.id)
    # the log walks both parents: the side commit and the merge both touch a's facts
    assert {c.id for c in repo.log(touching="a")} >= {made.id, merged.commit.id}
