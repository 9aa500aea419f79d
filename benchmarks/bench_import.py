"""Import benchmark on schema.org's release history, and CLI start-up.

    python -m benchmarks.bench_import --size small|full [--data PATH]

Figures:
* the largest release (30.0, 17,949 triples) imported into an empty repository: triples/s
  (parse + map + versioned import + commit), and the import step alone;
* the releases imported in version order, one commit each (versioned import): total time,
  the slowest step, the final database size against the sum of the xz-compressed release
  files (``full``: all 52 releases; ``small``: the first 8, for CI);
* ``palimpsest log -n 1`` wall time through the installed console script (median of 7), and
  ``python -c "import palimpsest"`` for reference (the floor the CLI cannot go below).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import palimpsest
from palimpsest.io import import_graph
from palimpsest.io.rdf import parse_rdf

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "schemaorg"
SIZES = {"small": 8, "full": None}


def _fresh(folder: Path, name: str) -> palimpsest.Repository:
    return palimpsest.open(str(folder / name), author="bench")


def largest(data: Path, folder: Path) -> dict[str, float]:
    manifest = json.loads((data / "manifest.json").read_text())
    item = max(manifest, key=lambda r: r["triples"])
    repo = _fresh(folder, "largest.db")
    start = time.perf_counter()
    graph = parse_rdf(data / "releases" / f"{item['version']}.nt.xz")
    parsed = time.perf_counter()
    import_graph(repo, graph, message=f"schema.org {item['version']}")
    done = time.perf_counter()
    repo.close()
    return {
        "version": float(item["version"]),
        "triples": item["triples"],
        "total_s": done - start,
        "import_s": done - parsed,
    }


def history(data: Path, folder: Path, count: int | None) -> dict[str, float]:
    manifest = json.loads((data / "manifest.json").read_text())
    chosen = manifest if count is None else manifest[:count]
    repo = _fresh(folder, "history.db")
    slowest = 0.0
    start = time.perf_counter()
    for item in chosen:
        step = time.perf_counter()
        graph = parse_rdf(data / "releases" / f"{item['version']}.nt.xz")
        date = item.get("official_release_date") or item["release_date"]
        head = repo.head().commit
        when: object = date
        if head is not None and head.timestamp.date().isoformat() > date:
            when = head.timestamp
        result = import_graph(repo, graph, message=f"schema.org {item['version']}", timestamp=when)  # type: ignore[arg-type]
        assert result.commit is not None
        repo.tag(str(item["version"]), result.commit.id)
        slowest = max(slowest, time.perf_counter() - step)
    total = time.perf_counter() - start
    repo.database.run("PRAGMA wal_checkpoint(TRUNCATE)")
    repo.close()
    size = sum(p.stat().st_size for p in folder.glob("history.db*"))
    xz = sum(int(item["xz_bytes"]) for item in chosen)
    triples = sum(int(item["triples"]) for item in chosen)
    return {
        "releases": len(chosen),
        "triples": triples,
        "total_s": total,
        "slowest_s": slowest,
        "db_bytes": size,
        "xz_bytes": xz,
    }


def startup(db: Path) -> dict[str, float]:
    script = shutil.which("palimpsest", path=str(Path(sys.executable).parent))
    env = {**os.environ, "PALIMPSEST_REPO": str(db), "NO_COLOR": "1"}

    def median(cmd: list[str]) -> float:
        runs = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            runs.append(time.perf_counter() - start)
        return statistics.median(runs)

    out = {"import_s": median([sys.executable, "-c", "import palimpsest"])}
    if script is not None:
        out["help_s"] = median([script, "--help"])
        out["log_s"] = median([script, "log", "-n", "1"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_import", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    if not (args.data / "manifest.json").exists():
        print(f"no schema.org data at {args.data}; pass --data", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        folder = Path(tmp)
        big = largest(args.data, folder)
        hist = history(args.data, folder, SIZES[args.size])
        cli = startup(folder / "history.db")
    rows = [
        (
            f"largest release ({big['version']}, {int(big['triples'])} triples): triples/s",
            f"{big['triples'] / big['total_s']:,.0f}",
            "parse+map+import+commit",
        ),
        ("  of which versioned import + commit", f"{big['import_s']:.2f} s", ""),
        (
            f"{int(hist['releases'])} releases in order ({int(hist['triples']):,} triples): total",
            f"{hist['total_s']:.1f} s",
            "one commit per release",
        ),
        ("  slowest release step", f"{hist['slowest_s']:.2f} s", ""),
        ("  database size (SQLite, after checkpoint)", f"{hist['db_bytes'] / 1e6:.1f} MB", ""),
        ("  sum of the releases' .nt.xz files", f"{hist['xz_bytes'] / 1e6:.1f} MB", "reference"),
        ("  database / compressed releases", f"{hist['db_bytes'] / hist['xz_bytes']:.1f}x", ""),
        ("python -c 'import palimpsest'", f"{cli['import_s'] * 1000:.0f} ms", "floor"),
        (
            "palimpsest --help (console script)",
            f"{cli.get('help_s', float('nan')) * 1000:.0f} ms",
            "<= 200 ms",
        ),
        (
            "palimpsest log -n 1 (console script)",
            f"{cli.get('log_s', float('nan')) * 1000:.0f} ms",
            "<= 300 ms",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>12}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>12}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
