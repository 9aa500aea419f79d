"""Valid-time benchmark: reads narrowed with ``valid_at`` at a past ref, against the same reads
without it (issue 20: <= 1.5x).

    python -m benchmarks.bench_valid_time --size small|full [--db PATH]

A graph of N entities (two types; most with a valid-time interval, some open-ended, some
without) and relations, then C commits correcting intervals and properties, a branch among
them. At a ref in the middle of that history, each figure is the median over random reads:

- point read: ``repo.at(past).valid_at(t).entity(id)`` against ``repo.at(past).entity(id)``;
- type count: ``repo.at(past).valid_at(t).count("Person")`` against ``.count("Person")``.

Point reads draw fresh ids for every sample (the read cache would otherwise answer), the two
variants from the same distribution. Each narrowed answer is checked against the unnarrowed
elements filtered in Python.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import palimpsest
from benchmarks.report import print_figures

SIZES = {"tiny": (2_000, 20, 50), "small": (20_000, 100, 300),
         "full": (100_000, 300, 1_000)}
TARGET = 1.5


def _year(y: int) -> str:
    return f"{y}-01-01"


def _interval(rng: random.Random) -> tuple[str | None, str | None]:
    roll = rng.random()
    if roll < 0.2:
        return None, None
    start = rng.randint(1990, 2020)
    if roll < 0.4:
        return _year(start), None
    return _year(start), _year(start + rng.randint(1, 10))


def _holds(element: Any, at: datetime) -> bool:
    return ((element.valid_from is None or element.valid_from <= at)
            and (element.valid_to is None or element.valid_to > at))


def _median_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1e3


def _time(action: Callable[[], Any]) -> int:
    t0 = time.perf_counter_ns()
    action()
    return time.perf_counter_ns() - t0


def run(size: str, db: str | None) -> list[tuple[str, str, str]]:
    entities, commits, samples = SIZES[size]
    rng = random.Random(20)
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = db or str(Path(tmp) / "bench.db")
        repo = palimpsest.open(path, author="bench@example.com")
        started = time.perf_counter()
        for start in range(0, entities, 10_000):
            with repo.transaction(f"load {start}") as tx:
                for i in range(start, min(start + 10_000, entities)):
                    lo, hi = _interval(rng)
                    tx.put_entity(f"e{i}", "Person" if i % 3 else "Company", {"n": i},
                                  valid_from=lo, valid_to=hi)
                    if i % 3 and i > 3:
                        lo, hi = _interval(rng)
                        tx.put_relation(f"w{i}", "worksAt", f"e{i}", f"e{i - i % 3}",
                                        valid_from=lo, valid_to=hi)
        repo.create_branch("other")
        past = None
        for c in range(commits):
            with repo.transaction(f"corrections {c}",
                                  branch="other" if c % 5 == 4 else None) as tx:
                for _ in range(max(entities // 200, 5)):
                    i = rng.randrange(entities)
                    lo, hi = _interval(rng)
                    tx.update_entity(f"e{i}", {"c": c}, valid_from=lo or "open",
                                     valid_to=hi or "open")
            if c == commits // 2:
                past = repo.resolve("main")
        assert past is not None
        if commits % 5:
            repo.merge("other")
        rows.append(("size", f"{entities:,} entities, {commits} commits", ""))
        rows.append(("setup (s)", f"{time.perf_counter() - started:.1f}", ""))
        at = datetime(2010, 6, 1, tzinfo=UTC)
        view = repo.at(past.id)
        narrowed = view.valid_at(at)
        # the answers first: narrowed reads equal the unnarrowed ones filtered in Python
        people = [e for e in view.entities("Person")]
        assert narrowed.count("Person") == sum(1 for e in people if _holds(e, at))
        for e in people[:50]:
            assert (narrowed.entity(e.id) is not None) == _holds(e, at)
        plain_read, valid_read, plain_count, valid_count = [], [], [], []
        ids = rng.sample(range(entities), min(2 * samples, entities))  # each read once
        gc.collect()
        for n in range(len(ids) // 2):  # alternate which variant goes first
            a, b = f"e{ids[2 * n]}", f"e{ids[2 * n + 1]}"
            first, second = ((view, plain_read), (narrowed, valid_read))[::1 - 2 * (n % 2)]
            first[1].append(_time(lambda: first[0].entity(a)))  # noqa: B023
            second[1].append(_time(lambda: second[0].entity(b)))  # noqa: B023
        for n in range(max(samples // 10, 5)):
            order = ((view, plain_count), (narrowed, valid_count))[::1 - 2 * (n % 2)]
            for reader, out in order:
                out.append(_time(lambda: reader.count("Person")))  # noqa: B023
        for name, plain, valid in (("point read at a past ref", plain_read, valid_read),
                                   ("type count at a past ref", plain_count, valid_count)):
            p, v = _median_us(plain), _median_us(valid)
            rows.append((f"{name} (us, p50)", f"{p:.1f}", ""))
            rows.append((f"{name} with valid_at (us, p50)", f"{v:.1f}", ""))
            rows.append((f"{name}: with / without valid_at", f"{v / p:.2f}x",
                         f"<= {TARGET}x"))
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
