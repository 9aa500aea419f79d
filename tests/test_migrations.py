"""Schema migrations: a database written by schema version 1 (checked in, made by
tests/data/make_schema_v1.py) opens, migrates in one transaction and keeps every id and hash."""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

import palimpsest
from conftest import POSTGRES_URL, drop_postgres_schema
from palimpsest import SchemaVersionError
from palimpsest.storage import schema

V1 = Path(__file__).resolve().parent / "data" / "schema_v1.db"

# Golden values: the first-parent history of main and the draft branch in schema_v1.db.
MAIN = [
    ("48e1af062baf9cf28d143a4929030b8bdd7c2bc423c06fffdb141c9f2b10102b",
     "e7cb2b12ecd7acf94e983ef7562a492ff73bd5dd0f26d4455ae9c4a978b01379", "Back to v1.0"),
    ("06b472747d06be55e5357b3f9ee7d71379a9b02343ef55f6ddb7c15c18720697",
     "5ee6beb4f68743850fd50663ec5d9abe84d45b1777aa93e3281cc082541b81ec", "Put document notes/n2"),
    ("e08657de16666865348304cb0e0bcf5f558d1eb3aa7971e45f0c09ff42905c5b",
     "731df2ec4706e6e3d4a230f3c821b2fd4416c0be65d7142fb34c14528fa69c6d", "Remove Charles"),
    ("c2c16a237209aede92d8c01f2b2c45417b7f1ce6d19f517fcd3f904bc1539b58",
     "e7cb2b12ecd7acf94e983ef7562a492ff73bd5dd0f26d4455ae9c4a978b01379", "Ada's title"),
    ("82545d4a45bbf03b77090d89d2b66446f6d1f7086be1ea19ff8ededc81913286",
     "a761e6bed2570a68136ba8ea3ad9a1c2017bd99f3858fe017ebd421f5484784c", "Initial graph"),
]
DRAFT = ("b94898b79c14b1d488bec09fd9ae065d1a353dee5b87dcb479668b3c1275807e",
         "23bf5f5080c4c13b33d711df1a92d85756ebc6de866cfce5f24f2b27c37f9c22")


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    """A copy of the checked-in v1 file (opening switches it to WAL: never touch the original)."""
    target = tmp_path / "old.db"
    shutil.copyfile(V1, target)
    return target


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT value FROM meta WHERE name = 'schema_version'")
                   .fetchone()[0])
    finally:
        conn.close()


def test_fixture_is_schema_v1() -> None:
    assert _version(V1) == 1


def test_v1_file_migrates_and_keeps_ids_and_hashes(old_file: Path) -> None:
    repo = palimpsest.open(old_file)
    assert _version(old_file) == schema.SCHEMA_VERSION
    assert [(c.id, c.state_hash, c.message) for c in repo.log(limit=None)] == MAIN
    draft = repo.resolve("draft")
    assert (draft.id, draft.state_hash) == DRAFT
    report = repo.fsck()
    assert report.ok, report.problems
    head = repo.head()
    assert head.entity("ada").props == {"born": 1815, "name": "Ada Lovelace",
                                        "tags": ["math", "poetry"], "title": "Countess"}
    assert head.relation("ada-engine").props == {"year": 1843}
    assert head.document("notes", "n1").value["unicode"] == "Ünïcødé ✓ 𝔘"
    assert repo.at("main~2").entity("charles") is None
    assert repo.at("draft").entity("babbage-2") is not None
    assert repo.at("v1.0").entity("ada").props["title"] == "Countess"
    assert [t.name for t in repo.tags()] == ["v1.0"]
    # version-2 features work on the migrated file
    repo.set_retention("main", keep_commits=2)
    repo.gc()
    repo.erase("ada", reason="migration test")
    assert repo.fsck().ok
    repo.close()


def test_migration_is_one_transaction(old_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(db: object) -> None:
        raise RuntimeError("migration step failed")

    monkeypatch.setitem(schema.MIGRATIONS, 1, broken)
    with pytest.raises(RuntimeError):
        palimpsest.open(old_file)
    assert _version(old_file) == 1
    conn = sqlite3.connect(old_file)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert "pruned" not in tables and "erasures" not in tables  # nothing half-applied
    monkeypatch.undo()
    assert palimpsest.open(old_file).fsck().ok


def test_reopening_a_migrated_file_is_a_no_op(old_file: Path) -> None:
    palimpsest.open(old_file).close()
    assert schema.migrate(palimpsest.open(old_file).database) == schema.SCHEMA_VERSION


def test_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    palimpsest.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match="99"):
        palimpsest.open(path)


def test_every_migration_step_exists() -> None:
    assert set(schema.MIGRATIONS) == set(range(1, schema.SCHEMA_VERSION))


# -- schema 2 -> 3: binary commit ids, room for provenance and valid time ---------------------

_V2_COMMITS = """CREATE TABLE commits (
    seq {bigint} PRIMARY KEY, id TEXT NOT NULL UNIQUE, line {bigint} NOT NULL,
    parents TEXT NOT NULL, author TEXT NOT NULL, message TEXT NOT NULL,
    time_us {bigint} NOT NULL, metadata TEXT NOT NULL, stats TEXT NOT NULL,
    state_hash {blob} NOT NULL)"""


def _downgrade_to_v2(db: Any) -> None:
    """Rewrite a schema-4 database into the schema-2 layout (hex ids, JSON parents, no
    provenance/valid-time columns, no provenance table), as palimpsest 2 wrote it."""
    import orjson

    with db.write():
        db.run("DROP INDEX rows_provenance")
        db.run("DROP TABLE provenance")
        db.run("DROP INDEX rows_type")  # schema 3 ends it with the valid-time columns
        for column in ("provenance", "valid_from", "valid_to"):
            db.run(f"ALTER TABLE rows DROP COLUMN {column}")
        db.run("CREATE INDEX rows_type ON rows (kind, type, line, seq, superseded, op)")
        db.run("DROP INDEX commits_line_time")
        db.run("ALTER TABLE commits RENAME TO commits_v3")
        db.run(_V2_COMMITS.format(bigint=db.dialect.bigint, blob=db.dialect.blob))
        db.run("CREATE INDEX commits_line_time ON commits (line, time_us, seq)")
        for seq, cid, line, parents, *rest in db.all(
                "SELECT seq, id, line, parents, author, message, time_us, metadata, stats, "
                "state_hash FROM commits_v3"):
            raw = bytes(parents)
            hexes = [raw[i:i + 32].hex() for i in range(0, len(raw), 32)]
            db.run("INSERT INTO commits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (seq, bytes(cid).hex(), line, orjson.dumps(hexes).decode(), *rest))
        db.run("DROP TABLE commits_v3")
        db.run("DROP TABLE type_counts")  # schema 4
        db.run("UPDATE meta SET value = '2' WHERE name = 'schema_version'")


def _history(repo: palimpsest.Repository) -> None:
    with repo.transaction("people") as tx:
        tx.put_entity("ada", "Person", {"name": "Ada", "born": 1815})
        tx.put_entity("charles", "Person", {"name": "Charles"})
        tx.put_relation("knows", "KNOWS", "ada", "charles", {"since": 1833})
        tx.put_document("notes", "n1", {"text": "Ünïcødé"})
    repo.create_branch("draft")
    with repo.transaction("draft work", branch="draft") as tx:
        tx.update_entity("ada", {"title": "Countess"})
    repo.kv.set("/cfg/a", b"1")
    with repo.transaction("remove Charles") as tx:
        tx.delete_entity("charles")
    repo.merge("draft", message="merge draft")
    repo.tag("v1", "main")


def _migrates_keeping_archive(url: str, tmp_path: Path, cleanup: Any = None) -> None:
    repo = palimpsest.open(url, author="tester")
    _history(repo)
    before = tmp_path / "before.jsonl"
    repo.export(before)
    log = [(c.id, c.parents, c.state_hash) for c in repo.log(limit=None)]
    _downgrade_to_v2(repo.database)
    repo.close()
    repo = palimpsest.open(url)
    try:
        assert int(repo.database.one("SELECT value FROM meta WHERE name = 'schema_version'")
                   [0]) == schema.SCHEMA_VERSION
        assert [(c.id, c.parents, c.state_hash) for c in repo.log(limit=None)] == log
        after = tmp_path / "after.jsonl"
        repo.export(after)
        assert after.read_bytes() == before.read_bytes()  # archives are byte-identical
        assert repo.fsck().ok
        assert repo.resolve(log[0][0][:10]).id == log[0][0]  # prefixes resolve on bytes
        assert repo.head().entity("ada").props["title"] == "Countess"
        with repo.transaction("after migration") as tx:
            tx.put_entity("grace", "Person", {"name": "Grace"})
        assert repo.fsck().ok
    finally:
        repo.close()
        if cleanup is not None:
            cleanup()


def test_v2_file_migrates_to_v3_keeping_ids_and_archive(tmp_path: Path) -> None:
    _migrates_keeping_archive(str(tmp_path / "v2.db"), tmp_path)


def _postgres_schema() -> tuple[str, Any]:
    """A URL of a fresh PostgreSQL schema, and what drops it."""
    name = f"mig_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in str(POSTGRES_URL) else "?"
    return f"{POSTGRES_URL}{sep}schema={name}", lambda: drop_postgres_schema(name)


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PALIMPSEST_TEST_POSTGRES")
def test_v2_postgres_migrates_to_v3(tmp_path: Path) -> None:
    url, cleanup = _postgres_schema()
    _migrates_keeping_archive(url, tmp_path, cleanup)


# -- schema 3 -> 4: commit seqs without a repository-wide lock, views built per line, counts --

def _downgrade_to_v3(db: Any) -> None:
    """Rewrite a schema-4 database into the schema-3 layout: no ``view_lines`` (views record
    one repository-wide ``synced_seq``), no ``commit_seq`` sequence on PostgreSQL, no
    ``type_counts``, no provenance table (nor its ``rows_provenance`` index)."""
    with db.write():
        db.run("DROP INDEX rows_provenance")
        db.run("DROP TABLE provenance")
        db.run("DROP TABLE view_lines")
        db.run("DROP TABLE type_counts")
        if db.dialect.seq_ddl:
            db.run("DROP SEQUENCE commit_seq")
        db.run("UPDATE meta SET value = '3' WHERE name = 'schema_version'")


def _migrates_v3(url: str, cleanup: Any = None) -> None:
    repo = palimpsest.open(url, author="tester")
    try:
        _history(repo)
        repo.create_view("people", "Person", {})
        assert sorted(e.id for e in repo.head().materialized("people")) == ["ada"]
        top = max(c.seq for c in repo.log("draft", limit=None) + repo.log(limit=None))
        _downgrade_to_v3(repo.database)
        repo.close()
        repo = palimpsest.open(url, author="tester")
        assert int(repo.database.one("SELECT value FROM meta WHERE name = 'schema_version'")
                   [0]) == schema.SCHEMA_VERSION == 4
        assert sorted(e.id for e in repo.head().materialized("people")) == ["ada"]
        assert repo.refresh_views() == 0  # the view was built on every line: nothing redone
        commit = repo.put_entity("grace", type="Person", props={"name": "Grace"},
                                 provenance={"source": "doc-1"})
        assert commit.seq > top  # the sequence starts above every stored seq
        # the provenance table and its index came with the migration
        assert repo.history("grace", relations="none")[0].provenance == {"source": "doc-1"}
        assert [e.id for e in repo.head().entities(source="doc-1")] == ["grace"]
        assert sorted(e.id for e in repo.head().materialized("people")) == ["ada", "grace"]
        assert repo.fsck().ok
    finally:
        repo.close()
        if cleanup is not None:
            cleanup()


def _migrates_counting_types(url: str, cleanup: Any = None) -> None:
    repo = palimpsest.open(url, author="tester")
    try:
        _history(repo)
        with repo.transaction("retype") as tx:
            tx.update_entity("ada", type="Countess")
        expected = {(ref, t): repo.at(ref).count(type=t)
                    for ref in ("main", "draft", "v1", "main~1")
                    for t in ("Person", "Countess", "KNOWS")}
        _downgrade_to_v3(repo.database)
        repo.close()
        repo = palimpsest.open(url)
        got = {(ref, t): repo.at(ref).count(type=t) for ref, t in expected}
        assert got == expected
        assert expected[("main", "Countess")] == 1 and expected[("v1", "Person")] == 1
        assert expected[("main~1", "Person")] == 1 and expected[("draft", "Person")] == 2
        assert repo.head().count_relations(type="KNOWS") == 0
        assert repo.fsck().ok
    finally:
        repo.close()
        if cleanup is not None:
            cleanup()


def test_v3_file_migrates_to_v4(tmp_path: Path) -> None:
    _migrates_v3(str(tmp_path / "v3.db"))


def test_v3_file_migrates_to_v4_counting_types(tmp_path: Path) -> None:
    _migrates_counting_types(str(tmp_path / "v3.db"))


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PALIMPSEST_TEST_POSTGRES")
def test_v3_postgres_migrates_to_v4() -> None:
    _migrates_v3(*_postgres_schema())


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PALIMPSEST_TEST_POSTGRES")
def test_v3_postgres_migrates_to_v4_counting_types() -> None:
    _migrates_counting_types(*_postgres_schema())
