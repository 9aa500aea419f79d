"""Run one system in a process of its own and write its results as JSON.

``python -m benchmarks.worker NAME --size small --out result.json``

Doltlite works by loading its own SQLite library into the process before
the standard ``sqlite3`` module; it must therefore be imported first, and
no other system may share its process (it would silently run on Doltlite's
engine instead of SQLite's).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    p.add_argument("system")
    p.add_argument("--size", default="small")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--out", type=Path, required=True)
    return p.parse_args(argv)


def _engine_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def main(argv: list[str] | None = None) -> int:
    """Run the named system and write its result; exit 1 if it or one of its figures failed.

    A system whose package is missing is skipped: an "error" entry, exit 0.
    """
    args = _parse(argv)
    result: dict[str, Any] = {"system": args.system}
    code = 0
    try:
        if args.system == "doltlite":
            import doltlite  # noqa: F401  (must precede every sqlite3 import)
        from benchmarks.harness import run
        from benchmarks.workload import SIZES

        size = SIZES[args.size]
        if args.samples:
            size = replace(size, samples=args.samples)
        result["engine"] = _engine_version()
        load_before = os.getloadavg()[0]
        result.update(run(args.system, size, args.seed))
        result["load"] = [load_before, os.getloadavg()[0]]
        if any("error" in f for f in result["figures"].values()):
            code = 1
    except ModuleNotFoundError as e:
        result["error"] = f"not installed: {e.name}"
        print(f"[{args.system}] skipped: {result['error']}", file=sys.stderr)
    except Exception as e:
        traceback.print_exc()
        result["error"] = f"{type(e).__name__}: {e}"
        code = 1
    args.out.write_text(json.dumps(result, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
