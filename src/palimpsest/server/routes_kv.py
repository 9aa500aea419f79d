"""Routes for the key-value state (get, list, set, compare-and-set, create, delete,
transactions, watch) and for queries and aggregations at any ref.

Values travel as base64 (``value``); ``json`` may be given instead to store a JSON value in
its canonical encoding. Every kv write is a commit on a branch, authored by the caller, and
needs write access to that branch (refused on protected branches).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from .. import wire
from ..codec import encode
from ..errors import InvalidValue, NotFound
from ..models.kv import (
    KeyValue,
    KVOp,
    check_exists,
    check_missing,
    check_version,
    op_delete,
    op_set,
)
from ..types import Document, Entity, KVEvent
from . import auth, schemas
from .app import (
    Caller,
    RefParam,
    StreamAuth,
    current_branch,
    get_config,
    get_repo,
    narrowed,
)
from .auth import Principal
from .inputs import resume_after
from .routes_api import attribution

router = APIRouter(prefix="/api")


def _value(data: str | None, json_value: Any, has_json: bool) -> bytes:
    if has_json:
        return encode(json_value).encode()
    if data is None:
        raise InvalidValue("give the value as base64 in 'value', or a JSON value in 'json'")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidValue(f"'value' is not valid base64: {exc}") from exc


def _writable(request: Request, principal: Principal, branch: str | None) -> KeyValue:
    repo = get_repo(request)
    name = branch or repo.current_branch
    auth.require_commit(repo.database, principal, name)
    return repo.kv.on(name)


def _kv_at(request: Request, ref: str | None, branch: str | None) -> KeyValue:
    repo = get_repo(request)
    if ref is not None:
        return repo.at(ref).kv
    return repo.kv.on(branch or repo.current_branch)


@router.get("/kv/entry", response_model=schemas.EntryOut, operation_id="kv_get")
def kv_get(request: Request, principal: Caller, key: str, ref: RefParam = None,
           branch: str | None = None) -> dict[str, Any]:
    """One entry (404 when missing) at a ref, or at the head of a branch."""
    found = _kv_at(request, ref, branch).get(key)
    if found is None:
        raise NotFound(f"no kv entry {key!r}")
    return wire.encode(found)


@router.get("/kv", response_model=list[schemas.EntryOut], operation_id="kv_list")
def kv_list(request: Request, principal: Caller, prefix: str = "/", ref: RefParam = None,
            branch: str | None = None, limit: int = Query(1000, ge=1, le=10_000),
            start_after: str | None = None) -> list[dict[str, Any]]:
    """Entries under ``prefix`` in key order; page with ``limit`` and ``start_after``."""
    kv = _kv_at(request, ref, branch)
    return [wire.encode(e) for e in kv.list(prefix, limit=limit, start_after=start_after)]


@router.put("/kv/entry", response_model=schemas.EntryOut, operation_id="kv_set")
def kv_set(body: schemas.KVSetIn, request: Request, principal: Caller) -> dict[str, Any]:
    """Set a key (one commit). With ``expected_version`` it is a compare-and-set (409 when
    the key moved); with ``create_only`` it fails (409) when the key exists."""
    config = get_config(request)
    kv = _writable(request, principal, body.branch)
    author, metadata = attribution(config, principal, body.author, body.metadata)
    value = _value(body.value, body.json_value, "json_value" in body.model_fields_set)
    common: dict[str, Any] = {"message": body.message, "author": author, "metadata": metadata}
    if body.create_only:
        entry = kv.create_if_not_exists(body.key, value, **common)
    elif body.expected_version is not None:
        entry = kv.compare_and_set(body.key, body.expected_version, value, **common)
    else:
        entry = kv.set(body.key, value, **common)
    return wire.encode(entry)


@router.post("/kv/entries", response_model=list[schemas.EntryOut], operation_id="kv_set_many")
def kv_set_many(body: schemas.KVSetManyIn, request: Request,
                principal: Caller) -> list[dict[str, Any]]:
    """Set many keys in one commit (values base64); the new entries in the order given."""
    config = get_config(request)
    kv = _writable(request, principal, body.branch)
    author, metadata = attribution(config, principal, body.author, body.metadata)
    items = {key: _value(value, None, False) for key, value in body.items.items()}
    entries = kv.set_many(items, message=body.message, author=author, metadata=metadata)
    return [wire.encode(e) for e in entries]


@router.delete("/kv/entry", operation_id="kv_delete")
def kv_delete(request: Request, principal: Caller, key: str, branch: str | None = None,
              expected_version: int | None = None, message: str | None = None
              ) -> dict[str, bool]:
    """Delete a key (one commit); ``deleted`` is false when it was missing."""
    kv = _writable(request, principal, branch)
    deleted = kv.delete(key, expected_version=expected_version, message=message,
                        author=principal.user)
    return {"deleted": deleted}


def _op(op: schemas.KVOpIn) -> KVOp:
    if op.op == "check_version":
        if op.version is None:
            raise InvalidValue(f"check_version of {op.key!r} needs 'version'")
        return check_version(op.key, op.version)
    if op.op == "check_exists":
        return check_exists(op.key)
    if op.op == "check_missing":
        return check_missing(op.key)
    if op.op == "set":
        return op_set(op.key, _value(op.value, op.json_value, "json_value" in op.model_fields_set))
    return op_delete(op.key)


@router.post("/kv/transaction", response_model=schemas.CommitOut | None,
             operation_id="kv_transaction")
def kv_transaction(body: schemas.KVTransactionIn, request: Request,
                   principal: Caller) -> dict[str, Any] | None:
    """Checks then writes, all or nothing, in one commit (null when nothing changed); a
    failed check is 409 ``version_conflict`` naming it."""
    config = get_config(request)
    kv = _writable(request, principal, body.branch)
    author, metadata = attribution(config, principal, body.author, body.metadata)
    commit = kv.transaction([_op(op) for op in body.ops], message=body.message,
                            author=author, metadata=metadata)
    return wire.encode(commit) if commit is not None else None


def _kv_event(event: KVEvent, with_id: bool) -> bytes:
    data = orjson.dumps(wire.encode(event))
    head = b"id: %d\n" % event.commit.seq if with_id else b""
    return head + b"event: kv\ndata: " + data + b"\n\n"


@router.get("/kv/watch", operation_id="kv_watch", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def kv_watch(request: Request, principal: Caller,
                   pattern: Annotated[str, Query(description="/a/b exact, /a/* a subtree")],
                   branch: str | None = None,
                   last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
                   since: Annotated[int | None, Query(
                       description="resume after this commit seq (0: from the beginning)")
                   ] = None,
                   limit: Annotated[int | None, Query(ge=1)] = None,
                   timeout: Annotated[float | None, Query(gt=0)] = None) -> StreamingResponse:
    """Server-sent ``kv`` events (created / updated / deleted) for keys matching
    ``pattern`` on ``branch``. The ``id`` of the last event of each commit is its seq, so a
    client resuming with ``Last-Event-ID`` gets every later change."""
    repo = get_repo(request)
    config = get_config(request)
    name = branch if branch else await run_in_threadpool(current_branch, repo)
    start = resume_after(last_event_id, since)
    resume: Any = None
    if start == 0:
        resume = 0
    elif start is not None:
        resume = await run_in_threadpool(repo.commit_by_seq, start)
    watch = await run_in_threadpool(lambda: repo.kv.on(name).watch(
        pattern, since=resume, interval=config.watch_poll_seconds))

    guard = StreamAuth(request, principal)

    async def events() -> AsyncIterator[bytes]:
        sent = 0
        began = time.monotonic()
        quiet_since = began
        try:
            yield b"retry: 2000\n: watching kv %s on %s\n\n" % (pattern.encode(), name.encode())
            while True:
                if not await guard.valid():
                    yield StreamAuth.ENDED
                    return
                wait = config.watch_heartbeat_seconds - (time.monotonic() - quiet_since)
                if timeout is not None:
                    left = timeout - (time.monotonic() - began)
                    if left <= 0:
                        return
                    wait = min(wait, left)
                first = await watch.next_async(guard.bound(max(wait, 0.0)))
                if first is None:
                    if await request.is_disconnected():
                        return
                    if time.monotonic() - quiet_since >= config.watch_heartbeat_seconds:
                        yield b": keep-alive\n\n"
                        quiet_since = time.monotonic()
                    continue
                quiet_since = time.monotonic()
                batch = [first, *await run_in_threadpool(watch.poll)]
                for i, event in enumerate(batch):
                    last = i + 1 == len(batch) or batch[i + 1].commit.seq != event.commit.seq
                    yield _kv_event(event, last)
                    sent += 1
                    if limit is not None and sent >= limit:
                        return
        finally:
            watch.close()

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# -- queries ---------------------------------------------------------------------------------
def _result_json(item: Any) -> Any:
    return wire.encode(item) if isinstance(item, Entity | Document) else item


@router.post("/query", operation_id="query")
def query(body: schemas.QueryIn, request: Request, principal: Caller) -> list[Any]:
    """Documents of a collection (or entities of a type) matching ``where`` (the dict form of
    a Filter), sorted, paged and projected, at any ref; 422 ``query_error`` on a bad query."""
    repo = get_repo(request)
    view = narrowed(repo.at(body.ref), body.valid_at, body.valid_between)
    with repo.database.deadline(request.app.state.config.max_query_seconds):
        found = view.query(body.target, body.where, select=body.select,
                           order_by=body.order_by, limit=body.limit, offset=body.offset,
                           kind=body.kind)
    return [_result_json(x) for x in found]


@router.post("/aggregate", operation_id="aggregate")
def aggregate(body: schemas.AggregateIn, request: Request, principal: Caller) -> Any:
    """Aggregates over the matching elements (default: a count), optionally grouped."""
    repo = get_repo(request)
    view = narrowed(repo.at(body.ref), body.valid_at, body.valid_between)
    with repo.database.deadline(request.app.state.config.max_query_seconds):
        return view.aggregate(body.target, body.aggregates, where=body.where,
                              group_by=body.group_by, kind=body.kind)
