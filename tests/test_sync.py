"""Clone, fetch, pull and push between repositories on this machine (docs/sync.md): identical
commit ids, verification before refs move, transfers cut anywhere and retried, the cost of one
new commit on a long history, refusals (non-fast-forward, moved branch), the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

import palimpsest
from palimpsest.errors import (
    CorruptObject,
    InvalidKey,
    NonFastForward,
    NotFound,
    VersionConflict,
)
from palimpsest.sync import engine, pack
from palimpsest.sync import peer as sync_peer


def _repo(path: Path, commits: int = 3, *, author: str = "ada") -> palimpsest.Repository:
    repo = palimpsest.open(str(path), author=author)
    for i in range(commits):
        repo.put_entity(f"e{i % 7}", "T", {"n": i, "f": 1.0, "b": True})
    return repo


def _local(repo: palimpsest.Repository) -> engine.Local:
    from palimpsest.versioning.commits import CommitStore
    from palimpsest.versioning.refs import RefStore
    commits = CommitStore(repo.database)
    return engine.Local(repo.database, commits, RefStore(commits), repo.default_author)


def _ids(repo: palimpsest.Repository, ref: str = "main") -> list[str]:
    return [c.id for c in repo.log(ref, limit=None)]


def test_clone_keeps_commit_ids_states_branches_and_tags(tmp_path: Path) -> None:
    origin = _repo(tmp_path / "o.db", 5)
    origin.tag("v1", "main~2")
    origin.create_branch("feature", "main~1")
    origin.put_entity("f", "T", {"x": 1}, branch="feature")
    origin.rollback("main~3")
    clone = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "c.db"))
    assert _ids(clone) == _ids(origin)
    assert _ids(clone, "origin/feature") == _ids(origin, "feature")
    assert clone.current_branch == "main"
    assert {b.name for b in clone.branches()} == {"main", "origin/main", "origin/feature"}
    assert clone.resolve("v1").id == origin.resolve("v1").id
    for commit in origin.log("main", limit=None):
        mine = clone.commit(commit.id)
        assert (mine.state_hash, mine.parents, mine.timestamp, mine.metadata) == \
            (commit.state_hash, commit.parents, commit.timestamp, commit.metadata)
        assert clone.at(commit.id).to_dict() == origin.at(commit.id).to_dict()
    # history through the rollback reads the same on both sides
    assert [v.commit.id for v in clone.history("e1")] == \
        [v.commit.id for v in origin.history("e1")]
    assert clone.fsck().problems == []
    assert [r.name for r in clone.remotes.list()] == ["origin"]


def test_valid_time_travels_with_its_rows(tmp_path: Path) -> None:
    """Intervals are part of the value hash: a clone and a fetch carry them, so ids, states
    and narrowed reads agree on both sides."""
    origin = palimpsest.open(str(tmp_path / "o.db"), author="ada")
    origin.put_entity("alice", "Person", {"name": "Alice"})
    origin.put_entity("acme", "Org")
    origin.put_relation("w1", "WORKS_AT", "alice", "acme", valid_from="2020-01-01",
                        valid_to="2023-01-01")
    clone = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "c.db"))
    origin.update_entity("alice", valid_from="1990-05-01")
    clone.fetch("origin")
    assert _ids(clone, "origin/main") == _ids(origin)
    at = origin.head().commit
    assert at is not None
    for when in ("2019-06-01", "2021-06-01", "2024-06-01"):
        mine, theirs = clone.at(at.id).valid_at(when), origin.head().valid_at(when)
        assert mine.to_dict() == theirs.to_dict()
        assert mine.count_relations(type="WORKS_AT") == theirs.count_relations(type="WORKS_AT")
    assert clone.at(at.id).relation("w1") == origin.head().relation("w1")
    assert clone.fsck().problems == []


def test_clone_refuses_a_missing_source_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        palimpsest.clone(str(tmp_path / "absent.db"), str(tmp_path / "c.db"))
    assert not (tmp_path / "c.db").exists()
    assert not (tmp_path / "absent.db").exists()


def test_remotes_add_remove_list(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r.db", 1)
    other = _repo(tmp_path / "o.db", 2)
    repo.remotes.add("up", str(tmp_path / "o.db"))
    with pytest.raises(InvalidKey):
        repo.remotes.add("up", "x.db")
    with pytest.raises(InvalidKey):
        repo.remotes.add("a/b", "x.db")
    repo.fetch("up")
    assert repo.resolve("up/main").id == other.resolve("main").id
    assert [r.name for r in repo.remotes.list()] == ["up"]
    repo.remotes.remove("up")
    assert repo.remotes.list() == []
    assert "up/main" not in {b.name for b in repo.branches()}
    with pytest.raises(NotFound):
        repo.fetch("up")


def test_push_refuses_non_fast_forward_and_force_replaces(tmp_path: Path) -> None:
    origin = _repo(tmp_path / "o.db", 2)
    clone = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "c.db"), author="bob")
    origin.put_entity("theirs", "T", {})
    clone.put_entity("mine", "T", {})
    with pytest.raises(NonFastForward):
        clone.push()
    assert origin.head().entity("mine") is None
    report = clone.push(force=True)
    assert report.commits == 1
    assert origin.resolve("main").id == clone.resolve("main").id
    assert origin.head().entity("theirs") is None


def test_pull_merges_and_returns_conflicts_as_values(tmp_path: Path) -> None:
    origin = _repo(tmp_path / "o.db", 2)
    clone = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "c.db"), author="bob")
    origin.put_entity("e0", "T", {"n": 1})
    clone.put_entity("e0", "T", {"n": 1.0})
    result = clone.pull()
    assert result.status == "conflict"
    assert [c.key for c in result.conflicts] == [("entity", "e0", "n")]
    assert clone.head().entity("e0").props["n"] == 1.0  # nothing merged
    origin.put_entity("other", "T", {})
    clone.update_entity("e0", {"n": 1})
    merged = clone.pull(strategy="theirs")
    assert merged.status == "merged"
    clone.push()
    assert origin.head().to_dict() == clone.head().to_dict()


def test_a_moved_branch_fails_the_compare_and_swap(tmp_path: Path) -> None:
    origin = _repo(tmp_path / "o.db", 2)
    clone = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "c.db"))
    clone.put_entity("x", "T", {})
    local = _local(clone)
    other = sync_peer.LocalPeer(str(tmp_path / "o.db"))
    stale = origin.resolve("main~1").id
    stream = sync_peer.send_pack(local.db, local.commits, [clone.resolve("main").id],
                                 sync_peer.pack.haves(other.db))
    with pytest.raises(VersionConflict):
        other.receive_pack(stream, [sync_peer.RefUpdate("main", stale,
                                                        clone.resolve("main").id)])
    other.close()
    assert origin.resolve("main").id != clone.resolve("main").id


class CutPeer:
    """A peer whose packs stop after ``limit`` bytes, like a connection that drops."""

    def __init__(self, inner: sync_peer.Peer, limit: int) -> None:
        self.inner, self.limit, self.url = inner, limit, inner.url

    def advertise(self) -> sync_peer.Advertisement:
        return self.inner.advertise()

    def has(self, ids: Sequence[str]) -> list[str]:
        return self.inner.has(ids)

    def send_pack(self, wants: Sequence[str], haves: Sequence[str]) -> Iterator[bytes]:
        sent = 0
        for chunk in self.inner.send_pack(wants, haves):
            if sent + len(chunk) > self.limit:
                yield chunk[:self.limit - sent]
                raise ConnectionError("the connection dropped")
            sent += len(chunk)
            yield chunk

    def receive_pack(self, stream: Iterable[bytes], updates: Sequence[sync_peer.RefUpdate]
                     ) -> sync_peer.Received:
        return self.inner.receive_pack(_cut(stream, self.limit), updates)

    def close(self) -> None:
        self.inner.close()


def _cut(stream: Iterable[bytes], limit: int) -> Iterator[bytes]:
    sent = 0
    for chunk in stream:
        if sent + len(chunk) > limit:
            yield chunk[:limit - sent]
            return  # the receiver sees a pack without its end
        sent += len(chunk)
        yield chunk


@pytest.mark.parametrize("cut", [10, 700, 3000, 9000])
def test_a_fetch_cut_anywhere_moves_nothing_and_the_retry_sends_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: int) -> None:
    monkeypatch.setattr(pack, "CHUNK_COMMITS", 4)
    origin = _repo(tmp_path / "o.db", 2)
    clone = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "c.db"))
    for i in range(20):
        origin.put_entity(f"n{i}", "T", {"i": i})
    before = (clone.resolve("origin/main").id, clone.head().to_dict())
    peer = CutPeer(sync_peer.LocalPeer(str(tmp_path / "o.db")), cut)
    with pytest.raises((ConnectionError, CorruptObject)):
        engine.fetch(_local(clone), "origin", peer=peer)
    peer.close()
    assert (clone.resolve("origin/main").id, clone.head().to_dict()) == before
    report = clone.fetch()
    assert clone.resolve("origin/main").id == origin.resolve("main").id
    kept = 20 - report.commits  # stored by the cut transfer: whole chunks of 4 commits
    assert kept % 4 == 0 and report.skipped == 0
    assert (kept > 0) == (cut >= 3000)  # chunks that arrived whole were not sent again
    assert clone.fsck().problems == []
    assert _ids(clone, "origin/main") == _ids(origin)


def test_a_push_cut_anywhere_moves_nothing(tmp_path: Path) -> None:
    _repo(tmp_path / "o.db", 2)
    clone = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "c.db"))
    for i in range(5):
        clone.put_entity(f"n{i}", "T", {"i": i})
    origin = palimpsest.open(str(tmp_path / "o.db"))
    before = origin.resolve("main").id
    for limit in (5, 400, 1500, 2500):
        peer = CutPeer(sync_peer.LocalPeer(str(tmp_path / "o.db")), limit)
        with pytest.raises(CorruptObject):
            engine.push(_local(clone), "origin", "main", peer=peer)
        peer.close()
        assert origin.resolve("main").id == before
    assert clone.push().commits == 5  # the cut pushes kept nothing (one chunk, no trailer)
    assert origin.resolve("main").id == clone.resolve("main").id


def _tampered(stream: Iterable[bytes], field: str, value: Any) -> Iterator[bytes]:
    for line in pack.lines_of(stream):
        record = orjson.loads(line)
        if record.get("t") == ("row" if field == "value" else "commit"):
            record[field] = value
            line = orjson.dumps(record) + b"\n"
        yield line


@pytest.mark.parametrize("field,value", [
    ("value", '{"n":1.0}'),            # a value that does not match its hash
    ("state_hash", "00" * 32),         # a commit whose content is not its id
    ("message", "rewritten"),
    ("base", None),                     # rows applied to the wrong state
])
def test_a_tampered_pack_is_refused_and_nothing_moves(tmp_path: Path, field: str,
                                                      value: Any) -> None:
    origin = _repo(tmp_path / "o.db", 2)
    clone = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "c.db"))
    origin.put_entity("e0", "T", {"n": 1})
    local = _local(clone)
    inner = sync_peer.LocalPeer(str(tmp_path / "o.db"))
    stream = inner.send_pack([origin.resolve("main").id], sync_peer.pack.haves(local.db))
    before = clone.resolve("origin/main").id
    with pytest.raises(CorruptObject):
        sync_peer.receive_pack(local.db, local.commits, local.refs,
                               _tampered(stream, field, value),
                               [sync_peer.RefUpdate("origin/main", before,
                                                    origin.resolve("main").id, True)],
                               author="x", message="fetch")
    inner.close()
    assert clone.resolve("origin/main").id == before
    assert clone.database.one("SELECT count(*) FROM commits")[0] == 2


def test_one_new_commit_costs_the_same_on_a_long_history(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """Bytes and commits visited for one new commit do not grow with the history."""
    visited: list[int] = []
    real = pack.edges

    def counting(commits: Any, commit: Any) -> Any:
        visited.append(commit.seq)
        return real(commits, commit)

    monkeypatch.setattr(pack, "edges", counting)
    costs = []
    for length in (20, 1500):
        origin = palimpsest.open(str(tmp_path / f"o{length}.db"), author="ada")
        with origin.transaction() as tx:
            tx.put_entity("seed", "T", {})
        for i in range(length):
            origin.kv.set(f"/k/{i % 50}", str(i).encode())
        clone = palimpsest.clone(str(tmp_path / f"o{length}.db"),
                                 str(tmp_path / f"c{length}.db"))
        origin.put_entity("new", "T", {"v": 1})
        visited.clear()
        fetched = clone.fetch()
        fetch_visits = len(visited)
        clone.pull()
        clone.put_entity("mine", "T", {"v": 2})
        visited.clear()
        pushed = clone.push()
        assert (fetched.commits, fetched.rows, pushed.commits, pushed.rows) == (1, 1, 1, 1)
        costs.append((fetched.bytes, pushed.bytes, fetch_visits, len(visited)))
        clone.close()
        origin.close()
    assert costs[0] == costs[1]
    assert costs[1][0] < 1000 and costs[1][2] <= 2 and costs[1][3] <= 2


def test_a_diverged_clone_without_tracking_refs_is_found_by_samples(tmp_path: Path,
                                                                    monkeypatch: Any) -> None:
    """No remote-tracking branch names the common history: the exponential samples of
    commits the receiver has bound what is sent to the divergence, not the history."""
    origin = palimpsest.open(str(tmp_path / "o.db"), author="ada")
    for i in range(400):
        origin.kv.set(f"/k/{i % 10}", str(i).encode())
    origin.copy_to(str(tmp_path / "c.db"))
    copy = palimpsest.open(str(tmp_path / "c.db"), author="bob")
    for i in range(3):
        copy.kv.set(f"/mine/{i}", b"x")
    for i in range(5):
        origin.kv.set(f"/theirs/{i}", b"y")
    copy.remotes.add("origin", str(tmp_path / "o.db"))
    report = copy.fetch()
    assert report.commits + report.skipped <= 5 + 8
    assert report.commits == 5
    assert copy.pull().status == "merged"
    assert copy.kv.get("/theirs/4").value == b"y" and copy.kv.get("/mine/2").value == b"x"


def test_cli_clone_remote_fetch_pull_push(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    from palimpsest.cli.commands import app
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    _repo(tmp_path / "o.db", 2).close()
    assert "Cloned o.db into c.db: 2 commits" in run("clone", "o.db", "c.db")
    run("--repo", "c.db", "put", "x", "--type", "T", "--set", "n=1")
    assert "Pushed to origin: 1 commits" in run("--repo", "c.db", "push")
    run("--repo", "o.db", "put", "y", "--type", "T")
    assert "fast forward" in run("--repo", "c.db", "pull")
    assert "up to date" in run("--repo", "c.db", "fetch")
    listed = orjson.loads(run("--repo", "c.db", "remote", "list", "--json"))
    assert listed == [{"name": "origin", "url": str(tmp_path / "o.db")}]
    run("--repo", "o.db", "put", "z", "--type", "T")
    run("--repo", "c.db", "put", "w", "--type", "T")
    run("--repo", "c.db", "push", code=1)
    run("--repo", "c.db", "remote", "remove", "origin")
    assert "no remotes" in run("--repo", "c.db", "remote", "list")


@pytest.mark.parametrize("how", ["depth", "since"])
def test_a_shallow_clone_keeps_recent_states_and_marks_a_horizon(tmp_path: Path,
                                                                  how: str) -> None:
    from datetime import timedelta

    from palimpsest.errors import InvalidValue, RetentionExpired
    origin = palimpsest.open(str(tmp_path / "o.db"), author="ada")
    for i in range(12):
        origin.put_entity(f"e{i % 4}", "T", {"n": i, "f": 1.0})
    origin.rollback("main~2")
    origin.put_entity("last", "T", {"b": True})
    history = origin.log(limit=None)
    options: dict[str, Any] = {"depth": 4} if how == "depth" else \
        {"since": history[3].timestamp + timedelta(microseconds=1)}
    full = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "full.db"))
    clone = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "c.db"), **options)
    assert [c.id for c in clone.log(limit=None)] == [c.id for c in history]  # metadata: all
    readable = history[:4]
    for commit in history:
        if commit in readable:
            assert clone.at(commit.id).to_dict() == origin.at(commit.id).to_dict()
            assert clone.commit(commit.id).state_hash == commit.state_hash
        else:
            with pytest.raises(RetentionExpired, match=readable[-1].id[:10]):
                clone.at(commit.id)
    assert clone.fsck().problems == []
    pack_rows = clone.database.one("SELECT count(*) FROM rows")[0]
    assert pack_rows < full.database.one("SELECT count(*) FROM rows")[0]
    # it keeps working: pull, commit, push
    origin.put_entity("new", "T", {})
    assert clone.pull().status == "fast_forward"
    clone.put_entity("mine", "T", {"n": 1})
    assert clone.push().commits == 1
    assert origin.head().to_dict() == clone.head().to_dict()
    # but it cannot give what it does not have
    palimpsest.open(str(tmp_path / "empty.db")).close()
    clone.remotes.add("empty", str(tmp_path / "empty.db"))
    with pytest.raises(InvalidValue, match="horizon"):
        clone.push("empty")
    with pytest.raises(InvalidValue):
        palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "bad.db"), depth=0)


def test_a_full_transfer_refuses_metadata_only_commits(tmp_path: Path) -> None:
    """A sender may not pass commits off without their state unless a shallow transfer
    was asked for."""
    origin = _repo(tmp_path / "o.db", 5)
    local = _local(palimpsest.open(str(tmp_path / "c.db")))
    stream = sync_peer.send_pack(origin.database, _local(origin).commits,
                                 [origin.resolve("main").id], [], depth=2)
    with pytest.raises(CorruptObject, match="shallow"):
        sync_peer.receive_pack(local.db, local.commits, local.refs, stream, [], author="x",
                               message="fetch")


def _row_facts(repo: palimpsest.Repository) -> list[tuple[Any, ...]]:
    """Every row as (commit id, element, value, hash, interval, provenance record, origin
    commit id): what a transfer must reproduce (local rids, lines and seqs aside)."""
    rows = repo.database.all(
        "SELECT c.id, r.kind, r.key, r.op, r.type, r.source, r.target, r.value, r.hash, "
        "r.valid_from, r.valid_to, p.value, o.id FROM rows r "
        "JOIN commits c ON c.seq = r.seq LEFT JOIN commits o ON o.seq = r.origin "
        "LEFT JOIN provenance p ON p.id = r.provenance")
    return sorted(tuple(bytes(v).hex() if isinstance(v, (bytes, memoryview)) else v
                        for v in row) for row in rows)


def _valid_history(origin: palimpsest.Repository) -> None:
    origin.put_entity("ada", "Person", {"name": "Ada"}, valid_from="1815-12-10T00:00:00Z",
                      valid_to="1852-11-27T00:00:00Z",
                      provenance={"source": "doc-1", "span": [1, 9]})
    origin.put_entity("charles", "Person", {"name": "Charles"}, provenance={"source": "doc-2"})
    with origin.transaction("relate") as tx, tx.provenance(source="doc-3", extractor="x"):
        tx.put_relation("k", "KNOWS", "ada", "charles", {"since": 1833},
                        valid_from="1833-06-05T00:00:00Z")
        tx.put_document("notes", "n1", {"text": "hi"})
    # the same value from another source: a new row, the same state
    origin.put_entity("charles", "Person", {"name": "Charles"}, provenance={"source": "doc-4"})
    origin.create_branch("side", "main~1")
    origin.update_entity("ada", {"title": "Countess"}, valid_to="open", branch="side",
                         provenance={"source": "doc-5"})
    origin.merge("side", message="merge side")  # copies keep interval and provenance
    origin.rollback("main~1")


def test_clone_and_fetch_carry_valid_time_and_provenance(tmp_path: Path) -> None:
    origin = palimpsest.open(str(tmp_path / "o.db"), author="ada")
    _valid_history(origin)
    clone = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "c.db"))
    assert _ids(clone) == _ids(origin)
    assert _row_facts(clone) == _row_facts(origin)
    assert any(row[9] is not None for row in _row_facts(clone))  # intervals went across
    assert any(row[11] is not None for row in _row_facts(clone))  # and provenance records
    for ident in ("ada", "charles", "k"):
        assert [(v.commit.id, v.provenance, v.value) for v in clone.history(ident)] == \
            [(v.commit.id, v.provenance, v.value) for v in origin.history(ident)]
    assert clone.head().to_dict() == origin.head().to_dict()
    assert sorted(e.id for e in clone.head().entities(source="doc-4")) == ["charles"]
    assert clone.head().valid_at("1840-01-01T00:00:00Z").to_dict() == \
        origin.head().valid_at("1840-01-01T00:00:00Z").to_dict()
    assert clone.fsck().problems == []
    # a fetch of new commits, and a push back, carry them too
    origin.put_entity("grace", "Person", {}, valid_from="1906-12-09T00:00:00Z",
                      provenance={"source": "doc-6"})
    assert clone.pull().status == "fast_forward"
    clone.put_relation("g", "KNOWS", "grace", "ada", {}, valid_to="1950-01-01T00:00:00Z",
                       provenance={"source": "doc-7", "confidence": 0.5})
    assert clone.push().commits == 1
    assert _ids(clone) == _ids(origin)
    assert _row_facts(clone) == _row_facts(origin)


def test_a_shallow_clone_grafts_valid_time_and_provenance(tmp_path: Path) -> None:
    origin = palimpsest.open(str(tmp_path / "o.db"), author="ada")
    _valid_history(origin)
    origin.put_entity("last", "T", {"b": True})
    clone = palimpsest.clone(str(tmp_path / "o.db"), str(tmp_path / "c.db"), depth=2)
    assert _ids(clone) == _ids(origin)
    for commit in origin.log(limit=2):
        assert clone.at(commit.id).to_dict() == origin.at(commit.id).to_dict()
        assert clone.commit(commit.id).state_hash == commit.state_hash
    for ident in ("ada", "charles", "k"):
        assert clone.history(ident, limit=1)[0].provenance == \
            origin.history(ident, limit=1)[0].provenance
    assert clone.fsck().problems == []
