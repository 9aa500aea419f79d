"""PostgreSQL benchmarks: the core benchmark on PostgreSQL beside SQLite, concurrent writers,
single small commits, time-travel point reads, and reads with and without a streaming replica.

``python -m benchmarks.bench_postgres --size small|full [--url postgresql://...]
[--replica postgresql://...] [--skip-core] [--count N]``

Writers: 1, 2, 4 and 8 processes on branches of their own, and 4 on one branch (conflicting
read-modify-writes retried), each ``--count`` commits; the figure is commits per second of
wall time and the ratio to one writer in the same run. Each writer's CPU time per commit is
printed too: when the machine's cores are busy, throughput cannot grow with writers whatever
the locking (docs/postgres.md, "Many writers", explains the figures).

The server comes from ``--url``, else ``PALIMPSEST_TEST_POSTGRES``, else
``postgresql://postgres@127.0.0.1/test``; every run works in a schema of its own and drops it.
Each measurement runs in fresh processes, one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    stall = float(os.environ.get("PALIMPSEST_BENCH_STALL_MS", "0")) / 1000
    if stall:  # a slow server or network: time spent between taking the seq and COMMIT

        def slow(sql: str, params: object) -> None:
            if sql.startswith("INSERT INTO commits"):
                time.sleep(stall)

        repo.database.tracer = slow
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def writers(url: str, processes: int, same_branch: bool, count: int) -> tuple[float, float]:
    """Commits per second of ``processes`` writers (each ``count`` commits), and the writer
    processes' CPU milliseconds per commit (client side: Python, driver)."""
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
        cpu = _children_cpu()
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
        cpu = _children_cpu() - cpu
        elapsed = max(s["end"] for s in spans) - min(s["begin"] for s in spans)
        return processes * count / elapsed, cpu * 1000 / (processes * count)
    finally:
        _drop(url, schema)


# -- part 2b: reads with and without a replica ---------------------------------------------
def _reader(url: str, replica: str, seconds: float, start_at: float, out: Path) -> None:
    import palimpsest

    repo = palimpsest.open(url, replicas=[replica] if replica != "-" else None)
    head = repo.resolve("main")
    keys = [f"e{i}" for i in range(200)]
    repo.at(head.id).entity(keys[0])  # connect
    while time.time() < start_at:
        time.sleep(0.001)
    done, i = 0, 0
    stop = time.time() + seconds
    while time.time() < stop:
        view = repo.at(head.id)  # a pinned view: any replica that has the commit serves it
        view.entity(keys[i % len(keys)])
        view.neighbors(keys[(i * 7) % len(keys)])
        done += 1
        i += 1
    repo.close()
    out.write_text(json.dumps({"reads": done, "seconds": seconds}))


def readers(url: str, replica: str | None, processes: int, seconds: float) -> float:
    """Point reads + neighbour reads per second of ``processes`` reader processes, against
    the primary alone or with ``replica`` serving the reads."""
    import palimpsest

    schema = "bench_" + uuid.uuid4().hex[:12]
    repo_url = _with_schema(url, schema)
    try:
        with palimpsest.open(repo_url) as repo, repo.transaction("data") as tx:
            for i in range(200):
                tx.put_entity(f"e{i}", "Item", {"i": i})
            for i in range(199):
                tx.put_relation(f"r{i}", "NEXT", f"e{i}", f"e{i + 1}")
        time.sleep(0.5)  # let the replica replay the data
        start_at = time.time() + 2.0 + 0.3 * processes
        with tempfile.TemporaryDirectory(prefix="bench-pg-r-") as tmp:
            outs = [Path(tmp) / f"{i}.json" for i in range(processes)]
            procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.bench_postgres",
                                       "--reader", repo_url, replica or "-", repr(seconds),
                                       repr(start_at), str(outs[i])], cwd=_ROOT)
                     for i in range(processes)]
            for proc in procs:
                proc.wait()
            total = sum(json.loads(o.read_text())["reads"] for o in outs)
        return total / seconds
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
    p.add_argument("--replica", default=None,
                   help="a streaming replica of --url (default PALIMPSEST_TEST_POSTGRES_REPLICA)")
    p.add_argument("--count", type=int, default=None, help="commits per writer")
    p.add_argument("--writer", nargs=6, help=argparse.SUPPRESS)
    p.add_argument("--reader", nargs=5, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.core_worker:
        _core_worker(args.core_worker[0], args.size, args.out)
        return 0
    if args.writer:
        url, branch, me, count, start_at, out = args.writer
        _writer(url, branch, int(me), int(count), float(start_at), Path(out))
        return 0
    if args.reader:
        url, replica, seconds, start_at, out = args.reader
        _reader(url, replica, float(seconds), float(start_at), Path(out))
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
    count = args.count or (100 if small else 500)
    rates: dict[tuple[int, bool], float] = {}
    for n, same in ((1, False), (2, False), (4, False), (8, False), (4, True)):
        rate, cpu_ms = writers(url, n, same, count)
        rates[(n, same)] = rate
        where = "one branch" if same else "own branches"
        target = {4: ">= 2.5x one writer", 8: ">= 4x one writer"}.get(n, "") if not same \
            else "no lost update"
        rows.append((f"commits/s, {n} writer process(es), {where}",
                     f"{rate:.0f} ({rate / rates[(1, False)]:.2f}x)", target))
        rows.append((f"  client CPU ms per commit, {n} writer(s), {where}", f"{cpu_ms:.1f}",
                     ""))
    stall_ms = 50
    os.environ["PALIMPSEST_BENCH_STALL_MS"] = str(stall_ms)
    try:
        stalled = {n: writers(url, n, False, count)[0] for n in (1, 4, 8)}
    finally:
        del os.environ["PALIMPSEST_BENCH_STALL_MS"]
    for n, rate in stalled.items():
        rows.append((f"commits/s, {n} writer(s), own branches, {stall_ms} ms inside each commit",
                     f"{rate:.0f} ({rate / stalled[1]:.2f}x)",
                     {4: ">= 2.5x", 8: ">= 4x"}.get(n, "")))
    replica = args.replica or os.environ.get("PALIMPSEST_TEST_POSTGRES_REPLICA")
    seconds = 5.0 if small else 15.0
    alone = readers(url, None, 2, seconds)
    rows.append(("reads/s, 2 reader processes, primary only", f"{alone:.0f}", ""))
    if replica:
        with_replica = readers(url, replica, 2, seconds)
        rows.append(("reads/s, 2 reader processes, through the replica",
                     f"{with_replica:.0f} ({with_replica / alone:.2f}x)", "same host: ~1x"))
    load = os.getloadavg()
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>18}  target")
    print(f"{'-' * width}  {'-' * 18}  {'-' * 18}")
    for figure, value, target in rows:
        print(f"{figure:<{width}}  {value:>18}  {target}")
    print(
        f"\ncommit p95 samples: {len(lat['commit'])}; stdev "
        f"{statistics.pstdev(lat['commit']) / MS:.2f} ms; machine: {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} at the start of the reads"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
