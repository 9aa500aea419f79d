"""The command line is safe for a terminal and works as documented: stored control characters
and markup are escaped, --json stays exact, kv values are bytes, --repo goes before or after
the command, errors speak CLI, serve reports a busy port, history -n and blame show the right
commits."""

from __future__ import annotations

import ast
import base64
import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import palimpsest
from palimpsest.cli import app
from palimpsest.cli import output as cli_output
from palimpsest.cli.common import cli_words
from test_cli import Result, Run, _script

# ESC-based sequences (CSI colour, OSC title, bell-terminated), backspace, CR, C1 CSI,
# a bidi override, and rich markup.
EVIL = "a\x1b]0;pwned\x07b\x1b[31mred\x08\r\x9b2J\u202e[bold]x[/bold]:smile:\x7f"
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
SGR = re.compile("\x1b\\[[0-9;]*m")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``palimpsest ARGS`` in-process on a fresh repository file (as in test_cli.py)."""
    monkeypatch.setenv("PALIMPSEST_REPO", str(tmp_path / "kg.db"))
    monkeypatch.setenv("PALIMPSEST_AUTHOR", "tester@example.com")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    runner = CliRunner()

    def run(*args: str, code: int | None = 0, input: str | bytes | None = None) -> Result:
        out = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        result = Result(out.exit_code, out.stdout, out.stderr)
        if code is not None:
            assert result.code == code, (args, result.code, result.stdout, result.stderr)
        return result

    return run


def _hostile(cli: Run) -> None:
    cli("init")
    cli("--author", "[red]eve[/red]", "put", "ada", "--type", "Person", "--set", f"name={EVIL}",
        "-m", EVIL)
    cli("tag", "v1", "-m", EVIL)
    cli("put", "ada", "--update", "--set", f"note={EVIL}", "-m", f"second {EVIL}")
    cli("kv", "set", "/k", EVIL, "-m", EVIL)


COMMANDS = [["log"], ["log", "--graph"], ["show"], ["show", "v1"], ["diff", "v1"],
            ["history", "ada"], ["blame", "ada"], ["get", "ada"], ["status"], ["tag"],
            ["branch"], ["reflog"], ["kv", "list"], ["query", "Person", "--type"]]


@pytest.mark.parametrize("color", [False, True], ids=["plain", "rich"])
def test_stored_control_characters_never_reach_the_terminal(
        cli: Run, monkeypatch: pytest.MonkeyPatch, color: bool) -> None:
    _hostile(cli)
    if color:  # colours and rich tables, as on a terminal
        monkeypatch.setenv("FORCE_COLOR", "1")
        monkeypatch.setenv("COLUMNS", "1000")  # no folded cells
    for args in COMMANDS:
        result = cli(*args)
        for stream in (result.stdout, result.stderr):
            text = SGR.sub("", stream) if color else stream
            assert not CONTROL.search(text), (args, text)
        assert "\x1b" not in result.stdout or color
        if args[0] in ("show", "history", "get", "blame", "kv"):
            # rich markup and emoji codes in stored data are shown as they are
            assert "[bold]x[/bold]:smile:" in result.stdout, (args, result.stdout)
        if args[0] in ("log", "history", "blame"):  # authors (refused with controls)
            assert "[red]eve[/red]" in result.stdout, (args, result.stdout)


def test_errors_escape_stored_data_too(cli: Run) -> None:
    cli("init")
    result = cli("get", EVIL, code=1)
    assert not CONTROL.search(result.stderr)
    assert "\\x1b[31m" in result.stderr


def _strings(data: object) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return []


def test_json_output_is_exact_and_holds_no_raw_controls(cli: Run) -> None:
    _hostile(cli)
    for args in (["log", "--json"], ["get", "ada", "--json"], ["kv", "get", "/k", "--json"],
                 ["--json", "history", "ada"]):
        out = cli(*args).stdout
        assert not CONTROL.search(out.replace("\n", "")), args
        found = _strings(json.loads(out))
        if args[0] == "kv":  # kv values are bytes: base64 text, as the HTTP API sends them
            found = [base64.b64decode(found[1]).decode()]
        assert EVIL in found, args
    log = cli("log", "--json").json()
    assert isinstance(log, list) and log[-1]["message"] == EVIL
    assert log[-1]["author"] == "[red]eve[/red]"


def test_the_output_helper() -> None:
    assert cli_output.escape("a\x1b[31mb\nc\u009b") == "a\\x1b[31mb\\nc\\x9b"
    assert cli_output.escape("a\nb\x07", keep="\n") == "a\nb\\x07"
    painted = cli_output.paint("x\x1b", "red")
    assert cli_output.render(painted, True) == "\x1b[31mx\\x1b\x1b[0m"
    assert cli_output.render(painted, False) == "x\\x1b"
    # a colour marker can only come from paint: the same characters in data are just text
    forged = "\ue000" + "0" * 12 + "31\ue001"
    assert cli_output.render(forged, True) == forged
    assert json.loads(cli_output.json_text({"m": EVIL})) == {"m": EVIL}


def test_raw_data_is_escaped_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.TextIOWrapper):
        def isatty(self) -> bool:
            return True

    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", Terminal(raw, encoding="utf-8"))
    cli_output.write_data(b"line\x1b[2J\n\xff")
    sys.stdout.flush()
    assert raw.getvalue() == b"line\\x1b[2J\n\\xff"
    piped = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(piped, encoding="utf-8"))
    cli_output.write_data(b"line\x1b[2J\n\xff")
    assert piped.getvalue() == b"line\x1b[2J\n\xff"


# -- kv values are bytes --------------------------------------------------------------------
def test_kv_set_stores_bytes_that_are_not_utf8(cli: Run, tmp_path: Path) -> None:
    cli("init")
    # a command-line argument with bytes that are not UTF-8 arrives surrogate-escaped
    cli("kv", "set", "/arg", "\udcff\udcfe")
    (tmp_path / "blob").write_bytes(b"\x00\xff\x80")
    cli("kv", "set", "/file", "--file", str(tmp_path / "blob"))
    cli("kv", "set", "/b64", "3q2+7w==", "--base64")
    kv = palimpsest.open(str(tmp_path / "kg.db")).kv
    assert kv.get("/arg").value == b"\xff\xfe"  # type: ignore[union-attr]
    assert kv.get("/file").value == b"\x00\xff\x80"  # type: ignore[union-attr]
    assert kv.get("/b64").value == b"\xde\xad\xbe\xef"  # type: ignore[union-attr]
    got = cli("kv", "get", "/b64", "--json").json()
    assert got["value"] == "3q2+7w=="  # type: ignore[index]
    bad = cli("kv", "set", "/b64", "not base64!", "--base64", code=2)
    assert "not valid base64" in bad.stderr and "bug" not in bad.stderr
    both = cli("kv", "set", "/x", "v", "--file", str(tmp_path / "blob"), code=2)
    assert "not both" in both.stderr


def test_kv_set_from_a_real_command_line_and_stdin(tmp_path: Path) -> None:
    env = {**os.environ, "PALIMPSEST_REPO": str(tmp_path / "kg.db"), "NO_COLOR": "1"}
    script = _script()
    subprocess.run([script, "init"], env=env, check=True, capture_output=True)
    for args, data in (([b"/arg", b"\xff\xfe"], None), ([b"/in", b"--file", b"-"], b"\xff\x00")):
        done = subprocess.run([script.encode(), b"kv", b"set", *args], env=env, input=data,
                              capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert b"Traceback" not in done.stderr and b"bug" not in done.stderr
    kv = palimpsest.open(str(tmp_path / "kg.db")).kv
    assert kv.get("/arg").value == b"\xff\xfe"  # type: ignore[union-attr]
    assert kv.get("/in").value == b"\xff\x00"  # type: ignore[union-attr]
    piped = subprocess.run([script, "kv", "get", "/in"], env=env, capture_output=True,
                           check=True)
    assert piped.stdout == b"\xff\x00\n"


def test_text_that_is_not_utf8_is_a_clear_error(cli: Run) -> None:
    cli("init")
    result = cli("put", "a", "--type", "T", "-m", "bad \udcff", code=None)
    assert result.code in (1, 2) and "bug" not in result.stderr, result.stderr


# -- --repo before or after the command -----------------------------------------------------
def test_repo_before_or_after_the_command(cli: Run, tmp_path: Path) -> None:
    other = str(tmp_path / "other.db")
    cli("init", other)
    cli("put", "x", "--type", "T", "--repo", other)
    cli("-R", other, "put", "y", "--type", "T")
    assert len(cli("log", "--repo", other, "--json").json()) == 2  # type: ignore[arg-type]
    assert len(cli("--repo", other, "log", "--json").json()) == 2  # type: ignore[arg-type]
    assert cli("kv", "list", "-R", other, "--json").json() == []
    assert cli("token", "list", "--repo", other).stdout.strip() == "no tokens"
    assert cli("log", code=1).stderr.startswith("error: no repository")  # $PALIMPSEST_REPO
    assert "--repo PATH_OR_URL" in cli("serve", "--help").stdout
    assert "--repo PATH_OR_URL" in cli("token", "create", "--help").stdout


# -- error messages speak CLI ---------------------------------------------------------------
PYTHON_SPEAK = re.compile(r"\b[a-z_]+=(True|False|None|\{|'|\"|\s|$)|\brepo\.[a-z_]+\(")
# messages that no command can trigger, with the reason
NOT_FROM_THE_CLI = {
    "combine needs a list": "no command calls Repository.combine",
    "type_attr": "NetworkX conversion is Python only",
    "needs a write transaction": "storage-internal misuse",
}


def _raised_messages() -> list[str]:
    """The literal text of every error raised in the package (f-string holes as {})."""
    root = Path(palimpsest.__file__).parent
    out = []
    for path in root.rglob("*.py"):
        if path.parts[-2] == "server" or (path.parts[-2] == "remote" and path.name in (
                "repository.py", "view.py", "http.py")) or \
                path.name.startswith("cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                for arg in ast.walk(node.exc):
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        out.append(arg.value)
    return out


def test_api_error_messages_are_translated_for_the_cli() -> None:
    leaks = [m for m in _raised_messages()
             if PYTHON_SPEAK.search(cli_words(m))
             and not any(k in m for k in NOT_FROM_THE_CLI)]
    assert not leaks, "add a translation to cli/common.py _CLI_WORDS: " + repr(leaks)


def test_errors_name_options_and_commands(cli: Run, tmp_path: Path) -> None:
    cli("init")
    cli("put", "a", "--type", "T")
    cli("backup", str(tmp_path / "b.db"))
    restore = cli("restore", str(tmp_path / "b.db"), code=1).stderr
    assert "--overwrite" in restore and "overwrite=True" not in restore
    ref = cli("show", "nope", code=1).stderr
    assert "`palimpsest branch`" in ref and "repo." not in ref
    rdf = cli("export", "-", "--format", "nt", code=1).stderr
    assert "--prefix" in rdf and "prefixes=" not in rdf


# -- serve ----------------------------------------------------------------------------------
def test_serve_on_a_busy_port_is_a_clear_error_with_its_own_code(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    env = {**os.environ, "NO_COLOR": "1"}
    script = _script()
    repo = str(tmp_path / "kg.db")
    subprocess.run([script, "init", repo], env=env, check=True, capture_output=True)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        done = subprocess.run([script, "serve", "--repo", repo, "--port", port], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 4, done.stderr
    assert done.stderr.startswith(f"error: port {port} on 127.0.0.1 is already in use")
    assert "serving" not in done.stdout + done.stderr and "Traceback" not in done.stderr


# -- history and blame ----------------------------------------------------------------------
def test_history_limited_shows_the_same_old_values(cli: Run) -> None:
    cli("init")
    cli("put", "a", "--type", "T", "--set", "n=1")
    cli("put", "a", "-u", "--set", "n=2")
    cli("put", "a", "-u", "--set", "n=3")
    full = cli("history", "a").stdout.splitlines()
    assert cli("history", "a", "-n", "1").stdout.splitlines() == full[:2]
    assert "n: 2 -> 3" in full[1]
    assert cli("history", "a", "-n", "2").stdout.splitlines() == full[:4]


def test_blame_credits_merged_values_to_their_origin(cli: Run) -> None:
    cli("init")
    cli("put", "a", "--type", "T", "--set", "p=1", "--set", "q=1")
    cli("branch", "f")
    cli("put", "a", "-u", "--set", "p=2", "--branch", "f", "--author", "bob@example.com",
        "-m", "on f")
    cli("put", "a", "-u", "--set", "q=2")
    cli("merge", "f")
    log = cli("log", "--all", "--json").json()
    assert isinstance(log, list)
    by_message = {c["message"]: c["id"] for c in log}
    rows = {line.split()[0]: line.split() for line in cli("blame", "a").stdout.splitlines()}
    assert rows["p"][2] == by_message["on f"][:10] and rows["p"][3] == "bob@example.com"
    assert rows["p"][-1] == by_message["Merge f into main"][:10]  # via the merge
    assert "bob@example.com" not in rows["q"]
