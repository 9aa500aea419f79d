"""Backups: a consistent online copy of a repository, verified before it is trusted (the
formats and their guarantees are described in :mod:`palimpsest.maintenance.restore`)."""

from __future__ import annotations

import contextlib
import os
import sqlite3

from ..errors import CorruptObject, InvalidValue, PalimpsestError, StorageError
from ..storage import open_database
from ..storage.schema import create_schema
from ..types import BackupFormat, BackupInfo, FsckReport
from ..versioning.commits import CommitStore
from ..versioning.refs import RefStore
from .archive import export_archive, import_archive
from .fsck import check_repository

Format = BackupFormat


def backup(refs: RefStore, dest: str | os.PathLike[str], *, format: Format | None = None,
           verify: bool = True) -> BackupInfo:
    """Copy the repository of ``refs`` to the new file ``dest`` (see
    :mod:`palimpsest.maintenance.restore`); never overwrites a file."""
    path = os.fspath(dest)
    if not isinstance(path, str) or not path or "\x00" in path:
        raise InvalidValue(f"backup destination {path!r} is not a usable file path")
    if os.path.exists(path):
        raise InvalidValue(f"{path} already exists; back up to a new path")
    commits = refs.commits
    db = commits.db
    chosen: Format = format or ("sqlite" if db.capabilities.file_backup else "archive")
    if chosen not in ("sqlite", "archive"):
        raise InvalidValue(f"backup format must be 'sqlite' or 'archive', not {format!r}")
    if chosen == "sqlite" and not db.capabilities.file_backup:
        raise InvalidValue("format='sqlite' needs the SQLite backend; use "
                           "format='archive' (or pg_dump for PostgreSQL)")
    try:
        if chosen == "sqlite":
            db.backup_to(path)
        else:
            export_archive(db, commits, refs, path)
    except ValueError as exc:  # e.g. a path that is not valid Unicode text
        raise InvalidValue(f"backup destination {path!r} is not a usable file path") from exc
    except (OSError, sqlite3.Error) as exc:
        remove_files(path)
        raise StorageError(f"cannot write the backup to {path!r}: {exc}") from exc
    count = commits.count()
    if verify:
        try:
            report = _verify(path, chosen)
        except PalimpsestError:
            remove_files(path)
            raise
        if not report.ok:
            remove_files(path)
            raise CorruptObject(f"the backup failed verification ({len(report.problems)} "
                                f"problems, first: {report.problems[0]}); the source needs "
                                "fsck")
    return BackupInfo(path, chosen, count, os.path.getsize(path), verify)


def _verify(path: str, format: Format) -> FsckReport:
    if format == "archive":
        scratch = open_database(":memory:")
        try:
            create_schema(scratch)
            import_archive(scratch, path)  # verifies hashes, ids, states, trailer
            return check_repository(scratch, CommitStore(scratch))
        finally:
            scratch.close()
    return fsck_file(path)


def fsck_file(path: str) -> FsckReport:
    """fsck of the SQLite repository file ``path`` (migrated to the current schema first),
    left in rollback-journal mode."""
    db = open_database(path)
    try:
        create_schema(db)
        return check_repository(db, CommitStore(db))
    finally:
        db.close()
        journal_delete(path)


def journal_delete(path: str) -> None:
    """Leave a backup in rollback-journal mode: one self-contained file, no -wal beside it."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()


def remove_files(path: str) -> None:
    """Delete a SQLite file and its journals, if there."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            os.remove(path + suffix)
