"""Fuzzing every public input: each call works or raises a PalimpsestError subclass — never
another exception — and a failed write leaves no trace (no partial commit).

Inputs: ids, types, collections and keys (odd Unicode, control characters, lone surrogates,
very long), property values (huge and non-finite numbers, deep nesting, long strings), ref
expressions, query dicts, kv keys and values, branch and tag names, commit messages, authors,
metadata and timestamps, retention and erasure arguments. The limits exercised at their edges
are ``MAX_ID_BYTES``, ``MAX_DEPTH`` and ``MAX_VALUE_BYTES`` (docs/durability.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest import PalimpsestError, Repository
from palimpsest.codec import MAX_DEPTH, MAX_ID_BYTES, MAX_VALUE_BYTES

FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# every code point, lone surrogates and control characters included
ANY_CHAR = st.characters(exclude_categories=[])
odd_text = st.one_of(
    st.text(ANY_CHAR, max_size=20),
    st.sampled_from(["", " ", "main", "HEAD", "e0", "a\x00b", "\ud800", "😀" * 200, "x" * 600,
                     "\x1f", "a/b", "../x", "@", "~", "^", "main~1", "2024-01-01", "é"]),
    st.text(st.characters(codec="utf-8"), min_size=500, max_size=700),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.text(ANY_CHAR, max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_like: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.text(ANY_CHAR, max_size=8),
                                                      st.integers()), inner, max_size=4),
                            st.tuples(inner), st.sets(st.integers(), max_size=2)),
    max_leaves=12,
)
anything = st.one_of(json_like, odd_text, st.integers(), st.binary(max_size=10),
                     st.builtins() if hasattr(st, "builtins") else st.just(object()))
ref_text = st.one_of(
    odd_text,
    st.builds(lambda base, op, n: f"{base}{op}{n}",
              st.sampled_from(["main", "HEAD", "side", "v1", "abc123", "", "2024-01-02"]),
              st.sampled_from(["~", "^", "@", "..", "...", "~~", "^^", "@{"]),
              st.one_of(st.integers(min_value=-5, max_value=10**30).map(str), odd_text)),
    st.sampled_from(["9999-12-31", "0001-01-01T00:00:00Z", "2024-13-45", "main@2024-01-01",
                     "main@garbage", "main~99999999999999999999", "main^99", "0" * 64, "ab" * 40]),
)


def _repo() -> Repository:
    repo = palimpsest.open(":memory:", author="fuzz@example.com")
    with repo.transaction("seed", timestamp="2024-01-01T00:00:00Z") as tx:
        tx.put_entity("e0", "T", {"n": 0})
        tx.put_entity("e1", "T", {"n": 1, "s": "x"})
        tx.put_relation("r0", "R", "e0", "e1", {"w": 1})
        tx.put_document("docs", "d0", {"a": {"b": [1, 2]}})
    repo.put_entity("e2", "U", {"n": 2}, timestamp="2024-01-02T00:00:00Z")
    repo.tag("v1")
    repo.create_branch("side")
    repo.kv.set("/config/a", b"1")
    return repo


def _fingerprint(repo: Repository) -> tuple[Any, ...]:
    db = repo.database
    return (db.one("SELECT count(*), max(seq) FROM commits"),
            db.one("SELECT count(*), max(rid) FROM rows"),
            tuple(db.all("SELECT name, line, commit_seq FROM refs ORDER BY name")))


def attempt(repo: Repository, action: Callable[[], Any], *, writes: bool = True) -> Any:
    """Run ``action``: a PalimpsestError is fine (and then nothing may have changed);
    anything else fails the test."""
    before = _fingerprint(repo) if writes else None
    try:
        result = action()
        if hasattr(result, "__next__"):
            result = list(result)  # lazy readers must fail inside the attempt too
        return result
    except PalimpsestError:
        if writes:
            assert _fingerprint(repo) == before, "a failed call changed the repository"
        return None


REPO = _repo()


@pytest.fixture(autouse=True, scope="module")
def _checked() -> Any:
    yield
    report = REPO.fsck()
    assert report.ok, report.problems


@FUZZ
@given(id=odd_text, type=odd_text, props=anything)
def test_put_entity(id: Any, type: Any, props: Any) -> None:
    attempt(REPO, lambda: REPO.put_entity(id, type, props))
    attempt(REPO, lambda: REPO.head().entity(id), writes=False)
    attempt(REPO, lambda: REPO.history(id), writes=False)


@FUZZ
@given(id=st.one_of(st.sampled_from(["e0", "e1", "e2"]), odd_text), props=anything,
       type=st.one_of(st.none(), odd_text))
def test_update_entity(id: Any, props: Any, type: Any) -> None:
    attempt(REPO, lambda: REPO.update_entity(id, props, type=type))


@FUZZ
@given(id=odd_text, type=odd_text, ends=st.tuples(
    st.one_of(st.sampled_from(["e0", "e1"]), odd_text),
    st.one_of(st.sampled_from(["e1", "e2"]), odd_text)), props=anything)
def test_put_relation(id: Any, type: Any, ends: tuple[Any, Any], props: Any) -> None:
    attempt(REPO, lambda: REPO.put_relation(id, type, ends[0], ends[1], props))
    attempt(REPO, lambda: REPO.head().relations(source=ends[0]), writes=False)
    attempt(REPO, lambda: REPO.head().neighbors(ends[0], depth=2), writes=False)


@FUZZ
@given(collection=odd_text, key=odd_text, value=anything)
def test_put_document(collection: Any, key: Any, value: Any) -> None:
    attempt(REPO, lambda: REPO.put_document(collection, key, value))
    attempt(REPO, lambda: REPO.head().document(collection, key), writes=False)
    attempt(REPO, lambda: REPO.head().documents(collection), writes=False)


@FUZZ
@given(ops=st.lists(st.tuples(st.sampled_from(["put", "rel", "doc", "del", "upd"]), odd_text,
                              anything), min_size=1, max_size=6))
def test_failed_transactions_leave_nothing(ops: list[tuple[str, Any, Any]]) -> None:
    def run() -> None:
        with REPO.transaction("batch") as tx:
            for op, name, value in ops:
                if op == "put":
                    tx.put_entity(name, "T", value)
                elif op == "rel":
                    tx.put_relation(name, "R", "e0", name, value)
                elif op == "doc":
                    tx.put_document("docs", name, value)
                elif op == "del":
                    tx.delete_entity(name)
                else:
                    tx.update_entity(name, value)

    attempt(REPO, run)


@FUZZ
@given(ref=ref_text, other=ref_text)
def test_ref_expressions(ref: Any, other: Any) -> None:
    attempt(REPO, lambda: REPO.resolve(ref), writes=False)
    attempt(REPO, lambda: REPO.at(ref).to_dict(), writes=False)
    attempt(REPO, lambda: REPO.log(ref, limit=5), writes=False)
    attempt(REPO, lambda: REPO.diff(ref, other), writes=False)
    attempt(REPO, lambda: REPO.diff(f"{ref}...{other}"), writes=False)
    attempt(REPO, lambda: REPO.history("e0", ref), writes=False)


@FUZZ
@given(where=anything, type=st.one_of(st.sampled_from(["T", "docs"]), odd_text),
       order=st.one_of(st.none(), odd_text, st.lists(odd_text, max_size=2)),
       limit=st.one_of(st.none(), st.integers(min_value=-3, max_value=10**20), odd_text))
def test_queries(where: Any, type: Any, order: Any, limit: Any) -> None:
    view = REPO.head()
    attempt(REPO, lambda: view.entities(type=type, where=where), writes=False)
    attempt(REPO, lambda: view.query(type, where=where, order_by=order, limit=limit),
            writes=False)
    attempt(REPO, lambda: view.query("T", where={"n": where}), writes=False)
    attempt(REPO, lambda: view.aggregate(type, where=where, group_by=order), writes=False)


@FUZZ
@given(key=st.one_of(odd_text, odd_text.map(lambda t: "/" + t)), value=st.one_of(
    st.binary(max_size=64), odd_text, st.integers()), version=st.integers(-2, 2**70))
def test_kv(key: Any, value: Any, version: int) -> None:
    kv = REPO.kv
    attempt(REPO, lambda: kv.set(key, value))
    attempt(REPO, lambda: kv.get(key), writes=False)
    attempt(REPO, lambda: kv.compare_and_set(key, version, value))
    attempt(REPO, lambda: kv.create_if_not_exists(key, value))
    attempt(REPO, lambda: kv.list(key), writes=False)
    attempt(REPO, lambda: kv.delete(key, expected_version=version))


@FUZZ
@given(name=odd_text, start=ref_text)
def test_branch_and_tag_names(name: Any, start: Any) -> None:
    attempt(REPO, lambda: REPO.create_branch(name, start))
    attempt(REPO, lambda: REPO.tag(name, start, message="m"))
    attempt(REPO, lambda: REPO.checkout(name))
    attempt(REPO, lambda: REPO.checkout("main"))
    attempt(REPO, lambda: REPO.merge(name, into="side"))
    attempt(REPO, lambda: REPO.delete_branch(name))


@FUZZ
@given(message=anything, author=st.one_of(st.none(), odd_text), metadata=anything,
       timestamp=st.one_of(st.none(), odd_text, st.datetimes(), st.integers()))
def test_commit_metadata(message: Any, author: Any, metadata: Any, timestamp: Any) -> None:
    def run() -> None:
        with REPO.transaction(message, author=author, metadata=metadata,
                              timestamp=timestamp) as tx:
            tx.put_entity("meta-target", "T", {"m": 1 if tx.entity("meta-target") else 2})

    attempt(REPO, run)


@settings(FUZZ, max_examples=40)  # each example builds a repository and backs it up
@given(pattern=odd_text, keep=st.one_of(st.none(), odd_text, st.integers(-5, 10**20),
                                        st.floats(), st.timedeltas()),
       keep_commits=st.one_of(st.none(), st.integers(-5, 10**20), odd_text),
       reason=anything, element=st.one_of(st.none(), odd_text))
def test_maintenance_arguments(tmp_path_factory: pytest.TempPathFactory, pattern: Any,
                               keep: Any, keep_commits: Any, reason: Any,
                               element: Any) -> None:
    repo = _repo()
    # backups only ever go inside a scratch directory, whatever the fuzzed name
    scratch = tmp_path_factory.mktemp("fuzz")
    name = pattern.replace("/", "_").replace("\\", "_") if isinstance(pattern, str) else "x"
    attempt(repo, lambda: repo.set_retention(pattern, keep, keep_commits=keep_commits))
    attempt(repo, lambda: repo.gc())
    attempt(repo, lambda: repo.erase(pattern, reason=reason, element=element))
    attempt(repo, lambda: repo.erase("e1", reason=reason, element=element))
    attempt(repo, lambda: repo.backup(str(scratch) + os.sep + name), writes=False)
    assert repo.fsck().ok
    repo.close()


# -- the documented limits, at their edges -----------------------------------------------------
def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_limits_at_their_edges() -> None:
    repo = _repo()
    repo.put_entity("x" * MAX_ID_BYTES, "T")
    with pytest.raises(palimpsest.InvalidKey):
        repo.put_entity("x" * (MAX_ID_BYTES + 1), "T")
    with pytest.raises(palimpsest.InvalidKey):
        repo.put_entity("é" * (MAX_ID_BYTES // 2 + 1), "T")  # bytes, not characters
    repo.put_entity("deep", "T", {"v": _nested(MAX_DEPTH - 1)})
    with pytest.raises(palimpsest.InvalidValue):
        repo.put_entity("deep", "T", {"v": _nested(MAX_DEPTH + 1)})
    with pytest.raises(palimpsest.InvalidValue):
        repo.put_entity("deeper", "T", {"v": _nested(100_000)})  # no RecursionError
    with pytest.raises(palimpsest.InvalidValue):
        repo.put_document("docs", "huge", "x" * (MAX_VALUE_BYTES + 1))
    for bad in (math.nan, math.inf, -math.inf, 2**64, -(2**63) - 1):
        with pytest.raises(palimpsest.InvalidValue):
            repo.put_entity("n", "T", {"v": bad})
    repo.put_entity("n", "T", {"v": 2**63 - 1, "w": -(2**63), "f": 1e308, "z": -0.0})
    assert repo.head().entity("n").props["v"] == 2**63 - 1
    assert repo.fsck().ok
