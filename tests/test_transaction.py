"""Writes as commits: one commit per clean transaction, nothing on error, validation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import palimpsest
from palimpsest import Entity, InvalidKey, InvalidValue, NotFound


def test_transaction_writes_exactly_one_commit(repo: palimpsest.Repository) -> None:
    with repo.transaction(message="Import API docs", author="alice@example.com",
                          metadata={"source": "sync"}) as tx:
        tx.put_entity("users", type="Endpoint", props={"path": "GET /users"})
        tx.put_entity("User", type="Model")
        tx.update_entity("users", {"description": "Returns all users"})
        tx.put_relation("users-returns-user", type="RETURNS", source="users", target="User")
        tx.put_document("notes", "n1", {"text": "hello"})
    commit = tx.commit
    assert commit is not None
    assert [c.id for c in repo.log()] == [commit.id]
    assert commit.author == "alice@example.com"
    assert commit.message == "Import API docs"
    assert commit.metadata == {"source": "sync"}
    assert commit.parents == ()
    assert commit.timestamp.tzinfo is not None
    assert commit.stats.entities_created == 2
    assert commit.stats.relations_created == 1
    assert commit.stats.documents_changed == 1
    assert len(commit.id) == 64 and len(commit.state_hash) == 64
    view = repo.head()
    assert view.entity("users") == Entity("users", "Endpoint",
                                          {"path": "GET /users",
                                           "description": "Returns all users"})
    assert view.document("notes", "n1").value == {"text": "hello"}  # type: ignore[union-attr]


def test_exception_in_block_writes_nothing(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1})
    before = repo.log()
    with pytest.raises(RuntimeError), repo.transaction(message="boom") as tx:
        tx.put_entity("b", "T")
        tx.update_entity("a", {"x": 2})
        raise RuntimeError("stop")
    assert tx.commit is None
    assert repo.log() == before
    assert repo.head().entity("b") is None
    assert repo.head().entity("a").props == {"x": 1}  # type: ignore[union-attr]


def test_reads_inside_transaction_see_own_writes(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1})
    with repo.transaction(message="m") as tx:
        tx.update_entity("a", {"x": 2, "y": True})
        assert tx.entity("a") == Entity("a", "T", {"x": 2, "y": True})
        tx.put_entity("b", "T")
        tx.put_relation("ab", "R", "a", "b")
        assert [r.id for r in tx.relations(source="a")] == ["ab"]
        tx.delete_entity("b")
        assert tx.entity("b") is None
        assert tx.relations(source="a") == []
        assert [e.id for e in tx.entities()] == ["a"]
        # the repository outside the transaction does not see them yet
        assert repo.head().entity("a").props == {"x": 1}  # type: ignore[union-attr]


def test_update_entity_none_removes_property(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1, "y": 2})
    repo.update_entity("a", {"x": None, "z": [1, {"k": "v"}]})
    assert repo.head().entity("a").props == {"y": 2, "z": [1, {"k": "v"}]}  # type: ignore[union-attr]


def test_update_entity_can_change_type(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1})
    repo.update_entity("a", type="U")
    entity = repo.head().entity("a")
    assert entity is not None and entity.type == "U" and entity.props == {"x": 1}
    assert [e.id for e in repo.head().entities(type="U")] == ["a"]
    assert list(repo.head().entities(type="T")) == []


def test_delete_entity_deletes_and_records_its_relations(repo: palimpsest.Repository) -> None:
    with repo.transaction(message="setup") as tx:
        for name in ("a", "b", "c"):
            tx.put_entity(name, "T")
        tx.put_relation("ab", "R", "a", "b")
        tx.put_relation("ca", "R", "c", "a")
        tx.put_relation("bc", "R", "b", "c")
    commit = repo.delete_entity("a")
    assert [r.id for r in repo.head().relations()] == ["bc"]
    changes = {(c.element, c.id, c.kind) for c in repo.changes(commit)}
    assert changes == {("entity", "a", "deleted"), ("relation", "ab", "deleted"),
                       ("relation", "ca", "deleted")}
    assert commit.stats.relations_deleted == 2 and commit.stats.entities_deleted == 1


@pytest.mark.parametrize("bad_id", ["", "a\x00b", "tab\tin", "x" * 513, 5, None])
def test_invalid_ids_are_rejected(repo: palimpsest.Repository, bad_id: object) -> None:
    with pytest.raises(InvalidKey), repo.transaction() as tx:
        tx.put_entity(bad_id, "T")  # type: ignore[arg-type]
    assert repo.log() == []


def test_long_but_valid_id(repo: palimpsest.Repository) -> None:
    repo.put_entity("é" * 256, "T")  # 512 bytes
    assert repo.head().entity("é" * 256) is not None


@pytest.mark.parametrize("props", [
    {"x": float("nan")}, {"x": float("inf")}, {"x": 2**64}, {1: "a"}, {"x": {1, 2}},
    {"x": b"bytes"}, {"x": datetime.now()}, "not a dict", {"x": [1, object()]},
])
def test_invalid_values_are_rejected(repo: palimpsest.Repository, props: object) -> None:
    repo.put_entity("keep", "T", {"v": 1})
    with pytest.raises(InvalidValue):
        repo.put_entity("a", "T", props)  # type: ignore[arg-type]
    assert len(repo.log()) == 1
    assert repo.head().entity("a") is None


def test_empty_type_is_rejected(repo: palimpsest.Repository) -> None:
    with pytest.raises(InvalidKey, match="type"):
        repo.put_entity("a", "")


def test_relation_needs_existing_endpoints(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T")
    with pytest.raises(NotFound, match="target entity 'missing'"):
        repo.put_relation("r", "R", "a", "missing")
    with pytest.raises(NotFound):
        repo.update_entity("missing", {"x": 1})
    with pytest.raises(NotFound):
        repo.delete_entity("missing")
    with pytest.raises(NotFound):
        repo.delete_relation("missing")
    assert len(repo.log()) == 1


def test_relation_to_entity_deleted_meanwhile_fails(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T")
    repo.put_entity("b", "T")
    with pytest.raises(palimpsest.ConcurrentCommit), repo.transaction() as tx:
        tx.put_relation("r", "R", "a", "b")
        repo.delete_entity("b")  # another writer removes the target before we commit
    assert repo.head().relation("r") is None
    assert repo.head().entity("b") is None


def test_concurrent_commit_on_other_elements_is_rebased(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1})
    with repo.transaction(message="slow") as tx:
        tx.update_entity("a", {"x": 2})
        other = repo.put_entity("b", "T")  # lands first, touches something else
    assert tx.commit is not None and tx.commit.parents == (other.id,)
    assert repo.head().entity("a").props == {"x": 2}  # type: ignore[union-attr]
    assert repo.head().entity("b") is not None


def test_concurrent_commit_on_same_element_conflicts(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1})
    with pytest.raises(palimpsest.ConcurrentCommit), repo.transaction() as tx:
        tx.update_entity("a", {"x": 2})
        repo.update_entity("a", {"x": 3})
    assert repo.head().entity("a").props == {"x": 3}  # type: ignore[union-attr]


def test_timestamp_for_historical_import(repo: palimpsest.Repository) -> None:
    first = repo.put_entity("a", "T", timestamp="2020-01-01T00:00:00Z")
    assert first.timestamp == datetime(2020, 1, 1, tzinfo=UTC)
    naive = repo.put_entity("b", "T", timestamp=datetime(2021, 6, 1, 12, 30))
    assert naive.timestamp == datetime(2021, 6, 1, 12, 30, tzinfo=UTC)
    with pytest.raises(InvalidValue, match="earlier than its parent"):
        repo.put_entity("c", "T", timestamp="2020-06-01")
    assert repo.head().entity("c") is None
    later = repo.put_entity("d", "T")
    assert later.timestamp > naive.timestamp


def test_no_op_writes_are_not_recorded(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1})
    commit = repo.put_entity("a", "T", {"x": 1})
    assert commit.stats.total == 0
    assert repo.changes(commit) == []
    assert len(repo.history("a")) == 1


def test_ended_transaction_refuses_writes(repo: palimpsest.Repository) -> None:
    with repo.transaction() as tx:
        tx.put_entity("a", "T")
    with pytest.raises(palimpsest.ReadOnly):
        tx.put_entity("b", "T")


def test_documents_put_and_delete(repo: palimpsest.Repository) -> None:
    repo.put_document("notes", "n1", {"text": "a"})
    repo.put_document("notes", "n2", [1, 2])
    repo.put_document("other", "x", "plain string")
    view = repo.head()
    assert [d.key for d in view.documents("notes")] == ["n1", "n2"]
    assert view.collections() == ["notes", "other"]
    commit = repo.delete_document("notes", "n1")
    assert repo.head().document("notes", "n1") is None
    assert repo.at(commit.parents[0]).document("notes", "n1").value == {"text": "a"}  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        repo.delete_document("notes", "n1")


@pytest.mark.needs_embedded("uses repo.database")
def test_commit_rolled_back_by_an_outer_transaction_leaves_no_trace(
        open_repo, repo_url: str) -> None:  # type: ignore[no-untyped-def]
    if repo_url == ":memory:":
        pytest.skip("needs a second handle on the same database")
    first, second = open_repo(), open_repo()
    first.put_entity("a", "T")
    with pytest.raises(RuntimeError), first.database.write():
        doomed = first.put_entity("b", "T", message="doomed")
        assert first.resolve("main") == doomed  # visible inside the outer transaction
        raise RuntimeError("abort the outer transaction")
    survivor = second.put_entity("c", "T", message="survivor")
    if first.database.dialect.name == "sqlite":
        assert survivor.seq == doomed.seq  # another writer reused the seq...
    else:  # (PostgreSQL's sequence never hands a seq out twice)
        assert survivor.seq > doomed.seq
    assert first.resolve("main").message == "survivor"  # ...and no stale cache answers
    assert first.head().entity("b") is None
    assert first.fsck().ok
