"""Counts by type are maintained per commit (storage/counts.py): exact at every commit of
every branch, through type changes, deletions, merges, rollbacks and gc; fsck checks them
against the rows and its repair rebuilds them."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import palimpsest


def _scan_count(view: palimpsest.View, type_: str) -> int:
    return sum(1 for e in view.entities() if e.type == type_)


def _random_history(repo: palimpsest.Repository, seed: int) -> list[str]:
    rng = random.Random(seed)
    commits: list[str] = []
    repo.create_branch("side")
    for step in range(40):
        branch = "side" if step % 3 == 0 else "main"
        with repo.transaction(f"step {step}", branch=branch) as tx:
            for _ in range(rng.randint(1, 4)):
                ident = f"e{rng.randrange(12)}"
                roll = rng.random()
                if roll < 0.5:
                    tx.put_entity(ident, rng.choice("ABC"), {"n": rng.randrange(3)})
                elif roll < 0.7 and tx.entity(ident) is not None:
                    tx.update_entity(ident, type=rng.choice("ABC"))
                elif tx.entity(ident) is not None:
                    tx.delete_entity(ident)
        commits.append(repo.resolve(branch).id)
        if step == 20:
            repo.merge("side", strategy="theirs")
            commits.append(repo.resolve("main").id)
        if step == 30:
            commits.append(repo.rollback(commits[5]).id)
    return commits


def test_counts_by_type_match_the_rows_at_every_commit(repo: palimpsest.Repository) -> None:
    commits = _random_history(repo, 7)
    for cid in commits:
        view = repo.at(cid)
        for type_ in "ABCD":
            assert view.count(type=type_) == _scan_count(view, type_), (cid, type_)
    fsck = getattr(repo, "fsck", None)  # embedded only: the HTTP client has no fsck
    if fsck is not None:
        assert fsck().ok


def test_fsck_finds_and_repairs_a_wrong_count(tmp_path: Path) -> None:
    path = tmp_path / "counts.db"
    repo = palimpsest.open(path)
    _random_history(repo, 3)
    want = {t: repo.head().count(type=t) for t in "ABC"}
    fsck = getattr(repo, "fsck", None)  # embedded only: the HTTP client has no fsck
    if fsck is not None:
        assert fsck().ok
    with sqlite3.connect(path) as con:  # damage the derived table behind palimpsest's back
        con.execute("UPDATE type_counts SET n = n + 5")
    repo.close()
    repo = palimpsest.open(path)
    report = repo.fsck()
    assert not report.ok and {p.check for p in report.details} == {"counts"}
    assert repo.fsck(repair_indexes=True).ok
    assert {t: repo.head().count(type=t) for t in "ABC"} == want
    repo.close()


def test_counts_survive_gc_and_archive_round_trip(tmp_path: Path) -> None:
    repo = palimpsest.open(tmp_path / "a.db")
    _random_history(repo, 11)
    want = {(ref, t): repo.at(ref).count(type=t) for ref in ("main", "side") for t in "ABC"}
    repo.set_retention("main", keep_commits=3)
    repo.gc()
    assert {(ref, t): repo.at(ref).count(type=t) for ref, t in want} == want
    repo.export(tmp_path / "a.jsonl")
    copy = palimpsest.import_(tmp_path / "a.jsonl", tmp_path / "b.db")
    assert {(ref, t): copy.at(ref).count(type=t) for ref, t in want} == want
    assert copy.fsck().ok and repo.fsck().ok
    repo.close()
    copy.close()
