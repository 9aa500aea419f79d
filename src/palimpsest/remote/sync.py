"""The sync protocol over HTTP: a ``palimpsest serve`` server as the other side of a fetch,
pull, push or clone (``repo.remotes.add("origin", "http://host:8000", token=...)``).

A push is sent as several requests of at most ``max_request_bytes`` (whole commits each, the
server's body limit is 10 MB by default); each one is a complete pack that the server verifies
and keeps, and only the last carries the branch updates. So a push cut between requests is
resumed by the next one from what the server kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from ..errors import CorruptObject
from ..sync.pack import FORMAT, VERSION, lines_of
from ..sync.peer import Advertisement, Received, RefUpdate
from ..sync.shallow import shallow_options
from .http import error_from

MAX_REQUEST_BYTES = 4 * 1024 * 1024


class HttpPeer:
    """A server reached over HTTP with a bearer token."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 300.0,
                 http_client: Any = None, max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._own = http_client is None
        # plain http: no TLS, so no certificate store to load (that costs ~0.1 s per client)
        self._http: Any = http_client if http_client is not None else httpx.Client(
            timeout=timeout, verify=not self.url.startswith("http://"))
        self.max_request_bytes = max_request_bytes
        self.requests = 0

    def _json(self, method: str, path: str, *, headers: dict[str, str] | None = None,
              **kwargs: Any) -> Any:
        self.requests += 1
        response = self._http.request(method, self.url + path,
                                      headers={**self._headers, **(headers or {})}, **kwargs)
        if response.status_code >= 400:
            raise _error(response.status_code, response.content)
        return response.json()

    def advertise(self) -> Advertisement:
        return Advertisement.from_json(self._json("GET", "/api/sync/refs"))

    def has(self, ids: Sequence[str]) -> list[str]:
        if not ids:
            return []
        return [str(i) for i in self._json("POST", "/api/sync/has",
                                           json={"ids": list(ids)})["ids"]]

    def send_pack(self, wants: Sequence[str], haves: Sequence[str], *,
                  depth: int | None = None, since: str | None = None) -> Iterator[bytes]:
        self.requests += 1
        body = {"wants": list(wants), "haves": list(haves), **shallow_options(depth, since)}
        with self._http.stream("POST", self.url + "/api/sync/pack", headers=self._headers,
                               json=body) as response:
            if response.status_code >= 400:
                raise _error(response.status_code, response.read())
            yield from response.iter_bytes()

    def receive_pack(self, stream: Iterable[bytes], updates: Sequence[RefUpdate]
                     ) -> Received:
        totals = [0, 0, 0, 0]
        for body in _requests(stream, updates, self.max_request_bytes):
            answer = self._json("POST", "/api/sync/receive", content=body,
                                headers={"Content-Type": "application/x-ndjson"})
            for i, name in enumerate(("commits", "skipped", "rows", "bytes")):
                totals[i] += int(answer[name])
        return Received(*totals)

    def close(self) -> None:
        if self._own:
            self._http.close()


def _error(status: int, content: bytes) -> Exception:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = content.decode("utf-8", "replace")
    return error_from(status, body)


def _requests(stream: Iterable[bytes], updates: Sequence[RefUpdate], limit: int
              ) -> Iterator[bytes]:
    """Cut one pack into request bodies of whole commits, each a complete pack of its own;
    the last one leads with ``updates``."""
    lines = lines_of(stream)
    first = next(lines, b"")
    if orjson.loads(first).get("format") != FORMAT:
        raise CorruptObject("not a palimpsest pack")
    group: list[bytes] = []
    commits = rows = size = 0
    pending: list[bytes] = []  # the current commit's record and rows

    def body(final: bool) -> bytes:
        head = orjson.dumps({"t": "updates",
                             "updates": [u.to_json() for u in updates] if final else []})
        pack_head = orjson.dumps({"t": "pack", "format": FORMAT, "version": VERSION,
                                  "commits": commits}) + b"\n"
        digest = hashlib.blake2b(pack_head, digest_size=32)
        for item in group:
            digest.update(item)
        end = orjson.dumps({"t": "end", "commits": commits, "rows": rows,
                            "digest": digest.hexdigest()}) + b"\n"
        return head + b"\n" + pack_head + b"".join(group) + end

    for raw in lines:
        record = orjson.loads(raw)
        kind = record.get("t")
        if kind == "row":
            pending.append(raw)
            continue
        if pending:  # a commit is complete
            chunk = sum(len(p) for p in pending)
            if group and size + chunk > limit:
                yield body(False)
                group, commits, rows, size = [], 0, 0, 0
            group += pending
            commits += 1
            rows += len(pending) - 1
            size += chunk
            pending = []
        if kind == "commit":
            pending = [raw]
        elif kind == "end":
            break
        else:
            raise CorruptObject(f"unexpected {kind!r} record in the pack")
    yield body(True)
