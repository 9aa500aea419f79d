"""PostgreSQL benchmarks: the core benchmark on PostgreSQL beside SQLite, concurrent writers,
single small commits and time-travel point reads.

``python -m benchmarks.bench_postgres --size small|full [--url postgresql://...]``

The server comes from ``--url``, else ``PALIMPSEST_TEST_POSTGRES``, else
``postgresql://postgres@127.0.0.1/test``; every run works in a schema of its own and drops it.
Each measurement runs in fresh processes, one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.systems.palimpsest_system import PalimpsestSystem

_ROOT = Path(__file__).resolve().parent.parent
_DEFAULT_URL = "postgresql://postgres@127.0.0.1/test"
MS = 1_000_000


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def _drop(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class PalimpsestPostgres(PalimpsestSystem):
    """The same palimpsest system, in a PostgreSQL schema of its own."""

    name = "palimpsest_postgres"

    def __init__(self) -> None:
        super().__init__()
        self._url = os.environ.get("PALIMPSEST_BENCH_URL", _DEFAULT_URL)
        self._schema = "bench_" + uuid.uuid4().hex[:12]

    def setup(self, path: Path) -> None:
        import palimpsest
        from benchmarks.workload import AUTHOR

        self._dir = path
        self._repo = palimpsest.open(_with_schema(self._url, self._schema), author=AUTHOR)

    def storage_bytes(self) -> int:
        row = self.repo.database.one(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? "
            "AND c.relkind IN ('r', 'm')",
            (self._schema,),
        )
        return int(row[0]) if row else 0

    def close(self) -> None:
        super().close()
        _drop(self._url, self._schema)


# -- part 1: the core benchmark, side by side ----------------------------------------------
def _core_worker(system: str, size: str, out: Path) -> None:
    from benchmarks import systems
    from benchmarks.harness import run
    from benchmarks.workload import SIZES

    systems.SYSTEMS["palimpsest_postgres"] = ("benchmarks.bench_postgres", "PalimpsestPostgres")
    result = run(system, SIZES[size], 42)
    result["engine"] = "PostgreSQL" if system.endswith("postgres") else "SQLite"
    out.write_text(json.dumps(result))


def core(size: str, url: str) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    env = {**os.environ, "PALIMPSEST_BENCH_URL": url}
    with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
        for system in ("palimpsest", "palimpsest_postgres"):
            out = Path(tmp) / f"{system}.json"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_postgres",
                    "--core-worker",
                    system,
                    "--size",
                    size,
                    "--out",
                    str(out),
                ],
                cwd=_ROOT,
                env=env,
                check=False,
            )
            results[system] = (
                json.loads(out.read_text()) if out.exists() else {"error": "worker failed"}
            )
    return results


# -- part 2: concurrent writers ------------------------------------------------------------
def _writer(url: str, branch: str, me: int, count: int, start_at: float, out: Path) -> None:
    import palimpsest

    repo = palimpsest.open(url, author=f"writer{me}@example.com")
    repo.put_entity(f"warm-{me}", type="Warm", branch=branch)  # connect, prepare
    while time.time() < start_at:
        time.sleep(0.001)
    begin = time.time()
    retries = 0
    for i in range(count):

        def change(tx: palimpsest.Transaction, i: int = i) -> None:
            tx.put_entity(f"w{me}-{i}", "Item", {"writer": me, "i": i})

        repo.run_transaction(change, message=f"writer {me} item {i}", branch=branch, retries=1000)
    end = time.time()
    repo.close()
    out.write_text(json.dumps({"begin": begin, "end": end, "retries": retries}))


def writers(url: str, processes: int, same_branch: bool, count: int) -> float:
    """Commits per second of ``processes`` writers (each ``count`` commits)."""
    import palimpsest

    schema = "bench_" + uuid.uuid4().hex[:12]
    repo_url = _with_schema(url, schema)
    try:
        with palimpsest.open(repo_url) as repo:
            repo.put_entity("root", type="Root")
            branches = ["main"] * processes if same_branch else [f"b{i}" for i in range(processes)]
            for name in set(branches) - {"main"}:
                repo.create_branch(name)
        start_at = time.time() + 2.0 + 0.3 * processes
        with tempfile.TemporaryDirectory(prefix="bench-pg-w-") as tmp:
            outs = [Path(tmp) / f"{i}.json" for i in range(processes)]
            procs = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.bench_postgres",
                        "--writer",
                        repo_url,
                        branches[i],
                        str(i),
                        str(count),
                        repr(start_at),
                        str(outs[i]),
                    ],
                    cwd=_ROOT,
                )
                for i in range(processes)
            ]
            for proc in procs:
                proc.wait()
            spans = [json.loads(o.read_text()) for o in outs]
        elapsed = max(s["end"] for s in spans) - min(s["begin"] for s in spans)
        return processes * count / elapsed
    finally:
        _drop(url, schema)


# -- part 3: single small commit, time-travel point read -----------------------------------
def latencies(url: str, samples: int) -> dict[str, list[int]]:
    import palimpsest

    schema = "bench_" + uuid.uuid4().hex[:12]
    try:
        with palimpsest.open(_with_schema(url, schema)) as repo:
            commit_ns: list[int] = []
            commits = []
            for i in range(samples + 20):
                t = time.perf_counter_ns()
                c = repo.put_entity(f"e{i % 50}", type="T", props={"i": i})
                commit_ns.append(time.perf_counter_ns() - t)
                commits.append(c)
            read_ns: list[int] = []
            for i in range(samples + 20):
                c = commits[(i * 7919) % len(commits)]
                t = time.perf_counter_ns()
                repo.at(c.id).entity(f"e{(i * 31) % 50}")
                read_ns.append(time.perf_counter_ns() - t)
        return {"commit": commit_ns[20:], "read": read_ns[20:]}
    finally:
        _drop(url, schema)


def _pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / MS


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_postgres")
    p.add_argument("--size", choices=("small", "full"), default="small")
    p.add_argument("--url", default=None)
    p.add_argument("--skip-core", action="store_true", help="only the PostgreSQL-specific part")
    p.add_argument("--core-worker", nargs=1, help=argparse.SUPPRESS)
    p.add_argument("--writer", nargs=6, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.core_worker:
        _core_worker(args.core_worker[0], args.size, args.out)
        return 0
    if args.writer:
        url, branch, me, count, start_at, out = args.writer
        _writer(url, branch, int(me), int(count), float(start_at), Path(out))
        return 0
    url = args.url or os.environ.get("PALIMPSEST_TEST_POSTGRES") or _DEFAULT_URL
    small = args.size == "small"
    rows: list[tuple[str, str, str]] = []
    if not args.skip_core:
        from benchmarks.report import render

        results = core(args.size, url)
        print(
            render(
                {
                    "size": args.size,
                    "entities": 1000 if small else 100_000,
                    "relations": 3000 if small else 300_000,
                    "commits": 1000 if small else 10_000,
                    "seed": 42,
                    "samples": 200 if small else 1000,
                    "platform": f"{os.cpu_count()} CPUs",
                    "seconds": 0,
                },
                results,
            )
        )
        print()
    lat = latencies(url, 200 if small else 1000)
    rows.append(
        (
            "single small commit, ms p50 / p95",
            f"{_pct(lat['commit'], 0.5):.2f} / {_pct(lat['commit'], 0.95):.2f}",
            "p95 <= 5",
        )
    )
    rows.append(
        (
            "time-travel point read, ms p50 / p95",
            f"{_pct(lat['read'], 0.5):.2f} / {_pct(lat['read'], 0.95):.2f}",
            "p95 <= 2",
        )
    )
    count = 100 if small else 500
    rates: dict[tuple[int, bool], float] = {}
    for same in (True, False):
        for n in (1, 2, 4):
            rates[(n, same)] = writers(url, n, same, count)
            where = "one branch" if same else "own branches"
            target = ">= 2.5x one writer" if (n == 4 and not same) else ""
            rows.append(
                (
                    f"commits/s, {n} writer process(es), {where}",
                    f"{rates[(n, same)]:.0f} ({rates[(n, same)] / rates[(1, same)]:.2f}x)",
                    target,
                )
            )
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>18}  target")
    print(f"{'-' * width}  {'-' * 18}  {'-' * 18}")
    for figure, value, target in rows:
        print(f"{figure:<{width}}  {value:>18}  {target}")
    print(
        f"\ncommit p95 samples: {len(lat['commit'])}; stdev "
        f"{statistics.pstdev(lat['commit']) / MS:.2f} ms; machine: {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
