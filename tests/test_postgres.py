"""PostgreSQL-specific behaviour: many writers, killed writers, dropped connections, schemas,
notifications, and errors that never show a password.

The conformance suite runs on PostgreSQL through the ``backend`` fixture; this file covers
what only a shared server has. Tests needing a server skip without PALIMPSEST_TEST_POSTGRES
and fail when it is set but the server is unreachable.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

import palimpsest
from palimpsest import DatabaseUnavailable, InvalidValue

pytest.importorskip("psycopg")

from conftest import POSTGRES_URL, drop_postgres_schema
from palimpsest.storage.postgres import (
    PostgresDatabase,
    adapt_ddl,
    parse_url,
    translate,
)

needs_server = pytest.mark.skipif(
    not POSTGRES_URL, reason="needs PALIMPSEST_TEST_POSTGRES=postgresql://... (.ci/run sets it)")
SECRET = "s3cret-Pa55word"


# -- pure helpers (no server) ------------------------------------------------------------
def test_placeholders_and_percent_signs_are_translated() -> None:
    sql = "SELECT a FROM t WHERE b = ? AND c LIKE '50%' AND d = '?' AND e IN (?, ?)"
    assert translate(sql) == ("SELECT a FROM t WHERE b = %s AND c LIKE '50%%' AND d = '?' "
                              "AND e IN (%s, %s)")


def test_sqlite_index_hint_plus_is_dropped_but_arithmetic_kept() -> None:
    sql = "SELECT max(seq) + 1 FROM rows r WHERE r.source IN (?) AND +r.kind = 'r'"
    assert translate(sql) == "SELECT max(seq) + 1 FROM rows r WHERE r.source IN (%s) AND " \
                             "r.kind = 'r'"


def test_text_columns_get_bytewise_collation() -> None:
    ddl = "CREATE TABLE x (name TEXT PRIMARY KEY, note TEXT, kind TEXT COLLATE \"C\")"
    assert adapt_ddl(ddl).count('COLLATE "C"') == 3


def test_url_options_and_redaction() -> None:
    target = parse_url(f"postgresql://ann:{SECRET}@db.example:6543/kg?schema=team_a"
                       "&pool_size=3&sslmode=disable")
    assert (target.host, target.port, target.dbname, target.schema, target.pool_size) == \
        ("db.example", "6543", "kg", "team_a", 3)
    assert "schema" not in target.conninfo and "sslmode=disable" in target.conninfo
    assert SECRET not in target.display and SECRET not in target.where
    assert "db.example:6543" in target.where and "'kg'" in target.where


@pytest.mark.parametrize("schema", ["1abc", "a-b", "x;drop", "a" * 64])
def test_bad_schema_names_are_refused(schema: str) -> None:
    with pytest.raises(InvalidValue, match="schema"):
        parse_url(f"postgresql://u@h/db?schema={schema}")


# -- helpers for server tests ------------------------------------------------------------
def _url(schema: str, password: str | None = None) -> str:
    assert POSTGRES_URL is not None
    base = POSTGRES_URL
    if password:
        parts = urlsplit(base)
        netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}" + \
            (f":{parts.port}" if parts.port else "")
        base = parts._replace(netloc=netloc).geturl()
    return f"{base}{'&' if '?' in base else '?'}schema={schema}"


@pytest.fixture
def pg_schema() -> Iterator[str]:
    name = "t_" + uuid.uuid4().hex[:16]
    yield name
    drop_postgres_schema(name)


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    return _url(pg_schema)


def _terminate(pid: int) -> None:
    import psycopg

    assert POSTGRES_URL is not None
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(100):  # wait until the backend is really gone
            if conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                            (pid,)).fetchone() is None:
                return
            time.sleep(0.02)


# -- schemas, URLs, errors ---------------------------------------------------------------
@needs_server
def test_schema_option_keeps_repositories_apart(pg_url: str) -> None:
    other = "t_" + uuid.uuid4().hex[:16]
    try:
        with palimpsest.open(pg_url) as a, palimpsest.open(_url(other)) as b:
            a.put_entity("only-in-a", type="T")
            b.put_entity("only-in-b", type="T")
            assert a.head().entity("only-in-b") is None
            assert b.head().entity("only-in-a") is None
            assert len(a.log()) == len(b.log()) == 1
    finally:
        drop_postgres_schema(other)


@needs_server
def test_reopening_keeps_everything(pg_url: str) -> None:
    with palimpsest.open(pg_url) as repo:
        first = repo.put_entity("a", type="T", props={"n": 1})
        repo.create_branch("dev")
    with palimpsest.open(pg_url) as again:
        assert again.resolve("main").id == first.id
        assert [b.name for b in again.branches()] == ["dev", "main"]


@needs_server
def test_password_is_never_shown(pg_schema: str) -> None:
    url = _url(pg_schema, SECRET)  # trust auth: the password is accepted and ignored
    with palimpsest.open(url) as repo:
        assert SECRET not in repo.url and SECRET not in repr(repo)
        assert "***" in repo.url
    host = urlsplit(POSTGRES_URL).hostname
    bad_db = url.replace("/test?", "/no_such_database_xyz?") if "/test?" in url else None
    if bad_db is not None:
        with pytest.raises(DatabaseUnavailable) as err:
            palimpsest.open(bad_db)
        assert "no_such_database_xyz" in str(err.value) and SECRET not in str(err.value)
    refused = f"postgresql://postgres:{SECRET}@{host}:1/somedb?connect_timeout=2"
    with pytest.raises(DatabaseUnavailable) as err:
        palimpsest.open(refused)
    text = str(err.value)
    assert f"{host}:1" in text and "'somedb'" in text and SECRET not in text
    assert SECRET not in repr(err.value.__cause__) if err.value.__cause__ else True


# -- isolation and locking ---------------------------------------------------------------
@needs_server
def test_readers_never_block_writers_and_keep_their_snapshot(pg_url: str) -> None:
    reader = palimpsest.open(pg_url)
    writer = palimpsest.open(pg_url)
    try:
        writer.put_entity("a", type="T", props={"v": 1})
        db = reader.database
        with db.read():
            view = reader.head()
            done = threading.Event()
            thread = threading.Thread(target=lambda: (writer.put_entity(
                "a", type="T", props={"v": 2}), done.set()))
            thread.start()
            thread.join(30)
            assert done.is_set()  # the commit landed while the read transaction was open
            row = db.one("SELECT count(*) FROM commits")
            assert row is not None and row[0] == 1  # the snapshot does not move
            assert view.entity("a").props == {"v": 1}  # type: ignore[union-attr]
        assert reader.head().entity("a").props == {"v": 2}  # type: ignore[union-attr]
    finally:
        reader.close()
        writer.close()


@needs_server
def test_writers_on_other_branches_pass_and_same_branch_waits(pg_url: str) -> None:
    holder = palimpsest.open(pg_url)
    other = palimpsest.open(pg_url)
    try:
        holder.put_entity("base", type="T")
        holder.create_branch("a")
        holder.create_branch("b")
        db = holder.database
        same = threading.Thread(target=lambda: other.put_entity("x", type="T", branch="a"))
        with db.write():
            db.lock("branch:a")  # as a commit to 'a' in progress does
            elsewhere = threading.Thread(
                target=lambda: other.put_entity("y", type="T", branch="b"))
            elsewhere.start()
            elsewhere.join(30)
            assert not elsewhere.is_alive()  # branch b was not blocked
            same.start()
            same.join(0.3)
            assert same.is_alive()  # branch a waits for the lock holder
        same.join(30)
        assert not same.is_alive()
        assert holder.at("a").entity("x") is not None
        assert holder.at("b").entity("y") is not None
    finally:
        holder.close()
        other.close()


@needs_server
def test_notifications_reach_other_handles(pg_url: str) -> None:
    listener = palimpsest.open(pg_url)
    writer = palimpsest.open(pg_url)
    try:
        db = listener.database
        assert isinstance(db, PostgresDatabase)
        assert db.wait_for_notification(0.05) is False
        timer = threading.Timer(0.2, lambda: writer.put_entity("n", type="T"))
        timer.start()
        assert db.wait_for_notification(30) is True
        timer.join()
        assert listener.head().entity("n") is not None
        seen: list[int | None] = []
        got = threading.Event()

        def note(seq: int | None) -> None:
            seen.append(seq)
            if seq is not None:
                got.set()

        unsubscribe = db.on_notification(note)
        commit = writer.put_entity("m", type="T")
        assert got.wait(30)  # the payload is the new commit's seq
        unsubscribe()
        assert commit.seq in seen
    finally:
        listener.close()
        writer.close()


# -- many writers ------------------------------------------------------------------------
_WORKER = textwrap.dedent("""
    import sys
    import palimpsest

    url, me, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    repo = palimpsest.open(url, author=f"worker{me}@example.com")
    for i in range(count):
        def change(tx, i=i):
            if i % 5 == 0:  # a read-modify-write: conflicts, and is retried
                counter = tx.entity("counter")
                tx.put_entity("counter", "Counter", {"n": counter.props["n"] + 1})
            tx.put_entity(f"w{me}-{i}", "Item", {"worker": me, "i": i})
        repo.run_transaction(change, message=f"worker {me} item {i}", retries=10_000)
    repo.close()
    print("done")
""")


def _replay(repo: palimpsest.Repository, commits: list[palimpsest.Commit]
            ) -> palimpsest.Repository:
    """Re-apply each commit's changes, with its author, message and time, to a new SQLite
    repository: equal state hashes (and ids) mean nothing was lost or reordered."""
    copy = palimpsest.open(":memory:")
    for commit in commits:
        with copy.transaction(commit.message, author=commit.author, metadata=commit.metadata,
                              timestamp=commit.timestamp) as tx:
            for change in repo.changes(commit):
                assert change.element == "entity"
                if change.new is None:
                    tx.delete_entity(change.id)
                else:
                    tx.put_entity(change.id, change.new.type, change.new.props)
    return copy


@needs_server
@pytest.mark.slow
def test_four_processes_commit_to_one_branch_without_losing_anything(pg_url: str) -> None:
    workers, each = 4, 250
    with palimpsest.open(pg_url) as repo:
        start = repo.put_entity("counter", type="Counter", props={"n": 0},
                                message="start", author="setup@example.com")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, pg_url, str(w), str(each)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
             for w in range(workers)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert out.strip() == b"done"
    with palimpsest.open(pg_url) as repo:
        log = list(reversed(repo.log(limit=None)))
        assert len(log) == 1 + workers * each
        assert log[0].id == start.id
        assert {c.line for c in log} == {start.line}  # one line
        seqs = [c.seq for c in log]
        assert seqs == sorted(set(seqs))  # increasing along the line, no duplicate
        for parent, child in itertools.pairwise(log):
            assert child.parents == (parent.id,)  # each on top of the latest head
        head = repo.head()
        assert head.entity("counter").props == {"n": workers * each // 5}  # type: ignore
        items = {e.id for e in head.entities(type="Item")}
        assert items == {f"w{w}-{i}" for w in range(workers) for i in range(each)}
        replay = _replay(repo, log)
        assert replay.head().commit.state_hash == head.commit.state_hash  # type: ignore
        assert replay.head().commit.id == head.commit.id  # type: ignore[union-attr]
        assert repo.fsck().problems == []


# -- failures ----------------------------------------------------------------------------
_KILLED = textwrap.dedent("""
    import sys, time
    import palimpsest

    repo = palimpsest.open(sys.argv[1])

    def stall(sql, params):
        if sql.startswith("INSERT INTO commits"):  # rows written, commit not yet
            print("inside", flush=True)
            time.sleep(600)

    repo.database.tracer = stall
    with repo.transaction("never lands") as tx:
        for i in range(300):
            tx.put_entity(f"k{i}", "T", {"i": i})
""")


@needs_server
@pytest.mark.slow
def test_killed_writer_leaves_repository_consistent(pg_url: str) -> None:
    with palimpsest.open(pg_url) as repo:
        before = repo.put_entity("a", type="T", props={"n": 1})
        rows_before = repo.database.one("SELECT count(*) FROM rows")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, pg_url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"inside"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    with palimpsest.open(pg_url) as repo:
        assert repo.resolve("main").id == before.id
        assert repo.database.one("SELECT count(*) FROM rows") == rows_before
        assert repo.head().entity("k1") is None
        after = repo.put_entity("b", type="T")  # the dead writer's locks are gone
        assert after.parents == (before.id,)
        assert repo.fsck().problems == []


@needs_server
def test_connection_dropped_mid_commit_writes_nothing_and_next_call_reconnects(
        pg_url: str) -> None:
    with palimpsest.open(pg_url) as repo:
        first = repo.put_entity("a", type="T")
        db = repo.database
        assert isinstance(db, PostgresDatabase)

        def cut(sql: str, params: object) -> None:
            if sql.startswith("INSERT INTO commits"):
                bound = db._bound()
                assert bound is not None
                _terminate(bound.conn.info.backend_pid)

        db.tracer = cut
        with pytest.raises(DatabaseUnavailable) as err, repo.transaction("dropped") as tx:
            tx.put_entity("b", type="T")
        db.tracer = None
        host = urlsplit(POSTGRES_URL).hostname or ""
        assert host in str(err.value) and "database" in str(err.value)
        assert repo.resolve("main").id == first.id
        assert repo.head().entity("b") is None
        second = repo.put_entity("c", type="T")
        assert second.parents == (first.id,)
        assert repo.fsck().problems == []


@needs_server
def test_idle_pooled_connection_killed_by_the_server_is_replaced(pg_url: str) -> None:
    with palimpsest.open(pg_url) as repo:
        repo.put_entity("a", type="T")
        db = repo.database
        assert isinstance(db, PostgresDatabase)
        with db.pool.connection() as conn:
            pid = conn.info.backend_pid
        _terminate(pid)
        assert repo.head().entity("a") is not None  # a read retries on a new connection
        with db.pool.connection() as conn:
            pid = conn.info.backend_pid
        _terminate(pid)
        assert repo.put_entity("b", type="T").parents  # so does starting a transaction


@needs_server
def test_concurrent_first_open_creates_the_schema_once(pg_url: str) -> None:
    errors: list[BaseException] = []
    handles: list[palimpsest.Repository] = []

    def opener() -> None:
        try:
            handles.append(palimpsest.open(pg_url))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        assert len(handles) == 4
        assert handles[0].database.one("SELECT count(*) FROM refs") == (1,)
    finally:
        for handle in handles:
            handle.close()


# -- parity with SQLite ------------------------------------------------------------------
def test_text_keys_sort_bytewise_on_every_backend(repo: palimpsest.Repository) -> None:
    ids = ["b", "B", "a", "_x", "é", "z", "Z", "10", "9", "a b", "a-b"]
    with repo.transaction("ids") as tx:
        for ident in ids:
            tx.put_entity(ident, type="T")
    assert [e.id for e in repo.head().entities()] == sorted(ids)


def test_numeric_filters_compare_numbers_on_every_backend(
        repo: palimpsest.Repository) -> None:
    with repo.transaction("nums") as tx:
        tx.put_entity("n9", type="T", props={"n": 9})
        tx.put_entity("n10", type="T", props={"n": 10})
        tx.put_entity("s10", type="T", props={"n": "10"})
        tx.put_entity("f", type="T", props={"n": 10.0})
    assert sorted(e.id for e in repo.head().entities(where={"n": 10})) == ["f", "n10"]
    assert [e.id for e in repo.head().entities(where={"n": "10"})] == ["s10"]
