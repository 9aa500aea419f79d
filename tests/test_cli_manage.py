"""The combine, index and view commands do what the Python API does, and their --json is the
wire encoding of what it returns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import palimpsest
from palimpsest import wire
from palimpsest.cli import app


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    with palimpsest.open(str(tmp_path / "palimpsest.db"), author="t@example.com") as repo:
        repo.put_entity("ada", "Person", {"age": 36})
        repo.put_entity("bob", "Person", {"age": 20})
        repo.tag("v1")
        repo.put_entity("carol", "Person", {"age": 50})
        repo.tag("v2")
        repo.create_branch("out", "v1")
        repo.update_entity("carol", {"age": 51}, branch="main")
        repo.tag("v3")
    return tmp_path


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result.stdout


def test_index_and_view_commands(folder: Path) -> None:
    made = json.loads(run("index", "create", "Person", "age", "--json"))
    run("index", "create", "--collection", "notes", "author")
    with palimpsest.open(str(folder / "palimpsest.db")) as repo:
        assert made == wire.encode(repo.indexes()[1])
        assert [(i.element, i.type, i.field) for i in repo.indexes()] == [
            ("document", "notes", "author"), ("entity", "Person", "age")]
    run("index", "drop", "Person", "age")
    assert [i["type"] for i in json.loads(run("index", "list", "--json"))] == ["notes"]
    run("index", "create", "--collection", "notes", "author", "extra", code=1)

    run("view", "create", "adults", "Person", "--where", '{"age": {"gt": 30}}')
    assert [m["id"] for m in json.loads(run("view", "show", "adults", "--json"))] == [
        "ada", "carol"]
    assert [m["id"] for m in json.loads(run("view", "show", "adults", "--ref", "v1",
                                            "--json"))] == ["ada"]
    assert json.loads(run("view", "list", "--json"))[0]["query"]["where"] is not None
    run("view", "drop", "adults")
    assert json.loads(run("view", "list", "--json")) == []
    run("view", "show", "adults", code=1)


def test_combine_command(folder: Path) -> None:
    out = json.loads(run("combine", "v2", "v3", "--into", "out", "--json", code=3))
    assert out["status"] == "conflict" and out["conflicts"][0]["id"] == "carol"
    with palimpsest.open(str(folder / "palimpsest.db")) as repo:
        before = repo.resolve("out")
    run("combine", "v2", "v3", "--into", "out", code=3)
    with palimpsest.open(str(folder / "palimpsest.db")) as repo:
        assert repo.resolve("out") == before  # a conflict writes nothing
    merged = json.loads(run("combine", "v2", "v3", "--into", "out", "--strategy", "last",
                            "--json"))
    assert merged["status"] == "merged"
    with palimpsest.open(str(folder / "palimpsest.db")) as repo:
        assert repo.at("out").entity("carol").props == {"age": 51}  # type: ignore[union-attr]
        assert sorted(repo.at("out").to_dict()["entities"]) == ["ada", "bob", "carol"]
