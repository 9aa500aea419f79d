"""The HTTP API through FastAPI's TestClient: every route, its errors, and attribution."""

from __future__ import annotations

import json
from typing import Any

import pytest

import palimpsest
from palimpsest.server import ServerConfig

from .conftest import Server, make_server


def commits(server: Server, ref: str = "main") -> list[dict[str, object]]:
    response = server.client.get("/api/log", params={"ref": ref, "limit": 1000},
                                 headers=server.h("reader"))
    assert response.status_code == 200
    result: list[dict[str, object]] = response.json()
    return result


def error_code(response: object) -> str:
    return str(response.json()["error"]["code"])  # type: ignore[attr-defined]


# -- info and reads --------------------------------------------------------------------------
def test_info_and_whoami(server: Server) -> None:
    info = server.get("/api").json()  # type: ignore[attr-defined]
    assert info["current_branch"] == "main" and info["auth"] is True
    assert info["user"]["user"] == "carol" and info["user"]["role"] == "reader"
    assert "merge" in info["features"]
    me = server.get("/api/whoami", "feature").json()  # type: ignore[attr-defined]
    assert me["branch_pattern"] == "feature/*" and me["role"] == "writer"


def test_entity_routes(seeded: Server) -> None:
    c, r = seeded.client, seeded.h("reader")
    assert c.get("/api/entities/ada", headers=r).json() == {
        "id": "ada", "type": "Person", "props": {"name": "Ada Lovelace"},
        "valid_from": None, "valid_to": None}
    old = c.get("/api/entities/ada", params={"ref": "main~2"}, headers=r).json()
    assert old["props"] == {"name": "Ada"}
    missing = c.get("/api/entities/nobody", headers=r)
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    listed = c.get("/api/entities", params={"type": "Person"}, headers=r).json()
    assert [e["id"] for e in listed] == ["ada", "bob"]
    paged = c.get("/api/entities", params={"limit": 1, "offset": 1}, headers=r).json()
    assert [e["id"] for e in paged] == ["bob"]
    where = c.get("/api/entities", params={"where": json.dumps({"name": "Bob"})},
                  headers=r).json()
    assert [e["id"] for e in where] == ["bob"]
    bad_where = c.get("/api/entities", params={"where": "{nope"}, headers=r)
    assert bad_where.status_code == 400 and error_code(bad_where) == "malformed_json"
    assert c.get("/api/count", headers=r).json() == {"count": 2}
    assert c.get("/api/count", params={"element": "relation"}, headers=r).json() == {"count": 1}
    too_big = c.get("/api/entities", params={"limit": 10**6}, headers=r)
    assert too_big.status_code == 422 and error_code(too_big) == "invalid_parameter"


def test_relation_and_neighbor_routes(seeded: Server) -> None:
    c, r = seeded.client, seeded.h("reader")
    assert c.get("/api/relations/k1", headers=r).json()["target"] == "bob"
    assert c.get("/api/relations/none", headers=r).status_code == 404
    assert [x["id"] for x in c.get("/api/relations", params={"source": "ada"},
                                   headers=r).json()] == ["k1"]
    assert c.get("/api/relations", params={"type": "OTHER"}, headers=r).json() == []
    near = c.get("/api/neighbors/ada", headers=r).json()
    assert [e["id"] for e in near] == ["bob"]
    assert c.get("/api/neighbors/ada", params={"direction": "in"}, headers=r).json() == []


def test_document_routes_and_state(server: Server) -> None:
    c, w = server.client, server.h("writer")
    assert c.put("/api/documents/notes/n%2F1", json={"value": {"text": "hi"}},
                 headers=w).status_code == 200
    assert c.get("/api/documents/notes/n%2F1", headers=w).json() == {
        "collection": "notes", "key": "n/1", "value": {"text": "hi"}}
    assert c.get("/api/collections", headers=w).json() == ["notes"]
    assert [d["key"] for d in c.get("/api/documents/notes", headers=w).json()] == ["n/1"]
    state = c.get("/api/state", headers=w).json()
    assert state["documents"] == {"notes": {"n/1": {"text": "hi"}}}
    history = c.get("/api/history/n%2F1", params={"collection": "notes"}, headers=w).json()
    assert [v["kind"] for v in history] == ["created"]
    assert c.delete("/api/documents/notes/n%2F1", headers=w).status_code == 200
    assert c.get("/api/documents/notes/n%2F1", headers=w).status_code == 404


# -- writes ----------------------------------------------------------------------------------
def test_transaction_is_one_commit_authored_by_the_token_user(server: Server) -> None:
    response = server.client.post("/api/transaction", headers=server.h("writer"), json={
        "message": "Import", "author": "mallory", "metadata": {"source": "sync"},
        "ops": [{"op": "put_entity", "id": "a", "type": "T"},
                {"op": "put_entity", "id": "b", "type": "T", "props": {"x": 1}},
                {"op": "put_relation", "id": "ab", "type": "R", "source": "a", "target": "b"},
                {"op": "update_entity", "id": "b", "props": {"x": 2}},
                {"op": "put_document", "collection": "c", "key": "k", "value": [1]}]})
    assert response.status_code == 200
    commit = response.json()
    assert commit["author"] == "bob"
    assert commit["metadata"] == {"source": "sync", "client_author": "mallory"}
    assert commit["stats"]["entities_created"] == 2 and commit["stats"]["relations_created"] == 1
    assert len(commits(server)) == 1
    assert server.repo.head().entity("b").props == {"x": 2}  # type: ignore[union-attr]


def test_one_op_routes_and_deletes(seeded: Server) -> None:
    c, w = seeded.client, seeded.h("writer")
    deleted = c.delete("/api/entities/bob", params={"message": "bye"}, headers=w)
    assert deleted.status_code == 200 and deleted.json()["message"] == "bye"
    assert deleted.json()["stats"]["relations_deleted"] == 1  # cascaded
    assert c.put("/api/entities/x", json={"type": "T"}, headers=w).status_code == 200
    assert c.put("/api/entities/y", json={"type": "T"}, headers=w).status_code == 200
    assert c.put("/api/relations/xy", json={"type": "R", "source": "x", "target": "y"},
                 headers=w).status_code == 200
    assert c.delete("/api/relations/xy", headers=w).json()["stats"]["relations_deleted"] == 1


def test_rejected_requests_commit_nothing(seeded: Server) -> None:
    c, w = seeded.client, seeded.h("writer")
    before = len(commits(seeded))
    dangling = c.post("/api/transaction", headers=w, json={"ops": [
        {"op": "put_entity", "id": "new", "type": "T"},
        {"op": "put_relation", "id": "r", "type": "R", "source": "new", "target": "ghost"}]})
    assert dangling.status_code == 404 and "ghost" in dangling.json()["error"]["message"]
    bad_key = c.put("/api/entities/bad%01id", json={"type": "T"}, headers=w)
    assert bad_key.status_code == 422 and error_code(bad_key) == "invalid_key"
    malformed = c.post("/api/transaction", content=b'{"ops": [', headers=w | {
        "content-type": "application/json"})
    assert malformed.status_code == 400 and error_code(malformed) == "malformed_json"
    unknown_op = c.post("/api/transaction", headers=w, json={"ops": [{"op": "drop_all"}]})
    assert unknown_op.status_code == 422 and error_code(unknown_op) == "invalid_request"
    empty = c.post("/api/transaction", headers=w, json={"ops": []})
    assert empty.status_code == 422
    batch = c.post("/api/transaction", headers=w, json={"ops": [
        {"op": "put_entity", "id": f"e{i}", "type": "T"} for i in range(51)]})
    assert batch.status_code == 413 and error_code(batch) == "batch_too_large"
    huge = c.put("/api/entities/big", json={"type": "T", "props": {"s": "x" * 70_000}},
                 headers=w)
    assert huge.status_code == 413 and error_code(huge) == "payload_too_large"
    missing_entity = c.patch("/api/entities/nobody", json={"props": {}}, headers=w)
    assert missing_entity.status_code == 404
    timestamp = c.put("/api/entities/t", json={"type": "T", "timestamp": "2030-01-01"},
                      headers=w)
    assert timestamp.status_code == 403
    assert len(commits(seeded)) == before
    assert seeded.repo.head().entity("new") is None


def test_chunked_body_over_the_limit_is_refused(server: Server) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"type": "T", "props": {"s": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}}'

    response = server.client.put("/api/entities/big", content=chunks(), headers=server.h(
        "writer") | {"content-type": "application/json"})
    assert response.status_code == 413
    assert commits(server) == []


# -- auth ------------------------------------------------------------------------------------
def test_missing_bad_and_revoked_tokens_get_401(server: Server) -> None:
    c = server.client
    missing = c.get("/api/log")
    assert missing.status_code == 401 and error_code(missing) == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert c.get("/api/log", headers={"Authorization": "Bearer pal_nope_x"}).status_code == 401
    assert c.get("/api/log", headers={"Authorization": "Basic abc"}).status_code == 401
    forged = server.tokens["reader"][:-2] + "xx"
    assert c.get("/api/log", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    token_id = server.tokens["reader"].split("_")[1]
    assert c.delete(f"/api/tokens/{token_id}", headers=server.h("admin")).status_code == 204
    assert server.get("/api/log").status_code == 401  # type: ignore[attr-defined]


def test_roles_and_branch_patterns_give_403(seeded: Server) -> None:
    c = seeded.client
    before = len(commits(seeded))
    denied = c.put("/api/entities/x", json={"type": "T"}, headers=seeded.h("reader"))
    assert denied.status_code == 403 and error_code(denied) == "forbidden"
    outside = c.put("/api/entities/x", json={"type": "T"}, headers=seeded.h("feature"))
    assert outside.status_code == 403
    assert c.post("/api/branches", json={"name": "main2"},
                  headers=seeded.h("feature")).status_code == 403
    made = c.post("/api/branches", json={"name": "feature/x", "from": "main"},
                  headers=seeded.h("feature"))
    assert made.status_code == 201 and made.json()["head"]["id"] == commits(seeded)[0]["id"]
    inside = c.put("/api/entities/x", json={"type": "T", "branch": "feature/x"},
                   headers=seeded.h("feature"))
    assert inside.status_code == 200 and inside.json()["author"] == "dave"
    assert len(commits(seeded)) == before
    assert c.post("/api/checkout", json={"name": "feature/x"},
                  headers=seeded.h("writer")).status_code == 403
    assert c.get("/api/tokens", headers=seeded.h("writer")).status_code == 403
    assert c.post("/api/fsck", headers=seeded.h("writer")).status_code == 403
    assert c.delete("/api/tags/none", headers=seeded.h("writer")).status_code == 403


def test_protected_branch_refuses_direct_commits(seeded: Server) -> None:
    c, admin, writer = seeded.client, seeded.h("admin"), seeded.h("writer")
    assert c.put("/api/protection/main", json={}, headers=writer).status_code == 403
    rule = c.put("/api/protection/main", json={"mergers": []}, headers=admin)
    assert rule.status_code == 200 and rule.json() == {"pattern": "main", "mergers": []}
    assert c.get("/api/protection", headers=writer).json() == [rule.json()]
    before = len(commits(seeded))
    for who in ("writer", "admin"):
        refused = c.put("/api/entities/z", json={"type": "T"}, headers=seeded.h(who))
        assert refused.status_code == 403 and error_code(refused) == "branch_protected"
    assert c.post("/api/revert", json={"commit": "main"}, headers=admin).status_code == 403
    assert c.post("/api/rollback", json={"ref": "main~1"}, headers=writer).status_code == 403
    assert len(commits(seeded)) == before
    assert c.get("/api/branches", headers=writer).json()[0]["protected"] is True
    # changes arrive through a merge: writers only when listed as mergers
    assert c.post("/api/branches", json={"name": "work"}, headers=writer).status_code == 201
    assert c.put("/api/entities/z", json={"type": "T", "branch": "work"},
                 headers=writer).status_code == 200
    refused = c.post("/api/merge", json={"source": "work", "into": "main"}, headers=writer)
    assert refused.status_code == 403 and error_code(refused) == "branch_protected"
    c.put("/api/protection/main", json={"mergers": ["bob"]}, headers=admin)
    merged = c.post("/api/merge", json={"source": "work", "into": "main"}, headers=writer)
    assert merged.status_code == 200 and merged.json()["status"] == "fast_forward"
    rolled = c.post("/api/rollback", json={"ref": "main~1"}, headers=admin)
    assert rolled.status_code == 200 and rolled.json()["author"] == "alice"
    assert c.delete("/api/branches/main", headers=writer).status_code == 403
    assert c.delete("/api/protection/main", headers=admin).status_code == 204
    assert c.delete("/api/protection/main", headers=admin).status_code == 404


def test_token_routes_never_return_stored_secrets(server: Server, tmp_path: object) -> None:
    c, admin = server.client, server.h("admin")
    made = c.post("/api/tokens", json={"user": "erin", "role": "reader"}, headers=admin)
    assert made.status_code == 201
    token = made.json()["token"]
    assert token.startswith("pal_") and made.json()["user"] == "erin"
    assert c.get("/api/whoami", headers={"Authorization": f"Bearer {token}"}).json()[
        "user"] == "erin"
    listed = c.get("/api/tokens", headers=admin).json()
    assert {t["user"] for t in listed} == {"alice", "bob", "carol", "dave", "erin"}
    assert all("token" not in t for t in listed)
    raw = b"".join(bytes(str(row), "utf8") for row in server.repo.database.all(
        "SELECT * FROM server_tokens"))
    for secret in [*server.tokens.values(), token]:
        assert secret.encode() not in raw and secret.split("_", 2)[2].encode() not in raw
    bad_role = c.post("/api/tokens", json={"user": "x", "role": "owner"}, headers=admin)
    assert bad_role.status_code == 422
    assert c.delete("/api/tokens/ffffffffffff", headers=admin).status_code == 404


def test_no_auth_mode_uses_the_client_author(repo_file: palimpsest.Repository) -> None:
    server = make_server(repo_file, no_auth=True)
    response = server.client.put("/api/entities/a", json={"type": "T", "author": "me@home"})
    assert response.status_code == 200 and response.json()["author"] == "me@home"
    plain = server.client.put("/api/entities/b", json={"type": "T"})
    assert plain.json()["author"] == "local@example.com"
    assert server.client.get("/api/whoami").json()["role"] == "admin"


# -- history ---------------------------------------------------------------------------------
def test_log_commit_changes_history_blame(seeded: Server) -> None:
    c, r = seeded.client, seeded.h("reader")
    log = commits(seeded)
    assert [x["message"] for x in log] == ["Rename ada", "Add bob", "Put entity ada"]
    assert all(x["author"] == "bob" for x in log)
    assert c.get("/api/log", params={"author": "nobody"}, headers=r).json() == []
    assert len(c.get("/api/log", params={"touching": "bob"}, headers=r).json()) == 1
    assert c.get("/api/commits/main~1", headers=r).json()["id"] == log[1]["id"]
    assert c.get(f"/api/commits/{log[2]['id'][:8]}", headers=r).json()["seq"] == log[2]["seq"]
    missing = c.get("/api/commits/nope", headers=r)
    assert missing.status_code == 404 and error_code(missing) == "ref_not_found"
    changes = c.get("/api/changes/main", headers=r).json()
    assert changes[0]["properties"] == {"name": {"old": "Ada", "new": "Ada Lovelace"}}
    history = c.get("/api/history/ada", params={"relations": "none"}, headers=r).json()
    assert [v["kind"] for v in history] == ["modified", "created"]
    facts = c.get("/api/history/ada", headers=r).json()  # with its outgoing relation k1
    assert [(v["element"], v["id"], v["kind"]) for v in facts] == [
        ("entity", "ada", "modified"), ("relation", "k1", "created"),
        ("entity", "ada", "created")]
    incoming = c.get("/api/history/bob", params={"relations": "in"}, headers=r).json()
    assert [(v["element"], v["id"]) for v in incoming] == [("entity", "bob"), ("relation", "k1")]
    assert len(c.get("/api/log", params={"touching": "bob", "relations": "both"},
                     headers=r).json()) == 1
    assert len(c.get("/api/log", params={"touching": "ada"}, headers=r).json()) == 3
    assert c.get("/api/history/ada", params={"relations": "x"}, headers=r).status_code == 422
    blame = c.get("/api/blame/ada", headers=r).json()
    assert blame["name"]["commit"]["id"] == log[0]["id"]
    assert blame["@type"]["commit"]["id"] == log[2]["id"]
    assert blame["@relation k1"]["relation"] == "k1"
    assert blame["@relation k1"]["commit"]["id"] == log[1]["id"]
    assert blame["@relation k1"]["value"]["target"] == "bob"
    assert c.get("/api/blame/ghost", headers=r).status_code == 404


def test_diff_json_and_json_patch(seeded: Server) -> None:
    c, r = seeded.client, seeded.h("reader")
    diff = c.get("/api/diff", params={"a": "main~2", "b": "main"}, headers=r).json()
    assert diff["stats"]["entities_created"] == 1 and diff["stats"]["entities_modified"] == 1
    assert {ch["id"] for ch in diff["changes"]} == {"ada", "bob", "k1"}
    patch = c.get("/api/diff", params={"a": "main~2", "b": "main", "format": "json-patch"},
                  headers=r).json()
    assert {"op": "replace", "path": "/entities/ada/props/name",
            "value": "Ada Lovelace"} in patch
    ranged = c.get("/api/diff", params={"a": "main~1..main"}, headers=r).json()
    assert [ch["id"] for ch in ranged["changes"]] == ["ada"]
    base = c.get("/api/merge-base", params={"a": "main", "b": "main~1"}, headers=r).json()
    assert base["id"] == commits(seeded)[1]["id"]


def test_rollback_and_revert(seeded: Server) -> None:
    c, w = seeded.client, seeded.h("writer")
    rolled = c.post("/api/rollback", json={"ref": "main~2", "message": "back"}, headers=w)
    assert rolled.status_code == 200 and rolled.json()["author"] == "bob"
    assert seeded.repo.head().entity("bob") is None
    assert c.post("/api/revert", json={"commit": "main"}, headers=w).status_code == 200
    assert seeded.repo.head().entity("bob") is not None
    # reverting an old change that a later commit changed again conflicts: 409, no commit
    c.patch("/api/entities/ada", json={"props": {"name": "A"}}, headers=w)
    c.patch("/api/entities/ada", json={"props": {"name": "B"}}, headers=w)
    before = len(commits(seeded))
    conflict = c.post("/api/revert", json={"commit": "main~1"}, headers=w)
    assert conflict.status_code == 409 and error_code(conflict) == "revert_conflict"
    assert conflict.json()["error"]["conflicts"][0]["id"] == "ada"
    assert len(commits(seeded)) == before


def test_branches_tags_checkout_reflog(seeded: Server) -> None:
    c, w, admin = seeded.client, seeded.h("writer"), seeded.h("admin")
    assert c.post("/api/branches", json={"name": "exp", "from": "main~1"},
                  headers=w).status_code == 201
    assert c.post("/api/branches", json={"name": "exp"}, headers=w).status_code == 422
    c.put("/api/entities/e", json={"type": "T", "branch": "exp"}, headers=w)
    branches = {b["name"]: b for b in c.get("/api/branches", headers=w).json()}
    assert (branches["exp"]["ahead"], branches["exp"]["behind"]) == (1, 1)
    assert branches["main"]["current"] is True
    tag = c.post("/api/tags", json={"name": "v1", "ref": "main~1", "message": "first"},
                 headers=w)
    assert tag.status_code == 201 and tag.json()["author"] == "bob"
    assert [t["name"] for t in c.get("/api/tags", headers=w).json()] == ["v1"]
    assert c.post("/api/tags", json={"name": "v1", "force": True}, headers=w).status_code == 403
    assert c.get("/api/entities/ada", params={"ref": "v1"}, headers=w).json()["props"] == {
        "name": "Ada"}
    assert c.post("/api/checkout", json={"name": "exp"}, headers=admin).status_code == 200
    assert c.get("/api", headers=w).json()["current_branch"] == "exp"
    assert c.post("/api/checkout", json={"name": "main"}, headers=admin).status_code == 200
    assert c.delete("/api/tags/v1", headers=admin).status_code == 204
    assert c.delete("/api/branches/exp", headers=w).status_code == 204
    assert c.delete("/api/branches/exp", headers=admin).status_code == 404
    reflog = c.get("/api/reflog", params={"name": "exp"}, headers=w).json()
    assert reflog[0]["message"] == "branch: deleted" and reflog[0]["author"] == "bob"


def test_merge_conflict_preview_and_cherry_pick(seeded: Server) -> None:
    c, w = seeded.client, seeded.h("writer")
    c.post("/api/branches", json={"name": "topic"}, headers=w)
    c.patch("/api/entities/ada", json={"props": {"name": "Theirs"}, "branch": "topic"},
            headers=w)
    c.patch("/api/entities/ada", json={"props": {"name": "Ours"}}, headers=w)
    preview = c.get("/api/merge-preview", params={"source": "topic", "into": "main"},
                    headers=w).json()
    assert preview["status"] == "conflict" and preview["conflicts"][0]["property"] == "name"
    before = len(commits(seeded))
    conflict = c.post("/api/merge", json={"source": "topic"}, headers=w)
    assert conflict.status_code == 409 and error_code(conflict) == "merge_conflict"
    assert conflict.json()["error"]["conflicts"][0]["theirs"] == "Theirs"
    assert len(commits(seeded)) == before
    resolved = c.post("/api/merge", headers=w, json={"source": "topic", "resolutions": [
        {"element": "entity", "id": "ada", "property": "name", "value": "Both",
         "literal": True}]})
    assert resolved.status_code == 200 and resolved.json()["status"] == "merged"
    assert resolved.json()["commit"]["author"] == "bob"
    assert seeded.repo.head().entity("ada").props["name"] == "Both"  # type: ignore[union-attr]
    c.put("/api/entities/p", json={"type": "T", "branch": "topic"}, headers=w)
    picked = c.post("/api/cherry-pick", json={"commit": "topic"}, headers=w)
    assert picked.status_code == 200 and seeded.repo.head().entity("p") is not None
    up = c.post("/api/merge", json={"source": "topic"}, headers=w).json()
    assert up["status"] == "merged"


def test_watch_replays_from_last_event_id(seeded: Server) -> None:
    log = commits(seeded)
    first_seq = log[-1]["seq"]
    with seeded.client.stream("GET", "/api/watch", params={"limit": 2}, headers=seeded.h(
            "reader") | {"Last-Event-ID": str(first_seq)}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = [block for block in text.split("\n\n") if block.startswith("id:")]
    assert [e.splitlines()[0] for e in events] == [f"id: {log[1]['seq']}",
                                                   f"id: {log[0]['seq']}"]
    data = json.loads(events[0].splitlines()[2].removeprefix("data: "))
    assert data["message"] == "Add bob" and data["branch"] == "main"
    quiet = seeded.client.get("/api/watch", params={"timeout": 0.2},
                              headers=seeded.h("reader"))
    assert quiet.status_code == 200 and "id:" not in quiet.text
    assert seeded.client.get("/api/watch", params={"branch": "nope"},
                             headers=seeded.h("reader")).status_code == 404
    assert seeded.client.get("/api/watch", headers=seeded.h("reader") | {
        "Last-Event-ID": "x"}).status_code == 422


def _sse(server: Server, **headers: str) -> list[tuple[str, dict[str, Any]]]:
    """(event id, commit JSON) of a finished watch stream."""
    params = {"limit": headers.pop("limit", "10"), "timeout": "0.5"}
    if "since" in headers:
        params["since"] = headers.pop("since")
    with server.client.stream("GET", "/api/watch", params=params,
                              headers=server.h("reader") | headers) as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
    blocks = [b.splitlines() for b in text.split("\n\n") if b.startswith("id:")]
    return [(b[0].removeprefix("id: "), json.loads(b[2].removeprefix("data: ")))
            for b in blocks]


def test_watch_delivers_merged_commits_and_resumes_exactly(seeded: Server) -> None:
    repo = seeded.repo
    repo.create_branch("topic")
    side = repo.put_entity("s", "T", branch="topic")
    ours = repo.put_entity("m", "T")
    merged = repo.merge("topic").commit
    assert merged is not None and side.seq < ours.seq < merged.seq
    # a client that had everything up to `ours` still gets the merged commit, lower seq and all
    got = _sse(seeded, **{"Last-Event-ID": str(ours.seq)})
    assert [(i, c["id"]) for i, c in got] == [(f"{side.seq},{ours.seq}", side.id),
                                              (str(merged.seq), merged.id)]
    # resuming from the middle of that batch gives exactly the rest
    assert [c["id"] for _, c in _sse(seeded, **{"Last-Event-ID": got[0][0]})] == [merged.id]
    assert [c["id"] for _, c in _sse(seeded, since=got[0][0])] == [merged.id]
    assert _sse(seeded, since=got[1][0]) == []
    everything = _sse(seeded, since="0", limit="100")
    assert len(everything) == len({c["id"] for _, c in everything}) == 6
    bad = seeded.client.get("/api/watch", params={"since": "1,x"}, headers=seeded.h("reader"))
    assert bad.status_code == 422


def test_fsck_and_unknown_routes(seeded: Server) -> None:
    report = seeded.client.post("/api/fsck", headers=seeded.h("admin")).json()
    assert report["ok"] is True and report["commits"] == 3
    missing = seeded.client.get("/api/nothing/here", headers=seeded.h("reader"))
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    wrong = seeded.client.delete("/api/log", headers=seeded.h("reader"))
    assert wrong.status_code == 405


@pytest.mark.needs_embedded("serves the embedded repository itself")
def test_every_backend_serves(repo: palimpsest.Repository) -> None:
    """The server works over any backend the `repo` fixture provides."""
    server = make_server(repo, config=ServerConfig())
    response = server.client.put("/api/entities/a", json={"type": "T", "props": {"n": 1}},
                                 headers=server.h("writer"))
    assert response.status_code == 200
    assert server.get("/api/entities/a").json()["props"] == {"n": 1}  # type: ignore[attr-defined]
    assert repo.log()[0].author == "bob"


def test_query_past_the_time_limit_is_422(repo_file: palimpsest.Repository) -> None:
    with repo_file.transaction() as tx:
        for i in range(200):
            tx.put_document("docs", f"d{i}", {"n": i})
    strict = make_server(repo_file, config=ServerConfig(max_query_seconds=0))
    body = {"target": "docs", "where": {"n": {"gte": 0}}, "order_by": "-n"}
    with strict.client:
        slow = strict.client.post("/api/query", headers=strict.h("reader"), json=body)
        assert slow.status_code == 422
        assert slow.json()["error"]["code"] == "query_timeout"
        agg = strict.client.post("/api/aggregate", headers=strict.h("reader"),
                                 json={"target": "docs"})
        assert agg.status_code == 422
    relaxed = make_server(repo_file)  # the default limit is 10 s
    with relaxed.client:
        ok = relaxed.client.post("/api/query", headers=relaxed.h("reader"), json=body)
        assert ok.status_code == 200 and ok.json()[0]["key"] == "d199"
