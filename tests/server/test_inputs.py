"""Bad HTTP input gets a documented 4xx error, never a 500, and is never silently altered
(issue 12, point 4): huge numbers in refs and parameters, non-finite numbers, bad
``Last-Event-ID`` headers, paths and query strings that are not UTF-8, and request bodies that
are not strict JSON."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import anyio

from .conftest import Server

HUGE = "9" * 5000
OVER = str(2**63)


def error(response: Any) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str)
    return response.status_code, body["error"]["code"]


def commits(server: Server) -> int:
    return len(server.repo.log(limit=None))


def raw_request(server: Server, method: str, raw_path: bytes, *, query: bytes = b"",
                headers: Iterable[tuple[bytes, bytes]] = (), body: bytes = b""
                ) -> tuple[int, bytes]:
    """Send exactly these bytes to the ASGI app (no client normalises them)."""
    from urllib.parse import unquote

    sent: list[dict[str, Any]] = []
    app = server.client.app

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "root_path": "",
             "path": unquote(raw_path.decode("latin-1")), "raw_path": raw_path,
             "query_string": query, "client": ("127.0.0.1", 1), "server": ("testserver", 80),
             "headers": [(b"host", b"testserver"), *headers]}
    anyio.run(app, scope, receive, send)  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] ==
                            "http.response.body")


def test_huge_numbers_in_refs_are_invalid_ref(seeded: Server) -> None:
    c, r, w = seeded.client, seeded.h("reader"), seeded.h("writer")
    for ref in (f"main~{HUGE}", f"main^{HUGE}", f"HEAD~1~{HUGE}", "main~" + "9" * 19):
        assert error(c.get("/api/entities/ada", params={"ref": ref}, headers=r)) == (
            422, "invalid_ref")
        assert error(c.get(f"/api/commits/{ref}", headers=r)) == (422, "invalid_ref")
        assert error(c.get("/api/diff", params={"a": f"main..{ref}"}, headers=r)) == (
            422, "invalid_ref")
        assert error(c.get("/api/kv/entry", params={"key": "/a", "ref": ref}, headers=r)) == (
            422, "invalid_ref")
        assert error(c.post("/api/branches", json={"name": "b", "from": ref}, headers=w)) == (
            422, "invalid_ref")
    for when in ("0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"):
        assert error(c.get("/api/entities/ada", params={"ref": when}, headers=r)) == (
            422, "invalid_ref")
        assert error(c.get("/api/log", params={"since": when}, headers=r)) == (
            422, "invalid_value")
        assert error(c.get("/api/log", params={"until": when}, headers=r)) == (
            422, "invalid_value")


def test_numeric_parameters_beyond_64_bits_are_invalid_parameter(seeded: Server) -> None:
    c, r, a = seeded.client, seeded.h("reader"), seeded.h("admin")
    for value in (OVER, "99999999999999999999", "-" + OVER + "1", HUGE[:4000]):
        for path, name in (("/api/entities", "offset"), ("/api/documents/notes", "offset"),
                           ("/api/relations", "offset"), ("/api/history/ada", "limit"),
                           ("/api/watch", "since"), ("/api/kv/watch?pattern=/a", "since")):
            got = c.get(path, params={name: value, "timeout": "0.05"}, headers=r)
            assert error(got) == (422, "invalid_parameter"), (path, name, got.text)
        assert error(c.post("/api/fsck", params={"last": value}, headers=a)) == (
            422, "invalid_parameter")
        assert error(c.delete("/api/kv/entry", params={"key": "/a", "expected_version": value},
                              headers=a)) == (422, "invalid_parameter")
    for value in ("nan", "inf", "-inf", "1e400", "Infinity"):
        for path in ("/api/watch", "/api/kv/watch?pattern=/a"):
            assert error(c.get(path, params={"timeout": value}, headers=r)) == (
                422, "invalid_parameter")
    assert error(c.get("/api/entities", params={"limit": "x"}, headers=r)) == (
        422, "invalid_parameter")
    last = str(2**63 - 1)
    assert c.get("/api/entities", params={"offset": last}, headers=r).json() == []
    assert c.get("/api/relations", params={"offset": last}, headers=r).json() == []
    # a resume id naming no commit (docs/server.md, watch streams)
    assert error(c.get("/api/watch", params={"since": last, "timeout": "0.05"},
                       headers=r)) == (404, "ref_not_found")


def test_last_event_id_must_be_a_seq(seeded: Server) -> None:
    c, r = seeded.client, seeded.h("reader")
    for value in (b"\xb2", b"\xd9\xa1", b"\xff", b"1\x00", b"-1", b"1e3", OVER.encode(),
                  HUGE.encode()):
        for path in ("/api/watch?timeout=0.05", "/api/kv/watch?pattern=/a&timeout=0.05"):
            got = c.get(path, headers={**r, "Last-Event-ID": value})  # type: ignore[dict-item]
            assert error(got) == (422, "invalid_parameter"), (path, value)
    ok = c.get("/api/watch?timeout=0.05&limit=1", headers={**r, "Last-Event-ID": "1"})
    assert ok.status_code == 200 and "event: commit" in ok.text


def test_paths_and_queries_must_be_utf8(seeded: Server) -> None:
    c, w, r = seeded.client, seeded.h("writer"), seeded.h("reader")
    before = commits(seeded)
    for segment in ("%FF", "%C3", "%ED%A0%80", "a%80b", "%F4%90%80%80"):
        assert error(c.put(f"/api/entities/{segment}", json={"type": "T"}, headers=w)) == (
            400, "invalid_encoding")
        assert error(c.get(f"/api/entities/{segment}", headers=r)) == (400, "invalid_encoding")
        assert error(c.put(f"/api/documents/notes/{segment}", json={"value": 1},
                           headers=w)) == (400, "invalid_encoding")
        assert error(c.get(f"/api/entities?type={segment}", headers=r)) == (
            400, "invalid_encoding")
        assert error(c.get(f"/api/entities?{segment}=1", headers=r)) == (
            400, "invalid_encoding")
    assert commits(seeded) == before
    assert all("\ufffd" not in e.id for e in seeded.repo.head().entities())
    auth = [(b"authorization", seeded.h("writer")["Authorization"].encode())]
    status, body = raw_request(seeded, "GET", b"/api/entities/\xff\xfe", headers=auth)
    assert status == 400 and b"invalid_encoding" in body
    status, body = raw_request(seeded, "GET", b"/api/entities", query=b"type=\xff",
                               headers=auth)
    assert status == 400 and b"invalid_encoding" in body
    good = c.put("/api/entities/%C3%A9t%C3%A9", json={"type": "T"}, headers=w)  # été
    assert good.status_code == 200 and seeded.repo.head().entity("été") is not None


def test_request_bodies_must_be_strict_json(seeded: Server) -> None:
    c, w = seeded.client, seeded.h("writer")
    before = commits(seeded)
    bad = [
        b'{"type": "T", "props": {"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}}",
        b'{"type": "T", "props": {"a": ' + b"[" * 1000 + b"]" * 1000 + b"}}",
        b'{"type": "T", "props": {"a": ' + HUGE.encode() + b"}}",
        b'{"type": "T", "props": {"a": NaN}}',
        b'{"type": "T", "props": {"a": -Infinity}}',
        b'{"type": "T", "props": {"a": 1e999}}',
        b'{"type": "T", "props": {"a": "\xff"}}',
        b'{"type": "T\xc3"}',
        b'{"type": "\\ud800"}',
        b'{"type": "T", "props": {"\\udc00": 1}}',
        b"\xef\xbb\xbf" + b'{"type": "T"}',
        '{"type": "T"}'.encode("utf-16"),
        b'{"type": "T"',
    ]
    for body in bad:
        for content_type in ("application/json", "application/merge-patch+json", None):
            headers = dict(w)
            if content_type:
                headers["content-type"] = content_type
            got = c.put("/api/entities/x", content=body, headers=headers)
            if content_type is None and error(got) == (422, "invalid_request"):
                continue  # FastAPI 0.120+ reads a body without a Content-Type as no JSON
            assert error(got) == (400, "malformed_json"), (body[:40], got.text[:200])
        got = c.post("/api/transaction", headers={**w, "content-type": "application/json"},
                     content=b'{"ops": [{"op": "put_entity", "id": "x", "type": "T", '
                             b'"props": {"a": ' + body + b"}}]}")
        assert error(got) == (400, "malformed_json")
    assert commits(seeded) == before
    as_text = c.put("/api/entities/x", content=b'{"type": "T"}',
                    headers={**w, "content-type": "text/plain"})
    assert error(as_text) == (422, "invalid_request")
    status, body = raw_request(seeded, "PUT", b"/api/entities/x", body=b'{"type": "T"}',
                               headers=[(b"authorization", w["Authorization"].encode()),
                                        (b"content-type", b"application/json"),
                                        (b"content-length", HUGE.encode())])
    assert status == 413 and b"payload_too_large" in body
