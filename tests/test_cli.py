"""The command line, through typer's CliRunner and through the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

import palimpsest
from palimpsest.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
Run = Callable[..., "Result"]


class Result:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def json(self) -> object:
        return json.loads(self.stdout)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``palimpsest ARGS`` in-process on a fresh repository file."""
    monkeypatch.setenv("PALIMPSEST_REPO", str(tmp_path / "kg.db"))
    monkeypatch.setenv("PALIMPSEST_AUTHOR", "tester@example.com")
    monkeypatch.delenv("NO_COLOR", raising=False)
    runner = CliRunner()

    def run(*args: str, code: int | None = 0, input: str | None = None) -> Result:
        out = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        result = Result(out.exit_code, out.stdout, out.stderr)
        if code is not None:
            assert result.code == code, (args, result.code, result.stdout, result.stderr)
        return result

    return run


@pytest.fixture
def people(cli: Run) -> Run:
    cli("init")
    cli("put", "ada", "--type", "Person", "--set", "name=Ada", "--set", "born=1815",
        "-m", "Add Ada")
    cli("put", "bob", "--type", "Person", "--set", "name=Bob", "-m", "Add Bob")
    cli("relate", "ada", "KNOWS", "bob", "-m", "They met")
    return cli


def test_init_and_status(cli: Run, tmp_path: Path) -> None:
    assert "Initialized empty" in cli("init").stdout
    assert (tmp_path / "kg.db").exists()
    assert "Reinitialized" in cli("init").stdout
    status = cli("status", "--json").json()
    assert isinstance(status, dict) and status["branch"] == "main" and status["head"] is None


def test_missing_repository_is_one_clear_line(cli: Run) -> None:
    result = cli("log", code=1)
    assert result.stderr.startswith("error: no repository at")
    assert "hint: create one with `palimpsest init`" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_put_get_update_rm(people: Run) -> None:
    got = people("get", "ada", "--json").json()
    assert got == {"id": "ada", "type": "Person", "props": {"born": 1815, "name": "Ada"},
                   "valid_from": None, "valid_to": None,
                   "out": [{"id": "ada KNOWS bob", "type": "KNOWS", "source": "ada",
                            "target": "bob", "props": {}, "valid_from": None,
                            "valid_to": None}], "in": []}
    people("put", "ada", "--update", "--set", "died=1852", "--unset", "born")
    assert people("get", "ada", "--json").json()["props"] == {"died": 1852,  # type: ignore[index]
                                                              "name": "Ada"}
    human = people("get", "ada").stdout
    assert "ada (Person)" in human and "-[KNOWS]-> bob" in human
    people("put", "ada", "--props", '{"name": "Ada L."}', "--type", "Person")
    assert people("get", "ada", "--json").json()["props"] == {"name": "Ada L."}  # type: ignore[index]
    removed = people("rm", "bob", "--json").json()
    assert removed["stats"]["entities_deleted"] == 1  # type: ignore[index]
    assert removed["stats"]["relations_deleted"] == 1  # type: ignore[index]
    people("get", "bob", code=1)


def test_put_needs_a_type(people: Run) -> None:
    result = people("put", "carl", code=2)
    assert "needs --type" in result.stderr


def test_documents(people: Run) -> None:
    people("put", "n1", "--collection", "notes", "--value", '{"text": "hi"}')
    assert people("get", "n1", "-c", "notes", "--json").json() == {
        "collection": "notes", "key": "n1", "value": {"text": "hi"}}
    people("rm", "n1", "-c", "notes")
    people("get", "n1", "-c", "notes", code=1)


def test_relate_and_unrelate(people: Run) -> None:
    people("relate", "bob", "KNOWS", "ada", "--id", "r2", "--set", "since=1833")
    assert people("get", "r2", "--relation", "--json").json()["props"] == {"since": 1833}  # type: ignore[index]
    people("unrelate", "bob", "KNOWS", "ada")
    people("unrelate", "ada KNOWS bob")
    assert people("get", "ada", "--json").json()["out"] == []  # type: ignore[index]
    people("unrelate", "a", "b", code=2)


def test_log_one_line_per_commit_and_filters(people: Run) -> None:
    lines = people("log").stdout.splitlines()
    assert len(lines) == 3
    assert "They met" in lines[0] and "(HEAD -> main)" in lines[0] and "+1 ~0 -0" in lines[0]
    assert len(people("log", "-n", "1").stdout.splitlines()) == 1
    touching = people("log", "--touching", "bob", "--json").json()
    assert [c["message"] for c in touching] == ["Add Bob"]  # type: ignore[union-attr,index]
    assert people("log", "--author", "nobody", "--json").json() == []
    assert len(people("log", "--since", "2000-01-01", "--json").json()) == 3  # type: ignore[arg-type]


def test_show_diff_history_blame(people: Run) -> None:
    people("put", "ada", "-u", "--set", "name=Ada Lovelace", "-m", "Full name")
    shown = people("show").stdout
    assert "Full name" in shown and '~ name: Ada -> Ada Lovelace' in shown
    assert "Author: tester@example.com" in shown
    diff = people("diff", "HEAD~3", "HEAD").stdout
    assert "+ entity bob (Person)" in diff and "+ relation ada KNOWS bob" in diff
    stat = people("diff", "HEAD~1", "HEAD", "--stat").stdout
    assert "entities" in stat and "1" in stat
    patch = people("diff", "HEAD~1", "HEAD", "--json-patch").json()
    assert patch == [{"op": "replace", "path": "/entities/ada/props/name",
                      "value": "Ada Lovelace"}]
    as_json = people("diff", "HEAD~1", "--json").json()
    assert as_json["stats"]["entities_modified"] == 1  # type: ignore[index]
    versions = people("history", "ada", "--relations", "none", "--json").json()
    assert [v["kind"] for v in versions] == ["modified", "created"]  # type: ignore[union-attr,index]
    facts = people("history", "ada", "--json").json()  # with its outgoing relation
    assert [(v["element"], v["id"], v["kind"]) for v in facts] == [  # type: ignore[union-attr,index]
        ("entity", "ada", "modified"), ("relation", "ada KNOWS bob", "created"),
        ("entity", "ada", "created")]
    text = people("history", "ada").stdout
    assert "relation ada KNOWS bob" in text and "@target: ∅ -> bob" in text
    assert "relation" not in people("history", "bob").stdout  # incoming: not by default
    assert "relation ada KNOWS bob" in people("history", "bob", "--relations", "in").stdout
    touching = people("log", "--touching", "bob", "--relations", "in", "--json").json()
    assert len(touching) == 2  # type: ignore[arg-type]
    blame = people("blame", "ada", "--json").json()
    assert blame["name"]["value"] == "Ada Lovelace"  # type: ignore[index]
    assert blame["born"]["value"] == 1815  # type: ignore[index]
    assert blame["@relation ada KNOWS bob"]["relation"] == "ada KNOWS bob"  # type: ignore[index]
    assert people("diff", "HEAD", "HEAD").stdout.strip() == "no differences"


def test_diff_pages(people: Run) -> None:
    """A big diff shows one page and the command for the next; the pages add up."""
    people("put", "cy", "--type", "Person", "-m", "Add Cy")
    first = people("diff", "HEAD~3", "HEAD", "--limit", "2").stdout
    assert "+ entity bob (Person)" in first and "+ entity cy (Person)" in first
    assert "relation" not in first and "--after" in first
    after = first.rsplit("--after ", 1)[1].split()[0].strip("'")
    rest = people("diff", "HEAD~3", "HEAD", "--limit", "2", "--after", after).stdout
    assert "+ relation ada KNOWS bob" in rest and "--after" not in rest
    page = people("diff", "HEAD~3", "HEAD", "--limit", "2", "--json").json()
    assert len(page["changes"]) == 2 and page["next"] == after  # type: ignore[index,arg-type]
    stat = people("diff", "HEAD~3", "HEAD", "--stat", "--json").json()
    assert stat["entities_created"] == 2 and stat["relations_created"] == 1  # type: ignore[index]
    assert people("diff", "HEAD~3", "--stat").stdout.count("\n") >= 3
    people("diff", "HEAD~3", "--limit", "2", "--after", "nonsense", code=1)


def test_branches_tags_checkout(people: Run) -> None:
    people("branch", "experiment")
    people("checkout", "experiment")
    people("put", "carl", "--type", "Person", "-m", "Carl on experiment")
    listed = people("branch", "--json").json()
    rows = {b["name"]: b for b in listed}  # type: ignore[union-attr,index]
    assert rows["experiment"]["current"] and rows["experiment"]["ahead"] == 1
    assert rows["main"]["behind"] == 0
    assert "experiment" in people("branch").stdout
    people("tag", "v1", "main", "-m", "first")
    tags = people("tag", "--json").json()
    assert tags[0]["name"] == "v1" and tags[0]["message"] == "first"  # type: ignore[index]
    assert people("get", "carl", "--ref", "v1", code=1).code == 1
    people("checkout", "main")
    people("branch", "-d", "experiment")
    people("tag", "-d", "v1")
    assert people("tag", "--json").json() == []
    people("checkout", "-b", "hotfix", "--from", "HEAD~1")
    assert people("status", "--json").json()["branch"] == "hotfix"  # type: ignore[index]


def test_rollback_and_revert(people: Run) -> None:
    people("put", "ada", "-u", "--set", "name=Wrong", "-m", "Oops")
    reverted = people("revert", "HEAD", "--json").json()
    assert reverted["stats"]["entities_modified"] == 1  # type: ignore[index]
    assert people("get", "ada", "--json").json()["props"]["name"] == "Ada"  # type: ignore[index]
    people("rollback", "HEAD~4")
    assert people("status", "--json").json()["entities"] == 1  # type: ignore[index]


@pytest.mark.skipif(not hasattr(palimpsest.Repository, "merge"), reason="merge not built yet")
def test_merge_conflict_exit_code_and_strategies(people: Run) -> None:
    people("branch", "feature")
    people("put", "ada", "-u", "--set", "name=Ada (main)", "-m", "main edit")
    people("put", "ada", "-u", "--set", "name=Ada (feature)", "-b", "feature", "-m", "f edit")
    preview = people("merge", "feature", "--preview", code=3)
    assert "Merge conflicts" in preview.stdout and "name" in preview.stdout
    failed = people("merge", "feature", code=3)
    assert "nothing was written" in failed.stderr
    assert len(people("log", "--json").json()) == 4  # type: ignore[arg-type]
    as_json = people("merge", "feature", "--json", code=3).json()
    assert as_json["status"] == "conflict"  # type: ignore[index]
    people("merge", "feature", "--strategy", "theirs")
    assert people("get", "ada", "--json").json()["props"]["name"] == "Ada (feature)"  # type: ignore[index]
    assert "Already up to date" in people("merge", "feature").stdout
    graph = people("log", "--graph").stdout
    assert "*" in graph and "\\" in graph
    people("branch", "ff")
    people("put", "eve", "--type", "Person", "-b", "ff", "-m", "eve")
    people("merge", "ff", "--metadata", '{"ticket": "DATA-12"}')
    head = people("log", "--json").json()[0]  # type: ignore[index]
    assert head["metadata"]["ticket"] == "DATA-12" and len(head["parents"]) == 2  # type: ignore[index]
    people("merge", "ff", "--metadata", "[1]", code=2)


@pytest.mark.skipif(not hasattr(palimpsest.Repository, "cherry_pick"),
                    reason="cherry-pick not built yet")
def test_cherry_pick(people: Run) -> None:
    people("branch", "feature")
    people("put", "dora", "--type", "Person", "-b", "feature", "-m", "Dora")
    people("cherry-pick", "feature")
    assert people("get", "dora", "--json").json()["type"] == "Person"  # type: ignore[index]


def test_import_export_cli(cli: Run, tmp_path: Path) -> None:
    cli("init")
    v1 = tmp_path / "v1.nt"
    v1.write_text('<http://e/a> <http://e/name> "A" .\n<http://e/a> <http://e/knows> '
                  '<http://e/b> .\n')
    v2 = tmp_path / "v2.nt"
    v2.write_text('<http://e/a> <http://e/name> "A2" .\n')
    out = cli("import", str(v1), "--tag", "r1", "--date", "2020-01-01").stdout
    assert "(3 elements read, 0 unchanged), tagged r1" in out
    result = cli("import", str(v2), "--tag", "r2", "--date", "2021-01-01", "--json").json()
    assert result["stats"]["entities_modified"] == 1  # type: ignore[index]
    assert result["stats"]["entities_deleted"] == 1  # type: ignore[index]
    assert result["tag"] == "r2"  # type: ignore[index]
    diff = cli("diff", "r1", "r2", "--json").json()
    assert diff["stats"]["relations_deleted"] == 1  # type: ignore[index]
    exported = cli("export", "-", "--ref", "r1", "--format", "nt").stdout
    assert exported.splitlines() == sorted(v1.read_text().splitlines())
    target = tmp_path / "snap.jsonl"
    cli("export", str(target), "--ref", "r2")
    assert '"kind":"entity"' in target.read_text()
    archive = tmp_path / "all.archive.jsonl"
    assert "as archive" in cli("export", str(archive)).stdout
    copy = tmp_path / "copy.db"
    cli("--repo", str(copy), "init")
    loaded = cli("--repo", str(copy), "import", str(archive), "--json").json()
    assert loaded["mode"] == "archive"  # type: ignore[index]
    assert cli("--repo", str(copy), "log", "--json").json() == cli("log", "--json").json()


def test_bad_input_is_reported_with_file_and_line(cli: Run, tmp_path: Path) -> None:
    cli("init")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "entity", "id": "a", "type": "T"}\n{"kind": "entity"}\n')
    result = cli("import", str(bad), code=1)
    assert result.stderr.splitlines()[0] == \
        "error: bad.jsonl:2: entity: 'id' must be a non-empty string"
    assert "--skip-invalid" in result.stderr
    assert cli("log", "--json").json() == []
    skipped = cli("import", str(bad), "--skip-invalid")
    assert "skipped 1 invalid record(s)" in skipped.stderr
    cli("import", str(tmp_path / "missing.nt"), code=1)
    cli("import", str(bad), "--mode", "upsert", code=2)


def test_import_creates_a_missing_branch(cli: Run, tmp_path: Path) -> None:
    cli("init")
    data = tmp_path / "e.csv"
    data.write_text("id,type\na,T\n")
    cli("import", str(data), "--branch", "staging")
    assert cli("get", "a", "--ref", "staging", "--json").json()["type"] == "T"  # type: ignore[index]
    assert cli("log", "--json").json() == []


def test_fsck_gc_backup(people: Run, tmp_path: Path) -> None:
    report = people("fsck", "--json").json()
    assert report["ok"] is True and report["commits"] == 3  # type: ignore[index]
    assert "ok" in people("fsck").stdout
    if hasattr(palimpsest.Repository, "gc"):
        assert isinstance(people("gc", "--dry-run", "--json").json(), dict)
    if hasattr(palimpsest.Repository, "backup"):
        people("backup", str(tmp_path / "b.db"))
        assert palimpsest.open(str(tmp_path / "b.db")).head().entity("ada") is not None


def test_kv_commands(people: Run) -> None:
    if not hasattr(palimpsest.Repository, "kv"):
        result = people("kv", "get", "/a", code=1)
        assert "not available" in result.stderr
        return
    people("kv", "set", "/config/size", "3")
    assert people("kv", "get", "/config/size").stdout == "3\n"
    people("kv", "cas", "/config/size", "1", "5")
    failed = people("kv", "cas", "/config/size", "1", "7", code=1)
    assert failed.stderr.startswith("error:")
    listed = people("kv", "list", "/config/", "--json").json()
    assert [(e["key"], e["version"], e["value"]) for e in listed] == [  # type: ignore[union-attr,index]
        ("/config/size", 2, "NQ==")]  # base64, as the HTTP API sends it
    events = people("kv", "watch", "/config/*", "--since", "HEAD~2", "-n", "2", "--json")
    assert len(events.stdout.splitlines()) == 2
    people("kv", "rm", "/config/size")
    people("kv", "get", "/config/size", code=1)


def test_query_command(people: Run) -> None:
    if not hasattr(palimpsest.View, "query"):
        assert "not available" in people("query", "notes", code=1).stderr
        return
    for key, age in (("a", 30), ("b", 40), ("c", 50)):
        people("put", key, "-c", "people", "--value", json.dumps({"age": age}))
    found = people("query", "people", "age", ">", "35", "--order-by", "age:desc",
                   "--json").json()
    assert [d["key"] for d in found] == ["c", "b"]  # type: ignore[union-attr,index]
    found = people("query", "people", "--where", '{"age": {"lt": 35}}', "--json").json()
    assert [d["key"] for d in found] == ["a"]  # type: ignore[union-attr,index]
    people("query", "people", "age", "~", "3", code=2)


def test_tokens(people: Run) -> None:
    try:
        from palimpsest.server import auth
    except ImportError:
        pytest.skip("no server package")
    assert hasattr(auth, "create_token")
    secret = people("token", "create", "--user", "alice", "--role", "writer").stdout.strip()
    assert secret
    listed = people("token", "list", "--json").json()
    assert len(listed) == 1  # type: ignore[arg-type]
    ident = next(v for k, v in listed[0].items() if k in ("id", "token_id"))  # type: ignore[index,union-attr]
    people("token", "revoke", str(ident))
    made = people("token", "create", "--user", "bob", "--expires", "30d", "--json").json()
    until = datetime.fromisoformat(made["expires"])  # type: ignore[index,call-overload]
    assert timedelta(days=29) < until - datetime.now(UTC) <= timedelta(days=30)
    listed = people("token", "list", "--json").json()
    assert listed[1]["user"] == "bob" and listed[1]["expires"]  # type: ignore[index,call-overload]
    assert "expires" in people("token", "create", "--user", "x", "--expires", "soon",
                               code=1).stderr


def test_copy_command(people: Run, tmp_path: Path) -> None:
    if not hasattr(palimpsest.Repository, "copy_to"):
        assert "not available" in people("copy", str(tmp_path / "c.db"), code=1).stderr
        return
    people("copy", str(tmp_path / "c.db"))
    assert palimpsest.open(str(tmp_path / "c.db")).head().entity("ada") is not None


def test_errors_are_one_line_unless_debug(people: Run) -> None:
    result = people("show", "nosuchref", code=1)
    assert result.stderr.splitlines()[0].startswith("error: 'nosuchref' is not a branch")
    assert result.stderr.splitlines()[1].startswith("hint:")
    with pytest.raises(palimpsest.RefNotFound):
        people("--debug", "show", "nosuchref", code=None)


def test_usage_errors_exit_2(people: Run) -> None:
    assert people("log", "--no-such-option", code=2).code == 2
    assert people("no-such-command", code=2).code == 2


def test_author_from_option_and_environment(people: Run) -> None:
    people("--author", "carol@example.com", "put", "x", "--type", "T")
    people("put", "y", "--type", "T", "--author", "dave@example.com")
    authors = [c["author"] for c in people("log", "-n", "3", "--json").json()]  # type: ignore[union-attr,index]
    assert authors == ["dave@example.com", "carol@example.com", "tester@example.com"]


def test_global_json_flag(people: Run) -> None:
    data = people("--json", "log", "-n", "1").json()
    assert isinstance(data, list) and data[0]["message"] == "They met"


# -- the reference docs ---------------------------------------------------------------------
def test_every_command_is_documented() -> None:
    from palimpsest.cli.docs import commands, generate
    text = DOCS.read_text(encoding="utf-8")
    names = [name for name, _ in commands()]
    assert {"init", "put", "get", "rm", "relate", "unrelate", "log", "show", "diff", "history",
            "blame", "branch", "checkout", "merge", "tag", "rollback", "revert", "cherry-pick",
            "query", "kv get", "kv set", "kv cas", "kv list", "kv watch", "import", "export",
            "copy", "fsck", "gc", "serve"} <= set(names)
    for name in names:
        assert f"## palimpsest {name}\n" in text, f"{name} is missing from docs/cli.md"
    assert text == generate(), "docs/cli.md is stale: python -m palimpsest.cli.docs > docs/cli.md"


def test_every_command_has_an_example() -> None:
    from palimpsest.cli.docs import commands
    for name, command in commands():
        if hasattr(command, "list_commands"):
            continue
        assert "Example" in (command.help or ""), f"palimpsest {name} --help has no example"


# -- the real console script ----------------------------------------------------------------
def _script() -> str:
    found = shutil.which("palimpsest", path=str(Path(sys.executable).parent)) or \
        shutil.which("palimpsest")
    if found is None:
        pytest.skip("the palimpsest console script is not installed")
    return found


def _sh(*args: str, env: dict[str, str], code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([_script(), *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    return done


def test_console_script_end_to_end(tmp_path: Path) -> None:
    env = {**os.environ, "PALIMPSEST_REPO": str(tmp_path / "kg.db"),
           "PALIMPSEST_AUTHOR": "script@example.com", "NO_COLOR": "1"}
    assert _sh("--version", env=env).stdout.startswith("palimpsest ")
    assert "Usage: palimpsest" in _sh("--help", env=env).stdout
    missing = _sh("log", env=env, code=1)
    assert missing.stderr.startswith("error: no repository") and "Traceback" not in missing.stderr
    _sh("init", env=env)
    _sh("put", "ada", "--type", "Person", "--set", "name=Ada", "-m", "Add Ada", env=env)
    _sh("tag", "v1", env=env)
    _sh("put", "ada", "-u", "--set", "name=Ada L.", env=env)
    lines = _sh("log", env=env).stdout.splitlines()
    assert len(lines) == 2 and "script@example.com" in lines[0] and "\x1b[" not in lines[0]
    patch = json.loads(_sh("diff", "v1", "--json-patch", env=env).stdout)
    assert patch == [{"op": "replace", "path": "/entities/ada/props/name", "value": "Ada L."}]
    assert _sh("log", "--bogus", env=env, code=2).returncode == 2
    bad = _sh("show", "nope", env=env, code=1)
    assert len(bad.stderr.splitlines()) == 2 and "Traceback" not in bad.stderr
    other = tmp_path / "other.db"
    _sh("--repo", str(other), "init", env=env)
    assert json.loads(_sh("--repo", str(other), "log", "--json", env=env).stdout) == []


@pytest.mark.skipif(not hasattr(palimpsest.Repository, "merge"), reason="merge not built yet")
def test_console_script_merge_conflict_exits_3(tmp_path: Path) -> None:
    env = {**os.environ, "PALIMPSEST_REPO": str(tmp_path / "kg.db"), "NO_COLOR": "1"}
    _sh("init", env=env)
    _sh("put", "a", "--type", "T", "--set", "x=1", env=env)
    _sh("branch", "f", env=env)
    _sh("put", "a", "-u", "--set", "x=2", env=env)
    _sh("put", "a", "-u", "--set", "x=3", "--branch", "f", env=env)
    done = _sh("merge", "f", env=env, code=3)
    assert "Merge conflicts" in done.stdout


def test_backup_restore_erase_and_retention(people: Run, tmp_path: Path) -> None:
    people("backup", str(tmp_path / "snap.db"))
    people("put", "carol", "--type", "Person", "-m", "Add Carol")
    # restore refuses to clobber the repository unless told to, then brings the backup back
    assert people("restore", str(tmp_path / "snap.db"), code=1).code == 1
    people("restore", str(tmp_path / "snap.db"), "--overwrite")
    assert people("get", "carol", code=1).code == 1
    assert "Ada" in people("get", "ada").stdout
    erased = people("erase", "ada", "--reason", "GDPR request", "--json").json()
    assert erased["key"] == "ada" and erased["reason"] == "GDPR request"  # type: ignore[index]
    assert "@erased" in people("get", "ada").stdout
    assert people("fsck").code == 0  # hashes still verify after the erasure
    assert "no retention policies" in people("retention").stdout
    people("retention", "main", "--keep-commits", "2")
    listed = people("retention", "--json").json()
    assert listed == [{"pattern": "main", "keep_seconds": None, "keep_commits": 2}]
    assert people("retention", "main", code=1).code == 1  # nothing to set: a clear error
    people("retention", "main", "--remove")
    assert people("retention", "--json").json() == []


def test_provenance_on_writes_history_and_retract(cli: Run) -> None:
    cli("init")
    cli("put", "ada", "--type", "Person", "--set", "name=Ada", "--source", "doc-17",
        "--provenance", '{"extractor": "model-x", "confidence": 0.83}')
    cli("put", "bob", "--type", "Person", "--set", "name=Bob", "--source", "doc-18")
    cli("relate", "ada", "KNOWS", "bob", "--source", "doc-18")
    versions = cli("history", "ada", "--json").json()
    assert [v["provenance"] for v in versions] == [  # type: ignore[union-attr,index]
        {"source": "doc-18"},  # the relation
        {"source": "doc-17", "extractor": "model-x", "confidence": 0.83}]
    cli("put", "ada", "--type", "Person", "--provenance", "[1]", code=2)
    commit = cli("retract", "--source", "doc-18", "--json").json()
    assert commit["stats"]["entities_deleted"] == 1  # type: ignore[index]
    assert commit["stats"]["relations_deleted"] == 1  # type: ignore[index]
    cli("get", "bob", code=1)
    cli("get", "ada")
    made = cli("erase", "--source", "doc-17", "--reason", "withdrawn", "--json").json()
    assert [e["key"] for e in made] == ["ada"]  # type: ignore[union-attr,index]
    cli("erase", "--reason", "no target", code=2)
