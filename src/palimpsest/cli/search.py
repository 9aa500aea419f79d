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


# -- declaring search indexes ------------------------------------------------------------------
text_index_app = typer.Typer(help="Full-text indexes: the fields palimpsest search finds words "
                                  "in, at every commit.", no_args_is_help=True)
app.add_typer(text_index_app, name="text-index")
vector_index_app = typer.Typer(help="Vector indexes: properties palimpsest similar compares, at "
                                    "every commit.", no_args_is_help=True)
app.add_typer(vector_index_app, name="vector-index")


@text_index_app.command("create")
def text_index_create(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="An entity type or a collection.")],
    fields: Annotated[list[str], typer.Argument(help="Property names (dotted paths).")],
    kind: KindOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Declare a full-text index on FIELDS of TARGET and index every stored version.

    Examples:

      palimpsest text-index create Person name
    """
    info = open_repo(ctx).create_text_index(target, fields, kind=kind)
    if wants_json(ctx, json_out):
        emit_json(wire.encode(info))
        return
    echo(f"text index on {info.type}: {', '.join(info.fields)}")


@text_index_app.command("drop")
def text_index_drop(ctx: typer.Context,
                    target: Annotated[str, typer.Argument(help="The indexed type or collection.")],
                    kind: KindOpt = None) -> None:
    """Drop the full-text index of TARGET and its entries.

    Examples:

      palimpsest text-index drop Person
    """
    open_repo(ctx).drop_text_index(target, kind=kind)
    echo(f"dropped the text index on {target}")


@text_index_app.command("list")
def text_index_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The declared full-text indexes.

    Examples:

      palimpsest text-index list
    """
    found = open_repo(ctx).text_indexes()
    if wants_json(ctx, json_out):
        emit_json([wire.encode(i) for i in found])
        return
    for i in found:
        echo(f"{i.element} {i.type}: {', '.join(i.fields)}")
    if not found:
        echo("no text indexes")


@vector_index_app.command("create")
def vector_index_create(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="An entity type or a collection.")],
    property: Annotated[str, typer.Argument(help="The property holding vectors.")] = "embedding",
    dimensions: Annotated[int, typer.Option("--dimensions", "-d", help="Numbers per vector.")]
    = 384,
    metric: Annotated[str, typer.Option("--metric", help="cosine, l2 or dot.")] = "cosine",
    kind: KindOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Declare that PROPERTY of TARGET holds vectors; later writes are checked.

    Examples:

      palimpsest vector-index create Person embedding --dimensions 3
    """
    info = open_repo(ctx).create_vector_index(target, property, dimensions=dimensions,
                                              metric=metric, kind=kind)
    if wants_json(ctx, json_out):
        emit_json(wire.encode(info))
        return
    echo(f"vector index on {info.type}.{info.property}: {info.dimensions} dimensions, "
         f"{info.metric}")


@vector_index_app.command("drop")
def vector_index_drop(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="The indexed type or collection.")],
    property: Annotated[str, typer.Argument(help="The property.")] = "embedding",
    kind: KindOpt = None,
) -> None:
    """Drop a vector index and its entries.

    Examples:

      palimpsest vector-index drop Person embedding
    """
    open_repo(ctx).drop_vector_index(target, property, kind=kind)
    echo(f"dropped the vector index on {target}.{property}")


@vector_index_app.command("list")
def vector_index_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The declared vector indexes.

    Examples:

      palimpsest vector-index list
    """
    found = open_repo(ctx).vector_indexes()
    if wants_json(ctx, json_out):
        emit_json([wire.encode(i) for i in found])
        return
    for i in found:
        echo(f"{i.element} {i.type}.{i.property}: {i.dimensions} dimensions, {i.metric}")
    if not found:
        echo("no vector indexes")
