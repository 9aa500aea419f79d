"""The ``sparql`` command: a SPARQL 1.1 query at any ref (docs/sparql.md), on a local
repository or a server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import (
    EXIT_USAGE,
    JsonOpt,
    RefOpt,
    app,
    echo,
    emit_json,
    err,
    fail,
    open_repo,
    table,
    wants_json,
)
from .data import PrefixOpt, _prefixes

SparqlFormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", help="table (default on a terminal), json, xml, csv, tsv; for "
                           "CONSTRUCT / DESCRIBE: nt (default), ttl, rdf.")]


QueryArg = Annotated[str, typer.Argument(help="The query, @FILE to read it from a file, or - "
                                             "for standard input.")]
ExplainOpt = Annotated[bool, typer.Option("--explain", help="Print the SQL the query compiles "
                                                            "to instead.")]
TimeoutOpt = Annotated[float | None, typer.Option("--timeout", help="Stop after this many "
                                                                    "seconds.")]


def _query_text(query: str) -> str:
    """The query itself, ``@file`` (read that file) or ``-`` (read standard input)."""
    if query == "-":
        return sys.stdin.read()
    if query.startswith("@"):
        try:
            return Path(query[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"cannot read the query file {query[1:]!r}: {exc.strerror}", code=EXIT_USAGE)
    return query


def _cell(term: Any) -> str:
    if term is None:
        return ""
    value: str = term.value
    datatype = getattr(term, "datatype", None)
    if getattr(term, "language", None):
        return f"{value}@{term.language}"
    if datatype is not None and not datatype.value.endswith("#string"):
        return f"{value} ({datatype.value.rsplit('#', 1)[-1]})"
    if type(term).__name__ == "BlankNode":
        return "_:" + value
    return value


@app.command()
def sparql(
    ctx: typer.Context,
    query: QueryArg,
    ref: RefOpt = None,
    format: SparqlFormatOpt = None,
    prefix: PrefixOpt = None,
    explain: ExplainOpt = False,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Answer a SPARQL 1.1 query (SELECT, ASK, CONSTRUCT, DESCRIBE) at any ref.

    Examples:

      palimpsest sparql 'SELECT ?s ?name WHERE { ?s schema:name ?name } LIMIT 5' --ref v1.0

      palimpsest sparql @query.rq --format csv > answers.csv

      palimpsest sparql 'CONSTRUCT { ?c rdfs:label ?l } WHERE { ?c a rdfs:Class ; rdfs:label ?l }' --format ttl
    """
    repo = open_repo(ctx)
    text = _query_text(query)
    prefixes = _prefixes(prefix)
    view = repo.at(ref)
    if explain:
        echo(view.sparql_explain(text, prefixes=prefixes))
        return
    answer = view.sparql(text, prefixes=prefixes, timeout=timeout)
    fmt = (format or ("json" if wants_json(ctx, json_out) else "table")).lower()
    if isinstance(answer, bool):
        if fmt == "table":
            echo("yes" if answer else "no")
            return
        from ..query.sparql_results import serialize_boolean
        sys.stdout.buffer.write(serialize_boolean(answer, fmt))
        return
    if not hasattr(answer, "variables"):  # triples
        sys.stdout.buffer.write(answer.serialize("nt" if fmt == "table" else fmt,
                                                 prefixes=prefixes))
        return
    if fmt != "table":
        sys.stdout.buffer.write(answer.serialize(fmt))
        if fmt == "json":
            sys.stdout.write("\n")
        return
    table(answer.variables, [[_cell(t) for t in row] for row in answer])
    err(f"{len(answer)} result(s)", "dim")


@app.command()
def shacl(
    ctx: typer.Context,
    shapes: Annotated[Path, typer.Argument(help="SHACL shapes file (Turtle unless --format).",
                                           exists=True, dir_okay=False)],
    ref: RefOpt = None,
    format: Annotated[str | None, typer.Option(
        "--format", help="rdflib format of the shapes file (default: turtle).")] = None,
    prefix: PrefixOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Validate the RDF graph of a version against SHACL shapes (pySHACL); exits 1 when it
    does not conform.

    Example:

      palimpsest shacl shapes.ttl --ref v28.0

      palimpsest shacl shapes.ttl --prefix =http://example.org/
    """
    repo = open_repo(ctx)
    report = repo.validate_shacl(shapes, ref=ref, format=format, prefixes=_prefixes(prefix))
    if wants_json(ctx, json_out):
        from .. import wire
        emit_json(wire.encode(report))
    else:
        echo(f"{'conforms' if report.conforms else 'does not conform'}: "
             f"{len(report.results)} result(s) over {report.triples} triple(s)")
        if report.results:
            table(["severity", "focus", "path", "constraint", "message"],
                  [(r.severity, r.focus, r.path or "", r.constraint, r.message)
                   for r in report.results])
    if not report.conforms:
        raise typer.Exit(1)
