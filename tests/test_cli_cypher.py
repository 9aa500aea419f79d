"""``palimpsest cypher``: a query at any ref with parameters, as a table or JSON, explain,
and typed errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("graphglot")

from palimpsest.cli import app


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
    invoke("put", "ada", "--type", "Person", "--set", "name=Ada", "--set", "born=1815")
    invoke("tag", "v1")
    invoke("put", "bob", "--type", "Person", "--set", "name=Bob", "--set", "born=1820.0")
    return invoke


def test_json_table_refs_params(run) -> None:  # type: ignore[no-untyped-def]
    query = "MATCH (n:Person) WHERE n.born >= $from RETURN n.name AS name, n.born ORDER BY name"
    out, _ = run("cypher", query, "--param", "from=1800", "--json")
    body = json.loads(out)
    assert body["columns"] == ["name", "n.born"]
    assert body["rows"] == [[{"value": "Ada"}, {"value": 1815}],
                            [{"value": "Bob"}, {"value": 1820.0}]]
    assert "1820.0" in out  # the float stays a float on the wire
    past, _ = run("cypher", query, "--param", "from=1800", "--ref", "v1", "--json")
    assert [r[0]["value"] for r in json.loads(past)["rows"]] == ["Ada"]
    table, err = run("cypher", "MATCH (n {name: 'Ada'}) RETURN n, id(n)")
    assert "(ada:Person" in table and "1 row(s)" in err
    sql, _ = run("cypher", "MATCH (n) RETURN n", "--explain")
    assert "FROM" in sql
    stdin, _ = run("cypher", "-", "--json", input="MATCH (n) RETURN count(*) AS c")
    assert json.loads(stdin)["rows"] == [[{"value": 2}]]


def test_errors(run) -> None:  # type: ignore[no-untyped-def]
    _, err = run("cypher", "CREATE (n:Person)", code=1)
    assert "palimpsest put" in err and "repo.transaction" not in err  # in CLI words
    _, err = run("cypher", "MATCH (n RETURN n", code=1)
    assert "1:" in err
    run("cypher", "MATCH (n) RETURN n", "--param", "oops", code=2)
