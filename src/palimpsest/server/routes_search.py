"""Routes for full-text and similarity search at any ref (docs/search.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .. import wire
from . import schemas
from .app import Caller, get_repo

router = APIRouter(prefix="/api")


@router.post("/search", response_model=list[schemas.SearchHitOut], operation_id="search")
def search(body: schemas.SearchIn, request: Request, principal: Caller) -> list[Any]:
    """Full-text search at a ref: every word, ``"phrase"`` and ``prefix*`` of ``query`` in
    the fields of the declared text indexes, best first, with highlights; 422
    ``query_error`` when no text index is declared or the query has no word."""
    repo = get_repo(request)
    view = repo.at(body.ref)
    with repo.database.deadline(request.app.state.config.max_query_seconds):
        found = view.search(body.query, type=body.type, kind=body.kind, where=body.where,
                            limit=body.limit, offset=body.offset)
    return [wire.encode(hit) for hit in found]


@router.post("/similar", response_model=list[schemas.SimilarHitOut], operation_id="similar")
def similar(body: schemas.SimilarIn, request: Request, principal: Caller) -> list[Any]:
    """The ``k`` elements nearest to ``vector`` at a ref (a declared vector index), nearest
    first: approximate at a branch head, exact in the past, with ``where`` or ``exact``."""
    repo = get_repo(request)
    view = repo.at(body.ref)
    with repo.database.deadline(request.app.state.config.max_query_seconds):
        found = view.similar(body.vector, body.k, type=body.type, property=body.property,
                             kind=body.kind, where=body.where, exact=body.exact)
    return [wire.encode(hit) for hit in found]
