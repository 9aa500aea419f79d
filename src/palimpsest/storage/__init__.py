"""Storage backends. :func:`open_database` picks one from a path or URL."""

from __future__ import annotations

import os

from .base import Database


def open_database(target: str | os.PathLike[str], *, durability: str = "normal") -> Database:
    """SQLite for a file path or ``:memory:``; PostgreSQL for ``postgresql://`` URLs."""
    text = os.fspath(target)
    if text.startswith(("postgresql://", "postgres://")):
        try:
            from .postgres import PostgresDatabase  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            from ..errors import PalimpsestError
            raise PalimpsestError("PostgreSQL support needs the postgres extra: "
                                  "pip install 'palimpsest[postgres]'") from exc
        database: Database = PostgresDatabase(text)
        return database
    from .sqlite import SQLiteDatabase
    return SQLiteDatabase(text, durability=durability)


__all__ = ["Database", "open_database"]
