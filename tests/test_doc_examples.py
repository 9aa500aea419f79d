"""The shell examples in the README and docs/*.md run as written, in order, on a fresh
directory, with the installed ``palimpsest`` console script, and exit 0.

A ```bash block runs when it has a line starting with ``palimpsest`` (install lines such as
``pip install`` are left out: the tests run in an installed environment). A block preceded by
``<!-- example: not run (REASON) -->`` is skipped, and REASON must be one of ``NOT_RUN``
below; ``<!-- example: needs (WHAT) -->`` runs the block only when WHAT is available."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCHEMAORG = ROOT.parent / "shared" / "data" / "schemaorg"
ALL_DOCUMENTS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md")
                                             if p.name != "cli.md")]  # cli.md: the help

# The only reasons an example may be left out (keep this list short).
NOT_RUN = {
    "postgres": "needs a PostgreSQL server (the PostgreSQL tests cover the same commands)",
    "server": "starts a server that runs until interrupted (tests/server start one)",
}
NEEDS = {
    "schemaorg": (SCHEMAORG / "manifest.json").exists(),
}
MARK = re.compile(r"<!--\s*example:\s*(not run|needs)\s*\((\w+)\)\s*-->")
INSTALL = re.compile(r"^\s*(pip|python -m venv|\. \.venv)")

# Tiny N-Triples releases for docs/import-export.md's versioned-import example.
RELEASES = {
    "release-1.nt": '<http://example.org/ada> <http://xmlns.com/foaf/0.1/name> "Ada" .\n',
    "release-2.nt": '<http://example.org/ada> <http://xmlns.com/foaf/0.1/name> "Ada L." .\n'
                    '<http://example.org/bob> <http://xmlns.com/foaf/0.1/name> "Bob" .\n',
}


@dataclass
class Block:
    document: str
    line: int
    script: str
    mark: tuple[str, str] | None


def blocks(path: Path) -> list[Block]:
    """The ```bash blocks of a document that hold ``palimpsest`` commands, in order."""
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```bash":
            i += 1
            continue
        start = i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        found = MARK.search(before)
        if any(re.match(r"\s*palimpsest\b", b) for b in body):
            out.append(Block(path.name, start + 1,
                             "\n".join(b for b in body if not INSTALL.match(b)),
                             (found.group(1), found.group(2)) if found else None))
    return out


DOCUMENTS = [p for p in ALL_DOCUMENTS if blocks(p)]


def test_every_mark_names_a_known_reason() -> None:
    assert {p.name for p in DOCUMENTS} >= {"README.md", "import-export.md", "server.md"}
    for path in DOCUMENTS:
        for block in blocks(path):
            if block.mark is not None:
                kind, what = block.mark
                known = NOT_RUN if kind == "not run" else NEEDS
                assert what in known, f"{path.name}:{block.line}: unknown reason {what!r}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.name for p in DOCUMENTS])
def test_shell_examples_run_as_written(path: Path, tmp_path: Path) -> None:
    found = blocks(path)
    script = shutil.which("palimpsest", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the palimpsest console script is not installed")
    for name, text in RELEASES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALIMPSEST_")}
    env.update(PATH=f"{Path(script).parent}{os.pathsep}{env.get('PATH', '')}",
               PALIMPSEST_AUTHOR="docs@example.com", NO_COLOR="1", DATA=str(SCHEMAORG))
    ran = skipped = 0
    for block in found:
        if block.mark is not None:
            kind, what = block.mark
            if kind == "not run" or not NEEDS.get(what, False):
                skipped += 1
                continue
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.script],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.returncode == 0, (f"{block.document}:{block.line} exited "
                                      f"{done.returncode}\n{block.script}\n--- stdout\n"
                                      f"{done.stdout[-2000:]}\n--- stderr\n{done.stderr[-2000:]}")
        assert "Traceback" not in done.stderr
        ran += 1
    assert ran or skipped
