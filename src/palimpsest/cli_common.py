"""Shared machinery of the ``palimpsest`` command line: the app, the global options, opening
the repository, output (human or ``--json``), errors and exit codes.

Start-up time matters (``palimpsest log -n 1`` should answer in well under a third of a
second), so this module imports only typer and the standard library; palimpsest itself, rich
and everything else are imported inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from .repository import Repository
    from .types import Commit, CommitStats

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CONFLICT = 0, 1, 2, 3
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
    from . import errors
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
    if isinstance(exc, errors.MergeConflict):
        return "resolve with --strategy ours|theirs, or edit on a branch and merge again"
    return None


def _report(exc: BaseException) -> int:
    """Print one clear line (and a hint) for an exception; return the exit code."""
    from . import errors
    if isinstance(exc, CliError):
        message, hint, code = str(exc), exc.hint, exc.code
    elif isinstance(exc, errors.PalimpsestError):
        message, hint = str(exc), _hint(exc)
        code = EXIT_CONFLICT if isinstance(exc, errors.MergeConflict) else EXIT_ERROR
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


class _Group(TyperGroup):
    """The top-level group: turns exceptions into one line and an exit code."""

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
         "Exit codes: 0 ok, 1 error, 2 usage, 3 merge conflict.\n\n"
         "Examples:\n\n"
         "  palimpsest init\n\n"
         "  palimpsest put ada --type Person --set name=Ada --set born=1815 -m 'Add Ada'\n\n"
         "  palimpsest log -n 5\n\n"
         "  palimpsest import release-2.nt --tag v2 && palimpsest diff v1 v2 --stat",
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


def wants_json(ctx: typer.Context, flag: bool) -> bool:
    return flag or state(ctx).json


# -- output -----------------------------------------------------------------------------------
_ANSI = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35",
         "cyan": "36", "bold": "1", "dim": "2"}


def _color(stream: Any) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, *styles: str | None, stream: Any = None) -> str:
    """``text`` in ANSI colours when the stream is a terminal (and NO_COLOR is unset)."""
    codes = [_ANSI[s] for s in styles if s]
    if not codes or not _color(stream or sys.stdout):
        return text
    return f"\x1b[{';'.join(codes)}m{text}\x1b[0m"


def echo(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err(text: str, style: str | None = None) -> None:
    sys.stderr.write(paint(text, style, stream=sys.stderr) + "\n")


def emit_json(data: Any) -> None:
    import orjson

    def default(value: Any) -> Any:
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            return to_dict()
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if isinstance(value, set | frozenset | tuple):
            return list(value)
        return str(value)

    sys.stdout.write(orjson.dumps(data, default=default,
                                  option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
                     + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
          title: str | None = None, styles: Sequence[str | None] | None = None) -> None:
    """A table: drawn with rich on a terminal, plain aligned columns otherwise (pipes)."""
    cells = [["" if c is None else str(c) for c in row] for row in rows]
    if _color(sys.stdout):
        from rich.console import Console
        from rich.table import Table
        grid = Table(title=title, show_edge=False, header_style="bold")
        for i, name in enumerate(headers):
            grid.add_column(name, style=(styles[i] if styles else None) or None,
                            overflow="fold")
        for row in cells:
            grid.add_row(*row)
        Console().print(grid)
        return
    if title:
        echo(title)
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress callback drawing rich bars on a terminal's stderr; None when not a
    terminal (or when disabled), so scripts and pipes stay quiet."""
    if not enabled or not _color(sys.stderr):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), TextColumn(
            "{task.completed:>7}/{task.total:<7}"), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True) as bar:
        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))
        yield update


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
        emit_json(commit.to_dict())
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
