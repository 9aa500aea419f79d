"""Generate ``docs/cli.md`` (the CLI reference) from the commands' ``--help`` texts.

    python -m palimpsest.cli.docs > docs/cli.md

A test checks that the file is current and names every command.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

HEADER = """# CLI reference

Generated from `palimpsest --help` and each command's `--help` by
`python -m palimpsest.cli.docs > docs/cli.md`; do not edit by hand (a test checks that this
file is current). See the README for a walk-through and `docs/import-export.md` for the file
formats.

`--repo` (`-R`) and `--json` are accepted both before the command and after it
(`palimpsest --repo kg.db log` and `palimpsest log --repo kg.db` are the same). `--debug` and
`--version` go before it; `--author` before it sets the default author, and the commands that
write also take their own `--author`.

**Exit codes:** 0 ok; 1 error (one `error:` line, often a `hint:` line, on standard error);
2 usage (a bad option or argument); 3 merge conflict (nothing was written); 4 `serve`: the port
is already in use (reported before anything is served).

**Output is safe for a terminal.** Everything printed for people goes through one output
helper that writes control characters found in stored data (commit messages, authors, ids,
values, branch and tag names) as visible escapes: ESC as `\\x1b`, a line break inside a value
as `\\n`, C1 controls and bidirectional overrides as `\\u009b`, `\\u202e`. Stored text is never
read as markup or colour. `--json` output is exact JSON: JSON escapes control characters
itself, and DEL, C1 and bidirectional controls are written as `\\uXXXX` (the same value).
`kv get` and `export -` write the stored bytes unchanged into a pipe or file, and escaped on a
terminal.

**Key-value values are bytes.** `kv set KEY VALUE` stores VALUE's bytes (also bytes that are
not UTF-8), `--file PATH` a file's bytes (`-`: standard input), `--base64` decodes VALUE
first; `kv get --json` prints values as base64 (`value`), as the HTTP API does.
"""


def commands() -> list[tuple[str, Any]]:
    """(full name, click command) for every command and sub-command, in help order."""
    import typer

    from .commands import app
    root = typer.main.get_command(app)
    out: list[tuple[str, Any]] = []

    def walk(prefix: str, group: Any) -> None:
        for name in group.list_commands(None):
            cmd = group.get_command(None, name)
            full = f"{prefix} {name}".strip()
            out.append((full, cmd))
            if hasattr(cmd, "list_commands"):
                walk(full, cmd)

    walk("", root)
    return out


def _help(args: list[str]) -> str:
    from typer.testing import CliRunner

    from .commands import app
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="palimpsest",
                                env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
    if result.exit_code != 0:
        raise RuntimeError(f"palimpsest {' '.join(args)} --help failed: {result.output}")
    return result.output.rstrip()


def sections() -> Iterator[str]:
    yield HEADER
    yield "## palimpsest\n\n```text\n" + _help([]) + "\n```\n"
    for name, _ in commands():
        yield f"## palimpsest {name}\n\n```text\n" + _help(name.split()) + "\n```\n"


def generate() -> str:
    return "\n".join(sections())


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(generate())
