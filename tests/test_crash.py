"""A writer killed with SIGKILL mid-stream leaves the last complete commit, readable and valid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import palimpsest

WRITER = """
import sys, palimpsest
repo = palimpsest.open(sys.argv[1])
i = 0
while True:
    with repo.transaction(message=f"commit {i}") as tx:
        for j in range(20):
            tx.put_entity(f"e{j}", "T", {"i": i, "pad": "x" * 200})
        if i:
            tx.put_relation(f"r{i}", "R", "e0", f"e{i % 20}")
    print(i, tx.commit.id, flush=True)
    i += 1
"""


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
@pytest.mark.parametrize("delay", [0.3, 0.7])
def test_sigkill_during_commits(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "crash.db"
    palimpsest.open(path).close()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    confirmed: list[str] = []
    deadline = time.monotonic() + 30
    while len(confirmed) < 5 and time.monotonic() < deadline:
        confirmed.append(proc.stdout.readline().split()[1])
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    rest = proc.stdout.read().split("\n")
    proc.wait()
    confirmed += [line.split()[1] for line in rest if line.strip()]
    assert len(confirmed) >= 5
    repo = palimpsest.open(path)
    head = repo.resolve("main")
    # the head is the last confirmed commit, or one that committed before its
    # confirmation was printed
    log_ids = [c.id for c in repo.log(limit=None)]
    assert confirmed[-1] in log_ids
    assert log_ids.index(confirmed[-1]) <= 1
    view = repo.head()
    i = int(head.message.split()[1])
    assert all(view.entity(f"e{j}").props["i"] == i for j in range(20))  # type: ignore[union-attr]
    report = repo.fsck()
    assert report.ok, report.problems
    repo.put_entity("after", "T")  # still writable
    repo.close()
