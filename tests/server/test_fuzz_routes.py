"""Fuzzing every route of the HTTP server (issue 12, point 4): whatever the path segments,
query parameters, headers and body, the answer is never a 5xx (except a 503 for a busy
database), and every error is ``{"error": {"code", "message"}}`` with a ``code`` that
docs/server.md lists.

Routes come from the FastAPI application itself (their declared parameters from its OpenAPI
document), so a new route is fuzzed without touching this file.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest.server import ServerConfig, create_app
from palimpsest.server.auth import create_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.routing import APIRoute
    from fastapi.testclient import TestClient

DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"
BUSY = {"lock_timeout", "database_unavailable"}  # the documented 503s


def documented_codes() -> dict[str, int]:
    """``code -> status`` from the error table of docs/server.md."""
    text = DOCS.read_text()
    table = text[text.index("## Errors and limits"):text.index("## HTTP API")]
    codes: dict[str, int] = {}
    for line in table.splitlines():
        match = re.match(r"\| (\d{3}) \|.*\|([^|]*)\|\s*$", line)
        if match:
            for code in re.findall(r"`([a-z_]+)`", match.group(2)):
                codes.setdefault(code, int(match.group(1)))
    return codes


CODES = documented_codes()


def test_every_error_class_is_documented() -> None:
    import palimpsest.errors as errors

    classes = [c for c in vars(errors).values() if isinstance(c, type)
               and issubclass(c, errors.PalimpsestError) and c is not errors.PalimpsestError]
    assert {c.code for c in classes} <= set(CODES), set(c.code for c in classes) - set(CODES)
    assert {"malformed_json", "invalid_encoding", "invalid_request", "invalid_parameter",
            "payload_too_large", "batch_too_large", "method_not_allowed"} <= set(CODES)


# -- the server under test -----------------------------------------------------------------
class Target:
    def __init__(self, tmp: Path) -> None:
        self.repo = palimpsest.open(str(tmp / "fuzz.db"), author="seed@example.com")
        app = create_app(self.repo, config=ServerConfig(
            max_body_bytes=32 * 1024, max_batch=20, watch_poll_seconds=0.01,
            max_query_seconds=2.0))
        self.app = app
        self.client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
        self.tokens = {role: create_token(self.repo, f"fuzz-{role}", role)
                       for role in ("admin", "writer", "reader")}
        repo = self.repo
        with repo.transaction("seed") as tx:
            tx.put_entity("ada", "Person", {"name": "Ada", "born": 1815})
            tx.put_entity("bob", "Person", {"name": "Bob"})
            tx.put_relation("k1", "KNOWS", "ada", "bob", {"since": 1833})
            tx.put_document("notes", "n1", {"text": "hello", "tags": ["a"]})
        repo.tag("v1")
        repo.create_text_index("Person", fields=["name"])  # search and similar find things
        repo.create_vector_index("Person", "v", dimensions=2, kind="entity")
        repo.update_entity("bob", {"v": [0.5, 1]})
        repo.create_branch("side")
        repo.put_entity("carl", "Person", branch="side")
        repo.kv.set("/config/a", b"1")
        self.routes = self._routes()

    def _routes(self) -> list[tuple[str, str, list[tuple[str, str, dict[str, Any]]], list[str]]]:
        """(method, path format, [(in, name, schema)] declared parameters, body fields)."""
        spec = self.app.openapi()
        schemas = spec.get("components", {}).get("schemas", {})
        out = []
        for path, methods in api_routes(self.app.routes):
            for method in sorted(methods - {"HEAD"}):
                operation = spec["paths"].get(path, {}).get(method.lower(), {})
                params = [(p["in"], p["name"], p.get("schema", {}))
                          for p in operation.get("parameters", [])]
                if not operation:  # the web UI is not in the OpenAPI document
                    params = [("query", n, {}) for n in ("ref", "branch", "a", "b", "page", "q",
                                                         "since", "until", "source", "into",
                                                         "base", "next")]
                    params += [("path", n, {}) for n in re.findall(r"{(\w+)}", path)]
                fields: list[str] = []
                body = operation.get("requestBody", {}).get("content", {})
                ref = body.get("application/json", {}).get("schema", {}).get("$ref", "")
                if ref:
                    fields = list(schemas.get(ref.rsplit("/", 1)[-1], {})
                                  .get("properties", {}))
                out.append((method, path, params, fields))
        return out


def api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path format, methods) of every APIRoute, also inside included routers (FastAPI 0.120+
    keeps them there instead of copying them into ``app.routes``)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path_format, set(route.methods)
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from api_routes(inner.routes, prefix + getattr(context, "prefix", ""))


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    found = Target(tmp_path_factory.mktemp("fuzz-routes"))
    with found.client:
        yield found
    found.repo.close()


# -- inputs --------------------------------------------------------------------------------
ANY_CHAR = st.characters(exclude_categories=[])
KNOWN = ["ada", "bob", "k1", "carl", "notes", "n1", "main", "side", "v1", "HEAD", "HEAD~1",
         "main^", "deadbeef", "2024-01-01", "main@2024-01-01", "0" * 64, "/config/a",
         "/config/*", "release/*", "*", "main~" + "9" * 5000, "main~" + "9" * 19, "0", "-1",
         "1", str(2**63 - 1), str(2**63), "9" * 30, "nan", "inf", "-inf", "1e400", "1.5",
         " 7 ", "", "true", '{"name": "Ada"}', '{"a": NaN}', "[" * 2000, '{"a": 1e999}',
         "json", "json-patch", "entity", "relation", "document", "kv", "out", "both"]
text = st.one_of(st.sampled_from(KNOWN), st.text(ANY_CHAR, max_size=12),
                 st.integers(-(2**70), 2**70).map(str), st.floats().map(str))
raw_bytes = st.binary(min_size=1, max_size=6).map(
    lambda b: "".join(f"%{x:02X}" for x in b))  # percent-encoded, maybe not UTF-8


def encoded(value: str) -> str:
    try:
        return quote(value, safe="")
    except UnicodeEncodeError:  # a lone surrogate: send its bytes as Python would
        return quote(value.encode("utf-8", "surrogatepass"), safe="")


known = st.sampled_from(KNOWN).map(encoded)
clean_value = st.one_of(known, known, known, text.map(encoded))  # mostly meaningful
url_value = st.one_of(clean_value, clean_value, raw_bytes)
json_value: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
              st.floats(allow_nan=False, allow_infinity=False), st.text(ANY_CHAR, max_size=10),
              st.sampled_from(KNOWN[:20])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
bad_json = st.sampled_from([
    b"", b"{", b"[", b"null", b"{}", b"[]", b"NaN", b'{"a": Infinity}', b'{"x": 1e999}',
    b'{"name": "\xff"}', b'{"name": "\\ud800"}', b"\xef\xbb\xbf{}", '{"a": 1}'.encode("utf-16"),
    b"[" * 3000 + b"]" * 3000, b'{"ops": [' + b"[" * 900 + b"]" * 900 + b"]}",
    b'{"n": ' + b"9" * 5000 + b"}", b"\x00", b"123", b'"text"'])
content_types = st.sampled_from(["application/json", "application/json", None, "text/plain",
                                 "application/x-www-form-urlencoded",
                                 "application/json; charset=latin-1", "application/x+json",
                                 "multipart/form-data; boundary=x", "\xff/\xfe"])
header_bytes = st.one_of(st.binary(max_size=12).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")),
    st.sampled_from([b"1", b"0", b"\xb2", b"99999999999999999999", b"9" * 5000, b"-1"]))


def kinds(schema: dict[str, Any]) -> set[str]:
    return {k for k in [schema.get("type"), *(o.get("type") for o in schema.get("anyOf", []))]
            if isinstance(k, str)}


def typed(schema: dict[str, Any], anything: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Values for one parameter: mostly of its declared type, sometimes anything."""
    found = kinds(schema)
    enum = [v for o in [schema, *schema.get("anyOf", [])] for v in o.get("enum", [])]
    if enum:
        good: st.SearchStrategy[str] = st.sampled_from([str(v) for v in enum])
    elif "integer" in found:
        good = st.one_of(st.integers(-2, 40).map(str), st.sampled_from(
            ["0", str(2**63 - 1), str(2**63), "9" * 30, "9" * 5000, "1.0", "1e3", " 5 "]))
    elif "number" in found:
        good = st.sampled_from(["0.01", "1", "nan", "inf", "-1", "1e400", "0"])
    elif "boolean" in found:
        good = st.sampled_from(["true", "false", "1", "maybe"])
    else:
        return anything
    return st.one_of(good, good, good, anything)


# bodies that pass validation, so the fuzzed field reaches the route's logic
BODIES: dict[str, list[dict[str, Any]]] = {
    "/api/transaction": [{"ops": [{"op": "put_entity", "id": "f1", "type": "T",
                                   "props": {"n": 1}}]},
                         {"ops": [{"op": "put_relation", "id": "fr", "type": "R",
                                   "source": "ada", "target": "bob"}], "branch": "side"}],
    "/api/entities/{id}": [{"type": "T", "props": {"n": 1}}, {"props": {"name": None}}],
    "/api/relations/{id}": [{"type": "R", "source": "ada", "target": "bob"}],
    "/api/documents/{collection}/{key}": [{"value": {"a": 1}}],
    "/api/branches": [{"name": "fz", "from": "main~1"}],
    "/api/tags": [{"name": "fz-tag", "ref": "main"}],
    "/api/checkout": [{"name": "main"}],
    "/api/merge": [{"source": "side", "into": "main", "strategy": "ours"}],
    "/api/cherry-pick": [{"commit": "side", "onto": "main", "strategy": "theirs"}],
    "/api/revert": [{"commit": "main"}],
    "/api/rollback": [{"ref": "main~1"}],
    "/api/kv/entry": [{"key": "/config/a", "json": 2}, {"key": "/k", "value": "eA==",
                                                         "expected_version": 1}],
    "/api/kv/transaction": [{"ops": [{"op": "check_version", "key": "/config/a",
                                      "version": 1}, {"op": "set", "key": "/b",
                                                      "json": [1]}]}],
    "/api/query": [{"target": "Person", "where": {"name": "Ada"}, "limit": 5, "offset": 0}],
    "/api/aggregate": [{"target": "Person", "group_by": "name"}],
    "/api/tokens": [{"user": "fz", "role": "reader"}],
    "/api/protection/{pattern}": [{"mergers": ["bob"]}],
}


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def requests(draw: st.DrawFn, target: Target) -> tuple[str, str, dict[str, Any], bytes | None]:
    method, path, params, fields = draw(st.sampled_from(target.routes))
    value = url_value if draw(st.integers(0, 9)) == 0 else clean_value  # rarely not UTF-8
    url = path
    for name in re.findall(r"{(\w+)}", path):
        segment = draw(value)
        url = url.replace("{" + name + "}", segment or "x")
    streaming = path.endswith("/watch")
    pairs = []
    for where, name, schema in params:
        if where == "query" and draw(st.booleans()) and not (streaming and name == "timeout"):
            pairs.append(f"{encoded(name)}={draw(typed(schema, value))}")
    if draw(st.integers(0, 6)) == 0:  # an undeclared or odd-looking parameter
        pairs.append(f"{draw(value)}={draw(value)}")
    if streaming:
        pairs.append("timeout=0.02")
    if pairs:
        url += "?" + "&".join(pairs)
    who = draw(st.sampled_from(["admin"] * 12 + ["writer", "writer", "reader", "none",
                                                   "garbage"]))
    headers: dict[str, Any] = {}
    if who in target.tokens and path.startswith("/ui"):
        headers["Cookie"] = f"palimpsest_token={target.tokens[who]}"  # the UI's login
    elif who in target.tokens:
        headers["Authorization"] = f"Bearer {target.tokens[who]}"
    elif who == "garbage":
        headers["Authorization"] = b"Bearer " + draw(header_bytes)
    if draw(st.integers(0, 3)) == 0:
        headers["Last-Event-ID"] = draw(header_bytes)
    if draw(st.integers(0, 9)) == 0:
        headers["Cookie"] = b"palimpsest_token=" + draw(header_bytes)
    body: bytes | None = None
    if method in ("POST", "PUT", "PATCH"):
        keys = st.sampled_from(fields or ["name", "value"])
        shaped = st.dictionaries(keys, json_value, max_size=len(fields) or 2)
        templates = BODIES.get(path, [])
        if templates and draw(st.integers(0, 2)):  # mostly: a valid body, one field fuzzed
            template = dict(draw(st.sampled_from(templates)))
            if draw(st.booleans()):
                template[draw(keys)] = draw(st.one_of(json_value, st.sampled_from(KNOWN)))
            choice = dumps(template)
        else:
            choice = draw(st.one_of(shaped.map(dumps), bad_json, json_value.map(dumps)))
        body = choice
        content_type = draw(st.one_of(st.just("application/json"), content_types))
        if content_type is not None:
            headers["Content-Type"] = content_type.encode("latin-1")
    return method, url, headers, body


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_every_route(target: Target, data: st.DataObject) -> None:
    method, url, headers, body = data.draw(requests(target))
    response = target.client.request(method, url, headers=headers, content=body)
    status = response.status_code
    is_json = response.headers.get("content-type", "").startswith("application/json")
    if status >= 500:
        assert status == 503 and is_json and response.json()["error"]["code"] in BUSY, (
            method, url[:300], headers, (body or b"")[:300], status, response.text[:500])
    if status >= 400 and (is_json or url.startswith("/api")):
        error = response.json()["error"]
        assert set(response.json()) == {"error"}
        assert isinstance(error["message"], str) and isinstance(error["code"], str)
        assert error["code"] in CODES, (method, url[:200], status, error)
        assert CODES[error["code"]] == status or error["code"] in ("not_found", "storage"), (
            method, url[:200], status, error)


def test_the_fuzzer_reaches_every_route(target: Target) -> None:
    paths = {path for _, path, _, _ in target.routes}
    assert {"/api/entities/{id}", "/api/watch", "/api/kv/watch", "/api/transaction",
            "/api/branches", "/ui/log"} <= paths
    assert len(target.routes) >= 50
