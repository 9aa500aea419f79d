"""The FastAPI application: configuration, authentication, limits, error mapping, and
:func:`serve`.

Every error leaves the server as JSON ``{"error": {"code": ..., "message": ...}}`` where
``code`` is the stable ``code`` of the :mod:`palimpsest.errors` class (or one of
``malformed_json``, ``invalid_encoding``, ``bad_request``, ``invalid_request``,
``invalid_parameter``, ``payload_too_large``, ``batch_too_large``, ``not_found``,
``method_not_allowed``); the list
with HTTP statuses is in docs/server.md.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .. import wire
from ..codec import now_us
from ..errors import (
    AmbiguousRef,
    CorruptObject,
    DatabaseUnavailable,
    Forbidden,
    IntegrityError,
    InvalidKey,
    InvalidValue,
    LockTimeout,
    MergeConflict,
    NotFound,
    PalimpsestError,
    QueryError,
    QuerySyntaxError,
    ReadOnly,
    RetentionExpired,
    SchemaVersionError,
    SchemaViolation,
    StorageError,
    Unauthorized,
    UnsupportedQuery,
    VersionConflict,
)
from ..repository import Repository
from ..storage.base import lock_wait
from ..types import Conflict, Violation
from ..view import narrowed as narrowed  # the read routes' valid-time parameters
from . import auth, inputs
from .auth import Principal

TOKEN_COOKIE = "palimpsest_token"
CSRF_COOKIE = "palimpsest_csrf"

_STATUS: list[tuple[type[PalimpsestError], int]] = [
    (Unauthorized, 401), (Forbidden, 403), (ReadOnly, 403), (NotFound, 404),
    (AmbiguousRef, 422), (InvalidKey, 422), (InvalidValue, 422), (QueryError, 422),
    (SchemaViolation, 422), (IntegrityError, 409), (VersionConflict, 409), (MergeConflict, 409),
    (RetentionExpired, 410), (CorruptObject, 500), (SchemaVersionError, 500),
    (LockTimeout, 503), (DatabaseUnavailable, 503), (StorageError, 500),
]


@dataclass
class ServerConfig:
    """Limits and switches of one server; defaults suit a team server."""

    no_auth: bool = False
    max_body_bytes: int = 10 * 1024 * 1024
    max_batch: int = 10_000
    max_page: int = 10_000
    max_query_seconds: float | None = 10.0
    """Queries and aggregations running longer stop with 422 ``query_timeout``."""
    watch_poll_seconds: float = 1.0
    watch_heartbeat_seconds: float = 15.0
    token_check_seconds: float = 2.0
    auth_cache_seconds: float = 1.0
    """A valid token is remembered this long (a revocation by another process, such as the
    CLI, takes effect within it; one through this server at once; expiry on every request)."""
    """Open watch streams re-check their token this often: revoked or expired ends them."""
    lock_wait_seconds: float | None = 5.0
    """How long a write waits for the write lock (another writer, possibly another process)
    before it answers 503 ``lock_timeout`` with ``Retry-After``; None: the backend's default."""
    max_concurrent_writes: int = 16
    """Write requests served at once (of the 40 worker threads); more wait without a thread."""
    secure_cookies: bool | None = None
    """None: Secure cookies when the request came over HTTPS or to a loopback host."""
    csrf_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    webhook_attempts: int = 5
    """Tries per webhook delivery before it is recorded as failed."""
    webhook_backoff_seconds: float = 1.0
    """Wait before the first retry of a delivery; doubles with each further one."""


class ApiError(Exception):
    """An HTTP-level error (limits, malformed input) with a stable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def status_for(error: PalimpsestError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 400


def error_headers(error: PalimpsestError) -> dict[str, str] | None:
    if isinstance(error, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, LockTimeout):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, DatabaseUnavailable):
        return {"Retry-After": "5"}
    return None


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def palimpsest_error_body(error: PalimpsestError) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if isinstance(error, MergeConflict):
        extra["conflicts"] = [wire.encode(c) if isinstance(c, Conflict) else str(c)
                              for c in error.conflicts]
    if isinstance(error, VersionConflict):
        extra.update(key=error.key, expected=_jsonable(error.expected),
                     found=_jsonable(error.found))
    if isinstance(error, AmbiguousRef):
        extra["candidates"] = error.candidates
    if isinstance(error, UnsupportedQuery):
        extra["construct"] = error.construct
    if isinstance(error, QuerySyntaxError):
        extra.update(reason=error.reason, line=error.line, column=error.column)
    if isinstance(error, SchemaViolation):
        extra["violations"] = [wire.encode(v) if isinstance(v, Violation) else str(v)
                               for v in error.violations]
    return error_body(error.code, str(error), **extra)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# -- request context -------------------------------------------------------------------------
def get_repo(request: Request) -> Repository:
    repo: Repository = request.app.state.repo
    return repo


def current_branch(repo: Repository) -> str:
    """The repository's current branch (a database read: call it in the thread pool)."""
    return repo.current_branch


def get_config(request: Request) -> ServerConfig:
    config: ServerConfig = request.app.state.config
    return config


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def principal_for(request: Request, token: str | None) -> Principal:
    config = get_config(request)
    repo = get_repo(request)
    if config.no_auth:
        return Principal(repo.default_author, "admin", "*", None)
    return auth.authenticate(repo.database, token)


async def api_principal(request: Request) -> Principal:
    """The caller of an API request, from its bearer token (401 without a valid one).

    The token is looked up in the worker thread pool, never on the event loop (a database
    call may wait: a busy disk, a lock), then remembered for ``auth_cache_seconds`` so a
    request costs one thread handoff, not two. A revocation through this server forgets every
    token at once; one by another process (the CLI) takes effect within that time; an expiry
    is checked on every request.

    Reads (GET) also accept the web UI's login cookie, so UI pages can link to JSON (the
    JSON Patch of a comparison, say); writes need the header, which no other site can set.
    """
    token = bearer_token(request)
    if token is None and request.method == "GET":
        token = request.cookies.get(TOKEN_COOKIE)
    config = get_config(request)
    if config.no_auth or not token:  # neither reads the database
        return principal_for(request, token)
    cache: dict[str, tuple[Principal, float]] = request.app.state.auth_cache
    now = time.monotonic()
    hit = cache.get(token)
    if hit is not None and now - hit[1] < config.auth_cache_seconds:
        principal = hit[0]
        if principal.expires_us is None or now_us() < principal.expires_us:
            return principal
    principal = await run_in_threadpool(principal_for, request, token)
    if len(cache) >= 10_000:
        cache.clear()
    cache[token] = (principal, now)
    return principal


def forget_tokens(request: Request) -> None:
    """Drop remembered tokens (after a revocation through this server)."""
    request.app.state.auth_cache.clear()


Caller = Annotated[Principal, Depends(api_principal)]


class StreamAuth:
    """Keeps checking the token of an open watch stream: once it is revoked (noticed within
    ``token_check_seconds``) or expired (noticed at once), :meth:`valid` turns false and the
    stream ends with :data:`ENDED`."""

    ENDED = (b"event: error\ndata: " + orjson.dumps(error_body(
        "unauthorized", "the token was revoked or has expired; the stream ended")) + b"\n\n")

    def __init__(self, request: Request, principal: Principal) -> None:
        self._db = get_repo(request).database
        self._principal = principal
        self._every = get_config(request).token_check_seconds
        self._next = time.monotonic() + self._every

    async def valid(self) -> bool:
        principal = self._principal
        if principal.token_id is None:  # --no-auth
            return True
        if principal.expires_us is not None and now_us() >= principal.expires_us:
            return False
        now = time.monotonic()
        if now < self._next:
            return True
        self._next = now + self._every
        return await run_in_threadpool(auth.token_active, self._db, principal.token_id)

    def bound(self, wait: float) -> float:
        """``wait`` shortened so the stream wakes for the next check (and at expiry)."""
        wait = min(wait, max(self._next - time.monotonic(), 0.01))
        if self._principal.expires_us is not None:
            wait = min(wait, max((self._principal.expires_us - now_us()) / 1e6, 0.01))
        return wait
RefParam = Annotated[str | None, Query(
    description="branch, tag, commit id or prefix, REF~N, or an ISO time; default: the "
                "current branch")]
ValidAtParam = Annotated[str | None, Query(
    description="valid time: only the entities and relations that hold in the world at this "
                "ISO time (docs/valid-time.md)")]
ValidBetweenParam = Annotated[str | None, Query(
    description="valid time: only the entities and relations valid at some time in "
                "START/END (an ISO 8601 interval, END excluded)")]


# -- limits ----------------------------------------------------------------------------------
class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 before the route runs."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: MutableMapping[str, Any],
                       receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
                       send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and (len(value) > 19 or int(value) > self.limit):
                    await self._refuse(scope, receive, send)
                    return
                await self.app(scope, receive, send)  # the server enforces the length
                return
        # No length given (chunked): read the body here, up to the limit, then replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        await self.app(scope, inputs.replaying(body, receive), send)

    def _message(self) -> str:
        return (f"request body is larger than the server's limit of {self.limit} bytes; "
                "split the batch into several requests")

    async def _refuse(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        response = JSONResponse(error_body("payload_too_large", self._message()), 413)
        await response(scope, receive, send)


class LockWait:
    """Writes made while serving a request wait at most ``seconds`` for the write lock
    (``storage.base.lock_wait``; the limit follows the request into the thread pool).

    At most ``writers`` write requests (methods other than GET, HEAD, OPTIONS) run at once;
    the others wait on the event loop, not in a worker thread, within the same limit, then get
    503 ``lock_timeout``. So writers piling up behind a held lock never take all the worker
    threads, and reads keep being answered.
    """

    def __init__(self, app: Any, seconds: float | None, writers: int) -> None:
        self.app = app
        self.seconds = seconds
        self.writers = writers
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            with lock_wait(self.seconds):
                await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.writers)
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._slots.acquire(), self.seconds)
        except TimeoutError:
            error = LockTimeout(f"{self.writers} writes are already waiting for the write "
                                f"lock; waited {self.seconds:g} s and wrote nothing: retry "
                                "later", retry_after=max(1, math.ceil(self.seconds or 1)))
            response = JSONResponse(palimpsest_error_body(error), 503,
                                    headers=error_headers(error))
            await response(scope, receive, send)
            return
        try:
            left = None if self.seconds is None else \
                max(self.seconds - (time.monotonic() - started), 0.0)
            with lock_wait(left):
                await self.app(scope, receive, send)
        finally:
            self._slots.release()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
