"""The web UI's SPARQL page: a query's answer as table cells, IRIs linked to entity pages."""

from __future__ import annotations

from typing import Any

from ..errors import QueryError
from ..repository import Repository

MAX_ROWS = 1000


def _cell(term: Any, names: Any) -> dict[str, str | None]:
    if term is None:
        return {"text": "", "link": None}
    kind = type(term).__name__
    if kind == "NamedNode":
        return {"text": term.value, "link": names.compact(term.value)}
    if kind == "BlankNode":
        return {"text": "_:" + term.value, "link": None}
    text = term.value
    if term.language:
        text += "@" + term.language
    elif not term.datatype.value.endswith("#string"):
        text += " (" + term.datatype.value.rsplit("#", 1)[-1].rsplit("/", 1)[-1] + ")"
    return {"text": text, "link": None}


def answer_table(repo: Repository, query: str, ref: str | None,
                 seconds: float | None) -> dict[str, Any]:
    """The template context for ``query`` at ``ref``: ``answer`` (ASK), or ``variables`` and
    ``rows`` (SELECT; CONSTRUCT and DESCRIBE as subject, predicate, object), or ``error``."""
    out: dict[str, Any] = {"rows": None, "variables": [], "answer": None, "error": None,
                           "truncated": False}
    if not query.strip():
        return out
    from ..query.rdfnames import Names

    names = Names(None)
    try:
        with repo.database.deadline(seconds):
            answer = repo.at(ref).sparql(query)
    except QueryError as exc:
        out["error"] = str(exc)
        return out
    if isinstance(answer, bool):
        out["answer"] = answer
        return out
    if hasattr(answer, "variables"):
        out["variables"] = answer.variables
        rows = [list(s) for s in answer[:MAX_ROWS]]
    else:
        out["variables"] = ["subject", "predicate", "object"]
        rows = [[t.subject, t.predicate, t.object] for t in answer[:MAX_ROWS]]
    out["rows"] = [[_cell(t, names) for t in row] for row in rows]
    out["truncated"] = len(answer) > MAX_ROWS
    return out
