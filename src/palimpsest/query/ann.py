"""Approximate nearest neighbours at the head of a branch: an in-memory HNSW index (usearch).

One index per (vector index, line), built on the first similarity search at the head of that
line from the visible vectors, then kept current: a later search at a newer head of the same
line first applies the rows that line gained since (a put replaces the element's vector, a
delete or retype removes it). Lines never change below their head, so nothing else can make
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
        entry = _build(db, d, chain)
        if entry is None:
            return None
        with _CACHE_LOCK:
            per_db[(d.name, line)] = entry
            while len(per_db) > PER_DATABASE:
                per_db.popitem(last=False)
    with entry.lock:
        if entry.bound < bound:
            _catch_up(db, d, entry, bound)
        return _query(entry, q, k, d.spec["metric"])


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
    """Drop this database's approximate indexes (tests, benchmarks)."""
    with _CACHE_LOCK:
        _CACHE.pop(db, None)
