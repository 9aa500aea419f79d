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

import ipaddress
import secrets
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import (
    AmbiguousRef,
    CorruptObject,
    Forbidden,
    IntegrityError,
    InvalidKey,
    InvalidValue,
    MergeConflict,
    NotFound,
    PalimpsestError,
    QueryError,
    ReadOnly,
    RetentionExpired,
    SchemaVersionError,
    Unauthorized,
    VersionConflict,
)
from ..repository import Repository
from . import auth, inputs
from .auth import Principal

TOKEN_COOKIE = "palimpsest_token"
CSRF_COOKIE = "palimpsest_csrf"

_STATUS: list[tuple[type[PalimpsestError], int]] = [
    (Unauthorized, 401), (Forbidden, 403), (ReadOnly, 403), (NotFound, 404),
    (AmbiguousRef, 422), (InvalidKey, 422), (InvalidValue, 422), (QueryError, 422),
    (IntegrityError, 409), (VersionConflict, 409), (MergeConflict, 409),
    (RetentionExpired, 410), (CorruptObject, 500), (SchemaVersionError, 500),
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
    secure_cookies: bool | None = None
    """None: Secure cookies when the request came over HTTPS or to a loopback host."""
    csrf_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))


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


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def palimpsest_error_body(error: PalimpsestError) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if isinstance(error, MergeConflict):
        extra["conflicts"] = [c.to_dict() if hasattr(c, "to_dict") else str(c)
                              for c in error.conflicts]
    if isinstance(error, VersionConflict):
        extra.update(key=error.key, expected=_jsonable(error.expected),
                     found=_jsonable(error.found))
    if isinstance(error, AmbiguousRef):
        extra["candidates"] = error.candidates
    return error_body(error.code, str(error), **extra)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# -- request context -------------------------------------------------------------------------
def get_repo(request: Request) -> Repository:
    repo: Repository = request.app.state.repo
    return repo


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

    It runs on the event loop (one indexed lookup): a thread handoff would cost more.

    Reads (GET) also accept the web UI's login cookie, so UI pages can link to JSON (the
    JSON Patch of a comparison, say); writes need the header, which no other site can set.
    """
    token = bearer_token(request)
    if token is None and request.method == "GET":
        token = request.cookies.get(TOKEN_COOKIE)
    return principal_for(request, token)


Caller = Annotated[Principal, Depends(api_principal)]
RefParam = Annotated[str | None, Query(
    description="branch, tag, commit id or prefix, REF~N, or an ISO time; default: the "
                "current branch")]


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
        sent = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _message(self) -> str:
        return (f"request body is larger than the server's limit of {self.limit} bytes; "
                "split the batch into several requests")

    async def _refuse(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        response = JSONResponse(error_body("payload_too_large", self._message()), 413)
        await response(scope, receive, send)


# -- the application -------------------------------------------------------------------------
def create_app(repo: Repository, *, no_auth: bool = False,
               config: ServerConfig | None = None) -> FastAPI:
    """The HTTP API (``/api``), the web UI (``/ui``) and the OpenAPI document
    (``/openapi.json``, browsable at ``/docs``) for one repository."""
    from . import routes_admin, routes_api, routes_history, routes_kv, routes_watch, ui

    config = config or ServerConfig()
    config.no_auth = no_auth or config.no_auth
    auth.ensure_tables(repo.database)
    app = FastAPI(
        title="palimpsest", version=__version__,
        description="A versioned database for knowledge graphs and JSON documents. "
                    "Authenticate with 'Authorization: Bearer <token>'.",
        dependencies=[Depends(inputs.check_numbers)],
    )
    app.state.repo = repo
    app.state.config = config
    app.add_middleware(inputs.StrictInput)  # inside BodyLimit, which bounds what it reads
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)

    @app.exception_handler(PalimpsestError)
    async def _palimpsest_error(request: Request, exc: PalimpsestError) -> Response:
        if request.url.path.startswith("/ui") and not request.url.path.startswith("/ui/static"):
            return ui.error_page(request, exc, status_for(exc))
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return JSONResponse(palimpsest_error_body(exc), status_for(exc), headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return JSONResponse(error_body(exc.code, exc.message), exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            first = next(e for e in errors if e.get("type") == "json_invalid")
            detail = first.get("ctx", {}).get("error", "")
            return JSONResponse(error_body("malformed_json", f"the request body is not valid "
                                           f"JSON: {detail}".rstrip(": ")), 400)
        details = [{"loc": [str(p)[:100] for p in e.get("loc", ())],
                    "message": str(e.get("msg", ""))} for e in errors]
        summary = "; ".join(f"{'.'.join(d['loc'])}: {d['message']}" for d in details[:5])
        # a parameter (query string, path, header, cookie) or the body's content
        in_body = not details or (details[0]["loc"][:1] or ["body"])[0] == "body"
        return JSONResponse(error_body("invalid_request" if in_body else "invalid_parameter",
                                       summary, details=details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            return JSONResponse(error_body("malformed_json",
                                           inputs.body_error_message(exc.__cause__)), 400)
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code,
                            headers=getattr(exc, "headers", None))

    app.include_router(routes_api.router)
    app.include_router(routes_history.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_kv.router)
    app.include_router(routes_watch.router)
    ui.install(app)
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(repo_url: str, *, host: str = "127.0.0.1", port: int = 8000,
          no_auth: bool = False) -> None:
    """Run the server (one uvicorn worker) until interrupted.

    ``no_auth`` gives every caller the admin role: it is refused unless ``host`` is a
    loopback address, and a warning is printed.
    """
    import uvicorn

    import palimpsest

    if no_auth and not is_loopback(host):
        raise InvalidValue(f"--no-auth is only allowed on a loopback host (127.0.0.1, ::1, "
                           f"localhost), not {host!r}: anyone who can reach the server could "
                           "change the repository")
    repo = palimpsest.open(repo_url)
    app = create_app(repo, no_auth=no_auth)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    if no_auth:
        print("WARNING: authentication is off (--no-auth): every local caller is an admin",
              file=sys.stderr)
    elif not auth.has_tokens(repo.database):
        print("No tokens yet: create one with\n"
              "  palimpsest token create --user YOU --role admin\n"
              "and log in with it.", file=sys.stderr)
    print(f"palimpsest serving {repo.url} at {url}", file=sys.stderr, flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        repo.close()
