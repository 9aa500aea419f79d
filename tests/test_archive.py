"""The JSON Lines archive round-trips with identical commit ids and state hashes."""

from __future__ import annotations

from pathlib import Path

import pytest

import palimpsest

pytestmark = pytest.mark.needs_embedded(
    "export / import of the raw archive are files on the server's host")


def _history(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1}, timestamp="2026-01-01")
    repo.put_entity("b", "T", {"x": 2})
    repo.put_relation("ab", "R", "a", "b", {"w": [1, 2]})
    repo.create_branch("exp")
    repo.put_document("notes", "n1", {"t": "é ✓"}, branch="exp")
    repo.update_entity("a", {"x": None, "y": 1.5})
    repo.tag("v1", message="release", author="rel")
    repo.delete_entity("b")


def test_round_trip_keeps_ids_and_states(repo: palimpsest.Repository, tmp_path: Path) -> None:
    _history(repo)
    path = tmp_path / "archive.jsonl"
    count = repo.export(path)
    assert count > 10
    copy = palimpsest.import_(path, tmp_path / "copy.db")
    assert [c.id for c in copy.log()] == [c.id for c in repo.log()]
    assert [c.state_hash for c in copy.log("exp")] == [c.state_hash for c in repo.log("exp")]
    for ref in ("main", "exp", "v1", "main~2"):
        assert copy.at(ref).to_dict() == repo.at(ref).to_dict()
    assert [t.name for t in copy.tags()] == ["v1"]
    assert copy.tags()[0].message == "release"
    assert copy.fsck().ok
    copy.put_entity("c", "T")  # the copy stays writable
    assert copy.head().entity("c") is not None
    copy.close()


def test_export_of_one_ref(repo: palimpsest.Repository, tmp_path: Path) -> None:
    _history(repo)
    path = tmp_path / "exp.jsonl"
    repo.export(path, ref="exp")
    copy = palimpsest.import_(path)
    assert copy.current_branch == "exp"
    assert [c.id for c in copy.log()] == [c.id for c in repo.log("exp")]
    assert copy.head().to_dict() == repo.at("exp").to_dict()
    assert copy.fsck().ok


def test_import_rejects_tampering_and_nonempty_targets(repo: palimpsest.Repository,
                                                       tmp_path: Path) -> None:
    _history(repo)
    path = tmp_path / "a.jsonl"
    repo.export(path)
    text = path.read_text().replace('{\\"x\\":1}', '{\\"x\\":7}', 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(text)
    with pytest.raises(palimpsest.CorruptObject):
        palimpsest.import_(bad)
    with pytest.raises(palimpsest.InvalidValue, match="empty repository"):
        from palimpsest.maintenance.archive import import_archive
        import_archive(repo.database, str(path))
    (tmp_path / "junk.jsonl").write_text('{"t": "nope"}\n')
    with pytest.raises(palimpsest.InvalidValue, match="not a palimpsest archive"):
        palimpsest.import_(tmp_path / "junk.jsonl")
