"""``palimpsest sparql``: a query at any ref from the argument, a file or standard input, in
the result formats and as a table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("pyoxigraph")
pytest.importorskip("rdflib")

from palimpsest.cli import app

KG = "--prefix==http://example.org/kg/"
NAMES = "SELECT ?n WHERE { ?s :name ?n } ORDER BY ?n"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PALIMPSEST_REPO", str(tmp_path / "kg.db"))
    monkeypatch.setenv("NO_COLOR", "1")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, input: str | None = None) -> tuple[str, str]:
        out = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        assert out.exit_code == code, (args, out.stdout, out.stderr)
        return out.stdout, out.stderr

    invoke("init")
    invoke("put", "ada", "--type", "Person", "--set", "name=Ada")
    invoke("tag", "v1")
    invoke("put", "bob", "--type", "Person", "--set", "name=Bob")
    return invoke


def test_formats_and_refs(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out, _ = run("sparql", NAMES, KG, "--format", "json")
    assert [b["n"]["value"] for b in json.loads(out)["results"]["bindings"]] == ["Ada", "Bob"]
    out, _ = run("sparql", NAMES, KG, "--ref", "v1", "--format", "csv")
    assert out.splitlines() == ["n", "Ada"]
    out, _ = run("sparql", NAMES, KG)
    assert out.split() == ["n", "Ada", "Bob"]
    query = tmp_path / "q.rq"
    query.write_text(NAMES)
    out, _ = run("sparql", f"@{query}", KG, "-f", "tsv")
    assert out.splitlines() == ["?n", '"Ada"', '"Bob"']
    out, _ = run("sparql", "-", KG, "-f", "xml", input="ASK { :bob :name \"Bob\" }")
    assert "<boolean>true</boolean>" in out
    out, _ = run("sparql", "CONSTRUCT { ?s :label ?n } WHERE { ?s :name ?n }", KG, "-f", "nt")
    assert len(out.splitlines()) == 2
    out, _ = run("sparql", NAMES, KG, "--explain")
    assert out.startswith("WITH")


def test_errors_are_one_line(run) -> None:  # type: ignore[no-untyped-def]
    _, err = run("sparql", "SELECT * WHERE { ?s ?p }", KG, code=1)
    assert err.startswith("error: 1:")
    _, err = run("sparql", "@/nonexistent/q.rq", code=2)
    assert "cannot read the query file" in err
