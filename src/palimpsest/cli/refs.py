"""Branch and restore commands: branch, checkout, tag, merge, cherry-pick, rollback, revert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from .. import wire
from .common import (
    EXIT_CONFLICT,
    EXIT_USAGE,
    AuthorOpt,
    JsonOpt,
    MessageOpt,
    app,
    echo,
    emit_json,
    fail,
    missing_feature,
    open_repo,
    paint,
    parse_json_arg,
    report_commit,
    short,
    stat_text,
    table,
    wants_json,
    when,
)


@app.command()
def branch(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Create this branch (no name: list).")
                    ] = None,
    start: Annotated[str | None, typer.Argument(metavar="[FROM]", help="Where the new branch "
                                                "starts (default: current head).")] = None,
    delete: Annotated[bool, typer.Option("--delete", "-d", help="Delete branch NAME.")] = False,
    base: Annotated[str, typer.Option("--base", help="Count ahead/behind against this "
                                                     "branch.")] = "main",
    json_out: JsonOpt = False,
) -> None:
    """List branches (with commits ahead/behind a base), create one, or delete one.

    Creating a branch is O(1): nothing is copied.

    Examples:

      palimpsest branch

      palimpsest branch trial

      palimpsest branch hotfix v2.0

      palimpsest branch -d trial
    """
    repo = open_repo(ctx)
    as_json = wants_json(ctx, json_out)
    if delete:
        if name is None:
            fail("branch --delete needs the branch name", code=EXIT_USAGE)
        repo.delete_branch(name)
        if as_json:
            emit_json({"deleted": name})
        else:
            echo(f"Deleted branch {name}")
        return
    if name is not None:
        created = repo.create_branch(name, start)
        if as_json:
            emit_json(wire.encode(created))
        else:
            at = created.head.short_id if created.head else "an empty state"
            echo(f"Created branch {paint(name, 'green')} at {at}")
        return
    branches = repo.branches(base=base if any(b.name == base for b in repo.branches(None))
                             else None)
    if as_json:
        emit_json([wire.encode(b) for b in branches])
        return
    rows = []
    for b in branches:
        mark = "*" if b.current else " "
        head = b.head
        rows.append((f"{mark} {b.name}", head.short_id if head else "-",
                     "" if b.ahead is None else b.ahead, "" if b.behind is None else b.behind,
                     when(head) if head else "", short(head.message, 50) if head else ""))
    table(["branch", "head", "ahead", "behind", "date", "message"], rows,
          styles=["green", "yellow", "green", "red", "dim", None])


@app.command()
def checkout(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The branch that writes go to from now on.")],
    create: Annotated[bool, typer.Option("--create", "-b", help="Create the branch first.")
                      ] = False,
    start: Annotated[str | None, typer.Option("--from", help="With --create: where it "
                                                             "starts.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Switch the current branch (stored in the repository, like git's HEAD).

    Examples:

      palimpsest checkout experiment

      palimpsest checkout -b hotfix --from v2.0
    """
    repo = open_repo(ctx)
    if create:
        repo.create_branch(name, start)
    repo.checkout(name)
    if wants_json(ctx, json_out):
        emit_json({"branch": name})
        return
    echo(f"Switched to branch {paint(name, 'green')}")


@app.command()
def tag(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Tag to create (no name: list).")] = None,
    ref: Annotated[str | None, typer.Argument(help="What to tag (default: current head).")
                   ] = None,
    message: Annotated[str | None, typer.Option("--message", "-m",
                                                help="Annotate the tag.")] = None,
    delete: Annotated[bool, typer.Option("--delete", "-d", help="Delete tag NAME.")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Move an existing tag.")
                     ] = False,
    json_out: JsonOpt = False,
) -> None:
    """List tags, name a commit, or delete a tag.

    Examples:

      palimpsest tag

      palimpsest tag v3.0 -m "Third release"

      palimpsest tag v0.9 main~5

      palimpsest tag -d v0.9
    """
    repo = open_repo(ctx)
    as_json = wants_json(ctx, json_out)
    if delete:
        if name is None:
            fail("tag --delete needs the tag name", code=EXIT_USAGE)
        repo.delete_tag(name)
        if as_json:
            emit_json({"deleted": name})
        else:
            echo(f"Deleted tag {name}")
        return
    if name is not None:
        made = repo.tag(name, ref, message=message, force=force)
        if as_json:
            emit_json(wire.encode(made))
        else:
            echo(f"Tagged {paint(made.commit.short_id, 'yellow')} as {paint(name, 'green')}")
        return
    tags = repo.tags()
    if as_json:
        emit_json([wire.encode(t) for t in tags])
        return
    table(["tag", "commit", "date", "message"],
          [(t.name, t.commit.short_id, when(t.commit), t.message or t.commit.message)
           for t in tags], styles=["green", "yellow", "dim", None])


StrategyOpt = Annotated[str | None, typer.Option(
    "--strategy", "-s", help="Settle conflicts automatically: ours or theirs.")]
ResolveOpt = Annotated[list[str] | None, typer.Option(
    "--resolve", metavar="ID[.PROP]=ours|theirs|JSON",
    help="Settle one conflict (entity id, optionally .property). Repeatable.")]


def _resolutions(repo: Any, items: Sequence[str] | None) -> dict[tuple[str, str, str | None],
                                                                 Any] | None:
    if not items:
        return None
    from .common import parse_value
    out: dict[tuple[str, str, str | None], Any] = {}
    for item in items:
        target, sep, value = item.partition("=")
        if not sep:
            fail(f"--resolve {item!r}: expected ID[.PROP]=ours|theirs|JSON", code=EXIT_USAGE)
        element = "entity"
        if target.startswith(("relation:", "document:", "entity:")):
            element, _, target = target.partition(":")
        ident, dot, prop = target.rpartition(".") if "." in target else (target, "", "")
        key = (element, ident, prop or None) if dot else (element, target, None)
        out[key] = value if value in ("ours", "theirs") else parse_value(value)
    return out


def _conflict_table(conflicts: Sequence[Any]) -> None:
    table(["element", "id", "property", "base", "ours", "theirs", "reason"],
          [(c.element, f"{c.collection}/{c.id}" if c.collection else c.id, c.property or "*",
            short(c.base, 30), short(c.ours, 30), short(c.theirs, 30), c.reason)
           for c in conflicts], title="Merge conflicts",
          styles=[None, "bold", None, "dim", "green", "magenta", "dim"])


def _merge_outcome(ctx: typer.Context, result: Any, json_out: bool, verb: str) -> None:
    if wants_json(ctx, json_out):
        emit_json(wire.encode(result))
    elif result.status == "conflict":
        _conflict_table(result.conflicts)
    if result.status == "conflict":
        if not wants_json(ctx, json_out):
            from .common import err
            err(f"{verb} stopped: {len(result.conflicts)} conflict(s); nothing was written", "red")
            err("hint: rerun with --strategy ours|theirs or --resolve ID.PROP=VALUE", "dim")
        raise typer.Exit(EXIT_CONFLICT)
    if wants_json(ctx, json_out):
        return
    if result.dry_run:
        echo(f"{verb} preview: {result.status}")
        if result.diff is not None:
            from .history import _print_changes
            _print_changes(result.diff.changes, 200)
        return
    if result.status == "up_to_date":
        echo("Already up to date.")
    elif result.status == "fast_forward":
        echo(f"Fast-forward to {paint(result.commit.short_id, 'yellow')}")
    else:
        echo(f"{verb}: {paint(result.commit.short_id, 'yellow')} {result.commit.message}  "
             f"{stat_text(result.commit.stats)}")
    if result.resolved:
        echo(paint(f"{len(result.resolved)} conflict(s) resolved", "dim"))


def _run_merge(ctx: typer.Context, call: Any, json_out: bool, verb: str) -> None:
    from ..errors import MergeConflict
    try:
        result = call()
    except MergeConflict as exc:
        if wants_json(ctx, json_out):
            emit_json({"status": "conflict", "error": str(exc),
                       "conflicts": [wire.encode(c) for c in exc.conflicts]})
        else:
            _conflict_table(exc.conflicts)
        raise
    _merge_outcome(ctx, result, json_out, verb)


@app.command()
def merge(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Branch, tag or commit to merge.")],
    into: Annotated[str | None, typer.Option("--into", help="Target branch (default: "
                                                            "current).")] = None,
    strategy: StrategyOpt = None,
    resolve: ResolveOpt = None,
    preview: Annotated[bool, typer.Option("--preview", help="Show what would happen; write "
                                                            "nothing.")] = False,
    message: MessageOpt = None,
    author: AuthorOpt = None,
    metadata: Annotated[str | None, typer.Option(
        "--metadata", help="A JSON object added to the merge commit's metadata (@FILE reads "
                           "a file); with it a merge that could fast-forward writes a merge "
                           "commit.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Three-way merge of SOURCE into the current branch (or --into), property by property.

    Conflicts are shown in a table and nothing is written (exit code 3) unless --strategy or
    --resolve settles them.

    Examples:

      palimpsest merge experiment

      palimpsest merge experiment --preview

      palimpsest merge experiment --strategy theirs

      palimpsest merge feature --resolve ada.name='"Ada L."'

      palimpsest merge feature --metadata '{"ticket": "DATA-12"}'
    """
    meta = parse_json_arg(metadata, "--metadata")
    if meta is not None and not isinstance(meta, dict):
        fail("--metadata must be a JSON object, e.g. '{\"ticket\": \"DATA-12\"}'",
             code=EXIT_USAGE)
    repo = open_repo(ctx)
    if not hasattr(repo, "merge"):
        missing_feature("merge")
    resolutions = _resolutions(repo, resolve)
    def call() -> Any:
        if preview:
            return repo.merge_preview(source, into=into, strategy=strategy,
                                      resolutions=resolutions)
        return repo.merge(source, into=into, message=message, author=author,
                          strategy=strategy, resolutions=resolutions, metadata=meta)

    _run_merge(ctx, call, json_out, "Merge")


@app.command("cherry-pick")
def cherry_pick(
    ctx: typer.Context,
    commit: Annotated[str, typer.Argument(help="The commit whose changes to apply.")],
    onto: Annotated[str | None, typer.Option("--onto", help="Target branch (default: "
                                                            "current).")] = None,
    strategy: StrategyOpt = None,
    resolve: ResolveOpt = None,
    message: MessageOpt = None,
    author: AuthorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Apply what one commit changed to the current branch (or --onto), as a new commit.

    Examples:

      palimpsest cherry-pick experiment

      palimpsest cherry-pick experiment~2 --onto main
    """
    repo = open_repo(ctx)
    if not hasattr(repo, "cherry_pick"):
        missing_feature("cherry-pick")
    resolutions = _resolutions(repo, resolve)
    _run_merge(ctx, lambda: repo.cherry_pick(commit, onto=onto, message=message, author=author,
                                             strategy=strategy, resolutions=resolutions),
               json_out, "Cherry-pick")


@app.command()
def rollback(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The state to return to (any ref).")],
    branch: Annotated[str | None, typer.Option("--branch", "-b", help="Branch to roll back "
                                                                      "(default: current).")
                      ] = None,
    message: MessageOpt = None,
    author: AuthorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Make a new commit whose state equals REF's (history is kept; nothing is rewritten).

    Examples:

      palimpsest rollback v2.0 -m "Back to the release"

      palimpsest rollback main~3
    """
    repo = open_repo(ctx)
    report_commit(ctx, repo.rollback(ref, message=message, author=author, branch=branch),
                  json_out, branch)


@app.command()
def revert(
    ctx: typer.Context,
    commit: Annotated[str, typer.Argument(help="The commit to undo.")],
    branch: Annotated[str | None, typer.Option("--branch", "-b", help="Branch to commit to "
                                                                      "(default: current).")
                      ] = None,
    message: MessageOpt = None,
    author: AuthorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Make a new commit that undoes one commit (refused if later commits changed the same
    properties again).

    Example:

      palimpsest revert HEAD
    """
    repo = open_repo(ctx)
    report_commit(ctx, repo.revert(commit, message=message, author=author, branch=branch),
                  json_out, branch)
