"""Reliability benchmark: fsck throughput, and gc time and space reclaimed.

    python -m benchmarks.bench_reliability --size small|full [--db PATH]

``full`` is the issue's figure: 100,000 entities, 50,000 commits (the first ones load the
entities, the rest each update two of them), retention of the last 10% of commits.
``small`` (10,000 entities, 5,000 commits) runs in well under a minute for CI. Database sizes
are measured after ``VACUUM`` both times, so they compare live data, not free pages.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import palimpsest

SIZES = {"small": (10_000, 5_000), "full": (100_000, 50_000)}
LOAD_BATCH = 5_000


def build(repo: palimpsest.Repository, entities: int, commits: int) -> int:
    """Load ``entities`` in batches, then make commits updating two entities each, with one
    commit time per minute (so time-based retention has something to cut)."""
    rng = random.Random(7)
    minute = 60_000_000
    start = palimpsest.codec.to_us("2024-01-01T00:00:00Z")
    made = 0
    for first in range(0, entities, LOAD_BATCH):
        with repo.transaction(
            f"load {first}", timestamp=palimpsest.codec.from_us(start + made * minute)
        ) as tx:
            for i in range(first, min(first + LOAD_BATCH, entities)):
                tx.put_entity(f"e{i}", "Item", {"n": i, "name": f"item {i}", "v": 0})
        made += 1
    while made < commits:
        with repo.transaction(
            f"edit {made}", timestamp=palimpsest.codec.from_us(start + made * minute)
        ) as tx:
            for _ in range(2):
                i = rng.randrange(entities)
                tx.put_entity(f"e{i}", "Item", {"n": i, "name": f"item {i}", "v": made})
        made += 1
    return made


def _size(repo: palimpsest.Repository) -> int:
    """Bytes of the database after VACUUM (page count x page size): live data only, whatever
    the write-ahead log holds at the moment."""
    db = repo.database
    db.run("VACUUM")
    pages = db.one("PRAGMA page_count")
    size = db.one("PRAGMA page_size")
    assert pages is not None and size is not None
    return int(pages[0]) * int(size[0])


def run(size: str, db: str | None) -> list[tuple[str, str, str]]:
    entities, commits = SIZES[size]
    with tempfile.TemporaryDirectory() as tmp:
        path = db or str(Path(tmp) / "bench.db")
        repo = palimpsest.open(path, author="bench@example.com", durability="off")
        began = time.perf_counter()
        build(repo, entities, commits)
        built = time.perf_counter() - began
        before = _size(repo)
        rows_before = int(repo.database.one("SELECT count(*) FROM rows")[0])  # type: ignore[index]

        began = time.perf_counter()
        report = repo.fsck()
        fsck_s = time.perf_counter() - began
        assert report.ok, report.problems[:3]

        began = time.perf_counter()
        quick = repo.fsck(last=100)
        quick_ms = (time.perf_counter() - began) * 1000
        assert quick.ok

        repo.set_retention("main", keep_commits=commits // 10)
        began = time.perf_counter()
        gc = repo.gc()
        gc_s = time.perf_counter() - began
        began = time.perf_counter()
        after = _size(repo)
        vacuum_s = time.perf_counter() - began

        began = time.perf_counter()
        report_after = repo.fsck()
        fsck_after_s = time.perf_counter() - began
        assert report_after.ok, report_after.problems[:3]
        repo.close()
    return [
        ("repository", f"{entities:,} entities, {commits:,} commits, {rows_before:,} rows", ""),
        ("build time, s", f"{built:.1f}", "-"),
        ("fsck (full), rows/s", f"{report.rows / fsck_s:,.0f}", ">= 10,000"),
        ("fsck (full), s", f"{fsck_s:.2f}", "-"),
        ("fsck --last 100, ms", f"{quick_ms:.1f}", "<= 1,000"),
        ("gc (keep last 10%), s", f"{gc_s:.2f}", "-"),
        ("  commits pruned", f"{gc.commits_pruned:,}", f"{commits - commits // 10:,}"),
        ("  rows deleted", f"{gc.rows_deleted:,} of {rows_before:,}", "-"),
        ("VACUUM after gc, s", f"{vacuum_s:.2f}", "-"),
        ("database size before gc, MB", f"{before / 1e6:.1f}", "-"),
        ("database size after gc + VACUUM, MB", f"{after / 1e6:.1f}", "< before"),
        ("space reclaimed", f"{(1 - after / before) * 100:.0f}%", "-"),
        ("fsck after gc, rows/s", f"{report_after.rows / fsck_after_s:,.0f}", "-"),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_reliability", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--db", help="keep the database at this path (default: a temp dir)")
    args = parser.parse_args(argv)
    rows = run(args.size, args.db)
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>{value_width}}  target")
    for figure, value, target in rows:
        print(f"{figure:<{width}}  {value:>{value_width}}  {target}")


if __name__ == "__main__":
    main()
