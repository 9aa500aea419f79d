"""Backup and restore: consistent online copies, verified, restorable to any backend."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

import palimpsest
from palimpsest import CorruptObject, InvalidValue, Repository

pytestmark = pytest.mark.needs_embedded(
    "backup writes a file on the server's host")


def _fill(repo: Repository, n: int = 10) -> None:
    for i in range(n):
        repo.put_entity(f"e{i}", "T", {"i": i})
    repo.tag("v1")
    repo.create_branch("side")
    repo.put_document("docs", "d", {"x": 1}, branch="side")


def _same(a: Repository, b: Repository) -> None:
    assert [c.id for c in a.log(limit=None)] == [c.id for c in b.log(limit=None)]
    assert a.head().to_dict() == b.head().to_dict()
    assert a.at("side").to_dict() == b.at("side").to_dict()
    assert [t.name for t in a.tags()] == [t.name for t in b.tags()]


def test_archive_backup_and_restore_on_every_backend(repo: Repository, tmp_path: Path) -> None:
    _fill(repo)
    info = repo.backup(tmp_path / "b.jsonl", format="archive")
    assert info.verified and info.format == "archive" and info.commits == 11
    copy = palimpsest.restore(info.path, tmp_path / "restored.db")
    _same(repo, copy)
    memory = palimpsest.restore(info.path, ":memory:")
    _same(repo, memory)


def test_sqlite_backup_is_a_verified_file(tmp_path: Path) -> None:
    repo = palimpsest.open(tmp_path / "live.db")
    _fill(repo)
    info = repo.backup(tmp_path / "b.db")
    assert (info.format, info.verified) == ("sqlite", True)
    assert not Path(info.path + "-wal").exists()  # one self-contained file
    assert palimpsest.open(info.path).fsck().ok
    _same(repo, palimpsest.restore(info.path, tmp_path / "r.db"))
    _same(repo, palimpsest.restore(info.path, ":memory:"))


def test_memory_repository_backs_up_to_a_file(tmp_path: Path) -> None:
    repo = palimpsest.open(":memory:")
    _fill(repo, 3)
    info = repo.backup(tmp_path / "m.db")
    _same(repo, palimpsest.open(info.path))


def test_backup_never_overwrites_and_restore_asks(tmp_path: Path) -> None:
    repo = palimpsest.open(tmp_path / "live.db")
    _fill(repo, 2)
    repo.backup(tmp_path / "b.db")
    with pytest.raises(InvalidValue, match="exists"):
        repo.backup(tmp_path / "b.db")
    with pytest.raises(InvalidValue, match="overwrite"):
        palimpsest.restore(tmp_path / "b.db", tmp_path / "live.db")
    with pytest.raises(InvalidValue):
        repo.backup(tmp_path / "x", format="zip")  # type: ignore[arg-type]
    repo.put_entity("later", "T")
    repo.close()
    restored = palimpsest.restore(tmp_path / "b.db", tmp_path / "live.db", overwrite=True)
    assert restored.head().entity("later") is None


def test_online_backup_during_writes_is_consistent(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    palimpsest.open(path).close()
    stop = threading.Event()

    def writer() -> None:
        other = palimpsest.open(path)
        i = 0
        while not stop.is_set():
            with other.transaction(f"w{i}") as tx:
                tx.put_entity("a", "T", {"i": i})
                tx.put_entity("b", "T", {"i": i})
            i += 1
        other.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        repo = palimpsest.open(path)
        infos = [repo.backup(tmp_path / f"b{n}.db") for n in range(5)]
    finally:
        stop.set()
        thread.join()
    for info in infos:
        copy = palimpsest.open(info.path)
        head = copy.head()
        if head.commit is not None:  # a and b always change together
            assert head.entity("a").props == head.entity("b").props
        assert copy.fsck().ok


def test_restore_refuses_a_damaged_backup(tmp_path: Path) -> None:
    repo = palimpsest.open(tmp_path / "live.db")
    _fill(repo, 3)
    info = repo.backup(tmp_path / "b.db")
    conn = sqlite3.connect(info.path)
    conn.execute("UPDATE rows SET value = '{\"i\":99}' WHERE key = 'e1'")
    conn.commit()
    conn.close()
    with pytest.raises(CorruptObject, match="verification"):
        palimpsest.restore(info.path, tmp_path / "r.db")
    assert not (tmp_path / "r.db").exists()
    garbage = tmp_path / "junk.bin"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(InvalidValue):
        palimpsest.restore(garbage, tmp_path / "r2.db")


def test_restore_migrates_an_old_backup(tmp_path: Path) -> None:
    v1 = Path(__file__).resolve().parent / "data" / "schema_v1.db"
    restored = palimpsest.restore(v1, tmp_path / "new.db")
    assert restored.fsck().ok
    assert restored.head().entity("ada") is not None
