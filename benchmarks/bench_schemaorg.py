"""Versioned import of schema.org's 52 releases (issue 15): palimpsest against oxilite and
tiramemsu, then palimpsest's own store figures (kv, view.entity) beside plain SQLite.

    python -m benchmarks.bench_schemaorg                  # all releases, every system
    python -m benchmarks.bench_schemaorg --releases 8     # the first 8 (quick)
    python -m benchmarks.bench_schemaorg --only palimpsest,oxilite --no-synthetic

Every system imports the releases in version order, one commit per release that records only
what changed, each system in a process of its own (``--worker NAME``), one after the other:

* **palimpsest**: the documented versioned import (examples/schemaorg_history.py):
  ``parse_rdf`` then ``import_graph`` (which finds what changed against the branch head), one
  commit per release dated with the release date (clamped so time never goes backwards), then
  a tag named after the release.
* **oxilite** (``Store(path, versioning="log")``): the release's triples minus the previous
  release's, and the other way round, as one atomic SPARQL update
  (``DELETE DATA {…} ; INSERT DATA {…}``) inside ``store.commit(author, message)``: one commit
  (tick) per release. Commit times are the wall clock (no way to give one).
* **tiramemsu** (``Database(path)``): the same two sets as one ``db.transact()``:
  ``retract_matching(s, p, o)`` for each removed triple, ``assert_(s, p, o)`` for each added
  one (terms parsed with pyoxigraph): one transaction per release. Wall-clock times too.

The peers' set differences are computed in Python from the release files (sorted, unique
N-Triples lines) and counted in their import time, as are reading and decompressing the files.

Figures: total import seconds (and the slowest release), palimpsest's time over each peer's,
the store's size after a WAL checkpoint and ``bytes per distinct triple``: that size divided by
the number of distinct triples in the union of all releases (the same denominator for every
system). **Checks**: after the import, each system counts the triples of every release as of
its commit (palimpsest: the state at the tag rendered as N-Triples; oxilite: a SPARQL count
``as_of="#tick"``; tiramemsu: a SPARQL count on ``db.as_of(tx=t)``) and the count must equal
the manifest's ``triples``; a mismatch is reported and fails the run.

Then palimpsest alone (worker ``store``): ``kv.set`` durable commits per second and ``kv.get``
hot latency, against plain SQLite doing the same (one upsert per committed transaction, WAL,
``synchronous=NORMAL``; the floor), and ``view.entity()`` on the schema.org repository, hot
(the same view, many reads) and cold (the first read on a freshly opened repository). With
``--synthetic`` (default) it also runs the main suite's ``small`` workload on palimpsest and
plain SQLite and prints storage per commit and commit latency over plain SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import lzma
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "schemaorg"
SYSTEMS = ("palimpsest", "oxilite", "tiramemsu")
AUTHOR = "schema.org"


# -- the data -------------------------------------------------------------------------------


def releases(data: Path, count: int | None) -> list[dict[str, Any]]:
    """The manifest's releases in version order (the first ``count`` of them)."""
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    return list(manifest if count is None else manifest[:count])


def release_path(data: Path, item: dict[str, Any]) -> Path:
    return data / "releases" / f"{item['version']}.nt.xz"


def release_lines(data: Path, item: dict[str, Any]) -> set[bytes]:
    """The release's N-Triples lines (the files hold sorted unique lines, no comments)."""
    return {x for x in lzma.decompress(release_path(data, item).read_bytes()).split(b"\n") if x}


def distinct_triples(data: Path, items: list[dict[str, Any]]) -> int:
    """Triples in the union of the releases: the denominator of bytes per triple."""
    seen: set[bytes] = set()
    for item in items:
        seen |= release_lines(data, item)
    return len(seen)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _checkpoint(db: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()


def _diffs(data: Path, items: list[dict[str, Any]]) -> Iterator[tuple[set[bytes], set[bytes]]]:
    """(removed lines, added lines) of each release against the one before."""
    previous: set[bytes] = set()
    for item in items:
        lines = release_lines(data, item)
        yield previous - lines, lines - previous
        previous = lines


# -- the systems ----------------------------------------------------------------------------


def import_palimpsest(data: Path, items: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    import palimpsest
    from palimpsest.io import import_graph, render
    from palimpsest.io.rdf import parse_rdf

    db = folder / "palimpsest.db"
    repo = palimpsest.open(str(db), author=AUTHOR)
    steps: list[float] = []
    start = time.perf_counter()
    for item in items:
        t0 = time.perf_counter()
        when = datetime.fromisoformat(item.get("official_release_date") or item["release_date"])
        when = when.replace(tzinfo=UTC)
        head = repo.head().commit
        if head is not None and when < head.timestamp:
            when = head.timestamp  # commit times never go backwards (the example clamps too)
        graph = parse_rdf(release_path(data, item))
        result = import_graph(repo, graph, message=f"schema.org {item['version']}",
                              author=AUTHOR, timestamp=when,
                              metadata={"release": str(item["version"])})
        assert result.commit is not None
        repo.tag(str(item["version"]), result.commit.id, force=True)
        steps.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    commits = len(repo.log(limit=None))
    counts = []
    for item in items:
        rendered, _ = render(repo, str(item["version"]), "nt")
        counts.append(sum(1 for x in rendered.split(b"\n") if x.strip()))
    repo.close()
    _checkpoint(db)
    return {"seconds": total, "steps": steps, "bytes": dir_bytes(folder), "counts": counts,
            "commits": commits}


def import_oxilite(data: Path, items: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    import oxilite

    store = oxilite.Store(str(folder / "oxilite.sqlite"), versioning="log")
    ticks: list[int] = []
    steps: list[float] = []
    start = time.perf_counter()
    for item, (removed, added) in zip(items, _diffs(data, items), strict=True):
        t0 = time.perf_counter()
        parts = []
        if removed:
            parts.append(b"DELETE DATA {\n" + b"\n".join(sorted(removed)) + b"\n}")
        if added:
            parts.append(b"INSERT DATA {\n" + b"\n".join(sorted(added)) + b"\n}")
        if parts:
            with store.commit(AUTHOR, f"schema.org {item['version']}"):
                store.update(b" ;\n".join(parts).decode("utf-8"))
        ticks.append(store.versioning().head)
        steps.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    counts = []
    for tick in ticks:
        rows = list(store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", as_of=f"#{tick}"))
        counts.append(int(rows[0]["n"].value))
    commits = sum(1 for c in store.history(limit=10_000) if c.kind == "write")
    del store
    gc.collect()
    with contextlib.suppress(Exception):
        _checkpoint(folder / "oxilite.sqlite")
    return {"seconds": total, "steps": steps, "bytes": dir_bytes(folder), "counts": counts,
            "commits": commits}


def _tiramemsu_terms(lines: set[bytes]) -> list[tuple[Any, Any, Any]]:
    import pyoxigraph as ox
    from tiramemsu import Iri, Literal

    xsd_string = "http://www.w3.org/2001/XMLSchema#string"
    lang_string = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

    def term(t: Any) -> Any:
        if isinstance(t, ox.NamedNode):
            return Iri(t.value)
        if isinstance(t, ox.Literal):
            dt = t.datatype.value
            if t.language:
                return Literal(t.value, lang=t.language)
            return Literal(t.value, None if dt in (xsd_string, lang_string) else dt)
        raise ValueError(f"unexpected term {t!r}")  # the data set has no blank nodes

    text = b"\n".join(sorted(lines))
    return [(term(q.subject), term(q.predicate), term(q.object))
            for q in ox.parse(text, ox.RdfFormat.N_TRIPLES)]


def import_tiramemsu(data: Path, items: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    from tiramemsu import Database

    db = Database(str(folder / "tiramemsu.db"))
    txs: list[int] = []
    steps: list[float] = []
    start = time.perf_counter()
    for removed, added in _diffs(data, items):
        t0 = time.perf_counter()
        if removed or added:
            with db.transact() as tx:
                for s, p, o in _tiramemsu_terms(removed):
                    tx.retract_matching(s, p, o)
                for s, p, o in _tiramemsu_terms(added):
                    tx.assert_(s, p, o)
            assert tx.report is not None
            txs.append(tx.report.t)
        else:
            txs.append(txs[-1] if txs else 0)  # an identical release: nothing to commit
        steps.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    counts = []
    for t in txs:
        result: Any = db.as_of(tx=t).sparql("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
        counts.append(int(next(iter(result))["n"]))
    commits = len(set(txs))
    del db
    gc.collect()
    return {"seconds": total, "steps": steps, "bytes": dir_bytes(folder), "counts": counts,
            "commits": commits}


IMPORTS: dict[str, Callable[[Path, list[dict[str, Any]], Path], dict[str, Any]]] = {
    "palimpsest": import_palimpsest,
    "oxilite": import_oxilite,
    "tiramemsu": import_tiramemsu,
}


# -- palimpsest's store figures -------------------------------------------------------------


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _timed(action: Callable[[int], object], runs: int) -> list[float]:
    out = []
    gc.disable()
    try:
        for i in range(runs):
            t0 = time.perf_counter()
            action(i)
            out.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return out


def store_figures(data: Path, items: list[dict[str, Any]], folder: Path,
                  ops: int) -> dict[str, Any]:
    """kv.set/get against plain SQLite, and hot/cold view.entity() on schema.org."""
    import sqlite3

    import palimpsest
    from palimpsest.io import import_graph
    from palimpsest.io.rdf import parse_rdf

    out: dict[str, Any] = {}
    # kv: single-key durable commits, then reads at the head
    repo = palimpsest.open(str(folder / "kv.db"), author="bench")
    kv = repo.kv
    for i in range(20):  # warm-up
        kv.set(f"/warm/{i}", b"x")
    t0 = time.perf_counter()
    for i in range(ops):
        kv.set(f"/bench/k{i % 200}", b"value %d" % i)
    out["kv_set_per_s"] = ops / (time.perf_counter() - t0)
    gets = _timed(lambda i: kv.get(f"/bench/k{i % 200}"), ops)
    out["kv_get_us"] = [_pct(gets, 0.5) * 1e6, _pct(gets, 0.95) * 1e6]
    repo.close()

    conn = sqlite3.connect(folder / "floor.db", isolation_level=None)
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"):
        conn.execute(pragma).fetchall()
    conn.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
    upsert = ("INSERT INTO kv (key, value) VALUES (?, ?) "
              "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
    t0 = time.perf_counter()
    for i in range(ops):
        conn.execute("BEGIN")
        conn.execute(upsert, (f"/bench/k{i % 200}", b"value %d" % i))
        conn.execute("COMMIT")
    out["floor_set_per_s"] = ops / (time.perf_counter() - t0)
    select = "SELECT value FROM kv WHERE key = ?"
    gets = _timed(lambda i: conn.execute(select, (f"/bench/k{i % 200}",)).fetchone(), ops)
    out["floor_get_us"] = [_pct(gets, 0.5) * 1e6, _pct(gets, 0.95) * 1e6]
    conn.close()

    # view.entity() on schema.org: import the releases, then read past versions
    db = folder / "schemaorg.db"
    repo = palimpsest.open(str(db), author=AUTHOR)
    for item in items:
        graph = parse_rdf(release_path(data, item))
        commit = import_graph(repo, graph, message=f"schema.org {item['version']}").commit
        assert commit is not None
        repo.tag(str(item["version"]), commit.id, force=True)
    tags = [str(item["version"]) for item in items]
    ids = [e.id for e in repo.head().entities()]
    repo.close()
    rng = random.Random(15)
    draws = [(rng.choice(tags), rng.choice(ids)) for _ in range(max(ops, 200))]
    repo = palimpsest.open(str(db))
    views = {t: repo.at(t) for t in tags}
    for tag, eid in draws[:50]:  # warm-up
        views[tag].entity(eid)
    hot = _timed(lambda i: views[draws[i][0]].entity(draws[i][1]), len(draws))
    repo.close()
    cold = []
    for tag, eid in draws[:40]:
        fresh = palimpsest.open(str(db))
        view = fresh.at(tag)
        t0 = time.perf_counter()
        view.entity(eid)
        cold.append(time.perf_counter() - t0)
        fresh.close()
    out["entity_hot_us"] = [_pct(hot, 0.5) * 1e6, _pct(hot, 0.95) * 1e6]
    out["entity_cold_us"] = [_pct(cold, 0.5) * 1e6, _pct(cold, 0.95) * 1e6]
    return out


# -- driver ---------------------------------------------------------------------------------


def worker(name: str, data: Path, count: int | None, ops: int) -> dict[str, Any]:
    items = releases(data, count)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix=f"bench-schemaorg-{name}-") as tmp:
        if name == "store":
            result = store_figures(data, items, Path(tmp), ops)
        else:
            result = IMPORTS[name](data, items, Path(tmp))
    result["load"] = [load, os.getloadavg()[0]]
    return result


def _spawn(name: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.bench_schemaorg", "--worker", name,
           "--data", str(args.data), "--out", str(out), "--kv-ops", str(args.kv_ops)]
    if args.releases:
        cmd += ["--releases", str(args.releases)]
    proc = subprocess.run(cmd, cwd=ROOT, check=False)
    if proc.returncode != 0 or not out.exists():
        return {"error": f"worker exited with code {proc.returncode}"}
    return dict(json.loads(out.read_text()))


def _synthetic(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Storage per commit and commit latency over plain SQLite, from the main suite (small)."""
    from benchmarks.__main__ import _run_worker

    ns = argparse.Namespace(seed=42, samples=None)
    return {name: _run_worker(name, "small", ns, tmp / f"synthetic-{name}.json")
            for name in ("palimpsest", "plain_sqlite")}


def render(items: list[dict[str, Any]], distinct: int, results: dict[str, dict[str, Any]],
           store: dict[str, Any] | None, synthetic: dict[str, Any] | None) -> tuple[str, bool]:
    """The printed report, and whether every check passed."""
    expected = [int(item["triples"]) for item in items]
    lines = [f"schema.org versioned import: {len(items)} releases "
             f"({items[0]['version']} … {items[-1]['version']}), {sum(expected):,} triples in "
             f"all, {distinct:,} distinct; one commit per release"]
    ours = results.get("palimpsest", {})
    rows = [["system", "import s", "slowest s", "palimpsest ÷", "MB",
             "B / distinct triple", "commits", "checks"]]
    ok = True
    for name, r in results.items():
        if "error" in r:
            rows.append([name, "error", "", "", "", "", "", r["error"]])
            ok = False
            continue
        wrong = [(item["version"], got, want) for item, got, want
                 in zip(items, r["counts"], expected, strict=True) if got != want]
        ok = ok and not wrong
        check = "ok" if not wrong else "WRONG " + ", ".join(
            f"{v}: {g} not {w}" for v, g, w in wrong[:3])
        ratio = ("" if name == "palimpsest" or "seconds" not in ours
                 else f"{ours['seconds'] / r['seconds']:.2f}x")
        rows.append([name, f"{r['seconds']:.1f}", f"{max(r['steps']):.2f}", ratio, f"{r['bytes'] / 1e6:.1f}", f"{r['bytes'] / distinct:,.0f}",
                     str(r["commits"]), check])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w) if j < 7 else c
                               for j, (c, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("(palimpsest ÷: palimpsest's import time over the system's, below 1x = "
                 "palimpsest faster; "
                 "checks: triples of every release as of its commit = the manifest's)")
    if store is not None:
        lines.append("")
        if "error" in store:
            lines.append(f"palimpsest store figures: error: {store['error']}")
        else:
            s = store
            lines += [
                "palimpsest store figures (plain SQLite as the floor where it has one)",
                f"  kv.set durable commits/s     {s['kv_set_per_s']:>10,.0f}   plain SQLite "
                f"upsert+commit {s['floor_set_per_s']:,.0f}/s "
                f"(palimpsest at {s['kv_set_per_s'] / s['floor_set_per_s']:.2f}x its rate)",
                f"  kv.get hot p50 / p95 µs      {s['kv_get_us'][0]:>6.1f} / {s['kv_get_us'][1]:.1f}"
                f"   plain SQLite select {s['floor_get_us'][0]:.1f} / {s['floor_get_us'][1]:.1f}",
                f"  view.entity() hot p50 / p95 µs   {s['entity_hot_us'][0]:.1f} / "
                f"{s['entity_hot_us'][1]:.1f}   (schema.org, random release and id)",
                f"  view.entity() cold p50 / p95 µs  {s['entity_cold_us'][0]:.1f} / "
                f"{s['entity_cold_us'][1]:.1f}   (first read after opening the repository)",
            ]
    if synthetic is not None:
        mine = synthetic.get("palimpsest", {}).get("figures", {})
        floor = synthetic.get("plain_sqlite", {}).get("figures", {})
        if "storage" in mine and "commit" in mine and "commit" in floor:
            lines += [
                "synthetic workload (python -m benchmarks, size small)",
                f"  storage per commit of 5 mutations: {mine['storage']['value']:,.0f} B "
                f"(plain SQLite {floor.get('storage', {}).get('value', 0):,.0f} B)",
                f"  commit latency ÷ plain SQLite, p50 / p95: "
                f"{mine['commit']['p50'] / floor['commit']['p50']:.2f}x / "
                f"{mine['commit']['p95'] / floor['commit']['p95']:.2f}x",
            ]
    loads = [x for r in [*results.values(), store or {}] for x in r.get("load", [])]
    if loads and max(loads) > max(1.5, 0.75 * (os.cpu_count() or 1)):
        lines.append(f"WARNING: the machine was busy (1-minute load average up to "
                     f"{max(loads):.1f} on {os.cpu_count()} CPUs); times are unreliable")
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_schemaorg",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA, help="the schemaorg data folder")
    p.add_argument("--releases", type=int, help="only the first N releases (default: all)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help=f"systems to run (repeat or comma-separate): {', '.join(SYSTEMS)}")
    p.add_argument("--no-store", action="store_true", help="skip palimpsest's kv/entity figures")
    p.add_argument("--no-synthetic", action="store_true",
                   help="skip the synthetic workload's storage and commit ratio")
    p.add_argument("--kv-ops", type=int, default=2000, help="kv.set / kv.get operations")
    p.add_argument("--json", type=Path, help="also save the results as JSON")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not (args.data / "manifest.json").exists():
        print(f"no schema.org data at {args.data}; pass --data", file=sys.stderr)
        return 1
    if args.worker:
        result = worker(args.worker, args.data, args.releases, args.kv_ops)
        args.out.write_text(json.dumps(result))
        return 0
    names = [n for chunk in args.only or [] for n in chunk.split(",") if n] or list(SYSTEMS)
    unknown = set(names) - set(SYSTEMS)
    if unknown:
        p.error(f"unknown system(s): {', '.join(sorted(unknown))}")
    items = releases(args.data, args.releases)
    results: dict[str, dict[str, Any]] = {}
    store = synthetic = None
    with tempfile.TemporaryDirectory(prefix="bench-schemaorg-") as tmp:
        for name in names:
            print(f"[{name}] importing {len(items)} releases…", file=sys.stderr, flush=True)
            results[name] = _spawn(name, args, Path(tmp) / f"{name}.json")
        if not args.no_store:
            print("[store] kv and view.entity figures…", file=sys.stderr, flush=True)
            store = _spawn("store", args, Path(tmp) / "store.json")
        if not args.no_synthetic:
            synthetic = _synthetic(args, Path(tmp))
    text, ok = render(items, distinct_triples(args.data, items), results, store, synthetic)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"results": results, "store": store,
                                         "synthetic": synthetic}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
