"""Shared machinery of the ``palimpsest`` command line: the app, the global options, opening
the repository, output (human or ``--json``), errors and exit codes.

Start-up time matters (``palimpsest log -n 1`` should answer in well under a third of a
second), so this module imports only typer and the standard library; palimpsest itself, rich
and everything else are imported inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

# the one output helper (cli/output.py), re-exported: commands import everything from here
from .. import wire
from .output import echo as echo
from .output import emit_json as emit_json
from .output import err as err
from .output import paint as paint
from .output import progress_bar as progress_bar
from .output import table as table
from .output import write_data as write_data

if TYPE_CHECKING:
    from ..repository import Repository
    from ..types import Commit, CommitStats

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CONFLICT, EXIT_PORT_IN_USE = 0, 1, 2, 3, 4
ENV_REPO, ENV_AUTHOR = "PALIMPSEST_REPO", "PALIMPSEST_AUTHOR"
DEFAULT_REPO = "palimpsest.db"


class CliError(Exception):
    """An error the CLI reports as one line (and a hint), with an exit code."""

    def __init__(self, message: str, *, hint: str | None = None,
                 code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


def _hint(exc: BaseException) -> str | None:
    from .. import errors
    if isinstance(exc, errors.InvalidInput):
        return "fix that input, or pass --skip-invalid to leave bad records out"
    if isinstance(exc, errors.RefNotFound):
        return "list refs with `palimpsest branch`, `palimpsest tag` or `palimpsest log`"
    if isinstance(exc, errors.AmbiguousRef):
        return "give more characters of the commit id"
    if isinstance(exc, errors.ConcurrentCommit):
        return "another writer moved the branch; run the command again"
    if isinstance(exc, errors.CorruptObject):
        return "run `palimpsest fsck` and restore from a backup"
    if isinstance(exc, errors.SchemaVersionError):
        return "upgrade palimpsest"
    if isinstance(exc, errors.SchemaViolation):
        return "fix the data, or change the schema (`palimpsest schema show TYPE`)"
    if isinstance(exc, errors.MergeConflict):
        return "resolve with --strategy ours|theirs, or edit on a branch and merge again"
    return None


# Errors come from the Python API and may name its keyword arguments and methods; on the
# command line they name the options and commands that do the same.
_CLI_WORDS = (
    (r"pass overwrite=True", "pass --overwrite"),
    (r"Pass allow_legacy=True", "Pass --allow-legacy-archive"),
    (r"pass kind='document' or kind='entity'",
     "query without --type for the documents, with --type for the entities"),
    (r"format='(\w+)'", r"--format \1"),
    (r"add them to resolutions= or pass strategy=",
     "settle them with --resolve ID[.PROP]=ours|theirs|JSON or --strategy ours|theirs"),
    (r"resolutions=", "--resolve"),
    (r"strategy=", "--strategy"),
    (r"pass prefixes=\{'': namespace\}", "pass --prefix =NAMESPACE_IRI"),
    (r"prefixes=", "--prefix"),
    (r"pass drop_relation_props=True", "pass --drop-relation-props"),
    (r"skip_invalid=True", "--skip-invalid"),
    (r"name one with type= \(and property=\)", "name one with --type (and --property)"),
    (r"pass exact=True", "pass --exact"),
    (r"as after=", "as --after"),
    (r"repo\.branches\(\)", "`palimpsest branch`"),
    (r"repo\.tags\(\)", "`palimpsest tag`"),
    (r"repo\.log\(\)", "`palimpsest log`"),
    (r"repo\.fsck\(\)", "`palimpsest fsck`"),
    (r"repo\.schemas\(\)", "`palimpsest schema list`"),
    (r"repo\.set_schema", "`palimpsest schema set`"),
    (r"push with force=True", "push with --force"),
    (r"clone with depth=", "clone with --depth"),
    (r"repo\.remotes\.add\(name, url\)", "`palimpsest remote add NAME URL`"),
    (r"replicas= needs", "a read replica (?replica=URL in the repository URL) needs"),
    (r"with a transaction \(repo\.transaction\(\): put_entity, put_relation, delete\.\.\.\)",
     "with `palimpsest put`, `palimpsest relate`, `palimpsest rm` or `palimpsest import`"),
)


def cli_words(message: str) -> str:
    """An API error message as the command line says it (``--prefix``, not ``prefixes=``)."""
    import re
    for pattern, replacement in _CLI_WORDS:
        message = re.sub(pattern, replacement, message)
    return message


def _report(exc: BaseException) -> int:
    """Print one clear line (and a hint) for an exception; return the exit code."""
    from .. import errors
    if isinstance(exc, CliError):
        message, hint, code = str(exc), exc.hint, exc.code
    elif isinstance(exc, errors.PalimpsestError):
        message, hint = cli_words(str(exc)), _hint(exc)
        code = EXIT_CONFLICT if isinstance(exc, errors.MergeConflict) else EXIT_ERROR
    elif isinstance(exc, UnicodeError):
        message, code = "the command line or a file holds bytes that are not UTF-8 text", \
            EXIT_USAGE
        hint = "ids, keys, names and messages are text; a kv value can be any bytes with " \
               "--file or --base64"
    elif isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        message, hint, code = f"{exc.strerror or exc}{where}", None, EXIT_ERROR
    else:
        message = f"{type(exc).__name__}: {exc}"
        hint, code = "this looks like a bug; run again with --debug for a traceback", EXIT_ERROR
    err(f"error: {message}", "red")
    if hint:
        err(f"hint: {hint}", "dim")
    return code


def _passthrough() -> tuple[type[BaseException], ...]:
    """The exceptions click itself handles (exit, abort, usage errors), whichever click
    typer uses (its vendored copy or the click package)."""
    import importlib
    classes: list[type[BaseException]] = [typer.Exit, typer.Abort]
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        classes += [c for c in (getattr(module, n, None) for n in ("ClickException", "Exit",
                                                                   "Abort"))
                    if isinstance(c, type) and issubclass(c, BaseException)]
    return tuple(classes)


def _take_repo(ctx: Any, param: Any, value: str | None) -> str | None:
    if value is not None:
        state(ctx).repo_arg = value
    return value


def _with_repo_option(command: Any) -> Any:
    """Give ``command`` (and each command of a group such as ``kv``) its own ``--repo``, so
    that ``palimpsest log --repo kg.db`` works like ``palimpsest --repo kg.db log``."""
    for sub in getattr(command, "commands", {}).values():
        _with_repo_option(sub)
    if getattr(command, "commands", None) is None and \
            not any(p.name == "repo_here" for p in command.params):
        from typer.core import TyperOption
        command.params.append(TyperOption(
            param_decls=["--repo", "-R", "repo_here"], metavar="PATH_OR_URL", default=None,
            expose_value=False, callback=_take_repo,
            help="Repository (as the global --repo; either place works)."))
    return command


class _Group(TyperGroup):
    """The top-level group: gives every command ``--repo``, and turns exceptions into one
    line and an exit code."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        return None if command is None else _with_repo_option(command)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _passthrough():
            raise
        except KeyboardInterrupt:
            err("interrupted", "red")
            ctx.exit(130)
        except BrokenPipeError:  # `palimpsest log | head`: the reader went away; stay quiet
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except Exception as exc:
            state = ctx.obj
            if isinstance(state, State) and state.debug:
                raise
            ctx.exit(_report(exc))


app = typer.Typer(
    cls=_Group, name="palimpsest", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False, rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help="palimpsest: a versioned database for knowledge graphs and JSON documents.\n\n"
         "Every change is a commit; any past state can be read, compared, restored, "
         "branched and merged.\n\n"
         "The repository is --repo PATH_OR_URL, else $PALIMPSEST_REPO, else ./palimpsest.db. "
         "Commits are by --author, else $PALIMPSEST_AUTHOR, else your user name.\n\n"
         "Exit codes: 0 ok, 1 error, 2 usage, 3 merge conflict, 4 serve: port in use.\n\n"
         "Examples:\n\n"
         "  palimpsest init\n\n"
         "  palimpsest put ada --type Person --set name=Ada --set born=1815 -m 'Add Ada'\n\n"
         "  palimpsest log -n 5\n\n"
         "  palimpsest import release-2.nt --tag r2 && palimpsest diff v2.0 r2 --stat",
)


# -- state ------------------------------------------------------------------------------------
@dataclass
class State:
    """The global options, and the repository once opened."""

    repo_arg: str | None = None
    author_arg: str | None = None
    json: bool = False
    debug: bool = False
    opened: list[Repository] = field(default_factory=list)

    @property
    def target(self) -> str:
        return self.repo_arg or os.environ.get(ENV_REPO) or DEFAULT_REPO

    @property
    def author(self) -> str:
        if self.author_arg:
            return self.author_arg
        env = os.environ.get(ENV_AUTHOR)
        if env:
            return env
        try:
            import getpass
            return getpass.getuser() or "anonymous"
        except (OSError, KeyError, ImportError):
            return "anonymous"

    def repo(self, *, create: bool = False) -> Repository:
        """Open the selected repository (refusing to create a missing file unless
        ``create``)."""
        if self.opened:
            return self.opened[0]
        target = self.target
        if not create and is_local(target) and not Path(target).exists():
            raise CliError(f"no repository at {target}",
                           hint="create one with `palimpsest init`, or choose one with --repo "
                                f"or ${ENV_REPO}")
        import palimpsest
        repo = palimpsest.open(target, author=self.author)
        self.opened.append(repo)
        return repo

    def close(self) -> None:
        for repo in self.opened:
            repo.close()
        self.opened.clear()


def is_local(target: str) -> bool:
    return "://" not in target and target != ":memory:" and not target.startswith("file:")


def state(ctx: typer.Context) -> State:
    obj = ctx.find_object(State)
    if obj is None:  # a command invoked without the top-level callback (tests)
        obj = ctx.ensure_object(State)
    return obj


def open_repo(ctx: typer.Context, *, create: bool = False) -> Repository:
    return state(ctx).repo(create=create)


# -- common options ---------------------------------------------------------------------------
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
AuthorOpt = Annotated[str | None, typer.Option(
    "--author", help="Author of the commit (default: --author, $PALIMPSEST_AUTHOR, user).")]
MessageOpt = Annotated[str | None, typer.Option("--message", "-m", help="Commit message.")]
BranchOpt = Annotated[str | None, typer.Option(
    "--branch", "-b", help="Branch to commit to (default: the current branch).")]
CollectionOpt = Annotated[str | None, typer.Option(
    "--collection", "-c", help="Work on a document of this collection instead of an entity.")]
RefOpt = Annotated[str | None, typer.Option(
    "--ref", "-r", help="Branch, tag, commit id, REF~N or ISO time (default: current branch).")]

SourceOpt = Annotated[str | None, typer.Option(
    "--source", metavar="NAME", help="Provenance: where the written facts came from "
                                     "(docs/provenance.md).")]
ProvenanceOpt = Annotated[str | None, typer.Option(
    "--provenance", metavar="JSON", help="Provenance record as a JSON object, e.g. "
    '\'{"source": "doc-17", "extractor": "model-x"}\' (@FILE, -); --source sets its source.')]


def provenance_arg(source: str | None, record: str | None) -> dict[str, Any] | None:
    """The provenance record of ``--source`` / ``--provenance`` (None when neither is given)."""
    given = parse_json_arg(record, "--provenance")
    if given is not None and not isinstance(given, dict):
        fail("--provenance must be a JSON object", code=EXIT_USAGE)
    found: dict[str, Any] | None = given
    if source is not None:
        found = {**(found or {}), "source": source}
    return found


ValidAtOpt = Annotated[str | None, typer.Option(
    "--valid-at", metavar="TIME", help="Valid time: only the entities and relations that hold "
                                       "in the world at TIME (ISO 8601).")]
ValidBetweenOpt = Annotated[str | None, typer.Option(
    "--valid-between", metavar="START/END", help="Valid time: only what holds at some time "
                                                 "in [START, END).")]
ValidFromOpt = Annotated[str | None, typer.Option(
    "--valid-from", metavar="TIME", help="Start of the valid-time interval (ISO 8601; with "
                                         "--update, 'open' opens it).")]
ValidToOpt = Annotated[str | None, typer.Option(
    "--valid-to", metavar="TIME", help="End of the valid-time interval, excluded (ISO 8601; "
                                       "with --update, 'open' opens it).")]


def narrow(view: Any, valid_at: str | None, valid_between: str | None) -> Any:
    """``view`` narrowed to ``--valid-at`` or ``--valid-between`` (one of them at most)."""
    from ..view import narrowed
    return narrowed(view, valid_at, valid_between)


def wants_json(ctx: typer.Context, flag: bool) -> bool:
    return flag or state(ctx).json


# -- formatting -------------------------------------------------------------------------------
def when(commit: Commit) -> str:
    return commit.timestamp.strftime("%Y-%m-%d %H:%M:%S")


def stat_text(stats: CommitStats, *, color: bool = True) -> str:
    parts = [(f"+{stats.created}", "green"), (f"~{stats.modified}", "yellow"),
             (f"-{stats.deleted}", "red")]
    if stats.kv_changed:
        parts.append((f"kv {stats.kv_changed}", "cyan"))
    return " ".join(paint(t, s if color else None) for t, s in parts)


def short(value: Any, width: int = 60) -> str:
    """A JSON value in one line, cut to ``width``."""
    import orjson
    text = value if isinstance(value, str) and not value.startswith(("{", "[")) else \
        orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= width else text[:width - 1] + "…"


def parse_value(text: str) -> Any:
    """A command-line value: JSON when it parses (``42``, ``true``, ``[1]``, ``"x"``),
    else the text itself."""
    import orjson
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def parse_assignments(items: Sequence[str] | None, what: str = "--set") -> dict[str, Any]:
    """``["name=Ada", "born=1815"]`` -> ``{"name": "Ada", "born": 1815}``."""
    out: dict[str, Any] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CliError(f"{what} {item!r}: expected NAME=VALUE", code=EXIT_USAGE)
        out[name] = parse_value(value)
    return out


def parse_json_arg(text: str | None, what: str) -> Any:
    """A JSON option value; ``@FILE`` reads a file, ``-`` standard input."""
    if text is None:
        return None
    import orjson
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CliError(f"{what} is not valid JSON: {exc}", code=EXIT_USAGE) from None


def fail(message: str, *, hint: str | None = None, code: int = EXIT_ERROR) -> NoReturn:
    raise CliError(message, hint=hint, code=code)


def missing_feature(what: str) -> NoReturn:
    """The one line shown when a command's feature is not in this build yet."""
    fail(f"{what} is not available in this version of palimpsest",
         hint="upgrade palimpsest, or install the extra that provides it")


def decorations(repo: Repository) -> dict[str, list[str]]:
    """Commit id -> branch and tag names pointing at it (for log lines)."""
    out: dict[str, list[str]] = {}
    current = repo.current_branch
    for branch in repo.branches(base=None):
        if branch.head is not None:
            label = f"HEAD -> {branch.name}" if branch.name == current else branch.name
            out.setdefault(branch.head.id, []).append(label)
    for tag in repo.tags():
        out.setdefault(tag.commit.id, []).append(f"tag: {tag.name}")
    return out


def report_commit(ctx: typer.Context, commit: Commit, json_out: bool,
                  branch: str | None) -> None:
    """What a command that wrote one commit prints: its JSON, or ``[branch id] message``."""
    if wants_json(ctx, json_out):
        emit_json(wire.encode(commit))
        return
    name = branch or open_repo(ctx).current_branch
    echo(f"[{name} {paint(commit.short_id, 'yellow')}] {commit.message}  "
         f"{stat_text(commit.stats)}")


def commit_line(commit: Commit, decor: dict[str, list[str]] | None = None, *,
                stats: bool = True) -> str:
    """One commit on one line: id, time, author, refs, message, change counts."""
    names = (decor or {}).get(commit.id)
    refs = " " + paint(f"({', '.join(names)})", "yellow", "bold") if names else ""
    message = commit.message.splitlines()[0] if commit.message else ""
    tail = f"  {stat_text(commit.stats)}" if stats else ""
    return (f"{paint(commit.short_id, 'yellow')} {paint(when(commit), 'dim')} "
            f"{paint(commit.author, 'cyan')}{refs} {message}{tail}")
