"""Server time of the web UI's diff pages on the schema.org history (issue 17's target: the
first screen of any diff in at most 1 s).

``python -m benchmarks.bench_ui --repo schemaorg.db`` (a repository written by
``examples/schemaorg_history.py``; built in a temporary folder when missing). Each page is
requested through FastAPI's TestClient (no network), the cached sorted diff cleared before each
first screen; a later page of the same diff is timed too. Prints min / median / max in ms.

``--big N`` (default 100,000) also builds a repository whose one commit changes N entities
(half modified, half created) and times the first screen of its diff in the UI (above
``ui_diff.FULL_READ`` it pages through ``Repository.diff(limit=, after=)``), a deep page, and
the first page of the same diff over the HTTP API (``/api/diff?limit=100``); ``--big 0``
skips it.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import palimpsest
from palimpsest.server import create_app, ui_diff

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "schemaorg"
PAGES = ["/ui/commit/9.0", "/ui/compare?a=8.0&b=9.0", "/ui/compare?a=2.0&b=30.0",
         "/ui/commit/10.0", "/ui/commit/9.0?q=Person"]


def build(path: Path) -> None:
    spec = importlib.util.spec_from_file_location("schemaorg_history",
                                                  ROOT / "examples" / "schemaorg_history.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    with palimpsest.open(str(path), author="schema.org") as repo:
        module.build(repo, DATA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    if args.big:
        big(args.big, args.runs)
    path = args.repo or Path(tempfile.mkdtemp()) / "schemaorg.db"
    if not path.exists():
        build(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    with palimpsest.open(str(path)) as repo:
        client = TestClient(create_app(repo, no_auth=True))
        client.get("/ui/log")
        for page in PAGES:
            first, later = [], []
            for _ in range(args.runs):
                ui_diff.clear_cache()
                started = time.perf_counter()
                assert client.get(page).status_code == 200
                first.append(time.perf_counter() - started)
                started = time.perf_counter()
                joiner = "&" if "?" in page else "?"
                assert client.get(f"{page}{joiner}offset=5000").status_code == 200
                later.append(time.perf_counter() - started)
            print(f"{page:34s} first screen {_ms(first)}   a later page {_ms(later)}")


def big(n: int, runs: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    path = Path(tempfile.mkdtemp()) / "big.db"
    with palimpsest.open(str(path), author="bench") as repo:
        half = n // 2
        with repo.transaction("base") as tx:
            for i in range(half):
                tx.put_entity(f"e{i:07}", type=("Class", "Property", "Enum")[i % 3],
                              props={"n": i, "label": f"entity {i}"})
        repo.tag("before")
        with repo.transaction("big") as tx:
            for i in range(half):
                tx.update_entity(f"e{i:07}", {"n": -i})
            for i in range(n - half):
                tx.put_entity(f"n{i:07}", type="Class", props={"n": i})
        repo.tag("after")
        client = TestClient(create_app(repo, no_auth=True))
        client.get("/ui/log")
        timings: dict[str, list[float]] = {}
        pages = {"UI first screen": "/ui/commit/after",
                 "UI compare, first screen": "/ui/compare?a=before&b=after",
                 "UI page at offset 90,000": "/ui/commit/after?offset=90000",
                 "API first page (limit=100)": "/api/diff?a=before&b=after&limit=100"}
        paged = ui_diff.FULL_READ
        for _ in range(runs):
            for label, page in pages.items():
                ui_diff.clear_cache()
                started = time.perf_counter()
                assert client.get(page).status_code == 200, page
                timings.setdefault(label, []).append(time.perf_counter() - started)
            ui_diff.FULL_READ = n  # baseline: the whole diff read and sorted, as before paging
            ui_diff.clear_cache()
            started = time.perf_counter()
            assert client.get("/ui/commit/after").status_code == 200
            timings.setdefault("baseline: whole diff read", []).append(
                time.perf_counter() - started)
            ui_diff.FULL_READ = paged
        print(f"diff of {n:,} changes (target: first screen <= 1 s server time)")
        for label, times in timings.items():
            print(f"  {label:28s} {_ms(times)}")


def _ms(times: list[float]) -> str:
    return (f"min {min(times) * 1000:5.0f}  median {statistics.median(times) * 1000:5.0f}  "
            f"max {max(times) * 1000:5.0f} ms")


if __name__ == "__main__":
    main()
