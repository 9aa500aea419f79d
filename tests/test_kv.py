"""The key-value state: keys, versions, compare-and-set, transactions, past states, and
exact concurrency from threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import palimpsest
from palimpsest import Entry, InvalidKey, InvalidValue, ReadOnly, VersionConflict

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.mark.parametrize("key, reason", [
    ("config", "start with '/'"),
    ("/", "empty segment"),
    ("/a//b", "empty segment"),
    ("/a/", "empty segment"),
    ("/a/../b", "'..'"),
    ("/a/./b", "'.'"),
    ("/a/\x00", "control character"),
    ("/a\nb", "control character"),
    ("/" + "x" * 1024, "limit is 1024"),
    (42, "string"),
])
def test_invalid_keys_say_why(repo: palimpsest.Repository, key: object, reason: str) -> None:
    with pytest.raises(InvalidKey, match=reason):
        repo.kv.set(key, b"x")  # type: ignore[arg-type]
    assert repo.log() == []


def test_valid_keys(repo: palimpsest.Repository) -> None:
    for key in ("/a", "/a/b-c/d_e.f", "/ünï/cødé", "/" + "x" * 1023, "/a/...", "/a/*b"):
        assert repo.kv.set(key, b"1").key == key
        assert repo.kv.get(key) is not None


def test_versions_grow_and_restart_after_delete(repo: palimpsest.Repository) -> None:
    kv = repo.kv
    assert kv.get("/c") is None and kv.version("/c") == 0 and not kv.exists("/c")
    first = kv.set("/c", b"one")
    assert isinstance(first, Entry) and first.version == 1
    assert first.created_at == first.updated_at == repo.head().commit.timestamp
    second = kv.set("/c", b"one")  # same bytes: still a write, as in etcd
    third = kv.set("/c", b"three")
    assert (second.version, third.version) == (2, 3)
    entry = kv.get("/c")
    assert entry is not None
    assert (entry.value, entry.version, entry.commit) == (b"three", 3, repo.head().commit.id)
    assert entry.created_at == first.created_at and entry.updated_at >= second.updated_at
    assert "/c" in kv and kv.version("/c") == 3
    assert kv.delete("/c") is True
    assert kv.get("/c") is None and kv.version("/c") == 0
    commits = len(repo.log(limit=None))
    assert kv.delete("/c") is False  # nothing to delete: no commit
    assert len(repo.log(limit=None)) == commits
    again = kv.set("/c", b"again")
    assert again.version == 1 and again.created_at > first.created_at


def test_each_write_is_one_commit_with_history(repo: palimpsest.Repository) -> None:
    kv = repo.kv
    kv.set("/h", b"a", message="first", author="ops@example.com")
    kv.set("/h", b"b")
    kv.delete("/h")
    log = repo.log(limit=None)
    assert [c.message for c in log] == ["kv delete /h", "kv set /h", "first"]
    assert log[-1].author == "ops@example.com"
    history = repo.history("/h", element="kv")
    assert [(v.kind, v.value) for v in history] == [("deleted", None), ("modified", b"b"),
                                                    ("created", b"a")]
    changes = repo.changes(log[1])
    assert [(c.element, c.id, c.old, c.new) for c in changes] == [("kv", "/h", b"a", b"b")]


def test_values_are_bytes_and_json_helpers(repo: palimpsest.Repository) -> None:
    kv = repo.kv
    with pytest.raises(InvalidValue, match="bytes"):
        kv.set("/v", "text")  # type: ignore[arg-type]
    kv.set("/v", bytearray(b"\x00\xff binary"))
    assert kv.get("/v").value == b"\x00\xff binary"  # type: ignore[union-attr]
    kv.set_json("/j", {"replicas": 3, "zone": "eu"})
    assert kv.get_json("/j") == {"replicas": 3, "zone": "eu"}
    assert kv.get_json("/missing", default=7) == 7
    with pytest.raises(InvalidValue, match="not JSON"):
        kv.get_json("/v")
    with pytest.raises(InvalidValue):
        kv.set_json("/j", {"bad": float("nan")})


def test_list_in_key_order_with_pages(repo: palimpsest.Repository) -> None:
    kv = repo.kv
    for key in ("/b/2", "/a/1", "/b/1", "/b/10", "/ba/1", "/b", "/c"):
        kv.set(key, key.encode())
    assert kv.keys() == ["/a/1", "/b", "/b/1", "/b/10", "/b/2", "/ba/1", "/c"]
    assert kv.keys("/b/") == ["/b/1", "/b/10", "/b/2"]
    assert kv.keys("/b") == ["/b", "/b/1", "/b/10", "/b/2", "/ba/1"]
    assert [e.value for e in kv.list("/b/")] == [b"/b/1", b"/b/10", b"/b/2"]
    page1 = kv.list("/", limit=3)
    page2 = kv.list("/", limit=3, start_after=page1[-1].key)
    page3 = kv.list("/", limit=3, start_after=page2[-1].key)
    assert [e.key for e in page1 + page2 + page3] == kv.keys()
    assert kv.count("/b/") == 3
    kv.delete("/b/10")
    assert kv.keys("/b/") == ["/b/1", "/b/2"]
    with pytest.raises(InvalidKey):
        kv.list("b/")


def test_compare_and_set_and_create(repo: palimpsest.Repository) -> None:
    kv = repo.kv
    assert kv.create_if_not_exists("/lock", b"me").version == 1
    with pytest.raises(VersionConflict) as info:
        kv.create_if_not_exists("/lock", b"you")
    assert (info.value.key, info.value.expected, info.value.found) == ("/lock", 0, 1)
    assert kv.compare_and_set("/lock", 1, b"me2").version == 2
    before = len(repo.log(limit=None))
    with pytest.raises(VersionConflict) as info:
        kv.compare_and_set("/lock", 1, b"stale")
    assert (info.value.expected, info.value.found) == (1, 2)
    assert kv.get("/lock").value == b"me2"  # type: ignore[union-attr]
    assert len(repo.log(limit=None)) == before
    assert kv.compare_and_set("/new", 0, b"x").version == 1  # 0: must be missing
    with pytest.raises(VersionConflict):
        kv.delete("/lock", expected_version=1)
    assert kv.delete("/lock", expected_version=2)


def test_transaction_all_or_nothing(repo: palimpsest.Repository) -> None:
    kv = repo.kv
    kv.set("/t/a", b"1")
    kv.set("/t/a", b"2")
    kv.set("/t/gone", b"x")
    commit = kv.transaction([
        kv.check_version("/t/a", 2), kv.check_exists("/t/gone"), kv.check_missing("/t/b"),
        kv.op_set("/t/a", b"3"), kv.op_set("/t/b", b"new"), kv.op_delete("/t/gone"),
        kv.op_delete("/t/never"),
    ], message="txn")
    assert commit is not None and commit.message == "txn"
    assert repo.head().commit == commit
    assert kv.get("/t/a").version == 3 and kv.get("/t/b").version == 1  # type: ignore[union-attr]
    assert not kv.exists("/t/gone")
    before = repo.head().commit
    with pytest.raises(VersionConflict, match=r"check 1 failed: check_exists\('/t/gone'\)") \
            as info:
        kv.transaction([kv.check_version("/t/a", 3), kv.check_exists("/t/gone"),
                        kv.op_set("/t/a", b"4"), kv.op_set("/t/c", b"c")])
    assert info.value.key == "/t/gone"
    with pytest.raises(VersionConflict, match="check 0"):
        kv.transaction([kv.check_missing("/t/a"), kv.op_delete("/t/a")])
    assert repo.head().commit == before
    assert kv.get("/t/a").value == b"3" and not kv.exists("/t/c")  # type: ignore[union-attr]
    with pytest.raises(InvalidValue, match="twice"):
        kv.transaction([kv.op_set("/t/a", b"x"), kv.op_delete("/t/a")])
    with pytest.raises(InvalidValue):
        kv.transaction(["/t/a"])  # type: ignore[list-item]
    assert kv.transaction([kv.check_exists("/t/a")]) is None  # only checks: no commit


def test_past_states_and_branches_are_readable(repo: palimpsest.Repository) -> None:
    kv = repo.kv
    kv.set("/cfg", b"v1")
    tagged = repo.tag("v1").commit
    kv.set("/cfg", b"v2")
    old = repo.at("v1").kv
    assert old.read_only and old.get("/cfg").value == b"v1"  # type: ignore[union-attr]
    assert old.version("/cfg") == 1 and old.keys() == ["/cfg"]
    with pytest.raises(ReadOnly):
        old.set("/cfg", b"x")
    with pytest.raises(ReadOnly):
        old.transaction([old.op_delete("/cfg")])
    assert repo.at(tagged.id).kv.get("/cfg").value == b"v1"  # type: ignore[union-attr]
    repo.create_branch("exp")
    exp = kv.on("exp")
    exp.set("/cfg", b"exp")
    exp.set("/only-exp", b"1")
    assert kv.get("/cfg").value == b"v2" and not kv.exists("/only-exp")  # type: ignore[union-attr]
    assert exp.get("/cfg").version == 3  # type: ignore[union-attr]
    assert repo.at("exp").kv.keys() == ["/cfg", "/only-exp"]
    repo.checkout("exp")
    assert repo.kv.get("/cfg").value == b"exp"  # type: ignore[union-attr]


def test_concurrent_compare_and_set_threads(repo: palimpsest.Repository) -> None:
    """Several threads race CAS on one key: each version is won exactly once."""
    repo.kv.set("/counter", b"0")
    wins: list[int] = []
    conflicts = [0]
    lock = threading.Lock()

    def worker() -> None:
        kv = repo.kv
        for _ in range(15):
            entry = kv.get("/counter")
            assert entry is not None
            try:
                kv.compare_and_set("/counter", entry.version,
                                   str(int(entry.value) + 1).encode())
            except VersionConflict:
                with lock:
                    conflicts[0] += 1
                continue
            with lock:
                wins.append(entry.version)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = repo.kv.get("/counter")
    assert final is not None
    assert sorted(wins) == list(range(1, len(wins) + 1))  # each version won once
    assert final.version == len(wins) + 1 and int(final.value) == len(wins)
    assert len(wins) + conflicts[0] == 60


_CAS_WORKER = """
import sys, palimpsest
repo = palimpsest.open(sys.argv[1], author=sys.argv[2] + "@example.com")
wins = 0
for _ in range(int(sys.argv[3])):
    entry = repo.kv.get("/counter")
    try:
        repo.kv.compare_and_set("/counter", entry.version, str(int(entry.value) + 1).encode(),
                                metadata={"won": entry.version})
    except palimpsest.VersionConflict:
        continue
    wins += 1
print(wins)
"""


def _python(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE,
                            text=True, env={"PYTHONPATH": str(SRC), "PATH": ""})


@pytest.mark.slow
def test_concurrent_compare_and_set_processes(tmp_path: Path) -> None:
    """Processes race CAS on one SQLite file: exactly one wins per version, nothing lost."""
    path = str(tmp_path / "cas.db")
    repo = palimpsest.open(path)
    repo.kv.set("/counter", b"0")
    procs = [_python(_CAS_WORKER, path, f"w{i}", "25") for i in range(3)]
    wins = sum(int(p.communicate(timeout=120)[0]) for p in procs)
    assert all(p.returncode == 0 for p in procs)
    final = repo.kv.get("/counter")
    assert final is not None
    assert int(final.value) == wins and final.version == wins + 1
    won = sorted(c.metadata["won"] for c in repo.log(limit=None) if "won" in c.metadata)
    assert won == list(range(1, wins + 1))
    assert repo.fsck().ok
    repo.close()


def test_kv_is_visible_in_diff_and_state_hash(repo: palimpsest.Repository) -> None:
    repo.kv.set("/d", b"1")
    a = repo.head().commit
    repo.kv.set("/d", b"2")
    diff = repo.diff(a.id)
    assert [(c.element, c.id, c.kind) for c in diff.changes] == [("kv", "/d", "modified")]
    assert repo.head().commit.state_hash != a.state_hash
    assert time.time() > 0
