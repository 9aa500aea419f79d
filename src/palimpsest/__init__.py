"""palimpsest: a versioned database for knowledge graphs and JSON documents.

>>> import palimpsest
>>> repo = palimpsest.open(":memory:")
>>> with repo.transaction(message="first", author="ada@example.com") as tx:
...     _ = tx.put_entity("ada", type="Person", props={"name": "Ada"})
>>> repo.head().entity("ada").props["name"]
'Ada'
"""

from __future__ import annotations

import os

from .errors import (
    AmbiguousRef,
    ConcurrentCommit,
    CorruptObject,
    Forbidden,
    IntegrityError,
    InvalidKey,
    InvalidValue,
    MergeConflict,
    NotFound,
    PalimpsestError,
    QueryError,
    ReadOnly,
    RefNotFound,
    RetentionExpired,
    RevertConflict,
    SchemaVersionError,
    Unauthorized,
    VersionConflict,
)
from .repository import Repository
from .transaction import Transaction
from .types import (
    Blame,
    Branch,
    Change,
    Commit,
    CommitStats,
    Conflict,
    Document,
    Entity,
    RefLogEntry,
    Relation,
    Tag,
    Version,
)
from .versioning.diff import Diff
from .view import View

__version__ = "0.1.0"


def open(target: str | os.PathLike[str] = "palimpsest.db", *, author: str = "anonymous",
         durability: str = "normal") -> Repository:
    """Open (creating if missing) a repository.

    ``target`` is a SQLite file path, ``":memory:"``, or a ``postgresql://`` URL.
    ``author`` is the default author of commits made through this handle. ``durability``
    (SQLite): ``"normal"`` survives a crash of the process (WAL, the default), ``"full"``
    also a power loss, at some cost per commit.
    """
    from .storage import open_database
    return Repository(open_database(target, durability=durability), author=author)


def import_(path: str | os.PathLike[str], target: str | os.PathLike[str] = ":memory:", *,
            author: str = "anonymous") -> Repository:
    """Load a JSON Lines archive written by :meth:`Repository.export` into a new repository,
    keeping every commit id and state hash."""
    from .versioning.archive import import_archive
    repo = open(target, author=author)
    import_archive(repo.database, os.fspath(path))
    return repo


__all__ = [
    "AmbiguousRef", "Blame", "Branch", "Change", "Commit", "CommitStats", "ConcurrentCommit",
    "Conflict", "CorruptObject", "Diff", "Document", "Entity", "Forbidden", "IntegrityError",
    "InvalidKey", "InvalidValue", "MergeConflict", "NotFound", "PalimpsestError", "QueryError",
    "ReadOnly", "RefLogEntry", "RefNotFound", "Relation", "Repository", "RetentionExpired",
    "RevertConflict", "SchemaVersionError", "Tag", "Transaction", "Unauthorized", "Version",
    "VersionConflict", "View", "import_", "open",
]
