"""Generate ``docs/cli.md`` (the CLI reference) from the commands' ``--help`` texts.

    python -m palimpsest.cli_docs > docs/cli.md

A test checks that the file is current and names every command.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

HEADER = """# CLI reference

Generated from `palimpsest --help` and each command's `--help` by
`python -m palimpsest.cli_docs > docs/cli.md`; do not edit by hand (a test checks that this
file is current). See the README for a walk-through and `docs/import-export.md` for the file
formats.

Global options go before the command (`palimpsest --repo kg.db log`); `--json` is accepted
both there and after every command. Exit codes: 0 ok, 1 error, 2 usage, 3 merge conflict.
"""


def commands() -> list[tuple[str, Any]]:
    """(full name, click command) for every command and sub-command, in help order."""
    import typer

    from .cli import app
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

    from .cli import app
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
