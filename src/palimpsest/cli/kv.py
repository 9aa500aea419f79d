"""Key-value commands: kv get, set, cas, rm, list, watch. Values are bytes."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from .. import wire
from .common import (
    EXIT_USAGE,
    AuthorOpt,
    JsonOpt,
    MessageOpt,
    RefOpt,
    app,
    echo,
    emit_json,
    fail,
    missing_feature,
    open_repo,
    short,
    table,
    wants_json,
    write_data,
)

kv_app = typer.Typer(help="Key-value state (etcd-like): per-key versions, compare-and-set, "
                          "watch.", no_args_is_help=True)
app.add_typer(kv_app, name="kv")


def _kv(ctx: typer.Context, ref: str | None = None) -> Any:
    repo = open_repo(ctx)
    if not hasattr(repo, "kv"):
        missing_feature("the key-value store (kv)")
    if ref is not None:
        return repo.at(ref).kv
    return repo.kv


def _value_bytes(value: str | None, file: str | None, base64: bool = False) -> bytes:
    """The bytes to store: a file's or standard input's bytes as they are; VALUE as UTF-8
    (bytes that are not UTF-8 in the command line are kept as given), or decoded from base64
    with --base64 (as ``kv get --json`` prints ``value``)."""
    if file is not None:
        if value is not None:
            fail("give a VALUE or --file, not both", code=EXIT_USAGE)
        from pathlib import Path
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    elif value is None:
        fail("give a VALUE or --file", code=EXIT_USAGE)
    else:
        # the command line arrives decoded with surrogateescape: this gives its bytes back
        data = value.encode("utf-8", "surrogateescape")
    if not base64:
        return data
    import binascii
    try:
        return binascii.a2b_base64(b"".join(data.split()), strict_mode=True)
    except (binascii.Error, ValueError):
        fail("--base64: the value is not valid base64", code=EXIT_USAGE)


FileOpt = Annotated[str | None, typer.Option("--file", metavar="PATH", help="Read the value "
                                             "from a file ('-': standard input), as bytes.")]
Base64Opt = Annotated[bool, typer.Option("--base64", help="The value is base64 (for bytes "
                                         "that are not text, as `kv get --json` prints "
                                         "them).")]


@kv_app.command("get")
def kv_get(ctx: typer.Context, key: Annotated[str, typer.Argument(help="The key.")],
           ref: RefOpt = None, json_out: JsonOpt = False) -> None:
    """Print a key's value (with --json: version and times too).

    Example:

      palimpsest kv get /config/cluster
    """
    entry = _kv(ctx, ref).get(key)
    if entry is None:
        fail(f"no key {key!r}")
    if wants_json(ctx, json_out):
        emit_json(wire.encode(entry))
        return
    write_data(entry.value + (b"" if entry.value.endswith(b"\n") else b"\n"))


@kv_app.command("set")
def kv_set(ctx: typer.Context, key: Annotated[str, typer.Argument(help="The key.")],
           value: Annotated[str | None, typer.Argument(help="The value (text).")] = None,
           file: FileOpt = None, base64: Base64Opt = False, message: MessageOpt = None,
           author: AuthorOpt = None, json_out: JsonOpt = False) -> None:
    """Write a key (one commit). Values are bytes: text, a file's bytes, or base64.

    Examples:

      palimpsest kv set /config/cluster '{"size": 3}'

      palimpsest kv set /certs/ca --file ca.pem

      palimpsest kv set /blobs/magic 3q2+7w== --base64
    """
    entry = _kv(ctx).set(key, _value_bytes(value, file, base64), message=message,
                         author=author)
    _kv_done(ctx, entry, json_out)


@kv_app.command("set-many")
def kv_set_many(ctx: typer.Context,
                pairs: Annotated[list[str] | None, typer.Argument(
                    help="KEY=VALUE pairs (values as text).", metavar="KEY=VALUE...")] = None,
                file: Annotated[str | None, typer.Option(
                    "--file", metavar="PATH", help="A JSON object of key to value (text) "
                    "('-': standard input).")] = None,
                base64: Base64Opt = False, message: MessageOpt = None,
                author: AuthorOpt = None, json_out: JsonOpt = False) -> None:
    """Write many keys in one commit (batched: much faster than one `kv set` each).

    Example:

      palimpsest kv set-many /config/a=1 /config/b=2
    """
    items: dict[str, bytes] = {}
    if file is not None:
        import json
        from pathlib import Path
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            fail(f"--file: not JSON: {exc}", code=EXIT_USAGE)
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            fail("--file: give a JSON object of key to text value", code=EXIT_USAGE)
        items.update((key, _value_bytes(value, None, base64)) for key, value in loaded.items())
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            fail(f"{pair!r} is not KEY=VALUE", code=EXIT_USAGE)
        items[key] = _value_bytes(value, None, base64)
    if not items:
        fail("give KEY=VALUE pairs or --file", code=EXIT_USAGE)
    entries = _kv(ctx).set_many(items, message=message, author=author)
    if wants_json(ctx, json_out):
        emit_json([wire.encode(e) for e in entries])
    else:
        for entry in entries:
            echo(f"{entry.key} = version {entry.version}")


def _kv_done(ctx: typer.Context, entry: Any, json_out: bool) -> None:
    if wants_json(ctx, json_out):
        emit_json(wire.encode(entry))
    else:
        echo(f"{entry.key} = version {entry.version}")


@kv_app.command("cas")
def kv_cas(ctx: typer.Context, key: Annotated[str, typer.Argument(help="The key.")],
           expected_version: Annotated[int, typer.Argument(help="Version the key must be at "
                                                                "(0: must not exist).")],
           value: Annotated[str | None, typer.Argument(help="The new value.")] = None,
           file: FileOpt = None, base64: Base64Opt = False, message: MessageOpt = None,
           author: AuthorOpt = None, json_out: JsonOpt = False) -> None:
    """Compare-and-set: write only if the key is at EXPECTED_VERSION (exit 1 otherwise).

    Example:

      palimpsest kv cas /config/cluster 2 '{"size": 5}'
    """
    entry = _kv(ctx).compare_and_set(key, expected_version, _value_bytes(value, file, base64),
                                     message=message, author=author)
    _kv_done(ctx, entry, json_out)


@kv_app.command("rm")
def kv_rm(ctx: typer.Context, key: Annotated[str, typer.Argument(help="The key.")],
          message: MessageOpt = None, author: AuthorOpt = None,
          json_out: JsonOpt = False) -> None:
    """Delete a key (one commit).

    Example:

      palimpsest kv rm /config/old
    """
    deleted = _kv(ctx).delete(key, message=message, author=author)
    if wants_json(ctx, json_out):
        emit_json({"key": key, "deleted": bool(deleted)})
    elif not deleted:
        fail(f"no key {key!r}")
    else:
        echo(f"deleted {key}")


@kv_app.command("list")
def kv_list(ctx: typer.Context,
            prefix: Annotated[str, typer.Argument(help="Key prefix.")] = "/",
            limit: Annotated[int | None, typer.Option("--limit", "-n", help="At most N.")
                             ] = None,
            ref: RefOpt = None, json_out: JsonOpt = False) -> None:
    """List keys under a prefix, in key order, with versions.

    Example:

      palimpsest kv list /workloads/
    """
    entries = _kv(ctx, ref).list(prefix, limit=limit)
    if wants_json(ctx, json_out):
        emit_json([wire.encode(e) for e in entries])
        return
    table(["key", "version", "updated", "value"],
          [(e.key, e.version, e.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            short(e.value.decode("utf-8", "replace"), 50)) for e in entries])


@kv_app.command("watch")
def kv_watch(ctx: typer.Context,
             pattern: Annotated[str, typer.Argument(help="A key, or a prefix ending in '*'.")],
             since: Annotated[str | None, typer.Option("--since", help="Replay events after "
                                                                       "this commit first.")
                              ] = None,
             count: Annotated[int | None, typer.Option("--count", "-n", help="Stop after N "
                                                                             "events.")] = None,
             json_out: JsonOpt = False) -> None:
    """Print changes to matching keys as they are committed (one line each) until
    interrupted.

    Examples:

      palimpsest kv watch '/workloads/*'

      palimpsest kv watch /config/cluster --since HEAD~10 -n 2 --json
    """
    kv = _kv(ctx)
    events = kv.watch(pattern, since=since) if since is not None else kv.watch(pattern)
    as_json = wants_json(ctx, json_out)
    seen = 0
    try:
        for event in events:
            if as_json:
                emit_json(wire.encode(event), indent=False)
            else:
                value = "" if event.value is None else event.value.decode("utf-8", "replace")
                echo(f"{event.commit.short_id} {event.type:<8} {event.key} v{event.version} "
                     f"{short(value, 60)}")
            sys.stdout.flush()
            seen += 1
            if count is not None and seen >= count:
                break
    finally:
        close = getattr(events, "close", None)
        if callable(close):
            close()
