"""The server answers with palimpsest.wire's encoding of the embedded API's values, and the
HTTP client rebuilds exactly those values."""

from __future__ import annotations

from typing import Any

from palimpsest import wire
from palimpsest.remote import connect

from .conftest import Server


def test_server_sends_the_wire_encoding_and_the_client_reads_it_back(seeded: Server) -> None:
    repo, w = seeded.repo, seeded.h("writer")
    repo.kv.set("/k", b"\x00\xffv")
    repo.put_document("notes", "n1", {"n": 1, "f": 1.0, "b": True})
    repo.create_branch("side")
    repo.put_entity("bob", "Person", {"age": 3}, branch="side")
    repo.tag("v1", message="first")
    remote = connect("http://testserver", token=seeded.tokens["admin"],
                     http_client=seeded.client)
    cases: list[tuple[str, Any, Any]] = [
        ("/api/log", repo.log(), remote.log()),
        ("/api/commits/main", repo.resolve("main"), remote.resolve("main")),
        ("/api/changes/main~1", repo.changes("main~1"), remote.changes("main~1")),
        ("/api/history/ada", repo.history("ada"), remote.history("ada")),
        ("/api/tags", repo.tags(), remote.tags()),
        ("/api/kv?prefix=/", repo.kv.list("/"), remote.kv.list("/")),
        ("/api/merge-preview?source=side", repo.merge_preview("side"),
         remote.merge_preview("side")),
        ("/api/diff?a=main~2&b=main", repo.diff("main~2", "main"),
         remote.diff("main~2", "main")),
    ]
    for path, embedded, got in cases:
        sent = seeded.client.get(path, headers=w).json()
        expected = [wire.encode(x) for x in embedded] if isinstance(embedded, list) \
            else wire.encode(embedded)
        assert sent == expected, path
        assert got == embedded, path
    blame = repo.blame("ada")
    assert seeded.client.get("/api/blame/ada", headers=w).json() == {
        k: wire.encode(b) for k, b in blame.items()}
    assert remote.blame("ada") == blame
    branches = seeded.client.get("/api/branches", headers=w).json()
    assert [{k: v for k, v in b.items() if k != "protected"} for b in branches] == [
        wire.encode(b) for b in repo.branches()]
    assert remote.branches() == repo.branches()
