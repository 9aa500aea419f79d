"""A real server: `python -m palimpsest.server` (what `palimpsest serve` runs) in a subprocess
on a free loopback port, driven by the Python client and by httpx, including a live SSE watch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

import palimpsest  # noqa: E402
from palimpsest.server import serve  # noqa: E402
from palimpsest.server.auth import create_token  # noqa: E402

from .live import running_server  # noqa: E402


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str, Path]]:
    path = tmp_path_factory.mktemp("live") / "live.db"
    with palimpsest.open(str(path)) as repo:
        writer = create_token(repo, "writer-bot", "writer")
        reader = create_token(repo, "viewer", "reader")
    with running_server(path) as url:
        yield url, writer, reader, path


def test_client_and_httpx_against_a_real_server(live: tuple[str, str, str, Path]) -> None:
    url, writer, reader, _ = live
    with palimpsest.connect(url, token=writer) as repo:
        with repo.transaction(message="Seed", author="cron") as tx:
            tx.put_entity("svc", type="Service", props={"port": 80})
        assert tx.commit is not None and tx.commit.author == "writer-bot"
        repo.update_entity("svc", {"port": 8080})
        assert repo.head().entity("svc").props == {"port": 8080}  # type: ignore[union-attr]
        assert [c.message for c in repo.log()] == ["Update entity svc", "Seed"]
    plain = httpx.get(url + "/api/entities/svc", params={"ref": "main~1"},
                      headers={"Authorization": f"Bearer {reader}"})
    assert plain.status_code == 200 and plain.json()["props"] == {"port": 80}
    denied = httpx.put(url + "/api/entities/x", json={"type": "T"},
                       headers={"Authorization": f"Bearer {reader}"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    assert httpx.get(url + "/api/log").status_code == 401
    ui = httpx.get(url + "/", follow_redirects=True)
    assert ui.status_code == 200 and "Log in" in ui.text


def test_live_watch_stream(live: tuple[str, str, str, Path]) -> None:
    url, writer, reader, path = live
    watcher = palimpsest.connect(url, token=reader)
    start = watcher.resolve("main").seq if watcher.log() else 0
    received: list[palimpsest.Commit] = []

    def listen() -> None:
        for commit in watcher.watch("main", limit=3, timeout=30):
            received.append(commit)

    thread = threading.Thread(target=listen)
    thread.start()
    time.sleep(0.3)  # let the stream open
    with palimpsest.connect(url, token=writer) as repo:
        first = repo.put_entity("w1", type="T")
        second = repo.put_entity("w2", type="T")
    # a commit by another process, straight into the file, arrives by polling
    with palimpsest.open(str(path), author="offline") as direct:
        third = direct.put_entity("w3", type="T")
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert [c.id for c in received] == [first.id, second.id, third.id]
    # resuming after the first event replays what came after it
    replay = list(watcher.watch("main", last_event_id=first.seq, limit=2, timeout=10))
    assert [c.id for c in replay] == [second.id, third.id]
    with httpx.stream("GET", url + "/api/watch", params={"since": start, "limit": 1},
                      headers={"Authorization": f"Bearer {reader}"}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("id:")]
    assert lines == [f"id: {first.seq}"]
    watcher.close()


def test_no_auth_is_refused_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(palimpsest.InvalidValue, match="loopback"):
        serve(str(tmp_path / "x.db"), host="0.0.0.0", no_auth=True)
    assert not (tmp_path / "x.db").exists()


def test_client_kv_transaction_and_watch(live: tuple[str, str, str, Path]) -> None:
    url, writer, reader, _ = live
    with palimpsest.connect(url, token=writer) as repo:
        kv = repo.kv
        commit = kv.transaction([kv.check_missing("/jobs/a"), kv.op_set("/jobs/a", b"one"),
                                 kv.op_set("/jobs/b", b"two")], message="two jobs")
        assert commit is not None and commit.author == "writer-bot"
        assert kv.get("/jobs/a").value == b"one"  # type: ignore[union-attr]
        with pytest.raises(palimpsest.VersionConflict):
            kv.transaction([kv.check_version("/jobs/a", 7), kv.op_delete("/jobs/a")])
        assert kv.get("/jobs/a") is not None  # nothing changed
        kv.transaction([kv.op_delete("/jobs/b")])
    watcher = palimpsest.connect(url, token=reader)
    events = list(watcher.kv.watch("/jobs/*", since=0, limit=3, timeout=10))
    assert [(e.type, e.key) for e in events] == [
        ("created", "/jobs/a"), ("created", "/jobs/b"), ("deleted", "/jobs/b")]
    assert events[0].value == b"one" and events[0].commit.id == commit.id
