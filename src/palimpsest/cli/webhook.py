"""Webhook commands: webhook add, list, remove, deliveries (``palimpsest.server.webhooks`` on
the local repository, like ``token``; a running server delivers)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import (
    JsonOpt,
    app,
    echo,
    emit_json,
    err,
    missing_feature,
    open_repo,
    table,
    wants_json,
)

webhook_app = typer.Typer(help="Webhooks: URLs the server POSTs signed events to.",
                          no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")


def _webhooks() -> Any:
    try:
        from ..server import webhooks
    except ImportError:  # pragma: no cover - the module needs no extra
        missing_feature("webhooks")
    return webhooks


def _show(ctx: typer.Context, rows: list[dict[str, Any]], json_out: bool, empty: str) -> None:
    if wants_json(ctx, json_out):
        emit_json(rows)
    elif not rows:
        echo(empty)
    else:
        headers = list(rows[0])
        table(headers, [[r.get(h) for h in headers] for r in rows])


@webhook_app.command("add")
def webhook_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Where to POST (http:// or https://).")],
    event: Annotated[list[str], typer.Option("--event", "-e", help="commit, merge, "
                     "merge_request.opened, merge_request.approved, merge_request.merged or "
                     "tag (repeat for several).")],
    branch: Annotated[str, typer.Option("--branch", help="Only events on these branches "
                                        "(globs, comma-separated).")] = "*",
    json_out: JsonOpt = False,
) -> None:
    """Register a webhook and print its signing secret once.

    Example:

      palimpsest webhook add https://ci.example.com/hook --event commit --branch main
    """
    hook, secret = _webhooks().add_hook(open_repo(ctx), url, event, branch_pattern=branch)
    if wants_json(ctx, json_out):
        emit_json(hook.to_dict() | {"secret": secret})
        return
    echo(f"{hook.id} {secret}")
    err("store the secret now: deliveries are signed with it (HMAC-SHA256)", "dim")


@webhook_app.command("list")
def webhook_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List webhooks (ids, URLs, events; never the secrets).

    Example:

      palimpsest webhook list
    """
    rows = [h.to_dict() for h in _webhooks().list_hooks(open_repo(ctx))]
    _show(ctx, rows, json_out, "no webhooks")


@webhook_app.command("remove")
def webhook_remove(ctx: typer.Context,
                   hook_id: Annotated[str, typer.Argument(help="The webhook's id (see "
                                                              "`webhook list`).")],
                   json_out: JsonOpt = False) -> None:
    """Remove a webhook: nothing more is sent to it.

    Example:

      palimpsest webhook remove 3f2a9c1b7d0e
    """
    _webhooks().remove_hook(open_repo(ctx), hook_id)
    if wants_json(ctx, json_out):
        emit_json({"removed": hook_id})
    else:
        echo(f"removed {hook_id}")


@webhook_app.command("deliveries")
def webhook_deliveries(ctx: typer.Context,
                       hook_id: Annotated[str, typer.Argument(help="The webhook's id.")],
                       json_out: JsonOpt = False) -> None:
    """The latest deliveries of a webhook with status, attempts and last HTTP status or error.

    Example:

      palimpsest webhook deliveries 3f2a9c1b7d0e
    """
    rows = [d.to_dict() for d in _webhooks().deliveries(open_repo(ctx), hook_id)]
    _show(ctx, rows, json_out, "no deliveries")
