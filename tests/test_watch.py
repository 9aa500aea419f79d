"""Watches: kv events and commits in order, replay, async iteration, stopping, and commits
made by another process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import palimpsest
from palimpsest import InvalidKey, InvalidValue, KVEvent, RefNotFound, wire

pytestmark = pytest.mark.needs_embedded(
    "the remote watch is a server-sent event stream with its own parameters "
    "(tests/server/test_client.py covers it)")

SRC = Path(__file__).resolve().parents[1] / "src"


def _summary(events: list[KVEvent]) -> list[tuple[str, str, bytes | None, int]]:
    return [(e.type, e.key, e.value, e.version) for e in events]


def test_kv_watch_reports_each_change_in_order(repo: palimpsest.Repository) -> None:
    kv = repo.kv
    kv.set("/other", b"ignored")
    with kv.watch("/jobs/*") as watch:
        assert watch.poll() == []
        kv.set("/jobs/a", b"1")
        kv.set("/jobs/a", b"2")
        kv.set("/other", b"still ignored")
        kv.transaction([kv.op_set("/jobs/b", b"b"), kv.op_delete("/jobs/a")])
        kv.set("/jobsx", b"not under /jobs/")
        events = watch.poll()
    assert _summary(events) == [
        ("created", "/jobs/a", b"1", 1), ("updated", "/jobs/a", b"2", 2),
        ("deleted", "/jobs/a", None, 0), ("created", "/jobs/b", b"b", 1)]
    seqs = [e.commit.seq for e in events]
    assert seqs == sorted(seqs) and events[2].commit == events[3].commit
    assert wire.encode(events[0])["value"] == "MQ=="
    assert watch.closed


def test_exact_key_watch_and_replay_since(repo: palimpsest.Repository) -> None:
    kv = repo.kv
    kv.set("/a", b"1")
    start = repo.head().commit
    kv.set("/a", b"2")
    kv.set("/ab", b"x")
    kv.delete("/a")
    kv.set("/a", b"3")
    with kv.watch("/a", since=start.id, timeout=0) as watch:
        replay = list(watch)
    assert _summary(replay) == [("updated", "/a", b"2", 2), ("deleted", "/a", None, 0),
                                ("created", "/a", b"3", 1)]
    with kv.watch("/a", since=0, timeout=0) as watch:
        assert [e.value for e in watch] == [b"1", b"2", None, b"3"]
    with pytest.raises(InvalidKey):
        kv.watch("a/*")
    with pytest.raises(InvalidValue):
        kv.watch("/a", since=5)


def test_blocking_iteration_wakes_on_commit_and_stops_on_close(
        repo: palimpsest.Repository) -> None:
    watch = repo.kv.watch("/q/*", interval=5.0)  # only the in-process wakeup can be fast

    def writer() -> None:
        time.sleep(0.05)
        for i in range(3):
            repo.kv.set(f"/q/{i}", b"x")
        time.sleep(0.05)
        watch.close()

    thread = threading.Thread(target=writer)
    thread.start()
    keys = [e.key for e in watch]  # ends when closed from the other thread
    thread.join()
    assert keys == ["/q/0", "/q/1", "/q/2"]
    assert watch.closed and watch.next(timeout=0) is None


def test_timeout_ends_an_idle_watch(repo: palimpsest.Repository) -> None:
    with repo.kv.watch("/idle/*", timeout=0.05) as watch:
        assert list(watch) == []
    assert watch.closed
    with pytest.raises(InvalidValue):
        repo.kv.watch("/x", interval=0)


def test_async_iteration(repo: palimpsest.Repository) -> None:
    async def main() -> list[tuple[str, str, bytes | None, int]]:
        got: list[KVEvent] = []
        async with repo.kv.watch("/async/*", timeout=1.0) as watch:
            async def write() -> None:
                await asyncio.sleep(0.02)
                await asyncio.to_thread(repo.kv.set, "/async/1", b"a")
                await asyncio.to_thread(repo.kv.delete, "/async/1")

            task = asyncio.create_task(write())
            async for event in watch:
                got.append(event)
                if len(got) == 2:
                    break
            await task
        return _summary(got)

    assert asyncio.run(main()) == [("created", "/async/1", b"a", 1),
                                   ("deleted", "/async/1", None, 0)]


def test_commit_watch(repo: palimpsest.Repository) -> None:
    first = repo.put_entity("x", type="T")
    with repo.watch(timeout=0) as watch:
        assert list(watch) == []
    with repo.watch(since=0, timeout=0) as watch:
        assert [c.id for c in watch] == [first.id]
    with repo.watch() as watch:
        second = repo.put_document("notes", "n", {"a": 1})
        third = repo.kv.set("/k", b"v")
        got = watch.poll()
    assert [c.id for c in got] == [second.id, third.commit]
    repo.create_branch("side")
    with repo.watch("side") as side:
        repo.put_entity("y", type="T")  # on main: not seen on side
        on_side = repo.put_entity("z", type="T", branch="side")
        assert [c.id for c in side.poll()] == [on_side.id]
    with pytest.raises(RefNotFound):
        repo.watch("nope")


def test_branch_reset_reports_net_changes(repo: palimpsest.Repository) -> None:
    kv = repo.kv
    kv.set("/r/a", b"1")
    base = repo.head().commit
    with kv.watch("/r/*") as watch:
        kv.set("/r/a", b"2")
        kv.set("/r/b", b"new")
        assert len(watch.poll()) == 2
        repo._refs.move_branch("main", base, author="t", message="reset")  # an unrelated line
        events = watch.poll()
    assert _summary(events) == [("updated", "/r/a", b"1", 1), ("deleted", "/r/b", None, 0)]


def test_commit_watch_delivers_merged_commits(repo: palimpsest.Repository) -> None:
    """Seqs are global: a branch's commits merged later have lower seqs than commits the
    watch already delivered; they are delivered anyway, once, before the merge."""
    repo.put_entity("a", "T")
    repo.create_branch("topic")
    with repo.watch() as watch:
        side = repo.put_entity("s", "T", branch="topic")
        ours = repo.put_entity("m", "T")
        assert side.seq < ours.seq
        assert [c.id for c in watch.poll()] == [ours.id]
        merged = repo.merge("topic").commit
        assert merged is not None
        assert [c.id for c in watch.poll()] == [side.id, merged.id]
        # a fast-forward onto a branch that merged main: its own commits, not main's again
        repo.create_branch("t2")
        x = repo.put_entity("x", "T", branch="t2")
        y = repo.put_entity("y", "T")
        into_t2 = repo.merge("main", into="t2").commit
        assert into_t2 is not None
        assert repo.merge("t2").status == "fast_forward"
        assert [c.id for c in watch.poll()] == [x.id, y.id, into_t2.id]
        assert watch.poll() == []
    with repo.watch(since=ours.id, timeout=0) as replay:  # resuming after ours: the same
        assert [c.id for c in replay] == [side.id, merged.id, x.id, y.id, into_t2.id]
    with repo.watch(since=0, timeout=0) as everything:
        got = [c.id for c in everything]
    assert sorted(got) == sorted(c.id for c in repo.log(limit=None)) and len(set(got)) == 7
    repo._refs.move_branch("main", ours, author="t", message="reset")  # back: nothing new
    with repo.watch(since=into_t2.id, timeout=0) as after_reset:
        assert list(after_reset) == []


def test_kv_watch_reports_a_merge_once_with_its_origins(repo: palimpsest.Repository) -> None:
    """kv events follow the branch's state: a merge's changes arrive as the merge commit's
    events, once, each naming the merged commit that made it (``origin``)."""
    kv = repo.kv
    kv.set("/m/a", b"0")
    repo.create_branch("topic")
    topic = kv.on("topic")
    with kv.watch("/m/*") as watch:
        first = topic.set("/m/a", b"1")
        topic.set("/m/b", b"new")
        third = topic.set("/m/b", b"newer")
        kv.set("/m/c", b"ours")
        assert [(e.key, e.origin) for e in watch.poll()] == [("/m/c", None)]
        merged = repo.merge("topic").commit
        assert merged is not None
        events = watch.poll()
        assert _summary(events) == [("updated", "/m/a", b"1", 2),
                                    ("created", "/m/b", b"newer", 2)]
        assert {e.commit.id for e in events} == {merged.id}
        assert [e.origin for e in events] == [first.commit, third.commit]
        assert wire.encode(events[0])["origin"] == first.commit
        assert watch.poll() == []


_WRITER = """
import sys, time, palimpsest

repo = palimpsest.open(sys.argv[1], author="writer@example.com")
for burst in range(20):
    for i in range(50):
        n = burst * 50 + i
        repo.kv.set(f"/w/{n % 37}", str(n).encode())
    time.sleep(0.01)
"""


@pytest.mark.slow
def test_watch_sees_another_process(tmp_path: Path) -> None:
    """One process writes 1,000 changes in bursts; this one receives exactly those, in order."""
    path = str(tmp_path / "watch.db")
    repo = palimpsest.open(path)
    repo.kv.set("/unrelated", b"x")
    values: list[int] = []
    with repo.kv.watch("/w/*", timeout=30.0) as watch:
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, path],
                                  env={"PYTHONPATH": str(SRC), "PATH": ""})
        for event in watch:
            assert event.value is not None and event.key == f"/w/{int(event.value) % 37}"
            values.append(int(event.value))
            if len(values) == 1000:
                break
        writer.wait(timeout=60)
    assert writer.returncode == 0
    assert values == list(range(1000))
    repo.close()
