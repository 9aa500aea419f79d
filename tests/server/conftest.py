"""Fixtures for the server tests: a SQLite-file repository served by a TestClient, with one
token per role."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

import palimpsest
from palimpsest.server import ServerConfig, create_app
from palimpsest.server.auth import create_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@dataclass
class Server:
    """A repository, its app, a TestClient and a token per user."""

    repo: palimpsest.Repository
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def h(self, who: str) -> dict[str, str]:
        """Authorization headers for one of: admin, writer, reader, feature."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str = "reader", **kw: object) -> object:
        return self.client.get(path, headers=self.h(who), **kw)  # type: ignore[arg-type]


def make_server(repo: palimpsest.Repository, *, no_auth: bool = False,
                config: ServerConfig | None = None) -> Server:
    app = create_app(repo, no_auth=no_auth, config=config)
    server = Server(repo, TestClient(app))
    if not no_auth:
        server.tokens = {
            "admin": create_token(repo, "alice", "admin"),
            "writer": create_token(repo, "bob", "writer"),
            "reader": create_token(repo, "carol", "reader"),
            "feature": create_token(repo, "dave", "writer", "feature/*"),
        }
    return server


@pytest.fixture
def repo_file(tmp_path: Path) -> Iterator[palimpsest.Repository]:
    handle = palimpsest.open(str(tmp_path / "server.db"), author="local@example.com")
    yield handle
    handle.close()


@pytest.fixture
def server(repo_file: palimpsest.Repository) -> Iterator[Server]:
    srv = make_server(repo_file, config=ServerConfig(max_body_bytes=64 * 1024, max_batch=50,
                                                     watch_poll_seconds=0.05))
    with srv.client:
        yield srv


@pytest.fixture
def seeded(server: Server) -> Server:
    """Three commits on main: ada, then bob + a relation, then ada renamed."""
    w = server.h("writer")
    c = server.client
    assert c.put("/api/entities/ada", json={"type": "Person", "props": {"name": "Ada"}},
                 headers=w).status_code == 200
    assert c.post("/api/transaction", headers=w, json={"message": "Add bob", "ops": [
        {"op": "put_entity", "id": "bob", "type": "Person", "props": {"name": "Bob"}},
        {"op": "put_relation", "id": "k1", "type": "KNOWS", "source": "ada", "target": "bob"},
    ]}).status_code == 200
    assert c.patch("/api/entities/ada", json={"props": {"name": "Ada Lovelace"},
                                              "message": "Rename ada"},
                   headers=w).status_code == 200
    return server
