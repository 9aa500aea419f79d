"""Webhooks against a local receiver: signed deliveries, retries, removal, admin only."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import palimpsest
from palimpsest.server import ServerConfig
from palimpsest.server import webhooks as wh

from .conftest import Server, make_server


class Receiver:
    """A tiny HTTP server in a thread that records what it receives and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers.items()), body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hooked(repo_file: palimpsest.Repository) -> Iterator[Server]:
    srv = make_server(repo_file, config=ServerConfig(webhook_attempts=3,
                                                     webhook_backoff_seconds=0.01))
    with srv.client:
        yield srv


def wait_for(predicate: Any, seconds: float = 10.0) -> None:
    """Poll until ``predicate()`` holds (deliveries run in a background thread)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for a webhook delivery"
        time.sleep(0.01)


def commit(server: Server, entity: str, branch: str = "main") -> dict[str, Any]:
    response = server.client.post("/api/transaction", headers=server.h("writer"), json={
        "message": f"add {entity}", "branch": branch,
        "ops": [{"op": "put_entity", "id": entity, "type": "T"}]})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def add(server: Server, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    made = server.client.post("/api/webhooks", headers=server.h("admin"),
                              json={"url": url, "events": events} | extra)
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def deliveries(server: Server, hook_id: str) -> list[dict[str, Any]]:
    listed = server.client.get(f"/api/webhooks/{hook_id}/deliveries", headers=server.h("admin"))
    assert listed.status_code == 200
    result: list[dict[str, Any]] = listed.json()
    return result


def test_a_commit_delivers_a_signed_event(hooked: Server, receiver: Receiver) -> None:
    hook = add(hooked, receiver.url, ["commit"])
    made = commit(hooked, "ada")
    wait_for(lambda: receiver.received)
    headers, body = receiver.received[0]
    expected = "sha256=" + hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Palimpsest-Signature"], expected)
    assert headers["X-Palimpsest-Event"] == "commit"
    event = json.loads(body)
    assert event["event"] == "commit"
    assert event["payload"]["id"] == made["id"] and event["payload"]["branch"] == "main"
    wait_for(lambda: deliveries(hooked, hook["id"])[0]["status"] == "delivered")
    [delivery] = deliveries(hooked, hook["id"])
    assert delivery["id"] == headers["X-Palimpsest-Delivery"]
    assert delivery["attempts"] == 1 and delivery["http_status"] == 200


def test_branch_pattern_and_events_filter(hooked: Server, receiver: Receiver) -> None:
    add(hooked, receiver.url, ["commit"], branch_pattern="feature/*")
    other = add(hooked, receiver.url, ["tag"])
    commit(hooked, "ada")
    assert hooked.client.post("/api/branches", json={"name": "feature/x", "from": "main"},
                              headers=hooked.h("admin")).status_code in (200, 201)
    commit(hooked, "bob", branch="feature/x")
    assert hooked.client.post("/api/tags", json={"name": "v1", "ref": "main"},
                              headers=hooked.h("writer")).status_code == 201
    wait_for(lambda: len(receiver.received) == 2)
    events = sorted(h["X-Palimpsest-Event"] for h, _ in receiver.received)
    assert events == ["commit", "tag"]
    wait_for(lambda: deliveries(hooked, other["id"])[0]["status"] == "delivered")
    time.sleep(0.1)  # nothing else arrives
    assert len(receiver.received) == 2


def test_a_failing_receiver_is_retried_then_recorded_failed(hooked: Server) -> None:
    failing = Receiver(status=500)
    try:
        hook = add(hooked, failing.url, ["commit"])
        commit(hooked, "ada")
        wait_for(lambda: deliveries(hooked, hook["id"])[0]["status"] == "failed")
        [delivery] = deliveries(hooked, hook["id"])
        assert delivery["attempts"] == 3 and delivery["http_status"] == 500
        assert len(failing.received) == 3
    finally:
        failing.close()


def test_an_unreachable_receiver_records_the_error(hooked: Server) -> None:
    gone = Receiver()
    url = gone.url
    gone.close()
    hook = add(hooked, url, ["commit"])
    commit(hooked, "ada")
    wait_for(lambda: deliveries(hooked, hook["id"])[0]["status"] == "failed")
    [delivery] = deliveries(hooked, hook["id"])
    assert delivery["http_status"] is None and delivery["error"]


def test_deleting_a_hook_stops_deliveries(hooked: Server, receiver: Receiver) -> None:
    hook = add(hooked, receiver.url, ["commit"])
    commit(hooked, "ada")
    wait_for(lambda: len(receiver.received) == 1)
    assert hooked.client.delete(f"/api/webhooks/{hook['id']}",
                                headers=hooked.h("admin")).status_code == 204
    assert hooked.client.get("/api/webhooks", headers=hooked.h("admin")).json() == []
    probe = add(hooked, receiver.url, ["commit"])  # a later commit still reaches this one
    commit(hooked, "bob")
    wait_for(lambda: deliveries(hooked, probe["id"])
             and deliveries(hooked, probe["id"])[0]["status"] == "delivered")
    assert len(receiver.received) == 2
    assert hooked.client.delete(f"/api/webhooks/{hook['id']}",
                                headers=hooked.h("admin")).status_code == 404


def test_merge_request_events(hooked: Server, receiver: Receiver) -> None:
    add(hooked, receiver.url, ["merge_request.opened", "merge_request.approved",
                               "merge_request.merged", "merge"])
    c = hooked.client
    commit(hooked, "ada")
    assert c.post("/api/branches", json={"name": "topic", "from": "main"},
                  headers=hooked.h("admin")).status_code in (200, 201)
    commit(hooked, "bob", branch="topic")
    commit(hooked, "cy")  # main moves on: the merge makes a merge commit
    assert c.post("/api/merge-requests", headers=hooked.h("writer"), json={
        "source": "topic", "target": "main", "title": "t"}).status_code == 201
    assert c.post("/api/merge-requests/1/approve", json={},
                  headers=hooked.h("admin")).status_code == 200
    merged = c.post("/api/merge-requests/1/merge", json={}, headers=hooked.h("writer"))
    assert merged.status_code == 200, merged.text
    wanted = {"merge_request.opened", "merge_request.approved", "merge_request.merged",
              "merge"}
    wait_for(lambda: {h["X-Palimpsest-Event"] for h, _ in receiver.received} == wanted)


def test_admin_only_and_typed_errors(hooked: Server, receiver: Receiver) -> None:
    c = hooked.client
    body = {"url": receiver.url, "events": ["commit"]}
    for who in ("reader", "writer"):
        assert c.post("/api/webhooks", json=body, headers=hooked.h(who)).status_code == 403
        assert c.get("/api/webhooks", headers=hooked.h(who)).status_code == 403
    assert c.delete("/api/webhooks/x", headers=hooked.h("writer")).status_code == 403
    assert c.get("/api/webhooks/x/deliveries", headers=hooked.h("reader")).status_code == 403
    bad_url = c.post("/api/webhooks", json=body | {"url": "ftp://x"}, headers=hooked.h("admin"))
    assert bad_url.status_code == 422 and bad_url.json()["error"]["code"] == "invalid_value"
    bad_event = c.post("/api/webhooks", json=body | {"events": ["push"]},
                       headers=hooked.h("admin"))
    assert bad_event.status_code == 422 and "push" in bad_event.json()["error"]["message"]
    assert c.get("/api/webhooks/nope/deliveries", headers=hooked.h("admin")).status_code == 404
    listed = c.get("/api/webhooks", headers=hooked.h("admin")).json()
    assert listed == [] and wh.EVENTS[0] == "commit"


def test_the_cli_manages_the_hooks_a_server_delivers_to(
        repo_file: palimpsest.Repository, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from palimpsest.cli import app

    monkeypatch.setenv("NO_COLOR", "1")
    url = repo_file.url

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, ["--repo", url, *args])
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result.stdout

    made = json.loads(run("webhook", "add", receiver.url, "-e", "commit", "--json"))
    run("webhook", "add", receiver.url, "-e", "push", code=1)
    assert [h["id"] for h in json.loads(run("webhook", "list", "--json"))] == [made["id"]]
    srv = make_server(repo_file, config=ServerConfig(webhook_backoff_seconds=0.01))
    with srv.client:
        commit(srv, "ada")
        wait_for(lambda: json.loads(run("webhook", "deliveries", made["id"], "--json"))
                 and json.loads(run("webhook", "deliveries", made["id"], "--json")
                                )[0]["status"] == "delivered")
    headers, body = receiver.received[0]
    assert headers["X-Palimpsest-Signature"] == wh.sign(made["secret"], body)
    run("webhook", "remove", made["id"])
    run("webhook", "remove", made["id"], code=1)
    assert json.loads(run("webhook", "list", "--json")) == []
