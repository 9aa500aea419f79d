"""Three repositories diverging and syncing through random operations (hypothesis state
machine): a hub on SQLite, PostgreSQL or behind the HTTP server, and two SQLite clones that
commit, roll back, fetch, pull and push.

The model is a dict state per commit id, computed from the operations alone: a commit applies
its change to its parent's model, a merge applies what changed between the merge base and
"theirs" to "ours" (each repository writes only its own keys, so merges never conflict), a
rollback takes the target's model. After every step each repository's ``main`` equals the
model of its head, compared as canonical JSON (``1``, ``1.0`` and ``true`` stay apart), and
every commit id the repositories share has the same content and state hash everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import palimpsest
from conftest import POSTGRES_URL, _postgres_url, drop_postgres_schema
from palimpsest.codec import encode
from palimpsest.errors import NonFastForward, RefNotFound
from palimpsest.sync import peer as sync_peer

State = dict[str, str]  # entity id -> canonical JSON of its props

values = st.one_of(st.sampled_from([1, 1.0, True, 0, False, None, "1", 2**53]),
                   st.text(max_size=4), st.lists(st.sampled_from([1, 1.0, True]), max_size=2))


def entity_state(repo: palimpsest.Repository, ref: str = "main") -> State:
    return {e.id: encode(e.props) for e in repo.at(ref).entities()}


class Hub:
    """The shared repository and the URL the clones reach it by."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.schema: str | None = None
        self.client: Any = None
        if kind == "postgres":
            self.schema = f"sync_{uuid.uuid4().hex[:12]}"
            self.target = _postgres_url(self.schema)
        else:
            self.target = str(tmp / f"hub-{uuid.uuid4().hex[:8]}.db")
        self.repo = palimpsest.open(self.target, author="hub")
        self.url = self.target
        if kind == "http":
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from fastapi.testclient import TestClient

            from palimpsest.server import create_app
            self.client = TestClient(create_app(self.repo, no_auth=True))
            self.url = f"asgi://{uuid.uuid4().hex[:8]}"
            _CLIENTS[self.url] = self.client

    def close(self) -> None:
        self.repo.close()
        if self.client is not None:
            _CLIENTS.pop(self.url, None)
            self.client.close()
        if self.schema is not None:
            drop_postgres_schema(self.schema)


_CLIENTS: dict[str, Any] = {}


def _asgi_peer(url: str, token: str | None, author: str) -> sync_peer.Peer:
    from palimpsest.remote.sync import HttpPeer
    return HttpPeer("http://testserver", token, http_client=_CLIENTS[url],
                    max_request_bytes=2048)  # several requests per push


sync_peer.register_transport("asgi", _asgi_peer)


class Sync(RuleBasedStateMachine):
    kind = "sqlite"
    tmp: Path = Path(".")

    def __init__(self) -> None:
        super().__init__()
        self.hub = Hub(self.kind, self.tmp)
        self.states: dict[str | None, State] = {None: {}}
        self.clones: list[palimpsest.Repository] = []
        self.counter = 0

    @initialize()
    def start(self) -> None:
        head = self.hub.repo.put_entity("h-0", "T", {"v": 1}).id
        self.states[head] = {"h-0": encode({"v": 1})}
        for name in ("a", "b"):
            path = self.tmp / f"{name}-{uuid.uuid4().hex[:8]}.db"
            clone = palimpsest.clone(self.hub.url, str(path), author=name)
            self.clones.append(clone)

    def teardown(self) -> None:
        for repo in self.clones:
            assert repo.fsck().problems == []
            repo.close()
        assert self.hub.repo.fsck().problems == []
        self.hub.close()

    def _repos(self) -> list[tuple[str, palimpsest.Repository]]:
        return [("h", self.hub.repo), ("a", self.clones[0]), ("b", self.clones[1])]

    # -- operations ----------------------------------------------------------------------
    @rule(who=st.integers(0, 2), key=st.integers(0, 3), value=values, delete=st.booleans())
    def commit(self, who: int, key: int, value: Any, delete: bool) -> None:
        name, repo = self._repos()[who]
        before = repo.resolve("main").id if repo.branches() else None
        ident = f"{name}-{key}"
        state = dict(self.states[before])
        if delete and ident in state:
            commit = repo.delete_entity(ident)
            del state[ident]
        else:
            commit = repo.put_entity(ident, "T", {"v": value})
            state[ident] = encode({"v": value})
        if commit.id not in self.states:  # a no-op write is the same commit id? never: times
            self.states[commit.id] = state

    @rule(who=st.integers(1, 2), steps=st.integers(1, 3))
    def rollback(self, who: int, steps: int) -> None:
        repo = self._repos()[who][1]
        log = repo.log("main", limit=steps + 1)
        if len(log) <= steps:
            return
        commit = repo.rollback(log[steps].id, branch="main")
        self.states[commit.id] = dict(self.states[log[steps].id])

    @rule(who=st.integers(1, 2))
    def fetch(self, who: int) -> None:
        repo = self.clones[who - 1]
        report = repo.fetch("origin")
        assert report.refs.get("origin/main", repo.resolve("origin/main").id) == \
            repo.resolve("origin/main").id
        assert repo.resolve("origin/main").id == self.hub.repo.resolve("main").id

    @rule(who=st.integers(1, 2))
    def pull(self, who: int) -> None:
        repo = self.clones[who - 1]
        ours = repo.resolve("main").id
        result = repo.pull("origin", "main")
        theirs = repo.resolve("origin/main").id
        assert result.status in ("up_to_date", "fast_forward", "merged"), result
        if result.status == "merged":
            assert result.commit is not None
            base = repo.merge_base(ours, theirs)
            merged = dict(self.states[ours])
            base_state = self.states[base.id if base else None]
            for key in set(base_state) | set(self.states[theirs]):
                if base_state.get(key) != self.states[theirs].get(key):
                    if key in self.states[theirs]:
                        merged[key] = self.states[theirs][key]
                    else:
                        merged.pop(key, None)
            self.states[result.commit.id] = merged
        head = repo.resolve("main").id
        assert head in self.states

    @rule(who=st.integers(1, 2))
    def push(self, who: int) -> None:
        repo = self.clones[who - 1]
        try:
            repo.push("origin", "main")
        except NonFastForward:
            hub_head = self.hub.repo.resolve("main").id
            try:
                base = repo.merge_base("main", hub_head)
            except RefNotFound:  # this side lacks the hub's head: not a fast-forward
                return
            assert base is None or base.id != hub_head  # really not a fast-forward
            return
        assert self.hub.repo.resolve("main").id == repo.resolve("main").id

    # -- invariants ----------------------------------------------------------------------
    @invariant()
    def heads_match_the_model(self) -> None:
        for _, repo in self._repos():
            head = repo.resolve("main")
            assert entity_state(repo) == self.states[head.id]

    @invariant()
    def shared_commits_agree(self) -> None:
        seen: dict[str, tuple[Any, ...]] = {}
        for _, repo in self._repos():
            for commit in repo.log("main", limit=8):
                content = (commit.parents, commit.author, commit.message, commit.timestamp,
                           commit.metadata, commit.state_hash)
                assert seen.setdefault(commit.id, content) == content
                if commit.id in self.states:
                    assert entity_state(repo, commit.id) == self.states[commit.id]


def _run(kind: str, tmp_path: Path) -> None:
    machine = type(f"Sync_{kind}", (Sync,), {"kind": kind, "tmp": tmp_path})
    runner = machine.TestCase
    runner.settings = settings(max_examples=12, stateful_step_count=14, deadline=None,
                               suppress_health_check=list(HealthCheck))
    runner().runTest()


def test_sqlite_hub(tmp_path: Path) -> None:
    _run("sqlite", tmp_path)


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PALIMPSEST_TEST_POSTGRES")
def test_postgres_hub(tmp_path: Path) -> None:
    _run("postgres", tmp_path)


def test_http_hub(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    _run("http", tmp_path)


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    yield
    assert not _CLIENTS
