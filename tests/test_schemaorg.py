"""schema.org's release history (examples/schemaorg_history.py) on a few releases: the state
at each tag is exactly that release's triples, and the diff between consecutive tags is exactly
the set difference of their triples."""

from __future__ import annotations

import importlib.util
import itertools
import lzma
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import palimpsest
from palimpsest.io import render
from palimpsest.io.rdf import serialize_rdf

pyoxigraph = pytest.importorskip("pyoxigraph")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "schemaorg"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "schemaorg_history.py"
# 2.2 -> 3.0 moved the health and medical terms out of core (mass deletions); 3.0 -> 3.1 is
# an ordinary release with additions and rewritten comments.
RELEASES = ["2.2", "3.0", "3.1"]

pytestmark = pytest.mark.skipif(not (DATA / "manifest.json").exists(),
                                reason="the schema.org data set (shared/data/schemaorg) is "
                                       "not next to this checkout")

Triple = tuple[str, str, str]


def load_example() -> ModuleType:
    if "schemaorg_history" in sys.modules:
        return sys.modules["schemaorg_history"]
    spec = importlib.util.spec_from_file_location("schemaorg_history", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def triples(data: bytes) -> set[Triple]:
    return {(str(q.subject), str(q.predicate), str(q.object))
            for q in pyoxigraph.parse(data, pyoxigraph.RdfFormat.N_TRIPLES)}


def release_triples(version: str) -> set[Triple]:
    return triples(lzma.decompress((DATA / "releases" / f"{version}.nt.xz").read_bytes()))


def element_triples(value: Any) -> set[Triple]:
    if value is None:
        return set()
    if isinstance(value, palimpsest.Relation):
        data = serialize_rdf([], [(value.id, value.type, value.source, value.target,
                                   value.props)])
    else:
        data = serialize_rdf([(value.id, value.type, value.props)], [])
    return triples(data)


@pytest.fixture(scope="module")
def history() -> Iterator[tuple[palimpsest.Repository, list[Any]]]:
    example = load_example()
    repo = palimpsest.open(":memory:", author="tester")
    built = example.build(repo, DATA, RELEASES)
    yield repo, built
    repo.close()


def test_one_tagged_commit_per_release(history: tuple[palimpsest.Repository, list[Any]]
                                       ) -> None:
    repo, built = history
    log = repo.log(limit=None)
    assert [c.message for c in reversed(log)] == [f"schema.org {v}" for v in RELEASES]
    for release, commit in built:
        assert repo.resolve(release.version).id == commit.id
        assert commit.metadata["release"] == release.version
        assert commit.timestamp.date().isoformat() == release.date
        assert commit.author == "schema.org"


@pytest.mark.parametrize("version", RELEASES)
def test_state_at_each_tag_is_the_release(history: tuple[palimpsest.Repository, list[Any]],
                                          version: str) -> None:
    repo, _ = history
    data, _ = render(repo, version, "nt")
    expected = release_triples(version)
    assert triples(data) == expected
    assert len(expected) == next(r.triples for r, _ in history[1] if r.version == version)


@pytest.mark.parametrize("a, b", list(itertools.pairwise(RELEASES)))
def test_diff_is_the_set_difference(history: tuple[palimpsest.Repository, list[Any]],
                                    a: str, b: str) -> None:
    repo, _ = history
    diff = repo.diff(a, b)
    added: set[Triple] = set()
    removed: set[Triple] = set()
    for change in diff.changes:
        old, new = element_triples(change.old), element_triples(change.new)
        assert old != new or change.element == "entity"  # placeholders carry no triples
        added |= new - old
        removed |= old - new
    before, after = release_triples(a), release_triples(b)
    assert added == after - before
    assert removed == before - after
    commit = repo.resolve(b)
    assert commit.stats.total == len(diff.changes)  # the commit holds only the changes
    assert len(repo.changes(b)) == len(diff.changes)


def test_time_travel_by_date(history: tuple[palimpsest.Repository, list[Any]]) -> None:
    repo, built = history
    dates = {r.version: r.date for r, _ in built}
    view = repo.at(dates["3.0"] + "T12:00:00Z")
    assert view.commit is not None and view.commit.metadata["release"] == "3.0"


def test_dates_going_backwards_are_clamped(tmp_path: Path) -> None:
    example = load_example()
    repo = palimpsest.open(":memory:")
    releases = example.releases(DATA, ["7.04", "8.0"])
    late, early = releases[0], releases[1]
    swapped = [example.Release(late.version, late.path, "2021-01-01", late.triples, late.info),
               example.Release(early.version, early.path, "2020-01-01", early.triples,
                               early.info)]
    first = example.import_release(repo, swapped[0])
    second = example.import_release(repo, swapped[1])
    assert second.timestamp == first.timestamp
    assert second.metadata["time_clamped"] is True
    assert second.metadata["release_date"] == "2020-01-01"


def test_show_runs(history: tuple[palimpsest.Repository, list[Any]]) -> None:
    repo, _ = history
    lines: list[str] = []
    load_example().show(repo, lines.append)
    text = "\n".join(lines)
    assert "== log" in text and "== diff" in text and "history of schema_http:Person" in text


# -- an entity's history is the history of its facts, across all 52 releases ----------------
SOURCE = ("schema:Person schema:source "
          "http://www.w3.org/wiki/WebSchemas/SchemaDotOrgSources#source_rNews")
CONTRIBUTOR = "schema:Person schema:contributor schema:docs/collab/rNews"


@pytest.fixture(scope="module")
def every_release() -> Iterator[tuple[palimpsest.Repository, list[Any]]]:
    repo = palimpsest.open(":memory:", author="tester")
    built = load_example().build(repo, DATA)
    yield repo, built
    repo.close()


def releases_changing(built: list[Any], iri: str, *, as_object: bool) -> list[str]:
    """The releases whose triples with ``iri`` as subject (or also as object) differ from the
    previous release's, read straight from the files: newest first."""
    subject, obj = f"<{iri}> ", f" <{iri}> ."
    out, before = [], set()
    for release, _ in built:
        text = lzma.decompress(release.path.read_bytes()).decode()
        lines = {line for line in text.splitlines()
                 if line.startswith(subject) or (as_object and line.endswith(obj))}
        if lines != before:
            out.append(release.version)
        before = lines
    return out[::-1]


@pytest.mark.slow
def test_person_history_covers_its_triples(every_release: tuple[palimpsest.Repository,
                                                                list[Any]]) -> None:
    """`schema:source` / `schema:contributor` triples have the class as their subject, so they
    are outgoing relations of `schema:Person`: its default history shows release 16.0
    replacing one by the other."""
    repo, built = every_release
    assert len(built) == 52
    versions = repo.history("schema:Person")
    facts = {(v.commit.metadata["release"], v.element, v.kind, v.id) for v in versions}
    assert ("16.0", "relation", "deleted", SOURCE) in facts
    assert ("16.0", "relation", "created", CONTRIBUTOR) in facts
    assert ("9.0", "relation", "created", SOURCE) in facts
    assert ("9.0", "entity", "created", "schema:Person") in facts
    assert all(v.element == "entity" for v in repo.history("schema:Person", relations="none"))
    # the versions are ordered by commit, newest first
    seqs = [v.commit.seq for v in versions]
    assert seqs == sorted(seqs, reverse=True)
    # every release that changed a triple about Person (https: 9.0 on; http: 2.0 to 8.0),
    # and only those, is in its history, its log(touching=) and, with incoming ones, "both"
    for name, iri in (("schema:Person", "https://schema.org/Person"),
                      ("schema_http:Person", "http://schema.org/Person")):
        out = releases_changing(built, iri, as_object=False)
        shown = list(dict.fromkeys(v.commit.metadata["release"] for v in repo.history(name)))
        assert shown == out, name
        log = [c.metadata["release"] for c in repo.log(touching=name, limit=None)]
        assert log == out, name
        both = releases_changing(built, iri, as_object=True)
        shown = list(dict.fromkeys(v.commit.metadata["release"]
                                   for v in repo.history(name, relations="both")))
        assert shown == both, name
    blame = repo.blame("schema:Person")
    assert blame[f"@relation {CONTRIBUTOR}"].commit.metadata["release"] == "16.0"
    assert blame[f"@relation {CONTRIBUTOR}"].relation == CONTRIBUTOR
    assert f"@relation {SOURCE}" not in blame
    assert blame["rdfs:label"].commit.metadata["release"] == "9.0"
