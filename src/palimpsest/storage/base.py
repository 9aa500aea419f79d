"""The storage contract: a small protocol that SQLite and PostgreSQL both fulfil.

Upper layers write SQL with ``?`` placeholders in the common subset of both dialects; the
backend translates placeholders and supplies the few dialect-specific fragments (JSON access,
blob type). Writes happen inside ``write()``, which takes the backend's write lock, so a failed
or interrupted commit leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

Row = tuple[Any, ...]
Params = Sequence[Any]
Tracer = Callable[[str, Params], None]


class Dialect(Protocol):
    """SQL fragments that differ between engines."""

    name: str
    blob: str
    bigint: str

    def json_text(self, column: str, path: Sequence[str]) -> str:
        """SQL yielding the JSON value at ``path`` inside ``column`` as SQL text/number."""

    def json_path_exists(self, column: str, path: Sequence[str]) -> str:
        """SQL that is true when ``path`` exists inside ``column``."""


class Database(Protocol):
    """A connection (or pool) to one repository's tables."""

    dialect: Dialect
    url: str
    tracer: Tracer | None

    def one(self, sql: str, params: Params = ()) -> Row | None: ...

    def all(self, sql: str, params: Params = ()) -> list[Row]: ...

    def iterate(self, sql: str, params: Params = ()) -> Iterator[Row]: ...

    def run(self, sql: str, params: Params = ()) -> int:
        """Execute a statement; returns the number of rows changed."""

    def many(self, sql: str, rows: Iterable[Params]) -> None: ...

    def script(self, sql: str) -> None:
        """Run several statements (schema creation)."""

    def write(self) -> AbstractContextManager[None]:
        """A write transaction holding the write lock; commits on success, rolls back on error."""

    def read(self) -> AbstractContextManager[None]:
        """A read transaction: every query inside sees one snapshot."""

    def in_write(self) -> bool: ...

    def close(self) -> None: ...
