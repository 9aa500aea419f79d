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

import os
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CorruptObject, InvalidValue, PalimpsestError
from ..repository import Repository
from ..storage import is_file, open_database
from ..types import BackupInfo
from .archive import import_archive
from .backup import Format, fsck_file, journal_delete, remove_files

if TYPE_CHECKING:
    pass

_SQLITE_MAGIC = b"SQLite format 3\x00"


def backup(repo: Repository, dest: str | os.PathLike[str], *, format: Format | None = None,
           verify: bool = True) -> BackupInfo:
    """The same as :meth:`Repository.backup`."""
    return repo.backup(dest, format=format, verify=verify)


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
        remove_files(scratch)
        _copy_sqlite(src, scratch)
        try:
            report = fsck_file(scratch)
        except PalimpsestError:
            remove_files(scratch)
            raise
        if not report.ok:
            remove_files(scratch)
            raise CorruptObject(f"backup {src} failed verification: {report.problems[0]}")
        remove_files(dest)
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
        remove_files(build)
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
                remove_files(build)
        raise
    if not aside:
        return repo
    repo.close()
    journal_delete(build)
    remove_files(dest)
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


__all__ = ["BackupInfo", "backup", "detect_format", "import_archive_file", "restore"]
