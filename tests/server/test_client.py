"""palimpsest.connect(): the Repository / View interface over HTTP (through a TestClient)."""

from __future__ import annotations

import pytest

import palimpsest
from palimpsest.remote import RemoteRepository, connect

from .conftest import Server


def remote(server: Server, who: str = "writer") -> RemoteRepository:
    return connect("http://testserver", token=server.tokens[who], http_client=server.client)


def test_same_code_runs_embedded_and_remote(server: Server) -> None:
    def workload(repo: palimpsest.Repository | RemoteRepository) -> list[object]:
        with repo.transaction(message="Import") as tx:
            tx.put_entity("users", type="Endpoint", props={"path": "GET /users"})
            tx.put_entity("User", type="Schema")
            tx.put_relation("r1", type="RETURNS", source="users", target="User")
            tx.put_document("notes", "n1", {"text": "hello"})
        repo.update_entity("users", {"description": "all users"})
        view = repo.head()
        return [
            view.entity("users").props,  # type: ignore[union-attr]
            [e.id for e in view.entities(type="Endpoint")],
            [r.target for r in view.relations(source="users")],
            [e.id for e in view.neighbors("users")],
            view.document("notes", "n1").value,  # type: ignore[union-attr]
            view.collections(), view.count(), view.count_relations(),
            [c.message for c in repo.log()],
            [(v.kind, v.value.props) for v in repo.history("users")],
            sorted(repo.blame("users")),
            [(v.kind, v.element, v.id, v.value) for v in repo.history("User", relations="in")],
            [(v.kind, v.element, v.id) for v in repo.history("users", relations="none")],
            {k: (b.value, b.relation) for k, b in repo.blame("User", relations="both").items()},
            [c.message for c in repo.log(touching="User", relations="in")],
            [(c.kind, c.id) for c in repo.changes(view.commit)],  # type: ignore[arg-type]
            [c.property_changes() for c in repo.diff(repo.log()[1], repo.log()[0])],
            repo.at(repo.log()[1]).entity("users").props,  # type: ignore[union-attr]
            view.to_dict(),
        ]

    embedded = palimpsest.open(":memory:", author="bob")
    assert workload(remote(server)) == workload(embedded)


def test_remote_refs_restore_and_errors(server: Server) -> None:
    repo = remote(server)
    first = repo.put_entity("a", type="T", props={"v": 1}, author="someone-else")
    assert first.author == "bob" and first.metadata == {"client_author": "someone-else"}
    second = repo.update_entity("a", {"v": 2})
    assert repo.resolve("main").id == second.id == repo.commit().id
    branch = repo.create_branch("exp", from_=first)
    assert branch.head is not None and branch.head.id == first.id
    assert {b.name: (b.ahead, b.behind) for b in repo.branches()}["exp"] == (0, 1)
    tag = repo.tag("v1", first, message="one")
    assert [t.name for t in repo.tags()] == ["v1"] and tag.commit.id == first.id
    rolled = repo.rollback("v1")
    assert repo.head().entity("a").props == {"v": 1}  # type: ignore[union-attr]
    reverted = repo.revert(rolled)
    assert repo.head().entity("a").props == {"v": 2}  # type: ignore[union-attr]
    assert reverted.parents == (rolled.id,)
    patch = repo.json_patch("v1", "main")
    assert patch == [{"op": "replace", "path": "/entities/a/props/v", "value": 2}]
    assert repo.diff("v1", "main").to_json_patch() == patch
    assert repo.merge_base("exp", "main").id == first.id  # type: ignore[union-attr]
    with pytest.raises(palimpsest.RefNotFound):
        repo.at("nope")
    with pytest.raises(palimpsest.NotFound):
        repo.head().get_entity("ghost")
    assert repo.head().entity("ghost") is None
    with pytest.raises(palimpsest.NotFound):  # the same error as embedded
        repo.put_relation("r", type="R", source="a", target="ghost")
    with pytest.raises(palimpsest.Forbidden):
        remote(server, "reader").put_entity("b", type="T")
    with pytest.raises(palimpsest.Unauthorized):
        connect("http://testserver", http_client=server.client).log()
    with pytest.raises(palimpsest.Forbidden):  # deleting tags needs admin
        repo.delete_tag("v1")
    remote(server, "admin").delete_tag("v1")
    assert repo.tags() == []
    repo.delete_branch("exp")
    assert [b.name for b in repo.branches()] == ["main"]


def test_remote_merge_conflict_and_watch(server: Server) -> None:
    repo = remote(server)
    base = repo.put_entity("a", type="T", props={"v": 0})
    repo.create_branch("topic")
    repo.update_entity("a", {"v": 1}, branch="topic")
    repo.update_entity("a", {"v": 2})
    conflicted = repo.merge("topic")  # conflicts are a value, as in the embedded API
    assert conflicted.status == "conflict" and conflicted.commit is None
    conflict = conflicted.conflicts[0]
    assert (conflict.id, conflict.ours, conflict.theirs) == ("a", 2, 1)
    result = repo.merge("topic", strategy="theirs")
    assert result.status == "merged" and result.commit is not None
    assert len(result.commit.parents) == 2 and result.resolved[0].id == "a"
    preview = repo.merge_preview("topic")
    assert preview.status == "up_to_date"
    # commits new to main since `base`, oldest first: merged-in commits included
    events = list(repo.watch("main", last_event_id=base.seq, limit=3))
    assert [c.message for c in events] == ["Update entity a", "Update entity a",
                                           "Merge topic into main"]
    assert events[-1].id == repo.resolve("main").id


def test_empty_branch_view(server: Server) -> None:
    repo = remote(server)
    view = repo.head()
    assert view.commit is None and view.entity("x") is None
    assert list(view.entities()) == [] and view.to_dict()["entities"] == {}
    assert repo.log() == []


def test_remote_kv_and_query(server: Server) -> None:
    repo = remote(server)
    entry = repo.kv.set("/cfg/a", b"1")
    assert (entry.version, repo.kv.get("/cfg/a").value) == (1, b"1")  # type: ignore[union-attr]
    with pytest.raises(palimpsest.VersionConflict) as caught:
        repo.kv.compare_and_set("/cfg/a", 0, b"2")
    assert (caught.value.expected, caught.value.found) == (0, 1)
    assert repo.kv.compare_and_set("/cfg/a", 1, b"2").version == 2
    with pytest.raises(palimpsest.VersionConflict):
        repo.kv.create_if_not_exists("/cfg/a", b"3")
    assert [e.key for e in repo.kv.list("/cfg/")] == ["/cfg/a"]
    assert repo.kv.delete("/cfg/a") and repo.kv.get("/cfg/a") is None
    repo.put_document("people", "ann", {"age": 31})
    repo.put_document("people", "bob", {"age": 25})
    found = repo.head().query("people", {"age": {"gt": 30}})
    assert [d.key for d in found] == ["ann"]  # type: ignore[union-attr]
