"""PostgreSQL scale-out: commits to different branches never wait for each other, and what
readers see stays exact although seqs of different lines commit out of order
(docs/postgres.md, "Many writers").
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator

import pytest

import palimpsest

pytest.importorskip("psycopg")

from conftest import POSTGRES_URL, drop_postgres_schema

needs_server = pytest.mark.skipif(
    not POSTGRES_URL, reason="needs PALIMPSEST_TEST_POSTGRES=postgresql://... (.ci/run sets it)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = "t_" + uuid.uuid4().hex[:16]
    base = str(POSTGRES_URL)
    yield f"{base}{'&' if '?' in base else '?'}schema={name}"
    drop_postgres_schema(name)


@needs_server
def test_other_branch_commits_while_one_is_mid_commit_and_readers_stay_exact(
        pg_url: str) -> None:
    """A commit on ``a`` stalls after taking its seq and writing its rows (before COMMIT);
    a commit on ``b`` takes a higher seq and lands meanwhile. Readers see ``b`` and not half
    of ``a``; once ``a`` lands, caches, views and the log see it although its seq is lower."""
    slow = palimpsest.open(pg_url, author="slow@example.com")
    fast = palimpsest.open(pg_url, author="fast@example.com")
    try:
        slow.put_entity("base", type="Item", props={"n": 0})
        slow.create_branch("a")
        slow.create_branch("b")
        fast.create_view("items_a", "Item", {"where": {"branch": "a"}})
        fast.create_view("items", "Item", {})
        assert [r.id for r in fast.at("a").materialized("items_a")] == []
        inside, release = threading.Event(), threading.Event()

        def stall(sql: str, params: object) -> None:
            if sql.startswith("INSERT INTO commits") and not inside.is_set():
                inside.set()
                release.wait(60)

        slow.database.tracer = stall
        landed: list[palimpsest.Commit] = []

        def commit_a() -> None:
            with slow.transaction("on a", branch="a") as tx:
                tx.put_entity("x1", "Item", {"branch": "a"})
                tx.put_entity("x2", "Item", {"branch": "a"})
            assert tx.commit is not None
            landed.append(tx.commit)

        thread = threading.Thread(target=commit_a)
        thread.start()
        assert inside.wait(30)
        fast.at("a").entities(type="Item")  # warm the read cache on a's old head
        b = fast.put_entity("y", type="Item", props={"branch": "b"}, branch="b")  # no wait
        assert fast.at("b").entity("y") is not None
        assert fast.at("a").entity("x1") is None and fast.at("a").entity("x2") is None
        assert sorted(e.id for e in fast.at("b").materialized("items")) == ["base", "y"]
        release.set()
        thread.join(30)
        assert not thread.is_alive() and landed
        a = landed[0]
        assert a.seq < b.seq  # the lower seq became visible after the higher one
        head_a = fast.at("a")
        assert head_a.commit is not None and head_a.commit.id == a.id  # the cache noticed
        assert {e.id for e in head_a.entities(type="Item")} == {"base", "x1", "x2"}
        assert sorted(r.id for r in head_a.materialized("items_a")) == ["x1", "x2"]
        assert sorted(e.id for e in fast.at("a").materialized("items")) == ["base", "x1", "x2"]
        assert sorted(e.id for e in fast.at("b").materialized("items")) == ["base", "y"]
        assert fast.refresh_views() == 0  # every line is built up to its head
        assert fast.fsck().ok
    finally:
        slow.close()
        fast.close()


# -- many processes ----------------------------------------------------------------------
_WORKER = textwrap.dedent("""
    import sys
    import palimpsest

    url, branch, me, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    repo = palimpsest.open(url, author=f"worker{me}@example.com")
    for i in range(count):
        def change(tx, i=i):
            # one commit, several rows: a reader must see all of them or none
            tx.put_entity(f"w{me}-{i}-a", "Item", {"w": me, "i": i})
            tx.put_entity(f"w{me}-{i}-b", "Item", {"w": me, "i": i})
            tx.put_entity(f"count-{me}", "Counter", {"n": i + 1})
            if branch == "main" and i % 4 == 0:  # a read-modify-write: conflicts, retried
                shared = tx.entity("shared")
                tx.put_entity("shared", "Shared", {"n": shared.props["n"] + 1})
        repo.run_transaction(change, message=f"worker {me} item {i}", branch=branch,
                             retries=10_000)
    repo.close()
    print("done")
""")


def _replay(repo: palimpsest.Repository, commits: list[palimpsest.Commit]
            ) -> palimpsest.Repository:
    copy = palimpsest.open(":memory:")
    for commit in commits:
        with copy.transaction(commit.message, author=commit.author, metadata=commit.metadata,
                              timestamp=commit.timestamp) as tx:
            for change in repo.changes(commit):
                if change.new is None:
                    tx.delete_entity(change.id)
                else:
                    tx.put_entity(change.id, change.new.type, change.new.props)
    return copy


def _check_state(view: palimpsest.View, workers: list[int]) -> dict[int, int]:
    """Each worker's counter says how many of its commits the state holds: exactly that many
    pairs of items must be there (a half commit would break the equality). Returns the
    counters."""
    items: dict[int, int] = {}
    seen: dict[int, int] = {}
    for entity in view.entities(type="Item"):
        if entity.id != "base":
            worker = int(entity.props["w"])  # type: ignore[arg-type]
            items[worker] = items.get(worker, 0) + 1
    for worker in workers:
        counter = view.entity(f"count-{worker}")
        n = 0 if counter is None else int(counter.props["n"])  # type: ignore[arg-type]
        assert items.get(worker, 0) == 2 * n, (worker, n, items.get(worker, 0))
        seen[worker] = n
    return seen


@needs_server
@pytest.mark.slow
def test_many_processes_on_many_branches_lose_nothing_and_readers_never_see_half(
        pg_url: str) -> None:
    # the size is PALIMPSEST_SCALE_N=200 (8 x 200 commits on 8 branches, 4 x 100 on
    # main); the default halves it to keep the suite's time on a loaded CI machine
    size = int(os.environ.get("PALIMPSEST_SCALE_N", "100"))
    branches, per_branch, on_main, per_main = 8, size, 4, size // 2
    with palimpsest.open(pg_url, author="setup@example.com") as repo:
        repo.put_entity("shared", type="Shared", props={"n": 0})
        repo.put_entity("base", type="Item", props={"w": -1})
        for b in range(branches):
            repo.create_branch(f"b{b}")
    plan = [(f"b{b}", b, per_branch) for b in range(branches)] + \
        [("main", branches + m, per_main) for m in range(on_main)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, pg_url, branch, str(me),
                               str(count)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env) for branch, me, count in plan]
    stop = threading.Event()
    samples: list[int] = []
    failures: list[BaseException] = []

    def sample() -> None:
        reader = palimpsest.open(pg_url)
        last: dict[int, int] = {}
        try:
            while not stop.is_set():
                for branch, me, _ in plan:
                    view = reader.at(branch)
                    counts = _check_state(view, [me] if branch != "main" else
                                          [m for b, m, _ in plan if b == "main"])
                    for worker, n in counts.items():  # never an older state than before
                        assert n >= last.get(worker, 0), (worker, n, last[worker])
                        last[worker] = n
                    samples.append(1)
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)
        finally:
            reader.close()

    reader = threading.Thread(target=sample)
    reader.start()
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=1200)
            assert proc.returncode == 0, err.decode()[-2000:]
            assert out.strip() == b"done"
    finally:
        stop.set()
        reader.join(60)
    assert not failures, failures[0]
    assert samples  # the reader did sample while the writers ran
    with palimpsest.open(pg_url) as repo:
        total = 0
        for branch, _me, count in plan:
            log = list(reversed(repo.log(branch, limit=None)))
            head = repo.at(branch)
            mine = [m for b, m, _ in plan if b == branch]
            _check_state(head, mine)
            for worker in mine:
                counter = head.entity(f"count-{worker}")
                assert counter is not None and counter.props["n"] == count
            replay = _replay(repo, log)
            assert replay.head().commit.state_hash == head.commit.state_hash  # type: ignore
            assert replay.head().commit.id == head.commit.id  # type: ignore[union-attr]
            seqs = [c.seq for c in log]
            assert seqs == sorted(set(seqs))  # increasing along each line, no duplicate
        for branch in {b for b, _, _ in plan}:
            total += len([c for c in repo.log(branch, limit=None)
                          if c.author.startswith("worker")])
        assert total == sum(count for _, _, count in plan)  # every commit is there
        shared = repo.at("main").entity("shared")
        assert shared is not None and shared.props["n"] == on_main * ((per_main + 3) // 4)
        row = repo.database.one("SELECT count(*), count(DISTINCT seq) FROM commits")
        assert row is not None and row[0] == row[1] == 2 + sum(c for _, _, c in plan)
        assert repo.fsck().problems == []
