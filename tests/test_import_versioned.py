"""Versioned import: one commit per release that records exactly what changed."""

from __future__ import annotations

from pathlib import Path

import pytest

import palimpsest
from palimpsest.io import Snapshot, import_files, import_graph


def _rows_of(repo: palimpsest.Repository, commit: palimpsest.Commit) -> list[tuple[str, str]]:
    rows = repo.database.all("SELECT kind, key FROM rows WHERE line = ? AND seq = ? "
                             "ORDER BY kind, key", (commit.line, commit.seq))
    return [(str(k), str(key)) for k, key in rows]


def release(n: int) -> Snapshot:
    """A small evolving graph: release n adds, changes and drops a few things."""
    entities = {f"e{i}": ("Thing", {"n": i, "label": f"thing {i}"}) for i in range(n, n + 5)}
    entities["hub"] = ("Hub", {"release": n})
    relations = {f"hub->e{i}": ("HAS", "hub", f"e{i}", {}) for i in range(n, n + 5)}
    return Snapshot(entities, relations)


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_first_import_creates_everything(repo: palimpsest.Repository) -> None:
    result = import_graph(repo, release(0), message="r0")
    assert result.commit is not None
    assert result.stats.entities_created == 6
    assert result.stats.relations_created == 5
    assert result.unchanged == 0
    assert repo.head().to_dict()["entities"]["e3"] == {"type": "Thing",
                                                        "props": {"n": 3, "label": "thing 3"}}


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_second_release_records_only_the_difference(repo: palimpsest.Repository) -> None:
    import_graph(repo, release(0), message="r0")
    result = import_graph(repo, release(2), message="r2")
    commit = result.commit
    assert commit is not None
    stats = commit.stats
    # e0, e1 and their relations go; e5, e6 and theirs come; hub changes; e2..e4 stay.
    assert (stats.entities_created, stats.entities_modified, stats.entities_deleted) == (2, 1, 2)
    assert (stats.relations_created, stats.relations_deleted) == (2, 2)
    assert result.unchanged == 3 + 3  # e2..e4 and their three relations
    written = _rows_of(repo, commit)
    assert ("e", "e3") not in written and ("r", "hub->e3") not in written
    assert len(written) == stats.total
    changes = {(c.kind, c.id) for c in repo.diff("HEAD~1", "HEAD").changes}
    assert ("modified", "hub") in changes and ("deleted", "e0") in changes
    assert ("created", "hub->e6") in changes and len(changes) == stats.total


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_state_equals_each_release(repo: palimpsest.Repository) -> None:
    for n in range(4):
        import_graph(repo, release(n), message=f"r{n}")
        repo.tag(f"r{n}")
    for n in range(4):
        state = repo.at(f"r{n}").to_dict()
        expected = release(n).to_dict()
        assert state["entities"] == expected["entities"]
        assert state["relations"] == expected["relations"]


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_same_release_twice_is_an_empty_commit(repo: palimpsest.Repository) -> None:
    import_graph(repo, release(1), message="first")
    result = import_graph(repo, release(1), message="again")
    assert result.commit is not None and result.stats.total == 0
    assert result.unchanged == 11
    assert _rows_of(repo, result.commit) == []


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_type_and_endpoint_changes_count_as_changes(repo: palimpsest.Repository) -> None:
    import_graph(repo, Snapshot({"a": ("T", {}), "b": ("T", {}), "c": ("T", {})},
                                {"r": ("R", "a", "b", {})}))
    result = import_graph(repo, Snapshot({"a": ("U", {}), "b": ("T", {}), "c": ("T", {})},
                                         {"r": ("R", "a", "c", {})}))
    assert result.stats.entities_modified == 1 and result.stats.relations_modified == 1
    assert repo.head().relation("r").target == "c"  # type: ignore[union-attr]


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_int_and_bool_are_different_values(repo: palimpsest.Repository) -> None:
    import_graph(repo, Snapshot({"a": ("T", {"x": 1})}))
    result = import_graph(repo, Snapshot({"a": ("T", {"x": True})}))
    assert result.stats.entities_modified == 1
    assert repo.head().entity("a").props == {"x": True}  # type: ignore[union-attr]


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_merge_mode_adds_and_updates_only(repo: palimpsest.Repository) -> None:
    import_graph(repo, release(0))
    result = import_graph(repo, Snapshot({"e0": ("Thing", {"n": 100}), "new": ("Thing", {})},
                                         {"x": ("R", "new", "e4", {})}), mode="merge")
    assert result.stats.entities_deleted == 0 and result.stats.relations_deleted == 0
    assert result.stats.entities_created == 1 and result.stats.entities_modified == 1
    view = repo.head()
    assert view.entity("e1") is not None  # not in the import, kept
    assert view.relation("x") is not None  # endpoint e4 exists on the branch


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_deleting_entities_deletes_their_relations(repo: palimpsest.Repository) -> None:
    import_graph(repo, release(0))
    result = import_graph(repo, Snapshot({"e0": ("Thing", {"n": 0, "label": "thing 0"})}))
    assert repo.head().count() == 1 and repo.head().count_relations() == 0
    assert result.stats.entities_deleted == 5 and result.stats.relations_deleted == 5


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_relation_to_missing_entity_fails_and_commits_nothing(
        repo: palimpsest.Repository) -> None:
    import_graph(repo, release(0))
    before = repo.log(limit=None)
    bad = release(1)
    bad.relations["oops"] = ("R", "hub", "ghost", {})
    bad.where[("relation", "oops")] = ("bad.jsonl", 7)
    with pytest.raises(palimpsest.InvalidInput) as info:
        import_graph(repo, bad)
    assert info.value.source == "bad.jsonl" and info.value.line == 7
    assert "ghost" in info.value.reason
    assert repo.log(limit=None) == before


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_skip_invalid_leaves_bad_elements_out(repo: palimpsest.Repository) -> None:
    snap = release(0)
    snap.relations["oops"] = ("R", "hub", "ghost", {})
    snap.entities["bad\x00id"] = ("Thing", {})
    snap.entities["nan"] = ("Thing", {"x": float("nan")})
    result = import_graph(repo, snap, skip_invalid=True)
    assert result.skipped == 3 and len(result.errors) == 3
    assert result.stats.entities_created == 6 and result.stats.relations_created == 5
    assert repo.head().entity("nan") is None


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_documents_are_versioned_too(repo: palimpsest.Repository) -> None:
    import_graph(repo, Snapshot(documents={("notes", "a"): {"t": 1}, ("notes", "b"): 2}))
    result = import_graph(repo, Snapshot(documents={("notes", "a"): {"t": 2}}))
    assert result.stats.documents_modified == 1 and result.stats.documents_deleted == 1
    # a snapshot without documents leaves them alone
    import_graph(repo, Snapshot({"x": ("T", {})}))
    assert repo.head().document("notes", "a") is not None


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_import_to_another_branch_with_time_and_metadata(repo: palimpsest.Repository) -> None:
    import_graph(repo, release(0), timestamp="2020-01-01T00:00:00Z")
    repo.create_branch("next")
    result = import_graph(repo, release(1), branch="next", timestamp="2021-06-01",
                          metadata={"release": "1"}, author="loader")
    commit = result.commit
    assert commit is not None and commit.author == "loader"
    assert commit.metadata == {"release": "1"} and commit.timestamp.year == 2021
    assert repo.head().entity("e5") is None and repo.at("next").entity("e5") is not None
    with pytest.raises(palimpsest.InvalidValue):  # history must move forward in time
        import_graph(repo, release(2), branch="next", timestamp="2020-06-01")


def test_bad_mode_is_refused(repo: palimpsest.Repository) -> None:
    with pytest.raises(palimpsest.InvalidValue):
        import_graph(repo, release(0), mode="upsert")  # type: ignore[arg-type]


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_progress_is_reported(repo: palimpsest.Repository) -> None:
    seen: list[str] = []
    import_graph(repo, release(0), progress=lambda stage, done, total: seen.append(stage))
    assert {"compare", "write", "commit"} <= set(seen)


@pytest.mark.needs_embedded("the importers write through an embedded repository")
def test_rdf_releases_from_files(repo: palimpsest.Repository, tmp_path: Path) -> None:
    v1 = tmp_path / "v1.nt"
    v1.write_text('<http://ex.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "A" .\n'
                  '<http://ex.org/a> <http://ex.org/knows> <http://ex.org/b> .\n'
                  '<http://ex.org/b> <http://www.w3.org/2000/01/rdf-schema#label> "B" .\n')
    v2 = tmp_path / "v2.nt"
    v2.write_text('<http://ex.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "A2" .\n'
                  '<http://ex.org/b> <http://www.w3.org/2000/01/rdf-schema#label> "B" .\n')
    first = import_files(repo, [v1])
    second = import_files(repo, [v2])
    assert first.stats.entities_created == 2 and first.stats.relations_created == 1
    assert second.stats.entities_modified == 1 and second.stats.relations_deleted == 1
    assert second.unchanged == 1
    assert second.commit is not None
    assert second.commit.metadata["import"] == {"files": ["v2.nt"], "format": "nt",
                                                "mode": "replace"}
