"""What arrives over HTTP is checked before a route runs, so bad input gets a documented 4xx
error and never a 500, and nothing is silently altered:

* the path and the query string must be valid UTF-8 once percent-decoded (400
  ``invalid_encoding``): the server would otherwise replace bad bytes by U+FFFD and store ids
  nobody sent;
* a JSON request body must be strict JSON (400 ``malformed_json``): UTF-8 without a byte-order
  mark, no lone surrogates, no ``NaN`` or ``Infinity``, numbers a double can hold, nested at
  most 1,024 levels;
* integer parameters (query string, headers) must fit in 64 bits and number parameters must be
  finite (422 ``invalid_parameter``), whatever the route does with them;
* ``Last-Event-ID`` must be a commit seq (:func:`resume_after`).
"""

from __future__ import annotations

import email.message
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from fastapi import Request
from pydantic import TypeAdapter, ValidationError

from ..codec import show_number
from ..errors import InvalidParameter

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_INT = TypeAdapter(int)
_FLOAT = TypeAdapter(float)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _error(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


async def _respond(send: Send, status: int, code: str, message: str) -> None:
    body = _error(code, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def encoding_problem(scope: Scope) -> str | None:
    """Why the request's path or query string is not valid UTF-8 (None when it is)."""
    raw_path = scope.get("raw_path")
    if raw_path is not None:
        try:
            unquote_to_bytes(raw_path).decode("utf-8")
        except UnicodeDecodeError as exc:
            return (f"the path is not valid UTF-8 once percent-decoded (byte "
                    f"{exc.object[exc.start]:#04x} at position {exc.start}): {exc.reason}")
    elif not str(scope.get("path", "")).isascii():
        try:
            str(scope["path"]).encode("utf-8")
        except UnicodeEncodeError:
            return "the path is not valid UTF-8 (it contains a lone surrogate)"
    for part in bytes(scope.get("query_string", b"")).split(b"&"):
        for piece in part.split(b"=", 1):
            try:
                unquote_to_bytes(piece.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError as exc:
                name = part.split(b"=", 1)[0].decode("ascii", "replace")
                return (f"query parameter {name[:40]!r} is not valid UTF-8 once "
                        f"percent-decoded: {exc.reason}")
    return None


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body with this Content-Type as JSON (it does without one)."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def json_problem(body: bytes) -> str | None:
    """Why ``body`` is not strict JSON (None when it is)."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return str(exc)
    return None


class StrictInput:
    """ASGI middleware: refuse a path or query string that is not UTF-8 (400
    ``invalid_encoding``) and a JSON body under ``/api`` that is not strict JSON (400
    ``malformed_json``) before any route sees them. Install it inside ``BodyLimit``, which
    bounds the body it reads."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = encoding_problem(scope)
        if problem is not None:
            await _respond(send, 400, "invalid_encoding", problem)
            return
        if scope["method"] not in _BODY_METHODS or not str(scope["path"]).startswith("/api"):
            await self.app(scope, receive, send)
            return
        content_type = next((v.decode("latin-1") for k, v in scope["headers"]
                             if k == b"content-type"), None)
        if not is_json(content_type):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = json_problem(body) if body else None
        if problem is not None:
            await _respond(send, 400, "malformed_json",
                           f"the request body is not valid JSON: {problem}")
            return
        await self.app(scope, replaying(body, receive), send)


def replaying(body: bytes, receive: Receive) -> Receive:
    """An ASGI ``receive`` that hands the app ``body`` (already read by a middleware) first,
    then whatever ``receive`` says next (a disconnect)."""
    sent = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def body_error_message(cause: BaseException | None) -> str:
    """The reason FastAPI could not parse a body (its own message says only that)."""
    if isinstance(cause, RecursionError):
        return "the request body is not valid JSON: nested too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return f"the request body is not valid JSON: not UTF-8 ({cause.reason})"
    if cause is not None:
        return f"the request body is not valid JSON: {str(cause)[:200]}"
    return "the request body is not valid JSON"


# -- numeric parameters ----------------------------------------------------------------------
def _kinds(schema: dict[str, Any]) -> set[str]:
    found = {schema.get("type")}
    found.update(option.get("type") for option in schema.get("anyOf", []))
    return {kind for kind in found if isinstance(kind, str)}


def numeric_parameters(openapi: dict[str, Any]) -> dict[tuple[str, str], list[
        tuple[str, str, str]]]:
    """``(method, path) -> [(in, name, "integer" | "number")]`` from an OpenAPI document."""
    out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                kinds = _kinds(parameter.get("schema", {}))
                kind = "integer" if "integer" in kinds else "number" if "number" in kinds \
                    else None
                if kind is not None:
                    out.setdefault((method.upper(), path), []).append(
                        (parameter["in"], parameter["name"], kind))
    return out


def _check_number(where: str, name: str, kind: str, raw: str) -> None:
    try:
        value = _INT.validate_python(raw) if kind == "integer" else _FLOAT.validate_python(raw)
    except ValidationError:
        return  # FastAPI's own validation reports it (422 invalid_parameter)
    if isinstance(value, int) and not _INT_MIN <= value <= _INT_MAX:
        raise InvalidParameter(f"{where} parameter {name!r} is {show_number(value)}; it must "
                               f"be between -2**63 and 2**63 - 1")
    if not math.isfinite(value):
        raise InvalidParameter(f"{where} parameter {name!r} must be a finite number, not "
                               f"{raw[:40]!r}")


async def check_numbers(request: Request) -> None:
    """An app-wide dependency: integer parameters fit in 64 bits, numbers are finite (422
    ``invalid_parameter``), so no route can overflow SQL integers or loop on NaN."""
    route = request.scope.get("route")
    path = getattr(route, "path_format", None)
    if path is None:
        return
    table: dict[tuple[str, str], list[tuple[str, str, str]]] | None = getattr(
        request.app.state, "numeric_parameters", None)
    if table is None:
        table = request.app.state.numeric_parameters = numeric_parameters(
            request.app.openapi())
    for where, name, kind in table.get((request.method, path), ()):
        if where == "query":
            values = request.query_params.getlist(name)
        elif where == "header":
            values = request.headers.getlist(name)
        else:
            values = [str(request.path_params[name])] if name in request.path_params else []
        for raw in values:
            _check_number(where, name, kind, raw)


def resume_after(last_event_id: str | None, since: int | None) -> int | None:
    """The seq a watch stream resumes after: ``Last-Event-ID`` (ASCII digits, at most
    2**63 - 1) when given, else ``since``."""
    if last_event_id is None:
        return since
    text = last_event_id.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > _INT_MAX:
        raise InvalidParameter(f"Last-Event-ID must be a commit seq (decimal digits, at most "
                               f"2**63 - 1), not {text[:40]!r}")
    return int(text)
