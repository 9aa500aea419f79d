"""Archives are verified end to end: a truncated, reordered or tampered archive is refused with
CorruptObject naming the line, and nothing is written (the target stays absent or unchanged)."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path

import orjson
import pytest

import palimpsest
from conftest import POSTGRES_URL, _postgres_url, drop_postgres_schema
from palimpsest import CorruptObject, InvalidValue
from palimpsest.codec import commit_id


def _history(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1}, timestamp="2026-01-01")
    repo.put_entity("b", "T", {"x": 2})
    with repo.transaction("two at once") as tx:
        tx.put_entity("c", "T", {"x": 3})
        tx.put_entity("d", "T", {"x": 4})
        tx.put_relation("cd", "R", "c", "d", {"w": [1, 2]})
    repo.create_branch("exp")
    repo.put_document("notes", "n1", {"t": "é ✓"}, branch="exp")
    repo.update_entity("a", {"x": None, "y": 1.5})
    repo.tag("v1", message="release", author="rel")
    repo.delete_entity("b")


@pytest.fixture
def archive(tmp_path: Path) -> list[bytes]:
    repo = palimpsest.open(tmp_path / "source.db")
    _history(repo)
    path = tmp_path / "source.jsonl"
    repo.export(path)
    repo.close()
    return path.read_bytes().splitlines(keepends=True)


def _ids(repo: palimpsest.Repository) -> list[str]:
    return [c.id for ref in ("main", "exp") for c in repo.log(ref, limit=None)]


def _records(lines: list[bytes]) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in lines]


def _reseal(lines: list[bytes]) -> list[bytes]:
    """A forger's archive: the trailer recomputed over the edited lines, so only the semantic
    checks can catch the edit."""
    body = [line for line in lines if orjson.loads(line).get("t") != "end"]
    counts: dict[str, int] = {}
    for line in body:
        kind = str(orjson.loads(line)["t"])
        counts[kind] = counts.get(kind, 0) + 1
    digest = hashlib.blake2b(b"".join(body), digest_size=32).hexdigest()
    return [*body, orjson.dumps({"t": "end", "records": len(body), "counts": counts,
                                 "digest": digest}) + b"\n"]


def _index(lines: list[bytes], kind: str, **match: object) -> int:
    for i, record in enumerate(_records(lines)):
        if record.get("t") == kind and all(record.get(k) == v for k, v in match.items()):
            return i
    raise AssertionError(f"no {kind} record matching {match}")


def _refused(tmp_path: Path, lines: list[bytes], line: int | None = None,
             match: str | None = None) -> str:
    """Import ``lines`` into a new file: it must raise CorruptObject (naming ``line``) and
    leave no file behind."""
    source = tmp_path / f"bad-{uuid.uuid4().hex[:8]}.jsonl"
    source.write_bytes(b"".join(lines))
    target = tmp_path / f"target-{uuid.uuid4().hex[:8]}.db"
    with pytest.raises(CorruptObject, match=match) as info:
        palimpsest.import_(source, target)
    message = str(info.value)
    found = re.search(r"archive line (\d+)", message)
    assert found, message
    if line is not None:
        assert int(found.group(1)) == line, message
    assert not target.exists()
    assert not list(tmp_path.glob(f"{target.name}*"))
    return message


def test_export_ends_with_a_trailer_and_round_trips(archive: list[bytes], tmp_path: Path
                                                    ) -> None:
    trailer = orjson.loads(archive[-1])
    assert trailer["t"] == "end" and trailer["records"] == len(archive) - 1
    assert trailer["digest"] == hashlib.blake2b(b"".join(archive[:-1]),
                                                digest_size=32).hexdigest()
    assert _reseal(archive) == archive
    source = palimpsest.open(tmp_path / "source.db")
    copy = palimpsest.import_(tmp_path / "source.jsonl", tmp_path / "copy.db")
    assert _ids(copy) == _ids(source)
    assert [c.state_hash for c in copy.log("exp")] == [c.state_hash for c in source.log("exp")]
    again = tmp_path / "again.jsonl"
    copy.export(again)
    assert again.read_bytes() == b"".join(archive)  # a second round trip is byte-identical
    copy.close()
    source.close()


def test_truncation_at_every_line_boundary_is_refused(archive: list[bytes],
                                                      tmp_path: Path) -> None:
    for keep in range(len(archive)):
        _refused(tmp_path, archive[:keep], line=max(keep + 1, 1) if keep else 1)
    # cut inside a line: the last line is not JSON
    cut = [*archive[:5], archive[5][: len(archive[5]) // 2]]
    _refused(tmp_path, cut, line=6, match="not JSON")


def test_swapped_lines_are_refused(archive: list[bytes], tmp_path: Path) -> None:
    trailer = len(archive)
    first_commit = _index(archive, "commit")
    swapped = list(archive)
    swapped[first_commit], swapped[first_commit + 1] = swapped[first_commit + 1], \
        swapped[first_commit]
    _refused(tmp_path, swapped, line=first_commit + 1, match="out of order|not earlier")
    # two rows of the same commit: same meaning, but the digest no longer matches
    c = _index(archive, "row", key="c")
    d = _index(archive, "row", key="d")
    swapped = list(archive)
    swapped[c], swapped[d] = swapped[d], swapped[c]
    _refused(tmp_path, swapped, line=trailer, match="digest")
    # a row moved before the commits
    row = _index(archive, "row")
    moved = [archive[0], archive[row], *archive[1:row], *archive[row + 1:]]
    _refused(tmp_path, moved, line=2)
    # the trailer moved up
    _refused(tmp_path, [*archive[:3], archive[-1], *archive[3:-1]], line=4)


def test_a_flipped_byte_in_a_value_is_refused_at_its_line(archive: list[bytes],
                                                          tmp_path: Path) -> None:
    at = _index(archive, "row", key="cd")
    assert b"[1,2]" in archive[at]
    flipped = list(archive)
    flipped[at] = archive[at].replace(b"[1,2]", b"[1,3]")
    _refused(tmp_path, flipped, line=at + 1, match="does not match its hash")
    _refused(tmp_path, _reseal(flipped), line=at + 1, match="does not match its hash")
    # a flipped byte anywhere else (a commit message) breaks the commit id
    commit = _index(archive, "commit", message="two at once")
    flipped = list(archive)
    flipped[commit] = archive[commit].replace(b"two at once", b"two at oncf")
    _refused(tmp_path, _reseal(flipped), line=commit + 1, match="does not match its content")
    # and a byte of the trailer itself
    flipped = [*archive[:-1], archive[-1].replace(b'"digest":"', b'"digest":"0', 1)]
    _refused(tmp_path, flipped, line=len(archive), match="digest")


def test_a_ref_pointing_at_a_missing_commit_is_refused(archive: list[bytes],
                                                       tmp_path: Path) -> None:
    at = _index(archive, "ref", name="v1")
    record = orjson.loads(archive[at])
    record["commit_seq"] = 999
    forged = list(archive)
    forged[at] = orjson.dumps(record) + b"\n"
    _refused(tmp_path, _reseal(forged), line=at + 1, match="v1")
    at = _index(archive, "ref", name="exp")
    record = orjson.loads(archive[at])
    record["line"] = 77
    forged = list(archive)
    forged[at] = orjson.dumps(record) + b"\n"
    _refused(tmp_path, _reseal(forged), line=at + 1, match="exp")
    # a row whose commit is not in the archive
    at = _index(archive, "row", key="a")
    record = orjson.loads(archive[at])
    record["seq"] = 999
    forged = list(archive)
    forged[at] = orjson.dumps(record) + b"\n"
    _refused(tmp_path, _reseal(forged), line=at + 1, match="no commit")


def test_a_forged_state_hash_is_refused(archive: list[bytes], tmp_path: Path) -> None:
    """The newest commit gets another state hash and a commit id that matches it: only
    recomputing the state from the rows can tell."""
    commits = [i for i, r in enumerate(_records(archive)) if r.get("t") == "commit"]
    at = commits[-1]
    record = orjson.loads(archive[at])
    record["state_hash"] = "00" * 31 + "01"
    record["id"] = commit_id(record["parents"], bytes.fromhex(
        record["state_hash"]), record["author"], record["message"], record["time_us"],
        record["metadata"])
    forged = list(archive)
    forged[at] = orjson.dumps(record) + b"\n"
    _refused(tmp_path, _reseal(forged), line=at + 1, match="state hash")


def test_duplicated_and_unknown_records_are_refused(archive: list[bytes],
                                                    tmp_path: Path) -> None:
    at = _index(archive, "row", key="c")
    _refused(tmp_path, _reseal([*archive[:at + 1], archive[at], *archive[at + 1:]]),
             line=at + 2, match="twice")
    odd = orjson.dumps({"t": "surprise"}) + b"\n"
    _refused(tmp_path, _reseal([*archive[:2], odd, *archive[2:]]), line=3)
    _refused(tmp_path, [*archive, b'{"t": "ref"}\n'], line=len(archive) + 1, match="after")
    # a blank line before the header is still bytes the digest covers
    _refused(tmp_path, [b"\n", *archive], line=len(archive) + 1, match="digest")


@pytest.mark.needs_embedded("imports an archive into repo.database")
def test_a_refused_archive_leaves_an_existing_target_unchanged(
        archive: list[bytes], tmp_path: Path, repo: palimpsest.Repository) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(archive[:-3]))
    from palimpsest.maintenance.archive import import_archive
    with pytest.raises(CorruptObject):
        import_archive(repo.database, str(bad))
    assert repo.log() == [] and repo.branches() and repo.current_branch == "main"
    assert repo.fsck().ok
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"".join(archive))
    import_archive(repo.database, str(good))
    assert repo.head().entity("a") is not None and repo.fsck().ok


def test_restore_of_a_bad_archive_keeps_the_old_repository(archive: list[bytes],
                                                           tmp_path: Path) -> None:
    live = palimpsest.open(tmp_path / "live.db")
    live.put_entity("keep", "T")
    head = live.head().commit
    live.close()
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(archive[:-1]))
    with pytest.raises(CorruptObject, match="trailer is missing"):
        palimpsest.restore(bad, tmp_path / "live.db", overwrite=True)
    again = palimpsest.open(tmp_path / "live.db")
    assert again.head().commit == head and again.fsck().ok
    again.close()
    assert not list(tmp_path.glob("live.db.restoring*"))


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PALIMPSEST_TEST_POSTGRES")
def test_a_refused_archive_leaves_no_postgres_schema(archive: list[bytes],
                                                     tmp_path: Path) -> None:
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:16]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(archive[:-2]))
    try:
        with pytest.raises(CorruptObject):
            palimpsest.import_(bad, _postgres_url(schema))
        assert POSTGRES_URL is not None
        with psycopg.connect(POSTGRES_URL) as conn:
            assert conn.execute("SELECT 1 FROM information_schema.schemata WHERE "
                                "schema_name = %s", (schema,)).fetchone() is None
        good = tmp_path / "good.jsonl"
        good.write_bytes(b"".join(archive))
        copy = palimpsest.import_(good, _postgres_url(schema))
        assert copy.fsck().ok and copy.at("v1").entity("a") is not None
        copy.close()
    finally:
        drop_postgres_schema(schema)


def test_legacy_archives_need_an_explicit_opt_in(archive: list[bytes], tmp_path: Path) -> None:
    header = orjson.loads(archive[0])
    header["version"] = 1
    legacy = tmp_path / "legacy.jsonl"
    legacy.write_bytes(orjson.dumps(header) + b"\n" + b"".join(archive[1:-1]))
    with pytest.raises(InvalidValue, match="allow_legacy"):
        palimpsest.import_(legacy, tmp_path / "refused.db")
    assert not (tmp_path / "refused.db").exists()
    copy = palimpsest.import_(legacy, allow_legacy=True)
    source = palimpsest.open(tmp_path / "source.db")
    assert _ids(copy) == _ids(source)
    source.close()
    copy.close()
    # every other check still runs on a legacy archive
    at = _index(archive, "row", key="cd")
    tampered = tmp_path / "legacy-bad.jsonl"
    tampered.write_bytes(legacy.read_bytes().replace(b"[1,2]", b"[1,3]"))
    with pytest.raises(CorruptObject, match=f"archive line {at + 1}"):
        palimpsest.import_(tampered, allow_legacy=True)


def test_cli_import_and_restore_refuse_damage_and_take_the_legacy_opt_in(
        archive: list[bytes], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from palimpsest.cli import app

    runner = CliRunner()
    palimpsest.open(tmp_path / "kg.db").close()
    bad = tmp_path / "bad.archive.jsonl"
    bad.write_bytes(b"".join(archive[:-1]))
    result = runner.invoke(app, ["--repo", str(tmp_path / "kg.db"), "import", str(bad),
                                 "--format", "archive"])
    assert result.exit_code != 0 and "trailer is missing" in result.output
    header = orjson.loads(archive[0])
    header["version"] = 1
    legacy = tmp_path / "legacy.archive.jsonl"
    legacy.write_bytes(orjson.dumps(header) + b"\n" + b"".join(archive[1:-1]))
    args = ["--repo", str(tmp_path / "kg.db"), "import", str(legacy), "--format", "archive"]
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and "--allow-legacy-archive" in result.output
    result = runner.invoke(app, [*args, "--allow-legacy-archive"])
    assert result.exit_code == 0, result.output
    restored = tmp_path / "restored.db"
    args = ["--repo", str(restored), "restore", str(legacy)]
    assert runner.invoke(app, args).exit_code != 0 and not restored.exists()
    assert runner.invoke(app, [*args, "--allow-legacy-archive"]).exit_code == 0
    assert restored.exists()
