"""fsck: every kind of damage is reported with its location, and only real damage."""

from __future__ import annotations

from typing import Any

import pytest

from palimpsest import CorruptObject, Repository

pytestmark = pytest.mark.needs_embedded(
    "fsck reads the storage directly")


def _build(repo: Repository) -> None:
    with repo.transaction("base") as tx:
        for i in range(6):
            tx.put_entity(f"e{i}", "T", {"i": i, "name": f"entity {i}"})
        tx.put_relation("r", "R", "e0", "e1", {"w": 1})
        tx.put_document("docs", "d", {"text": "hello"})
    repo.update_entity("e1", {"i": 10})
    repo.create_branch("side")
    repo.put_entity("s", "T", {"x": 1}, branch="side")
    repo.tag("t1")
    repo.delete_entity("e5")


def _sql(repo: Repository, sql: str, params: tuple[Any, ...] = ()) -> None:
    with repo.database.write():
        repo.database.run(sql, params)


def _rid(repo: Repository, kind: str, key: str) -> int:
    row = repo.database.one("SELECT max(rid) FROM rows WHERE kind = ? AND key = ?", (kind, key))
    assert row is not None
    return int(row[0])


def test_healthy_repository_is_ok(repo: Repository) -> None:
    _build(repo)
    report = repo.fsck()
    assert report.ok, report.problems
    assert (report.commits, report.refs) == (4, 3)
    assert report.rows == 11  # 8 + update + side entity + deletion
    assert report.to_dict()["ok"] is True


def test_damaged_values_are_reported_exactly(repo: Repository) -> None:
    _build(repo)
    targets = {_rid(repo, "e", "e2"), _rid(repo, "d", "docs\x1fd")}
    for rid in targets:
        _sql(repo, "UPDATE rows SET value = replace(value, 'e', 'E') WHERE rid = ?", (rid,))
    report = repo.fsck()
    assert not report.ok
    assert report.rids() == targets
    assert {p.check for p in report.details} == {"row-hash"}
    with pytest.raises(CorruptObject):
        repo.head().entity("e2")
    with pytest.raises(CorruptObject):
        repo.head().document("docs", "d")
    assert repo.head().entity("e3") is not None  # undamaged elements still read


def test_damaged_commits_are_reported_exactly(repo: Repository) -> None:
    _build(repo)
    seqs = [c.seq for c in repo.log(limit=None)]
    _sql(repo, "UPDATE commits SET message = 'forged' WHERE seq = ?", (seqs[1],))
    _sql(repo, "UPDATE commits SET time_us = time_us + 1 WHERE seq = ?", (seqs[2],))
    report = repo.fsck()
    assert report.seqs() == {seqs[1], seqs[2]}
    assert {p.check for p in report.details} == {"commit-id"}


def test_forged_state_hash_is_caught_twice(repo: Repository) -> None:
    _build(repo)
    head = repo.resolve("main")
    _sql(repo, "UPDATE commits SET state_hash = ? WHERE seq = ?", (bytes(32), head.seq))
    report = repo.fsck()
    assert {(p.check, p.seq) for p in report.details} == {("commit-id", head.seq),
                                                         ("state-hash", head.seq)}


def test_missing_rows_break_the_state_hash(repo: Repository) -> None:
    _build(repo)
    commit = repo.resolve("main~1")
    _sql(repo, "DELETE FROM rows WHERE line = ? AND seq = ?", (commit.line, commit.seq))
    report = repo.fsck()
    assert ("state-hash", commit.seq) in {(p.check, p.seq) for p in report.details}


def test_refs_lines_and_head_are_checked(repo: Repository) -> None:
    _build(repo)
    _sql(repo, "UPDATE refs SET commit_seq = 999 WHERE name = 't1'")
    _sql(repo, "UPDATE refs SET line = 77 WHERE name = 'side'")
    _sql(repo, "UPDATE meta SET value = 'nowhere' WHERE name = 'head'")
    report = repo.fsck()
    assert {(p.check, p.name) for p in report.details} == {
        ("ref", "t1"), ("ref", "side"), ("head", "HEAD")}


def test_orphan_rows_and_parents(repo: Repository) -> None:
    _build(repo)
    _sql(repo, "INSERT INTO rows (kind, key, line, seq, op, type, value, hash) VALUES "
               "('e', 'ghost', 1, 500, 0, NULL, NULL, NULL)")
    head = repo.resolve("main")
    _sql(repo, "UPDATE commits SET parents = ? WHERE seq = ?", (bytes.fromhex("ab" * 32),
                                                                head.seq))
    report = repo.fsck()
    checks = {p.check for p in report.details}
    assert {"orphan-row", "parent", "commit-id"} <= checks


def test_stale_superseded_is_repaired(repo: Repository) -> None:
    _build(repo)
    _sql(repo, "UPDATE rows SET superseded = NULL")
    report = repo.fsck()
    assert {p.check for p in report.details} == {"superseded"}
    assert repo.fsck(repair_indexes=True).ok
    assert repo.head().entity("e1").props["i"] == 10


def test_quick_mode_checks_only_recent_commits(repo: Repository) -> None:
    _build(repo)
    first = repo.log(limit=None)[-1]
    _sql(repo, "UPDATE commits SET message = 'forged' WHERE seq = ?", (first.seq,))
    assert repo.fsck(last=2).ok
    assert repo.fsck(last=2).commits == 2
    assert not repo.fsck().ok


def test_tombstone_without_erasure_record_is_reported(repo: Repository) -> None:
    _build(repo)
    repo.erase("e3", reason="request")
    assert repo.fsck().ok
    _sql(repo, "DELETE FROM erasures")
    report = repo.fsck()
    assert {p.check for p in report.details} == {"erasure"}
    assert report.rids() == {_rid(repo, "e", "e3")}
