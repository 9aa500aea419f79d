"""Serializability of concurrent transactions, checked against a serial model.

Two transactions start on the same head and make random reads and (often conditional) writes
of every kind; the first commits, then the second either commits or raises ConcurrentCommit.
If the second committed, what it read must be what it would have read running after the first
(replayed serially in a fresh repository), and the committed state must equal the serial
state: no write skew, no lost update, no stale read. If it conflicted, the state must be the
first transaction's alone.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest import F, QueryError, Transaction

IDS = st.sampled_from(["e0", "e1", "e2"])
TYPES = st.sampled_from(["A", "B"])
RELS = st.sampled_from(["r0", "r1", "r2"])
KEYS = st.sampled_from(["/a/0", "/a/1", "/b/0"])
PREFIXES = st.sampled_from(["/a/", "/b/", "/"])
COLLS = st.sampled_from(["c0", "c1"])
DOCS = st.sampled_from(["k0", "k1"])
N = st.integers(0, 2)

READS = st.one_of(
    st.tuples(st.just("get"), IDS),
    st.tuples(st.just("rels_from"), IDS),
    st.tuples(st.just("rels_to"), IDS),
    st.tuples(st.just("rels_of_type"), st.sampled_from(["K", "L"])),
    st.tuples(st.just("count"), TYPES),
    st.tuples(st.just("entities"), TYPES, N),
    st.tuples(st.just("neighbors"), IDS, st.integers(1, 2)),
    st.tuples(st.just("count_rel")),
    st.tuples(st.just("kv_list"), PREFIXES),
    st.tuples(st.just("kv_get"), KEYS),
    st.tuples(st.just("docs"), COLLS),
    st.tuples(st.just("query"), COLLS),
)
WRITES = st.one_of(
    st.tuples(st.just("put"), IDS, TYPES, N),
    st.tuples(st.just("del"), IDS),
    st.tuples(st.just("rel"), RELS, IDS, IDS, st.sampled_from(["K", "L"])),
    st.tuples(st.just("unrel"), RELS),
    st.tuples(st.just("kv_set"), KEYS, N),
    st.tuples(st.just("kv_del"), KEYS),
    st.tuples(st.just("doc"), COLLS, DOCS, N),
    st.tuples(st.just("undoc"), COLLS, DOCS),
)
OPS = st.lists(st.one_of(READS, WRITES), min_size=1, max_size=8)


def apply(tx: Transaction, op: tuple[Any, ...]) -> Any:
    """Run one op; return what it observed (reads, and whether a conditional write ran)."""
    name, *args = op
    if name == "get":
        e = tx.entity(args[0])
        return e and (e.type, e.props)
    if name == "rels_from":
        return [(r.id, r.target, r.type) for r in tx.relations(source=args[0])]
    if name == "rels_to":
        return [(r.id, r.source, r.type) for r in tx.relations(target=args[0])]
    if name == "rels_of_type":
        return [(r.id, r.source, r.target) for r in tx.relations(type=args[0])]
    if name == "count":
        return tx.count(args[0])
    if name == "entities":
        return [e.id for e in tx.entities(args[0], where={"n": args[1]})]
    if name == "neighbors":
        return [(e.id, e.props) for e in tx.neighbors(args[0], depth=args[1])]
    if name == "count_rel":
        return tx.count_relations()
    if name == "kv_list":
        return [(e.key, e.value, e.version) for e in tx.kv.list(args[0])]
    if name == "kv_get":
        entry = tx.kv.get(args[0])
        return entry and (entry.value, entry.version)
    if name == "docs":
        return [(d.key, d.value) for d in tx.documents(args[0])]
    if name == "query":
        try:
            return [d.key for d in tx.query(args[0], F("n") > 0, kind="document")]
        except QueryError as exc:
            return f"error: {str(exc)[:30]}"
    if name == "put":
        tx.put_entity(args[0], args[1], {"n": args[2]})
        return None
    if name == "del":
        if tx.entity(args[0]) is None:
            return False
        tx.delete_entity(args[0])
        return True
    if name == "rel":
        rid, source, target, type = args
        if tx.entity(source) is None or tx.entity(target) is None:
            return False
        tx.put_relation(rid, type, source, target)
        return True
    if name == "unrel":
        if tx.relation(args[0]) is None:
            return False
        tx.delete_relation(args[0])
        return True
    if name == "kv_set":
        return tx.kv.set(args[0], bytes([args[1]])).version
    if name == "kv_del":
        return tx.kv.delete(args[0])
    if name == "doc":
        tx.put_document(args[0], args[1], {"n": args[2]})
        return None
    if name == "undoc":
        if tx.document(args[0], args[1]) is None:
            return False
        tx.delete_document(args[0], args[1])
        return True
    raise AssertionError(name)


def run(repo: palimpsest.Repository, ops: list[tuple[Any, ...]]) -> list[Any]:
    with repo.transaction() as tx:
        return [apply(tx, op) for op in ops]


def state(repo: palimpsest.Repository) -> Any:
    head = repo.head()
    return head.to_dict(), [(e.key, e.value, e.version) for e in head.kv.list("/")]


@settings(max_examples=int(os.environ.get("PALIMPSEST_HYPOTHESIS_EXAMPLES", "150")),
          deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.lists(WRITES, max_size=10), first=OPS, second=OPS, split=st.integers(0, 8))
def test_two_concurrent_transactions_are_serializable(
        seed: list[tuple[Any, ...]], first: list[tuple[Any, ...]],
        second: list[tuple[Any, ...]], split: int) -> None:
    repo = palimpsest.open(":memory:")
    serial = palimpsest.open(":memory:")
    try:
        base = [("put", "e0", "A", 0), ("put", "e1", "B", 1), ("put", "e2", "A", 1),
                ("rel", "r0", "e0", "e1", "K")]
        for target in (repo, serial):
            run(target, base + seed)
            target.put_document("c0", "base", {"n": 1})  # so "c0" exists for queries
        one, two = repo.transaction("one"), repo.transaction("two")
        seen_two = [apply(two, op) for op in second[:split]]
        with one:
            seen_one = [apply(one, op) for op in first]
        seen_two += [apply(two, op) for op in second[split:]]
        try:
            with two:
                pass
            landed = True
        except palimpsest.ConcurrentCommit:
            landed = False
        event("the second landed" if landed else "the second conflicted")
        assert run(serial, first) == seen_one
        if landed:
            assert run(serial, second) == seen_two, "the second read what no serial order gives"
        assert state(repo) == state(serial)
    finally:
        repo.close()
        serial.close()


@pytest.mark.slow  # a server per example: about a second each
@settings(max_examples=int(os.environ.get("PALIMPSEST_HYPOTHESIS_EXAMPLES", "60")),
          deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.lists(WRITES, max_size=10), first=OPS, second=OPS, split=st.integers(0, 8))
def test_remote_transactions_are_serializable(
        seed: list[tuple[Any, ...]], first: list[tuple[Any, ...]],
        second: list[tuple[Any, ...]], split: int) -> None:
    """The same property through the HTTP client: a remote transaction sends its read set
    with its writes and the server checks it like an embedded one. (A remote transaction that
    wrote nothing sends nothing: it read one snapshot, so it is serializable before the
    first.)"""
    pytest.importorskip("fastapi")
    import warnings

    from palimpsest.remote import connect
    from palimpsest.server import create_app
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    local = palimpsest.open(":memory:")
    serial = palimpsest.open(":memory:")
    try:
        repo = connect("http://testserver",
                       http_client=TestClient(create_app(local, no_auth=True)))
        base = [("put", "e0", "A", 0), ("put", "e1", "B", 1), ("put", "e2", "A", 1),
                ("rel", "r0", "e0", "e1", "K")]
        for target in (repo, serial):
            run(target, base + seed)  # type: ignore[arg-type]
            target.put_document("c0", "base", {"n": 1})
        one, two = repo.transaction("one"), repo.transaction("two")
        seen_two = [apply(two, op) for op in second[:split]]  # type: ignore[arg-type]
        with one:
            seen_one = [apply(one, op) for op in first]  # type: ignore[arg-type]
        seen_two += [apply(two, op) for op in second[split:]]  # type: ignore[arg-type]
        try:
            with two:
                pass
            landed = True
        except palimpsest.ConcurrentCommit:
            landed = False
        event("the second landed" if landed else "the second conflicted")
        assert run(serial, first) == seen_one
        if landed and two.ops:
            assert run(serial, second) == seen_two, "the second read what no serial order gives"
        assert state(repo) == state(serial)  # type: ignore[arg-type]
    finally:
        local.close()
        serial.close()
