"""Rollback benchmark: the cost of ``repo.rollback`` as the number of undone changes grows.

    python -m benchmarks.bench_rollback --size small|full [--db PATH]

A base of N entities, then one commit that changes K of them (K = 1, 100, 10,000 and, at
``full``, 100,000); each figure is the median over repeated rollbacks that undo exactly those K
changes (alternately to the state before the commit and back to the state after it, so every
sample undoes K changes on top of all previous rollbacks). Rollback forks a line at the target
and writes one commit without rows, so every figure should be the same (issue 14: <= 5 ms).
Also timed after the rollbacks: time travel, ``~N`` and an element's history through them.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path

import palimpsest
from benchmarks.report import print_figures

SIZES = {"tiny": (1_000, (1, 100, 1_000), 10), "small": (10_000, (1, 100, 10_000), 40),
         "full": (100_000, (1, 100, 10_000, 100_000), 40)}
TARGET_MS = 5.0


def _median_ms(samples: list[int]) -> float:
    return statistics.median(samples) / 1e6


def run(size: str, db: str | None) -> list[tuple[str, str, str]]:
    entities, changes, runs = SIZES[size]
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = db or str(Path(tmp) / "bench.db")
        repo = palimpsest.open(path, author="bench@example.com")
        started = time.perf_counter()
        batch = 10_000
        for start in range(0, entities, batch):
            with repo.transaction(f"load {start}") as tx:
                for i in range(start, min(start + batch, entities)):
                    tx.put_entity(f"e{i}", "Item", {"n": i})
        pairs = []
        for k in changes:
            before = repo.resolve("main")
            with repo.transaction(f"change {k}") as tx:
                for i in range(k):
                    tx.update_entity(f"e{i}", {"n": -i - 1, "k": k})
            pairs.append((k, before, repo.resolve("main")))
        rows.append(("size", f"{entities:,} entities", ""))
        rows.append(("setup (s)", f"{time.perf_counter() - started:.1f}", ""))
        for k, before, after in pairs:
            samples = []
            for i in range(runs):
                target = before if i % 2 == 0 else after
                gc.collect()
                t0 = time.perf_counter_ns()
                repo.rollback(target.id, message="bench rollback")
                samples.append(time.perf_counter_ns() - t0)
            assert repo.head().commit.state_hash == after.state_hash  # type: ignore[union-attr]
            rows.append((f"rollback undoing {k:,} changes (ms, p50)", f"{_median_ms(samples):.2f}",
                         f"<= {TARGET_MS:.0f}"))
        head = repo.resolve("main")
        reads = {
            "time travel through the rollbacks (ms)":
                lambda: repo.resolve(f"main@{pairs[0][1].timestamp.isoformat()}"),
            "main~N to before them (ms)": lambda: repo.resolve(f"main~{len(changes) * runs}"),
            "history of a rolled-back entity (ms)":
                lambda: repo.history("e0", element="entity", relations="none"),
            "blame of a rolled-back entity (ms)":
                lambda: repo.blame("e0", element="entity", relations="none"),
        }
        for name, action in reads.items():
            samples = []
            for _ in range(5):
                t0 = time.perf_counter_ns()
                action()
                samples.append(time.perf_counter_ns() - t0)
            rows.append((name, f"{_median_ms(samples):.2f}", ""))
        assert repo.resolve("main").id == head.id
        repo.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--db", help="SQLite file or postgresql:// URL (default: a temp file)")
    args = parser.parse_args()
    print_figures(run(args.size, args.db))


if __name__ == "__main__":
    main()
