"""repo.copy_to(url): the full history moves between locations and backends unchanged —
seqs, commit ids, state hashes, branches, tags, reflog."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import palimpsest
from conftest import POSTGRES_URL, drop_postgres_schema
from palimpsest import InvalidValue

pytestmark = pytest.mark.needs_embedded(
    "copy_to writes another database from the server's process")


def _history(repo: palimpsest.Repository) -> None:
    """A small history with every kind of element, branches, a merge, a tag and a rollback."""
    with repo.transaction("seed", author="ann@example.com", metadata={"source": "test"}) as tx:
        tx.put_entity("ada", type="Person", props={"name": "Ada", "born": 1815})
        tx.put_entity("charles", type="Person", props={"name": "Charles"})
        tx.put_relation("r1", type="KNOWS", source="ada", target="charles", props={"since": 1833})
        tx.put_document("notes", "n1", {"text": "hello", "tags": ["a", "b"], "x": 1.5})
    repo.tag("v1", message="first release", author="ann@example.com")
    repo.create_branch("feature")
    repo.update_entity("ada", {"field": "maths"}, branch="feature", message="on feature")
    repo.put_document("notes", "n2", {"text": "é ünïcode ✓"}, message="doc")
    repo.delete_relation("r1", message="unlink")
    repo.merge("feature", into="main")
    repo.rollback("v1", message="back to v1")
    repo.put_entity("zed", type="Person", props={"name": None, "nested": {"a": [1, {"b": 2}]}})


def _snapshot(repo: palimpsest.Repository) -> dict[str, object]:
    """Everything a copy must keep, as plain values."""
    branches = {b.name: b.head.id if b.head else None for b in repo.branches()}
    logs = {name: [(c.seq, c.id, c.state_hash, c.parents, c.author, c.message, c.timestamp,
                    c.metadata, c.line) for c in repo.log(name, limit=None)]
            for name in branches}
    tags = [(t.name, t.commit.id, t.message) for t in repo.tags()]
    reflog = {name: [(e.old, e.new, e.message, e.timestamp, e.author) for e in repo.reflog(name)]
              for name in [*branches, "v1"]}
    head = repo.head()
    state = {"entities": list(head.entities()), "relations": list(head.relations()),
             "docs": list(head.documents("notes"))}
    return {"branches": branches, "logs": logs, "tags": tags, "reflog": reflog,
            "state": state, "current": repo.current_branch}


@pytest.fixture
def postgres_target() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("needs PALIMPSEST_TEST_POSTGRES=postgresql://... (.ci/run sets it)")
    schema = "t_" + uuid.uuid4().hex[:16]
    yield f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}schema={schema}"
    drop_postgres_schema(schema)


def test_copy_keeps_ids_and_state_hashes(repo: palimpsest.Repository, tmp_path: Path) -> None:
    _history(repo)
    target = str(tmp_path / "copy.db")
    report = repo.copy_to(target)
    assert report.commits == len(repo.log(limit=None)) + len(repo.log("feature", limit=None)) \
        - len({c.id for c in repo.log(limit=None)} & {c.id for c in repo.log("feature",
                                                                                 limit=None)})
    assert report.heads["main"] == repo.resolve("main").id
    with palimpsest.open(target) as copy:
        assert _snapshot(copy) == _snapshot(repo)
        assert copy.fsck().problems == []
        # the copy is a working repository: new commits continue its history
        commit = copy.put_entity("new", type="T")
        assert commit.parents == (repo.resolve("main").id,)


def test_round_trip_sqlite_postgres_sqlite(tmp_path: Path, postgres_target: str) -> None:
    source = palimpsest.open(str(tmp_path / "source.db"), author="ann@example.com")
    _history(source)
    source.copy_to(postgres_target)
    with palimpsest.open(postgres_target) as middle:
        assert _snapshot(middle) == _snapshot(source)
        assert middle.fsck().problems == []
        middle.copy_to(str(tmp_path / "back.db"))
        # the PostgreSQL copy allocates seqs above every copied one
        top = max(c.seq for c in middle.log(limit=None) + middle.log("feature", limit=None))
        commit = middle.put_entity("new", type="T")
        assert commit.seq > top and commit.parents == (source.resolve("main").id,)
    with palimpsest.open(str(tmp_path / "back.db")) as back:
        assert _snapshot(back) == _snapshot(source)
        assert [c.id for c in back.log(limit=None)] == [c.id for c in source.log(limit=None)]
    source.close()


def test_copy_into_a_repository_with_commits_is_refused(repo: palimpsest.Repository,
                                                         tmp_path: Path) -> None:
    _history(repo)
    target = str(tmp_path / "busy.db")
    with palimpsest.open(target) as busy:
        busy.put_entity("x", type="T")
    with pytest.raises(InvalidValue, match="already has commits"):
        repo.copy_to(target)
    with palimpsest.open(target) as busy:
        assert len(busy.log()) == 1  # untouched


def test_copy_of_an_empty_repository(repo: palimpsest.Repository, tmp_path: Path) -> None:
    report = repo.copy_to(str(tmp_path / "empty.db"))
    assert report.commits == 0 and report.heads == {"main": None}
    with palimpsest.open(str(tmp_path / "empty.db")) as copy:
        assert copy.log() == [] and copy.current_branch == "main"
