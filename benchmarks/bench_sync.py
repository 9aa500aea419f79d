"""Sync benchmark (issue 21): clone, and fetch of a few new commits, next to ``copy_to``.

    python -m benchmarks.bench_sync                      # schema.org (52 releases), 10,000 commits
    python -m benchmarks.bench_sync --size tiny          # 3 releases, 300 commits (tests)
    python -m benchmarks.bench_sync --no-http            # SQLite -> SQLite only

1. **Clone of the schema.org history** (the ``shared/data/schemaorg`` releases imported as in
   ``bench_schemaorg``, one commit and one tag per release): ``repo.copy_to`` (the whole
   repository in one transaction, no negotiation), ``palimpsest.clone`` SQLite -> SQLite, and
   ``palimpsest.clone`` over HTTP from ``palimpsest serve`` on a loopback port. Time, and bytes:
   the pack's bytes for a clone, the JSON Lines archive of the same history for the copy
   (the same records, the copy streams them without a file).
2. **Fetch of 1 and 100 new commits on a 10,000-commit repository** (``--commits``): a clone
   fetches after the origin made 1 (then 100) more commits, SQLite -> SQLite and over HTTP.
   Time, bytes and commits in the pack; bytes per new commit should not depend on the history.

Each figure is the median of ``--runs`` runs (clones into fresh paths; fetches from fresh
clones). The numbers are wall-clock on whatever machine runs them: compare the columns of one
run, not runs on different machines.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import palimpsest
from benchmarks.bench_schemaorg import DATA, release_path, releases
from benchmarks.report import print_figures
from palimpsest.sync.engine import clone

SIZES = {"tiny": (3, 300, 1), "small": (None, 10_000, 3)}
"""size -> (schema.org releases (None: all), commits of the fetch repository, runs)."""


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(path: Path) -> Iterator[str]:
    """``palimpsest serve`` (no auth, loopback) on the repository at ``path``."""
    import httpx

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "palimpsest.server", "--repo", str(path),
                             "--port", str(port), "--no-auth"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                if httpx.get(url + "/api", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def load_schemaorg(path: Path, count: int | None) -> int:
    from datetime import UTC, datetime

    from palimpsest.io import import_graph
    from palimpsest.io.rdf import parse_rdf

    repo = palimpsest.open(str(path), author="schema.org")
    items = releases(DATA, count)
    for item in items:
        when = datetime.fromisoformat(item.get("official_release_date") or item["release_date"])
        when = when.replace(tzinfo=UTC)
        head = repo.head().commit
        if head is not None and when < head.timestamp:
            when = head.timestamp
        result = import_graph(repo, parse_rdf(release_path(DATA, item)),
                              message=f"schema.org {item['version']}", timestamp=when)
        assert result.commit is not None
        repo.tag(str(item["version"]), result.commit.id, force=True)
    repo.close()
    return len(items)


def load_commits(path: Path, commits: int) -> None:
    repo = palimpsest.open(str(path), author="bench")
    with repo.transaction("base") as tx:
        for i in range(1000):
            tx.put_entity(f"e{i}", "Item", {"n": i, "name": f"item {i}"})
    for i in range(commits - 1):
        repo.update_entity(f"e{(i * 7919) % 1000}", {"n": i}, message=f"c{i}")
    repo.close()


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = action()
    return time.perf_counter() - t0, result


def clone_figures(folder: Path, releases_count: int | None, runs: int, http: bool
                  ) -> list[tuple[str, str, str]]:
    source = folder / "schemaorg.db"
    t, count = _timed(lambda: load_schemaorg(source, releases_count))
    repo = palimpsest.open(str(source))
    commits = len(repo.log(limit=None))
    archive = folder / "schemaorg.jsonl"
    repo.export(str(archive))
    rows = [("schema.org releases (commits)", f"{count} ({commits})", ""),
            ("  import (s)", f"{t:.1f}", "")]
    copies, clones, packs = [], [], []
    for i in range(runs):
        t, _ = _timed(lambda i=i: repo.copy_to(str(folder / f"copy{i}.db")))
        copies.append(t)

        t, report = _timed(lambda i=i: clone(str(source), str(folder / f"clone{i}.db")))
        clones.append(t)
        packs.append(report.bytes)
        cloned = palimpsest.open(str(folder / f"clone{i}.db"))
        assert cloned.resolve("main").id == repo.resolve("main").id
        assert cloned.resolve(str(releases(DATA, releases_count)[-1]["version"])).id == \
            repo.resolve("main").id
        cloned.close()
    rows += [("copy_to SQLite -> SQLite (s)", f"{_median(copies):.2f}", ""),
             ("  archive of the history (MB)", f"{archive.stat().st_size / 1e6:.1f}", ""),
             ("clone SQLite -> SQLite (s)", f"{_median(clones):.2f}",
              f"{_median(clones) / _median(copies):.1f}x copy_to"),
             ("  pack (MB)", f"{_median(packs) / 1e6:.1f}", "")]
    repo.close()
    if http:
        with serving(source) as url:
            times = []
            for i in range(runs):
                t, report = _timed(lambda i=i: clone(url, str(folder / f"http{i}.db")))
                times.append(t)
        rows.append(("clone over HTTP (s)", f"{_median(times):.2f}",
                     f"{_median(times) / _median(copies):.1f}x copy_to"))
        rows.append(("  pack (MB)", f"{report.bytes / 1e6:.1f}", ""))
    return rows


def fetch_figures(folder: Path, commits: int, runs: int, http: bool
                  ) -> list[tuple[str, str, str]]:
    origin_path = folder / "history.db"
    t, _ = _timed(lambda: load_commits(origin_path, commits))
    rows = [(f"repository of {commits:,} commits: setup (s)", f"{t:.1f}", "")]
    origin = palimpsest.open(str(origin_path), author="bench")
    t, _ = _timed(lambda: origin.copy_to(str(folder / "history-copy.db")))
    rows.append(("  copy_to (s)", f"{t:.2f}", ""))
    serve = serving(origin_path) if http else None
    url = serve.__enter__() if serve is not None else None
    try:
        for new in (1, 100):
            for transport, source in (("SQLite -> SQLite", str(origin_path)), ("HTTP", url)):
                if source is None:
                    continue
                times, sizes, sent = [], [], []
                for i in range(runs):
                    clone = palimpsest.clone(source, str(folder / f"f{new}-{transport[:4]}-{i}.db"))
                    for j in range(new):
                        origin.update_entity(f"e{j % 1000}", {"new": j, "run": f"{transport} {i}"})
                    t, report = _timed(lambda clone=clone: clone.fetch("origin"))
                    assert (report.commits, report.rows) == (new, new), report
                    assert clone.resolve("origin/main").id == origin.resolve("main").id
                    times.append(t)
                    sizes.append(report.bytes)
                    sent.append(report.commits)
                    clone.close()
                rows.append((f"fetch {new} new commit{'s' if new > 1 else ''}, {transport} (ms)",
                             f"{_median(times) * 1000:.1f}", ""))
                rows.append(("  pack bytes (per commit)",
                             f"{int(_median(sizes)):,} ({int(_median(sizes)) // new:,})",
                             "O(new commits)"))
    finally:
        if serve is not None:
            serve.__exit__(None, None, None)
        origin.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--releases", type=int, help="schema.org releases (default: by size)")
    parser.add_argument("--commits", type=int, help="commits of the fetch repository")
    parser.add_argument("--runs", type=int, help="runs per figure (median)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP figures")
    parser.add_argument("--no-schemaorg", action="store_true", help="skip the clone figures")
    args = parser.parse_args()
    count, commits, runs = SIZES[args.size]
    count = args.releases or count
    commits = args.commits or commits
    runs = args.runs or runs
    http = not args.no_http
    rows: list[tuple[str, str, str]] = [("machine", f"{os.cpu_count()} cores", "")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.no_schemaorg:
            if DATA.exists():
                rows += clone_figures(folder, count, runs, http)
            else:
                rows.append(("schema.org clone", "skipped", f"no data at {DATA}"))
        rows += fetch_figures(folder, commits, runs, http)
    print_figures(rows)


if __name__ == "__main__":
    main()
