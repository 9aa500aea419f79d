"""Key-value throughput and read-cache latency (issue 15, points 4 and 5), beside plain SQLite.

    python -m benchmarks.bench_kv --size tiny|small|full [--durability normal|full]

Figures, all in one run and one process so the ratios compare like with like:

- ``kv.set`` durable single-key commits per second, early (a fresh file) and late (after the
  file grew by ``grow`` more commits), and plain SQLite upserting one row per commit with the
  same journal and synchronous settings (WAL; ``normal`` or ``full``); the ratio;
- ``kv.set_many`` keys per second (new keys, then overwriting them) and plain SQLite
  inserting the same rows in one transaction;
- the opt-in group commit (``open(kv_group_commit=0.002)``) with 1, 8 and 32 writer threads;
- ``kv.get`` and ``view.entity()`` p50 cold (the first read of each key: SQL, hash check,
  decode) and hot (read again: the read cache), and plain SQLite's point ``SELECT``;
- the floor of the row format: the SQL statements of one ``kv.set`` (read the key's row, next
  seq, insert the row, mark the old one superseded, insert the commit, move the line head,
  between ``BEGIN IMMEDIATE`` and ``COMMIT``) replayed alone on a palimpsest file, with no
  Python of palimpsest around them, by CPU time against plain SQLite's upsert: what no
  Python-side work can go below.

The machine may be shared: quote medians and ratios, not single figures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import palimpsest
from benchmarks.report import print_figures

# (single-key commits, growth between early and late, set_many keys, group writes, reads)
SIZES = {"tiny": (200, 200, 2_000, 320, 200), "small": (2_000, 20_000, 20_000, 3_200, 2_000),
         "full": (5_000, 200_000, 100_000, 12_800, 10_000)}


CPU: dict[str, float] = {}
"""Rates by this process's CPU time (``time.process_time``), kept beside the wall-clock ones:
on a loaded machine they say more about the code than the wall clock does."""


def _rate(count: int, action: Callable[[int], object], name: str = "") -> float:
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        action(i)
    if name:
        CPU[name] = count / max(time.process_time() - cpu, 1e-9)
    return count / (time.perf_counter() - start)


def _median_us(count: int, action: Callable[[int], object]) -> float:
    samples = []
    for i in range(count):
        start = time.perf_counter_ns()
        action(i)
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def _plain(path: str, durability: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={durability.upper()}")
    conn.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER "
                 "NOT NULL)")
    return conn


_UPSERT = ("INSERT INTO kv (key, value, version) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE "
           "SET value = excluded.value, version = kv.version + 1")


def bench_writes(folder: Path, size: str, durability: str) -> list[tuple[str, str, str]]:
    single, grow, batch, group, _ = SIZES[size]
    repo = palimpsest.open(str(folder / "kv.db"), author="bench", durability=durability)
    kv = repo.kv
    plain = _plain(str(folder / "plain.db"), durability)

    def upsert(i: int) -> None:
        plain.execute("BEGIN IMMEDIATE")
        plain.execute(_UPSERT, (f"/bench/k{i % 200}", b"value %d" % i))
        plain.execute("COMMIT")

    early = _rate(single, lambda i: kv.set(f"/bench/k{i % 200}", b"value %d" % i), "early")
    floor = _rate(single, upsert, "floor")
    for start in range(0, grow, 5_000):  # grow the file: many commits, many keys
        for i in range(start, min(start + 5_000, grow)):
            kv.set(f"/grow/k{i % 2_000}", b"x%d" % i)
    late = _rate(single, lambda i: kv.set(f"/bench/k{i % 200}", b"value %d" % i), "late")
    floor_late = _rate(single, upsert, "floor_late")

    items = {f"/many/k{i}": b"value %d" % i for i in range(batch)}
    start = time.perf_counter()
    kv.set_many(items)
    fresh = batch / (time.perf_counter() - start)
    start = time.perf_counter()
    kv.set_many({k: v + b"!" for k, v in items.items()})
    overwrite = batch / (time.perf_counter() - start)
    start = time.perf_counter()
    plain.execute("BEGIN IMMEDIATE")
    plain.executemany(_UPSERT, items.items())
    plain.execute("COMMIT")
    plain_batch = batch / (time.perf_counter() - start)
    repo.close()
    plain.close()

    rows = [("durability", durability, ""),
            ("kv.set commits/s early / late (file grew by commits)",
             f"{early:,.0f} / {late:,.0f}  (+{grow:,})", ">= 15,000"),
            ("plain SQLite upsert commits/s early / late", f"{floor:,.0f} / {floor_late:,.0f}",
             ""),
            ("kv.set ÷ plain SQLite (slowdown) early / late",
             f"{floor / early:.1f}x / {floor_late / late:.1f}x", "<= 3x"),
            ("the same by CPU time: kv.set commits/s early / late, slowdown",
             f"{CPU['early']:,.0f} / {CPU['late']:,.0f}, "
             f"{CPU['floor'] / CPU['early']:.1f}x / {CPU['floor_late'] / CPU['late']:.1f}x", ""),
            ("kv.set_many keys/s new / overwrite", f"{fresh:,.0f} / {overwrite:,.0f}",
             ">= 100,000"),
            ("plain SQLite upsert many keys/s (one transaction)", f"{plain_batch:,.0f}", "")]
    grouped = palimpsest.open(str(folder / "kv.db"), author="bench", durability=durability,
                              kv_group_commit=0.002)
    for threads in (1, 8, 32):
        per = max(group // threads, 1) if threads > 1 else max(group // 16, 10)

        def writer(t: int, per: int = per) -> None:
            for i in range(per):
                grouped.kv.set(f"/group/{t}/k{i % 20}", b"x")

        pool = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
        before = len(grouped.log(limit=10**9))
        start = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        rate = per * threads / (time.perf_counter() - start)
        commits = len(grouped.log(limit=10**9)) - before
        rows.append((f"group commit, {threads} writer thread{'s' * (threads > 1)}: writes/s "
                     "(writes per commit)", f"{rate:,.0f}  ({per * threads / commits:.1f})",
                     ""))
    grouped.close()
    return rows


def bench_reads(folder: Path, size: str) -> list[tuple[str, str, str]]:
    reads = SIZES[size][4]
    repo = palimpsest.open(str(folder / "reads.db"), author="bench")
    repo.kv.set_many({f"/r/k{i}": b"value %d" % i for i in range(reads)})
    with repo.transaction("entities") as tx:
        for i in range(reads):
            tx.put_entity(f"e{i}", "Person", {"name": f"person {i}", "born": 1800 + i % 200,
                                             "langs": ["en", "fr"]})
    kv, view = repo.kv, repo.head()
    kv_cold = _median_us(reads, lambda i: kv.get(f"/r/k{i}"))
    kv_hot = _median_us(reads, lambda i: kv.get(f"/r/k{i}"))
    entity_cold = _median_us(reads, lambda i: view.entity(f"e{i}"))
    entity_hot = _median_us(reads, lambda i: view.entity(f"e{i}"))
    repo.close()
    plain = _plain(str(folder / "plain-reads.db"), "normal")
    plain.executemany(_UPSERT, [(f"/r/k{i}", b"value %d" % i) for i in range(reads)])
    select = "SELECT value, version FROM kv WHERE key = ?"
    plain_us = _median_us(reads, lambda i: plain.execute(select, (f"/r/k{i}",)).fetchone())
    plain.close()
    return [("kv.get at head p50 cold / hot (µs)", f"{kv_cold:.1f} / {kv_hot:.1f}", "hot <= 5"),
            ("view.entity p50 cold / hot (µs)", f"{entity_cold:.1f} / {entity_hot:.1f}",
             "hot <= 5"),
            ("plain SQLite point SELECT p50 (µs)", f"{plain_us:.1f}", "")]


_READ = ("SELECT rid FROM rows WHERE kind = 'k' AND key = ? AND line = 1 AND seq <= ? "
         "ORDER BY seq DESC LIMIT 1")


def bench_sql_floor(folder: Path, size: str, durability: str) -> list[tuple[str, str, str]]:
    count = SIZES[size][0]
    repo = palimpsest.open(str(folder / "floor.db"), author="bench", durability=durability)
    for i in range(400):
        repo.kv.set(f"/bench/k{i % 200}", b"value %d" % i)
    repo.close()
    conn = sqlite3.connect(str(folder / "floor.db"), isolation_level=None)
    for pragma in ("journal_mode=WAL", f"synchronous={durability.upper()}",
                   "cache_size=-65536", "temp_store=MEMORY", "mmap_size=268435456"):
        conn.execute(f"PRAGMA {pragma}")
    plain = _plain(str(folder / "plain-floor.db"), durability)

    def statements(i: int) -> None:
        key = f"/bench/k{i % 200}"
        conn.execute("BEGIN IMMEDIATE")
        seq = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM commits").fetchone()[0]
        old = conn.execute(_READ, (key, seq)).fetchone()
        digest = hashlib.blake2b(b"%d" % seq, digest_size=32).digest()
        conn.execute("INSERT INTO rows (kind, key, line, seq, op, type, value, hash) VALUES "
                     "('k', ?, 1, ?, 1, '2:1', '\"dmFsdWU=\"', ?)", (key, seq, digest))
        conn.execute("UPDATE rows SET superseded = ? WHERE rid = ? AND line = 1", (seq, old[0]))
        conn.execute("INSERT INTO commits (seq, id, line, parents, author, message, time_us, "
                     "metadata, stats, state_hash) VALUES (?, ?, 1, ?, 'bench', 'kv set', ?, "
                     "'{}', '{\"kv_changed\":1}', ?)",
                     (seq, digest, digest, time.time_ns() // 1000, digest))
        conn.execute("UPDATE lines SET head_seq = ? WHERE id = 1", (seq,))
        conn.execute("COMMIT")

    def upsert(i: int) -> None:
        plain.execute("BEGIN IMMEDIATE")
        plain.execute(_UPSERT, (f"/bench/k{i % 200}", b"value %d" % i))
        plain.execute("COMMIT")

    ours, floor = [], []
    for _ in range(3):  # alternate, so both meet the same load
        _rate(count, statements, "sql")
        ours.append(CPU["sql"])
        _rate(count, upsert, "upsert")
        floor.append(CPU["upsert"])
    conn.close()
    plain.close()
    sql, up = statistics.median(ours), statistics.median(floor)
    return [("the SQL of one kv.set alone, commits/s by CPU time (no palimpsest Python)",
             f"{sql:,.0f}", ""),
            ("... ÷ plain SQLite upsert by CPU time (the row format's floor)",
             f"{up / sql:.1f}x", "")]


def run(size: str, durability: str = "normal") -> list[tuple[str, str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        rows = [("size", size, ""), ("1-minute load average at start", f"{load:.1f}", "")]
        return (rows + bench_writes(folder, size, durability) + bench_reads(folder, size)
                + bench_sql_floor(folder, size, durability))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--durability", choices=["normal", "full"], default="normal")
    args = parser.parse_args()
    print_figures(run(args.size, args.durability))


if __name__ == "__main__":
    main()
