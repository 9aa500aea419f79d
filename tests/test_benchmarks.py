"""The benchmark suite stays runnable: ``python -m benchmarks --size tiny`` on palimpsest (and
Doltlite when installed), every figure measured and every answer check agreeing. Timings are
not asserted, only answers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCALE_FIGURES = {
    "read_head", "neighbors2_head", "count_type_head", "diff_random", "diff_stats", "blame",
    "rollback_1", "rollback", "rollback_random", "merge",
}


def _workload() -> Any:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import workload
    finally:
        sys.path.remove(str(ROOT))
    return workload


def test_scale_workload_replays_on_a_model() -> None:
    """Every mutation of the history-at-scale mix is valid where it happens: creations are
    new, updates and deletions hit live elements, new relations join live entities."""
    w = _workload()
    wl = w.generate(w.SIZES["tiny"], 42)
    entities = {e.id for e in wl.entities}
    relations = {r.id: (r.source, r.target) for r in wl.relations}
    kinds: set[str] = set()
    for spec in wl.commits:
        for m in spec.mutations:
            kinds.add(type(m).__name__)
            if isinstance(m, w.CreateEntity):
                assert m.entity.id not in entities
                entities.add(m.entity.id)
            elif isinstance(m, w.UpdateEntity):
                assert m.id in entities
            elif isinstance(m, w.DeleteEntity):
                assert m.id in entities
                entities.remove(m.id)
                gone = {r for r, ends in relations.items() if m.id in ends}
                assert set(m.relations) == gone
                for r in gone:
                    del relations[r]
            elif isinstance(m, w.CreateRelation):
                r = m.relation
                assert r.id not in relations and {r.source, r.target} <= entities
                relations[r.id] = (r.source, r.target)
            else:
                assert isinstance(m, w.DeleteRelation) and m.id in relations
                del relations[m.id]
    assert kinds == {"CreateEntity", "UpdateEntity", "DeleteEntity", "CreateRelation",
                     "DeleteRelation"}


def test_tiny_run_answers_agree(tmp_path: Path) -> None:
    systems = ["palimpsest"]
    if importlib.util.find_spec("doltlite") is not None:
        systems.append("doltlite")
    out = tmp_path / "tiny.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--size", "tiny", "--only", ",".join(systems),
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())["results"]
    ours = results["palimpsest"]
    failed = {k: f for k, f in ours["figures"].items() if "error" in f or "unsupported" in f}
    assert not failed
    assert set(ours["figures"]) >= SCALE_FIGURES
    assert "answer checks:" in proc.stdout and "MISMATCH" not in proc.stdout
    for key in ("read_head", "count_type_head", "diff_random", "rollback_random", "merge"):
        assert ours["checks"][key] > 0, key
    if "doltlite" in results:
        theirs = results["doltlite"]
        for key in SCALE_FIGURES:
            assert "error" not in theirs["figures"][key], theirs["figures"][key]
        shared = set(ours["checks"]) & set(theirs["checks"]) - {"branch"}
        assert SCALE_FIGURES - {"blame"} <= shared | {"rollback"}
        assert {k: ours["checks"][k] for k in shared} == {k: theirs["checks"][k] for k in shared}


@pytest.mark.parametrize("size", ["medium", "large"])
def test_scale_sizes(size: str) -> None:
    w = _workload()
    s = w.SIZES[size]
    assert s.relation_mutations
    assert (s.entities, s.commits) == {"medium": (20_000, 10_000),
                                       "large": (100_000, 50_000)}[size]


SCHEMAORG = ROOT.parent / "shared" / "data" / "schemaorg"


@pytest.mark.skipif(not (SCHEMAORG / "manifest.json").exists(),
                    reason="the schema.org data set (shared/data/schemaorg) is not next to "
                           "this checkout")
def test_schemaorg_import_counts_every_release(tmp_path: Path) -> None:
    """The versioned-import benchmark on 3 releases: every system that is installed holds
    each release's triple count as of its commit (the benchmark's own check)."""
    pytest.importorskip("pyoxigraph")
    systems = ["palimpsest"] + [name for name in ("oxilite", "tiramemsu")
                                if importlib.util.find_spec(name) is not None]
    out = tmp_path / "schemaorg.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_schemaorg", "--releases", "3", "--only",
         ",".join(systems), "--no-store", "--no-synthetic", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())["results"]
    assert set(results) == set(systems)
    manifest = json.loads((SCHEMAORG / "manifest.json").read_text(encoding="utf-8"))
    expected = [int(item["triples"]) for item in manifest[:3]]
    for r in results.values():
        assert r["counts"] == expected
        assert r["commits"] == 3 and r["bytes"] > 0


def test_rollback_benchmark_runs() -> None:
    """``python -m benchmarks.bench_rollback --size tiny``: every figure is measured (the
    benchmark itself checks each rollback lands on the expected state)."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_rollback", "--size", "tiny"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("rollback undoing") == 3 and "blame of" in proc.stdout


def test_search_benchmark_runs_and_agrees_with_brute_force() -> None:
    """``python -m benchmarks.bench_search --size tiny``: every answer it times agrees with
    its brute-force baseline, and the approximate index's recall is printed."""
    pytest.importorskip("usearch")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_search", "--size", "tiny", "--samples", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "approximate recall@10 vs exact" in proc.stdout


def test_sync_benchmark_runs() -> None:
    """``python -m benchmarks.bench_sync --size tiny``: clones and fetches run and check
    themselves (identical heads, exactly the new commits in each fetch's pack)."""
    pytest.importorskip("uvicorn")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_sync", "--size", "tiny"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("fetch 1 new commit,") == 2
    assert proc.stdout.count("fetch 100 new commits,") == 2 and "clone over HTTP" in proc.stdout

def test_valid_time_benchmark_runs() -> None:
    """``python -m benchmarks.bench_valid_time --size tiny``: both figures and their ratios
    are measured (the benchmark checks its narrowed answers against the unnarrowed ones)."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_valid_time", "--size",
                           "tiny"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("with / without valid_at") == 2
