"""History commands: log, show, diff, history, blame, reflog."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import wire
from ..versioning.log import check_relations
from .common import (
    CollectionOpt,
    JsonOpt,
    RefOpt,
    app,
    commit_line,
    decorations,
    echo,
    emit_json,
    fail,
    open_repo,
    paint,
    short,
    stat_text,
    table,
    wants_json,
    when,
)

if TYPE_CHECKING:
    from ..types import Change, Commit


RelationsOpt = Annotated[str, typer.Option(
    "--relations", metavar="WHICH",
    help="Which relations of an entity count as its facts: out (it is their source), in, both "
         "or none.")]


def _element_ref(ident: str, collection: str | None) -> Any:
    return (collection, ident) if collection is not None else ident


@app.command()
def log(
    ctx: typer.Context,
    ref: Annotated[str | None, typer.Argument(help="Where to start (default: current branch).")
                   ] = None,
    number: Annotated[int | None, typer.Option("--number", "-n", help="Show at most N commits "
                                                                       "[default: 50].")] = None,
    all_: Annotated[bool, typer.Option("--all", help="No limit.")] = False,
    graph: Annotated[bool, typer.Option("--graph", help="Draw branches and merges.")] = False,
    author: Annotated[str | None, typer.Option("--author", help="Only this author's.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only at or after this ISO "
                                                             "time.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Only at or before this ISO "
                                                             "time.")] = None,
    touching: Annotated[str | None, typer.Option(
        "--touching", metavar="ID", help="Only commits that changed this element (or, for "
                                         "an entity, its --relations).")] = None,
    collection: CollectionOpt = None,
    relations: RelationsOpt = "out",
    first_parent: Annotated[bool, typer.Option("--first-parent", help="Follow first parents "
                                                                      "only.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show commits, newest first, one per line.

    Examples:

      palimpsest log -n 10

      palimpsest log --graph --all

      palimpsest log --author alice@example.com --since 2026-01-01

      palimpsest log --touching schema:Person
    """
    repo = open_repo(ctx)
    limit = None if all_ else (number if number is not None else 50)
    commits = repo.log(ref, limit=limit, author=author, since=since, until=until,
                       touching=_element_ref(touching, collection) if touching else None,
                       first_parent=first_parent, relations=check_relations(relations))
    if wants_json(ctx, json_out):
        emit_json([wire.encode(c) for c in commits])
        return
    decor = decorations(repo)
    if graph:
        for prefix, commit in graph_rows(commits):
            echo(prefix if commit is None else f"{prefix} {commit_line(commit, decor)}")
        return
    for commit in commits:
        echo(commit_line(commit, decor))


def graph_rows(commits: Sequence[Commit]) -> list[tuple[str, Commit | None]]:
    """ASCII lanes for a newest-first list of commits (like ``git log --graph``): each
    commit's row starts with ``*`` in its lane; ``|\\`` opens a merge's second parent and
    ``|/`` closes a lane that joins another."""
    lanes: list[str] = []
    rows: list[tuple[str, Commit | None]] = []
    known = {c.id for c in commits}
    for commit in commits:
        if commit.id not in lanes:
            lanes.append(commit.id)
        col = lanes.index(commit.id)
        rows.append((" ".join("*" if i == col else "|" for i in range(len(lanes))), commit))
        joined = [i for i, lane in enumerate(lanes) if lane == commit.id and i != col]
        parents = [p for p in commit.parents if p in known] or list(commit.parents[:1])
        if parents:
            lanes[col] = parents[0]
        else:
            lanes[col] = ""
        extra = [p for p in parents[1:] if p not in lanes]
        for offset, parent in enumerate(extra, 1):
            lanes.insert(col + offset, parent)
        if extra:
            rows.append((" ".join("|" if i <= col else "\\" if i <= col + len(extra) else "|"
                                  for i in range(len(lanes))), None))
        for i in reversed(joined):
            rows.append((" ".join("|" if j < i else "/" for j in range(len(lanes))), None))
            del lanes[i]
        if lanes[col] == "":
            del lanes[col]
    return rows


def change_lines(change: Change) -> list[str]:
    """A change, property by property: ``+``/``-``/``~`` then ``old -> new`` per field."""
    sign, style = {"created": ("+", "green"), "deleted": ("-", "red"),
                   "modified": ("~", "yellow")}[change.kind]
    name = f"{change.collection}/{change.id}" if change.collection else change.id
    value = change.new if change.new is not None else change.old
    head = f"{sign} {change.element} {name}"
    if change.element == "entity":
        head += f" ({value.type})"
    elif change.element == "relation":
        head += f": {value.source} -[{value.type}]-> {value.target}"
    lines = [paint(head, style, "bold")]
    if change.element == "kv":
        return lines
    for prop, (old, new) in change.property_changes().items():
        if change.kind != "modified" and prop.startswith("@"):
            continue  # type and endpoints are in the header line
        if change.kind == "created":
            lines.append(paint(f"    + {prop}: {short(new)}", "green"))
        elif change.kind == "deleted":
            lines.append(paint(f"    - {prop}: {short(old)}", "red"))
        elif old is None:
            lines.append(paint(f"    + {prop}: {short(new)}", "green"))
        elif new is None:
            lines.append(paint(f"    - {prop}: {short(old)}", "red"))
        else:
            before, after = _around(old, new)
            lines.append(f"    ~ {prop}: {paint(before, 'red')} -> {paint(after, 'green')}")
    return lines


def _around(old: Any, new: Any, width: int = 60) -> tuple[str, str]:
    """Two values shortened around their first difference, so a long edited text shows
    what changed rather than the same first 60 characters twice."""
    a, b = short(old, 10**6), short(new, 10**6)
    if len(a) <= width and len(b) <= width:
        return a, b
    start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                 min(len(a), len(b)))
    begin = max(0, start - 15)

    def cut(text: str) -> str:
        piece = text[begin:begin + width]
        return ("…" if begin else "") + piece + ("…" if begin + width < len(text) else "")

    return cut(a), cut(b)


def _print_changes(changes: Sequence[Change], limit: int | None) -> None:
    for i, change in enumerate(changes):
        if limit is not None and i >= limit:
            echo(paint(f"... and {len(changes) - limit} more changes (--limit 0 shows all)",
                       "dim"))
            return
        for line in change_lines(change):
            echo(line)


def _stat_table(stats: Any) -> None:
    rows = []
    for element, group in (("entities", "entities"), ("relations", "relations"),
                           ("documents", "documents")):
        counts = [getattr(stats, f"{group}_{k}") for k in ("created", "modified", "deleted")]
        if any(counts):
            rows.append((element, *counts))
    if stats.kv_changed:
        rows.append(("kv", stats.kv_changed, "", ""))
    if not rows:
        echo("no changes")
        return
    table(["element", "created", "modified", "deleted"], rows,
          styles=[None, "green", "yellow", "red"])


LimitOpt = Annotated[int | None, typer.Option(
    "--limit", "-l", help="Show at most N changes (0: all) [default: 200].")]


@app.command()
def show(
    ctx: typer.Context,
    commit: Annotated[str, typer.Argument(help="A commit (any ref).")] = "HEAD",
    stat: Annotated[bool, typer.Option("--stat", help="Only the counts.")] = False,
    limit: LimitOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one commit: message, author, time, parents, metadata, counts and its changes.

    Examples:

      palimpsest show HEAD

      palimpsest show v2.0 --stat

      palimpsest show main~1 --json
    """
    repo = open_repo(ctx)
    found = repo.resolve(commit)
    changes = repo.changes(found)
    if wants_json(ctx, json_out):
        emit_json({**wire.encode(found), "changes": [wire.encode(c) for c in changes]})
        return
    decor = decorations(repo).get(found.id)
    echo(paint(f"commit {found.id}", "yellow") +
         (paint(f" ({', '.join(decor)})", "yellow", "bold") if decor else ""))
    if len(found.parents) > 1:
        echo(f"Merge:  {' '.join(p[:10] for p in found.parents)}")
    echo(f"Author: {found.author}")
    echo(f"Date:   {when(found)} UTC")
    for key, value in sorted(found.metadata.items()):
        echo(f"Meta:   {key} = {short(value, 100)}")
    echo("")
    for line in (found.message or "(no message)").splitlines():
        echo(f"    {line}")
    echo("")
    echo(f"{stat_text(found.stats)}  (created, modified, deleted)")
    if stat:
        _stat_table(found.stats)
        return
    _print_changes(changes, 200 if limit is None else (limit or None))


@app.command()
def diff(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="From this ref (or 'A..B', 'A...B').")],
    b: Annotated[str | None, typer.Argument(help="To this ref (default: the current head).")
                 ] = None,
    stat: Annotated[bool, typer.Option("--stat", help="Only the counts.")] = False,
    json_patch: Annotated[bool, typer.Option("--json-patch", help="RFC 6902 JSON Patch turning "
                                                                  "A's state into B's.")] = False,
    limit: LimitOpt = None,
    after: Annotated[str | None, typer.Option(
        "--after", help="Start after this cursor (printed at the end of the previous page).")
                     ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show what changed between two refs, property by property.

    A...B diffs from the merge base of A and B to B (what branch B changed). Big diffs come
    in pages (--limit, default 200): the first page shows at once, and the last line gives
    the command for the next one (--after).

    Examples:

      palimpsest diff v1.0 v2.0

      palimpsest diff main~3 --stat

      palimpsest diff main...experiment

      palimpsest diff v1.0 v2.0 --json-patch > patch.json
    """
    repo = open_repo(ctx)
    if stat:
        stats = repo.diff_stats(a, b)
        if wants_json(ctx, json_out):
            emit_json(wire.encode(stats))
        else:
            _stat_table(stats)
        return
    whole = limit == 0 or (limit is None and (json_patch or wants_json(ctx, json_out)))
    result = repo.diff(a, b, limit=None if whole else limit or 200, after=after)
    if json_patch:
        emit_json(result.to_json_patch())
        return
    if wants_json(ctx, json_out):
        emit_json(wire.encode(result))
        return
    if not result.changes and after is None:
        echo("no differences")
        return
    _print_changes(result.changes, None)
    if result.next is not None:
        ends = [shlex.quote(c.id) if c is not None else "''" for c in (result.a, result.b)]
        echo(paint(f"... more changes: palimpsest diff {' '.join(ends)} "
                   f"--after {shlex.quote(result.next)}"
                   + (f" --limit {limit}" if limit else ""), "dim"))


@app.command()
def history(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="Entity or relation id (document key with "
                                           "--collection).")],
    ref: RefOpt = None,
    collection: CollectionOpt = None,
    number: Annotated[int | None, typer.Option("--number", "-n", help="At most N versions.")
                      ] = None,
    relations: RelationsOpt = "out",
    json_out: JsonOpt = False,
) -> None:
    """Every version of one element, newest first: who changed it, when, and how. An entity's
    history includes its relations (its outgoing ones by default; see --relations), each
    marked "relation <id>".

    Examples:

      palimpsest history schema:Person

      palimpsest history schema:Person --relations both -n 20

      palimpsest history n1 --collection notes --json
    """
    repo = open_repo(ctx)
    # the whole history: the oldest shown version of each element takes its old values from
    # that element's previous version, which may lie past the N shown
    found = repo.history(_element_ref(id, collection), ref,
                         relations=check_relations(relations))
    versions = found if number is None else found[:number]
    if wants_json(ctx, json_out):
        emit_json([wire.encode(v) for v in versions])
        return
    if not versions:
        fail(f"no history for {id!r} at {ref or repo.current_branch}")
    from ..types import property_changes
    previous: dict[tuple[Any, Any], Any] = {}  # element -> its value in the older version
    olders = []
    for version in reversed(found):
        key = (version.element, version.id)
        olders.append(previous.get(key))
        previous[key] = version.value
    olders.reverse()
    for version, older in zip(versions, olders, strict=False):
        kind_style = {"created": "green", "modified": "yellow", "deleted": "red"}[version.kind]
        what = (f" {paint('relation', 'magenta')} {version.id}"
                if version.element == "relation" and version.id != id else "")
        echo(f"{paint(version.commit.short_id, 'yellow')} {paint(when(version.commit), 'dim')} "
             f"{paint(version.commit.author, 'cyan')} {paint(version.kind, kind_style)}{what} "
             f"{version.commit.message.splitlines()[0] if version.commit.message else ''}")
        if version.provenance:
            echo(f"    {paint('from', 'dim')} {_provenance_text(version.provenance)}")
        if version.kind == "deleted":
            continue
        for prop, (old, value) in property_changes(older, version.value).items():
            echo(f"    {prop}: {short(old) if old is not None else '∅'} -> "
                 f"{short(value) if value is not None else '∅'}")


@app.command()
def blame(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="Entity or relation id (document key with "
                                           "--collection).")],
    ref: RefOpt = None,
    collection: CollectionOpt = None,
    relations: RelationsOpt = "out",
    json_out: JsonOpt = False,
) -> None:
    """For each property of an element, the commit that last set its current value; for an
    entity also each relation fact (row "@relation <id>", see --relations).

    Example:

      palimpsest blame schema:Person
    """
    repo = open_repo(ctx)
    found = repo.blame(_element_ref(id, collection), ref,
                       relations=check_relations(relations))
    if wants_json(ctx, json_out):
        emit_json({name: wire.encode(b) for name, b in found.items()})
        return
    # a value brought in by a merge or cherry-pick is credited to the commit that made it
    origins = {b.origin: repo.resolve(b.origin) for b in found.values()
               if b.origin and b.origin != b.commit.id}
    rows: list[tuple[str, ...]] = []
    sourced = any(b.provenance for b in found.values())
    for name, b in sorted(found.items()):
        made = origins.get(b.origin or "", b.commit)
        via = b.commit.short_id if made is not b.commit else ""
        rows.append((name, short(b.value, 50), made.short_id, made.author, when(made),
                     _provenance_text(b.provenance) if b.provenance else "", via))
    headers = ["property", "value", "commit", "author", "date"]
    styles: list[str | None] = [None, None, "yellow", "cyan", "dim"]
    if sourced:  # where the value came from
        headers.append("from")
        styles.append("magenta")
    else:
        rows = [(*row[:5], row[6]) for row in rows]
    if origins:  # and the merge that brought it in
        headers.append("via")
        styles.append("dim")
    table(headers, [row[:len(headers)] for row in rows], styles=styles)


def _provenance_text(record: dict[str, Any]) -> str:
    """A provenance record on one line: its source first, then the other fields."""
    rest = ", ".join(f"{k}={short(v, 30)}" for k, v in sorted(record.items()) if k != "source")
    source = str(record.get("source", "(no source)"))
    return f"{source} ({rest})" if rest else source


@app.command()
def reflog(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Branch or tag (default: current "
                                                    "branch).")] = None,
    number: Annotated[int, typer.Option("--number", "-n", help="At most N entries.")] = 100,
    json_out: JsonOpt = False,
) -> None:
    """Movements of a branch or tag: creation, deletion, rollbacks and resets.

    Example:

      palimpsest reflog main
    """
    repo = open_repo(ctx)
    entries = repo.reflog(name, number)
    if wants_json(ctx, json_out):
        emit_json([wire.encode(e) for e in entries])
        return
    table(["time", "from", "to", "author", "message"],
          [(e.timestamp.strftime("%Y-%m-%d %H:%M:%S"), (e.old or "")[:10], (e.new or "")[:10],
            e.author, e.message) for e in entries])
