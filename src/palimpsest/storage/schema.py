"""Tables, indexes and migrations.

``rows`` is the append-only history: one immutable row per change to an element. The only column
ever updated is ``superseded`` (the seq of the next row for the same key on the same line), which
is derived and can be rebuilt (:func:`rebuild_superseded`). The ``schema_version`` row in ``meta``
names the layout; opening an older database migrates it forward, a newer one is refused.

To change the layout: bump ``SCHEMA_VERSION``, keep ``_TABLES`` the full latest layout (new
tables and indexes with ``IF NOT EXISTS``), and add ``MIGRATIONS[old]`` for what ``IF NOT EXISTS``
cannot express (new columns, backfills). A migration re-runs ``_TABLES`` and then every step
from the stored version on, all in one write transaction: it lands completely or not at all.

Version 2 added the retention and erasure bookkeeping: ``retention`` (policies),
``pruned`` (ranges of commits whose state gc compacted away) and ``erasures`` (the audit
record of each erasure). The query layer's registries (``query_indexes``: declared property
indexes; ``query_views`` and ``view_rows``: materialized views, membership only, rebuildable)
are part of version 2 too. Version 3 stores commit ids and parents as bytes, gives ``rows``
nullable ``provenance``, ``valid_from`` and ``valid_to`` columns, and added ``search_indexes``, the registry of declared
full-text and vector indexes (``versioning/search_index.py``); each index keeps its entries
(one per indexed row version, keyed by the row's ``(kind, key, line, seq)``) in its own table.
Version 4 lets PostgreSQL allocate commit seqs without a repository-wide lock (the
``commit_seq`` sequence) and records per line how far each materialized view is built
(``view_lines``). Two maintenance operations are the only exceptions to append-only
rows: gc deletes rows no readable state needs, and erasure replaces the value of an erased
element's rows (keeping their hash). Version 4 also maintains per-type counts
(``type_counts``) and added ``provenance``, the records rows point at through
``rows.provenance`` (where a fact came from: one row per distinct record, keyed by its
content hash, its ``source`` extracted for filters), and the partial index
``rows_provenance``.
"""

from __future__ import annotations

from collections.abc import Callable

from ..codec import decode
from ..errors import SchemaVersionError
from . import counts
from .base import Database

SCHEMA_VERSION = 4

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lines (
    id        {bigint} PRIMARY KEY,
    parent    {bigint},
    fork_seq  {bigint},
    head_seq  {bigint}
);
CREATE TABLE IF NOT EXISTS commits (
    seq        {bigint} PRIMARY KEY,
    id         {blob} NOT NULL UNIQUE,
    line       {bigint} NOT NULL,
    parents    {blob} NOT NULL,
    author     TEXT NOT NULL,
    message    TEXT NOT NULL,
    time_us    {bigint} NOT NULL,
    metadata   TEXT NOT NULL,
    stats      TEXT NOT NULL,
    state_hash {blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS commits_line_time ON commits (line, time_us, seq);
CREATE TABLE IF NOT EXISTS refs (
    name       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    line       {bigint},
    commit_seq {bigint},
    message    TEXT,
    author     TEXT,
    time_us    {bigint}
);
CREATE TABLE IF NOT EXISTS reflog (
    id       {autoid},
    name     TEXT NOT NULL,
    old_seq  {bigint},
    new_seq  {bigint},
    time_us  {bigint} NOT NULL,
    author   TEXT NOT NULL,
    message  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reflog_name ON reflog (name, id);
CREATE TABLE IF NOT EXISTS rows (
    rid        {autoid},
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    line       {bigint} NOT NULL,
    seq        {bigint} NOT NULL,
    op         SMALLINT NOT NULL,
    type       TEXT,
    source     TEXT,
    target     TEXT,
    value      TEXT,
    hash       {blob},
    origin     {bigint},
    superseded {bigint},
    provenance {bigint},
    valid_from {bigint},
    valid_to   {bigint}
);
CREATE UNIQUE INDEX IF NOT EXISTS rows_key ON rows (kind, key, line, seq);
CREATE INDEX IF NOT EXISTS rows_line_seq ON rows (line, seq);
CREATE INDEX IF NOT EXISTS rows_source ON rows (source, line, seq) WHERE source IS NOT NULL;
CREATE INDEX IF NOT EXISTS rows_target ON rows (target, line, seq) WHERE target IS NOT NULL;
CREATE TABLE IF NOT EXISTS provenance (
    id     {autoid},
    hash   {blob} NOT NULL UNIQUE,
    source TEXT,
    value  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS provenance_source ON provenance (source);
CREATE TABLE IF NOT EXISTS retention (
    pattern      TEXT PRIMARY KEY,
    keep_us      {bigint},
    keep_commits {bigint},
    author       TEXT NOT NULL,
    time_us      {bigint} NOT NULL
);
CREATE TABLE IF NOT EXISTS pruned (
    line     {bigint} NOT NULL,
    lo_seq   {bigint} NOT NULL,
    hi_seq   {bigint} NOT NULL,
    horizon  {bigint},
    time_us  {bigint} NOT NULL,
    PRIMARY KEY (line, lo_seq)
);
CREATE TABLE IF NOT EXISTS erasures (
    id         {bigint} PRIMARY KEY,
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    reason     TEXT NOT NULL,
    author     TEXT NOT NULL,
    time_us    {bigint} NOT NULL,
    row_count  {bigint} NOT NULL,
    commit_seq {bigint}
);
CREATE TABLE IF NOT EXISTS query_indexes (
    name     TEXT PRIMARY KEY,
    kind     TEXT NOT NULL,
    type     TEXT NOT NULL,
    field    TEXT NOT NULL,
    time_us  {bigint} NOT NULL
);
CREATE TABLE IF NOT EXISTS query_views (
    name       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    type       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    synced_seq {bigint} NOT NULL,
    time_us    {bigint} NOT NULL
);
CREATE TABLE IF NOT EXISTS view_rows (
    view       TEXT NOT NULL,
    key        TEXT NOT NULL,
    line       {bigint} NOT NULL,
    seq        {bigint} NOT NULL,
    op         SMALLINT NOT NULL,
    superseded {bigint},
    PRIMARY KEY (view, key, line, seq)
);
CREATE INDEX IF NOT EXISTS view_rows_scan ON view_rows (view, line, seq, superseded, op);
CREATE TABLE IF NOT EXISTS view_lines (
    view       TEXT NOT NULL,
    line       {bigint} NOT NULL,
    synced_seq {bigint} NOT NULL,
    PRIMARY KEY (view, line)
);
CREATE TABLE IF NOT EXISTS type_counts (
    line  {bigint} NOT NULL,
    kind  TEXT NOT NULL,
    type  TEXT NOT NULL,
    seq   {bigint} NOT NULL,
    n     {bigint} NOT NULL,
    PRIMARY KEY (line, kind, type, seq)
);
CREATE TABLE IF NOT EXISTS search_indexes (
    name       TEXT PRIMARY KEY,
    mode       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    type       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    generation {bigint} NOT NULL,
    time_us    {bigint} NOT NULL
);
"""


ROWS_TYPE_INDEX = ("CREATE INDEX IF NOT EXISTS rows_type ON rows "
                   "(kind, type, line, seq, superseded, op, valid_from, valid_to)")
"""The covering index of scans and counts by type. It ends with the valid-time interval, so
a count narrowed to a valid time (``View.valid_at``) stays an index-only scan: the visibility
rule picks the versions from the index and the interval filters them there, no table row is
read. Created after the migrations (the columns exist only from schema 3 on; the migration to
4 rebuilds it, ``docs/valid-time.md``)."""


_ROWS_PROVENANCE = ("CREATE INDEX IF NOT EXISTS rows_provenance ON rows (provenance) "
                    "WHERE provenance IS NOT NULL")
"""Not in ``_TABLES``: a migration re-runs those before ``rows.provenance`` exists (v2); made
by the migration to 4 and with a new repository."""


def _v1_to_v2(db: Database) -> None:
    """Retention and erasure tables: created by re-running ``_TABLES``; no data changes."""


_COMMIT_COLUMNS = ("seq, id, line, parents, author, message, time_us, metadata, stats, "
                   "state_hash")


def _v2_to_v3(db: Database) -> None:
    """Binary commit ids and parents; the rows' room for provenance and valid time; the
    search registry (``search_indexes``, created by re-running ``_TABLES``; declared text and
    vector indexes keep their own tables, docs/search.md).

    ``commits`` is rebuilt (a column's type cannot change in place on SQLite): hex ids become
    their 32 bytes, the JSON list of parent ids their concatenation. ``rows`` gains three
    nullable columns, NULL in every existing row, so no row is rewritten.
    """
    for column in ("provenance", "valid_from", "valid_to"):
        db.run(f"ALTER TABLE rows ADD COLUMN {column} {db.dialect.bigint}")
    db.run("DROP INDEX rows_type")  # rebuilt ending with the interval (ROWS_TYPE_INDEX)
    db.run("DROP INDEX commits_line_time")
    db.run("ALTER TABLE commits RENAME TO commits_v2")
    db.script(_ddl(db))  # the new commits table and its index
    batch: list[tuple[object, ...]] = []
    insert = (f"INSERT INTO commits ({_COMMIT_COLUMNS}) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    for seq, cid, line, parents, *rest in db.iterate(
            f"SELECT {_COMMIT_COLUMNS} FROM commits_v2 ORDER BY seq"):
        batch.append((seq, bytes.fromhex(cid), line,
                      b"".join(bytes.fromhex(p) for p in decode(parents)), *rest))
        if len(batch) >= 1000:
            db.many(insert, batch)
            batch = []
    db.many(insert, batch)
    db.run("DROP TABLE commits_v2")


def _v3_to_v4(db: Database) -> None:
    """Schema 4, one migration for what the third session added.

    Commit seqs without a repository-wide lock (docs/postgres.md, "Many writers"):
    PostgreSQL allocates them from the ``commit_seq`` sequence (created by ``_ddl``), moved
    past every stored seq here; materialized views record how far they are built per line
    (``view_lines``), since seqs no longer become visible in order across lines. A view built
    up to seq N had every line's rows up to N. ``type_counts`` (created by re-running
    ``_TABLES``) is filled from the rows. Provenance records (``provenance``, deduplicated by
    content hash, referenced from ``rows.provenance``, docs/provenance.md; also created by
    re-running ``_TABLES``) get the index from rows to them (``rows_provenance``); no row
    changes for them. The type index is rebuilt ending with the valid-time
    interval (``ROWS_TYPE_INDEX``, after the migrations), so narrowed counts stay index-only."""
    sync_sequences(db)
    db.run("DELETE FROM view_lines")
    db.run("INSERT INTO view_lines (view, line, synced_seq) SELECT v.name, l.id, v.synced_seq "
           "FROM query_views v, lines l")
    counts.rebuild(db)
    db.run("DROP INDEX IF EXISTS rows_type")
    db.run(_ROWS_PROVENANCE)


MIGRATIONS: dict[int, Callable[[Database], None]] = {1: _v1_to_v2, 2: _v2_to_v3,
                                                     3: _v3_to_v4}
"""``MIGRATIONS[v]`` turns a version-``v`` database into version ``v + 1``."""


def create_schema(db: Database) -> None:
    """Create the tables of a new repository, or check and migrate an existing one."""
    found = _stored_version(db)
    if found is None:
        with db.write():
            db.script(_ddl(db))
            db.run(ROWS_TYPE_INDEX)
            db.run(_ROWS_PROVENANCE)
            db.run("INSERT INTO meta (name, value) VALUES ('schema_version', ?)",
                   (str(SCHEMA_VERSION),))
            db.run("INSERT INTO lines (id, parent, fork_seq, head_seq) VALUES (1, NULL, NULL, NULL)")
            db.run("INSERT INTO refs (name, kind, line) VALUES ('main', 'branch', 1)")
            db.run("INSERT INTO meta (name, value) VALUES ('head', 'main')")
        return
    if found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{db.url} uses schema version {found}, newer than this palimpsest knows "
            f"({SCHEMA_VERSION}); upgrade palimpsest to open it")
    if found < SCHEMA_VERSION:
        migrate(db)


def migrate(db: Database) -> int:
    """Bring an older database to ``SCHEMA_VERSION`` in one write transaction; returns the
    version it had. Safe when several processes open the same old file at once."""
    with db.write():
        found = _stored_version(db)  # again, under the write lock
        if found is None or found >= SCHEMA_VERSION:
            return found or SCHEMA_VERSION
        db.script(_ddl(db))
        for version in range(found, SCHEMA_VERSION):
            MIGRATIONS[version](db)
        db.run(ROWS_TYPE_INDEX)
        db.run("UPDATE meta SET value = ? WHERE name = 'schema_version'",
               (str(SCHEMA_VERSION),))
    return found


def _ddl(db: Database) -> str:
    return _TABLES.format(bigint=db.dialect.bigint, blob=db.dialect.blob,
                          autoid=db.dialect.autoid) + db.dialect.seq_ddl


def next_seq(db: Database) -> int:
    """A new commit seq, inside a write transaction that holds its line's lock.

    Unique and larger than every seq allocated before (a line's commits, holding the line's
    lock, get increasing seqs; a commit's parents were committed before it asked, so they have
    smaller ones). Not gap-free, and not visible in order across lines on PostgreSQL, where
    it comes from a sequence without a lock; SQLite (one writer) takes max + 1."""
    row = db.one(db.dialect.next_seq)
    return int(row[0]) if row else 1


def sync_sequences(db: Database) -> None:
    """After commits were loaded with their own seqs (copy, archive import, migration): let
    the next allocated seq lie above every stored one (never moves the sequence back)."""
    if db.dialect.sync_seq:
        db.one(db.dialect.sync_seq)


def _stored_version(db: Database) -> int | None:
    try:
        row = db.one("SELECT value FROM meta WHERE name = 'schema_version'")
    except Exception:  # table missing: a new database
        return None
    return int(row[0]) if row else None


def rebuild_superseded(db: Database) -> None:
    """Recompute the derived ``superseded`` column from the immutable history, and the
    maintained type counts that depend on it (``storage/counts.py``)."""
    with db.write():
        db.run("UPDATE rows SET superseded = (SELECT min(n.seq) FROM rows n WHERE n.kind = "
               "rows.kind AND n.key = rows.key AND n.line = rows.line AND n.seq > rows.seq)")
        counts.rebuild(db)
