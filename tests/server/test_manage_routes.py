"""The routes behind combine, erasure, retention, indexes and materialized views follow the
server's roles, and POST /api/transaction checks a remote transaction's read set."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Server

# (method, path, body or params, who may): admin-only where it changes configuration or
# deletes data; any token reads.
ADMIN_ONLY: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/erase", {"id": "ada", "reason": "request 7"}),
    ("PUT", "/api/retention", {"branches": "main", "keep": "30d"}),
    ("POST", "/api/indexes", {"type": "Person", "field": "name"}),
    ("DELETE", "/api/indexes", {"type": "Person", "field": "name"}),
    ("POST", "/api/views", {"name": "people", "target": "Person"}),
    ("DELETE", "/api/views/people", {}),
]
READS = ["/api/erasures", "/api/retention", "/api/horizon", "/api/indexes", "/api/views"]


def _send(server: Server, method: str, path: str, body: dict[str, Any], who: str) -> Any:
    if method == "DELETE":
        return server.client.request(method, path, params=body, headers=server.h(who))
    return server.client.request(method, path, json=body, headers=server.h(who))


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
def test_configuration_and_erasure_need_the_admin_role(seeded: Server, method: str,
                                                       path: str, body: dict[str, Any]) -> None:
    if method == "DELETE":  # something to drop
        _send(seeded, "POST", "/api/indexes", {"type": "Person", "field": "name"}, "admin")
        _send(seeded, "POST", "/api/views", {"name": "people", "target": "Person"}, "admin")
    for who in ("reader", "writer"):
        answer = _send(seeded, method, path, body, who)
        assert answer.status_code == 403, (who, answer.text)
        assert answer.json()["error"]["code"] == "forbidden"
    answer = _send(seeded, method, path, body, "admin")
    assert answer.status_code in (200, 204), answer.text


def test_readers_read_the_configuration(seeded: Server) -> None:
    for path in READS:
        answer = seeded.get(path)
        assert answer.status_code == 200, (path, answer.text)  # type: ignore[attr-defined]


def test_erasure_is_authored_by_the_token_user(seeded: Server) -> None:
    answer = _send(seeded, "POST", "/api/erase", {"id": "ada", "reason": "request 7",
                                                  "author": "someone-else"}, "admin")
    assert answer.json()["author"] == "alice"
    assert seeded.repo.head().entity("ada").props["@erased"]["by"] == "alice"  # type: ignore[union-attr]


def test_refreshing_views_needs_a_writer(seeded: Server) -> None:
    _send(seeded, "POST", "/api/views", {"name": "people", "target": "Person"}, "admin")
    assert _send(seeded, "POST", "/api/views/refresh", {}, "reader").status_code == 403
    assert _send(seeded, "POST", "/api/views/refresh", {}, "writer").status_code == 200


def _transaction(server: Server, base: str | None, reads: dict[str, Any] | None,
                 ops: list[dict[str, Any]]) -> Any:
    body: dict[str, Any] = {"ops": ops}
    if reads is not None:
        body |= {"base": base, "reads": reads}
    return server.client.post("/api/transaction", json=body, headers=server.h("writer"))


def test_a_stale_read_is_refused_with_409(seeded: Server) -> None:
    base = seeded.repo.head().commit
    assert base is not None
    seeded.repo.update_entity("bob", {"name": "Robert"})  # another writer, after the read
    link = [{"op": "put_relation", "id": "k2", "type": "KNOWS", "source": "bob",
             "target": "ada"}]
    answer = _transaction(seeded, base.id, {"entities": ["bob"]}, link)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "concurrent_commit"
    assert seeded.repo.head().relation("k2") is None
    # what it read did not change: it lands on the new head
    answer = _transaction(seeded, base.id, {"entities": ["ada"], "relations_to": ["ada"]},
                          [{"op": "put_entity", "id": "cy", "type": "Person"}])
    assert answer.status_code == 200, answer.text
    assert answer.json()["parents"] == [seeded.repo.head().commit.parents[0]]  # type: ignore[union-attr]
    # every predicate kind names what changed
    for reads, why in (({"types": [["entity", "Person"]]}, "entities of type 'Person'"),
                       ({"all": ["entity"]}, "all entities"),
                       ({"relations_from": ["ada"]}, "relations from 'ada'")):
        seeded.repo.put_entity("ada", "Person", {"n": why})
        seeded.repo.put_relation("k9", "KNOWS", "ada", "bob", {"n": why})
        base = seeded.repo.head().commit
        seeded.repo.put_entity("ada", "Person", {"n": why + "!"})
        seeded.repo.put_relation("k9", "KNOWS", "ada", "bob", {"n": why + "!"})
        answer = _transaction(seeded, base.id, reads,  # type: ignore[union-attr]
                              [{"op": "put_entity", "id": "zed", "type": "Robot"}])
        assert answer.status_code == 409, reads
        assert why in answer.json()["error"]["message"]


def test_kv_prefix_reads_and_kv_ops(seeded: Server) -> None:
    base = seeded.repo.head().commit
    assert base is not None
    seeded.repo.kv.set("/locks/other", b"held")
    answer = _transaction(seeded, base.id, {"kv_prefixes": ["/locks/"]},
                          [{"op": "kv_set", "key": "/locks/mine", "value": "aGVsZA=="}])
    assert answer.status_code == 409 and "'/locks/'" in answer.json()["error"]["message"]
    answer = _transaction(seeded, None, None,
                          [{"op": "kv_set", "key": "/locks/mine", "value": "aGVsZA=="},
                           {"op": "kv_delete", "key": "/locks/other"}])
    assert answer.status_code == 200
    assert seeded.repo.kv.keys("/locks/") == ["/locks/mine"]


@pytest.mark.parametrize(("base", "reads", "ops", "status"), [
    ("f" * 64, {"entities": ["ada"]}, [{"op": "put_entity", "id": "x", "type": "T"}], 404),
    (None, {"kv": ["no-slash"]}, [{"op": "put_entity", "id": "x", "type": "T"}], 422),
    (None, {"kv_prefixes": [""]}, [{"op": "put_entity", "id": "x", "type": "T"}], 422),
    (None, {"types": [["kv", "x"]]}, [{"op": "put_entity", "id": "x", "type": "T"}], 422),
    (None, {}, [{"op": "kv_set", "key": "/a", "value": "not base64!"}], 422),
    (None, {}, [{"op": "kv_set", "key": "a", "value": "aGVsZA=="}], 422),
])
def test_bad_read_sets_and_kv_ops_are_typed_4xx(seeded: Server, base: str | None,
                                                reads: dict[str, Any],
                                                ops: list[dict[str, Any]], status: int) -> None:
    head = seeded.repo.head().commit
    answer = _transaction(seeded, base, reads, ops)
    assert answer.status_code == status, answer.text
    assert "code" in answer.json()["error"]
    assert seeded.repo.head().commit == head
