"""A one-machine simulation of a distributed repository (docs/postgres.md, "Distributing a
repository"): ``rows`` and ``commits`` hash-partitioned by ``line`` (PostgreSQL declarative
partitioning standing in for Citus shards), read and written by unchanged palimpsest code.

``python -m benchmarks.bench_partitioned [--url postgresql://...] [--parts 8]``

It builds a repository (``main`` and 8 branches with their own commits), copies it (same ids)
into a second schema whose tables it then partitions, checks both give the same answers, and
reports, for typical reads and for one commit, which partitions each touched (``EXPLAIN
ANALYZE`` for the reads, ``pg_stat_xact_user_tables`` inside the commit's transaction) and the
point-read latency on both layouts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import palimpsest
from palimpsest.storage.postgres import PostgresDatabase, translate

_DEFAULT_URL = "postgresql://postgres@127.0.0.1/test"
_BRANCHES = 8


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def build(url: str) -> None:
    with palimpsest.open(url, author="bench@example.com") as repo:
        with repo.transaction("base") as tx:
            for i in range(200):
                tx.put_entity(f"e{i}", "Base", {"i": i})
        for b in range(_BRANCHES):
            repo.create_branch(f"b{b}")
        for c in range(20):
            for b in range(_BRANCHES):
                with repo.transaction(f"b{b} {c}", branch=f"b{b}") as tx:
                    for k in range(5):
                        tx.put_entity(f"k{b}-{(c * 5 + k) % 40}", "T", {"c": c, "k": k})
                    tx.put_entity(f"e{(b * 13 + c) % 200}", "Base", {"changed": c})


def partition(base_url: str, schema: str, parts: int) -> None:
    """Replace ``rows`` and ``commits`` by tables hash-partitioned on ``line``, same data."""
    import psycopg

    with psycopg.connect(base_url) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("ALTER TABLE rows RENAME TO rows_plain")
        conn.execute("ALTER TABLE commits RENAME TO commits_plain")
        conn.execute("CREATE TABLE rows (LIKE rows_plain INCLUDING DEFAULTS) "
                     "PARTITION BY HASH (line)")
        conn.execute("CREATE TABLE commits (LIKE commits_plain INCLUDING DEFAULTS) "
                     "PARTITION BY HASH (line)")
        for i in range(parts):
            for table in ("rows", "commits"):
                conn.execute(f"CREATE TABLE {table}_p{i} PARTITION OF {table} "
                             f"FOR VALUES WITH (MODULUS {parts}, REMAINDER {i})")
        conn.execute("INSERT INTO rows SELECT * FROM rows_plain")
        conn.execute("INSERT INTO commits SELECT * FROM commits_plain")
        conn.execute("CREATE SEQUENCE rows_rid_sim")
        conn.execute("SELECT setval('rows_rid_sim', (SELECT max(rid) FROM rows))")
        conn.execute("ALTER TABLE rows ALTER rid SET DEFAULT nextval('rows_rid_sim')")
        conn.execute("DROP TABLE rows_plain CASCADE")
        conn.execute("DROP TABLE commits_plain CASCADE")
        # the layout's keys, each leading with or including the partition key where it must
        for ddl in (
            "ALTER TABLE rows ADD PRIMARY KEY (rid, line)",
            "CREATE UNIQUE INDEX rows_key ON rows (kind, key, line, seq)",
            "CREATE INDEX rows_line_seq ON rows (line, seq)",
            "CREATE INDEX rows_type ON rows (kind, type, line, seq, superseded, op)",
            "CREATE INDEX rows_source ON rows (source, line, seq) WHERE source IS NOT NULL",
            "CREATE INDEX rows_target ON rows (target, line, seq) WHERE target IS NOT NULL",
            "ALTER TABLE commits ADD PRIMARY KEY (seq, line)",
            "CREATE INDEX commits_id ON commits (id)",  # unique per part only: see the docs
            "CREATE INDEX commits_line_time ON commits (line, time_us, seq)",
        ):
            conn.execute(ddl)
        conn.commit()


def _plan_parts(node: dict[str, Any], out: set[str]) -> None:
    name = node.get("Relation Name", "")
    if "_p" in name and node.get("Actual Loops", 0) > 0:
        out.add(name)
    for child in node.get("Plans", []):
        _plan_parts(child, out)


def _explained(conn: Any, sql: str, params: Any, analyze: bool) -> set[str]:
    option = "ANALYZE, " if analyze else ""
    plan = conn.execute(f"EXPLAIN ({option}FORMAT JSON) " + translate(sql), params).fetchone()
    assert plan is not None
    data = plan[0] if not isinstance(plan[0], str) else json.loads(plan[0])
    found: set[str] = set()
    if analyze:
        _plan_parts(data[0]["Plan"], found)
    else:  # no actual loops: every partition left in the plan after pruning counts
        _walk(data[0]["Plan"], found)
    return found


def _walk(node: dict[str, Any], out: set[str]) -> None:
    if "_p" in node.get("Relation Name", ""):
        out.add(node["Relation Name"])
    for child in node.get("Plans", []):
        _walk(child, out)


def touched(repo: palimpsest.Repository, action: Callable[[], object]) -> dict[str, list[str]]:
    """The partitions ``action`` touched: what its SELECTs scanned (``EXPLAIN ANALYZE``,
    runtime-pruned partitions excluded), what its UPDATEs may touch (the plan after pruning),
    and where the rows it INSERTed landed (``tableoid``)."""
    db = repo.database
    assert isinstance(db, PostgresDatabase)
    before = db.one("SELECT max(rid) FROM rows")
    statements: list[tuple[str, Any]] = []
    db.tracer = lambda sql, params: statements.append((sql, params))
    try:
        action()
    finally:
        db.tracer = None
    out: dict[str, set[str]] = {"read": set(), "update": set(), "insert": set()}
    with db.pool.connection() as conn:
        for sql, params in statements:
            head = sql.lstrip().upper()
            if head.startswith(("SELECT", "WITH")) and "pg_advisory" not in sql and \
                    "nextval" not in sql:
                out["read"] |= _explained(conn, sql, params, analyze=True)
            elif head.startswith("UPDATE ROWS"):  # a batch (no params traced): its line's
                line = repo.resolve("b3").line        # own rows, as commits write them
                out["update"] |= _explained(conn, sql, params or (0, 0, line), analyze=False)
        if before is not None and before[0] is not None:
            for table, where in (("rows", "rid > %s"),
                                 ("commits", "seq IN (SELECT seq FROM rows WHERE rid > %s)")):
                found = conn.execute(f"SELECT DISTINCT tableoid::regclass::text FROM {table} "
                                     f"WHERE {where}", (before[0],)).fetchall()
                out["insert"] |= {str(r[0]) for r in found}
    return {k: sorted(v) for k, v in out.items()}


def latency(repo: palimpsest.Repository, samples: int = 300) -> float:
    heads = [repo.resolve(f"b{b}") for b in range(_BRANCHES)]
    times = []
    for i in range(samples):
        view = repo.at(heads[i % len(heads)].id)
        start = time.perf_counter()
        view.entity(f"k{i % _BRANCHES}-{i % 40}")
        view.entity(f"e{(i * 7) % 200}")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _state(repo: palimpsest.Repository) -> dict[str, object]:
    return {f"b{b}": sorted((e.id, json.dumps(e.props, sort_keys=True))
                            for e in repo.at(f"b{b}").entities())
            for b in range(_BRANCHES)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_partitioned")
    p.add_argument("--url", default=None)
    p.add_argument("--parts", type=int, default=8)
    args = p.parse_args(argv)
    url = args.url or os.environ.get("PALIMPSEST_TEST_POSTGRES") or _DEFAULT_URL
    plain_schema, part_schema = ("bench_" + uuid.uuid4().hex[:12] for _ in range(2))
    plain_url, part_url = _with_schema(url, plain_schema), _with_schema(url, part_schema)
    try:
        build(plain_url)
        with palimpsest.open(plain_url) as plain:
            plain.copy_to(part_url)
        partition(url, part_schema, args.parts)
        with palimpsest.open(plain_url) as plain, palimpsest.open(part_url) as part:
            assert _state(plain) == _state(part), "the partitioned copy answers differently"
            line = {f"b{b}": part.resolve(f"b{b}").line for b in range(_BRANCHES)}
            print(f"{args.parts} hash partitions of rows and commits by line; branch b3 is "
                  f"line {line['b3']}, forked from main (line 1)\n")
            cases: list[tuple[str, Callable[[], object]]] = [
                ("point read at main's head", lambda: part.at("main").entity("e5")),
                ("point read at b3's head", lambda: part.at("b3").entity("k3-5")),
                ("b3 key listing (type T)", lambda: list(part.at("b3").entities(type="T"))),
                ("b3 pinned at a commit", lambda: part.at(part.log("b3", limit=3)[-1].id)
                 .entity("k3-2")),
            ]
            width = 34
            print(f"{'operation':<{width}}  partitions touched")
            for name, action in cases:
                part.at("main")  # warm the handle
                print(f"{name:<{width}}  {', '.join(touched(part, action)['read'])}")
            part.put_entity("k3-1", type="T", props={"warm": True}, branch="b3")
            commit = touched(part, lambda: part.put_entity(
                "k3-1", type="T", props={"again": True}, branch="b3"))
            print("one commit on b3 (by a writer whose caches hold the parent commit):")
            for what in ("read", "update", "insert"):
                print(f"{'  ' + what:<{width}}  {', '.join(commit[what])}")
            print(f"\npoint reads at branch heads (2 keys), median ms: plain "
                  f"{latency(plain):.2f}, partitioned {latency(part):.2f}")
    finally:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for schema in (plain_schema, part_schema):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
