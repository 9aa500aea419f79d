"""Reads from a streaming replica (docs/postgres.md, "Read replicas").

Needs PALIMPSEST_TEST_POSTGRES (the primary) and PALIMPSEST_TEST_POSTGRES_REPLICA (a hot
standby of it, same database name; ``.ci/replica`` starts one). Without them the tests skip;
when the variable is set and the replica is unreachable, they fail.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

import palimpsest

pytest.importorskip("psycopg")

import psycopg

from conftest import POSTGRES_URL, drop_postgres_schema
from palimpsest.storage.postgres import PostgresDatabase, parse_url

REPLICA_URL = os.environ.get("PALIMPSEST_TEST_POSTGRES_REPLICA")
needs_replica = pytest.mark.skipif(
    not (POSTGRES_URL and REPLICA_URL),
    reason="needs PALIMPSEST_TEST_POSTGRES and PALIMPSEST_TEST_POSTGRES_REPLICA (.ci/run)")


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


@pytest.fixture
def schema() -> Iterator[str]:
    assert REPLICA_URL is not None
    with psycopg.connect(REPLICA_URL, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        assert row == (True,), f"{REPLICA_URL} is not a streaming replica"
    name = "t_" + uuid.uuid4().hex[:16]
    yield name
    drop_postgres_schema(name)


def _open(schema: str, **options: object) -> palimpsest.Repository:
    assert POSTGRES_URL is not None and REPLICA_URL is not None
    return palimpsest.open(_with_schema(POSTGRES_URL, schema), replicas=[REPLICA_URL],
                           **options)  # type: ignore[arg-type]


def _reads(repo: palimpsest.Repository) -> dict[str, int]:
    db = repo.database
    assert isinstance(db, PostgresDatabase) and db.replicas is not None
    return db.replicas.reads


@needs_replica
def test_a_read_right_after_a_commit_sees_it_and_is_served_by_the_replica(
        schema: str) -> None:
    with _open(schema) as repo:
        for i in range(10):
            commit = repo.put_entity(f"e{i}", type="T", props={"i": i})
            assert repo.head().entity(f"e{i}").props == {"i": i}  # type: ignore[union-attr]
            assert repo.log(limit=1)[0].id == commit.id
        served = dict(_reads(repo))
        assert served["replica"] > 0 and served["primary"] == 0
        db = repo.database
        with db.read():  # snapshots too
            assert db.one("SELECT pg_is_in_recovery()") == (True,)
            assert db.one("SELECT count(*) FROM commits") == (10,)
        repo.put_entity("w", type="T")  # writes go to the primary


@needs_replica
def test_a_lagging_replica_falls_back_to_the_primary_after_the_bound(schema: str) -> None:
    assert REPLICA_URL is not None
    with _open(schema) as repo, psycopg.connect(REPLICA_URL, autocommit=True) as standby:
        repo.put_entity("a", type="T")
        assert repo.head().entity("a") is not None
        db = repo.database
        assert isinstance(db, PostgresDatabase) and db.replicas is not None
        db.replicas.wait = 0.2
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            repo.put_entity("b", type="T", props={"v": 1})
            before = dict(_reads(repo))
            assert repo.head().entity("b").props == {"v": 1}  # type: ignore[union-attr]
            assert _reads(repo)["primary"] > before["primary"]
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
        for _ in range(500):  # back on the replica once it has replayed the commit
            before = dict(_reads(repo))
            assert repo.head().entity("b") is not None
            if _reads(repo)["replica"] > before["replica"] and \
                    _reads(repo)["primary"] == before["primary"]:
                break
        else:
            pytest.fail("reads never returned to the replica")


@needs_replica
def test_pinned_views_read_on_the_replica_exactly(schema: str) -> None:
    assert POSTGRES_URL is not None
    with palimpsest.open(_with_schema(POSTGRES_URL, schema)) as writer, _open(schema) as reader:
        commits = [writer.put_entity("k", type="T", props={"n": n}) for n in range(5)]
        for n, commit in enumerate(commits):
            for _ in range(2000):  # written by another handle: wait until replayed
                try:
                    view = reader.at(commit.id)
                    break
                except palimpsest.RefNotFound:
                    threading.Event().wait(0.005)
            assert view.entity("k").props == {"n": n}  # type: ignore[union-attr]
        assert _reads(reader)["replica"] > 0 and _reads(reader)["primary"] == 0


@needs_replica
def test_watch_on_a_replica_handle_delivers_commits(schema: str) -> None:
    assert POSTGRES_URL is not None
    with palimpsest.open(_with_schema(POSTGRES_URL, schema)) as writer, _open(schema) as reader:
        writer.put_entity("start", type="T")
        for _ in range(2000):  # another handle's commit: on the replica once replayed
            if reader.head().entity("start") is not None:
                break
            threading.Event().wait(0.005)
        with reader.watch("main", timeout=30) as events:
            made = [writer.put_entity(f"e{i}", type="T") for i in range(3)]
            got = []
            for commit in events:
                got.append(commit.id)
                if len(got) == len(made):
                    break
        assert got == [c.id for c in made]
        assert _reads(reader)["replica"] > 0


def test_replica_url_option_is_parsed_and_redacted() -> None:
    secret = "s3cret-Replica"
    replica = f"postgresql://ann:{secret}@standby.example:5433/kg"
    target = parse_url(f"postgresql://ann@db.example/kg?schema=s&replica={quote(replica, safe='')}"
                       "&replica_wait=0.5")
    assert target.replicas == (replica,) and target.replica_wait == 0.5
    assert secret not in target.display and "standby.example" in target.display
    assert "replica" not in target.conninfo
    with pytest.raises(palimpsest.InvalidValue, match="replica"):
        palimpsest.open(":memory:", replicas=[replica])
