"""The ``palimpsest`` command line: git for a knowledge graph.

Each command mirrors a :class:`palimpsest.Repository` method of the same name. The commands
live in ``cli/commands.py`` (elements), ``cli/history.py`` (log, show, diff, history, blame),
``cli/refs.py`` (branches, tags, merge, restore), ``cli/data.py`` (import, export, query,
maintenance, server) and ``cli/kv.py`` (key-value); ``cli/common.py`` holds the shared
machinery and ``cli/output.py`` the one way output reaches the terminal. Reference:
``docs/cli.md`` (generated from the ``--help`` texts).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from .. import wire
from ..types import Entity, Relation
from .common import (
    EXIT_USAGE,
    AuthorOpt,
    CliError,
    CollectionOpt,
    JsonOpt,
    MessageOpt,
    ProvenanceOpt,
    RefOpt,
    SourceOpt,
    State,
    ValidAtOpt,
    ValidBetweenOpt,
    ValidFromOpt,
    ValidToOpt,
    app,
    echo,
    emit_json,
    fail,
    narrow,
    open_repo,
    paint,
    parse_assignments,
    parse_json_arg,
    provenance_arg,
    report_commit,
    short,
    state,
    table,
    wants_json,
)
from .common import BranchOpt as BranchOpt

__all__ = ["app", "main"]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version
        try:
            echo(f"palimpsest {version('palimpsest')}")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            echo("palimpsest (unknown version)")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    repo: Annotated[str | None, typer.Option(
        "--repo", "-R", metavar="PATH_OR_URL",
        help="Repository: a SQLite file, :memory: or postgresql://... "
             "[default: $PALIMPSEST_REPO, else ./palimpsest.db]")] = None,
    author: Annotated[str | None, typer.Option(
        "--author", help="Default author of commits [default: $PALIMPSEST_AUTHOR, "
                         "else your user name]")] = None,
    json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output "
                                                      "(every command).")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Global options (put them before the command)."""
    st = State(repo_arg=repo, author_arg=author, json=json, debug=debug)
    ctx.obj = st
    ctx.call_on_close(st.close)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``palimpsest``).

    Typer turns every registered command into a click command before it runs one; building
    only the command that was asked for keeps start-up fast.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    _narrow(args)(args=args, prog_name="palimpsest")


_VALUE_OPTIONS = {"--repo", "-R", "--author"}


def _narrow(args: list[str]) -> typer.Typer:
    """``app`` with only the command named in ``args`` (or all of them, for help)."""
    name = None
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            name = arg
            break
    if name is None:
        return app
    from typer.main import get_command_name
    commands = [c for c in app.registered_commands
                if (c.name or get_command_name(c.callback.__name__ if c.callback else "")) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app  # let click report the unknown command with its suggestions
    import copy
    narrow = copy.copy(app)  # same settings and callback, fewer commands
    narrow.registered_commands = commands
    narrow.registered_groups = groups
    return narrow


# -- init, status ---------------------------------------------------------------------------
@app.command()
def init(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(
        metavar="[PATH_OR_URL]", help="Where to create it (default: the selected repo).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a repository (a SQLite file by default).

    Examples:

      palimpsest init                      # ./palimpsest.db

      palimpsest init kg.db

      palimpsest --repo postgresql://me@localhost/kg init
    """
    st = state(ctx)
    if path is not None:
        st.repo_arg = path
    from pathlib import Path

    from .common import is_local
    existed = is_local(st.target) and Path(st.target).exists()
    repo = st.repo(create=True)
    if wants_json(ctx, json_out):
        emit_json({"repo": repo.url, "created": not existed, "branch": repo.current_branch})
        return
    verb = "Reinitialized existing" if existed else "Initialized empty"
    echo(f"{verb} palimpsest repository in {repo.url} (branch {repo.current_branch})")


@app.command()
def status(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Show the current branch, its head commit and what it holds.

    Example:

      palimpsest status
    """
    repo = open_repo(ctx)
    view = repo.head()
    info: dict[str, Any] = {
        "repo": repo.url, "branch": repo.current_branch,
        "head": wire.encode(view.commit) if view.commit else None,
        "entities": view.count(), "relations": view.count_relations(),
        "collections": view.collections(),
    }
    if wants_json(ctx, json_out):
        emit_json(info)
        return
    echo(f"repository {repo.url}")
    echo(f"on branch {paint(repo.current_branch, 'green', 'bold')}")
    if view.commit is None:
        echo("no commits yet")
    else:
        echo(f"head {paint(view.commit.short_id, 'yellow')} {view.commit.message}")
    echo(f"{info['entities']} entities, {info['relations']} relations, "
         f"{len(info['collections'])} document collections")


# -- elements -------------------------------------------------------------------------------
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", "-s", metavar="NAME=VALUE",
    help="A property; VALUE is JSON when it parses (42, true, [1]), else text. Repeatable.")]
PropsOpt = Annotated[str | None, typer.Option(
    "--props", metavar="JSON", help="All properties as a JSON object (@FILE reads a file, "
                                    "- standard input).")]


def valid_text(element: Entity | Relation) -> str:
    """`` valid [FROM, TO)`` for an element with a valid-time interval, else ``""``."""
    if element.valid_from is None and element.valid_to is None:
        return ""
    start = element.valid_from.isoformat() if element.valid_from else "-∞"
    end = element.valid_to.isoformat() if element.valid_to else "∞"
    return paint(f"  valid [{start}, {end})", "dim")


@app.command()
def put(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="Entity id (or document key with --collection).")],
    type: Annotated[str | None, typer.Option("--type", "-t", help="Entity type.")] = None,
    set_: SetOpt = None,
    props: PropsOpt = None,
    unset: Annotated[list[str] | None, typer.Option(
        "--unset", metavar="NAME", help="Remove a property (with --update). Repeatable.")] = None,
    update: Annotated[bool, typer.Option(
        "--update", "-u", help="Patch the existing entity instead of replacing it.")] = False,
    collection: CollectionOpt = None,
    value: Annotated[str | None, typer.Option(
        "--value", metavar="JSON", help="Document value (with --collection); @FILE, -.")] = None,
    valid_from: ValidFromOpt = None,
    valid_to: ValidToOpt = None,
    source_: SourceOpt = None,
    provenance: ProvenanceOpt = None,
    message: MessageOpt = None,
    author: AuthorOpt = None,
    branch: BranchOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create or replace an entity (or a document) in one commit.

    Examples:

      palimpsest put ada --type Person --set name=Ada --set born=1815

      palimpsest put ada --update --set died=1852 --unset nickname

      palimpsest put acme --type Company --valid-from 1999-03-01

      palimpsest put ada --type Person --props '{"name": "Ada"}'

      palimpsest put n1 --collection notes --value '{"text": "hello"}'

      palimpsest put ada --type Person --set name=Ada --source doc-17
    """
    repo = open_repo(ctx)
    origin = provenance_arg(source_, provenance)
    values = parse_json_arg(props, "--props") or {}
    if not isinstance(values, dict):
        fail("--props must be a JSON object", code=EXIT_USAGE)
    values.update(parse_assignments(set_))
    if collection is not None:
        if valid_from is not None or valid_to is not None:
            fail("documents have no valid time; --valid-from/--valid-to are for entities",
                 code=EXIT_USAGE)
        doc = parse_json_arg(value, "--value") if value is not None else values
        commit = repo.put_document(collection, id, doc, message=message, author=author,
                                   branch=branch, provenance=origin)
        result: dict[str, Any] = {"collection": collection, "key": id, "value": doc}
    elif update:
        for name in unset or ():
            values[name] = None
        commit = repo.update_entity(id, values, type=type, message=message, author=author,
                                    branch=branch, valid_from=valid_from, valid_to=valid_to,
                                    provenance=origin)
        entity = repo.at(commit.id).get_entity(id)
        result = wire.encode(entity)
    else:
        if type is None:
            fail("put needs --type for a new or replaced entity",
                 hint="use --update to patch an existing entity", code=EXIT_USAGE)
        if unset:
            fail("--unset only makes sense with --update", code=EXIT_USAGE)
        commit = repo.put_entity(id, type, values, message=message, author=author,
                                 branch=branch, valid_from=valid_from, valid_to=valid_to,
                                 provenance=origin)
        result = wire.encode(repo.at(commit.id).get_entity(id))
    if wants_json(ctx, json_out):
        emit_json({"commit": wire.encode(commit), "element": result})
        return
    echo(f"[{repo.current_branch if branch is None else branch} "
         f"{paint(commit.short_id, 'yellow')}] {commit.message}")


@app.command()
def get(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="Entity id, relation id (--relation) or document "
                                           "key (--collection).")],
    ref: RefOpt = None,
    relation: Annotated[bool, typer.Option("--relation", help="Get a relation.")] = False,
    collection: CollectionOpt = None,
    valid_at: ValidAtOpt = None,
    valid_between: ValidBetweenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one entity (with its relations), relation or document at a ref.

    Examples:

      palimpsest get ada

      palimpsest get ada --ref v1.0 --json

      palimpsest get n1 --collection notes

      palimpsest get ada --ref main@2025-03-01 --valid-at 2022-06-01
    """
    repo = open_repo(ctx)
    view = narrow(repo.at(ref), valid_at, valid_between)
    as_json = wants_json(ctx, json_out)
    if collection is not None:
        doc = view.document(collection, id)
        if doc is None:
            fail(f"no document {collection}/{id} at {ref or repo.current_branch}")
        if as_json:
            emit_json(wire.encode(doc))
        else:
            emit_json(doc.value)
        return
    if relation:
        rel = view.relation(id)
        if rel is None:
            fail(f"no relation {id!r} at {ref or repo.current_branch}")
        if as_json:
            emit_json(wire.encode(rel))
            return
        echo(f"{paint(rel.id, 'bold')}: {rel.source} -[{rel.type}]-> {rel.target}"
             f"{valid_text(rel)}")
        for name, val in sorted(rel.props.items()):
            echo(f"  {name}: {short(val, 200)}")
        return
    entity = view.entity(id)
    if entity is None:
        fail(f"no entity {id!r} at {ref or repo.current_branch}",
             hint="relations are shown with --relation, documents with --collection")
    out_rels = list(view.relations(source=id))
    in_rels = list(view.relations(target=id))
    if as_json:
        emit_json({**wire.encode(entity), "out": [wire.encode(r) for r in out_rels],
                   "in": [wire.encode(r) for r in in_rels]})
        return
    echo(f"{paint(entity.id, 'bold')} ({paint(entity.type, 'cyan')}){valid_text(entity)}")
    if entity.props:
        table(["property", "value"], [(k, short(v, 200)) for k, v in sorted(entity.props.items())])
    for rel in out_rels:
        echo(f"  -[{paint(rel.type, 'magenta')}]-> {rel.target}{valid_text(rel)}")
    for rel in in_rels:
        echo(f"  <-[{paint(rel.type, 'magenta')}]- {rel.source}{valid_text(rel)}")


@app.command()
def rm(
    ctx: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Entity ids (relation ids with --relation, "
                                                  "document keys with --collection).")],
    relation: Annotated[bool, typer.Option("--relation", help="Delete relations.")] = False,
    collection: CollectionOpt = None,
    source_: SourceOpt = None,
    provenance: ProvenanceOpt = None,
    message: MessageOpt = None,
    author: AuthorOpt = None,
    branch: BranchOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete entities (and their relations), relations or documents in one commit.

    Examples:

      palimpsest rm legacy -m "Remove legacy endpoint"

      palimpsest rm "ada KNOWS bob" --relation

      palimpsest rm n1 n2 --collection notes
    """
    repo = open_repo(ctx)
    what = "document" if collection else "relation" if relation else "entity"
    text = message or f"Delete {what} {', '.join(ids)}"
    origin = provenance_arg(source_, provenance)
    with repo.transaction(text, author=author, branch=branch) as tx:
        for ident in ids:
            if collection is not None:
                tx.delete_document(collection, ident, provenance=origin)
            elif relation:
                tx.delete_relation(ident, provenance=origin)
            else:
                tx.delete_entity(ident, provenance=origin)
    assert tx.commit is not None
    report_commit(ctx, tx.commit, json_out, branch)


@app.command()
def relate(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Source entity id.")],
    type: Annotated[str, typer.Argument(help="Relation type.")],
    target: Annotated[str, typer.Argument(help="Target entity id.")],
    id: Annotated[str | None, typer.Option(
        "--id", help="Relation id (default: 'SOURCE TYPE TARGET').")] = None,
    set_: SetOpt = None,
    props: PropsOpt = None,
    valid_from: ValidFromOpt = None,
    valid_to: ValidToOpt = None,
    source_: SourceOpt = None,
    provenance: ProvenanceOpt = None,
    message: MessageOpt = None,
    author: AuthorOpt = None,
    branch: BranchOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create or replace a relation SOURCE -[TYPE]-> TARGET (both entities must exist).

    Examples:

      palimpsest relate ada KNOWS bob

      palimpsest relate users RETURNS User --id users-returns-user --set since=2024

      palimpsest relate ada KNOWS alice --valid-from 2020-01-01 --valid-to 2023-01-01
    """
    repo = open_repo(ctx)
    values = parse_json_arg(props, "--props") or {}
    if not isinstance(values, dict):
        fail("--props must be a JSON object", code=EXIT_USAGE)
    values.update(parse_assignments(set_))
    rid = id or f"{source} {type} {target}"
    commit = repo.put_relation(rid, type, source, target, values,
                               message=message or f"Relate {source} -[{type}]-> {target}",
                               author=author, branch=branch, valid_from=valid_from,
                               valid_to=valid_to,
                               provenance=provenance_arg(source_, provenance))
    report_commit(ctx, commit, json_out, branch)


@app.command()
def unrelate(
    ctx: typer.Context,
    parts: Annotated[list[str], typer.Argument(
        metavar="ID | SOURCE TYPE TARGET", help="A relation id, or its source, type and "
                                                "target.")],
    source_: SourceOpt = None,
    provenance: ProvenanceOpt = None,
    message: MessageOpt = None,
    author: AuthorOpt = None,
    branch: BranchOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete a relation, named by its id or by SOURCE TYPE TARGET.

    Examples:

      palimpsest unrelate ada KNOWS bob

      palimpsest unrelate users-returns-user
    """
    repo = open_repo(ctx)
    if len(parts) == 1:
        rid = parts[0]
    elif len(parts) == 3:
        source, rtype, target = parts
        found = [r.id for r in repo.at(branch).relations(type=rtype, source=source,
                                                        target=target)]
        if not found:
            fail(f"no relation {source} -[{rtype}]-> {target}")
        rid = found[0]
    else:
        raise CliError("give a relation id, or SOURCE TYPE TARGET", code=EXIT_USAGE)
    commit = repo.delete_relation(rid, message=message, author=author, branch=branch,
                                  provenance=provenance_arg(source_, provenance))
    report_commit(ctx, commit, json_out, branch)


def _register() -> None:
    """Import the other command modules so that ``app`` knows every command (also when
    this module is imported by tests or the docs generator, not only through main)."""
    from . import kv  # noqa: F401, I001  (first: kv is listed before token)
    from . import cypher, data, history, mr, refs, schemas, search, sparql  # noqa: F401
    from . import manage  # noqa: F401  (combine, index, view)
    from . import webhook  # noqa: F401
    from . import sync  # noqa: F401  (clone, remote, fetch, pull, push)


_register()

if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
