"""Server benchmark: point reads and small write commits through ``palimpsest serve`` (one
uvicorn worker, loopback, bearer-token auth on every request), and SSE delivery latency.

    python -m benchmarks.bench_server --size small|full [--clients N]

Throughput uses N client processes (default 2) with keep-alive connections (the standard
library's http.client, so the client costs little); latency percentiles come from one
sequential client. SSE latency is the time from sending a commit to receiving its event.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import palimpsest
from benchmarks.report import print_figures
from palimpsest.server.auth import create_token

SIZES = {
    "small": {"entities": 1_000, "reads": 2_000, "writes": 500, "events": 30},
    "full": {"entities": 10_000, "reads": 20_000, "writes": 5_000, "events": 200},
}
TARGETS = {"read": 1_500.0, "write": 500.0, "p95_ms": 10.0}


def _conn(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def _request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    token: str,
    body: dict[str, Any] | None = None,
) -> bytes:
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    if response.status >= 400:
        raise RuntimeError(f"{method} {path}: {response.status} {payload[:200]!r}")
    return payload


def _read_worker(port: int, token: str, count: int, entities: int, offset: int) -> float:
    conn = _conn(port)
    start = time.perf_counter()
    for i in range(count):
        _request(conn, "GET", f"/api/entities/e{(offset + i * 7) % entities}", token)
    return time.perf_counter() - start


def _write_worker(port: int, token: str, count: int, worker: int) -> float:
    conn = _conn(port)
    start = time.perf_counter()
    for i in range(count):
        _request(
            conn,
            "PUT",
            f"/api/entities/w{worker}-{i}",
            token,
            {"type": "Item", "props": {"n": i, "name": f"item {i}"}},
        )
    return time.perf_counter() - start


def _parallel(target: Any, clients: int, args: list[tuple[Any, ...]]) -> float:
    """Run ``target`` in ``clients`` processes at once (started and warmed up first); return
    the longest time a client took."""
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        pool.map(_noop, range(clients))  # import this module in every worker first
        return max(pool.starmap(target, args))


def _noop(_: int) -> None:
    return None


def _latencies(port: int, token: str, count: int, action: str, entities: int) -> list[float]:
    conn = _conn(port)
    samples = []
    for i in range(count):
        start = time.perf_counter()
        if action == "read":
            _request(conn, "GET", f"/api/entities/e{(i * 13) % entities}", token)
        else:
            _request(
                conn, "PUT", f"/api/entities/lat{i}", token, {"type": "Item", "props": {"n": i}}
            )
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def _sse_latency(port: int, token: str, events: int) -> list[float]:
    """Open a watch stream, commit ``events`` times, time each commit's event."""
    stream = _conn(port)
    stream.request("GET", "/api/watch?branch=main", headers={"Authorization": f"Bearer {token}"})
    response = stream.getresponse()
    received: dict[int, float] = {}
    done = threading.Event()

    def listen() -> None:
        count = 0
        while count < events:
            line = response.readline()
            if not line:
                break
            if line.startswith(b"data:"):
                message = json.loads(line[5:])["message"]
                received[int(message.split()[-1])] = time.perf_counter()
                count += 1
        done.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(0.3)
    writer = _conn(port)
    sent: dict[int, float] = {}
    for i in range(events):
        sent[i] = time.perf_counter()
        _request(
            writer, "PUT", f"/api/entities/sse{i}", token, {"type": "Item", "message": f"sse {i}"}
        )
        time.sleep(0.01)
    done.wait(timeout=30)
    stream.close()
    return [(received[i] - sent[i]) * 1000 for i in sent if i in received]


@contextmanager
def running_server(path: Path) -> Iterator[str]:
    """`python -m palimpsest.server` (what `palimpsest serve` runs) on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "palimpsest.server", "--repo", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(400):
            try:
                conn = _conn(port)
                conn.request("GET", "/api")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(size: str, clients: int) -> list[tuple[str, str, str]]:
    params = SIZES[size]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        with palimpsest.open(str(path), author="bench") as repo:
            token = create_token(repo, "bench", "writer")
            with repo.transaction("load") as tx:
                for i in range(params["entities"]):
                    tx.put_entity(f"e{i}", "Item", {"n": i, "name": f"item {i}"})
        with running_server(path) as url:
            port = int(url.rsplit(":", 1)[1])
            _latencies(port, token, 200, "read", params["entities"])  # warm up
            reads = params["reads"] // clients
            read_s = _parallel(
                _read_worker,
                clients,
                [(port, token, reads, params["entities"], k) for k in range(clients)],
            )
            writes = params["writes"] // clients
            write_s = _parallel(
                _write_worker, clients, [(port, token, writes, k) for k in range(clients)]
            )
            read_lat = _latencies(
                port, token, min(params["reads"], 2_000), "read", params["entities"]
            )
            write_lat = _latencies(
                port, token, min(params["writes"], 1_000), "write", params["entities"]
            )
            sse = _sse_latency(port, token, params["events"])
    return [
        ("size", f"{params['entities']:,} entities, {clients} client processes", ""),
        ("point read (req/s)", f"{reads * clients / read_s:,.0f}", f">= {TARGETS['read']:,.0f}"),
        (
            "write commit (commits/s)",
            f"{writes * clients / write_s:,.0f}",
            f">= {TARGETS['write']:,.0f}",
        ),
        (
            "point read p50 / p95 (ms)",
            f"{statistics.median(read_lat):.2f} / {_p95(read_lat):.2f}",
            f"p95 <= {TARGETS['p95_ms']:.0f}",
        ),
        (
            "write commit p50 / p95 (ms)",
            f"{statistics.median(write_lat):.2f} / {_p95(write_lat):.2f}",
            f"p95 <= {TARGETS['p95_ms']:.0f}",
        ),
        (
            "SSE delivery p50 / p95 (ms)",
            f"{statistics.median(sse):.2f} / {_p95(sse):.2f}" if len(sse) > 1 else "n/a",
            f"{len(sse)}/{params['events']} events",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    rows = run(args.size, args.clients)
    print_figures(rows)


if __name__ == "__main__":
    main()
