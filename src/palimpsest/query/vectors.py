"""Vectors at one state: reading the visible ones, distances, the exact nearest (numpy)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import QueryError
from ..storage.base import Database
from ..storage.fulltext import same_row
from ..storage.visibility import Chain, visible
from ..versioning.search_index import Declared
from .filters import Filter, to_filter
from .target import Target

if TYPE_CHECKING:
    import numpy as np


def numpy() -> Any:
    try:
        import numpy
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise QueryError("similarity search needs numpy: pip install 'palimpsest[search]'") \
            from None
    return numpy


def where_sql(db: Database, d: Declared, where: Filter | Mapping[str, Any] | None
              ) -> tuple[str, list[Any]]:
    """SQL narrowing a search to the elements matching ``where`` (as in ``View.query``)."""
    flt = to_filter(where)
    if flt is None:
        return "", []
    sql, params = Target(d.kind, d.type).compiler(db).filter(flt)
    return f" AND {sql}", params


def query_vector(vector: object, d: Declared) -> np.ndarray[Any, Any]:
    size = int(d.spec["dimensions"])
    if not isinstance(vector, Sequence) or isinstance(vector, str) or len(vector) != size \
            or not all(isinstance(x, int | float) and not isinstance(x, bool)
                       and math.isfinite(x) and abs(x) <= 3.4e38 for x in vector):
        raise QueryError(f"vector: give {size} finite numbers (the dimensions of the vector "
                         f"index on {d.type!r}.{d.spec['property']})")
    np = numpy()
    return np.asarray(vector, dtype=np.float64)  # type: ignore[no-any-return]


def distances(matrix: np.ndarray[Any, Any], q: np.ndarray[Any, Any], metric: str
              ) -> np.ndarray[Any, Any]:
    """Distance of each row of ``matrix`` to ``q`` (smaller is nearer), in float64."""
    np = numpy()
    m = matrix.astype(np.float64, copy=False)
    if metric == "l2":
        return np.sqrt(((m - q) ** 2).sum(axis=1))  # type: ignore[no-any-return]
    dots = m @ q
    if metric == "dot":
        return -dots  # type: ignore[no-any-return]
    norms = np.linalg.norm(m, axis=1) * float(np.linalg.norm(q))
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
    return 1.0 - cos  # type: ignore[no-any-return]


def visible_vectors(db: Database, chain: Chain, d: Declared,
                    where: Filter | Mapping[str, Any] | None = None
                    ) -> tuple[list[str], np.ndarray[Any, Any]]:
    """Keys and vectors (float32 matrix) of the elements visible at the chain."""
    np = numpy()
    vis, vis_params = visible(chain, d.kind)
    extra, extra_params = where_sql(db, d, where)
    rows = db.all(f"SELECT r.key, v.vec FROM {d.table} v JOIN rows r ON {same_row('v', 'r')} "
                  f"WHERE r.kind = ? AND r.type = ? AND r.op = 1 AND {vis}{extra}",
                  [d.kind, d.type, *vis_params, *extra_params])
    size = int(d.spec["dimensions"])
    keys = [str(r[0]) for r in rows]
    matrix = np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype="<f4")
    return keys, matrix.reshape(len(keys), size)


def nearest(keys: Sequence[str], dist: np.ndarray[Any, Any], k: int) -> list[tuple[str, float]]:
    """The ``k`` nearest (distance, then key)."""
    np = numpy()
    if k == 0 or not keys:
        return []
    if len(keys) > k:
        cut = np.partition(dist, k - 1)[k - 1]
        chosen = np.nonzero(dist <= cut)[0]
    else:
        chosen = np.arange(len(keys))
    ranked = sorted((float(dist[i]), keys[i]) for i in chosen)[:k]
    return [(key, d) for d, key in ranked]
