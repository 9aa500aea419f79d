"""Merge benchmark: a branch that changed N entities merged into a main that also changed N,
10% of them on both sides (conflicts resolved by ``strategy="theirs"``).

    python -m benchmarks.bench_merge --size small|full [--db PATH]

``full`` is the issue's figure (100,000 entities, 1,000 changes per side); ``small`` (10,000
entities, 100 changes per side) runs in seconds for CI. Each figure is the median of several
runs; merges go into fresh O(1) branches at main's head so every run does the same work.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import palimpsest
from benchmarks.report import print_figures

SIZES = {"small": (10_000, 100), "full": (100_000, 1_000)}
TARGETS_MS = {"merge": 300.0, "merge_preview": 150.0, "fast_forward": 1.0}


def _timed(action: Callable[[], object], runs: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def build(repo: palimpsest.Repository, entities: int, changes: int) -> None:
    """main with ``entities`` entities; branch exp changes ``changes`` of them, main changes
    as many, ``changes // 10`` on both sides."""
    batch = 10_000
    for start in range(0, entities, batch):
        with repo.transaction(f"load {start}") as tx:
            for i in range(start, min(start + batch, entities)):
                tx.put_entity(f"e{i}", "Item", {"n": i, "name": f"item {i}"})
    repo.create_branch("exp")
    overlap = changes // 10
    theirs = range(0, changes)
    ours = range(changes - overlap, 2 * changes - overlap)
    step = max(1, changes // 10)  # ten commits per side
    for ids, branch, value in ((theirs, "exp", "theirs"), (ours, "main", "ours")):
        ordered = list(ids)
        for start in range(0, len(ordered), step):
            with repo.transaction(f"edit {branch} {start}", branch=branch) as tx:
                for i in ordered[start : start + step]:
                    tx.update_entity(f"e{i}", {"v": value, "n": -i if branch == "main" else i})


def run(size: str, db: str | None) -> list[tuple[str, str, str]]:
    entities, changes = SIZES[size]
    with tempfile.TemporaryDirectory() as tmp:
        path = db or str(Path(tmp) / "bench.db")
        repo = palimpsest.open(path, author="bench@example.com")
        started = time.perf_counter()
        build(repo, entities, changes)
        setup_s = time.perf_counter() - started
        fork = repo.merge_base("main", "exp")
        counter = iter(range(10**6))

        def fresh() -> str:
            name = f"t{next(counter)}"
            repo.create_branch(name, "main")
            return name

        preview_ms, preview = _timed(lambda: repo.merge_preview("exp", strategy="theirs"), 5)
        assert isinstance(preview, palimpsest.MergeResult)
        targets = [fresh() for _ in range(5)]
        merge_ms, merged = _timed(
            lambda: repo.merge("exp", into=targets.pop(), strategy="theirs"), 5
        )
        assert isinstance(merged, palimpsest.MergeResult) and merged.status == "merged"
        ff_targets = []
        for i in range(20):
            ff_targets.append(f"ff{i}")
            repo.create_branch(f"ff{i}", fork)
        ff_ms, ff = _timed(lambda: repo.merge("exp", into=ff_targets.pop()), 20)
        assert isinstance(ff, palimpsest.MergeResult) and ff.status == "fast_forward"
        changed = len(preview.diff.changes) if preview.diff else 0
        repo.close()
    return [
        ("size", f"{entities:,} entities, {changes:,} changes per side", ""),
        ("setup (s)", f"{setup_s:.1f}", ""),
        ("conflicts resolved", str(len(merged.resolved)), f"{changes // 10}"),
        ("changes merged into main", str(changed), ""),
        ("merge (ms)", f"{merge_ms:.1f}", f"<= {TARGETS_MS['merge']:.0f}"),
        ("merge_preview (ms)", f"{preview_ms:.1f}", f"<= {TARGETS_MS['merge_preview']:.0f}"),
        ("fast_forward (ms)", f"{ff_ms:.2f}", f"<= {TARGETS_MS['fast_forward']:.0f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--db", help="SQLite file or postgresql:// URL (default: a temp file)")
    args = parser.parse_args()
    rows = run(args.size, args.db)
    print_figures(rows)


if __name__ == "__main__":
    main()
