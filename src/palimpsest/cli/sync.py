"""``palimpsest clone | remote | fetch | pull | push``: git's remote workflow, mirroring
``palimpsest.clone`` and ``repo.remotes`` / ``fetch`` / ``pull`` / ``push`` (docs/sync.md).
Progress goes to stderr (on a terminal); results to stdout."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .. import wire
from .common import (
    EXIT_CONFLICT,
    AuthorOpt,
    JsonOpt,
    MessageOpt,
    app,
    echo,
    emit_json,
    open_repo,
    progress_bar,
    state,
    table,
    wants_json,
)

TokenOpt = Annotated[str | None, typer.Option(
    "--token", help="API token of an http(s):// remote (stored with the remote).")]
RemoteArg = Annotated[str, typer.Argument(help="The remote's name.")]


def _summary(what: str, report: Any) -> str:
    if report.status == "up_to_date":
        return f"{what}: up to date"
    moved = ", ".join(f"{name} -> {(cid or '(empty)')[:12]}" for name, cid in report.refs.items())
    return (f"{what}: {report.commits} commits, {report.rows} rows, {report.bytes} bytes"
            + (f" ({report.skipped} already here)" if report.skipped else "")
            + (f"; {moved}" if moved else ""))


@app.command()
def clone(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", help="The repository to clone: a SQLite "
                                       "path, postgresql://... or http(s)://server.")],
    path: Annotated[str, typer.Argument(metavar="PATH_OR_URL", help="Where the new repository "
                                        "goes (a new SQLite file or postgresql://...).")],
    token: TokenOpt = None,
    origin: Annotated[str, typer.Option("--origin", help="Name of the remote.")] = "origin",
    depth: Annotated[int | None, typer.Option("--depth", min=1, help="Shallow: only the last "
                     "N commits of each branch come with their state.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Shallow: only the history "
                     "from this ISO time on comes with its state.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Copy a repository with its whole history (identical commit ids): remote-tracking
    branches ORIGIN/NAME and a local branch for the remote's current one.

    From a server: palimpsest clone http://HOST:8000 kg.db --token TOKEN.

    Examples:

      palimpsest clone palimpsest.db copy.db

      palimpsest clone palimpsest.db recent.db --depth 3
    """
    from ..sync.engine import clone as run_clone
    with progress_bar(not wants_json(ctx, json_out)) as progress:
        report = run_clone(url, path, token=token, author=state(ctx).author, origin=origin,
                           progress=progress, depth=depth, since=since)
    if wants_json(ctx, json_out):
        emit_json(wire.encode(report))
        return
    echo(_summary(f"Cloned {url} into {path}", report))


remote_app = typer.Typer(help="The repositories this one fetches from and pushes to.",
                         no_args_is_help=True)
app.add_typer(remote_app, name="remote")


@remote_app.command("add")
def remote_add(ctx: typer.Context, name: RemoteArg,
               url: Annotated[str, typer.Argument(help="A SQLite path, postgresql://... or "
                                                  "http(s)://server.")],
               token: TokenOpt = None) -> None:
    """Remember another repository as NAME.

    A server: palimpsest remote add origin http://HOST:8000 --token TOKEN.

    Example:

      palimpsest init mine.db && palimpsest --repo mine.db remote add hub palimpsest.db
    """
    open_repo(ctx).remotes.add(name, url, token=token)
    echo(f"Added remote {name} ({url})")


@remote_app.command("remove")
def remote_remove(ctx: typer.Context, name: RemoteArg) -> None:
    """Forget a remote and its remote-tracking branches.

    Example:

      palimpsest clone palimpsest.db copy.db && palimpsest --repo copy.db remote remove origin
    """
    open_repo(ctx).remotes.remove(name)
    echo(f"Removed remote {name}")


@remote_app.command("list")
def remote_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The remotes, by name.

    Example:

      palimpsest clone palimpsest.db copy.db && palimpsest --repo copy.db remote list
    """
    remotes = open_repo(ctx).remotes.list()
    if wants_json(ctx, json_out):
        emit_json([wire.encode(r) for r in remotes])
        return
    if not remotes:
        echo("no remotes: add one with `palimpsest remote add NAME URL`")
        return
    table(["name", "url"], [(r.name, r.url) for r in remotes])


@app.command()
def fetch(ctx: typer.Context,
          remote: Annotated[str, typer.Argument(help="The remote's name.")] = "origin",
          json_out: JsonOpt = False) -> None:
    """Bring the commits of the remote's branches this repository lacks and move the
    remote-tracking branches REMOTE/NAME.

    Example:

      palimpsest clone palimpsest.db copy.db && palimpsest --repo copy.db fetch origin
    """
    repo = open_repo(ctx)
    with progress_bar(not wants_json(ctx, json_out)) as progress:
        report = repo.fetch(remote, progress=progress)
    if wants_json(ctx, json_out):
        emit_json(wire.encode(report))
        return
    echo(_summary(f"Fetched {remote}", report))


@app.command()
def pull(ctx: typer.Context,
         remote: Annotated[str, typer.Argument(help="The remote's name.")] = "origin",
         branch: Annotated[str | None, typer.Argument(
             help="The remote's branch (default: the current branch's name).")] = None,
         message: MessageOpt = None, author: AuthorOpt = None,
         strategy: Annotated[str | None, typer.Option(
             "--strategy", help="Settle conflicts: ours or theirs.")] = None,
         json_out: JsonOpt = False) -> None:
    """Fetch, then merge REMOTE/BRANCH into the current branch (fast-forward or a merge
    commit; conflicts are listed and nothing is merged, exit code 3).

    Example:

      palimpsest clone palimpsest.db copy.db && palimpsest --repo copy.db pull origin main
    """
    repo = open_repo(ctx)
    with progress_bar(not wants_json(ctx, json_out)) as progress:
        result = repo.pull(remote, branch, message=message, author=author or state(ctx).author,
                           strategy=strategy, progress=progress)
    if wants_json(ctx, json_out):
        emit_json(wire.encode(result))
    elif result.status == "conflict":
        echo(f"Conflicts pulling {remote}: nothing merged")
        for conflict in result.conflicts:
            echo(f"  {conflict.key}")
    else:
        head = result.commit.id[:12] if result.commit is not None else "-"
        echo(f"Pulled {remote}: {result.status.replace('_', ' ')} ({head})")
    if result.status == "conflict":
        raise typer.Exit(EXIT_CONFLICT)


@app.command()
def push(ctx: typer.Context,
         remote: Annotated[str, typer.Argument(help="The remote's name.")] = "origin",
         branch: Annotated[str | None, typer.Argument(
             help="The branch to push (default: the current one).")] = None,
         force: Annotated[bool, typer.Option(
             "--force", help="Replace the remote branch even when it has commits this one "
             "lacks (where the remote allows it).")] = False,
         json_out: JsonOpt = False) -> None:
    """Send a branch to the remote's branch of the same name; refused when the remote has
    commits this one lacks (pull first) unless --force.

    Example:

      palimpsest clone palimpsest.db copy.db && palimpsest --repo copy.db push origin main
    """
    repo = open_repo(ctx)
    with progress_bar(not wants_json(ctx, json_out)) as progress:
        report = repo.push(remote, branch, force=force, progress=progress)
    if wants_json(ctx, json_out):
        emit_json(wire.encode(report))
        return
    echo(_summary(f"Pushed to {remote}", report))
