"""Schema routes: set, read and drop schemas over HTTP; a violation is a 422 with the
violations in the body (docs/schemas.md)."""

from __future__ import annotations

from .conftest import Server

PERSON = {"type": "object", "required": ["name"]}


def test_schema_routes_and_the_422_body(server: Server) -> None:
    c, w, r = server.client, server.h("writer"), server.h("reader")
    assert c.put("/api/schemas/entity/Person", json={"json_schema": PERSON, "unique": ["name"]},
                 headers=r).status_code == 403  # setting a schema is a commit
    set_ = c.put("/api/schemas/entity/Person", json={"json_schema": PERSON, "unique": ["name"]},
                 headers=w)
    assert set_.status_code == 200 and set_.json()["author"] == "bob"
    assert c.get("/api/schemas", headers=r).json() == [{
        "kind": "entity", "target": "Person", "json_schema": PERSON, "source_types": None,
        "target_types": None, "max_per_source": None, "unique": ["name"]}]
    refused = c.put("/api/entities/ada", json={"type": "Person", "props": {"name": 1, "x": 2}},
                    headers=w)
    assert refused.status_code == 200  # the schema allows other properties and any name
    refused = c.put("/api/entities/bob", json={"type": "Person", "props": {}}, headers=w)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "schema_violation"
    assert error["violations"] == [{"element": "entity", "id": "bob", "path": "",
                                    "rule": "required", "collection": None,
                                    "message": "'name' is a required property"}]
    bad = c.put("/api/schemas/entity/Person", json={"json_schema": {"type": 5}}, headers=w)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_value"
    assert c.put("/api/schemas/table/Person", json={}, headers=w).status_code == 422
    assert c.get("/api/schemas/entity/City", headers=r).status_code == 404
    assert c.delete("/api/schemas/entity/City", headers=w).status_code == 404
    assert c.delete("/api/schemas/entity/Person", headers=w).status_code == 200
    assert c.get("/api/schemas", headers=r).json() == []
