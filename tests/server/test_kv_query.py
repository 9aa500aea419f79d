"""Key-value and query routes through the TestClient."""

from __future__ import annotations

import base64
import json

from .conftest import Server


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_kv_set_get_list_cas_delete(server: Server) -> None:
    c, w = server.client, server.h("writer")
    made = c.put("/api/kv/entry", json={"key": "/config/a", "value": b64(b"one")}, headers=w)
    assert made.status_code == 200 and made.json()["version"] == 1
    assert server.repo.log()[0].author == "bob"
    got = c.get("/api/kv/entry", params={"key": "/config/a"}, headers=server.h("reader"))
    assert base64.b64decode(got.json()["value"]) == b"one"
    c.put("/api/kv/entry", json={"key": "/config/b", "json": {"x": 1}}, headers=w)
    listed = c.get("/api/kv", params={"prefix": "/config/"}, headers=w).json()
    assert [e["key"] for e in listed] == ["/config/a", "/config/b"]
    assert base64.b64decode(listed[1]["value"]) == b'{"x":1}'
    stale = c.put("/api/kv/entry", json={"key": "/config/a", "value": b64(b"two"),
                                         "expected_version": 0}, headers=w)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"
    assert stale.json()["error"]["found"] == 1
    cas = c.put("/api/kv/entry", json={"key": "/config/a", "value": b64(b"two"),
                                       "expected_version": 1}, headers=w)
    assert cas.status_code == 200 and cas.json()["version"] == 2
    exists = c.put("/api/kv/entry", json={"key": "/config/a", "value": b64(b"x"),
                                          "create_only": True}, headers=w)
    assert exists.status_code == 409
    old = c.get("/api/kv/entry", params={"key": "/config/a", "ref": "main~1"}, headers=w)
    assert base64.b64decode(old.json()["value"]) == b"one"
    bad = c.put("/api/kv/entry", json={"key": "/config/a", "value": "***"}, headers=w)
    assert bad.status_code == 422
    denied = c.put("/api/kv/entry", json={"key": "/x", "value": b64(b"1")},
                   headers=server.h("reader"))
    assert denied.status_code == 403
    assert c.delete("/api/kv/entry", params={"key": "/config/a"}, headers=w).json() == {
        "deleted": True}
    assert c.delete("/api/kv/entry", params={"key": "/config/a"}, headers=w).json() == {
        "deleted": False}
    assert c.get("/api/kv/entry", params={"key": "/config/a"}, headers=w).status_code == 404


def test_kv_transaction_all_or_nothing(server: Server) -> None:
    c, w = server.client, server.h("writer")
    c.put("/api/kv/entry", json={"key": "/k/1", "value": b64(b"a")}, headers=w)
    before = len(server.repo.log())
    failed = c.post("/api/kv/transaction", headers=w, json={"ops": [
        {"op": "check_version", "key": "/k/1", "version": 5},
        {"op": "set", "key": "/k/2", "value": b64(b"b")}]})
    assert failed.status_code == 409 and len(server.repo.log()) == before
    done = c.post("/api/kv/transaction", headers=w, json={"message": "swap", "ops": [
        {"op": "check_version", "key": "/k/1", "version": 1},
        {"op": "check_missing", "key": "/k/2"},
        {"op": "set", "key": "/k/2", "json": [1, 2]},
        {"op": "delete", "key": "/k/1"}]})
    assert done.status_code == 200 and done.json()["message"] == "swap"
    assert [e.key for e in server.repo.kv.list("/k/")] == ["/k/2"]


def test_kv_watch_stream(server: Server) -> None:
    c, w = server.client, server.h("writer")
    c.put("/api/kv/entry", json={"key": "/jobs/1", "value": b64(b"run")}, headers=w)
    c.put("/api/kv/entry", json={"key": "/other", "value": b64(b"x")}, headers=w)
    c.post("/api/kv/transaction", headers=w, json={"ops": [
        {"op": "set", "key": "/jobs/1", "value": b64(b"done")},
        {"op": "set", "key": "/jobs/2", "value": b64(b"run")}]})
    with c.stream("GET", "/api/kv/watch", params={"pattern": "/jobs/*", "since": 0,
                                                  "limit": 3}, headers=w) as response:
        text = "".join(response.iter_text())
    blocks = [b for b in text.split("\n\n") if "event: kv" in b]
    events = [json.loads(b.split("data: ", 1)[1]) for b in blocks]
    assert [(e["type"], e["key"], e["version"]) for e in events] == [
        ("created", "/jobs/1", 1), ("updated", "/jobs/1", 2), ("created", "/jobs/2", 1)]
    ids = [b.splitlines()[0] for b in blocks]
    head = server.repo.log()[0].seq
    assert ids[0].startswith("id: ") and ids[2] == f"id: {head}"
    assert not ids[1].startswith("id:")  # one id per commit: on its last event
    with c.stream("GET", "/api/kv/watch", params={"pattern": "/jobs/*", "limit": 1},
                  headers=w | {"Last-Event-ID": ids[0].removeprefix("id: ")}) as response:
        resumed = "".join(response.iter_text())
    assert '"version":2' in resumed


def test_query_and_aggregate(server: Server) -> None:
    c, w = server.client, server.h("writer")
    c.post("/api/transaction", headers=w, json={"ops": [
        {"op": "put_document", "collection": "people", "key": k, "value": v}
        for k, v in (("ann", {"name": "Ann", "age": 31}), ("bob", {"name": "Bob", "age": 25}),
                     ("cy", {"name": "Cy", "age": 40}))]})
    found = c.post("/api/query", headers=w, json={
        "target": "people", "where": {"age": {"gte": 30}}, "order_by": "-age"}).json()
    assert [d["key"] for d in found] == ["cy", "ann"]
    counted = c.post("/api/aggregate", headers=w, json={
        "target": "people", "aggregates": {"n": "count", "avg": {"op": "avg", "field": "age"}}})
    assert counted.json() == {"n": 3, "avg": 32.0}
    bad = c.post("/api/query", headers=w, json={"target": "people",
                                                "where": {"age": {"between": 1}}})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "query_error"


def test_regex_queries_are_re2(server: Server) -> None:
    """A backtracking-prone pattern answers at once; one RE2 refuses is 422 query_error."""
    import time

    c, w = server.client, server.h("writer")
    c.post("/api/transaction", headers=w, json={"ops": [
        {"op": "put_document", "collection": "s", "key": f"k{i}", "value": {"t": "a" * 40 + "b"}}
        for i in range(20)]})
    started = time.monotonic()
    found = c.post("/api/query", headers=w, json={"target": "s",
                                                  "where": {"t": {"matches": "^(a+)+$"}}})
    assert found.status_code == 200 and found.json() == []
    assert time.monotonic() - started < 5  # generous: RE2 needs microseconds
    for pattern in (r"(a)\1", "(?=a)", "(?<=a)b"):
        bad = c.post("/api/query", headers=w, json={"target": "s",
                                                    "where": {"t": {"matches": pattern}}})
        assert bad.status_code == 422, bad.text
        assert bad.json()["error"]["code"] == "query_error" and "RE2" in bad.text
