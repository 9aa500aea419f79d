"""Shared fixtures: every repository test runs on each storage backend.

``repo`` / ``open_repo`` are parametrized over SQLite in memory, a SQLite file and, when
``PALIMPSEST_TEST_POSTGRES`` names a server, PostgreSQL (each test in its own schema, dropped
afterwards). Without that variable the PostgreSQL case is skipped with a reason; with it, an
unreachable server fails the tests.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import palimpsest

POSTGRES_URL = os.environ.get("PALIMPSEST_TEST_POSTGRES")
BACKENDS = ["sqlite-memory", "sqlite-file", "postgres"]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

OpenRepo = Callable[..., palimpsest.Repository]


def _postgres_url(schema: str) -> str:
    assert POSTGRES_URL is not None
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}schema={schema}"


def drop_postgres_schema(schema: str) -> None:
    import psycopg

    assert POSTGRES_URL is not None
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need PALIMPSEST_TEST_POSTGRES=postgresql://... "
                    "(.ci/run sets it)")
    return name


@pytest.fixture
def repo_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh repository location on the current backend."""
    if backend == "sqlite-memory":
        yield ":memory:"
    elif backend == "sqlite-file":
        yield str(tmp_path / "test.db")
    else:
        schema = "t_" + uuid.uuid4().hex[:16]
        yield _postgres_url(schema)
        drop_postgres_schema(schema)


@pytest.fixture
def open_repo(repo_url: str) -> Iterator[OpenRepo]:
    """Open the test's repository (again); every handle is closed at the end.

    For ``:memory:`` each call opens a new, separate database.
    """
    handles: list[palimpsest.Repository] = []

    def opener(**kwargs: object) -> palimpsest.Repository:
        handle = palimpsest.open(repo_url, **kwargs)  # type: ignore[arg-type]
        handles.append(handle)
        return handle

    yield opener
    for handle in handles:
        with contextlib.suppress(Exception):
            handle.close()


@pytest.fixture
def repo(open_repo: OpenRepo) -> palimpsest.Repository:
    return open_repo(author="tester@example.com")
