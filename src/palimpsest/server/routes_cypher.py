"""openCypher read queries at any ref (docs/cypher.md): ``POST /api/cypher`` answers,
``POST /api/cypher/explain`` shows the SQL. A query that does not parse is 422
``query_syntax`` (with line and column), a construct palimpsest does not run (or a write) 422
``unsupported_query`` naming it, one that runs past ``max_query_seconds`` 422
``query_timeout``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .. import wire
from . import schemas
from .app import Caller, get_repo

router = APIRouter(prefix="/api")


def _limit(request: Request, timeout: float | None) -> float | None:
    most: float | None = request.app.state.config.max_query_seconds
    if timeout is None:
        return most
    return timeout if most is None else min(timeout, most)


@router.post("/cypher", response_model=schemas.CypherOut, operation_id="cypher")
def cypher(body: schemas.CypherIn, request: Request, principal: Caller) -> Any:
    """Answer an openCypher read query at a ref: columns and rows, each value tagged
    (``value``, ``entity``, ``relation`` or ``list``) so nodes never read as maps."""
    view = get_repo(request).at(body.ref)
    return wire.encode(view.cypher(body.query, body.params,
                                   timeout=_limit(request, body.timeout)))


@router.post("/cypher/explain", response_model=schemas.ExplainOut,
             operation_id="cypher_explain")
def cypher_explain(body: schemas.CypherIn, request: Request, principal: Caller) -> Any:
    """The SQL an openCypher query compiles to at a ref (``?`` placeholders)."""
    return {"sql": get_repo(request).at(body.ref).cypher_explain(body.query, body.params)}
