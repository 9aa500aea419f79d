"""The command line refuses branch and tag names the ref syntax would misread, and reports
huge ``~N`` as a clear error (issue 12, points 3 and 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from palimpsest.cli import app


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PALIMPSEST_REPO", str(tmp_path / "kg.db"))
    monkeypatch.setenv("PALIMPSEST_AUTHOR", "tester@example.com")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> tuple[str, str]:
        out = runner.invoke(app, list(args), catch_exceptions=False)
        assert out.exit_code == code, (args, out.exit_code, out.stdout, out.stderr)
        return out.stdout, out.stderr

    invoke("init")
    invoke("put", "ada", "--type", "Person", "-m", "Add Ada")
    invoke("put", "bob", "--type", "Person", "-m", "Add Bob")
    return invoke


def test_cli_refuses_names_that_read_as_refs(run) -> None:  # type: ignore[no-untyped-def]
    for command in (("branch",), ("tag",), ("checkout", "-b")):
        for name, reason in (("deadbeef", "hex digits"), ("2026-01-15", "date"),
                             ("x~1", "'~'"), ("a@b", "'@'"), ("a..b", "'..'")):
            _, err = run(*command, name, code=1)
            assert "error:" in err and reason in err, (command, name, err)
    out, _ = run("branch")
    assert "deadbeef" not in out
    run("branch", "fix-deadbeef")
    run("tag", "v2026.01")


def test_cli_reports_huge_ref_numbers(run) -> None:  # type: ignore[no-untyped-def]
    _, err = run("log", "main~" + "9" * 5000, code=1)
    assert "error:" in err and "digits" in err and "Traceback" not in err
    assert "bug" not in err  # a typed error, not the catch-all
    _, err = run("branch", "b", "main~" + "9" * 5000, code=1)
    assert "digits" in err
