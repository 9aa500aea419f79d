"""The storage contract (``storage/base.py``: ``Database``), checked the same way on every
backend: SQLite in memory, a SQLite file and PostgreSQL (with ``PALIMPSEST_TEST_POSTGRES``).

Upper layers rely only on what is tested here and on ``Database.capabilities``; nothing above
the storage layer asks which backend it runs on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from palimpsest import InvalidKey, InvalidValue, LockTimeout, QueryTimeout
from palimpsest.storage import Database, open_database
from palimpsest.storage.base import Capabilities, lock_wait
from palimpsest.storage.schema import SCHEMA_VERSION, create_schema

SLOW = ("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 100000000) "
        "SELECT count(*) FROM c")


@pytest.fixture
def db(repo_url: str) -> Iterator[Database]:
    """A fresh database on each backend (conftest's ``repo_url``), with a scratch table."""
    database = open_database(repo_url)
    create_schema(database)
    database.script(f"CREATE TABLE t (k TEXT PRIMARY KEY, n {database.dialect.bigint})")
    yield database
    database.close()


def keys(db: Database) -> list[str]:
    return [str(r[0]) for r in db.all("SELECT k FROM t ORDER BY k")]


def test_capabilities_are_declared(db: Database) -> None:
    assert isinstance(db.capabilities, Capabilities)
    with pytest.raises(AttributeError):
        db.capabilities.vacuum = True  # type: ignore[misc]


def test_write_commits_and_an_error_rolls_back(db: Database) -> None:
    with db.write():
        assert db.in_write()
        assert db.run("INSERT INTO t (k, n) VALUES (?, ?)", ("a", 1)) == 1
        assert db.one("SELECT n FROM t WHERE k = ?", ("a",)) == (1,)  # sees its own rows
    assert not db.in_write()
    with pytest.raises(RuntimeError), db.write():
        db.run("INSERT INTO t (k, n) VALUES ('b', 2)")
        raise RuntimeError("boom")
    assert keys(db) == ["a"]
    with db.read():
        assert db.all("SELECT k, n FROM t") == [("a", 1)]
        assert not db.in_write()


def test_nested_write_is_a_savepoint_whose_rollback_keeps_the_outer_work(db: Database) -> None:
    with db.write():
        db.run("INSERT INTO t (k) VALUES ('outer')")
        with pytest.raises(RuntimeError), db.write():
            db.run("INSERT INTO t (k) VALUES ('inner')")
            with db.write():  # two levels deep
                db.run("INSERT INTO t (k) VALUES ('deeper')")
            raise RuntimeError("undo the inner level")
        with db.write():
            db.run("INSERT INTO t (k) VALUES ('kept')")
        assert keys(db) == ["kept", "outer"]
    assert keys(db) == ["kept", "outer"]
    with pytest.raises(RuntimeError), db.write():
        with db.write():
            db.run("INSERT INTO t (k) VALUES ('gone')")
        raise RuntimeError("the outer level rolls back everything")
    assert keys(db) == ["kept", "outer"]


def test_after_commit_runs_after_the_outermost_commit_in_order(db: Database) -> None:
    seen: list[str] = []

    def visible(name: str) -> None:  # other connections can see the commit already
        seen.append(name)
        assert db.one("SELECT 1 FROM t WHERE k = 'x'") is not None

    with db.write():
        db.run("INSERT INTO t (k) VALUES ('x')")
        db.after_commit(lambda: visible("first"))
        with db.write():
            db.after_commit(lambda: visible("nested"))
        with pytest.raises(RuntimeError), db.write():
            db.after_commit(lambda: seen.append("rolled back"))
            raise RuntimeError
        db.after_commit(lambda: visible("last"))
        assert seen == []
    assert seen == ["first", "nested", "last"]
    seen.clear()
    with pytest.raises(RuntimeError), db.write():
        db.after_commit(lambda: seen.append("never"))
        raise RuntimeError
    assert seen == []
    db.after_commit(lambda: seen.append("now"))  # outside a transaction: at once
    assert seen == ["now"]


def test_a_query_past_its_deadline_raises_query_timeout(db: Database) -> None:
    with pytest.raises(QueryTimeout), db.deadline(0.2):
        db.one(SLOW)
    with db.deadline(None):
        assert db.one("SELECT 1") == (1,)
    with pytest.raises(QueryTimeout), db.write(), db.deadline(0.2):
        db.run("INSERT INTO t (k) VALUES ('slow')")
        db.one(SLOW)
    assert keys(db) == []


def test_a_write_waiting_past_lock_wait_raises_lock_timeout(db: Database) -> None:
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with db.write():
            db.lock("contract")
            db.run("INSERT INTO t (k) VALUES ('holder')")
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(10)
        with lock_wait(0.3), pytest.raises(LockTimeout), db.write():
            db.lock("contract")
            db.run("INSERT INTO t (k) VALUES ('waiter')")
    finally:
        release.set()
        thread.join()
    assert keys(db) == ["holder"]


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb"])
def test_text_with_a_lone_surrogate_is_refused(db: Database, text: str) -> None:
    with pytest.raises(InvalidKey):
        db.one("SELECT k FROM t WHERE k = ?", (text,))
    with pytest.raises(InvalidKey), db.write():
        db.run("INSERT INTO t (k) VALUES (?)", (text,))
    with pytest.raises(InvalidKey), db.write():
        list(db.iterate("SELECT k FROM t WHERE k = ?", (text,)))  # PostgreSQL: a cursor
    with pytest.raises(InvalidKey):
        db.run("INSERT INTO t (k) VALUES (?)", (text,))
    for count in (1, 100):  # PostgreSQL: executemany, then COPY
        with pytest.raises(InvalidKey), db.write():
            db.many("INSERT INTO t (k) VALUES (?)", [(f"{i}{text}",) for i in range(count)])
    assert keys(db) == []


def test_64_bit_integers_are_the_bounds(db: Database) -> None:
    low, high = -2**63, 2**63 - 1
    with db.write():
        db.run("INSERT INTO t (k, n) VALUES ('low', ?)", (low,))
        db.run("INSERT INTO t (k, n) VALUES ('high', ?)", (high,))
    assert db.all("SELECT n FROM t ORDER BY n") == [(low,), (high,)]
    for number in (high + 1, low - 1, 2**80):
        with pytest.raises(InvalidValue), db.write():
            db.run("INSERT INTO t (k, n) VALUES ('big', ?)", (number,))
    assert keys(db) == ["high", "low"]


def test_iterate_many_and_script(db: Database) -> None:
    rows = [(f"k{i:04d}", i) for i in range(300)]  # past the PostgreSQL COPY threshold
    with db.write():
        db.many("INSERT INTO t (k, n) VALUES (?, ?)", rows[:10])
        db.many("INSERT INTO t (k, n) VALUES (?, ?)", iter(rows[10:]))
        db.many("INSERT INTO t (k, n) VALUES (?, ?)", [])
        assert list(db.iterate("SELECT k, n FROM t ORDER BY k")) == rows  # inside a write
    assert list(db.iterate("SELECT k, n FROM t ORDER BY k")) == rows
    with db.read():
        assert sum(1 for _ in db.iterate("SELECT k FROM t WHERE n >= ?", (150,))) == 150
    with db.write():
        db.script("CREATE TABLE u (a TEXT); CREATE INDEX u_a ON u (a);\n"
                  "INSERT INTO u (a) VALUES ('x')")
    assert db.all("SELECT a FROM u") == [("x",)]
    with pytest.raises(RuntimeError), db.write():
        db.script("CREATE TABLE v (a TEXT)")
        raise RuntimeError  # DDL rolls back with the transaction on both engines
    db.script("CREATE TABLE v (a TEXT)")


def test_schema_version_is_stored_and_reopening_keeps_it(db: Database, repo_url: str) -> None:
    row = db.one("SELECT value FROM meta WHERE name = 'schema_version'")
    assert row is not None and int(row[0]) == SCHEMA_VERSION
    create_schema(db)  # idempotent
    assert db.one("SELECT count(*) FROM meta WHERE name = 'schema_version'") == (1,)


def test_close_ends_the_handle(db: Database) -> None:
    db.run("INSERT INTO t (k) VALUES ('a')")
    db.close()
    with pytest.raises(Exception):  # noqa: B017 - each engine has its own closed error
        db.one("SELECT k FROM t")
    db.close()  # twice is harmless


def test_created_tells_a_new_repository_and_drop_deletes_it(repo_url: str) -> None:
    first = open_database(repo_url)
    assert first.created
    create_schema(first)
    first.run("INSERT INTO meta (name, value) VALUES ('contract', 'x')")
    if repo_url != ":memory:":  # a second handle on the same repository
        second = open_database(repo_url)
        assert not second.created
        second.close()
    first.drop()
    again = open_database(repo_url)
    try:
        assert again.created
        create_schema(again)
        assert again.one("SELECT value FROM meta WHERE name = 'contract'") is None
    finally:
        again.close()


def test_no_backend_checks_above_the_storage_layer() -> None:
    """Upper layers use capabilities and dialect methods, never the backend's identity."""
    import re
    from pathlib import Path

    import palimpsest

    root = Path(palimpsest.__file__).parent
    forbidden = re.compile(r"dialect\.name|SQLiteDatabase|PostgresDatabase|"
                           r"(hasattr|getattr)\([\w.]*(db|database)\b")
    found = [f"{path.relative_to(root)}:{number}: {line.strip()}"
             for path in sorted(root.rglob("*.py")) if "storage" not in path.parts
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if forbidden.search(line)]
    assert found == []
