"""Batch and grouped key-value writes: ``kv.set_many`` (every face) and the opt-in group
commit (many writer threads, one handle), checked against a dict model."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest import InvalidKey, InvalidValue, VersionConflict

OpenRepo = Any


def test_set_many_is_one_commit_with_versions(repo: palimpsest.Repository) -> None:
    repo.kv.set("/a", b"0")
    entries = repo.kv.set_many({"/a": b"1", "/b": b"2", "/c/d": b"3"}, message="batch")
    assert [(e.key, e.value, e.version) for e in entries] == [
        ("/a", b"1", 2), ("/b", b"2", 1), ("/c/d", b"3", 1)]
    assert len({e.commit for e in entries}) == 1
    log = repo.log()
    assert len(log) == 2 and log[0].message == "batch" and log[0].id == entries[0].commit
    assert repo.kv.get("/a").value == b"1" and repo.kv.get("/a").version == 2  # type: ignore
    assert repo.kv.get("/c/d").version == 1  # type: ignore[union-attr]
    again = repo.kv.set_many({"/b": b"2", "/c/d": b"x"})
    assert [e.version for e in again] == [2, 2]  # writing the same bytes is a write too
    assert again[0].created_at == entries[1].created_at


def test_set_many_refuses_bad_input_and_writes_nothing(repo: palimpsest.Repository) -> None:
    assert repo.kv.set_many({}) == []
    with pytest.raises(InvalidKey):
        repo.kv.set_many({"/ok": b"1", "bad": b"2"})
    with pytest.raises(InvalidValue):
        repo.kv.set_many({"/ok": "text"})  # type: ignore[dict-item]
    with pytest.raises(InvalidValue):
        repo.kv.set_many([("/a", b"1")])  # type: ignore[arg-type]
    assert repo.log() == [] and repo.kv.get("/ok") is None


def test_set_many_on_a_branch(repo: palimpsest.Repository) -> None:
    repo.kv.set("/a", b"main")
    repo.create_branch("b")
    repo.kv.on("b").set_many({"/a": b"on b", "/new": b"1"})
    assert repo.kv.get("/a").value == b"main"  # type: ignore[union-attr]
    assert repo.kv.get("/new") is None
    assert repo.kv.on("b").get("/a").version == 2  # type: ignore[union-attr]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["/a", "/b", "/c/d", "/c/e", "/z"]),
                                st.binary(max_size=8), max_size=5), max_size=6),
       st.lists(st.sampled_from(["/a", "/b", "/c/d"]), max_size=3))
def test_set_many_matches_one_by_one(batches: list[dict[str, bytes]],
                                     deletes: list[str]) -> None:
    """The state and versions after set_many equal those after the same sets one by one."""
    batched = palimpsest.open(":memory:")
    single = palimpsest.open(":memory:")
    for i, batch in enumerate(batches):
        got = batched.kv.set_many(batch)
        want = [single.kv.set(k, v) for k, v in batch.items()]
        assert [(e.key, e.value, e.version) for e in got] == \
            [(e.key, e.value, e.version) for e in want]
        if i < len(deletes):
            assert batched.kv.delete(deletes[i]) == single.kv.delete(deletes[i])
    assert [(e.key, e.value, e.version) for e in batched.kv.list()] == \
        [(e.key, e.value, e.version) for e in single.kv.list()]
    assert batched.fsck().ok


@pytest.mark.needs_embedded("group commit is an option of palimpsest.open")
def test_group_commit_many_threads(open_repo: OpenRepo) -> None:
    repo = open_repo(author="w@example.com", kv_group_commit=0.002)
    threads, per = 8, 25
    errors: list[BaseException] = []
    results: dict[int, list[Any]] = {t: [] for t in range(threads)}

    def writer(t: int) -> None:
        try:
            for i in range(per):
                results[t].append(repo.kv.set(f"/t{t}/k{i % 5}", b"%d" % i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert not errors
    for t in range(threads):
        versions = [e.version for e in results[t]]
        assert versions == [i // 5 + 1 for i in range(per)]  # each caller its own version
        for e in results[t][-5:]:
            got = repo.kv.get(e.key)
            assert got is not None and got.value == e.value and got.version == e.version
    commits = repo.log(limit=10_000)
    assert len(commits) <= threads * per  # some writes shared a commit
    assert {e.commit for r in results.values() for e in r} <= {c.id for c in commits}
    assert repo.fsck().ok


@pytest.mark.needs_embedded("group commit is an option of palimpsest.open")
def test_group_commit_checks_fail_alone(open_repo: OpenRepo) -> None:
    repo = open_repo(kv_group_commit=0.01)
    repo.kv.set("/x", b"1")
    outcome: dict[str, Any] = {}
    barrier = threading.Barrier(3)

    def cas(name: str, expected: int, key: str) -> None:
        barrier.wait()
        try:
            outcome[name] = repo.kv.compare_and_set(key, expected, name.encode())
        except VersionConflict as exc:
            outcome[name] = exc

    pool = [threading.Thread(target=cas, args=("bad", 5, "/x")),
            threading.Thread(target=cas, args=("good", 1, "/x")),
            threading.Thread(target=cas, args=("other", 0, "/y"))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert isinstance(outcome["bad"], VersionConflict)
    assert outcome["good"].version == 2 and outcome["other"].version == 1
    assert repo.kv.get("/x").value == b"good"  # type: ignore[union-attr]
    assert repo.kv.delete("/missing") is False


def test_group_commit_window_is_checked(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="window"):
        palimpsest.open(str(tmp_path / "g.db"), kv_group_commit=-1)


def test_cli_set_many(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from palimpsest.cli import app

    path = str(tmp_path / "cli.db")
    palimpsest.open(path).close()
    (tmp_path / "items.json").write_text('{"/f/a": "1", "/f/b": "2"}')
    result = CliRunner().invoke(app, ["--repo", path, "kv", "set-many", "/x=1", "/y=a=b",
                                      "--file", str(tmp_path / "items.json")])
    assert result.exit_code == 0, result.output
    repo = palimpsest.open(path)
    assert repo.kv.get("/y").value == b"a=b"  # type: ignore[union-attr]
    assert repo.kv.count("/") == 4 and len(repo.log()) == 1
    bad = CliRunner().invoke(app, ["--repo", path, "kv", "set-many", "novalue"])
    assert bad.exit_code != 0


@pytest.mark.needs_embedded("group commit is an option of palimpsest.open")
def test_group_commit_inside_a_write_commits_directly(open_repo: OpenRepo) -> None:
    repo = open_repo(kv_group_commit=0.01)
    done: list[Any] = []
    with repo.database.write():  # this thread holds the write lock
        helper = threading.Thread(target=lambda: done.append(repo.kv.set("/other", b"1")))
        helper.start()  # queues, and leads a group that waits for the lock
        entry = repo.kv.set("/mine", b"1")  # must not wait for that group
    helper.join()
    assert entry.version == 1 and done and done[0].version == 1
    assert repo.kv.get("/mine") is not None and repo.kv.get("/other") is not None
