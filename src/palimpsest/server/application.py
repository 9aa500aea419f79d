"""The FastAPI application: the routes, the web UI and the error handlers put together
(:func:`create_app`), and :func:`serve`. Shared request context, limits and error bodies live
in :mod:`.app`, which the route modules import."""

from __future__ import annotations

import sys

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import InvalidValue, PalimpsestError
from ..repository import Repository
from . import (
    auth,
    inputs,
    routes_admin,
    routes_api,
    routes_cypher,
    routes_history,
    routes_kv,
    routes_schemas,
    routes_search,
    routes_sparql,
    routes_sync,
    routes_watch,
    routes_webhooks,
    ui,
    webhooks,
)
from .app import (
    ApiError,
    BodyLimit,
    LockWait,
    ServerConfig,
    error_body,
    error_headers,
    is_loopback,
    palimpsest_error_body,
    status_for,
)
from .routes_manage import router as manage_router
from .routes_mr import router as merge_requests_router
from .ui_review import install as install_review_pages


def create_app(repo: Repository, *, no_auth: bool = False,
               config: ServerConfig | None = None) -> FastAPI:
    """The HTTP API (``/api``), the web UI (``/ui``) and the OpenAPI document
    (``/openapi.json``, browsable at ``/docs``) for one repository."""
    config = config or ServerConfig()
    config.no_auth = no_auth or config.no_auth
    auth.ensure_tables(repo.database)
    dispatcher = webhooks.install(repo, attempts=config.webhook_attempts,
                                  backoff_seconds=config.webhook_backoff_seconds)
    app = FastAPI(
        title="palimpsest", version=__version__,
        description="A versioned database for knowledge graphs and JSON documents. "
                    "Authenticate with 'Authorization: Bearer <token>'.",
        dependencies=[Depends(inputs.check_numbers)],
    )
    app.state.repo = repo
    app.state.config = config
    app.state.webhooks = dispatcher
    app.state.auth_cache = {}
    app.add_middleware(inputs.StrictInput)  # inside BodyLimit, which bounds what it reads
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    app.add_middleware(LockWait, seconds=config.lock_wait_seconds,
                       writers=config.max_concurrent_writes)

    @app.exception_handler(PalimpsestError)
    async def _palimpsest_error(request: Request, exc: PalimpsestError) -> Response:
        if request.url.path.startswith("/ui") and not request.url.path.startswith("/ui/static"):
            # the page reads the repository: not on the event loop
            return await run_in_threadpool(ui.error_page, request, exc, status_for(exc))
        return JSONResponse(palimpsest_error_body(exc), status_for(exc),
                            headers=error_headers(exc))

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
    app.include_router(routes_schemas.router)
    app.include_router(routes_watch.router)
    app.include_router(merge_requests_router)
    install_review_pages(app)
    app.include_router(manage_router)
    app.include_router(routes_search.router)
    app.include_router(routes_sparql.router)
    app.include_router(routes_cypher.router)
    app.include_router(routes_webhooks.router)
    app.include_router(routes_sync.router)
    ui.install(app)
    return app


def serve(repo_url: str, *, host: str = "127.0.0.1", port: int = 8000,
          no_auth: bool = False, config: ServerConfig | None = None) -> None:
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
    app = create_app(repo, no_auth=no_auth, config=config)
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
