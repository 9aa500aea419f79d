"""Routes for what the repository keeps besides history: combining versions, erasure,
retention policies, declared indexes and materialized views.

Changing the configuration (retention, indexes, views) or deleting data (erasure) needs the
admin role; reading it needs a token; combining versions is a commit on a branch (the
writer's rules for that branch apply). Operation ids are the Python methods' names.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from .. import wire
from ..errors import InvalidValue
from ..types import Document, Entity
from . import auth
from .app import Caller, get_config, get_repo
from .routes_api import attribution

router = APIRouter(prefix="/api")

JSONValue = Any


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CombineResolutionIn(_In):
    """Which ref's content settles one conflict (``Conflict.key`` as element, id,
    property)."""

    element: Literal["entity", "relation", "document", "kv"]
    id: str
    property: str | None = None
    ref: str


class CombineIn(_In):
    refs: list[str]
    author: str | None = None
    mode: str = "union"
    into: str | None = None
    message: str | None = None
    strategy: str | None = None
    resolutions: list[CombineResolutionIn] | None = None
    dry_run: bool = False


class EraseIn(_In):
    """The element: ``id`` (an entity or relation), or ``collection`` and ``key``."""

    id: str | None = None
    collection: str | None = None
    key: str | None = None
    element: Literal["entity", "relation", "document"] | None = None
    reason: str
    message: str | None = None
    author: str | None = None


class RetentionIn(_In):
    branches: str
    author: str | None = None
    keep: JSONValue = Field(None, description="a duration ('365d', '12h', '2w') or seconds")
    keep_seconds: float | None = Field(None, description="instead of keep: seconds, "
                                                         "fractions allowed")
    keep_commits: JSONValue = None


class IndexIn(_In):
    type: str | None = None
    field: str
    collection: str | None = None


class ViewIn(_In):
    name: str
    target: str = Field(description="a collection name or an entity type")
    query: dict[str, JSONValue] | None = Field(
        None, description='{"where", "select", "order_by"} (the dict form of a Query)')
    kind: Literal["document", "entity"] | None = None


class RefreshIn(_In):
    name: str | None = None


class MaterializedIn(_In):
    ref: str | None = None
    where: dict[str, JSONValue] | None = None
    order_by: JSONValue = None
    limit: int | None = Field(default=None, ge=0, le=10_000)
    offset: int = Field(default=0, ge=0)


# -- combine ---------------------------------------------------------------------------------
@router.post("/combine", operation_id="combine")
def combine(body: CombineIn, request: Request, principal: Caller) -> dict[str, Any]:
    """Set-merge of versions into branch ``into``: one commit whose elements are those of any
    (``union``) or all (``intersection``) of ``refs``; conflicts come back as
    ``status: "conflict"`` with nothing committed."""
    repo = get_repo(request)
    into = body.into or repo.current_branch
    if not body.dry_run:
        auth.require_commit(repo.database, principal, into, what="combining versions")
    resolutions: dict[tuple[str, str, str | None], Any] | None = None if not body.resolutions \
        else {(r.element, r.id, r.property): r.ref for r in body.resolutions}
    author, _ = attribution(get_config(request), principal, body.author, None)
    result = repo.combine(list[Any](body.refs), mode=body.mode, into=into, message=body.message,
                          author=author, strategy=body.strategy,
                          resolutions=resolutions, dry_run=body.dry_run)
    return wire.encode(result)


# -- erasure ---------------------------------------------------------------------------------
@router.post("/erase", operation_id="erase")
def erase(body: EraseIn, request: Request, principal: Caller) -> dict[str, Any]:
    """Remove every stored value of one element for good, keeping hashes (admins)."""
    auth.require_role(principal, "admin", "erasing data")
    if (body.id is None) == (body.collection is None or body.key is None):
        raise InvalidValue("name the element: 'id' (an entity or relation), or 'collection' "
                           "and 'key' (a document)")
    ident: str | tuple[str, str] = body.id if body.id is not None else (
        str(body.collection), str(body.key))
    author, _ = attribution(get_config(request), principal, body.author, None)
    return wire.encode(get_repo(request).erase(ident, reason=body.reason, author=author,
                                               element=body.element, message=body.message))


class EraseSourceIn(_In):
    source: str
    reason: str
    message: str | None = None
    author: str | None = None


@router.post("/erase-source", operation_id="erase_source")
def erase_source(body: EraseSourceIn, request: Request, principal: Caller
                 ) -> list[dict[str, Any]]:
    """Erase every stored value that came from provenance ``source``, in every version,
    keeping hashes (admins)."""
    auth.require_role(principal, "admin", "erasing data")
    author, _ = attribution(get_config(request), principal, body.author, None)
    return [wire.encode(e) for e in get_repo(request).erase_source(
        body.source, reason=body.reason, author=author, message=body.message)]


@router.get("/erasures", operation_id="erasures")
def erasures(request: Request, principal: Caller) -> list[dict[str, Any]]:
    """Every erasure, oldest first (the audit record)."""
    return [wire.encode(e) for e in get_repo(request).erasures()]


# -- retention -------------------------------------------------------------------------------
@router.put("/retention", operation_id="set_retention")
def set_retention(body: RetentionIn, request: Request,
                  principal: Caller) -> dict[str, Any] | None:
    """Set (or, with neither ``keep`` nor ``keep_commits``, remove) the retention policy of
    the branches matching a glob (admins); null when removed."""
    auth.require_role(principal, "admin", "setting retention")
    keep = body.keep if body.keep_seconds is None else timedelta(seconds=body.keep_seconds)
    author, _ = attribution(get_config(request), principal, body.author, None)
    policy = get_repo(request).set_retention(body.branches, keep,
                                             keep_commits=body.keep_commits, author=author)
    return None if policy is None else wire.encode(policy)


@router.get("/retention", operation_id="retention")
def retention(request: Request, principal: Caller) -> list[dict[str, Any]]:
    """The retention policies, by pattern."""
    return [wire.encode(p) for p in get_repo(request).retention()]


@router.get("/horizon", operation_id="horizon")
def horizon(request: Request, principal: Caller,
            branch: str | None = None) -> dict[str, Any] | None:
    """The oldest commit of ``branch`` whose state the policies keep (null: all of it)."""
    found = get_repo(request).horizon(branch)
    return None if found is None else wire.encode(found)


# -- indexes ---------------------------------------------------------------------------------
@router.post("/indexes", operation_id="create_index")
def create_index(body: IndexIn, request: Request, principal: Caller) -> dict[str, Any]:
    """Declare an index on ``field`` of entity ``type`` or of a ``collection`` (admins)."""
    auth.require_role(principal, "admin", "declaring an index")
    return wire.encode(get_repo(request).create_index(body.type, body.field,
                                                      collection=body.collection))


@router.delete("/indexes", status_code=204, operation_id="drop_index")
def drop_index(request: Request, principal: Caller, field: str, type: str | None = None,
               collection: str | None = None) -> None:
    auth.require_role(principal, "admin", "dropping an index")
    get_repo(request).drop_index(type, field, collection=collection)


@router.get("/indexes", operation_id="indexes")
def indexes(request: Request, principal: Caller) -> list[dict[str, Any]]:
    """The declared indexes."""
    return [wire.encode(i) for i in get_repo(request).indexes()]


# -- materialized views ----------------------------------------------------------------------
@router.post("/views", operation_id="create_view")
def create_view(body: ViewIn, request: Request, principal: Caller) -> dict[str, Any]:
    """Declare a materialized view of a collection / entity type (admins)."""
    auth.require_role(principal, "admin", "declaring a materialized view")
    return wire.encode(get_repo(request).create_view(body.name, body.target, body.query,
                                                     kind=body.kind))


@router.delete("/views/{name}", status_code=204, operation_id="drop_view")
def drop_view(name: str, request: Request, principal: Caller) -> None:
    auth.require_role(principal, "admin", "dropping a materialized view")
    get_repo(request).drop_view(name)


@router.get("/views", operation_id="views")
def views(request: Request, principal: Caller) -> list[dict[str, Any]]:
    """The declared materialized views."""
    return [wire.encode(v) for v in get_repo(request).views()]


@router.post("/views/refresh", operation_id="refresh_views")
def refresh_views(body: RefreshIn, request: Request, principal: Caller) -> dict[str, int]:
    """Bring materialized views (one, or all) up to the newest commit now (writers)."""
    auth.require_role(principal, "writer", "refreshing materialized views")
    return {"rows": get_repo(request).refresh_views(body.name)}


@router.post("/views/{name}/members", operation_id="materialized")
def materialized(name: str, body: MaterializedIn, request: Request,
                 principal: Caller) -> list[Any]:
    """The members of a materialized view at a ref, optionally filtered, sorted and paged."""
    repo = get_repo(request)
    view = repo.at(body.ref)
    with repo.database.deadline(get_config(request).max_query_seconds):
        found = view.materialized(name, where=body.where, order_by=body.order_by,
                                  limit=body.limit, offset=body.offset)
    return [wire.encode(x) if isinstance(x, Entity | Document) else x for x in found]

