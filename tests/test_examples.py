"""The README's examples run and print what the README says they print."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


def test_sparql_example_runs_and_is_in_the_readme() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "sparql.py")],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["v1 [('http://example.org/ada', '1815')]",
                   "main [('http://example.org/ada', '1816')]", "True", "who,year",
                   "['1815']"]
    body = (ROOT / "examples" / "sparql.py").read_text().split('"""', 2)[2].strip()
    assert body in (ROOT / "README.md").read_text()


def test_cypher_example_runs_and_is_in_the_readme() -> None:
    pytest.importorskip("graphglot")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "cypher.py")],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["v1 (('Bob', 1820.0),)", "main ()", "('n', 'born') [1815, 1820.0]"]
    body = (ROOT / "examples" / "cypher.py").read_text().split('"""', 2)[2].strip()
    assert body in (ROOT / "README.md").read_text()


# -- examples/schemaorg_history.py: the README's main job -----------------------------------
SCHEMAORG_EXAMPLE = ROOT / "examples" / "schemaorg_history.py"
SCHEMAORG_DATA = ROOT.parent / "shared" / "data" / "schemaorg"


def _run_example(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCHEMAORG_EXAMPLE), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, check=False)


def test_schemaorg_example_says_where_to_get_the_data(tmp_path: Path) -> None:
    done = _run_example("--data", str(tmp_path / "nowhere"), "--repo", ":memory:",
                        cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"no schema.org releases at {tmp_path / 'nowhere'}" in done.stderr
    assert str(SCHEMAORG_DATA) in done.stderr  # where it looks without --data
    assert "shared/data/schemaorg folder beside the checkout" in done.stderr
    assert "https://github.com/schemaorg/schemaorg" in done.stderr
    # a manifest without its release files is the same clear message, not a traceback
    (tmp_path / "partial" / "releases").mkdir(parents=True)
    (tmp_path / "partial" / "manifest.json").write_text(
        '[{"version": "2.0", "release_date": "2015-05-13", "triples": 1}]', encoding="utf-8")
    done = _run_example("--data", str(tmp_path / "partial"), "--repo", ":memory:",
                        cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "release file(s) missing" in done.stderr and "2.0.nt.xz" in done.stderr


@pytest.mark.skipif(not (SCHEMAORG_DATA / "manifest.json").exists(),
                    reason="the schema.org data set (shared/data/schemaorg) is not next to "
                           "this checkout")
def test_schemaorg_example_finds_the_data_beside_the_checkout_without_flags(
        tmp_path: Path) -> None:
    done = _run_example("--releases", "2.0,2.1", cwd=tmp_path)  # no --data, default --repo
    assert done.returncode == 0, done.stderr
    assert "imported 2 releases" in done.stdout
    assert (tmp_path / "schemaorg.db").exists()


def test_valid_time_example_answers_in_both_clocks() -> None:
    """examples/valid_time.py: the seed questions as known now and as known in March 2024
    (docs/valid-time.md quotes its output)."""
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "valid_time.py")],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["['acme'] ['acme'] ['alice']", "['acme'] ['globex'] []",
                   "2025-01-15 Correction: she left Acme in April -> 2020-01-01 2023-04-01",
                   "2024-02-01 What we learned -> 2020-01-01 2023-01-01"]
    doc = (ROOT / "docs" / "valid-time.md").read_text()
    assert "\n".join(out[:2]) in doc
