"""Schema commands: schema set, show, list, drop (docs/schemas.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import wire
from ..types import Schema
from .common import (
    EXIT_USAGE,
    AuthorOpt,
    BranchOpt,
    JsonOpt,
    MessageOpt,
    RefOpt,
    app,
    echo,
    emit_json,
    fail,
    open_repo,
    parse_json_arg,
    report_commit,
    short,
    table,
    wants_json,
)

schema_app = typer.Typer(help="Schemas of entity types, relation types and collections, "
                              "checked on every commit.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")

TargetArg = Annotated[str, typer.Argument(help="The entity type, relation type or collection.")]
KindOpt = Annotated[str, typer.Option("--kind", "-k", help="entity, relation or collection.")]


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


@schema_app.command("set")
def schema_set(ctx: typer.Context, target: TargetArg, kind: KindOpt = "entity",
               json_schema: Annotated[str | None, typer.Option(
                   "--json-schema", "-s", metavar="JSON",
                   help="A JSON Schema 2020-12 (JSON text, @FILE or - for standard input).")
               ] = None,
               source_types: Annotated[str | None, typer.Option(
                   "--source-types", metavar="T1,T2",
                   help="Relation types: the entity types a source may have.")] = None,
               target_types: Annotated[str | None, typer.Option(
                   "--target-types", metavar="T1,T2",
                   help="Relation types: the entity types a target may have.")] = None,
               max_per_source: Annotated[int | None, typer.Option(
                   "--max-per-source", metavar="N",
                   help="Relation types: at most N relations of the type per source.")] = None,
               unique: Annotated[str | None, typer.Option(
                   "--unique", metavar="P1,P2",
                   help="Entity types: properties no two entities of the type share.")] = None,
               message: MessageOpt = None, author: AuthorOpt = None, branch: BranchOpt = None,
               json_out: JsonOpt = False) -> None:
    """Set the schema of a type or collection in a commit (refused when the data breaks it).

    Example:

      palimpsest schema set Person -s '{"type": "object", "required": ["name"]}' --unique name

      palimpsest schema set bornIn -k relation --source-types Person --max-per-source 1
    """
    if kind not in ("entity", "relation", "collection"):
        fail(f"--kind must be entity, relation or collection, not {kind!r}", code=EXIT_USAGE)
    commit = open_repo(ctx).set_schema(
        target, parse_json_arg(json_schema, "--json-schema"), kind=kind,
        source_types=_names(source_types), target_types=_names(target_types),
        max_per_source=max_per_source, unique=_names(unique) or [], message=message,
        author=author, branch=branch)
    report_commit(ctx, commit, json_out, branch)


@schema_app.command("show")
def schema_show(ctx: typer.Context, target: TargetArg, kind: KindOpt = "entity",
                ref: RefOpt = None, json_out: JsonOpt = False) -> None:
    """Print the schema of a type or collection (at a ref).

    Example:

      palimpsest schema show Person --json
    """
    found = open_repo(ctx).schema(target, kind=kind, ref=ref)
    if found is None:
        fail(f"{kind} {target!r} has no schema", hint="list them with `palimpsest schema list`")
    if wants_json(ctx, json_out):
        emit_json(wire.encode(found))
        return
    for name, value in wire.encode(found).items():
        echo(f"{name}: {short(value, 200)}")


@schema_app.command("list")
def schema_list(ctx: typer.Context, ref: RefOpt = None, json_out: JsonOpt = False) -> None:
    """List the schemas (at a ref).

    Example:

      palimpsest schema list
    """
    found: list[Schema] = open_repo(ctx).schemas(ref)
    if wants_json(ctx, json_out):
        emit_json([wire.encode(s) for s in found])
        return
    table(["kind", "target", "rules"],
          [[s.kind, s.target, short(_rules(s))] for s in found])


def _rules(schema: Schema) -> str:
    parts = ["json schema"] if schema.json_schema is not None else []
    if schema.source_types is not None:
        parts.append("sources " + "|".join(schema.source_types))
    if schema.target_types is not None:
        parts.append("targets " + "|".join(schema.target_types))
    if schema.max_per_source is not None:
        parts.append(f"at most {schema.max_per_source} per source")
    if schema.unique:
        parts.append("unique " + ", ".join(schema.unique))
    return "; ".join(parts)


@schema_app.command("drop")
def schema_drop(ctx: typer.Context, target: TargetArg, kind: KindOpt = "entity",
                message: MessageOpt = None, author: AuthorOpt = None,
                branch: BranchOpt = None, json_out: JsonOpt = False) -> None:
    """Remove the schema of a type or collection in a commit (the data stays as it is).

    Example:

      palimpsest schema drop bornIn --kind relation
    """
    commit = open_repo(ctx).drop_schema(target, kind=kind, message=message, author=author,
                                        branch=branch)
    report_commit(ctx, commit, json_out, branch)
