"""Search at any version (docs/search.md): every commit path keeps the indexes current,
branches see only their own documents, erasure and gc leave nothing searchable, vectors are
checked on write, and the approximate index keeps recall@10 >= 0.95 against exact search."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

import palimpsest
from palimpsest import wire
from palimpsest.errors import InvalidValue, QueryError
from palimpsest.query import ann
from palimpsest.types import SearchHit, SimilarHit, TextIndex, VectorIndex

np = pytest.importorskip("numpy")
pytest.importorskip("usearch")


@pytest.fixture
def admin(repo: palimpsest.Repository) -> Any:
    """The handle that declares indexes: the repository itself (over HTTP an admin route)."""
    return repo


def ids(hits: list[SearchHit] | list[SimilarHit]) -> list[str]:
    return [h.element.id if hasattr(h.element, "id") else h.element.key  # type: ignore[union-attr]
            for h in hits]


def people(repo: Any) -> None:
    repo.put_entity("ada", "Person", {"name": "Ada Lovelace",
                                      "bio": "Notes on the Analytical Engine", "born": 1815})
    repo.put_entity("charles", "Person", {"name": "Charles Babbage",
                                          "bio": "designed the analytical engine", "born": 1791})
    repo.put_entity("alan", "Person", {"name": "Alan Turing", "bio": "computable numbers",
                                       "born": 1912})


def test_search_ranks_phrases_prefixes_and_highlights(repo: Any, admin: Any) -> None:
    people(repo)
    info = admin.create_text_index("Person", fields=["name", "bio"])
    assert info == TextIndex(info.name, "entity", "Person", ("name", "bio"))
    assert admin.create_text_index("Person", fields=["name", "bio"]) == info  # idempotent
    assert admin.text_indexes() == [info]
    view = repo.head()
    assert sorted(ids(view.search("analytical engine"))) == ["ada", "charles"]
    assert ids(view.search("lovelace analytical")) == ["ada"]
    assert ids(view.search('"engine analytical"')) == []
    assert sorted(ids(view.search("comput*"))) == ["alan"]
    assert ids(view.search("analytical", where={"born": {"lt": 1800}})) == ["charles"]
    [hit] = view.search("lovelace")
    assert hit.highlights == {"name": "Ada <mark>Lovelace</mark>"}
    assert wire.decode(SearchHit, wire.encode(hit)) == hit
    with pytest.raises(QueryError):
        view.search("  ...  ")
    with pytest.raises(QueryError):
        view.search("x", type="Nope")


def test_past_refs_and_branches_see_their_own_versions(repo: Any, admin: Any) -> None:
    admin.create_text_index("Note", fields=["text"], kind="entity")
    repo.put_entity("n1", "Note", {"text": "the first draft"})
    v1 = repo.head().commit
    repo.create_branch("import")
    repo.put_entity("n1", "Note", {"text": "the final version"})
    repo.put_entity("n2", "Note", {"text": "candidate import"}, branch="import")
    repo.put_entity("n3", "Note", {"text": "main only draft"})
    assert ids(repo.at(v1.id).search("draft")) == ["n1"]
    assert ids(repo.head().search("draft")) == ["n3"]
    assert ids(repo.head().search("candidate")) == []
    assert ids(repo.at("import").search("candidate")) == ["n2"]
    assert ids(repo.at("import").search("draft")) == ["n1"]  # the fork's version
    assert ids(repo.at("import").search("final")) == []
    repo.merge("import")
    assert ids(repo.head().search("candidate")) == ["n2"]  # merged rows are indexed
    repo.rollback(v1.id)
    assert ids(repo.head().search("draft")) == ["n1"]  # a rollback's rows too
    assert ids(repo.head().search("candidate final")) == []


def test_documents_and_kv_writes(repo: Any, admin: Any) -> None:
    admin.create_text_index("notes", fields=["title", "meta.tags"], kind="document")
    repo.put_document("notes", "a", {"title": "Ada's notes", "meta": {"tags": ["math", "poetry"]}})
    repo.put_document("notes", "b", {"title": "Turing", "meta": {"tags": "machines"}})
    repo.kv.set("/notes/c", b"poetry")  # key-value entries are not indexed
    assert ids(repo.head().search("poetry")) == ["a"]
    assert ids(repo.head().search("machines")) == ["b"]
    [hit] = repo.head().search("ada")
    assert hit.highlights == {"title": "<mark>Ada</mark>'s notes"}


@pytest.mark.needs_embedded("erasure and gc are host operations")
def test_erased_and_collected_text_is_not_searchable(repo: Any) -> None:
    repo.create_text_index("Person", fields=["name"], kind="entity")
    repo.create_vector_index("Person", "v", dimensions=2, kind="entity")
    repo.put_entity("p1", "Person", {"name": "Jane Secret", "v": [1, 0]})
    past = repo.head().commit
    repo.update_entity("p1", {"name": "Jane Doe"})
    repo.erase("p1", reason="GDPR request")
    assert ids(repo.at(past.id).search("secret")) == []
    assert ids(repo.head().search("jane")) == []
    assert repo.at(past.id).similar([1, 0], 5) == []
    db = repo.database
    names = {i.name for i in [*repo.text_indexes(), *repo.vector_indexes()]}
    for name in names:
        row = db.one(f"SELECT count(*) FROM {name}")
        assert row[0] == 0
    # gc drops the entries of the rows it deletes
    for i in range(6):
        repo.put_entity("p2", "Person", {"name": f"version {i}", "v": [i, 1]})
    repo.set_retention("main", keep_commits=1)
    repo.gc()
    for name in names:
        left = db.one(f"SELECT count(*) FROM {name}")[0]
        rows = db.one("SELECT count(*) FROM rows WHERE kind = 'e' AND type = 'Person' "
                      "AND op = 1")[0]
        assert left <= rows
    assert ids(repo.head().search("version")) == ["p2"]


def test_vectors_are_checked_and_stay_json(repo: Any, admin: Any) -> None:
    info = admin.create_vector_index("Item", "embedding", dimensions=3, metric="l2",
                                     kind="entity")
    assert info == VectorIndex(info.name, "entity", "Item", "embedding", 3, "l2")
    repo.put_entity("a", "Item", {"embedding": [1, 2, 3]})
    before = repo.head().commit
    for bad in ([1, 2], [1, "x", 3], "1,2,3", [1, 2, float("inf")], [True, 1, 2]):
        with pytest.raises(InvalidValue):
            repo.put_entity("b", "Item", {"embedding": bad})
    assert repo.head().commit == before  # a refused commit leaves the state intact
    repo.put_entity("c", "Item", {"note": "no vector"})
    repo.put_entity("b", "Item", {"embedding": [1, 2, 4]})
    assert repo.head().entity("b").props == {"embedding": [1, 2, 4]}
    hits = repo.head().similar([1, 2, 3], 5)
    assert ids(hits) == ["a", "b"]
    assert hits[0].distance == 0.0 and hits[1].distance == pytest.approx(1.0)
    assert repo.similar_at([1, 2, 3], before.id, k=5) == hits[:1]
    diff = repo.diff(before.id, None)
    assert {c.id for c in diff.changes} == {"b", "c"}
    with pytest.raises(QueryError):
        repo.head().similar([1, 2], 3)
    assert wire.decode(SimilarHit, wire.encode(hits[0])) == hits[0]


@pytest.mark.needs_embedded("the archive is written and read on the host")
def test_archive_import_and_copy_are_indexed(repo: Any, tmp_path: Path) -> None:
    people(repo)
    repo.export(str(tmp_path / "a.jsonl"))
    target = str(tmp_path / "copy.db")
    fresh = palimpsest.open(target)
    fresh.create_text_index("Person", fields=["bio"], kind="entity")
    fresh.close()
    loaded = palimpsest.import_(str(tmp_path / "a.jsonl"), target)
    try:
        assert sorted(ids(loaded.head().search("analytical"))) == ["ada", "charles"]
    finally:
        loaded.close()


def random_vectors(rng: random.Random, n: int, dims: int) -> list[list[float]]:
    return [[round(rng.gauss(0, 1), 4) for _ in range(dims)] for _ in range(n)]


@pytest.mark.needs_embedded("measures the approximate index in this process")
@pytest.mark.parametrize("metric", ["cosine", "l2", "dot"])
def test_approximate_recall_at_head(repo: Any, metric: str) -> None:
    """recall@10 of the HNSW index against exact search, on random data (a fixed seed): a
    quality check, not a timing."""
    rng = random.Random(22)
    dims, n = 32, 3000
    repo.create_vector_index("Chunk", "v", dimensions=dims, metric=metric, kind="entity")
    with repo.transaction("load") as tx:
        for i, v in enumerate(random_vectors(rng, n, dims)):
            tx.put_entity(f"c{i:05d}", "Chunk", {"v": v})
    ann.forget(repo.database)
    view = repo.head()
    view.similar(random_vectors(rng, 1, dims)[0], 10)  # starts the build in the background
    assert ann.wait(repo.database, 120) and ann.ready(repo.database)
    found = total = 0
    for q in random_vectors(rng, 50, dims):
        exact = ids(view.similar(q, 10, exact=True))
        approx = ids(view.similar(q, 10))
        found += len(set(exact) & set(approx))
        total += len(exact)
    assert found / total >= 0.95, found / total


def load_chunks(repo: Any, rng: random.Random, n: int, dims: int) -> list[list[float]]:
    """Declare a vector index on ``Chunk.v`` and commit ``n`` random chunks ``c0000``…"""
    repo.create_vector_index("Chunk", "v", dimensions=dims, kind="entity")
    vectors = random_vectors(rng, n, dims)
    with repo.transaction("load") as tx:
        for i, v in enumerate(vectors):
            tx.put_entity(f"c{i:04d}", "Chunk", {"v": v})
    return vectors


@pytest.mark.needs_embedded("follows the approximate index in this process")
def test_approximate_index_follows_the_branch(repo: Any) -> None:
    rng = random.Random(7)
    dims = 8
    vectors = load_chunks(repo, rng, 600, dims)
    first = repo.head().commit
    assert ids(repo.head().similar(vectors[5], 1)) == ["c0005"]  # starts building the index
    assert ann.wait(repo.database, 60) and ann.ready(repo.database)
    moved = random_vectors(rng, 1, dims)[0]
    with repo.transaction("edit") as tx:
        tx.put_entity("c0005", "Chunk", {"v": moved})  # a new vector
        tx.delete_entity("c0006")
        tx.put_entity("c0007", "Other", {"v": vectors[7]})  # retyped away
        tx.put_entity("new", "Chunk", {"v": vectors[6]})
    head = repo.head()
    assert ids(head.similar(moved, 1)) == ["c0005"]
    assert ids(head.similar(vectors[6], 1)) == ["new"]
    assert "c0007" not in ids(head.similar(vectors[7], 5))
    past = repo.at(first.id)  # the past: exact
    assert ids(past.similar(vectors[6], 1)) == ["c0006"]
    assert ids(past.similar(vectors[5], 1)) == ["c0005"]
    for q in random_vectors(rng, 10, dims):
        assert head.similar(q, 10) == head.similar(q, 10, exact=True) or \
            len(set(ids(head.similar(q, 10))) & set(ids(head.similar(q, 10, exact=True)))) >= 8


@pytest.mark.needs_embedded("watches the approximate index build in this process")
def test_searches_answer_exactly_until_the_index_is_ready(repo: Any,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """While the background build runs, head searches give the exact answer (and never wait
    for it); commits meanwhile are caught up once it lands; then the index answers."""
    import threading

    rng = random.Random(11)
    dims = 8
    vectors = load_chunks(repo, rng, 800, dims)
    ann.forget(repo.database)
    release, started = threading.Event(), threading.Event()
    real_build, real_query = ann._build, ann._query
    queried: list[int] = []

    def slow_build(*args: Any) -> Any:
        started.set()
        assert release.wait(60)
        return real_build(*args)

    def counting_query(*args: Any) -> Any:
        queried.append(1)
        return real_query(*args)

    monkeypatch.setattr(ann, "_build", slow_build)
    monkeypatch.setattr(ann, "_query", counting_query)
    queries = random_vectors(rng, 20, dims)
    head = repo.head()
    for q in queries:
        assert head.similar(q, 10) == head.similar(q, 10, exact=True)
    assert started.is_set() and not ann.ready(repo.database) and not queried
    with repo.transaction("while building") as tx:  # the line moves on meanwhile
        tx.put_entity("late", "Chunk", {"v": queries[0]})
        tx.delete_entity("c0001")
    later = repo.head()
    assert ids(later.similar(queries[0], 1)) == ["late"]  # still exact
    release.set()
    assert ann.wait(repo.database, 60) and ann.ready(repo.database)
    assert ids(later.similar(queries[0], 1)) == ["late"] and queried  # the index, caught up
    assert "c0001" not in ids(later.similar(vectors[1], 5))
    found = sum(len(set(ids(later.similar(q, 10))) & set(ids(later.similar(q, 10, exact=True))))
                for q in queries)
    assert found >= 0.95 * 10 * len(queries)


def test_search_then_graph_reads(repo: Any, admin: Any) -> None:
    people(repo)
    repo.put_relation("k", "KNOWS", "ada", "charles")
    admin.create_text_index("Person", fields=["bio"], kind="entity")
    view = repo.head()
    found = [n.id for h in view.search("notes") for n in view.neighbors(h.element.id)]
    assert found == ["charles"]


def test_cli_search_and_similar(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from palimpsest.cli import app

    path = str(tmp_path / "kg.db")
    repo = palimpsest.open(path)
    people(repo)
    repo.create_text_index("Person", fields=["name", "bio"])
    repo.create_vector_index("Person", "v", dimensions=2, kind="entity")
    repo.update_entity("ada", {"v": [1, 0]})
    repo.update_entity("alan", {"v": [0, 1]})
    repo.close()
    (tmp_path / "q.json").write_text("[0.1, 0.9]")
    runner = CliRunner()
    out = runner.invoke(app, ["--repo", path, "search", "analytical", "--json"],
                        catch_exceptions=False)
    assert out.exit_code == 0, out.stderr
    hits = [wire.decode(SearchHit, h) for h in json.loads(out.stdout)]
    assert sorted(ids(hits)) == ["ada", "charles"]
    out = runner.invoke(app, ["--repo", path, "similar", "--vector-file", str(tmp_path / "q.json"),
                              "-k", "1", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.stderr
    assert [h["element"]["id"] for h in json.loads(out.stdout)] == ["alan"]
    out = runner.invoke(app, ["--repo", path, "similar", "-k", "1"])
    assert out.exit_code != 0 and "--vector" in out.stderr
