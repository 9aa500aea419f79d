"""The sync protocol over HTTP: the server's rules on what a push may do (roles, branch
patterns, protected branches, authors from tokens), pushes split over several requests and cut
between them, bad input answered 4xx, and a clone / push / pull against a real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import palimpsest
from palimpsest.errors import BranchProtected, Forbidden, NonFastForward, Unauthorized
from palimpsest.remote.sync import HttpPeer
from palimpsest.server.auth import create_token, protect_branch
from palimpsest.sync import engine
from palimpsest.sync.peer import Peer
from palimpsest.versioning.commits import CommitStore
from palimpsest.versioning.refs import RefStore

from .conftest import Server
from .live import running_server


def _local(repo: palimpsest.Repository) -> engine.Local:
    commits = CommitStore(repo.database)
    return engine.Local(repo.database, commits, RefStore(commits), repo.default_author)


def _peer(server: Server, who: str, **kw: Any) -> HttpPeer:
    return HttpPeer("http://testserver", server.tokens[who], http_client=server.client, **kw)


def _clone(server: Server, tmp_path: Path, who: str, author: str) -> palimpsest.Repository:
    repo = palimpsest.open(str(tmp_path / f"{who}.db"), author=author)
    repo.remotes.add("origin", "http://testserver")
    engine.fetch(_local(repo), "origin", peer=_peer(server, who))
    if repo.branches() and "origin/main" in {b.name for b in repo.branches()}:
        repo.merge("origin/main")
    return repo


def _push(repo: palimpsest.Repository, peer: Peer, branch: str = "main",
          force: bool = False) -> Any:
    return engine.push(_local(repo), "origin", branch, force=force, peer=peer)


def test_roles_authors_and_protected_branches(seeded: Server, tmp_path: Path) -> None:
    server = seeded
    bob = _clone(server, tmp_path, "writer", "bob")
    assert bob.resolve("main").id == server.repo.resolve("main").id
    bob.put_entity("x", "T", {"n": 1})
    with pytest.raises(Forbidden):  # a reader reads, never pushes
        _push(bob, _peer(server, "reader"))
    with pytest.raises(Forbidden):  # the feature/* writer may not touch main
        _push(bob, _peer(server, "feature"))
    report = _push(bob, _peer(server, "writer"))
    assert report.commits == 1 and server.repo.resolve("main").id == bob.resolve("main").id
    assert server.repo.reflog("main")[0].author == "bob"

    # an author other than the token's user: refused, nothing kept
    bob.put_entity("y", "T", {}, author="mallory")
    count = server.repo.database.one("SELECT count(*) FROM commits")[0]
    with pytest.raises(Forbidden, match="mallory"):
        _push(bob, _peer(server, "writer"))
    assert server.repo.database.one("SELECT count(*) FROM commits")[0] == count
    _push(bob, _peer(server, "admin"))  # an admin may push anyone's commits

    # protected: a writer may not move main; a listed merger may, without force
    protect_branch(server.repo, "main", mergers=["bob"])
    bob.put_entity("z", "T", {})
    dave = _clone(server, tmp_path, "feature", "dave")
    dave.create_branch("feature/a")
    dave.put_entity("d", "T", {}, branch="feature/a")
    assert _push(dave, _peer(server, "feature"), "feature/a").commits == 1
    server.tokens["carl"] = create_token(server.repo, "carl", "writer")
    with pytest.raises(BranchProtected):  # a writer, but not a merger of main
        _push(bob, _peer(server, "carl"))
    assert _push(bob, _peer(server, "writer")).commits == 1  # bob is a merger
    bob.rollback("main~1")
    with pytest.raises(BranchProtected):
        _push(bob, _peer(server, "writer"), force=True)


def test_a_push_in_several_requests_cut_between_them_resumes(seeded: Server,
                                                             tmp_path: Path) -> None:
    server = seeded
    bob = _clone(server, tmp_path, "writer", "bob")
    for i in range(12):
        bob.put_entity(f"n{i}", "T", {"i": i, "pad": "x" * 200})
    before = server.repo.resolve("main").id

    class Dropping:
        """The HTTP client, losing the connection at the 3rd pack request."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.packs = inner, 0

        def request(self, method: str, url: str, **kw: Any) -> Any:
            if url.endswith("/api/sync/receive"):
                self.packs += 1
                if self.packs == 3:
                    raise ConnectionError("dropped")
            return self.inner.request(method, url, **kw)

        def stream(self, *a: Any, **kw: Any) -> Any:
            return self.inner.stream(*a, **kw)

    peer = HttpPeer("http://testserver", server.tokens["writer"],
                    http_client=Dropping(server.client), max_request_bytes=1000)
    with pytest.raises(ConnectionError):
        _push(bob, peer)
    assert server.repo.resolve("main").id == before  # no ref moved
    retry = _peer(server, "writer", max_request_bytes=1000)
    report = _push(bob, retry)
    assert 0 < report.commits < 12 and report.skipped == 0  # what arrived was not resent
    assert server.repo.resolve("main").id == bob.resolve("main").id
    assert server.repo.fsck().problems == []
    assert [c.id for c in server.repo.log(limit=None)] == [c.id for c in bob.log(limit=None)]


def test_bad_sync_requests_answer_4xx(seeded: Server) -> None:
    c, w = seeded.client, seeded.h("writer")
    assert c.post("/api/sync/pack", json={"wants": ["ab" * 32]}, headers=w).status_code == 422
    assert c.post("/api/sync/pack", json={"wants": 3}, headers=w).status_code == 422
    for body in (b"", b"garbage\n", b'{"t":"updates","updates":[]}\n{"t":"pack"}\n',
                 b'{"t":"updates","updates":[{"name":"main"}]}\n'):
        answer = c.post("/api/sync/receive", content=body, headers=w)
        assert 400 <= answer.status_code < 500, (body, answer.text)
    assert c.get("/api/sync/refs").status_code == 401
    refs = c.get("/api/sync/refs", headers=seeded.h("reader")).json()
    assert refs["branches"]["main"] == seeded.repo.resolve("main").id
    assert c.post("/api/sync/has", json={"ids": [refs["branches"]["main"], "00" * 32]},
                  headers=w).json() == {"ids": [refs["branches"]["main"]]}


def test_clone_push_pull_against_a_running_server(tmp_path: Path) -> None:
    path = tmp_path / "served.db"
    hub = palimpsest.open(str(path), author="ada")
    hub.put_entity("ada", "Person", {"born": 1815})
    token = create_token(hub, "bob", "writer")
    hub.close()
    with running_server(path) as url:
        with pytest.raises(Unauthorized):  # no token: 401 before anything is written
            palimpsest.clone(url, str(tmp_path / "nobody.db"))
        assert not (tmp_path / "nobody.db").exists()
        a = palimpsest.clone(url, str(tmp_path / "a.db"), token=token, author="bob")
        b = palimpsest.clone(url, str(tmp_path / "b.db"), token=token, author="bob")
        a.put_entity("a", "T", {"v": 1})
        assert a.push().commits == 1
        b.put_entity("b", "T", {"v": 1.0})
        with pytest.raises(NonFastForward):
            b.push()
        assert b.pull().status == "merged"
        assert b.push().commits == 2
        assert a.pull().status == "fast_forward"
        assert a.head().to_dict() == b.head().to_dict()
    hub = palimpsest.open(str(path))
    assert hub.resolve("main").id == a.resolve("main").id
    assert hub.fsck().problems == []


def test_a_shallow_fetch_over_http(seeded: Server, tmp_path: Path) -> None:
    from palimpsest.errors import RetentionExpired
    repo = palimpsest.open(str(tmp_path / "shallow.db"), author="bob")
    repo.remotes.add("origin", "http://testserver")
    report = engine.fetch(_local(repo), "origin", peer=_peer(seeded, "reader"), depth=1)
    head = seeded.repo.resolve("main")
    assert report.commits == 3 and repo.resolve("origin/main").id == head.id
    assert repo.at("origin/main").to_dict() == seeded.repo.head().to_dict()
    with pytest.raises(RetentionExpired):
        repo.at(head.parents[0])
    assert repo.fsck().problems == []
