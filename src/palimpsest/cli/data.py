"""Data and maintenance commands: import, export, query, copy, fsck, gc, backup, restore,
erase, retention, serve, token (the kv commands are in ``cli/kv.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from .. import wire
from ..types import Document, Entity
from .common import (
    EXIT_PORT_IN_USE,
    EXIT_USAGE,
    AuthorOpt,
    BranchOpt,
    CliError,
    CollectionOpt,
    JsonOpt,
    MessageOpt,
    RefOpt,
    ValidAtOpt,
    ValidBetweenOpt,
    app,
    echo,
    emit_json,
    err,
    fail,
    missing_feature,
    narrow,
    open_repo,
    paint,
    parse_json_arg,
    parse_value,
    progress_bar,
    short,
    stat_text,
    state,
    table,
    wants_json,
    write_data,
)

FormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", help="archive, json, jsonl, csv, nt, nq, ttl, trig, n3, rdf (RDF/XML), "
                           "jsonld [default: from the file name].")]
PrefixOpt = Annotated[list[str] | None, typer.Option(
    "--prefix", metavar="NAME=IRI", help="RDF: an extra namespace prefix ('=IRI' sets the "
                                         "namespace of bare names). Repeatable.")]


def _prefixes(items: Sequence[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out = {}
    for item in items:
        name, sep, iri = item.partition("=")
        if not sep or not iri:
            fail(f"--prefix {item!r}: expected NAME=IRI", code=EXIT_USAGE)
        out[name] = iri
    return out


LegacyOpt = Annotated[bool, typer.Option(
    "--allow-legacy-archive", help="Accept an archive without a trailer (written before "
    "format version 2): its completeness cannot be checked; everything else is.")]


@app.command("import")
def import_(
    ctx: typer.Context,
    files: Annotated[list[str], typer.Argument(metavar="FILE...", help="Files to import as one "
                                               "commit (a CSV directory holds entities.csv and "
                                               "relations.csv).")],
    format: FormatOpt = None,
    mode: Annotated[str, typer.Option("--mode", help="replace: the branch's graph becomes the "
                                                     "file's (missing elements are deleted); "
                                                     "merge: add and update only.")] = "replace",
    message: MessageOpt = None,
    author: AuthorOpt = None,
    branch: BranchOpt = None,
    date: Annotated[str | None, typer.Option("--date", help="Commit time (ISO-8601), e.g. a "
                                                            "release date.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Tag the new commit.")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Leave bad records out "
                                               "(and count them) instead of failing.")] = False,
    prefix: PrefixOpt = None,
    base_iri: Annotated[str | None, typer.Option("--base-iri", help="RDF: base IRI for "
                                                                    "relative IRIs.")] = None,
    allow_legacy: LegacyOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Import files as one commit that records only what changed (versioned import).

    Importing each release of a data set into the same branch gives one commit per release
    whose diff is the release's real diff: elements not in the new release are deleted
    (--mode replace), changed ones updated, unchanged ones not touched. A malformed record
    stops the import with its file, line and reason, and nothing is committed, unless
    --skip-invalid. A history archive (--format archive, from `export --format archive`)
    loads a whole history into an empty repository (created when missing).

    Examples:

      palimpsest import schema-29.0.nt.xz --tag v29.0 --date 2025-03-24

      palimpsest import entities.csv relations.csv -m "Nightly sync"

      palimpsest import graph.jsonl --mode merge --branch staging

      palimpsest --repo copy.db import backup.archive.jsonl --format archive
    """
    if mode not in ("replace", "merge"):
        fail(f"--mode must be replace or merge, not {mode!r}", code=EXIT_USAGE)
    from ..io.files import import_files, normalize_format
    # a history archive loads into an empty repository: create it when it is missing
    repo = open_repo(ctx, create=normalize_format(format) == "archive")
    as_json = wants_json(ctx, json_out)
    target = branch or repo.current_branch
    if not any(b.name == target for b in repo.branches(None)):
        repo.create_branch(target)
        if not as_json:
            err(f"created branch {target}", "dim")
    with progress_bar(not as_json) as progress:
        result = import_files(repo, files, format=format, mode=mode,  # type: ignore[arg-type]
                              branch=target, message=message, author=author, timestamp=date,
                              skip_invalid=skip_invalid, prefixes=_prefixes(prefix),
                              base_iri=base_iri, progress=progress,
                              allow_legacy=allow_legacy)
    if tag is not None and result.commit is not None:
        repo.tag(tag, result.commit.id)
    if as_json:
        emit_json({**result.to_dict(), "tag": tag, "branch": target})
        return
    commit = result.commit
    if result.mode == "archive":
        echo(f"Loaded a history of {result.elements} records; head "
             f"{commit.short_id if commit else '-'}")
        return
    assert commit is not None
    echo(f"[{target} {paint(commit.short_id, 'yellow')}] {commit.message}")
    echo(f"{stat_text(commit.stats)}  ({result.elements} elements read, {result.unchanged} "
         "unchanged)" + (f", tagged {tag}" if tag else ""))
    if result.skipped:
        err(f"skipped {result.skipped} invalid record(s):", "yellow")
        for line in result.errors[:10]:
            err(f"  {line}", "yellow")


@app.command()
def export(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Output file ('-' for standard output; a "
                                             "directory for csv).")],
    ref: RefOpt = None,
    format: FormatOpt = None,
    prefix: PrefixOpt = None,
    drop_relation_props: Annotated[bool, typer.Option(
        "--drop-relation-props", help="RDF: leave out relation properties (RDF triples "
                                      "cannot hold them).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Write the graph at a ref (JSON, JSON Lines, CSV, RDF) or the full history (archive).

    Examples:

      palimpsest export graph.jsonl --ref v2.0

      palimpsest export schema.ttl --ref v28.0

      palimpsest export out/ --format csv

      palimpsest export backup.archive.jsonl --format archive

      palimpsest export - --ref v28.0 --format nt | head
    """
    repo = open_repo(ctx)
    from ..io.files import export_files, normalize_format, render
    if path == "-":
        fmt = normalize_format(format) or "jsonl"
        if fmt in ("csv", "archive"):
            fail(f"--format {fmt} cannot be written to standard output; give a path",
                 code=EXIT_USAGE)
        data, _ = render(repo, ref, fmt, prefixes=_prefixes(prefix),
                         drop_relation_props=drop_relation_props)
        write_data(data)
        return
    with progress_bar(False):
        result = export_files(repo, path, ref=ref, format=format, prefixes=_prefixes(prefix),
                              drop_relation_props=drop_relation_props)
    if wants_json(ctx, json_out):
        emit_json(result.to_dict())
        return
    what = "records" if result.format == "archive" else "elements"
    echo(f"Wrote {result.count} {what} as {result.format} to {', '.join(result.files)}")


@app.command()
def query(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A document collection, or an entity type "
                                               "with --type.")],
    conditions: Annotated[list[str] | None, typer.Argument(
        metavar="[FIELD OP VALUE]...", help="Filters joined by 'and', e.g. age gt 30 "
                                            "name eq Ada (ops: eq ne gt gte lt lte contains "
                                            "exists matches in; also = != > >= < <=).")] = None,
    entities: Annotated[bool, typer.Option("--type", "-t", help="TARGET is an entity type.")
                        ] = False,
    where: Annotated[str | None, typer.Option("--where", "-w", metavar="JSON", help="A filter "
                                              "in the dict form, e.g. "
                                              "'{\"age\": {\"gt\": 30}}'.")] = None,
    order_by: Annotated[list[str] | None, typer.Option(
        "--order-by", "-o", metavar="FIELD[:desc]", help="Sort order. Repeatable.")] = None,
    select: Annotated[list[str] | None, typer.Option("--select", help="Only these fields. "
                                                                      "Repeatable.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="At most N results.")
                     ] = None,
    ref: RefOpt = None,
    valid_at: ValidAtOpt = None,
    valid_between: ValidBetweenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Find documents (or entities) matching filters, at any ref (entities: at a valid time
    with --valid-at).

    Examples:

      palimpsest query notes author eq ada

      palimpsest query Person --type age '>' 30 --order-by age:desc -n 10

      palimpsest query notes --where '{"or": [{"tags": {"contains": "x"}}, {"draft": {"eq":
      true}}]}'
    """
    repo = open_repo(ctx)
    view = narrow(repo.at(ref), valid_at, valid_between)
    if not hasattr(view, "query"):
        missing_feature("query")
    filters = _conditions(conditions or [])
    extra = parse_json_arg(where, "--where")
    if extra is not None:
        filters.append(extra)
    clause: Any = None if not filters else filters[0] if len(filters) == 1 else {"and": filters}
    order = [[f.partition(":")[0], f.partition(":")[2] or "asc"] for f in order_by or ()]
    kwargs: dict[str, Any] = {"where": clause, "order_by": order or None, "limit": limit}
    if select:
        kwargs["select"] = select
    results = view.query(target, kind="entity" if entities else None, **kwargs)
    items = [wire.encode(r) if isinstance(r, Entity | Document) else r for r in results]
    if wants_json(ctx, json_out):
        emit_json(items)
        return
    for item in items:
        if "key" in item:
            echo(f"{paint(item['key'], 'bold')}  {short(item['value'], 100)}")
        else:
            echo(f"{paint(item['id'], 'bold')} ({item['type']})  {short(item['props'], 100)}")
    err(f"{len(items)} result(s)", "dim")


_OPS = {"=": "eq", "==": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
_NAMES = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "exists", "matches", "in")


def _conditions(words: Sequence[str]) -> list[dict[str, Any]]:
    """``["age", "gt", "30", "name", "=", "Ada"]`` -> dict-form filters; ``exists`` takes
    no value."""
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(words):
        field = words[i]
        if i + 1 >= len(words):
            fail(f"filter {field!r} needs an operator and a value", code=EXIT_USAGE)
        op = _OPS.get(words[i + 1], words[i + 1])
        if op not in _NAMES:
            fail(f"unknown operator {words[i + 1]!r}; use one of {', '.join(_NAMES)}",
                 code=EXIT_USAGE)
        if op == "exists":
            out.append({"field": field, "op": "exists", "value": True})
            i += 2
            continue
        if i + 2 >= len(words):
            fail(f"filter '{field} {words[i + 1]}' needs a value", code=EXIT_USAGE)
        out.append({"field": field, "op": op, "value": parse_value(words[i + 2])})
        i += 3
    return out


# -- maintenance ----------------------------------------------------------------------------
@app.command()
def fsck(
    ctx: typer.Context,
    last: Annotated[int | None, typer.Option("--last", help="Check only the newest N commits.")
                    ] = None,
    repair_indexes: Annotated[bool, typer.Option("--repair-indexes", help="Rebuild damaged "
                                                 "indexes and derived data first (never "
                                                 "history).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Verify value hashes, commit ids, state hashes, refs, derived data and (with the
    engine's own check: SQLite integrity_check, PostgreSQL amcheck) the indexes; exit 1 when
    a problem is found.

    Examples:

      palimpsest fsck

      palimpsest fsck --last 100

      palimpsest fsck --repair-indexes
    """
    repo = open_repo(ctx)
    report = repo.fsck(last=last, repair_indexes=repair_indexes)
    if wants_json(ctx, json_out):
        emit_json(report.to_dict())
    else:
        if getattr(report, "repaired_indexes", None):
            names = ", ".join(report.repaired_indexes).replace("*", "all indexes")
            echo(f"rebuilt {names}")
        for problem in report.problems:
            err(f"problem: {problem}", "red")
        status = paint("ok", "green") if report.ok else paint(
            f"{len(report.problems)} problem(s)", "red")
        echo(f"checked {report.rows} rows, {report.commits} commits, {report.refs} refs: "
             f"{status}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def gc(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be removed.")
                       ] = False,
    vacuum: Annotated[bool, typer.Option("--vacuum", help="SQLite: give freed space back to "
                                                          "the file system.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Apply the retention policies: remove rows no readable state needs.

    Examples:

      palimpsest gc --dry-run

      palimpsest gc --vacuum
    """
    repo = open_repo(ctx)
    if not hasattr(repo, "gc"):
        missing_feature("gc")
    report = repo.gc(dry_run=dry_run, vacuum=vacuum)
    data = report.to_dict() if hasattr(report, "to_dict") else dict(vars(report))
    if wants_json(ctx, json_out):
        emit_json(data)
        return
    table(["figure", "value"], [(k, v) for k, v in data.items() if not isinstance(v, dict)])


@app.command()
def backup(
    ctx: typer.Context,
    dest: Annotated[str, typer.Argument(help="New file to write the copy to.")],
    format: Annotated[str | None, typer.Option("--format", help="sqlite or archive.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Make a consistent online copy of the repository (verified with fsck).

    Example:

      palimpsest backup kg-2026-01-15.db
    """
    repo = open_repo(ctx)
    if not hasattr(repo, "backup"):
        missing_feature("backup")
    info = repo.backup(dest, format=format)
    data = info.to_dict() if hasattr(info, "to_dict") else {"dest": dest}
    if wants_json(ctx, json_out):
        emit_json(data)
        return
    echo(f"Backed up to {dest}")


@app.command()
def restore(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A backup made by `palimpsest backup` (a SQLite "
                                          "file or an archive).")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing "
                                            "repository at --repo.")] = False,
    allow_legacy: LegacyOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Restore a backup into the repository location (--repo); verified before it is used.

    Example:

      palimpsest --repo kg.db restore kg-2026-01-15.db --overwrite
    """
    import palimpsest

    st = state(ctx)
    repo = palimpsest.restore(source, st.target, overwrite=overwrite, author=st.author,
                              allow_legacy=allow_legacy)
    st.opened.append(repo)
    head = repo.log(limit=1)
    data = {"restored": source, "into": st.target, "head": head[0].id if head else None}
    if wants_json(ctx, json_out):
        emit_json(data)
        return
    echo(f"Restored {source} into {st.target}")


@app.command()
def retract(
    ctx: typer.Context,
    source: Annotated[str, typer.Option(
        "--source", metavar="NAME", help="The provenance source to retract.")],
    message: MessageOpt = None,
    author: AuthorOpt = None,
    branch: BranchOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete, in one commit, every entity, relation and document whose current version came
    from provenance SOURCE (an entity's relations go with it). History keeps the old versions.

    Example:

      palimpsest retract --source doc-17 -m "doc-17 was withdrawn"
    """
    repo = open_repo(ctx)
    commit = repo.retract(source, message=message, author=author or state(ctx).author,
                          branch=branch)
    if wants_json(ctx, json_out):
        emit_json(wire.encode(commit))
        return
    echo(f"[{branch or repo.current_branch} {paint(commit.short_id, 'yellow')}] "
         f"{commit.message} ({stat_text(commit.stats)})")


@app.command()
def erase(
    ctx: typer.Context,
    id: Annotated[str | None, typer.Argument(help="The entity or relation id to erase.")]
    = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit record).")]
    = "",
    collection: CollectionOpt = None,
    source: Annotated[str | None, typer.Option(
        "--source", metavar="NAME", help="Erase every value that came from this provenance "
                                         "source instead of one element.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Erase one element's values from every version (GDPR), keeping hashes so history still
    verifies; the erasure itself is recorded. With --source, erase every stored value that
    came from that provenance source.

    Examples:

      palimpsest erase alice --reason "GDPR request 2026-11"

      palimpsest erase --source doc-17 --reason "withdrawn, personal data"
    """
    repo = open_repo(ctx)
    if not reason:
        fail("erase needs --reason (it is kept in the audit record)", code=EXIT_USAGE)
    if (id is None) == (source is None):
        fail("name one element to erase, or --source", code=EXIT_USAGE)
    if source is not None:
        made = repo.erase_source(source, reason=reason, author=state(ctx).author)
        if wants_json(ctx, json_out):
            emit_json([wire.encode(e) for e in made])
            return
        echo(f"Erased {sum(e.rows for e in made)} version(s) of {len(made)} element(s) that "
             f"came from {source} (commit {(made[0].commit or '')[:10]})")
        return
    assert id is not None
    target: Any = (collection, id) if collection else id
    erasure = repo.erase(target, reason=reason, author=state(ctx).author)
    if wants_json(ctx, json_out):
        emit_json(erasure.to_dict())
        return
    echo(f"Erased {erasure.element} {id} from {erasure.rows} version(s) "
         f"(commit {(erasure.commit or '')[:10]})")


@app.command()
def retention(
    ctx: typer.Context,
    branches: Annotated[str | None, typer.Argument(help="Branch name or glob (e.g. main, "
                                                   "release/*); omit to list policies.")] = None,
    keep: Annotated[str | None, typer.Option("--keep", help="How long to keep states: 365d, "
                                             "12h, 2w.")] = None,
    keep_commits: Annotated[int | None, typer.Option("--keep-commits", help="How many recent "
                                                     "commits to keep readable.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the policy of BRANCHES.")
                      ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Set, remove or list retention policies (applied by `palimpsest gc`).

    Examples:

      palimpsest retention main --keep 365d

      palimpsest retention 'release/*' --keep-commits 100

      palimpsest retention
    """
    repo = open_repo(ctx)
    if branches is not None:
        if not remove and keep is None and keep_commits is None:
            raise CliError("give --keep and/or --keep-commits (or --remove)",
                           hint="e.g. palimpsest retention main --keep 365d")
        repo.set_retention(branches, None if remove else keep,
                           keep_commits=None if remove else keep_commits,
                           author=state(ctx).author)
    policies = repo.retention()
    rows = [p.to_dict() if hasattr(p, "to_dict") else dict(vars(p)) for p in policies]
    if wants_json(ctx, json_out):
        emit_json(rows)
        return
    if not rows:
        echo("no retention policies: every state stays readable")
        return
    table(list(rows[0]), [tuple(str(v) for v in r.values()) for r in rows])


@app.command()
def copy(
    ctx: typer.Context,
    dest: Annotated[str, typer.Argument(metavar="DEST_PATH_OR_URL", help="Where to copy the "
                                        "repository (a new SQLite file or postgresql://...).")],
    json_out: JsonOpt = False,
) -> None:
    """Copy the whole repository, full history, to another location or backend.

    Example:

      palimpsest --repo kg.db copy postgresql://me@localhost/kg
    """
    repo = open_repo(ctx)
    if not hasattr(repo, "copy_to"):
        missing_feature("copy")
    with progress_bar(not wants_json(ctx, json_out)):
        result = repo.copy_to(dest)
    if wants_json(ctx, json_out):
        emit_json(result.to_dict() if hasattr(result, "to_dict") else {"dest": dest})
        return
    echo(f"Copied {repo.url} to {dest}")


# -- server ---------------------------------------------------------------------------------
def _server() -> Any:
    try:
        from .. import server
    except ImportError:
        missing_feature("the server")
    return server


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port.")] = 8000,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="No tokens needed (loopback "
                                                            "only).")] = False,
    lock_wait: Annotated[float, typer.Option("--lock-wait", help="Seconds a write waits for "
                                             "the write lock before answering 503.")] = 5.0,
) -> None:
    """Serve the repository over HTTP/JSON with the web UI (needs the server extra).

    Examples:

      palimpsest serve

      palimpsest --repo kg.db serve --port 8080
    """
    server = _server()
    if not hasattr(server, "serve"):
        missing_feature("the server")
    st = state(ctx)
    repo = st.repo()  # fail early, with the usual message, when there is no repository
    url = repo.url
    st.close()
    _check_port(host, port)
    from ..server.app import ServerConfig
    server.serve(url, host=host, port=port, no_auth=no_auth,
                 config=ServerConfig(lock_wait_seconds=lock_wait))


def _check_port(host: str, port: int) -> None:
    """Fail with its own exit code, before anything says "serving", when HOST:PORT cannot be
    listened on (typically: another process already uses the port)."""
    import errno
    import socket
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}", hint="check --host",
             code=EXIT_USAGE)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(f"port {port} on {host} is already in use",
                     hint="stop the other server, or choose another port with --port",
                     code=EXIT_PORT_IN_USE)
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                 hint="check --host and --port")


token_app = typer.Typer(help="Bearer tokens for the HTTP server.", no_args_is_help=True)
app.add_typer(token_app, name="token")


def _auth() -> Any:
    try:
        from ..server import auth
    except ImportError:
        missing_feature("token management")
    return auth


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", help="Who the token is for.")],
    role: Annotated[str, typer.Option("--role", help="reader, writer or admin.")] = "reader",
    branch: Annotated[str, typer.Option("--branch", help="Branches it may touch (a glob).")
                      ] = "*",
    expires: Annotated[str | None, typer.Option("--expires", help="When it stops working: "
                       "30d, 12h, 45m, 2w or an ISO time (default: never).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a token and print it once (only its hash is stored).

    Example:

      palimpsest token create --user alice --role writer --branch 'feature/*' --expires 30d
    """
    auth = _auth()
    secret = auth.create_token(open_repo(ctx), user, role, branch, expires=expires)
    if wants_json(ctx, json_out):
        until = auth.parse_expiry(expires).isoformat() if expires else None
        emit_json({"token": secret, "user": user, "role": role, "branch": branch,
                   "expires": until})
        return
    echo(secret)
    err("store it now: it is not shown again", "dim")


@token_app.command("revoke")
def token_revoke(ctx: typer.Context,
                 token_id: Annotated[str, typer.Argument(help="The token's id (see "
                                                              "`token list`).")],
                 json_out: JsonOpt = False) -> None:
    """Revoke a token.

    Example:

      palimpsest token revoke 3f2a9c
    """
    _auth().revoke_token(open_repo(ctx), token_id)
    if wants_json(ctx, json_out):
        emit_json({"revoked": token_id})
    else:
        echo(f"revoked {token_id}")


@token_app.command("list")
def token_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List tokens (ids, users, roles; never the secrets).

    Example:

      palimpsest token list
    """
    tokens = _auth().list_tokens(open_repo(ctx))
    rows = [t.to_dict() if hasattr(t, "to_dict") else dict(vars(t)) for t in tokens]
    if wants_json(ctx, json_out):
        emit_json(rows)
        return
    if not rows:
        echo("no tokens")
        return
    headers = list(rows[0])
    table(headers, [[r.get(h) for h in headers] for r in rows])
