"""Full-text and similarity search at any state (docs/search.md).

Indexes hold one entry per row version (``versioning/search_index.py``). A search at a view
finds candidate entries in the index — every version that matches — joins them to ``rows`` on
the row identity and keeps those the visibility rule shows at the view's chain: the element's
*current* version there. So one index answers for the head, every past commit and every
branch, with the same rule as every other read.

Similarity search is exact at any state (the visible vectors, scored with numpy) and, at the
head of a branch without a ``where`` filter, approximate through an in-memory HNSW index
(``query/ann.py``) kept current from the commits that land on the branch's line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import QueryError
from ..storage.base import Database
from ..storage.fulltext import TextQuery, parse_query, same_row, token_spans
from ..storage.visibility import COLUMNS, Chain, StoredRow, read_rows, visible
from ..types import Document, Entity, SearchHit, SimilarHit
from ..versioning import search_index as registry
from ..versioning.elements import to_value
from ..versioning.search_index import TEXT, VECTOR, Declared
from . import ann
from .filters import Filter
from .target import ELEMENT_KINDS
from .vectors import distances, nearest, query_vector, visible_vectors, where_sql

MARK = ("<mark>", "</mark>")
SNIPPET = 240


def _check_limit(name: str, value: object, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise QueryError(f"{name}: an integer from 0 to 2**31 - 1, not {value!r}")


def pick(db: Database, mode: str, type_: str | None, kind: str | None,
         prop: str | None = None) -> list[Declared]:
    """The declared indexes a search uses: of ``type_`` (every one when None), of that
    ``kind`` ("entity" / "document") and vector ``prop``."""
    if kind is not None and kind not in ELEMENT_KINDS:
        raise QueryError(f"kind: must be 'document' or 'entity', not {kind!r}")
    found = [d for d in registry.declared(db, mode)
             if (type_ is None or d.type == type_)
             and (kind is None or d.kind == ELEMENT_KINDS[kind])
             and (prop is None or d.spec.get("property") == prop)]
    if not found:
        what = "text" if mode == TEXT else "vector"
        on = f" on {type_!r}" if type_ is not None else ""
        how = ("repo.create_text_index(type, fields=[...])" if mode == TEXT
               else "repo.create_vector_index(type, property=..., dimensions=...)")
        raise QueryError(f"no {what} index{on}; declare one with {how}")
    return found


# -- full text ---------------------------------------------------------------------------------
def text(db: Database, chain: Chain, query: str, *, type_: str | None = None,
         kind: str | None = None, where: Filter | Mapping[str, Any] | None = None,
         limit: int | None = 10, offset: int = 0) -> list[SearchHit]:
    """Elements whose indexed fields hold every word, phrase and prefix of ``query`` at the
    chain's state, best first (ties by key)."""
    if not isinstance(query, str):
        raise QueryError(f"query: text to search for, not {type(query).__name__}")
    _check_limit("limit", limit, True)
    _check_limit("offset", offset, False)
    parsed = parse_query(query)
    if not parsed.phrases:
        raise QueryError(f"query {query!r} has no word to search for (words are runs of "
                         "letters and digits)")
    indexes = pick(db, TEXT, type_, kind)
    want = None if limit is None else limit + offset
    found: list[tuple[float, str, str, StoredRow, Declared]] = []
    for d in indexes:
        match_sql, params = db.dialect.fulltext.matches(d.table, parsed)
        vis, vis_params = visible(chain, d.kind)
        extra, extra_params = where_sql(db, d, where)
        sql = (f"SELECT m.score, {COLUMNS} FROM ({match_sql}) m JOIN rows r ON "
               f"{same_row('m', 'r')} WHERE r.op = 1 AND {vis}{extra} "
               "ORDER BY m.score DESC, r.key")
        args = [*params, *vis_params, *extra_params]
        if want is not None:
            sql += " LIMIT ?"
            args.append(want)
        for score, *raw in db.all(sql, args):
            row = StoredRow(*raw)
            found.append((-float(score), row.kind, row.key, row, d))
    found.sort(key=lambda hit: hit[:3])
    page = found[offset:] if want is None else found[offset:want]
    out = []
    for neg, _, _, row, d in page:
        value = to_value(row)
        assert isinstance(value, Entity | Document)
        out.append(SearchHit(value, -neg or 0.0, highlights(value, d, parsed)))
    return out


def _marked(text: str, query: TextQuery) -> str | None:
    exact = {t for p in query.phrases for t in (p.tokens if not p.prefix else p.tokens[:-1])}
    prefixes = tuple(p.tokens[-1] for p in query.phrases if p.prefix)
    spans = [(a, b) for a, b, tok in token_spans(text)
             if tok in exact or (prefixes and tok.startswith(prefixes))]
    if not spans:
        return None
    start, end = 0, len(text)
    if len(text) > SNIPPET:
        start = max(0, spans[0][0] - SNIPPET // 3)
        end = min(len(text), start + SNIPPET)
    out, at = [], start
    for a, b in spans:
        if a < start or b > end:
            continue
        out += [text[at:a], MARK[0], text[a:b], MARK[1]]
        at = b
    out.append(text[at:end])
    return ("…" if start else "") + "".join(out) + ("…" if end < len(text) else "")


def highlights(element: Entity | Document, d: Declared, query: TextQuery) -> dict[str, str]:
    """Per indexed field with a match: its text with the matching tokens marked."""
    value = element.props if isinstance(element, Entity) else element.value
    out: dict[str, str] = {}
    for name, path in zip(d.spec["fields"], d.fields, strict=True):
        found = registry.lookup_path(value, path)
        texts = [t for t in registry.strings(found)]
        marked = [m for m in (_marked(t, query) for t in texts) if m is not None]
        if marked:
            out[name] = " … ".join(marked)
    return out


# -- vectors ---------------------------------------------------------------------------------
def similar(db: Database, chain: Chain, vector: object, *, k: int = 10,
            type_: str | None = None, kind: str | None = None, prop: str | None = None,
            where: Filter | Mapping[str, Any] | None = None, exact: bool = False
            ) -> list[SimilarHit]:
    """The ``k`` elements nearest to ``vector`` at the chain's state."""
    _check_limit("k", k, False)
    indexes = pick(db, VECTOR, type_, kind, prop)
    if len(indexes) > 1:
        names = ", ".join(f"{d.type}.{d.spec['property']}" for d in indexes)
        raise QueryError(f"several vector indexes match ({names}); name one with type= "
                         "(and property=)")
    d = indexes[0]
    q = query_vector(vector, d)
    found: list[tuple[str, float]] | None = None
    if not exact and where is None and k:
        found = ann.search(db, d, chain, q, k)
    if found is None:
        keys, matrix = visible_vectors(db, chain, d, where)
        found = nearest(keys, distances(matrix, q, d.spec["metric"]), k)
    rows = read_rows(db, chain, d.kind, [key for key, _ in found])
    out = []
    for key, dist in found:
        value = to_value(rows.get(key))
        if isinstance(value, Entity | Document):
            out.append(SimilarHit(value, dist))
    return out
