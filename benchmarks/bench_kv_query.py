"""Key-value and document-query benchmark.

    python -m benchmarks.bench_kv_query --size small|full [--db PATH]

Figures: ``kv.set`` single-key commits per second and ``kv.get`` latency at the head; a 10-op
``kv.transaction``; watch delivery latency from another process (it writes, this one watches);
a filter + sort + limit query over N documents at the head and at a past commit, without and
with a declared index. ``full`` is the issue's size (100,000 documents); ``small`` (10,000)
runs in seconds for CI. Latencies are p95 over many runs.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import palimpsest
from benchmarks.report import print_figures
from palimpsest import F

SIZES = {"small": (10_000, 1_000), "full": (100_000, 5_000)}
ROOT = Path(__file__).resolve().parents[1]

_WRITER = """
import sys, time, palimpsest
repo = palimpsest.open(sys.argv[1])
for i in range(int(sys.argv[2])):
    repo.kv.set("/bench/watch", repr(time.time()).encode())
    time.sleep(0.005)
"""


def p50(samples: list[float]) -> float:
    return sorted(samples)[len(samples) // 2]


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _latencies(action: Callable[[int], object], runs: int) -> list[float]:
    out = []
    for i in range(runs):
        start = time.perf_counter()
        action(i)
        out.append(time.perf_counter() - start)
    return out


def bench_kv(path: str, ops: int) -> list[tuple[str, str, str]]:
    repo = palimpsest.open(path, author="bench@example.com")
    kv = repo.kv
    start = time.perf_counter()
    for i in range(ops):
        kv.set(f"/bench/k{i % 200}", b"value %d" % i)
    rate = ops / (time.perf_counter() - start)
    gets = _latencies(lambda i: kv.get(f"/bench/k{i % 200}"), ops)
    past = repo.at("main~10").kv
    past_us = p95(_latencies(lambda i: past.get(f"/bench/k{i % 200}"), ops)) * 1e6
    txn_ms = (
        p95(
            _latencies(
                lambda i: kv.transaction(
                    [kv.op_set(f"/bench/t{j}", b"x%d" % i) for j in range(10)]
                ),
                max(50, ops // 10),
            )
        )
        * 1e3
    )
    events = max(50, ops // 20)
    lat: list[float] = []
    with kv.watch("/bench/watch", timeout=30) as watch:
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, path, str(events)],
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        for event in watch:
            assert event.value is not None
            lat.append(time.time() - float(event.value))
            if len(lat) == events:
                break
        writer.wait()
    repo.close()
    return [
        ("kv.set single-key commits/s", f"{rate:,.0f}", ">= 5,000"),
        (
            "kv.get at head p50 / p95 (µs)",
            f"{p50(gets) * 1e6:.0f} / {p95(gets) * 1e6:.0f}",
            "p95 <= 50",
        ),
        ("kv.get at a past commit p95 (µs)", f"{past_us:.0f}", ""),
        ("kv.transaction 10 ops p95 (ms)", f"{txn_ms:.2f}", "<= 2"),
        ("watch latency across processes p95 (ms)", f"{p95(lat) * 1e3:.1f}", "<= 50"),
    ]


def bench_query(path: str, documents: int) -> list[tuple[str, str, str]]:
    repo = palimpsest.open(path, author="bench@example.com")
    rnd = random.Random(4)
    started = time.perf_counter()
    for start in range(0, documents, 10_000):
        with repo.transaction(f"load {start}") as tx:
            for i in range(start, min(start + 10_000, documents)):
                tx.put_document(
                    "notes",
                    f"n{i:07}",
                    {
                        "author": f"user{rnd.randrange(1000)}",
                        "age": rnd.randrange(100),
                        "status": rnd.choice(["open", "closed", "draft"]),
                        "title": f"note {i}",
                    },
                )
    past = repo.head().commit
    with repo.transaction("edit 10%") as tx:
        for i in range(0, documents, 10):
            tx.put_document(
                "notes",
                f"n{i:07}",
                {"author": f"user{i % 1000}", "age": 101, "status": "open", "title": f"edited {i}"},
            )
    load_s = time.perf_counter() - started
    where = (F("author") == "user42") & (F("age") > 20)
    views = {"head": repo.head(), "past commit": repo.at(past.id)}
    rows: list[tuple[str, str, str]] = [("documents loaded (s)", f"{load_s:.1f}", "")]
    for indexed in (False, True):
        if indexed:
            repo.create_index(collection="notes", field="author")
        for label, view in views.items():
            runs = 20 if not indexed else 200
            found = view.query("notes", where, order_by="-age", limit=10)
            assert found, "the benchmark query should match documents"
            samples = _latencies(
                lambda _i, v=view: v.query("notes", where, order_by="-age", limit=10), runs
            )
            name = (
                f"filter+sort+limit at {label}, {'with' if indexed else 'no'} index p50 / p95 (ms)"
            )
            rows.append(
                (
                    name,
                    f"{p50(samples) * 1e3:.2f} / {p95(samples) * 1e3:.2f}",
                    "p95 <= 10" if indexed else "",
                )
            )
    agg_ms = (
        p95(
            _latencies(
                lambda _i: repo.head().aggregate(
                    "notes", {"n": "count", "avg": ["avg", "age"]}, group_by="status"
                ),
                5,
            )
        )
        * 1e3
    )
    rows.append(("aggregate count+avg by status at head p95 (ms)", f"{agg_ms:.1f}", ""))
    repo.close()
    return rows


def run(size: str, db: str | None) -> list[tuple[str, str, str]]:
    documents, ops = SIZES[size]
    with tempfile.TemporaryDirectory() as tmp:
        kv_rows = bench_kv(db or str(Path(tmp) / "kv.db"), ops)
        query_rows = bench_query(str(Path(tmp) / "query.db") if db is None else db, documents)
    return [("size", f"{documents:,} documents, {ops:,} kv ops", ""), *kv_rows, *query_rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--db", help="SQLite file (default: temp files)")
    args = parser.parse_args()
    rows = run(args.size, args.db)
    print_figures(rows)


if __name__ == "__main__":
    main()
