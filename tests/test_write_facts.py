"""Write facts (storage/cache.py ``WriteFacts``): what a commit read about the committed state
— the current branch, branch positions, declared search indexes, whether schemas exist — is
kept for the next commit of the same handle, and must be dropped whenever anything else
committed: another handle, another process, or this handle outside a commit.

Two handles on one file (and now and then a third process) make random histories; a dict
model says what every branch's key-value state must be and fsck checks every commit's parents,
state hash and ``superseded`` marks, which a stale branch position would break.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest.errors import SchemaViolation
from palimpsest.storage.cache import facts_of

SRC = Path(__file__).resolve().parents[1] / "src"
KEYS = ["/a", "/b"]

ops = st.lists(st.tuples(
    st.sampled_from(["kv_set", "kv_delete", "set_many", "put", "branch", "checkout", "other",
                     "other_process"]),
    st.integers(0, 1), st.booleans()), min_size=1, max_size=12)


def _kv(repo: Any, branch: str) -> dict[str, tuple[bytes, int]]:
    return {e.key: (e.value, e.version) for e in repo.kv.on(branch).list("/")}


@settings(max_examples=25, deadline=None)
@given(ops)
def test_two_handles_and_a_process_keep_every_commit_exact(
        tmp_path_factory: pytest.TempPathFactory, script: list[tuple[str, int, bool]]) -> None:
    path = tmp_path_factory.mktemp("facts") / "r.db"
    first = palimpsest.open(str(path), author="a@example.com")
    second = palimpsest.open(str(path), author="b@example.com")
    model: dict[str, dict[str, tuple[bytes, int]]] = {"main": {}}
    current = "main"
    try:
        for step, (op, n, via_first) in enumerate(script):
            writer = first if via_first else second
            key, value = KEYS[n], b"v%d" % step
            if op == "kv_set":
                old = model[current].get(key)
                entry = writer.kv.set(key, value)
                model[current][key] = (value, old[1] + 1 if old else 1)
                assert entry.version == model[current][key][1]
            elif op == "kv_delete":
                assert writer.kv.delete(key) == (key in model[current])
                model[current].pop(key, None)
            elif op == "set_many":
                writer.kv.set_many({k: value for k in KEYS})
                for k in KEYS:
                    old = model[current].get(k)
                    model[current][k] = (value, old[1] + 1 if old else 1)
            elif op == "put":
                writer.put_entity(f"e{n}", "T", {"step": step})
            elif op == "branch":
                name = f"b{step}"
                writer.create_branch(name)
                model[name] = dict(model[current])
                writer.kv.on(name).set(key, value)
                old = model[name].get(key)
                model[name][key] = (value, old[1] + 1 if old else 1)
            elif op == "checkout":
                names = sorted(model)
                current = names[n % len(names)]
                writer.checkout(current)  # the current branch is the repository's
            elif op == "other":  # a third handle in this process, opened and closed
                with palimpsest.open(str(path)) as third:
                    third.kv.set(key, value)
                old = model[current].get(key)
                model[current][key] = (value, old[1] + 1 if old else 1)
            elif op == "other_process":
                code = ("import sys, palimpsest; r = palimpsest.open(sys.argv[1]); "
                        "r.kv.set(sys.argv[2], sys.argv[3].encode())")
                subprocess.run([sys.executable, "-c", code, str(path), key, value.decode()],
                               check=True, env={"PYTHONPATH": str(SRC)})
                old = model[current].get(key)
                model[current][key] = (value, old[1] + 1 if old else 1)
            for branch, state in model.items():
                assert _kv(first, branch) == state, (step, op, branch)
        report = first.fsck()
        assert not report.problems, report.problems
    finally:
        first.close()
        second.close()


def test_a_schema_or_index_declared_elsewhere_applies_to_the_next_commit(tmp_path: Path
                                                                        ) -> None:
    path = str(tmp_path / "r.db")
    repo = palimpsest.open(path)
    repo.put_entity("ada", "Person", {"name": "Ada"})
    repo.put_entity("bob", "Person", {"name": "Bob"})  # facts kept: no schema, no index
    with palimpsest.open(path) as other:
        other.set_schema("Person", {"type": "object", "required": ["name"]})
        other.create_text_index("Person", ["name"])
    with pytest.raises(SchemaViolation):
        repo.put_entity("cy", "Person", {"nick": "Cy"})
    repo.put_entity("cy", "Person", {"name": "Cyrus"})
    assert [h.element.id for h in repo.head().search("Cyrus")] == ["cy"]


def test_a_schema_set_by_this_handle_applies_to_its_next_commit(tmp_path: Path) -> None:
    repo = palimpsest.open(str(tmp_path / "r.db"))
    repo.put_entity("ada", "Person", {"name": "Ada"})
    repo.put_entity("bob", "Person", {"name": "Bob"})
    repo.set_schema("Person", {"type": "object", "required": ["name"]})
    with pytest.raises(SchemaViolation):
        repo.put_entity("cy", "Person", {"nick": "Cy"})


def test_a_second_commit_reads_no_branch_or_index_again(tmp_path: Path) -> None:
    repo = palimpsest.open(str(tmp_path / "r.db"))
    repo.kv.set("/k", b"1")
    repo.kv.set("/k", b"2")
    statements: list[str] = []
    repo.database.tracer = lambda sql, params: statements.append(sql)
    assert repo.kv.set("/k", b"3").version == 3
    repo.database.tracer = None
    assert not [s for s in statements if any(f"FROM {t}" in s for t in ("meta", "refs", "search_indexes"))]
    assert facts_of(repo.database).known(repo.database) is None  # outside a write: nothing
