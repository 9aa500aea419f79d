"""Branch and tag names over HTTP (issue 12, point 3): a name the ref syntax would misread is
422 ``invalid_ref``; a full commit id wins over a name; and only an admin creates a branch or a
tag under a protected pattern."""

from __future__ import annotations

import pytest

import palimpsest
from palimpsest.remote import connect

from .conftest import Server


def error(response: object) -> tuple[int, str]:
    return (response.status_code,  # type: ignore[attr-defined]
            response.json()["error"]["code"])  # type: ignore[attr-defined]


def test_names_that_read_as_refs_are_refused(seeded: Server) -> None:
    c, w, admin = seeded.client, seeded.h("writer"), seeded.h("admin")
    head = c.get("/api/commits/main", headers=w).json()["id"]
    for name in ("deadbeef", "abc123", head, head[:10], "2026-01-15", "2026-01-15T10:00:00Z",
                 "x~1", "x^", "a@b", "a..b", "a...b", "HEAD"):
        for who in (w, admin):
            made = c.post("/api/branches", json={"name": name}, headers=who)
            assert error(made) == (422, "invalid_ref"), (name, made.text)
            tagged = c.post("/api/tags", json={"name": name}, headers=who)
            assert error(tagged) == (422, "invalid_ref"), (name, tagged.text)
    message = c.post("/api/branches", json={"name": "cafe01"}, headers=w).json()["error"]
    assert "commit id" in message["message"]
    assert error(c.post("/api/branches", json={"name": "has space"}, headers=w)) == (
        422, "invalid_key")
    assert [b["name"] for b in c.get("/api/branches", headers=w).json()] == ["main"]
    assert c.get("/api/tags", headers=w).json() == []
    assert c.post("/api/branches", json={"name": "cafe01-fix"}, headers=w).status_code == 201
    client = connect("http://testserver", token=seeded.tokens["writer"],
                     http_client=seeded.client)
    with pytest.raises(palimpsest.InvalidRef, match="hex digits"):
        client.create_branch("beefcafe")
    with pytest.raises(palimpsest.InvalidRef, match="date"):
        client.tag("2026-01-15")


def test_a_full_commit_id_wins_over_a_legacy_name(seeded: Server) -> None:
    c, r = seeded.client, seeded.h("reader")
    first = seeded.repo.log(limit=None)[-1]
    seeded.repo.create_branch("legacy")
    db = seeded.repo.database
    with db.write():  # a name an older version accepted
        db.run("UPDATE refs SET name = ? WHERE name = 'legacy'", (first.id,))
    assert c.get(f"/api/commits/{first.id}", headers=r).json()["id"] == first.id
    old = c.get("/api/entities/ada", params={"ref": first.id}, headers=r).json()
    assert old["props"] == {"name": "Ada"}
    assert first.id in [b["name"] for b in c.get("/api/branches", headers=r).json()]


def test_protected_patterns_need_an_admin_to_create_branches_and_tags(seeded: Server) -> None:
    c, admin = seeded.client, seeded.h("admin")
    writer, feature, reader = seeded.h("writer"), seeded.h("feature"), seeded.h("reader")
    c.put("/api/protection/release/*", json={"mergers": ["bob"]}, headers=admin)
    for who in (writer, feature):
        refused = c.post("/api/branches", json={"name": "release/1", "from": "main~1"},
                         headers=who)
        assert refused.status_code == 403, refused.text
    assert error(c.post("/api/branches", json={"name": "release/1"}, headers=writer)) == (
        403, "branch_protected")
    assert error(c.post("/api/tags", json={"name": "release/1"}, headers=writer)) == (
        403, "branch_protected")
    assert error(c.post("/api/branches", json={"name": "x"}, headers=reader)) == (
        403, "forbidden")
    assert error(c.post("/api/branches", json={"name": "main-2"}, headers=feature)) == (
        403, "forbidden")
    assert [b["name"] for b in c.get("/api/branches", headers=admin).json()] == ["main"]
    made = c.post("/api/branches", json={"name": "release/1", "from": "main~1"}, headers=admin)
    assert made.status_code == 201 and made.json()["protected"] is True
    assert c.post("/api/tags", json={"name": "release/v1"}, headers=admin).status_code == 201
    # unprotected names: as before
    assert c.post("/api/branches", json={"name": "feature/x"}, headers=feature).status_code == 201
    assert c.post("/api/branches", json={"name": "work"}, headers=writer).status_code == 201
    assert c.post("/api/tags", json={"name": "v1"}, headers=writer).status_code == 201
    # the merger may still merge into the protected branch, not reset it by re-creating it
    merged = c.post("/api/merge", json={"source": "work", "into": "release/1"}, headers=writer)
    assert merged.status_code == 200
