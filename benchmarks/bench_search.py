"""Search benchmark: full-text and vector similarity at the head and at a past ref.

    python -m benchmarks.bench_search --size tiny|small|full [--db PATH_OR_URL]

Workload: N entities of type ``Chunk`` with ~30 words of text (Zipf-distributed over a
vocabulary) and a D-dimension embedding (clustered around 100 topics, as text embeddings are), loaded in commits of 1,000; the past ref is the
state after half of them; then 10% of the chunks get new text and vectors. ``full`` is the
issue's size (100,000 × 384); ``small`` (20,000 × 384) and ``tiny`` (2,000 × 32, for tests)
run in seconds to minutes.

Figures: load time; index build time (declaring an index backfills every stored version);
index size; full-text latency p50/p95 at head and in the past, with brute force (a scan of
``view.entities`` with the same matching in Python) as the baseline; exact vector search
p50/p95 at head and in the past; the first query at head before the approximate (HNSW) index
exists (answered exactly while the index builds in the background), the background build time,
the index's p50/p95 at head and its recall@10 against exact. Every search answer is checked against the
brute force it is compared with.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import palimpsest
from benchmarks.report import print_figures
from palimpsest.query import ann

SIZES = {"tiny": (2_000, 32), "small": (20_000, 384), "full": (100_000, 384)}
BATCH = 1_000


def p50(samples: list[float]) -> float:
    return sorted(samples)[len(samples) // 2]


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def ms(samples: list[float]) -> str:
    return f"{p50(samples) * 1e3:.2f} / {p95(samples) * 1e3:.2f}"


class Workload:
    def __init__(self, n: int, dims: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n, self.dims = n, dims
        self.vocab = [self._word() for _ in range(5_000)]
        self.weights = [1 / (i + 1) for i in range(len(self.vocab))]

    def _word(self) -> str:
        return "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz")
                       for _ in range(self.rng.randint(3, 9)))

    def text(self) -> str:
        return " ".join(self.rng.choices(self.vocab, self.weights, k=30))

    def vector(self) -> list[float]:
        """Like text embeddings, vectors cluster (around 100 topics); isotropic random
        vectors in hundreds of dimensions are the worst case of every graph index (see
        docs/search.md for their recall)."""
        if not hasattr(self, "centers"):
            self.centers = [[self.rng.gauss(0, 1) for _ in range(self.dims)]
                            for _ in range(100)]
        center = self.rng.choice(self.centers)
        return [round(c + 0.5 * self.rng.gauss(0, 1), 4) for c in center]

    def props(self) -> dict[str, Any]:
        return {"text": self.text(), "embedding": self.vector()}


def load(repo: Any, wl: Workload) -> str:
    """Load the chunks; returns the id of the past ref (half loaded)."""
    past = ""
    for start in range(0, wl.n, BATCH):
        with repo.transaction(f"chunks {start}") as tx:
            for i in range(start, min(wl.n, start + BATCH)):
                tx.put_entity(f"c{i:06d}", "Chunk", wl.props())
        if start + BATCH >= wl.n // 2 and not past:
            past = repo.head().commit.id
    return past


def update(repo: Any, wl: Workload) -> None:
    chosen = wl.rng.sample(range(wl.n), wl.n // 10)
    for start in range(0, len(chosen), BATCH):
        with repo.transaction("edits") as tx:
            for i in chosen[start:start + BATCH]:
                tx.put_entity(f"c{i:06d}", "Chunk", wl.props())


def size_of(repo: Any) -> int:
    db = repo.database
    try:
        pages = db.one("PRAGMA page_count")
        size = db.one("PRAGMA page_size")
        return int(pages[0]) * int(size[0])
    except Exception:  # PostgreSQL
        row = db.one("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN "
                     "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
                     "current_schema() AND c.relkind = 'r'")
        return int(row[0] or 0)


def _tokens(text: str) -> list[str]:
    return [t.casefold() for t in re.findall(r"[^\W_]+", text)]


def brute_text(view: Any, words: list[str]) -> set[str]:
    return {e.id for e in view.entities("Chunk")
            if set(words) <= set(_tokens(e.props.get("text", "")))}


def brute_vector(view: Any, q: list[float], k: int) -> list[str]:
    import numpy as np
    ents = list(view.entities("Chunk"))
    matrix = np.asarray([e.props["embedding"] for e in ents], dtype=np.float64)
    qv = np.asarray(q)
    cos = matrix @ qv / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(qv))
    order = sorted(range(len(ents)), key=lambda i: (1 - cos[i], ents[i].id))
    return [ents[i].id for i in order[:k]]


def run(size: str, db: str | None, samples: int) -> list[tuple[str, str, str]]:
    n, dims = SIZES[size]
    wl = Workload(n, dims, 22)
    with tempfile.TemporaryDirectory() as tmp:
        repo = palimpsest.open(db or str(Path(tmp) / "search.db"), author="bench@example.com")
        rows: list[tuple[str, str, str]] = [("size", f"{n:,} chunks × {dims} dims", "")]
        seconds, past = timed(lambda: load(repo, wl))
        rows.append(("load (s)", f"{seconds:.1f}", ""))
        before = size_of(repo)
        seconds, _ = timed(lambda: repo.create_text_index("Chunk", fields=["text"]))
        rows.append(("text index build, backfill (s)", f"{seconds:.2f}", ""))
        middle = size_of(repo)
        seconds, _ = timed(lambda: repo.create_vector_index("Chunk", "embedding",
                                                            dimensions=dims))
        rows.append(("vector index build, backfill (s)", f"{seconds:.2f}", ""))
        after = size_of(repo)
        rows.append(("text index size (MB)", f"{(middle - before) / 1e6:.1f}", ""))
        rows.append(("vector index size (MB)", f"{(after - middle) / 1e6:.1f}", ""))
        seconds, _ = timed(lambda: update(repo, wl))
        rows.append((f"{n // 10:,} updates, indexes kept by the commit hook (s)",
                     f"{seconds:.1f}", ""))
        head, old = repo.head(), repo.at(past)
        rows += text_figures(wl, head, old, samples)
        rows += vector_figures(repo, wl, head, old, samples)
        repo.close()
    return rows


def text_figures(wl: Workload, head: Any, old: Any, samples: int
                 ) -> list[tuple[str, str, str]]:
    rows = []
    queries = [[wl.rng.choice(wl.vocab[20:400]), wl.rng.choice(wl.vocab[:50])]
               for _ in range(samples)]
    for label, view in (("head", head), ("past", old)):
        lat = []
        for words in queries:
            seconds, _ = timed(lambda v=view, w=words: v.search(" ".join(w), limit=10))
            lat.append(seconds)
        rows.append((f"full-text top-10 at {label} p50 / p95 (ms)", ms(lat), ""))
        brute = []
        for words in queries[:3]:
            seconds, expected = timed(lambda v=view, w=words: brute_text(v, w))
            brute.append(seconds)
            got = {h.element.id for h in view.search(" ".join(words), limit=None)}
            assert got == expected, ("full-text answer differs from brute force", words)
        rows.append((f"  brute force at {label} p50 (ms)", f"{p50(brute) * 1e3:.1f}", ""))
    return rows


def vector_figures(repo: Any, wl: Workload, head: Any, old: Any, samples: int
                   ) -> list[tuple[str, str, str]]:
    rows = []
    queries = [wl.vector() for _ in range(samples)]
    for label, view in (("head", head), ("past", old)):
        lat = [timed(lambda v=view, q=q: v.similar(q, 10, exact=True))[0] for q in queries]
        rows.append((f"exact top-10 at {label} p50 / p95 (ms)", ms(lat), ""))
        for q in queries[:2]:
            got = [h.element.id for h in view.similar(q, 10, exact=True)]
            assert got == brute_vector(view, q, 10), "exact answer differs from brute force"
    ann.forget(repo.database)
    started = time.perf_counter()
    seconds, _ = timed(lambda: head.similar(queries[0], 10))
    rows.append(("first query at head, index not built (ms; answered exactly, starts the "
                 "build)", f"{seconds * 1e3:.1f}", ""))
    during = []
    while not ann.ready(repo.database) and len(during) < min(samples, 5):  # few: they slow
        # the build they wait for
        during.append(timed(lambda: head.similar(queries[len(during) % len(queries)], 10))[0])
    if during:
        rows.append(("  queries while it builds p50 / p95 (ms; exact)", ms(during), ""))
    assert ann.wait(repo.database, 3600), "the approximate index did not build in an hour"
    rows.append(("approximate index build at head, background (s)",
                 f"{time.perf_counter() - started:.2f}", ""))
    lat, found = [], 0
    for q in queries:
        seconds, hits = timed(lambda q=q: head.similar(q, 10))
        lat.append(seconds)
        exact = {h.element.id for h in head.similar(q, 10, exact=True)}
        found += len(exact & {h.element.id for h in hits})
    rows.append(("approximate top-10 at head p50 / p95 (ms)", ms(lat), ""))
    recall = found / (10 * len(queries))
    rows.append(("approximate recall@10 vs exact", f"{recall:.3f}", ">= 0.95"))
    assert recall >= 0.9, f"recall@10 {recall:.3f}"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--db", help="SQLite file or postgresql:// URL (default: a temp file)")
    parser.add_argument("--samples", type=int, default=int(os.environ.get("SAMPLES", 30)))
    args = parser.parse_args()
    print_figures(run(args.size, args.db, args.samples))


if __name__ == "__main__":
    main()
