"""The watch stream: server-sent events for the commits of a branch.

Every commit that becomes reachable from the branch is sent once, after its parents: new
commits and the commits a merge brings in (whose seqs can be lower than ones already sent).
Each event is ``id: <token>``, ``event: commit`` and the commit as JSON (with ``branch``). The
token names what was delivered so far: the seq of the commit when everything delivered is its
ancestry (always so on a linear history), else the seqs of the delivered tips joined by commas
(``12,15``). A client that reconnects with ``Last-Event-ID`` (or ``?since=TOKEN``) first
receives every commit it missed, so none is lost or repeated across reconnects. New commits are
noticed at once when made through this server, and within ``watch_poll_seconds`` when made by
another process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from .. import wire
from ..errors import InvalidParameter, InvalidValue
from ..repository import Repository
from ..types import Commit
from ..watch import CommitFollower, parse_token
from .app import Caller, StreamAuth, current_branch, get_config, get_repo

router = APIRouter(prefix="/api")


class CommitNotifier:
    """Wakes waiting streams when this process commits (Repository.on_commit runs in a
    worker thread; waiters live on the event loop)."""

    def __init__(self, repo: Repository) -> None:
        self._waiters: set[asyncio.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.unsubscribe = repo.on_commit(self._on_commit)

    def _on_commit(self, commit: Commit) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for future in waiters:
            if not future.done():
                future.set_result(None)

    def cancel(self, future: asyncio.Future[None]) -> None:
        self._waiters.discard(future)
        future.cancel()

    def prepare(self) -> asyncio.Future[None]:
        """Register for the next commit; call before checking the database, so a commit made
        between the check and :meth:`wait` still wakes the waiter."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        future: asyncio.Future[None] = loop.create_future()
        self._waiters.add(future)
        return future

    async def wait(self, future: asyncio.Future[None], timeout: float) -> None:
        """Return after a commit through this server, or after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(future)


def notifier_for(request: Request) -> CommitNotifier:
    state = request.app.state
    found: CommitNotifier | None = getattr(state, "notifier", None)
    if found is None:
        found = state.notifier = CommitNotifier(get_repo(request))
    return found


def follower(repo: Repository, branch: str, token: str | None) -> CommitFollower:
    """Follows ``branch`` from a resume token (None: from the current head)."""
    try:
        since = None if token is None else parse_token(repo._commits, token)
    except InvalidValue as exc:  # a malformed id (one naming no commit is RefNotFound: 404)
        raise InvalidParameter(str(exc)) from exc
    return CommitFollower(repo._commits, repo._refs, branch, since)


def sse(commit: Commit, branch: str, token: str) -> bytes:
    data = orjson.dumps(wire.encode(commit) | {"branch": branch})
    return b"id: %s\nevent: commit\ndata: %s\n\n" % (token.encode(), data)


@router.get("/watch", operation_id="watch", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def watch(request: Request, principal: Caller, branch: str | None = None,
                last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
                since: Annotated[str | None, Query(
                    description="resume after this event id (like Last-Event-ID); 0: from "
                                "the beginning")] = None,
                limit: Annotated[int | None, Query(
                    ge=1, description="close the stream after this many events")] = None,
                timeout: Annotated[float | None, Query(
                    gt=0, description="close the stream after this many seconds")] = None,
                ) -> StreamingResponse:
    """Server-sent events for each commit that becomes reachable from ``branch`` (default:
    the current branch), merged ones included; resumable with ``Last-Event-ID``."""
    repo = get_repo(request)
    config = get_config(request)
    name = branch if branch else await run_in_threadpool(current_branch, repo)
    token = last_event_id if last_event_id is not None else since
    follow = await run_in_threadpool(follower, repo, name, token)
    notifier = notifier_for(request)

    guard = StreamAuth(request, principal)

    async def events() -> AsyncIterator[bytes]:
        sent = 0
        deadline = time.monotonic() + timeout if timeout is not None else None
        quiet_since = time.monotonic()
        yield b"retry: 2000\n: watching %s\n\n" % name.encode()
        while True:
            if not await guard.valid():
                yield StreamAuth.ENDED
                return
            woken = notifier.prepare()
            for commit in await run_in_threadpool(follow.new_commits):
                follow.delivered(commit)
                yield sse(commit, name, follow.token())
                sent += 1
                quiet_since = time.monotonic()
                if limit is not None and sent >= limit:
                    notifier.cancel(woken)
                    return
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                notifier.cancel(woken)
                return
            if now - quiet_since >= config.watch_heartbeat_seconds:
                yield b": keep-alive\n\n"
                quiet_since = now
            if await request.is_disconnected():
                notifier.cancel(woken)
                return
            wait = guard.bound(config.watch_poll_seconds)
            if deadline is not None:
                wait = min(wait, max(deadline - now, 0.001))
            await notifier.wait(woken, wait)

    headers: dict[str, Any] = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
