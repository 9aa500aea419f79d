"""The server never stalls: while another process holds SQLite's write lock, reads, whoami and
watch streams answer at once, and a write waiting for the lock answers 503 with Retry-After
(nothing blames the disk)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

import palimpsest  # noqa: E402
from palimpsest.server.auth import create_token  # noqa: E402
from test_lock_wait import write_lock_held  # noqa: E402

from .live import running_server  # noqa: E402

GENEROUS = 2.5  # seconds: the target is well under 0.1 s; the machine may be busy


def timed(fn: object, *args: object, **kw: object) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = fn(*args, **kw)  # type: ignore[operator]
    return time.monotonic() - started, response


def test_reads_answer_and_writes_get_503_while_another_process_holds_the_lock(
        tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    with palimpsest.open(str(path)) as repo:
        writer = create_token(repo, "writer-bot", "writer")
        reader = create_token(repo, "viewer", "reader")
        repo.put_entity("ada", "Person", {"name": "Ada"})
    w = {"Authorization": f"Bearer {writer}"}
    r = {"Authorization": f"Bearer {reader}"}
    with running_server(path, "--lock-wait", "1.5") as url, \
            httpx.Client(base_url=url, timeout=30) as client, \
            write_lock_held(path, 30):
        outcome: dict[str, object] = {}

        def write() -> None:
            outcome["took"], outcome["response"] = timed(
                client.put, "/api/entities/bob", json={"type": "Person"}, headers=w)

        writing = threading.Thread(target=write)
        writing.start()
        time.sleep(0.3)  # the write is now waiting for the lock
        for _ in range(3):
            took, answer = timed(client.get, "/api/whoami", headers=r)
            assert answer.status_code == 200 and took < GENEROUS, took
            took, answer = timed(client.get, "/api/entities/ada", headers=r)
            assert answer.status_code == 200 and took < GENEROUS, took
            assert answer.json()["props"] == {"name": "Ada"}
        started = time.monotonic()
        with client.stream("GET", "/api/watch", params={"timeout": 0.5}, headers=r) as stream:
            assert stream.status_code == 200
            first = next(stream.iter_lines())
        assert first.startswith("retry:") and time.monotonic() - started < GENEROUS
        writing.join(30)
        response = outcome["response"]
        assert isinstance(response, httpx.Response)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "lock_timeout"
        assert int(response.headers["Retry-After"]) >= 1
        assert 1.0 <= float(outcome["took"]) < 6  # type: ignore[arg-type]
    # the lock is free again: the same write succeeds
    with running_server(path) as url:
        ok = httpx.put(url + "/api/entities/bob", json={"type": "Person"}, headers=w)
        assert ok.status_code == 200


def test_writes_piling_up_behind_the_lock_do_not_starve_reads(tmp_path: Path) -> None:
    """More waiting writes than worker threads: they queue without a thread, reads go on,
    and every write answers 503 within its lock wait (none is left waiting for a thread past
    it, to land later)."""
    path = tmp_path / "pile.db"
    with palimpsest.open(str(path)) as repo:
        writer = create_token(repo, "writer-bot", "writer")
        reader = create_token(repo, "viewer", "reader")
    w = {"Authorization": f"Bearer {writer}"}
    r = {"Authorization": f"Bearer {reader}"}
    with running_server(path, "--lock-wait", "4") as url, write_lock_held(path, 30):
        statuses: list[int] = []

        def write(i: int) -> None:
            answer = httpx.put(f"{url}/api/entities/e{i}", json={"type": "T"}, headers=w,
                               timeout=30)
            statuses.append(answer.status_code)

        writers = [threading.Thread(target=write, args=(i,)) for i in range(48)]
        for thread in writers:
            thread.start()
        time.sleep(1.0)  # every write is now in, waiting
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(3):
                took, answer = timed(client.get, "/api/whoami", headers=r)
                assert answer.status_code == 200 and took < GENEROUS, took
        for thread in writers:
            thread.join(30)
        assert statuses == [503] * 48
