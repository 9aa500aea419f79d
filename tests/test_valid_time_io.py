"""Valid time in the graph files (docs/valid-time.md, docs/import-export.md): JSON Lines and
JSON records carry ``valid_from`` / ``valid_to``, CSV files the columns of the same names;
export writes them, import reads them, and a re-import of the same file changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

import palimpsest
from palimpsest.io import export_files, import_files


def _repo() -> palimpsest.Repository:
    repo = palimpsest.open(":memory:")
    with repo.transaction("seed") as tx:
        tx.put_entity("alice", "Person", {"valid_from": "a property"}, valid_from="2000-01-01")
        tx.put_entity("acme", "Company")
        tx.put_relation("alice@acme", "worksAt", "alice", "acme", valid_from="2020-01-01",
                        valid_to="2023-01-01")
    return repo


def _files(folder: Path, fmt: str) -> list[str]:
    if fmt == "csv":
        return [str(folder / "csv" / name) for name in ("entities.csv", "relations.csv")]
    return [str(folder / f"graph.{fmt}")]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_export_and_import_keep_intervals(tmp_path: Path, fmt: str) -> None:
    repo = _repo()
    export_files(repo, str(tmp_path / ("csv" if fmt == "csv" else f"graph.{fmt}")),
                 format=fmt)
    with palimpsest.open(":memory:") as copy:
        import_files(copy, _files(tmp_path, fmt))
        assert copy.head().commit.state_hash == repo.head().commit.state_hash  # type: ignore[union-attr]
        assert [r.id for r in copy.head().valid_at("2021-01-01").relations()] == ["alice@acme"]
        assert copy.head().valid_at("2024-01-01").count_relations() == 0
        again = import_files(copy, _files(tmp_path, fmt))
        assert again.stats.entities_modified == again.stats.relations_modified == 0


def test_csv_columns_and_corrections(tmp_path: Path) -> None:
    people = tmp_path / "entities.csv"
    people.write_text("id,type,valid_from,valid_to,name\n"
                      "alice,Person,2000-01-01,,Alice\nacme,Company,,,\n", encoding="utf-8")
    jobs = tmp_path / "relations.csv"
    jobs.write_text("id,type,source,target,valid_from,valid_to\n"
                    "j1,worksAt,alice,acme,2020-01-01,2023-01-01\n", encoding="utf-8")
    repo = palimpsest.open(":memory:")
    import_files(repo, [str(people), str(jobs)])
    alice = repo.head().entity("alice")
    assert alice is not None and alice.props == {"name": "Alice"}
    assert alice.valid_from is not None and alice.valid_from.year == 2000
    # the next release corrects the end: one modified relation, nothing else
    jobs.write_text("id,type,source,target,valid_from,valid_to\n"
                    "j1,worksAt,alice,acme,2020-01-01,2023-04-01\n", encoding="utf-8")
    result = import_files(repo, [str(people), str(jobs)])
    assert result.stats.relations_modified == 1 and result.stats.entities_modified == 0
    change = repo.changes(result.commit.id)[0]  # type: ignore[union-attr]
    assert set(change.property_changes()) == {"@valid"}
    jobs.write_text("id,type,source,target,valid_from,valid_to\n"
                    "j1,worksAt,alice,acme,2024-01-01,2023-04-01\n", encoding="utf-8")
    with pytest.raises(palimpsest.InvalidInput, match=r"relations.csv:2: valid time"):
        import_files(repo, [str(people), str(jobs)])


def test_jsonl_records_with_bad_intervals_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text('{"kind": "entity", "id": "a", "type": "T", "valid_from": 2020}\n',
                    encoding="utf-8")
    with pytest.raises(palimpsest.InvalidInput, match="expected ISO 8601"):
        import_files(palimpsest.open(":memory:"), [str(path)])
