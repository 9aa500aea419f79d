"""History and audit: log filters, changes with old/new values, per-element history, blame."""

from __future__ import annotations

from datetime import UTC, datetime

import palimpsest


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
    assert commits[2].to_dict()["author"] == "alice"
