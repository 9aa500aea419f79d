"""Approximate nearest neighbours at the head of a branch: an in-memory HNSW index (usearch).

One index per (vector index, line), built from the visible vectors when the first similarity
search reaches the head of that line, in a background thread: that search, and every one until
the index is ready, is answered by the exact scan (the same answer, only slower), so no query
waits for a build (a minute for 100,000 × 384 on a loaded machine). Once built it is kept
current: a later search at a newer head of the same line first applies the rows that line
gained since (a put replaces the element's vector, a delete or retype removes it). Lines never change below their head, so nothing else can make
it stale — except erasure and gc, which bump the index's ``generation`` in the registry; a
different generation rebuilds. A search in the past (below the index's position) returns None
and the caller scans exactly. The index lives in this process only (rebuilt after a restart:
the build time is in the benchmark).

usearch was chosen over hnswlib (source-only on PyPI: needs a compiler) and sqlite-vec (exact
scans only, and SQLite only): it ships wheels, removes and re-adds keys, and runs the same on
both backends.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..errors import QueryError
from ..storage.base import Database
from ..storage.fulltext import same_row
from ..storage.visibility import Chain
from ..versioning.search_index import Declared
from .vectors import distances, numpy, visible_vectors

_METRICS = {"cosine": "cos", "l2": "l2sq", "dot": "ip"}
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 128
"""HNSW's search breadth: higher finds more of the true nearest (slower); read per query."""
MIN_SIZE = 256
"""Below this many vectors an exact scan is as fast: no index is built."""
PER_DATABASE = 8
"""Approximate indexes kept per database handle (least recently used are dropped)."""
BACKGROUND = True
"""Build in a background thread (searches scan exactly meanwhile); False builds inside the
search that needs the index (it then waits for the build)."""


@dataclass
class _Ann:
    generation: int
    line: int
    bound: int
    index: Any
    labels: dict[str, int] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)
    next_label: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_CACHE: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[str, int], _Ann]] = \
    weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()
_BUILDS: weakref.WeakKeyDictionary[Any, dict[tuple[str, int], threading.Thread]] = \
    weakref.WeakKeyDictionary()
"""The background builds running, per database and (vector index, line)."""
_SMALL: weakref.WeakKeyDictionary[Any, dict[tuple[str, int], tuple[int, int]]] = \
    weakref.WeakKeyDictionary()
"""(generation, bound) at which a line held fewer than MIN_SIZE vectors: not rebuilt (nor
recounted) until the line moves or the generation changes."""


def _usearch() -> Any:
    try:
        from usearch.index import Index
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise QueryError("approximate similarity search needs usearch: pip install "
                         "'palimpsest[search]' (or pass exact=True)") from None
    return Index


def _line_head(db: Database, line: int) -> int | None:
    row = db.one("SELECT coalesce(head_seq, fork_seq) FROM lines WHERE id = ?", (line,))
    return None if row is None or row[0] is None else int(row[0])


def search(db: Database, d: Declared, chain: Chain, q: Any, k: int
           ) -> list[tuple[str, float]] | None:
    """The ``k`` nearest (key, distance) at the chain's state through the approximate index
    of its line, or None when the chain is not at or after the index's position (the past)
    or the set is small: the caller scans exactly."""
    line, bound = chain[0]
    with _CACHE_LOCK:
        per_db = _CACHE.setdefault(db, OrderedDict())
        entry = per_db.get((d.name, line))
        if entry is not None:
            per_db.move_to_end((d.name, line))
    if entry is None or entry.generation != d.generation or entry.bound > bound:
        if _line_head(db, line) != bound:
            return None  # the past: exact
        if BACKGROUND:
            _start_build(db, d, chain)
            return None  # exact until the index is ready
        entry = _build(db, d, chain)
        if entry is None:
            return None
        _keep(db, d, entry)
    with entry.lock:
        if entry.bound < bound:
            _catch_up(db, d, entry, bound)
        return _query(entry, q, k, d.spec["metric"])


def _keep(db: Database, d: Declared, entry: _Ann) -> None:
    with _CACHE_LOCK:
        per_db = _CACHE.setdefault(db, OrderedDict())
        old = per_db.get((d.name, entry.line))
        if old is not None and old.generation == entry.generation and old.bound >= entry.bound:
            return  # a build that started earlier or caught up further is as good
        per_db[(d.name, entry.line)] = entry
        while len(per_db) > PER_DATABASE:
            per_db.popitem(last=False)


def _start_build(db: Database, d: Declared, chain: Chain) -> None:
    """Start building the index of ``d`` on the chain's line in a background thread, unless
    one is running or the line was too small at this very state."""
    key, state = (d.name, chain[0][0]), (d.generation, chain[0][1])
    with _CACHE_LOCK:
        running = _BUILDS.setdefault(db, {})
        found = running.get(key)
        if (found is not None and found.is_alive()) or _SMALL.get(db, {}).get(key) == state:
            return

        def build() -> None:
            try:
                entry = _build(db, d, chain)
            except Exception:  # the handle closed, the index dropped...: searches go on
                return         # scanning exactly, and a later one retries
            if entry is not None:
                _keep(db, d, entry)
            else:
                with _CACHE_LOCK:
                    _SMALL.setdefault(db, {})[key] = state

        thread = threading.Thread(target=build, name=f"palimpsest-ann-{d.name}", daemon=True)
        running[key] = thread
        thread.start()


def wait(db: Database, timeout: float | None = None) -> bool:
    """Wait for this database's background builds to finish; False if one is still running
    after ``timeout`` seconds (tests, benchmarks)."""
    with _CACHE_LOCK:
        threads = list(_BUILDS.get(db, {}).values())
    for thread in threads:
        thread.join(timeout)
    return not any(t.is_alive() for t in threads)


def ready(db: Database) -> dict[tuple[str, int], int]:
    """The approximate indexes ready for this database: ``{(index name, line): vectors}``."""
    with _CACHE_LOCK:
        return {key: len(entry.keys) for key, entry in _CACHE.get(db, {}).items()}


def _build(db: Database, d: Declared, chain: Chain) -> _Ann | None:
    np = numpy()
    keys, matrix = visible_vectors(db, chain, d)
    if len(keys) < MIN_SIZE:
        return None
    index = _usearch()(ndim=int(d.spec["dimensions"]), metric=_METRICS[d.spec["metric"]],
                       dtype="f32", connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD,
                       expansion_search=EXPANSION_SEARCH)
    entry = _Ann(d.generation, chain[0][0], chain[0][1], index)
    labels = np.arange(len(keys), dtype=np.uint64)
    if len(keys):
        index.add(labels, np.ascontiguousarray(matrix))
    entry.labels = {key: i for i, key in enumerate(keys)}
    entry.keys = dict(enumerate(keys))
    entry.next_label = len(keys)
    return entry


def _catch_up(db: Database, d: Declared, entry: _Ann, bound: int) -> None:
    """Apply the rows the line gained in (entry.bound, bound]: the latest row of each key."""
    np = numpy()
    latest: dict[str, tuple[bool, Any]] = {}
    for key, type_, op, vec in db.all(
            f"SELECT r.key, r.type, r.op, v.vec FROM rows r LEFT JOIN {d.table} v ON "
            f"{same_row('v', 'r')} WHERE r.line = ? AND r.seq > ? AND r.seq <= ? "
            "AND r.kind = ? ORDER BY r.seq", (entry.line, entry.bound, bound, d.kind)):
        live = op == 1 and type_ == d.type and vec is not None
        latest[str(key)] = (live, vec)
    for key, (live, vec) in latest.items():
        old = entry.labels.pop(key, None)
        if old is not None:
            entry.index.remove(old)
            del entry.keys[old]
        if live:
            label = entry.next_label
            entry.next_label += 1
            entry.index.add(label, np.frombuffer(bytes(vec), dtype="<f4"))
            entry.labels[key] = label
            entry.keys[label] = key
    entry.bound = bound


def _query(entry: _Ann, q: Any, k: int, metric: str) -> list[tuple[str, float]]:
    np = numpy()
    size = len(entry.keys)
    if not size:
        return []
    count = min(size, max(2 * k, k + 16))
    if entry.index.expansion_search != EXPANSION_SEARCH:
        entry.index.expansion_search = EXPANSION_SEARCH
    matches = entry.index.search(q.astype(np.float32), count)
    labels = [int(x) for x in matches.keys if int(x) in entry.keys]
    if not labels:
        return []
    vectors = np.asarray(entry.index.get(np.asarray(labels, dtype=np.uint64)))
    dist = distances(vectors.reshape(len(labels), -1), q, metric)
    ranked = sorted((float(dist[i]), entry.keys[label]) for i, label in enumerate(labels))
    return [(key, value) for value, key in ranked[:k]]


def forget(db: Database) -> None:
    """Drop this database's approximate indexes (tests, benchmarks); builds still running
    are waited for first, so none lands afterwards."""
    wait(db)
    with _CACHE_LOCK:
        _CACHE.pop(db, None)
        _SMALL.pop(db, None)
