"""Sessions end when tokens do: revoking a token closes its open watch streams, tokens may
expire (401 on every route, streams end), and the web UI's CSRF tokens belong to one login
session."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")

import palimpsest  # noqa: E402
from palimpsest import InvalidValue, Unauthorized  # noqa: E402
from palimpsest.server.app import CSRF_COOKIE, TOKEN_COOKIE  # noqa: E402
from palimpsest.server.auth import create_token, list_tokens, parse_expiry, revoke_token  # noqa: E402

from .conftest import Server, make_server  # noqa: E402
from .live import running_server  # noqa: E402
from .test_ui import form_csrf, login  # noqa: E402


def _read_stream(url: str, path: str, token: str, params: dict[str, Any],
                 out: dict[str, Any]) -> None:
    """Read an SSE stream until it ends; record when, and its lines."""
    lines: list[str] = []
    out["lines"] = lines
    with httpx.stream("GET", url + path, params=params, timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as response:
        out["status"] = response.status_code
        for line in response.iter_lines():
            lines.append(line)
    out["ended"] = time.monotonic()


def _open(url: str, path: str, token: str, params: dict[str, Any]
          ) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}
    thread = threading.Thread(target=_read_stream, args=(url, path, token, params, out),
                              daemon=True)
    thread.start()
    for _ in range(100):  # until the stream is open
        if out.get("lines"):
            break
        time.sleep(0.05)
    assert out.get("status") == 200, out
    return thread, out


def test_revoking_a_token_ends_its_open_streams(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    with palimpsest.open(str(path)) as repo:
        doomed = create_token(repo, "viewer", "reader")
        other = create_token(repo, "other", "reader")
    with running_server(path) as url:
        # the streams would stay open for 30 s on their own
        commits, commits_out = _open(url, "/api/watch", doomed, {"timeout": 30})
        kv, kv_out = _open(url, "/api/kv/watch", doomed, {"pattern": "/jobs/*", "timeout": 30})
        kept, kept_out = _open(url, "/api/watch", other, {"timeout": 4})
        with palimpsest.open(str(path)) as repo:  # like `palimpsest token revoke`
            revoke_token(repo, doomed)
        revoked_at = time.monotonic()
        commits.join(15)
        kv.join(15)
        for out in (commits_out, kv_out):
            assert "ended" in out, "the stream outlived its revoked token"
            assert out["ended"] - revoked_at < 8  # checks run every 2 s
            assert "event: error" in out["lines"] and any(
                "unauthorized" in line for line in out["lines"])
        kept.join(15)
        assert kept_out["ended"] - revoked_at > 3  # another token's stream ran its course
        assert "event: error" not in kept_out["lines"]
        assert httpx.get(url + "/api/whoami",
                         headers={"Authorization": f"Bearer {doomed}"}).status_code == 401
        # the Python client raises Unauthorized when the server ends its stream
        with palimpsest.open(str(path)) as repo:
            short = create_token(repo, "short", "reader", expires=timedelta(seconds=2))
        remote = palimpsest.connect(url, token=short)
        started = time.monotonic()
        with pytest.raises(Unauthorized):
            list(remote.watch("main", timeout=30))
        assert time.monotonic() - started < 8  # it ended at the expiry, not after 30 s


def test_expired_token_gets_401_everywhere(server: Server) -> None:
    token = create_token(server.repo, "temp", "writer", expires=timedelta(seconds=3))
    h = {"Authorization": f"Bearer {token}"}
    expires = datetime.fromisoformat(server.client.get("/api/whoami", headers=h).json()["expires"])
    assert server.client.put("/api/entities/a", json={"type": "T"}, headers=h).status_code == 200
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.1)  # load-proof
    for response in (server.client.get("/api/whoami", headers=h),
                     server.client.get("/api/entities/a", headers=h),
                     server.client.put("/api/entities/b", json={"type": "T"}, headers=h)):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    info = next(t for t in list_tokens(server.repo) if t.user == "temp")
    assert info.expires is not None and not info.active
    # the web UI's login refuses it too
    page = server.client.get("/ui/login")
    refused = server.client.post("/ui/login", data={"token": token,
                                                    "csrf": form_csrf(page.text)})
    assert refused.status_code == 401


def test_a_revocation_through_the_api_takes_effect_at_once(server: Server) -> None:
    token = create_token(server.repo, "brief", "reader")
    h = {"Authorization": f"Bearer {token}"}
    assert server.client.get("/api/whoami", headers=h).status_code == 200  # now remembered
    ident = token.split("_")[1]
    assert server.client.delete(f"/api/tokens/{ident}",
                                headers=server.h("admin")).status_code == 204
    assert server.client.get("/api/whoami", headers=h).status_code == 401


def test_tokens_with_expiry_over_http(server: Server) -> None:
    made = server.client.post("/api/tokens", headers=server.h("admin"),
                              json={"user": "ci", "role": "reader", "expires": "12h"})
    assert made.status_code == 201, made.text
    until = datetime.fromisoformat(made.json()["expires"])
    assert timedelta(hours=11.9) < until - datetime.now(UTC) <= timedelta(hours=12)
    listed = server.client.get("/api/tokens", headers=server.h("admin")).json()
    assert next(t for t in listed if t["user"] == "ci")["expires"] == made.json()["expires"]
    assert next(t for t in listed if t["user"] == "alice")["expires"] is None
    bad = server.client.post("/api/tokens", headers=server.h("admin"),
                             json={"user": "ci", "role": "reader", "expires": "soon"})
    assert bad.status_code == 422 and "expires" in bad.json()["error"]["message"]


def test_parse_expiry() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_expiry("30d", now=now) == now + timedelta(days=30)
    assert parse_expiry(" 2w", now=now) == now + timedelta(weeks=2)
    assert parse_expiry("90s", now=now) == now + timedelta(seconds=90)
    assert parse_expiry("2026-02-01T00:00:00", now=now) == datetime(2026, 2, 1, tzinfo=UTC)
    assert parse_expiry(timedelta(hours=1), now=now) == now + timedelta(hours=1)
    for bad in ("soon", "30x", "2025-01-01", "-3d"):
        with pytest.raises(InvalidValue):
            parse_expiry(bad, now=now)


def test_tokens_made_before_expiry_existed_keep_working(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with palimpsest.open(str(path)) as repo:
        token = create_token(repo, "old", "reader")
    conn = sqlite3.connect(path)  # the table as an older palimpsest made it
    conn.execute("ALTER TABLE server_tokens DROP COLUMN expires_us")
    conn.commit()
    conn.close()
    with palimpsest.open(str(path)) as repo:
        srv = make_server(repo)
        assert srv.client.get("/api/whoami", headers={
            "Authorization": f"Bearer {token}"}).json()["user"] == "old"
        assert create_token(repo, "new", "reader", expires="1d")


def test_csrf_token_is_bound_to_its_login_session(seeded: Server) -> None:
    server = seeded
    from fastapi.testclient import TestClient

    alice = server
    bob = Server(server.repo, TestClient(server.client.app), server.tokens)  # another browser
    login(alice, "admin")
    login(bob, "writer")
    alice_csrf = form_csrf(alice.client.get("/ui/log").text)
    alice_nonce = alice.client.cookies.get(CSRF_COOKIE)
    bob_csrf = form_csrf(bob.client.get("/ui/log").text)
    bob_nonce = bob.client.cookies.get(CSRF_COOKIE)
    assert alice_csrf != bob_csrf

    def restore_as_bob(nonce: str | None, csrf: str) -> Any:
        cookie = f"{TOKEN_COOKIE}={server.tokens['writer']}; {CSRF_COOKIE}={nonce}"
        return TestClient(server.client.app).post(
            "/ui/restore/main~1", data={"branch": "main", "csrf": csrf},
            headers={"Cookie": cookie}, follow_redirects=False)

    # Bob's session with Alice's form token, even with Alice's CSRF cookie planted in it
    stolen = restore_as_bob(alice_nonce, alice_csrf)
    assert stolen.status_code == 403 and "CSRF" in stolen.text
    assert restore_as_bob(bob_nonce, alice_csrf).status_code == 403
    assert restore_as_bob(bob_nonce, bob_csrf).status_code == 303  # his own one works
    # a form token from before a login does not survive it (a new session)
    before = form_csrf(alice.client.get("/ui/login").text)
    login(alice, "admin")
    assert form_csrf(alice.client.get("/ui/log").text) != before
    out = alice.client.post("/ui/logout", data={"csrf": before}, follow_redirects=False)
    assert out.status_code == 403
    out = alice.client.post("/ui/logout", data={"csrf": form_csrf(
        alice.client.get("/ui/log").text)}, follow_redirects=False)
    assert out.status_code == 303
