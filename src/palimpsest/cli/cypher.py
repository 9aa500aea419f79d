"""The ``cypher`` command: an openCypher read query at any ref (docs/cypher.md), on a local
repository or a server."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .. import wire
from ..types import Entity, Relation
from .common import (
    JsonOpt,
    RefOpt,
    app,
    echo,
    emit_json,
    err,
    open_repo,
    parse_assignments,
    short,
    table,
    wants_json,
)
from .sparql import ExplainOpt, QueryArg, TimeoutOpt, _query_text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Entity):
        return f"({value.id}:{value.type} {short(value.props, 40)})"
    if isinstance(value, Relation):
        return f"[{value.id}:{value.type} {value.source}->{value.target}]"
    if isinstance(value, list) and any(isinstance(v, Entity | Relation) for v in value):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return short(value)


@app.command()
def cypher(
    ctx: typer.Context,
    query: QueryArg,
    ref: RefOpt = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="NAME=VALUE for $NAME (VALUE as JSON when it parses); "
                              "repeatable.")] = None,
    explain: ExplainOpt = False,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Answer an openCypher read query (MATCH ... RETURN) at any ref.

    Examples:

      palimpsest cypher 'MATCH (p:Person)-[:KNOWS]->(f) RETURN p.name, count(f)' --ref v1.0

      palimpsest cypher 'MATCH (n {name: $name}) RETURN n' --param name=Ada --json
    """
    repo = open_repo(ctx)
    text = _query_text(query)
    params = parse_assignments(param, "--param")
    view = repo.at(ref)
    if explain:
        echo(view.cypher_explain(text, params))
        return
    answer = view.cypher(text, params, timeout=timeout)
    if wants_json(ctx, json_out):
        emit_json(wire.encode(answer))
        return
    table(list(answer.columns), [[_cell(v) for v in row] for row in answer.rows])
    err(f"{len(answer)} row(s)", "dim")
