"""The README's examples run and print what the README says they print."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_runs_and_answers_the_three_questions() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "{'born': 1815, 'name': 'Ada Lovelace'}"
    assert out[1] == "bot@example.com 2026-02-03 14:00:00+00:00 LLM extraction run entity ada"
    assert out[2] == "alice@example.com 2026-01-10 09:00:00+00:00 Import people entity ada"
    assert out[3] == ("alice@example.com 2026-01-10 09:00:00+00:00 Import people relation "
                      "ada-knows-babbage")
    assert out[4] == "bot@example.com"
    assert "'op': 'replace', 'path': '/entities/ada/props/born', 'value': 1816" in out[5]
    assert out[6] == "1815"


def test_readme_quickstart_matches_the_example_file() -> None:
    readme = (ROOT / "README.md").read_text()
    body = (ROOT / "examples" / "quickstart.py").read_text().split('"""', 2)[2].strip()
    assert body in readme, "README quick start must be examples/quickstart.py verbatim"
