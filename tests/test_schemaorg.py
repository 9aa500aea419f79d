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
