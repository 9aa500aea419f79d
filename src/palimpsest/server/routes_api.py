"""Routes for reading state (entities, relations, documents at any ref) and for writing
(a transaction: a batch of operations becomes one commit; one-operation shortcuts).

Operation ids are the names of the Python methods they mirror (``put_entity``, ``entities``…).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import sys
from collections.abc import Callable
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response

from .. import __version__, wire
from ..errors import Forbidden, InvalidValue, NotFound
from ..repository import Repository
from ..transaction import Transaction, retract_source
from ..types import Commit
from ..view import View
from . import auth, schemas
from .app import (
    ApiError,
    Caller,
    RefParam,
    ServerConfig,
    ValidAtParam,
    ValidBetweenParam,
    get_config,
    get_repo,
    narrowed,
)
from .auth import Principal
from .readsets import start_from

router = APIRouter(prefix="/api")

# Every route is a plain ``def``: FastAPI runs it in its worker thread pool, so a repository
# call that waits (a busy disk, another process's write lock, a long scan) never stalls the
# event loop, and other requests, watch streams included, keep being served.

MAX_PAGE = 10_000



def json_response(data: Any) -> Response:
    """Serialise a result directly (the route's response_model documents its shape): the
    hot routes skip FastAPI's response validation, which costs more than the read."""
    return Response(orjson.dumps(data), media_type="application/json")


def features(repo: Repository) -> list[str]:
    """Optional parts of the Repository API this server exposes."""
    names = ["graph", "documents", "history", "diff", "branches", "tags", "rollback", "revert",
             "watch"]
    names += [n for n in ("merge", "merge_preview", "cherry_pick", "kv", "query")
              if hasattr(repo, n)]
    return names


@router.get("", response_model=schemas.InfoOut, operation_id="info")
def info(request: Request, principal: Caller) -> dict[str, Any]:
    """Server version, current branch, whether auth is on, who you are, and the features."""
    repo = get_repo(request)
    return {"version": __version__, "current_branch": repo.current_branch,
            "auth": not get_config(request).no_auth, "user": principal.to_dict(),
            "features": features(repo)}


# -- writing ---------------------------------------------------------------------------------
def commit_with(request: Request, principal: Principal, options: schemas.CommitOptions,
                default_message: str, apply: Callable[[Transaction], object]) -> Commit:
    """Run ``apply`` in one transaction on the requested branch, authored by the caller."""
    repo, config = get_repo(request), get_config(request)
    branch = options.branch or repo.current_branch
    auth.require_commit(repo.database, principal, branch)
    author, metadata = attribution(config, principal, options.author, options.metadata)
    if options.timestamp is not None and not principal.is_admin:
        raise Forbidden("setting a commit timestamp (importing history) needs the admin role")
    with repo.transaction(options.message or default_message, author=author, metadata=metadata,
                          timestamp=options.timestamp, branch=branch) as tx:
        apply(tx)
    assert tx.commit is not None
    return tx.commit


def attribution(config: ServerConfig, principal: Principal, client_author: str | None,
                metadata: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The commit author is the token's user; a client-supplied author is kept as
    ``metadata.client_author`` (without auth, the client's author is used as is)."""
    meta = dict(metadata or {})
    if client_author is None:
        return principal.user, meta
    if config.no_auth:
        return client_author, meta
    if client_author != principal.user:
        meta["client_author"] = client_author
    return principal.user, meta


def kv_bytes(data: str) -> bytes:
    """A key-value value sent as base64."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidValue(f"'value' is not valid base64: {exc}") from exc


def apply_op(tx: Transaction, op: Any) -> None:
    kind = op.op
    if kind == "put_entity":
        tx.put_entity(op.id, op.type, op.props, valid_from=op.valid_from, valid_to=op.valid_to,
                      provenance=op.provenance)
    elif kind == "update_entity":
        tx.update_entity(op.id, op.props, type=op.type, valid_from=op.valid_from,
                         valid_to=op.valid_to, provenance=op.provenance)
    elif kind == "delete_entity":
        tx.delete_entity(op.id, provenance=op.provenance)
    elif kind == "put_relation":
        tx.put_relation(op.id, op.type, op.source, op.target, op.props,
                        valid_from=op.valid_from, valid_to=op.valid_to,
                        provenance=op.provenance)
    elif kind == "update_relation":
        tx.update_relation(op.id, op.props, valid_from=op.valid_from, valid_to=op.valid_to,
                           provenance=op.provenance)
    elif kind == "delete_relation":
        tx.delete_relation(op.id, provenance=op.provenance)
    elif kind == "put_document":
        tx.put_document(op.collection, op.key, op.value, provenance=op.provenance)
    elif kind == "delete_document":
        tx.delete_document(op.collection, op.key, provenance=op.provenance)
    elif kind == "kv_set":
        tx.kv.set(op.key, kv_bytes(op.value))
    elif kind == "kv_delete":
        tx.kv.delete(op.key)
    else:  # pragma: no cover - the schema admits only the kinds above
        raise InvalidValue(f"unknown operation {kind!r}")


@router.post("/transaction", response_model=schemas.CommitOut, operation_id="transaction")
def transaction(body: schemas.TransactionIn, request: Request,
                principal: Caller) -> dict[str, Any]:
    """Apply a batch of operations as one commit (all or nothing)."""
    config = get_config(request)
    if len(body.ops) > config.max_batch:
        raise ApiError(413, "batch_too_large", f"{len(body.ops)} operations exceed the "
                       f"server's limit of {config.max_batch} per transaction; split the batch")
    if not body.ops:
        raise InvalidValue("a transaction needs at least one operation")

    def apply(tx: Transaction) -> None:
        if body.reads is not None:  # checked against what it read, like an embedded one
            start_from(tx, get_repo(request), body.base, body.reads)
        for op in body.ops:
            apply_op(tx, op)

    return wire.encode(commit_with(request, principal, body, f"{len(body.ops)} changes", apply))


@router.post("/retract", response_model=schemas.CommitOut, operation_id="retract")
def retract(body: schemas.RetractIn, request: Request, principal: Caller) -> dict[str, Any]:
    """One commit deleting every element whose current version came from provenance
    ``source`` (docs/provenance.md)."""
    return wire.encode(commit_with(request, principal, body, f"Retract {body.source}",
                                   lambda tx: retract_source(tx, body.source)))


def _delete_options(message: str | None, branch: str | None,
                    author: str | None) -> schemas.CommitOptions:
    return schemas.CommitOptions(message=message, branch=branch, author=author)


def _written(request: Request, principal: Principal, options: schemas.CommitOptions,
             default_message: str, apply: Callable[[Transaction], object]) -> Response:
    return json_response(wire.encode(commit_with(request, principal, options,
                                                 default_message, apply)))


@router.put("/entities/{id:path}", response_model=schemas.CommitOut, operation_id="put_entity")
def put_entity(id: str, body: schemas.PutEntityIn, request: Request,
                     principal: Caller) -> Response:
    """Create or replace one entity in its own commit."""
    return _written(request, principal, body, f"Put entity {id}",
                    lambda tx: tx.put_entity(id, body.type, body.props,
                                             valid_from=body.valid_from,
                                             valid_to=body.valid_to,
                                             provenance=body.provenance))


@router.patch("/entities/{id:path}", response_model=schemas.CommitOut,
              operation_id="update_entity")
def update_entity(id: str, body: schemas.UpdateEntityIn, request: Request,
                        principal: Caller) -> Response:
    """Patch one entity's properties (null removes a property) in its own commit."""
    return _written(request, principal, body, f"Update entity {id}",
                    lambda tx: tx.update_entity(id, body.props, type=body.type,
                                                valid_from=body.valid_from,
                                                valid_to=body.valid_to,
                                                provenance=body.provenance))


@router.delete("/entities/{id:path}", response_model=schemas.CommitOut,
               operation_id="delete_entity")
def delete_entity(id: str, request: Request, principal: Caller,
                        message: str | None = None, branch: str | None = None,
                        author: str | None = None) -> Response:
    """Delete one entity and its relations in one commit."""
    return _written(request, principal, _delete_options(message, branch, author),
                    f"Delete entity {id}", lambda tx: tx.delete_entity(id))


@router.put("/relations/{id:path}", response_model=schemas.CommitOut,
            operation_id="put_relation")
def put_relation(id: str, body: schemas.PutRelationIn, request: Request,
                       principal: Caller) -> Response:
    """Create or replace one relation (both endpoints must exist) in its own commit."""
    return _written(request, principal, body, f"Put relation {id}",
                    lambda tx: tx.put_relation(id, body.type, body.source, body.target,
                                               body.props, valid_from=body.valid_from,
                                               valid_to=body.valid_to,
                                               provenance=body.provenance))


@router.delete("/relations/{id:path}", response_model=schemas.CommitOut,
               operation_id="delete_relation")
def delete_relation(id: str, request: Request, principal: Caller,
                          message: str | None = None, branch: str | None = None,
                          author: str | None = None) -> Response:
    return _written(request, principal, _delete_options(message, branch, author),
                    f"Delete relation {id}", lambda tx: tx.delete_relation(id))


@router.put("/documents/{collection}/{key:path}", response_model=schemas.CommitOut,
            operation_id="put_document")
def put_document(collection: str, key: str, body: schemas.PutDocumentIn,
                       request: Request, principal: Caller) -> Response:
    """Create or replace one JSON document in its own commit."""
    return _written(request, principal, body, f"Put document {collection}/{key}",
                    lambda tx: tx.put_document(collection, key, body.value,
                                               provenance=body.provenance))


@router.delete("/documents/{collection}/{key:path}", response_model=schemas.CommitOut,
               operation_id="delete_document")
def delete_document(collection: str, key: str, request: Request, principal: Caller,
                          message: str | None = None, branch: str | None = None,
                          author: str | None = None) -> Response:
    return _written(request, principal, _delete_options(message, branch, author),
                    f"Delete document {collection}/{key}",
                    lambda tx: tx.delete_document(collection, key))


# -- reading ---------------------------------------------------------------------------------
def view_at(request: Request, ref: str | None, valid_at: str | None = None,
            valid_between: str | None = None) -> View:
    """The view a read route reads: ``ref``'s state, narrowed to a valid time when asked."""
    return narrowed(get_repo(request).at(ref), valid_at, valid_between)


def parse_where(where: str | None) -> dict[str, Any] | None:
    if where is None:
        return None
    try:
        value = orjson.loads(where)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"'where' is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidValue("'where' must be a JSON object of property values")
    return value


@router.get("/entities/{id:path}", response_model=schemas.EntityOut, operation_id="entity")
def entity(id: str, request: Request, principal: Caller,
                 ref: RefParam = None, valid_at: ValidAtParam = None, valid_between: ValidBetweenParam = None) -> Response:
    """One entity at a ref (404 when absent there, or not valid at ``valid_at``)."""
    found = view_at(request, ref, valid_at, valid_between).entity(id)
    if found is None:
        raise NotFound(f"no entity {id!r} at {ref or 'the current branch'}")
    return json_response(wire.encode(found))


@router.get("/entities", response_model=list[schemas.EntityOut], operation_id="entities")
def entities(request: Request, principal: Caller, ref: RefParam = None, type: str | None = None,
             where: str | None = Query(None, description='JSON object, e.g. {"lang": "en"}'),
             limit: int = Query(100, ge=1, le=MAX_PAGE),
             offset: int = Query(0, ge=0), valid_at: ValidAtParam = None,
             valid_between: ValidBetweenParam = None,
             source: str | None = Query(None, description="only entities whose current "
                                        "version came from this provenance source")
             ) -> list[dict[str, Any]]:
    """Entities in id order, optionally of one type and with property values equal to
    ``where``; page with ``limit`` and ``offset``."""
    view = view_at(request, ref, valid_at, valid_between)
    return [wire.encode(e) for e in view.entities(type=type, where=parse_where(where),
                                                   limit=limit, offset=offset,
                                                   source=source)]


@router.get("/count", operation_id="count")
def count(request: Request, principal: Caller, ref: RefParam = None, type: str | None = None,
          element: Literal["entity", "relation"] = "entity", valid_at: ValidAtParam = None, valid_between: ValidBetweenParam = None
          ) -> dict[str, int]:
    """Number of entities (or relations) of one type or all, counted in SQL."""
    view = view_at(request, ref, valid_at, valid_between)
    n = view.count(type) if element == "entity" else view.count_relations(type)
    return {"count": n}


@router.get("/relations/{id:path}", response_model=schemas.RelationOut,
            operation_id="relation")
def relation(id: str, request: Request, principal: Caller,
                   ref: RefParam = None, valid_at: ValidAtParam = None, valid_between: ValidBetweenParam = None) -> dict[str, Any]:
    found = view_at(request, ref, valid_at, valid_between).relation(id)
    if found is None:
        raise NotFound(f"no relation {id!r} at {ref or 'the current branch'}")
    return dict(wire.encode(found))


@router.get("/relations", response_model=list[schemas.RelationOut], operation_id="relations")
def relations(request: Request, principal: Caller, ref: RefParam = None, type: str | None = None,
              source: str | None = None, target: str | None = None,
              limit: int = Query(1000, ge=1, le=MAX_PAGE),
             offset: int = Query(0, ge=0), valid_at: ValidAtParam = None, valid_between: ValidBetweenParam = None
             ) -> list[dict[str, Any]]:
    """Relations, optionally filtered by type, source and target."""
    found = view_at(request, ref, valid_at, valid_between).relations(type=type, source=source,
                                                                     target=target)
    stop = min(offset + limit, sys.maxsize)  # islice refuses bounds past sys.maxsize
    return [wire.encode(r) for r in itertools.islice(found, min(offset, stop), stop)]


@router.get("/neighbors/{id:path}", response_model=list[schemas.EntityOut],
            operation_id="neighbors")
def neighbors(id: str, request: Request, principal: Caller, ref: RefParam = None,
              depth: int = Query(1, ge=1, le=10), rel_type: str | None = None,
              direction: Literal["out", "in", "both"] = "both", valid_at: ValidAtParam = None, valid_between: ValidBetweenParam = None
              ) -> list[dict[str, Any]]:
    """Entities reachable from ``id`` within ``depth`` relations, nearest first."""
    view = view_at(request, ref, valid_at, valid_between)
    return [wire.encode(e) for e in view.neighbors(id, depth=depth, rel_type=rel_type,
                                                    direction=direction)]


@router.get("/collections", operation_id="collections")
def collections(request: Request, principal: Caller, ref: RefParam = None) -> list[str]:
    return view_at(request, ref).collections()


@router.get("/documents/{collection}/{key:path}", response_model=schemas.DocumentOut,
            operation_id="document")
def document(collection: str, key: str, request: Request, principal: Caller,
                   ref: RefParam = None) -> dict[str, Any]:
    found = view_at(request, ref).document(collection, key)
    if found is None:
        raise NotFound(f"no document {collection}/{key} at {ref or 'the current branch'}")
    return wire.encode(found)


@router.get("/documents/{collection}", response_model=list[schemas.DocumentOut],
            operation_id="documents")
def documents(collection: str, request: Request, principal: Caller, ref: RefParam = None,
              limit: int = Query(100, ge=1, le=MAX_PAGE),
             offset: int = Query(0, ge=0)
             ) -> list[dict[str, Any]]:
    view = view_at(request, ref)
    return [wire.encode(d) for d in view.documents(collection, limit=limit, offset=offset)]


@router.get("/state", operation_id="to_dict")
def state(request: Request, principal: Caller, ref: RefParam = None,
          valid_at: ValidAtParam = None, valid_between: ValidBetweenParam = None
          ) -> dict[str, Any]:
    """The whole state at a ref as one JSON object (entities, relations, documents, kv)."""
    return view_at(request, ref, valid_at, valid_between).to_dict()
