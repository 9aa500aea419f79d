"""The read cache (storage/cache.py) never serves what an uncached read would not.

A handle with the cache and one without read the same file while random histories are made
through either (and through a third process): commits, branches, deletions, erasure and gc.
Every read of the cached handle — at the head of a branch and in Views held across the
changes — must equal the uncached handle's.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest.storage.cache import cache_of, copy_json

SRC = Path(__file__).resolve().parents[1] / "src"
KEYS = ["/a", "/b", "/c/d"]
IDS = ["e1", "e2", "e3"]


def _pair(path: Path) -> tuple[palimpsest.Repository, palimpsest.Repository]:
    cached = palimpsest.open(str(path), author="c@example.com")
    plain = palimpsest.open(str(path), author="p@example.com")
    cache_of(plain.database).configure(0)
    return cached, plain


def _state(repo: Any, view: Any = None) -> Any:
    """Everything the cache serves, read through ``repo`` (at its head) or ``view``."""
    kv = view.kv if view is not None else repo.kv
    source = view if view is not None else repo.head()
    return ([kv.get(k) for k in KEYS], [kv.version(k) for k in KEYS],
            [kv.exists(k) for k in KEYS], [source.entity(i) for i in IDS],
            [source.relation("r1")], [source.document("docs", "d")])


ops = st.lists(st.tuples(
    st.sampled_from(["kv_set", "kv_delete", "put", "delete", "relate", "doc", "branch",
                     "checkout", "erase", "gc", "view"]),
    st.integers(0, 2), st.booleans()), min_size=1, max_size=14)


@settings(max_examples=30, deadline=None)
@given(ops)
def test_cached_reads_equal_uncached_reads(tmp_path_factory: pytest.TempPathFactory,
                                           script: list[tuple[str, int, bool]]) -> None:
    path = tmp_path_factory.mktemp("cache") / "r.db"
    cached, plain = _pair(path)
    views: list[tuple[Any, Any]] = []
    try:
        for step, (op, n, via_cached) in enumerate(script):
            writer = cached if via_cached else plain
            if op == "kv_set":
                writer.kv.set(KEYS[n], b"v%d" % step)
            elif op == "kv_delete":
                writer.kv.delete(KEYS[n])
            elif op == "put":
                writer.put_entity(IDS[n], "T", {"step": step, "nested": {"n": [n]}})
            elif op == "delete" and writer.head().entity(IDS[n]) is not None:
                writer.delete_entity(IDS[n])
            elif op == "relate" and writer.head().entity("e1") and writer.head().entity("e2"):
                writer.put_relation("r1", "knows", "e1", "e2", {"step": step})
            elif op == "doc":
                with writer.transaction("doc") as tx:
                    tx.put_document("docs", "d", {"step": step})
            elif op == "branch":
                name = f"b{step}"
                writer.create_branch(name)
                writer.kv.on(name).set(KEYS[n], b"branch")
            elif op == "checkout":
                branches = [b.name for b in writer.branches()]
                writer.checkout(branches[n % len(branches)])
            elif op == "erase" and writer.head().entity(IDS[n]) is not None:
                writer.erase(IDS[n], reason="test")
            elif op == "gc":  # from a third handle: the Views held here are not pinned
                with palimpsest.open(str(path)) as third:
                    third.set_retention("*", keep_commits=1)
                    third.gc()
                    third.set_retention("*")
            elif op == "view" and plain.log():
                views.append((cached.head(), plain.head()))
            assert _state(cached) == _state(plain), (step, op)
            for mine, theirs in views:
                assert _state(cached, mine) == _state(plain, theirs), (step, op)
    finally:
        cached.close()
        plain.close()


def test_hot_reads_skip_sql_and_hand_out_copies(tmp_path: Path) -> None:
    repo = palimpsest.open(str(tmp_path / "r.db"))
    repo.put_entity("ada", "Person", {"langs": ["en"], "born": 1815})
    repo.kv.set("/k", b"1")
    view = repo.head()
    first = view.entity("ada")
    assert first is not None and repo.kv.get("/k") is not None
    statements: list[str] = []
    repo.database.tracer = lambda sql, params: statements.append(sql)
    again = view.entity("ada")
    entry = repo.kv.get("/k")
    repo.database.tracer = None
    assert statements == [] and again == first and entry is not None and entry.version == 1
    assert again is not None
    again.props["langs"].append("fr")  # the caller's copy: the cache keeps its own
    assert view.entity("ada").props == {"langs": ["en"], "born": 1815}  # type: ignore
    repo.kv.set("/k", b"2")  # this handle's commit: the head moved
    assert repo.kv.get("/k").version == 2  # type: ignore[union-attr]


def test_commits_from_another_process_are_seen(tmp_path: Path) -> None:
    path = str(tmp_path / "r.db")
    repo = palimpsest.open(path)
    repo.kv.set("/k", b"mine")
    repo.put_entity("x", "T", {"v": 1})
    view = repo.head()
    assert repo.kv.get("/k").value == b"mine"  # type: ignore[union-attr]
    assert view.entity("x").props == {"v": 1}  # type: ignore[union-attr]
    script = ("import sys, palimpsest; r = palimpsest.open(sys.argv[1]); "
              "r.kv.set('/k', b'theirs'); r.erase('x', reason='gdpr')")
    subprocess.run([sys.executable, "-c", script, path], check=True,
                   env={"PYTHONPATH": str(SRC)})
    assert repo.kv.get("/k").value == b"theirs"  # type: ignore[union-attr]
    erased = view.entity("x")  # an old View: erasure rewrote its row, the cache forgot it
    assert erased is not None and "@erased" in erased.props


def test_threads_see_each_others_commits(tmp_path: Path) -> None:
    repo = palimpsest.open(str(tmp_path / "r.db"))
    repo.kv.set("/n", b"0")
    seen: list[bytes] = []

    def reader() -> None:
        entry = repo.kv.get("/n")
        seen.append(entry.value if entry else b"")

    for i in range(1, 6):
        repo.kv.set("/n", b"%d" % i)
        thread = threading.Thread(target=reader)
        thread.start()
        thread.join()
        assert seen[-1] == b"%d" % i
        assert repo.kv.get("/n").value == b"%d" % i  # type: ignore[union-attr]


def test_in_memory_repositories_cache_too() -> None:
    repo = palimpsest.open(":memory:")
    repo.kv.set("/a", b"1")
    assert repo.kv.get("/a").value == b"1"  # type: ignore[union-attr]
    repo.kv.set("/a", b"2")
    assert repo.kv.get("/a").value == b"2"  # type: ignore[union-attr]
    repo.create_branch("b")
    repo.checkout("b")
    repo.kv.set("/a", b"on b")
    assert repo.kv.get("/a").value == b"on b"  # type: ignore[union-attr]


def test_cache_is_bounded() -> None:
    repo = palimpsest.open(":memory:")
    cache = cache_of(repo.database)
    cache.configure(10)
    repo.kv.set_many({f"/k{i}": b"x" for i in range(50)})
    for i in range(50):
        assert repo.kv.get(f"/k{i}") is not None
    assert cache.size() <= 10


def test_copy_json_is_deep() -> None:
    value = {"a": [1, {"b": [2]}], "c": "d"}
    copy = copy_json(value)
    copy["a"][1]["b"].append(3)
    assert value == {"a": [1, {"b": [2]}], "c": "d"}
