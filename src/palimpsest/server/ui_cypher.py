"""The web UI's Cypher page: a query's answer as table cells, nodes linked to entity pages."""

from __future__ import annotations

from typing import Any

from ..errors import QueryError
from ..repository import Repository
from ..types import Entity, Relation
from .ui_sparql import MAX_ROWS


def _text(value: Any) -> str:
    import orjson

    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _cell(value: Any) -> list[dict[str, str | None]]:
    """A value as pieces of text, each with the entity it links to (or None)."""
    if value is None:
        return [{"text": "", "link": None}]
    if isinstance(value, Entity):
        return [{"text": f"({value.id}:{value.type})", "link": value.id},
                {"text": " " + _text(value.props) if value.props else "", "link": None}]
    if isinstance(value, Relation):
        return [{"text": f"[{value.id}:{value.type}] ", "link": None},
                {"text": value.source, "link": value.source}, {"text": " → ", "link": None},
                {"text": value.target, "link": value.target}]
    if isinstance(value, list) and any(isinstance(v, Entity | Relation) for v in value):
        out: list[dict[str, str | None]] = [{"text": "[", "link": None}]
        for i, v in enumerate(value):
            if i:
                out.append({"text": ", ", "link": None})
            out += _cell(v)
        return [*out, {"text": "]", "link": None}]
    return [{"text": _text(value), "link": None}]


def answer_table(repo: Repository, query: str, ref: str | None,
                 seconds: float | None) -> dict[str, Any]:
    """The template context for ``query`` at ``ref``: ``columns`` and ``rows``, or
    ``error``."""
    out: dict[str, Any] = {"rows": None, "columns": [], "error": None, "truncated": False}
    if not query.strip():
        return out
    try:
        answer = repo.at(ref).cypher(query, timeout=seconds)
    except QueryError as exc:
        out["error"] = str(exc)
        return out
    out["columns"] = list(answer.columns)
    out["rows"] = [[_cell(v) for v in row] for row in answer.rows[:MAX_ROWS]]
    out["truncated"] = len(answer.rows) > MAX_ROWS
    return out
