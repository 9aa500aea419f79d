"""The SPARQL 1.1 Protocol at ``/sparql`` (docs/sparql.md, "Over HTTP"), and the SQL a query
compiles to at ``/api/sparql/explain``.

``GET /sparql?query=...`` and ``POST /sparql`` (a form with ``query=``, or the query itself as
``application/sparql-query``) answer at ``ref`` (default: the current branch), so standard
clients (SPARQLWrapper, rdflib's SPARQLStore) work unchanged. The answer's format follows the
``Accept`` header (or a ``format`` parameter): SPARQL results as JSON, XML, CSV or TSV; the
triples of a CONSTRUCT or DESCRIBE as N-Triples, Turtle or RDF/XML. A query that does not
parse, or uses a construct palimpsest does not run, is 400 (the protocol's "malformed
query") with the usual error body; one that runs past ``max_query_seconds`` is 422
``query_timeout``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from .. import wire
from ..errors import InvalidValue, QuerySyntaxError, UnsupportedQuery
from .app import ApiError, Caller, RefParam, get_config, get_repo, palimpsest_error_body

router = APIRouter()

RESULTS = {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
           "csv": "text/csv; charset=utf-8", "tsv": "text/tab-separated-values; charset=utf-8"}
GRAPHS = {"nt": "application/n-triples", "ttl": "text/turtle; charset=utf-8",
          "rdf": "application/rdf+xml"}
_ACCEPT = {
    "application/sparql-results+json": "json", "application/json": "json",
    "application/sparql-results+xml": "xml", "application/xml": "xml", "text/xml": "xml",
    "text/csv": "csv", "text/tab-separated-values": "tsv",
    "application/n-triples": "nt", "text/plain": "nt", "text/turtle": "ttl",
    "application/x-turtle": "ttl", "application/rdf+xml": "rdf",
}
_GRAPH_OF = {"json": "nt", "xml": "rdf", "csv": "nt", "tsv": "nt"}

QueryParam = Annotated[str | None, Query(description="The SPARQL query (GET, or POST as a "
                                                     "form field).")]
PrefixesParam = Annotated[str | None, Query(
    description='Extra prefixes as a JSON object, e.g. {"ex": "http://example.org/"}: which '
                "IRI each name stands for (as for RDF export) and declared for the query.")]
FormatParam = Annotated[str | None, Query(
    description="json, xml, csv, tsv (results) or nt, ttl, rdf (triples); overrides Accept.")]
TimeoutParam = Annotated[float | None, Query(
    gt=0, description="Seconds before the query stops (at most the server's limit).")]


def _wanted(accept: str | None, format: str | None) -> list[str]:
    """Formats the client accepts, best first (``format`` wins over ``Accept``)."""
    if format:
        name = format.lower()
        if name not in RESULTS and name not in GRAPHS:
            raise ApiError(400, "bad_request", f"unknown format {format!r}; use one of "
                           f"{', '.join([*RESULTS, *GRAPHS])}")
        return [name]
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate((accept or "").split(",")):
        media, *params = [p.strip() for p in item.split(";")]
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        found = _ACCEPT.get(media.lower())
        if found is not None and q > 0 and math.isfinite(q):
            ranked.append((-q, i, found))
    return [name for _, _, name in sorted(ranked)]


def _answer(answer: Any, wanted: list[str]) -> Response:
    from ..query.sparql import Solutions
    from ..query.sparql_results import serialize_boolean

    if isinstance(answer, bool):
        fmt = next((f for f in wanted if f in ("json", "xml")), "json")
        return Response(serialize_boolean(answer, fmt), media_type=RESULTS[fmt])
    if isinstance(answer, Solutions):
        fmt = next((f for f in wanted if f in RESULTS), "json")
        return Response(answer.serialize(fmt), media_type=RESULTS[fmt])
    fmt = next((f if f in GRAPHS else _GRAPH_OF[f] for f in wanted), "nt")
    return Response(answer.serialize(fmt), media_type=GRAPHS[fmt])


def _prefixes(text: str | None) -> dict[str, str] | None:
    if text is None or not text.strip():
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"'prefixes' is not valid JSON: {exc}") from exc
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidValue("'prefixes' must be a JSON object of namespace IRIs, e.g. "
                           '{"ex": "http://example.org/"}')
    return value


def _run(request: Request, text: str | None, ref: str | None, prefixes: str | None,
         timeout: float | None, wanted: list[str]) -> Response:
    if text is None or not text.strip():
        raise ApiError(400, "bad_request", "give the SPARQL query as 'query' (GET or a POST "
                       "form) or as the body of a POST with type application/sparql-query")
    repo = get_repo(request)
    limit = get_config(request).max_query_seconds
    view = repo.at(ref)
    try:
        with repo.database.deadline(limit):
            answer = view.sparql(text, prefixes=_prefixes(prefixes), timeout=timeout)
    except (QuerySyntaxError, UnsupportedQuery) as exc:  # the protocol's "malformed query"
        return JSONResponse(palimpsest_error_body(exc), 400)
    return _answer(answer, wanted)


@router.get("/sparql", operation_id="sparql", response_class=Response,
            responses={200: {"content": {m: {} for m in [*RESULTS.values(), *GRAPHS.values()]},
                             "description": "SPARQL results, or triples"}})
def sparql_get(request: Request, principal: Caller, query: QueryParam = None,
               ref: RefParam = None, prefixes: PrefixesParam = None,
               format: FormatParam = None, timeout: TimeoutParam = None) -> Response:
    """A SPARQL 1.1 query (SELECT, ASK, CONSTRUCT, DESCRIBE) at a ref: the SPARQL 1.1
    Protocol, answer format by content negotiation."""
    return _run(request, query, ref, prefixes, timeout,
                _wanted(request.headers.get("accept"), format))


@router.post("/sparql", operation_id="sparql_post", response_class=Response,
             openapi_extra={"requestBody": {"content": {
                 "application/x-www-form-urlencoded": {"schema": {
                     "type": "object", "properties": {"query": {"type": "string"}}}},
                 "application/sparql-query": {"schema": {"type": "string"}}}}})
async def sparql_post(request: Request, principal: Caller, query: QueryParam = None,
                      ref: RefParam = None, prefixes: PrefixesParam = None,
                      format: FormatParam = None, timeout: TimeoutParam = None) -> Response:
    """The same, POSTed: a form (``query``, and optionally ``ref``, ``prefixes``, ``format``)
    or the query itself with type ``application/sparql-query``."""
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text_body = body.decode()
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "the request body is not UTF-8") from None
    if kind == "application/sparql-query":
        query = text_body
    elif kind == "application/x-www-form-urlencoded":
        form = parse_qs(text_body, keep_blank_values=True)

        def field(name: str, given: str | None) -> str | None:
            values = form.get(name)
            return values[-1] if values else given

        query, ref = field("query", query), field("ref", ref)
        prefixes, format = field("prefixes", prefixes), field("format", format)
    elif body:
        raise ApiError(415, "unsupported_media_type", f"POST /sparql takes a form "
                       "(application/x-www-form-urlencoded) or application/sparql-query, not "
                       f"{kind or 'no content type'}")
    wanted = _wanted(request.headers.get("accept"), format)
    return await run_in_threadpool(_run, request, query, ref, prefixes, timeout, wanted)


class ShaclIn(BaseModel):
    shapes: str = Field(description="the SHACL shapes graph as RDF text")
    format: str | None = Field(None, description="an rdflib format name (default: turtle)")
    ref: str | None = None
    prefixes: dict[str, str] | None = Field(None, description="bare names -> IRIs, as for "
                                                             "RDF export")


@router.post("/api/shacl", operation_id="validate_shacl")
def validate_shacl(body: ShaclIn, request: Request, principal: Caller) -> Any:
    """Validate the RDF graph of a version against SHACL shapes (pySHACL): a report with
    ``conforms`` and every result (docs/validation.md)."""
    return wire.encode(get_repo(request).validate_shacl(
        body.shapes, ref=body.ref, format=body.format, prefixes=body.prefixes))


@router.get("/api/sparql/explain", operation_id="sparql_explain")
def sparql_explain(request: Request, principal: Caller, query: QueryParam = None,
                   ref: RefParam = None, prefixes: PrefixesParam = None) -> Any:
    """The SQL a SPARQL query compiles to at a ref (``?`` placeholders); a query that does
    not parse or is not supported is 400, as at ``/sparql``."""
    if query is None or not query.strip():
        raise ApiError(400, "bad_request", "give the SPARQL query as 'query'")
    try:
        return {"sql": get_repo(request).at(ref).sparql_explain(query,
                                                                prefixes=_prefixes(prefixes))}
    except (QuerySyntaxError, UnsupportedQuery) as exc:
        return JSONResponse(palimpsest_error_body(exc), 400)
