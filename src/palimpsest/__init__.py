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
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .errors import (
    AmbiguousRef,
    BranchProtected,
    ConcurrentCommit,
    CorruptObject,
    DatabaseUnavailable,
    Forbidden,
    IntegrityError,
    InvalidInput,
    InvalidKey,
    InvalidParameter,
    InvalidRef,
    InvalidValue,
    LockTimeout,
    MergeConflict,
    NotFound,
    PalimpsestError,
    QueryError,
    QueryTimeout,
    ReadOnly,
    RefNotFound,
    RetentionExpired,
    RevertConflict,
    SchemaVersionError,
    SchemaViolation,
    StorageError,
    Unauthorized,
    VersionConflict,
)

if TYPE_CHECKING:
    from .maintenance.restore import restore
    from .models.kv import KeyValue
    from .query import Agg, F, Filter, Query, and_, not_, or_
    from .remote import RemoteRepository
    from .repository import Repository
    from .transaction import Transaction
    from .types import (
        BackupInfo,
        Blame,
        Branch,
        Change,
        Commit,
        CommitStats,
        Conflict,
        CopyReport,
        Diff,
        Document,
        Entity,
        Entry,
        Erasure,
        IndexInfo,
        KVEvent,
        MergeResult,
        RefLogEntry,
        Relation,
        RetentionPolicy,
        Schema,
        ShaclReport,
        ShaclResult,
        Tag,
        Version,
        ViewInfo,
        Violation,
    )
    from .versioning.threeway import Resolved
    from .view import View
    from .watch import Watch

__version__ = "0.1.0"


def open(target: str | os.PathLike[str] = "palimpsest.db", *, author: str = "anonymous",
         durability: str = "normal", max_clock_skew: timedelta | None = None,
         kv_group_commit: float | None = None,
         replicas: Sequence[str] | None = None) -> Repository:
    """Open (creating if missing) a repository.

    ``target`` is a SQLite file path, ``":memory:"``, or a ``postgresql://`` URL.
    ``author`` is the default author of commits made through this handle. ``durability``
    (SQLite): ``"normal"`` survives a crash of the process (WAL, the default), ``"full"``
    also a power loss, at some cost per commit. ``max_clock_skew`` (default one day) is how
    far in the future a commit's explicit ``timestamp=`` may lie; later ones are refused
    with :class:`InvalidValue`, because commit times never decrease and one future commit
    would hold back every later one. ``kv_group_commit`` (seconds, e.g. ``0.002``) lets
    concurrent ``repo.kv`` writers of this handle share commits (docs/kv.md, group commit).
    ``replicas`` (PostgreSQL): URLs of streaming replicas of ``target`` that serve this
    handle's reads, with read-your-writes (docs/postgres.md, "Read replicas").
    """
    from .repository import Repository
    from .storage import open_database
    return Repository(open_database(target, durability=durability, replicas=replicas or ()),
                      author=author,
                      max_clock_skew=max_clock_skew, kv_group_commit=kv_group_commit)


def connect(url: str, token: str | None = None, *, timeout: float = 30.0) -> RemoteRepository:
    """Connect to a ``palimpsest serve`` server: the same Repository / View interface as an
    embedded repository for the common operations (needs the ``server`` extra)."""
    from .remote import connect as _connect
    return _connect(url, token, timeout=timeout)


def clone(url: str, path: str | os.PathLike[str], *, token: str | None = None,
          author: str = "anonymous", origin: str = "origin", depth: int | None = None,
          since: str | datetime | None = None) -> Repository:
    """A new repository at ``path`` (a SQLite path or ``postgresql://`` URL) holding the
    history of ``url`` (another repository's path or URL, or an ``http(s)://`` server with
    its ``token``) with identical commit ids: remote-tracking branches ``origin/NAME`` and a
    local branch for the remote's current one (docs/sync.md). ``depth=N`` (the last N
    first-parent commits of each branch) or ``since=`` (a time) make a shallow clone: older
    commits keep their metadata but not their state, marked as a retention horizon."""
    from .sync.engine import clone as _clone
    _clone(url, path, token=token, author=author, origin=origin, depth=depth,
           since=since.isoformat() if isinstance(since, datetime) else since)
    return open(path, author=author)


def _http_peer(url: str, token: str | None, author: str) -> object:
    from .remote.sync import HttpPeer
    return HttpPeer(url, token)


def _register_transports() -> None:
    from .sync.peer import register_transport
    for scheme in ("http", "https"):
        register_transport(scheme, _http_peer)  # type: ignore[arg-type]


_register_transports()


def import_(path: str | os.PathLike[str], target: str | os.PathLike[str] = ":memory:", *,
            author: str = "anonymous", allow_legacy: bool = False) -> Repository:
    """Load a JSON Lines archive written by :meth:`Repository.export` into a new repository,
    keeping every commit id and state hash.

    Every value hash, commit id, state hash and reference is verified, and the trailer
    proves the file complete; a damaged archive raises :class:`CorruptObject` naming the
    line, and ``target`` is left absent (or, if it existed, unchanged). An archive written
    before the trailer existed (format version 1) needs ``allow_legacy=True``.
    """
    from .maintenance.restore import import_archive_file
    return import_archive_file(os.fspath(path), os.fspath(target), author=author,
                               allow_legacy=allow_legacy)


__all__ = [
    # queries, key-value state, watch (docs/query.md, docs/kv.md)
    "Agg",
    "AmbiguousRef",
    "BackupInfo",
    "Blame",
    "Branch",
    "BranchProtected",
    "Change",
    "Commit",
    "CommitStats",
    "ConcurrentCommit",
    "Conflict",
    "CopyReport",
    "CorruptObject",
    "DatabaseUnavailable",
    "Diff",
    "Document",
    "Entity",
    "Entry",
    "Erasure",
    "F",
    "Filter",
    "Forbidden",
    "IndexInfo",
    "IntegrityError",
    "InvalidInput",
    "InvalidKey",
    "InvalidParameter",
    "InvalidRef",
    "InvalidValue",
    "KVEvent",
    "KeyValue",
    "LockTimeout",
    "MergeConflict",
    "MergeResult",
    "NotFound",
    "PalimpsestError",
    "Query",
    "QueryError",
    "QueryTimeout",
    "ReadOnly",
    "RefLogEntry",
    "RefNotFound",
    "Relation",
    "Repository",
    "Resolved",
    "RetentionExpired",
    "RetentionPolicy",
    "RevertConflict",
    "Schema",
    "SchemaVersionError",
    "SchemaViolation",
    "ShaclReport",
    "ShaclResult",
    "StorageError",
    "Tag",
    "Transaction",
    "Unauthorized",
    "Version",
    "VersionConflict",
    "View",
    "ViewInfo",
    "Violation",
    "Watch",
    "and_",
    "clone",
    "connect",
    "import_",
    "not_",
    "open",
    "or_",
    "restore",
]


# Everything but the errors loads on first use, so that `import palimpsest` (and with it
# `palimpsest --help`) stays fast: name -> module that defines it.
_LAZY = {
    **dict.fromkeys(("Agg", "F", "Filter", "Query", "and_", "not_", "or_"), "query"),
    **dict.fromkeys(("BackupInfo", "Blame", "Branch", "Change", "Commit", "CommitStats", "Conflict", "CopyReport", "Diff",
                     "Document", "Entity", "Entry", "Erasure", "IndexInfo", "KVEvent",
                     "MergeResult", "RefLogEntry", "Relation", "RetentionPolicy", "Schema",
                     "ShaclReport", "ShaclResult", "Tag",
                     "Version", "ViewInfo", "Violation"), "types"),
    "KeyValue": "models.kv", "Repository": "repository", "Transaction": "transaction",
    "Resolved": "versioning.threeway", "View": "view", "Watch": "watch",
    "restore": "maintenance.restore",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'palimpsest' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
