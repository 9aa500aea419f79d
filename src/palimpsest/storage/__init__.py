"""Storage backends. :func:`open_database` picks one from a path or URL."""

from __future__ import annotations

import os
from collections.abc import Sequence

from .base import Database

_URLS = ("postgresql://", "postgres://")


def open_database(target: str | os.PathLike[str], *, durability: str = "normal",
                  replicas: Sequence[str] = ()) -> Database:
    """SQLite for a file path or ``:memory:``; PostgreSQL for ``postgresql://`` URLs (with
    ``replicas``: streaming replicas that serve its reads, docs/postgres.md)."""
    text = os.fspath(target)
    if replicas and not text.startswith(_URLS):
        from ..errors import InvalidValue
        raise InvalidValue("replicas= needs a postgresql:// repository (SQLite has one file)")
    if text.startswith(_URLS):
        try:
            from .postgres import PostgresDatabase  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            from ..errors import PalimpsestError
            raise PalimpsestError("PostgreSQL support needs the postgres extra: "
                                  "pip install 'palimpsest[postgres]'") from exc
        database: Database = PostgresDatabase(text, replicas=list(replicas))
        return database
    from .sqlite import SQLiteDatabase
    return SQLiteDatabase(text, durability=durability)


def is_file(target: str) -> bool:
    """True when :func:`open_database` opens ``target`` as a SQLite file (not ``:memory:``,
    not a PostgreSQL URL)."""
    return not target.startswith(_URLS) and target != ":memory:"


__all__ = ["Database", "is_file", "open_database"]
