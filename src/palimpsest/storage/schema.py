"""Tables, indexes and migrations.

``rows`` is the append-only history: one immutable row per change to an element. The only column
ever updated is ``superseded`` (the seq of the next row for the same key on the same line), which
is derived and can be rebuilt (:func:`rebuild_superseded`). The ``schema_version`` row in ``meta``
names the layout; opening an older database migrates it forward, a newer one is refused.
"""

from __future__ import annotations

from ..errors import SchemaVersionError
from .base import Database

SCHEMA_VERSION = 1

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
    id         TEXT NOT NULL UNIQUE,
    line       {bigint} NOT NULL,
    parents    TEXT NOT NULL,
    author     TEXT NOT NULL,
    message    TEXT NOT NULL,
    time_us    {bigint} NOT NULL,
    metadata   TEXT NOT NULL,
    stats      TEXT NOT NULL,
    state_hash {blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS commits_line_time ON commits (line, time_us, seq);
CREATE INDEX IF NOT EXISTS commits_line_seq ON commits (line, seq);
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
    id       {bigint} PRIMARY KEY,
    name     TEXT NOT NULL,
    old_seq  {bigint},
    new_seq  {bigint},
    time_us  {bigint} NOT NULL,
    author   TEXT NOT NULL,
    message  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reflog_name ON reflog (name, id);
CREATE TABLE IF NOT EXISTS rows (
    rid        {bigint} PRIMARY KEY,
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
    superseded {bigint}
);
CREATE UNIQUE INDEX IF NOT EXISTS rows_key ON rows (kind, key, line, seq);
CREATE INDEX IF NOT EXISTS rows_line_seq ON rows (line, seq);
CREATE INDEX IF NOT EXISTS rows_type ON rows (kind, type, line, seq, superseded, op);
CREATE INDEX IF NOT EXISTS rows_source ON rows (source, line, seq) WHERE source IS NOT NULL;
CREATE INDEX IF NOT EXISTS rows_target ON rows (target, line, seq) WHERE target IS NOT NULL;
"""


def create_schema(db: Database) -> None:
    """Create the tables of a new repository, or check and migrate an existing one."""
    found = _stored_version(db)
    if found is None:
        with db.write():
            db.script(_TABLES.format(bigint=db.dialect.bigint, blob=db.dialect.blob))
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
    # Future migrations: for version in range(found, SCHEMA_VERSION): apply MIGRATIONS[version]


def _stored_version(db: Database) -> int | None:
    try:
        row = db.one("SELECT value FROM meta WHERE name = 'schema_version'")
    except Exception:  # table missing: a new database
        return None
    return int(row[0]) if row else None


def rebuild_superseded(db: Database) -> None:
    """Recompute the derived ``superseded`` column from the immutable history."""
    with db.write():
        db.run("UPDATE rows SET superseded = (SELECT min(n.seq) FROM rows n WHERE n.kind = "
               "rows.kind AND n.key = rows.key AND n.line = rows.line AND n.seq > rows.seq)")
