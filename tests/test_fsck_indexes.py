"""fsck sees corrupt indexes: the engine's own check runs as part of fsck, and
``repair_indexes=True`` rebuilds damaged indexes from their tables.

A damaged index is dangerous precisely because palimpsest's value hashes cannot see it: a read
through it misses a row (or finds another) while every value it does return is intact.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import palimpsest
from conftest import POSTGRES_URL, _postgres_url, drop_postgres_schema
from palimpsest import Repository
from palimpsest.storage import integrity


def _fill(repo: Repository) -> None:
    with repo.transaction("base") as tx:
        for name in ("ada", "bob", "cyd", "dan", "eve"):
            tx.put_entity(name, "Person", {"name": name.title()})
        tx.put_relation("k1", "KNOWS", "ada", "bob")
    repo.update_entity("bob", {"age": 36})


def _corrupt_index_page(path: Path, index: str, old: bytes, new: bytes) -> None:
    """Overwrite bytes inside the b-tree pages of ``index`` in the closed SQLite file (the
    index is small: its root page is its only page)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (index,)
                        ).fetchone()[0]
    pages = conn.execute("SELECT count(*) FROM dbstat WHERE name = ?", (index,)).fetchone()[0]
    conn.close()
    assert pages == 1
    data = bytearray(path.read_bytes())
    start = (root - 1) * page_size
    page = bytes(data[start:start + page_size])
    at = page.find(old)
    assert at >= 0, f"{old!r} not in the root page of {index}"
    data[start + at:start + at + len(new)] = new
    path.write_bytes(bytes(data))


def test_a_corrupt_sqlite_index_page_is_found_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "kg.db"
    repo = palimpsest.open(path)
    _fill(repo)
    assert repo.fsck().ok and repo.fsck().engine_check == "integrity_check"
    repo.close()
    # the key 'ada' in the unique (kind, key, line, seq) index now says 'adb'
    _corrupt_index_page(path, "rows_key", b"ada", b"adb")
    repo = palimpsest.open(path)
    assert repo.head().entity("ada") is None  # a wrong answer, and no hash can see it
    report = repo.fsck()
    assert not report.ok
    assert {p.check for p in report.details} == {"index"}
    assert {p.name for p in report.details} == {"rows_key"}
    assert "repair_indexes" in report.problems[0]
    repaired = repo.fsck(repair_indexes=True)
    assert repaired.ok, repaired.problems
    assert repaired.repaired_indexes == ["rows_key"]
    assert repo.head().entity("ada").props == {"name": "Ada"}
    assert repo.fsck().ok
    repo.close()


def test_quick_fsck_skips_the_engine_check(tmp_path: Path) -> None:
    path = tmp_path / "kg.db"
    repo = palimpsest.open(path)
    _fill(repo)
    repo.close()
    _corrupt_index_page(path, "rows_key", b"cyd", b"cyz")
    repo = palimpsest.open(path)
    quick = repo.fsck(last=1)
    assert quick.engine_check is None and quick.ok
    assert not repo.fsck().ok
    repo.close()


def test_cli_fsck_reports_and_repairs_a_corrupt_index(tmp_path: Path) -> None:
    from palimpsest.cli import app

    path = tmp_path / "kg.db"
    repo = palimpsest.open(path)
    _fill(repo)
    repo.close()
    _corrupt_index_page(path, "rows_key", b"eve", b"evf")
    runner = CliRunner()
    result = runner.invoke(app, ["--repo", str(path), "fsck"])
    assert result.exit_code == 1
    assert "rows_key" in result.output
    result = runner.invoke(app, ["--repo", str(path), "fsck", "--repair-indexes"])
    assert result.exit_code == 0, result.output
    assert "rebuilt" in result.output and "rows_key" in result.output
    assert runner.invoke(app, ["--repo", str(path), "fsck"]).exit_code == 0


# -- PostgreSQL -------------------------------------------------------------------------------
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="needs PALIMPSEST_TEST_POSTGRES")


@pytest.fixture
def pg_repo() -> Iterator[Repository]:
    schema = "t_" + uuid.uuid4().hex[:16]
    repo = palimpsest.open(_postgres_url(schema))
    _fill(repo)
    yield repo
    repo.close()
    drop_postgres_schema(schema)


def _admin(sql: str) -> None:
    import psycopg

    assert POSTGRES_URL is not None
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql)


def _amcheck_available() -> bool:
    import psycopg

    if not POSTGRES_URL:
        return False
    with psycopg.connect(POSTGRES_URL) as conn:
        return conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'"
                            ).fetchone() is not None


def _lying_index(repo: Repository) -> str:
    """An index on a function declared IMMUTABLE whose result then changes: afterwards the
    stored index entries no longer match what the table's rows compute — the same state as an
    index damaged on disk or built under another collation. (PostgreSQL offers no SQL to
    damage a plain index page; the file-level test below does that when it can.)"""
    schema = getattr(repo.database, "schema")  # noqa: B009
    _admin(f'CREATE FUNCTION "{schema}".tag(k text) RETURNS text LANGUAGE sql IMMUTABLE '
           "AS $$ SELECT 'v1:' || k $$")
    _admin(f'CREATE INDEX rows_tag ON "{schema}".rows ("{schema}".tag(key))')
    _admin(f'CREATE OR REPLACE FUNCTION "{schema}".tag(k text) RETURNS text LANGUAGE sql '
           "IMMUTABLE AS $$ SELECT 'v2:' || k $$")
    return "rows_tag"


@needs_postgres
def test_postgres_index_disagreeing_with_its_table_is_found_and_rebuilt(
        pg_repo: Repository) -> None:
    if not _amcheck_available():
        pytest.skip("the amcheck extension is not available on this server")
    _admin("CREATE EXTENSION IF NOT EXISTS amcheck")  # database-wide, in public
    assert pg_repo.fsck().ok and pg_repo.fsck().engine_check == "amcheck"
    name = _lying_index(pg_repo)
    report = pg_repo.fsck()
    assert [p.name for p in report.details] == [name], report.problems
    assert report.details[0].check == "index"
    repaired = pg_repo.fsck(repair_indexes=True)
    assert repaired.ok and repaired.repaired_indexes == [name]


@needs_postgres
def test_postgres_invalid_index_is_reported_and_rebuilt(pg_repo: Repository) -> None:
    """An index left invalid (what an interrupted CREATE INDEX CONCURRENTLY leaves) is not
    used by the planner and must be rebuilt; fsck says so whichever check method runs."""
    schema = getattr(pg_repo.database, "schema")  # noqa: B009
    _admin(f"UPDATE pg_index SET indisvalid = false WHERE indexrelid = "
           f"'\"{schema}\".rows_line_seq'::regclass")
    for use_amcheck in (True, False):
        found = integrity.check(pg_repo.database, use_amcheck=use_amcheck)
        assert [name for name, _ in found.problems] == ["rows_line_seq"]
    assert not pg_repo.fsck().ok
    assert pg_repo.fsck(repair_indexes=True).ok


@needs_postgres
def test_postgres_comparison_check_without_amcheck(pg_repo: Repository) -> None:
    """Without amcheck, each plain B-tree index is read through an index-only scan and
    compared with a sequential scan of its table; on a healthy repository they agree, and
    expression indexes are listed as unchecked rather than passed silently."""
    found = integrity.check(pg_repo.database, use_amcheck=False)
    assert found.method == "index-scan comparison" and not found.problems
    _lying_index(pg_repo)
    found = integrity.check(pg_repo.database, use_amcheck=False)
    assert "rows_tag" in found.unchecked


def _data_file(repo: Repository, index: str) -> Path | None:
    """The index's file, when this process can write the server's data directory (a local
    server run by the same machine's superuser); None otherwise."""
    row = repo.database.one("SELECT current_setting('data_directory'), "
                            "pg_relation_filepath(?::regclass)", (index,))
    if row is None:
        return None
    path = Path(row[0]) / row[1]
    return path if path.exists() and os.access(path, os.W_OK) else None


@needs_postgres
def test_postgres_index_page_damaged_on_disk(pg_repo: Repository) -> None:
    """Real damage: bytes of a freshly rebuilt index file overwritten on disk (a B-tree build
    writes its pages straight to the file, so the server reads the damaged page back). Only
    where the test can write the server's files; both check methods must see it."""
    db = pg_repo.database
    schema = getattr(db, "schema")  # noqa: B009
    with db.write():
        db.run(f'REINDEX INDEX "{schema}".rows_key')
    path = _data_file(pg_repo, f'"{schema}".rows_key')
    if path is None:
        pytest.skip("the server's data directory is not writable from this process")
    data = bytearray(path.read_bytes())
    at = data.find(b"ada", 8192)  # past the metapage
    assert at > 0
    data[at:at + 3] = b"adb"
    path.write_bytes(bytes(data))
    for use_amcheck in (_amcheck_available(), False):
        if use_amcheck:
            _admin("CREATE EXTENSION IF NOT EXISTS amcheck")
        found = integrity.check(db, use_amcheck=use_amcheck)
        assert "rows_key" in [name for name, _ in found.problems], found
    repaired = pg_repo.fsck(repair_indexes=True)
    assert repaired.ok and "rows_key" in repaired.repaired_indexes
    assert pg_repo.head().entity("ada") is not None
