"""Fault tests: crashes, I/O errors, a full disk, damaged bytes, and a multi-process soak.

Each failure must leave the last committed state intact and readable, with fsck passing, or —
for damaged bytes — be detected exactly. The soak runs 4 processes of
``PALIMPSEST_SOAK_OPS`` operations each (default 300: a fixed amount of work, so a slow machine
takes longer instead of testing less); it runs on SQLite and, when ``PALIMPSEST_TEST_POSTGRES``
is set, on PostgreSQL too.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import palimpsest
from palimpsest import CorruptObject, Repository, StorageError
from palimpsest.storage.sqlite import SQLiteDatabase

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals and rlimits")
SOAK_OPS = int(os.environ.get("PALIMPSEST_SOAK_OPS", "300"))


# -- crash safety ----------------------------------------------------------------------------
CRASH_WRITER = """
import sys, palimpsest
repo = palimpsest.open(sys.argv[1])
for i in range(200):
    with repo.transaction(message=f"c{i}") as tx:
        tx.put_entity(f"e{i % 10}", "T", {"i": i, "pad": "x" * (i % 7) * 100})
        tx.put_entity("n", "Counter", {"i": i})
        if i % 5 == 4:
            tx.put_relation(f"r{i % 3}", "R", "n", f"e{i % 10}", {"i": i})
    sys.stdout.write(f"{i}\\n")
    sys.stdout.flush()
"""


def _crash_model(last: int) -> dict[str, Any]:
    """The state after commits c0..c{last}, computed without palimpsest."""
    entities: dict[str, Any] = {}
    relations: dict[str, Any] = {}
    for i in range(last + 1):
        entities[f"e{i % 10}"] = {"type": "T", "props": {"i": i, "pad": "x" * (i % 7) * 100}}
        entities["n"] = {"type": "Counter", "props": {"i": i}}
        if i % 5 == 4:
            relations[f"r{i % 3}"] = {"type": "R", "source": "n", "target": f"e{i % 10}",
                                      "props": {"i": i}}
    return {"entities": entities, "relations": relations, "documents": {}, "kv": {}}


def _crash_run(path: Path, kill_after: int, pause: float) -> tuple[int, int, list[str]]:
    """Run the writer, SIGKILL it after ``kill_after`` confirmations (+ ``pause`` s); return
    (last confirmed, last landed, fsck problems) and check the state."""
    palimpsest.open(path).close()
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    confirmed = -1
    while confirmed < kill_after:
        line = proc.stdout.readline()
        if not line:
            break
        confirmed = int(line)
    time.sleep(pause)
    proc.send_signal(signal.SIGKILL)
    confirmed = max([confirmed, *(int(x) for x in proc.stdout.read().split())])
    proc.wait()
    repo = palimpsest.open(path)
    try:
        problems = repo.fsck().problems
        head = repo.head().commit
        landed = int(head.message[1:]) if head is not None else -1
        assert repo.head().to_dict() == _crash_model(landed)
    finally:
        repo.close()
    return confirmed, landed, problems


@POSIX
def test_sigkill_at_random_points_keeps_last_confirmed_commit(tmp_path: Path) -> None:
    """20 writers killed at random points (4 at a time, to keep CI fast)."""
    rng = random.Random(8)
    plans = [(tmp_path / f"crash{run}.db", rng.randrange(0, 200), rng.random() * 0.004)
             for run in range(20)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda plan: _crash_run(*plan), plans))
    for run, (confirmed, landed, problems) in enumerate(results):
        assert not problems, (run, problems)
        assert landed in (confirmed, confirmed + 1), (run, confirmed, landed)


# -- I/O errors --------------------------------------------------------------------------------
class FailingDatabase(SQLiteDatabase):
    """A SQLite connection whose N-th write statement (counted from ``arm()``) fails like a
    disk I/O error."""

    fail_at: int | None = None
    count = 0

    def arm(self, n: int | None) -> None:
        self.fail_at, self.count = n, 0

    def _maybe_fail(self) -> None:
        if self.fail_at is not None:
            self.count += 1
            if self.count == self.fail_at:
                raise sqlite3.OperationalError("disk I/O error")

    def run(self, sql: str, params: Any = ()) -> int:
        if not sql.lstrip().upper().startswith(("SELECT", "PRAGMA")):
            self._maybe_fail()
        return super().run(sql, params)

    def many(self, sql: str, rows: Any) -> None:
        self._maybe_fail()
        super().many(sql, rows)


def test_io_error_at_every_write_step_leaves_previous_state(tmp_path: Path) -> None:
    db = FailingDatabase(str(tmp_path / "io.db"))
    repo = Repository(db)
    repo.put_entity("a", "T", {"v": 0})
    repo.put_entity("b", "T", {"v": 0})
    repo.put_relation("ab", "R", "a", "b")
    before = repo.head().to_dict()
    head = repo.resolve("main")
    failures = 0
    for n in range(1, 30):
        db.arm(n)
        try:
            with repo.transaction("update") as tx:
                tx.update_entity("a", {"v": n})
                tx.delete_entity("b")  # cascades to the relation: several write statements
        except StorageError as exc:
            failures += 1
            assert "disk I/O error" in str(exc)
            db.arm(None)
            assert repo.resolve("main") == head
            assert repo.head().to_dict() == before
            assert repo.fsck().ok
            continue
        break
    db.arm(None)
    assert failures >= 3  # rows, commit row and line head each failed once
    assert repo.head().entity("a").props == {"v": failures + 1}
    assert repo.head().entity("b") is None
    assert repo.fsck().ok


DISK_FULL_WRITER = """
import os, resource, signal, sys, palimpsest
path = sys.argv[1]
size = sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 32768, size + 32768))
repo = palimpsest.open(path)
try:
    with repo.transaction("too big") as tx:
        for i in range(3000):
            tx.put_entity(f"big{i}", "T", {"pad": "y" * 1000})
except palimpsest.StorageError as exc:
    print("StorageError", exc)
else:
    print("committed")
"""


@POSIX
def test_disk_full_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    repo = palimpsest.open(path)
    for i in range(20):
        repo.put_entity(f"e{i}", "T", {"i": i})
    before, head = repo.head().to_dict(), repo.resolve("main")
    repo.close()
    out = subprocess.run([sys.executable, "-c", DISK_FULL_WRITER, str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("StorageError"), out.stdout + out.stderr
    assert "full" in out.stdout or "I/O" in out.stdout
    repo = palimpsest.open(path)
    assert repo.resolve("main") == head
    assert repo.head().to_dict() == before
    assert repo.fsck().ok
    repo.put_entity("after", "T")  # space is back: writes work again
    assert repo.fsck().ok


# -- corruption --------------------------------------------------------------------------------
def _flip(path: Path, needle: bytes, offset: int) -> None:
    data = bytearray(path.read_bytes())
    assert data.count(needle) == 1, f"{needle!r} occurs {data.count(needle)} times"
    at = data.index(needle) + offset
    data[at] ^= 0x01  # one bit: 'a' <-> '`', '0' <-> '1' ...
    path.write_bytes(bytes(data))


def test_flipped_bytes_in_the_file_are_detected_exactly(tmp_path: Path) -> None:
    path = tmp_path / "flip.db"
    repo = palimpsest.open(path)
    with repo.transaction("base") as tx:
        for i in range(50):
            tx.put_entity(f"e{i}", "T", {"marker": f"value-of-entity-{i:03d}-abcdef"})
        tx.put_document("docs", "d7", {"marker": "document-seven-abcdef"})
    for i in range(5):
        repo.update_entity(f"e{i}", {"n": i}, message=f"update-message-{i:03d}")
    seqs = {c.message: c.seq for c in repo.log(limit=None)}
    rids = {key: int(rid) for rid, key in repo.database.all(
        "SELECT max(rid), key FROM rows GROUP BY key")}
    repo.close()  # checkpoints the WAL into the main file
    _flip(path, b"value-of-entity-017-abcdef", 20)
    _flip(path, b"document-seven-abcdef", 3)
    _flip(path, b"update-message-002", 15)
    repo = palimpsest.open(path)
    with pytest.raises(CorruptObject, match="e17"):
        repo.head().entity("e17")
    with pytest.raises(CorruptObject):
        repo.head().document("docs", "d7")
    assert repo.head().entity("e18") is not None
    report = repo.fsck()
    assert report.rids("row-hash") == {rids["e17"], rids["docs\x1fd7"]}
    assert report.seqs("commit-id") == {seqs["update-message-002"]}
    assert len(report.details) == 3


# -- concurrency soak --------------------------------------------------------------------------
SOAK_WORKER = """
import json, random, sys, palimpsest
from palimpsest import ConcurrentCommit, VersionConflict, StorageError
url, me, ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
repo = palimpsest.open(url, author=f"worker{me}@example.com")
rng = random.Random(me)
branch = f"w{me}"
def say(**record):
    sys.stdout.write(json.dumps(record) + "\\n"); sys.stdout.flush()
mine, counter = {}, 0
for _ in range(ops):
    op = rng.random()
    try:
        if op < 0.35:
            key, counter = f"p{me}-k{rng.randrange(8)}", counter + 1
            c = repo.put_entity(key, "Own", {"v": counter}, branch="main")
            mine[key] = counter
            say(op="put", key=key, v=counter, commit=c.id)
        elif op < 0.55:
            key, counter = f"b{me}-k{rng.randrange(4)}", counter + 1
            c = repo.put_entity(key, "Branch", {"v": counter}, branch=branch)
            say(op="bput", key=key, v=counter, commit=c.id)
        elif op < 0.65:
            source = repo.resolve(branch)
            result = repo.merge(source.id, into="main", message=f"merge {branch}")
            say(op="merge", source=source.id, status=result.status)
        elif op < 0.85:
            entry = repo.kv.get("/counter")
            if entry is None:
                repo.kv.create_if_not_exists("/counter", b"1")
            else:
                repo.kv.compare_and_set("/counter", entry.version,
                                        str(int(entry.value) + 1).encode())
            say(op="inc")
        else:
            view = repo.head()
            for key, value in mine.items():  # only this process writes its keys
                assert view.entity(key).props["v"] == value, (key, value)
            assert repo.at("main").count() >= len(mine)
            say(op="read")
    except (ConcurrentCommit, VersionConflict):
        say(op="conflict")
    except StorageError as exc:
        say(op="busy", error=str(exc))
say(op="done")
"""


@POSIX
@pytest.mark.slow
def test_four_process_soak(repo_url: str) -> None:
    if repo_url == ":memory:":
        pytest.skip("processes cannot share an in-memory database")
    url = repo_url
    repo = palimpsest.open(url)
    repo.put_entity("seed", "T")
    for me in range(4):
        repo.create_branch(f"w{me}")
    procs = [subprocess.Popen([sys.executable, "-c", SOAK_WORKER, url, str(me),
                               str(SOAK_OPS)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for me in range(4)]
    records: list[list[dict[str, Any]]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        records.append([json.loads(line) for line in out.splitlines()])
    assert all(r[-1]["op"] == "done" for r in records)
    report = repo.fsck()
    assert report.ok, report.problems[:5]
    # replay every process's confirmed operations into a plain model and compare
    head = repo.head()
    incs = 0
    for me, ops in enumerate(records):
        own: dict[str, int] = {}
        on_branch: dict[str, int] = {}
        merged_source = None
        for record in ops:
            if record["op"] == "put":
                own[record["key"]] = record["v"]
                assert repo.commit(record["commit"]).author == f"worker{me}@example.com"
            elif record["op"] == "bput":
                on_branch[record["key"]] = record["v"]
            elif record["op"] == "merge":
                merged_source = record["source"]
            elif record["op"] == "inc":
                incs += 1
        for key, value in own.items():
            assert head.entity(key).props == {"v": value}
        branch_view = repo.at(f"w{me}")
        for key, value in on_branch.items():
            assert branch_view.entity(key).props == {"v": value}
        if merged_source is not None:  # main has the branch as of the last merge
            source = repo.at(merged_source)
            for entity in source.entities(type="Branch"):
                assert head.entity(entity.id) == entity
    counter = repo.kv.get("/counter")
    assert int(counter.value if counter else 0) == incs  # no lost or invented increment
    kinds = {r["op"] for ops in records for r in ops}
    assert {"put", "bput", "merge", "inc", "read"} <= kinds
    repo.close()
