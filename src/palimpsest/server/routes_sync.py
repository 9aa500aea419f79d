"""Routes of the sync protocol (docs/sync.md): a client fetching from this server asks for
its refs (``sync_advertise``) and a pack of what it lacks (``sync_pack``); a client pushing
asks which commits the server has (``sync_has``) and sends packs (``sync_receive``), the last
one with the branch updates. Reading needs a token; receiving checks the writer's rules per
branch (protected branches move only as a merge would, forcing a protected branch needs an
admin) and that a non-admin pushes only commits it authored.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..errors import InvalidValue
from ..sync import peer as sync_peer
from ..sync.pack import lines_of
from ..versioning.commits import CommitStore
from ..versioning.refs import RefStore
from . import auth
from .app import Caller, get_config, get_repo

router = APIRouter(prefix="/api/sync")

MEDIA = "application/x-ndjson"
_MAX_IDS = 10_000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HasIn(_In):
    ids: list[str] = Field(max_length=_MAX_IDS, description="commit ids (64 hex digits)")


class PackIn(_In):
    wants: list[str] = Field(max_length=_MAX_IDS, description="commit ids the client lacks")
    haves: list[str] = Field(default_factory=list, max_length=_MAX_IDS,
                             description="commit ids the client has")
    depth: int | None = Field(None, ge=1, description="shallow: the last N first-parent "
                              "commits of each wanted head come whole, older ones as metadata")
    since: str | None = Field(None, description="shallow: the history from this ISO time on "
                              "comes whole, older commits as metadata")


def _stores(request: Request) -> tuple[CommitStore, RefStore]:
    found: tuple[CommitStore, RefStore] | None = getattr(request.app.state, "sync_stores", None)
    if found is None:
        commits = CommitStore(get_repo(request).database)
        found = (commits, RefStore(commits))
        request.app.state.sync_stores = found
    return found


@router.get("/refs", operation_id="sync_advertise")
def sync_advertise(request: Request, principal: Caller) -> dict[str, Any]:
    """The server's current branch, branches (name -> head commit id, null when empty; its
    own remote-tracking branches left out), tags, and ``haves``: commits it has for a sender
    to stop at (branch heads, tags, kept heads of interrupted transfers, samples)."""
    commits, refs = _stores(request)
    return sync_peer.advertise(commits.db, refs).to_json()


@router.post("/has", operation_id="sync_has")
def sync_has(body: HasIn, request: Request, principal: Caller) -> dict[str, list[str]]:
    """Which of ``ids`` the server has."""
    commits, _ = _stores(request)
    return {"ids": sync_peer.has(commits, body.ids)}


@router.post("/pack", operation_id="sync_pack", response_class=StreamingResponse,
             responses={200: {"content": {MEDIA: {}}, "description": "a pack: JSON Lines, a "
                              "header, per commit its record then its rows, a trailer with "
                              "counts and a BLAKE2b-256 digest"}})
def sync_pack(body: PackIn, request: Request, principal: Caller) -> StreamingResponse:
    """The commits reachable from ``wants`` and not from ``haves``, oldest first, with their
    rows (docs/sync.md, the pack format)."""
    commits, _ = _stores(request)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    for chunk in sync_peer.send_pack(commits.db, commits, body.wants, body.haves,
                                     depth=body.depth, since=body.since):
        spool.write(chunk)
    spool.seek(0)

    def stream() -> Iterator[bytes]:
        try:
            while block := spool.read(256 * 1024):
                yield block
        finally:
            spool.close()

    return StreamingResponse(stream(), media_type=MEDIA)


_RECEIVE_BODY = {
    "requestBody": {"required": True, "content": {MEDIA: {"schema": {
        "type": "string", "description": "JSON Lines: first {\"t\": \"updates\", \"updates\": "
        "[{name, old, new, force}]} (the branch moves, empty except in a push's last request), "
        "then a pack as sync_pack answers it"}}}},
}


@router.post("/receive", operation_id="sync_receive", openapi_extra=_RECEIVE_BODY)
async def sync_receive(request: Request, principal: Caller) -> dict[str, int]:
    """Store a pack — every value hash, state hash and commit id verified — and then, in the
    same transaction, move the branches named in its updates (each from the ``old`` commit
    the client saw, fast-forward unless ``force``). Commits of a refused or cut request that
    arrived whole are kept unreferenced, so a retry sends only the rest."""
    body = await request.body()
    return await run_in_threadpool(_receive, request, principal, body)


def _receive(request: Request, principal: Any, body: bytes) -> dict[str, int]:
    auth.require_role(principal, "writer", "pushing")
    commits, refs = _stores(request)
    lines = lines_of([body])
    first = next(lines, b"")
    try:
        head = orjson.loads(first)
        updates = [sync_peer.RefUpdate.from_json(u) for u in head["updates"]]
        if head.get("t") != "updates":
            raise KeyError("t")
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidValue("the body starts with {\"t\": \"updates\", \"updates\": [...]}, then "
                           f"the pack ({type(exc).__name__})") from None
    db = commits.db
    no_auth = get_config(request).no_auth
    author = principal.user

    def check(update: sync_peer.RefUpdate) -> None:
        if not no_auth:
            auth.require_push(db, principal, update.name, exists=refs.has_branch(update.name),
                              force=update.force)

    def vet(record: dict[str, Any]) -> None:
        if not no_auth:
            auth.require_own_commits(principal, str(record.get("author")),
                                     str(record.get("id")))

    received = sync_peer.receive_pack(db, commits, refs, lines, updates, author=author,
                                      message="push", check=check, vet=vet)
    return received.to_json()
