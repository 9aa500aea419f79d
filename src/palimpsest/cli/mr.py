"""Merge request commands: mr create, list, show, approve, comment, merge, close
(``palimpsest.server.merge_requests`` on the local repository; the CLI acts with the rights
of whoever can open the file, so as an admin, under ``--author``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import (
    EXIT_CONFLICT,
    AuthorOpt,
    JsonOpt,
    app,
    echo,
    emit_json,
    fail,
    missing_feature,
    open_repo,
    state,
    table,
    wants_json,
)
from .refs import ResolveOpt, StrategyOpt, _conflict_table, _resolutions

mr_app = typer.Typer(help="Merge requests: propose, review, approve and merge a branch.",
                     no_args_is_help=True)
app.add_typer(mr_app, name="mr")


def _mr() -> Any:
    try:
        from ..server import merge_requests
    except ImportError:  # pragma: no cover - the module needs no extra
        missing_feature("merge requests")
    return merge_requests


def _who(ctx: typer.Context, author: str | None) -> Any:
    from ..server.auth import Principal

    return Principal(author or state(ctx).author, "admin")


def _show(ctx: typer.Context, request: Any, json_out: bool, extra: dict[str, Any] | None = None
          ) -> None:
    if wants_json(ctx, json_out):
        emit_json({**request.to_dict(), **(extra or {})})
        return
    echo(f"#{request.number} {request.title} [{request.state}]")
    echo(f"  {request.source} -> {request.target}, by {request.author}, "
         f"{request.created:%Y-%m-%d %H:%M}")
    if request.description:
        echo("  " + request.description.replace("\n", "\n  "))
    if request.approvals:
        echo(f"  approved by {', '.join(request.approvals)}")
    if request.merge_commit:
        echo(f"  merged as {request.merge_commit[:10]}")
    for review in request.reviews:
        if review.kind == "comment":
            echo(f"  {review.author}: {review.body}")


@mr_app.command("create")
def mr_create(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The branch to merge.")],
    target: Annotated[str, typer.Argument(help="The branch to merge into.")],
    title: Annotated[str, typer.Option("--title", "-t", help="What it does.")],
    description: Annotated[str, typer.Option("--description", "-d", help="Why.")] = "",
    author: AuthorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Open a merge request from SOURCE into TARGET.

    Example:

      palimpsest mr create feature main --title "Rename Ada"
    """
    request = _mr().create(open_repo(ctx), _who(ctx, author), source=source, target=target,
                           title=title, description=description)
    if wants_json(ctx, json_out):
        emit_json(request.to_dict())
    else:
        echo(f"opened merge request #{request.number}")


@mr_app.command("list")
def mr_list(
    ctx: typer.Context,
    state_: Annotated[str | None, typer.Option("--state", help="open, merged or closed "
                                               "(default: all).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List merge requests, newest first.

    Example:

      palimpsest mr list --state open
    """
    found = _mr().list_requests(open_repo(ctx), state_)
    if wants_json(ctx, json_out):
        emit_json([r.to_dict() for r in found])
        return
    if not found:
        echo("no merge requests")
        return
    table(["#", "title", "source", "target", "author", "state", "approvals"],
          [(r.number, r.title, r.source, r.target, r.author, r.state, len(r.approvals))
           for r in found])


@mr_app.command("show")
def mr_show(ctx: typer.Context,
            number: Annotated[int, typer.Argument(help="The merge request's number.")],
            json_out: JsonOpt = False) -> None:
    """Show a merge request, its discussion, and what merging it would do now.

    Example:

      palimpsest mr create feature main --title "Rename Ada" && palimpsest mr show 1
    """
    mr = _mr()
    repo = open_repo(ctx)
    request = mr.get(repo, number)
    extra: dict[str, Any] = {"required_approvals": mr.required_approvals(repo, request.target)}
    conflicts: list[Any] = []
    if request.state == "open":
        preview = mr.preview(repo, request)
        conflicts = preview.conflicts
        extra.update(status=preview.status, conflicts=mr.conflict_dicts(conflicts))
    _show(ctx, request, json_out, extra)
    if not wants_json(ctx, json_out) and request.state == "open":
        echo(f"  merging now: {extra['status']}; approvals needed: "
             f"{extra['required_approvals']}")
        if conflicts:
            _conflict_table(conflicts)


@mr_app.command("comment")
def mr_comment(ctx: typer.Context,
               number: Annotated[int, typer.Argument(help="The merge request's number.")],
               body: Annotated[str, typer.Argument(help="The comment.")],
               author: AuthorOpt = None, json_out: JsonOpt = False) -> None:
    """Comment on a merge request.

    Example:

      palimpsest mr create feature main --title "Rename Ada" && palimpsest mr comment 1 "Looks right"
    """
    _show(ctx, _mr().comment(open_repo(ctx), _who(ctx, author), number, body), json_out)


@mr_app.command("approve")
def mr_approve(ctx: typer.Context,
               number: Annotated[int, typer.Argument(help="The merge request's number.")],
               body: Annotated[str, typer.Option("--comment", help="A comment.")] = "",
               author: AuthorOpt = None, json_out: JsonOpt = False) -> None:
    """Approve a merge request (not one you opened).

    Example:

      palimpsest mr create feature main --title "Rename Ada" --author bob && palimpsest mr approve 1 --author alice
    """
    _show(ctx, _mr().approve(open_repo(ctx), _who(ctx, author), number, body), json_out)


@mr_app.command("merge")
def mr_merge(ctx: typer.Context,
             number: Annotated[int, typer.Argument(help="The merge request's number.")],
             strategy: StrategyOpt = None, resolve: ResolveOpt = None,
             author: AuthorOpt = None, json_out: JsonOpt = False) -> None:
    """Merge a merge request: its approvals must be there and its checks (conflicts, fsck)
    pass; conflicts are settled with --strategy or --resolve as for `merge`.

    Example:

      palimpsest mr create feature main --title "Rename Ada" && palimpsest mr merge 1 --resolve ada.name=theirs
    """
    mr = _mr()
    repo = open_repo(ctx)
    try:
        request, result = mr.merge(repo, _who(ctx, author), number, mr.Checks(),
                                   resolutions=_resolutions(repo, resolve), strategy=strategy)
    except mr.MergeBlocked as exc:
        fail(str(exc), hint="approve it (mr approve) or fix what the checks report",
             code=EXIT_CONFLICT)
    _show(ctx, request, json_out, {"status": result.status})
    if not wants_json(ctx, json_out):
        echo(f"  {result.status.replace('_', ' ')}")


@mr_app.command("close")
def mr_close(ctx: typer.Context,
             number: Annotated[int, typer.Argument(help="The merge request's number.")],
             author: AuthorOpt = None, json_out: JsonOpt = False) -> None:
    """Close a merge request without merging.

    Example:

      palimpsest mr create feature main --title "Rename Ada" && palimpsest mr close 1
    """
    _show(ctx, _mr().close(open_repo(ctx), _who(ctx, author), number), json_out)
