"""Shared fixtures: every repository test runs on each storage backend and over HTTP.

``repo`` / ``open_repo`` are parametrized over SQLite in memory, a SQLite file, PostgreSQL
when ``PALIMPSEST_TEST_POSTGRES`` names a server (each test in its own schema, dropped
afterwards), and ``remote``: the HTTP client (:func:`palimpsest.connect`) against a live
server (uvicorn on a free loopback port, in a thread) over a SQLite file. Without the variable
the PostgreSQL case is skipped with a reason; with it, an unreachable server fails the tests.

A test that needs what only the embedded API offers (``repo.database``, gc, backup...; see
``tests/test_contract.py``) is marked ``@pytest.mark.needs_embedded("why")`` and skipped in
the remote case with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import palimpsest

POSTGRES_URL = os.environ.get("PALIMPSEST_TEST_POSTGRES")
BACKENDS = ["sqlite-memory", "sqlite-file", "postgres", "remote"]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

OpenRepo = Callable[..., palimpsest.Repository]


def _postgres_url(schema: str) -> str:
    assert POSTGRES_URL is not None
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}schema={schema}"


def drop_postgres_schema(schema: str) -> None:
    import psycopg

    assert POSTGRES_URL is not None
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs_embedded(reason): uses what only the embedded API offers; skipped "
                   "in the remote case")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need PALIMPSEST_TEST_POSTGRES=postgresql://... "
                    "(.ci/run sets it)")
    if name == "remote":
        marker = request.node.get_closest_marker("needs_embedded")
        if marker is not None:
            pytest.skip(f"embedded only: {marker.args[0] if marker.args else 'see the test'}")
        pytest.importorskip("uvicorn")
    return name


class _Mount:
    """One ASGI app serving many test repositories: ``/r/<name>/...`` goes to the app
    registered as ``name``, so the remote case starts one server per session, not per test."""

    def __init__(self) -> None:
        self.apps: dict[str, Any] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        parts = scope["path"].split("/", 3)  # "", "r", name, the app's path
        name = parts[2] if len(parts) > 2 else ""
        app = self.apps.get(name) if scope["type"] in ("http", "websocket") else None
        if app is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"no such test repository"})
            return
        path = "/" + (parts[3] if len(parts) > 3 else "")
        await app(dict(scope, path=path, raw_path=path.encode()), receive, send)


@pytest.fixture(scope="session")
def live_server() -> Iterator[tuple[str, _Mount]]:
    """The session's HTTP server (uvicorn in a thread) and the mount it serves."""
    import uvicorn

    mount = _Mount()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(mount, host="127.0.0.1", port=port,
                                           lifespan="off", log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(400):
        if server.started:
            break
        time.sleep(0.025)
    else:
        raise AssertionError("the test server did not start in 10 s")
    yield f"http://127.0.0.1:{port}", mount
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def repo_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh repository location on the current backend."""
    if backend == "remote" and "open_repo" not in request.fixturenames:
        pytest.skip("the test opens the repository itself: the remote case would repeat "
                    "sqlite-file")
    if backend == "sqlite-memory":
        yield ":memory:"
    elif backend in ("sqlite-file", "remote"):
        yield str(tmp_path / "test.db")
    else:
        schema = "t_" + uuid.uuid4().hex[:16]
        yield _postgres_url(schema)
        drop_postgres_schema(schema)


@pytest.fixture
def open_repo(repo_url: str, backend: str, request: pytest.FixtureRequest
              ) -> Iterator[OpenRepo]:
    """Open the test's repository (again); every handle is closed at the end.

    For ``:memory:`` each call opens a new, separate database. In the remote case the first
    call opens the repository on the server side (with the given options) and every call
    returns a new client to it.
    """
    handles: list[Any] = []
    served: list[str] = []

    def opener(**kwargs: object) -> palimpsest.Repository:
        if backend == "remote":
            from palimpsest.server import create_app

            base, mount = request.getfixturevalue("live_server")
            if not served:
                local = palimpsest.open(repo_url, **kwargs)  # type: ignore[arg-type]
                handles.append(local)
                served.append(uuid.uuid4().hex)
                mount.apps[served[0]] = create_app(local, no_auth=True)
            client = palimpsest.connect(f"{base}/r/{served[0]}")
            handles.append(client)
            return client  # type: ignore[return-value]
        handle = palimpsest.open(repo_url, **kwargs)  # type: ignore[arg-type]
        handles.append(handle)
        return handle

    yield opener
    if served:
        request.getfixturevalue("live_server")[1].apps.pop(served[0], None)
    for handle in reversed(handles):
        with contextlib.suppress(Exception):
            handle.close()


@pytest.fixture
def repo(open_repo: OpenRepo) -> palimpsest.Repository:
    return open_repo(author="tester@example.com")
