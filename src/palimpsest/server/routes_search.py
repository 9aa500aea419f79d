"""Routes for full-text and similarity search at any ref (docs/search.md)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request

from .. import wire
from . import auth, schemas
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


# -- declaring indexes (admins) -------------------------------------------------------------
@router.post("/text-indexes", operation_id="create_text_index")
def create_text_index(body: schemas.TextIndexIn, request: Request,
                      principal: Caller) -> dict[str, Any]:
    """Declare a full-text index on ``fields`` of an entity type or collection and index
    every stored version (admins)."""
    auth.require_role(principal, "admin", "declaring a text index")
    return wire.encode(get_repo(request).create_text_index(body.target, body.fields,
                                                           kind=body.kind))


@router.delete("/text-indexes", status_code=204, operation_id="drop_text_index")
def drop_text_index(request: Request, principal: Caller, target: str,
                    kind: Literal["document", "entity"] | None = None) -> None:
    """Drop a full-text index and its entries (admins)."""
    auth.require_role(principal, "admin", "dropping a text index")
    get_repo(request).drop_text_index(target, kind=kind)


@router.get("/text-indexes", operation_id="text_indexes")
def text_indexes(request: Request, principal: Caller) -> list[dict[str, Any]]:
    """The declared full-text indexes."""
    return [wire.encode(i) for i in get_repo(request).text_indexes()]


@router.post("/vector-indexes", operation_id="create_vector_index")
def create_vector_index(body: schemas.VectorIndexIn, request: Request,
                        principal: Caller) -> dict[str, Any]:
    """Declare that ``property`` of an entity type or collection holds vectors (admins)."""
    auth.require_role(principal, "admin", "declaring a vector index")
    return wire.encode(get_repo(request).create_vector_index(
        body.target, body.property, dimensions=body.dimensions, metric=body.metric,
        kind=body.kind))


@router.delete("/vector-indexes", status_code=204, operation_id="drop_vector_index")
def drop_vector_index(request: Request, principal: Caller, target: str,
                      property: str = "embedding",
                      kind: Literal["document", "entity"] | None = None) -> None:
    """Drop a vector index and its entries (admins)."""
    auth.require_role(principal, "admin", "dropping a vector index")
    get_repo(request).drop_vector_index(target, property, kind=kind)


@router.get("/vector-indexes", operation_id="vector_indexes")
def vector_indexes(request: Request, principal: Caller) -> list[dict[str, Any]]:
    """The declared vector indexes."""
    return [wire.encode(i) for i in get_repo(request).vector_indexes()]
