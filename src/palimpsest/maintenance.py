"""Backup and restore: consistent online copies, verified before they are trusted.

Two formats:

* ``"sqlite"`` — a page-for-page copy made with SQLite's online backup API while other
  connections keep reading and writing; the copy is one consistent snapshot.
* ``"archive"`` — the JSON Lines archive of :meth:`Repository.export` (every commit, row,
  ref and reflog entry, with their hashes); works on every backend and is how a PostgreSQL
  repository is backed up from Python (``pg_dump`` of the schema is the engine-level
  alternative, see docs/durability.md).

Both are verified by default: the copy is opened (in a scratch location for archives) and
fsck must pass, or the copy is deleted and :class:`~palimpsest.errors.CorruptObject` raised.
:func:`restore` turns either format into a repository at any target (SQLite file, ``:memory:``
or a PostgreSQL URL), verifying it the same way before handing it over.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .errors import CorruptObject, InvalidValue, PalimpsestError, StorageError
from .repository import Repository
from .storage import is_file, open_database
from .versioning.archive import import_archive

if TYPE_CHECKING:
    from .versioning.fsck import FsckReport

Format = Literal["sqlite", "archive"]
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """Where a backup went, in which format, how big it is and whether fsck passed on it."""

    path: str
    format: Format
    commits: int
    bytes: int
    verified: bool

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "format": self.format, "commits": self.commits,
                "bytes": self.bytes, "verified": self.verified}


def backup(repo: Repository, dest: str | os.PathLike[str], *, format: Format | None = None,
           verify: bool = True) -> BackupInfo:
    """Copy ``repo`` to the new file ``dest`` (see module doc); never overwrites a file."""
    path = os.fspath(dest)
    if not isinstance(path, str) or not path or "\x00" in path:
        raise InvalidValue(f"backup destination {path!r} is not a usable file path")
    if os.path.exists(path):
        raise InvalidValue(f"{path} already exists; back up to a new path")
    db = repo.database
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
            repo.export(path)
    except ValueError as exc:  # e.g. a path that is not valid Unicode text
        raise InvalidValue(f"backup destination {path!r} is not a usable file path") from exc
    except (OSError, sqlite3.Error) as exc:
        _remove(path)
        raise StorageError(f"cannot write the backup to {path!r}: {exc}") from exc
    commits = repo._commits.count()
    if verify:
        try:
            report = _verify(path, chosen)
        except PalimpsestError:
            _remove(path)
            raise
        if not report.ok:
            _remove(path)
            raise CorruptObject(f"the backup failed verification ({len(report.problems)} "
                                f"problems, first: {report.problems[0]}); the source needs "
                                "fsck")
    return BackupInfo(path, chosen, commits, os.path.getsize(path), verify)


def _verify(path: str, format: Format) -> FsckReport:
    if format == "archive":
        scratch = Repository(open_database(":memory:"))
        try:
            import_archive(scratch.database, path)  # verifies hashes, ids, states, trailer
            return scratch.fsck()
        finally:
            scratch.close()
    return _fsck_file(path)


def _fsck_file(path: str) -> FsckReport:
    repo = Repository(open_database(path))
    try:
        return repo.fsck()
    finally:
        repo.close()
        _journal_delete(path)


def _journal_delete(path: str) -> None:
    """Leave a backup in rollback-journal mode: one self-contained file, no -wal beside it."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()


def _remove(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            os.remove(path + suffix)


def detect_format(path: str) -> Format:
    """``"sqlite"`` or ``"archive"``, from the first bytes of a backup file."""
    try:
        with open(path, "rb") as stream:
            start = stream.read(len(_SQLITE_MAGIC))
    except (OSError, ValueError) as exc:
        raise InvalidValue(f"cannot read backup {path!r}: {exc}") from exc
    if start == _SQLITE_MAGIC:
        return "sqlite"
    if start.lstrip().startswith(b"{"):
        return "archive"
    raise InvalidValue(f"{path} is neither a SQLite backup nor a palimpsest archive")


def restore(source: str | os.PathLike[str], target: str | os.PathLike[str], *,
            overwrite: bool = False, author: str = "anonymous",
            allow_legacy: bool = False) -> Repository:
    """A verified repository at ``target`` made from the backup ``source`` (either format).

    A SQLite target is built next to its final path and moved into place only after it was
    verified, so a failed restore leaves ``target`` as it was. ``overwrite`` replaces an
    existing SQLite file (stop every process using it first). An older backup is migrated
    to the current schema on the way; an archive without a trailer (format version 1)
    needs ``allow_legacy=True``.
    """
    src, dest = os.fspath(source), os.fspath(target)
    kind = detect_format(src)
    local = is_file(dest)
    if local and os.path.exists(dest) and not overwrite:
        raise InvalidValue(f"{dest} already exists; pass overwrite=True to replace it")
    if kind == "sqlite" and local:
        scratch = dest + ".restoring"
        _remove(scratch)
        _copy_sqlite(src, scratch)
        try:
            report = _fsck_file(scratch)
        except PalimpsestError:
            _remove(scratch)
            raise
        if not report.ok:
            _remove(scratch)
            raise CorruptObject(f"backup {src} failed verification: {report.problems[0]}")
        _remove(dest)
        os.replace(scratch, dest)
        return Repository(open_database(dest), author=author)
    with tempfile.TemporaryDirectory() as tmp:
        archive = src
        if kind == "sqlite":  # to another backend: go through the archive
            copy = str(Path(tmp) / "copy.db")
            _copy_sqlite(src, copy)
            staged = Repository(open_database(copy))
            try:
                archive = str(Path(tmp) / "archive.jsonl")
                staged.export(archive)
            finally:
                staged.close()
        return _load_archive(archive, dest, author=author, allow_legacy=allow_legacy,
                             replace=True)


def import_archive_file(path: str, target: str, *, author: str = "anonymous",
                        allow_legacy: bool = False) -> Repository:
    """:func:`palimpsest.import_`: an existing target (which must be empty) is loaded in one
    transaction; a new one is built aside and appears only once verified."""
    return _load_archive(path, target, author=author, allow_legacy=allow_legacy,
                         replace=False)


def _load_archive(archive: str, dest: str, *, author: str, allow_legacy: bool,
                  replace: bool) -> Repository:
    """Import ``archive`` into ``dest``. The import verifies everything in one transaction;
    a local file that did not exist (or is to be replaced) is built at a scratch path and
    moved into place after, and a PostgreSQL schema this call created is dropped on failure,
    so a refused archive leaves the target absent or unchanged."""
    local = is_file(dest)
    aside = local and (replace or not os.path.exists(dest))
    build = dest + ".restoring" if aside else dest
    if aside:
        _remove(build)
    repo = Repository(open_database(build), author=author)
    try:
        import_archive(repo.database, archive, allow_legacy=allow_legacy)
    except BaseException:
        try:
            if repo.database.created:
                repo.database.drop()
        finally:
            repo.close()
            if aside:
                _remove(build)
        raise
    if not aside:
        return repo
    repo.close()
    _journal_delete(build)
    _remove(dest)
    os.replace(build, dest)
    return Repository(open_database(dest), author=author)


def _copy_sqlite(src: str, dest: str) -> None:
    """Copy with the backup API from a read-only connection (the source is not modified)."""
    source = sqlite3.connect(f"{Path(src).resolve().as_uri()}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
        finally:
            target.close()
    except sqlite3.DatabaseError as exc:
        raise CorruptObject(f"{src} is not a readable SQLite database: {exc}") from exc
    finally:
        source.close()
