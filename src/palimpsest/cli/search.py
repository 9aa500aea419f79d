"""Search commands: full-text ``search`` and vector ``similar``, at any ref (docs/search.md)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from .. import wire
from ..types import Entity, SearchHit, SimilarHit
from .common import (
    EXIT_USAGE,
    CliError,
    JsonOpt,
    RefOpt,
    app,
    echo,
    emit_json,
    err,
    missing_feature,
    open_repo,
    paint,
    parse_json_arg,
    short,
    wants_json,
)

TypeOpt = Annotated[str | None, typer.Option(
    "--type", "-t", help="Only this entity type or collection (default: every index).")]
KindOpt = Annotated[str | None, typer.Option(
    "--kind", help="entity or document, for a name used by both.")]
WhereOpt = Annotated[str | None, typer.Option(
    "--where", "-w", metavar="JSON", help="A filter in the dict form, as for query, e.g. "
                                          "'{\"born\": {\"lt\": 1900}}'.")]
_MARKED = re.compile(r"<mark>(.*?)</mark>")


def _title(hit: SearchHit | SimilarHit) -> str:
    element = hit.element
    if isinstance(element, Entity):
        return f"{paint(element.id, 'bold')} ({element.type})"
    return f"{paint(element.collection + '/' + element.key, 'bold')}"


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help='Words, "quoted phrases" and prefix* (all '
                                              "required).")],
    type: TypeOpt = None,
    kind: KindOpt = None,
    where: WhereOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most N results.")] = 10,
    ref: RefOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Full-text search at any ref (declare a text index first: create_text_index).

    Examples:

      palimpsest search 'lovelace analytical'

      palimpsest search '"analytical engine" babb*' --type Paper --ref papers
    """
    view = open_repo(ctx).at(ref)
    if not hasattr(view, "search"):
        missing_feature("search")
    hits = view.search(query, type=type, kind=kind, where=parse_json_arg(where, "--where"),
                       limit=limit)
    if wants_json(ctx, json_out):
        emit_json([wire.encode(h) for h in hits])
        return
    for hit in hits:
        echo(f"{_title(hit)}  {paint(f'{hit.score:.4g}', 'dim')}")
        for field, text in hit.highlights.items():
            shown = _MARKED.sub(lambda m: paint(m.group(1), "yellow"), text)
            echo(f"  {field}: {shown}")
    err(f"{len(hits)} result(s)", "dim")


def _read_vector(vector: str | None, vector_file: Path | None) -> Any:
    if (vector is None) == (vector_file is None):
        raise CliError("give the query vector with --vector JSON or --vector-file FILE",
                       code=EXIT_USAGE)
    if vector_file is not None:
        data = sys.stdin.buffer.read() if str(vector_file) == "-" else vector_file.read_bytes()
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise CliError(f"--vector-file: not a JSON array of numbers ({exc})",
                           code=EXIT_USAGE) from None
    return parse_json_arg(vector, "--vector")


@app.command()
def similar(
    ctx: typer.Context,
    vector: Annotated[str | None, typer.Option("--vector", metavar="JSON", help="The query "
                                               "vector as a JSON array.")] = None,
    vector_file: Annotated[Path | None, typer.Option(
        "--vector-file", metavar="FILE", help="A file holding the query vector as a JSON "
                                              "array ('-': standard input).")] = None,
    k: Annotated[int, typer.Option("-k", help="How many nearest elements.")] = 10,
    type: TypeOpt = None,
    property: Annotated[str | None, typer.Option("--property", help="The vector property, "
                                                 "when a type has several.")] = None,
    kind: KindOpt = None,
    where: WhereOpt = None,
    exact: Annotated[bool, typer.Option("--exact", help="Scan exactly, never through the "
                                                        "approximate index.")] = False,
    ref: RefOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Nearest elements to a vector at any ref (declare a vector index first:
    create_vector_index).

    Examples:

      palimpsest similar --vector '[0.1, 0.3, 0.2]' -k 5

      palimpsest similar --vector-file query.json --type Paper --ref papers
    """
    query = _read_vector(vector, vector_file)
    view = open_repo(ctx).at(ref)
    if not hasattr(view, "similar"):
        missing_feature("similar")
    hits = view.similar(query, k, type=type, property=property, kind=kind,
                        where=parse_json_arg(where, "--where"), exact=exact)
    if wants_json(ctx, json_out):
        emit_json([wire.encode(h) for h in hits])
        return
    for hit in hits:
        element = hit.element
        value = element.props if isinstance(element, Entity) else element.value
        echo(f"{_title(hit)}  {paint(f'{hit.distance:.4g}', 'dim')}  {short(value, 80)}")
    err(f"{len(hits)} result(s)", "dim")
