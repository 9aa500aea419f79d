"""Commands for combining versions and for declared indexes and materialized views: combine,
index create/drop/list, view create/drop/list/refresh/show (docs/query.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .. import wire
from .common import (
    EXIT_CONFLICT,
    AuthorOpt,
    CliError,
    JsonOpt,
    MessageOpt,
    RefOpt,
    app,
    echo,
    emit_json,
    err,
    open_repo,
    table,
    wants_json,
)

CollectionOpt = Annotated[str | None, typer.Option(
    "--collection", "-c", help="A collection of documents instead of an entity type.")]


def _target(type_or_field: str, field: str | None, collection: str | None
            ) -> tuple[str | None, str]:
    """``TYPE FIELD``, or ``FIELD`` with --collection."""
    if collection is not None:
        if field is not None:
            raise CliError("with --collection give only the FIELD",
                           hint="e.g. palimpsest index create --collection notes author")
        return None, type_or_field
    if field is None:
        raise CliError("give an entity TYPE and a FIELD, or --collection and a FIELD",
                       hint="e.g. palimpsest index create Person email")
    return type_or_field, field


@app.command()
def combine(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(help="Two or more refs (tags, branches, "
                                                   "commits) whose elements to combine.")],
    mode: Annotated[str, typer.Option("--mode", help="union: elements in any ref; "
                                                     "intersection: in all.")] = "union",
    into: Annotated[str | None, typer.Option("--into", help="Target branch (default: "
                                                            "current).")] = None,
    strategy: Annotated[str | None, typer.Option(
        "--strategy", help="first / last: settle differing content by the order of REFS.")
                        ] = None,
    preview: Annotated[bool, typer.Option("--preview", help="Show what would happen; write "
                                                            "nothing.")] = False,
    message: MessageOpt = None,
    author: AuthorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Set-merge of versions: one commit whose entities, relations and documents are those
    present in any (--mode union) or all (--mode intersection) of REFS.

    An element whose content differs between refs is a conflict (exit code 3) unless
    --strategy settles it.

    Examples:

      palimpsest combine v1.0 v2.0 --into experiment --preview

      palimpsest combine v1.0 v2.0 --mode intersection --into feature
    """
    from .refs import _conflict_table, _merge_outcome

    repo = open_repo(ctx)
    result = repo.combine(list[Any](refs), mode=mode, into=into, message=message, author=author,
                          strategy=strategy, dry_run=preview)
    if result.status == "conflict" and not wants_json(ctx, json_out):
        _conflict_table(result.conflicts)
        err(f"Combine stopped: {len(result.conflicts)} conflict(s); nothing was written", "red")
        err("hint: rerun with --strategy first|last (the order of REFS decides)", "dim")
        raise typer.Exit(EXIT_CONFLICT)
    _merge_outcome(ctx, result, json_out, "Combine")


# -- indexes ---------------------------------------------------------------------------------
index_app = typer.Typer(help="Declared indexes: fast equality and range queries on one field, "
                             "at every commit.", no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("create")
def index_create(
    ctx: typer.Context,
    type_or_field: Annotated[str, typer.Argument(metavar="TYPE_OR_FIELD",
                                                 help="Entity type (or, with --collection, "
                                                      "the field).")],
    field: Annotated[str | None, typer.Argument(help="The field (dotted path).")] = None,
    collection: CollectionOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Declare an index on FIELD of an entity TYPE or of a --collection (idempotent).

    Examples:

      palimpsest index create Person age

      palimpsest index create --collection notes author
    """
    type_, name = _target(type_or_field, field, collection)
    info = open_repo(ctx).create_index(type_, name, collection=collection)
    if wants_json(ctx, json_out):
        emit_json(wire.encode(info))
        return
    echo(f"Index {info.name} on {info.element} {info.type!r}, field {info.field!r}")


@index_app.command("drop")
def index_drop(
    ctx: typer.Context,
    type_or_field: Annotated[str, typer.Argument(metavar="TYPE_OR_FIELD",
                                                 help="Entity type (or, with --collection, "
                                                      "the field).")],
    field: Annotated[str | None, typer.Argument(help="The field.")] = None,
    collection: CollectionOpt = None,
) -> None:
    """Drop a declared index.

    Example:

      palimpsest index create Person age && palimpsest index drop Person age
    """
    type_, name = _target(type_or_field, field, collection)
    open_repo(ctx).drop_index(type_, name, collection=collection)
    echo("Dropped")


@index_app.command("list")
def index_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List the declared indexes.

    Example:

      palimpsest index list
    """
    found = open_repo(ctx).indexes()
    if wants_json(ctx, json_out):
        emit_json([wire.encode(i) for i in found])
        return
    if not found:
        echo("no indexes")
        return
    table(["element", "type", "field", "name"],
          [(i.element, i.type, i.field, i.name) for i in found])


# -- materialized views ----------------------------------------------------------------------
view_app = typer.Typer(help="Materialized views: named queries kept current, readable at "
                            "every commit.", no_args_is_help=True)
app.add_typer(view_app, name="view")


def _json_option(text: str | None, what: str) -> Any:
    if text is None:
        return None
    import orjson
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CliError(f"{what} is not valid JSON: {exc}",
                       hint='e.g. --where \'{"age": {"gt": 30}}\'') from exc


@view_app.command("create")
def view_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The view's name.")],
    target: Annotated[str, typer.Argument(help="A collection or an entity type.")],
    where: Annotated[str | None, typer.Option("--where", help="The filter as JSON (the "
                                              "dict form of docs/query.md).")] = None,
    order_by: Annotated[str | None, typer.Option("--order-by", help="Field to sort by "
                                                 "(-field: descending).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Declare a materialized view: the elements of TARGET matching --where.

    Examples:

      palimpsest view create adults Person --where '{"age": {"gt": 30}}'

      palimpsest view create drafts notes --where '{"draft": true}'
    """
    query = {"where": _json_option(where, "--where"), "order_by": order_by}
    info = open_repo(ctx).create_view(name, target, {k: v for k, v in query.items()
                                                     if v is not None})
    if wants_json(ctx, json_out):
        emit_json(wire.encode(info))
        return
    echo(f"View {info.name} over {info.element} {info.type!r}")


@view_app.command("drop")
def view_drop(ctx: typer.Context,
              name: Annotated[str, typer.Argument(help="The view's name.")]) -> None:
    """Drop a materialized view.

    Example:

      palimpsest view create old Person && palimpsest view drop old
    """
    open_repo(ctx).drop_view(name)
    echo("Dropped")


@view_app.command("list")
def view_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List the materialized views.

    Example:

      palimpsest view list
    """
    found = open_repo(ctx).views()
    if wants_json(ctx, json_out):
        emit_json([wire.encode(v) for v in found])
        return
    if not found:
        echo("no materialized views")
        return
    table(["name", "element", "type", "synced_seq"],
          [(v.name, v.element, v.type, str(v.synced_seq)) for v in found])


@view_app.command("refresh")
def view_refresh(ctx: typer.Context,
                 name: Annotated[str | None, typer.Argument(help="One view (default: "
                                                            "all).")] = None,
                 json_out: JsonOpt = False) -> None:
    """Bring materialized views up to the newest commit now.

    Example:

      palimpsest view create adults Person && palimpsest view refresh
    """
    rows = open_repo(ctx).refresh_views(name)
    if wants_json(ctx, json_out):
        emit_json({"rows": rows})
        return
    echo(f"{rows} row(s) written")


@view_app.command("show")
def view_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The view's name.")],
    ref: RefOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="At most N members.")
                     ] = None,
    json_out: JsonOpt = False,
) -> None:
    """The members of a materialized view at a ref.

    Examples:

      palimpsest view create adults Person --where '{"age": {"gt": 30}}' && palimpsest view show adults

      palimpsest view create people Person && palimpsest view show people --ref v1.0
    """
    members = open_repo(ctx).at(ref).materialized(name, limit=limit)
    if wants_json(ctx, json_out):
        emit_json([wire.encode(m) if type(m) in wire.TYPES else m for m in members])
        return
    import orjson
    for member in members:
        data = wire.encode(member) if type(member) in wire.TYPES else member
        echo(orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode())
