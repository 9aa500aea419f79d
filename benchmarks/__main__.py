"""``python -m benchmarks``: run every system, print the figures and ratios.

Each system runs in a fresh worker process (see ``benchmarks.worker``),
one after the other so they never compete for the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import render, render_scale
from benchmarks.systems import DEFAULT_SYSTEMS, SCALE_SYSTEMS, SYSTEMS
from benchmarks.workload import SIZES

_ROOT = Path(__file__).resolve().parent.parent  # the directory that holds the package


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run palimpsest and its peers on one synthetic workload; print figures and ratios.",
    )
    p.add_argument(
        "--size",
        default="small",
        help="small: 1,000 entities and 1,000 commits (default); full: 100,000 and 10,000; "
        "history at scale: medium (20,000 and 10,000), large (100,000 and 50,000), tiny "
        "(200 and 120, for tests); comma-separate sizes to run several (e.g. medium,large) "
        "and compare them",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these systems (repeat or comma-separate); known: {', '.join(SYSTEMS)}",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also save all results as JSON")
    p.add_argument("--seed", type=int, default=42, help="workload and sampling seed (default 42)")
    p.add_argument("--samples", type=int, help="samples per latency figure (default: by size)")
    p.add_argument(
        "--compare",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="run nothing: print the size comparison table of results saved with --json "
        "(e.g. a medium run and a large run)",
    )
    args = p.parse_args(argv)
    names = [n for chunk in args.only or [] for n in chunk.split(",") if n]
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        p.error(f"unknown system(s): {', '.join(unknown)}; known: {', '.join(SYSTEMS)}")
    args.sizes = [x for x in args.size.split(",") if x]
    bad = [x for x in args.sizes if x not in SIZES]
    if bad or not args.sizes:
        p.error(f"unknown size(s): {', '.join(bad)}; known: {', '.join(SIZES)}")
    scale = all(SIZES[x].relation_mutations for x in args.sizes)
    args.systems = names or list(SCALE_SYSTEMS if scale else DEFAULT_SYSTEMS)
    return args


def _run_worker(name: str, size: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.worker", name, "--size", size]
    cmd += ["--seed", str(args.seed), "--out", str(out)]
    if args.samples:
        cmd += ["--samples", str(args.samples)]
    env = dict(os.environ)
    env.pop("_DOLTLITE_BOOTSTRAPPED", None)  # let each worker load its own engine
    proc = subprocess.run(cmd, cwd=_ROOT, env=env, check=False)
    result: dict[str, Any] = {"system": name, "error": f"worker exited with code {proc.returncode}"}
    if out.exists():
        result = json.loads(out.read_text())
    result["failed"] = proc.returncode != 0  # a skipped system (not installed) exits 0
    return result


def _run_size(size_name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected systems one after the other at one size; print its report."""
    size = SIZES[size_name]
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-results-") as tmp:
        for name in args.systems:
            results[name] = _run_worker(name, size_name, args, Path(tmp) / f"{name}.json")
    meta = {
        "size": size.name,
        "entities": size.entities,
        "relations": 3 * size.entities,
        "commits": size.commits,
        "seed": args.seed,
        "samples": args.samples or size.samples,
        "cpus": os.cpu_count() or 1,
        "platform": f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs",
        "seconds": round(time.perf_counter() - started, 1),
    }
    print()
    print(render(meta, results))
    print(f"\ntotal {meta['seconds']} s")
    return {"meta": meta, "results": results}


def _compare(paths: list[Path]) -> int:
    """Print the size comparison table of saved runs (one size per file, or several)."""
    by_size: dict[str, dict[str, Any]] = {}
    for path in paths:
        saved = json.loads(path.read_text())
        runs = {saved["meta"]["size"]: saved} if "meta" in saved else saved
        for size, run in runs.items():
            by_size.setdefault(size, {}).update(run["results"])  # systems run separately
    print(render_scale(by_size))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the selected systems at each size and print the reports."""
    args = _parse(argv)
    if args.compare:
        return _compare(args.compare)
    runs = {size: _run_size(size, args) for size in args.sizes}
    if any(SIZES[size].relation_mutations for size in args.sizes):
        print()
        print(render_scale({size: run["results"] for size, run in runs.items()}))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        saved = runs[args.sizes[0]] if len(runs) == 1 else runs
        args.json.write_text(json.dumps(saved, indent=2))
        print(f"results saved to {args.json}")
    failed = [
        r
        for run in runs.values()
        for r in run["results"].values()
        if "error" in r and r.get("system") != "palimpsest"
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
