"""Every example in a ``--help`` text (and so in docs/cli.md) runs as written and exits 0.

Each command's examples run in order, in a fresh copy of one prepared folder: a repository
whose branches, tags, elements, documents and keys are the ones the examples name, and the
files they read. Examples are run in-process, split like a shell line (``A && B``,
``> FILE``; a ``| head`` pipe is left out)."""

from __future__ import annotations

import lzma
import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import palimpsest
from palimpsest.cli import app
from palimpsest.cli.docs import commands

# Examples that are not run, and why (keep this list short).
NOT_RUN = {
    "postgresql://": "needs a PostgreSQL server (the PostgreSQL tests cover init and copy)",
    " serve": "starts a server that runs until interrupted (tests/server start one)",
    "palimpsest kv watch '/workloads/*'": "waits for changes until interrupted (the -n example "
                                          "runs)",
    "palimpsest token revoke 3f2a9c": "needs the id of a token made at run time "
                                      "(test_cli.py revokes one)",
    "palimpsest webhook remove 3f2a9c1b7d0e": "needs the id of a hook made at run time "
                                              "(tests/server/test_webhooks.py removes one)",
    "palimpsest webhook deliveries 3f2a9c1b7d0e": "needs the id of a hook made at run time "
                                                  "(tests/server/test_webhooks.py lists them)",
}
# Commands whose examples continue in the folder of an earlier command.
CONTINUES = {"restore": "backup", "schema show": "schema set", "schema list": "schema set",
             "schema drop": "schema set", "text-index drop": "text-index create",
             "text-index list": "text-index create", "vector-index drop": "vector-index create",
             "vector-index list": "vector-index create"}

SCHEMA = "<https://schema.org/{0}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> " \
         "<http://www.w3.org/2000/01/rdf-schema#Class> .\n" \
         "<https://schema.org/{0}> <http://www.w3.org/2000/01/rdf-schema#label> \"{0}\" .\n"


def examples(help_text: str) -> list[str]:
    """The example lines of a help text: paragraphs that start with ``palimpsest``."""
    paragraphs = [" ".join(line.strip() for line in chunk.splitlines())
                  for chunk in help_text.split("\n\n")]
    return [p for p in paragraphs if p.startswith("palimpsest ")]


def all_examples() -> list[tuple[str, list[str]]]:
    import typer
    out = [("", examples(typer.main.get_command(app).help or ""))]
    for name, command in commands():
        if not hasattr(command, "list_commands"):
            out.append((name, examples(command.help or "")))
    return out


def build(folder: Path) -> None:
    """The folder the examples start from."""
    (folder / "schema-28.0.nt.xz").write_bytes(lzma.compress(SCHEMA.format("Person").encode()))
    (folder / "schema-29.0.nt.xz").write_bytes(lzma.compress(
        (SCHEMA.format("Person") + SCHEMA.format("Place")).encode()))
    (folder / "release-2.nt").write_text(SCHEMA.format("Thing"), encoding="utf-8")
    (folder / "query.rq").write_text("SELECT ?c WHERE { ?c a rdfs:Class }", encoding="utf-8")
    (folder / "shapes.ttl").write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "<http://example.org/C> a sh:NodeShape ; sh:targetClass rdfs:Class ;\n"
        "  sh:property [ sh:path rdfs:label ; sh:maxCount 5 ] .\n", encoding="utf-8")
    (folder / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                                   encoding="utf-8")
    # Commits are dated in 2024 (the import example's --date 2025-03-24 must not be older
    # than the head): the writer's clock is replaced while the history is built.
    from palimpsest.versioning import commits
    clock = iter(range(1_704_096_000_000_000, 1_800_000_000_000_000, 86_400_000_000))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(commits, "now_us", lambda: next(clock))
        history(folder)


def history(folder: Path) -> None:
    from palimpsest.io import export_files, import_files
    repo = palimpsest.open(str(folder / "palimpsest.db"), author="setup@example.com")
    import_files(repo, [str(folder / "schema-28.0.nt.xz")], message="schema.org 28.0")
    repo.tag("v28.0")
    with repo.transaction("People, endpoints and notes") as tx:
        tx.put_entity("ada", type="Person", props={"name": "Ada", "born": 1815, "age": 36,
                                                   "nickname": "Enchantress"})
        tx.put_entity("bob", type="Person", props={"name": "Bob", "age": 41})
        tx.put_entity("alice", type="Person", props={"name": "Alice", "age": 30})
        tx.put_relation("ada KNOWS bob", type="KNOWS", source="ada", target="bob")
        tx.put_entity("users", type="Endpoint", props={"path": "GET /users"})
        tx.put_entity("User", type="Schema")
        tx.put_entity("legacy", type="Endpoint")
        tx.put_relation("users-returns-user", type="RETURNS", source="users", target="User",
                        props={"since": 2023})
        tx.put_document("notes", "n1", {"author": "ada", "text": "hello", "tags": ["x"]})
        tx.put_document("notes", "n2", {"author": "bob", "draft": True})
    repo.tag("v1.0")
    repo.put_entity("carol", "Person", {"name": "Carol", "age": 25})
    repo.tag("v2.0")
    repo.create_branch("experiment")
    repo.create_branch("feature")
    for i, change in enumerate(({"email": "bob@example.com"}, {"city": "Paris"},
                                {"team": "core"})):
        repo.update_entity("bob" if i < 2 else "carol", change, branch="experiment",
                           message=f"Experiment {i + 1}")
    repo.update_entity("ada", {"name": "Ada Lovelace"}, branch="feature")
    repo.update_entity("ada", {"name": "Ada King"})
    for i in range(6):
        repo.update_entity("alice", {"visits": i})
    repo.kv.set("/config/old", b"x")
    repo.kv.set("/workloads/web", b"replicas=2")
    repo.kv.set("/config/cluster", b'{"size": 3}')
    repo.kv.set("/config/cluster", b'{"size": 4}')
    repo.update_entity("bob", {"age": 42})
    repo.create_text_index("Paper", fields=["title", "abstract"], kind="entity")
    repo.create_vector_index("Paper", "embedding", dimensions=3, kind="entity")
    repo.put_entity("notes-on-the-engine", "Paper", {
        "title": "Notes on the Analytical Engine", "abstract": "Lovelace on Babbage's engine",
        "embedding": [0.1, 0.3, 0.2]})
    repo.put_entity("on-computable-numbers", "Paper", {
        "title": "On Computable Numbers", "abstract": "Turing machines", "embedding": [1, 0, 0]})
    repo.tag("papers")
    repo.put_entity("claim-1", "Claim", {"text": "Ada wrote the first program"},
                    provenance={"source": "doc-17", "extractor": "model-x"})
    (folder / "query.json").write_text("[0.2, 0.2, 0.2]", encoding="utf-8")
    repo.export(str(folder / "backup.archive.jsonl"))
    export_files(repo, str(folder / "graph.jsonl"))
    export_files(repo, str(folder / "csv"), format="csv")
    for name in ("entities.csv", "relations.csv"):
        (folder / "csv" / name).rename(folder / name)
    shutil.rmtree(folder / "csv")
    repo.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("help-examples")
    build(folder)
    return folder


def run_line(line: str, runner: CliRunner, folder: Path) -> None:
    """Run one example line like a shell would: ``A && B``, ``> FILE``, ``| head``."""
    line = re.sub(r"\s+#.*$", "", line)  # a trailing comment
    line = re.sub(r"\s\|\s.*$", "", line)  # the reader of a pipe
    for command in line.split(" && "):
        target = None
        redirect = re.search(r"\s>\s*(\S+)$", command)
        if redirect:
            target = folder / redirect.group(1)
            command = command[:redirect.start()]
        words = shlex.split(command)
        assert words[0] == "palimpsest", line
        result = runner.invoke(app, words[1:], catch_exceptions=False)
        assert result.exit_code == 0, (line, result.exit_code, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        if target is not None:
            target.write_bytes(result.stdout_bytes)


def test_the_examples_name_every_command() -> None:
    found = dict(all_examples())
    missing = [name for name, lines in found.items() if name and not lines]
    assert not missing, f"commands without examples: {missing}"


def test_every_help_example_runs_as_written(template: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PALIMPSEST_REPO", raising=False)
    monkeypatch.setenv("PALIMPSEST_AUTHOR", "docs@example.com")
    monkeypatch.setenv("NO_COLOR", "1")
    runner = CliRunner()
    folders: dict[str, Path] = {}
    ran = 0
    for name, lines in all_examples():
        if name in CONTINUES:
            folder = folders[CONTINUES[name]]
        else:
            folder = tmp_path / (name.replace(" ", "-") or "palimpsest")
            shutil.copytree(template, folder)
        folders[name] = folder
        monkeypatch.chdir(folder)
        for line in lines:
            if any(key in line for key in NOT_RUN):
                continue
            run_line(line, runner, folder)
            ran += 1
    assert ran >= 80
