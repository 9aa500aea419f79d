"""Routes for schemas (docs/schemas.md): read them at any ref, set and drop them by commits.

A schema is a document of the ``_schemas`` collection; setting one is a write like any other
(the caller needs the right to commit to the branch). A commit that breaks a schema answers
422 ``schema_violation`` with the violations in ``error.violations``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response

from .. import wire
from ..errors import NotFound
from ..models import schemas as schema_rules
from ..types import Schema
from . import schemas
from .app import Caller, RefParam, get_repo
from .routes_api import _delete_options, _written

router = APIRouter(prefix="/api")

Kind = Literal["entity", "relation", "collection"]


@router.get("/schemas", response_model=list[schemas.SchemaOut], operation_id="schemas")
def list_schemas(request: Request, principal: Caller, ref: RefParam = None
                 ) -> list[dict[str, Any]]:
    """Every schema at a ref, by kind and target."""
    return [wire.encode(s) for s in get_repo(request).schemas(ref)]


@router.get("/schemas/{kind}/{target:path}", response_model=schemas.SchemaOut,
            operation_id="schema")
def get_schema(kind: Kind, target: str, request: Request, principal: Caller,
               ref: RefParam = None) -> dict[str, Any]:
    """The schema of one entity type, relation type or collection at a ref (404: none)."""
    found = get_repo(request).schema(target, kind=kind, ref=ref)
    if found is None:
        raise NotFound(f"{kind} {target!r} has no schema at {ref or 'the current branch'}")
    return wire.encode(found)


@router.put("/schemas/{kind}/{target:path}", response_model=schemas.CommitOut,
            operation_id="set_schema")
def set_schema(kind: Kind, target: str, body: schemas.SetSchemaIn, request: Request,
               principal: Caller) -> Response:
    """Set a schema in a commit; 422 ``schema_violation`` when the data breaks it."""
    value = schema_rules.to_document(Schema(kind, target, body.json_schema, body.source_types,
                                            body.target_types, body.max_per_source,
                                            list(body.unique)))
    key = schema_rules.schema_key(kind, target)
    return _written(request, principal, body, f"Set schema of {kind} {target}",
                    lambda tx: tx.put_document(schema_rules.COLLECTION, key, value))


@router.delete("/schemas/{kind}/{target:path}", response_model=schemas.CommitOut,
               operation_id="drop_schema")
def drop_schema(kind: Kind, target: str, request: Request, principal: Caller,
                message: str | None = None, branch: str | None = None,
                author: str | None = None) -> Response:
    """Remove a schema in a commit (404 when there is none)."""
    key = schema_rules.schema_key(kind, target)

    def drop(tx: Any) -> None:
        if tx.document(schema_rules.COLLECTION, key) is None:
            raise NotFound(f"{kind} {target!r} has no schema; see GET /api/schemas")
        tx.delete_document(schema_rules.COLLECTION, key)

    return _written(request, principal, _delete_options(message, branch, author),
                    f"Drop schema of {kind} {target}", drop)
