"""POST /api/cypher and /api/cypher/explain: answers at a ref, tagged values, typed errors
(never a 5xx for a bad query), auth."""

from __future__ import annotations

import pytest

pytest.importorskip("graphglot")

from .conftest import Server


def test_answers_at_refs(seeded: Server) -> None:
    c, r = seeded.client, seeded.h("reader")
    query = "MATCH (a)-[k:KNOWS]->(b) RETURN a.name AS who, b, id(k) AS rel"
    got = c.post("/api/cypher", json={"query": query}, headers=r)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["columns"] == ["who", "b", "rel"]
    assert body["rows"] == [[{"value": "Ada Lovelace"},
                             {"entity": {"id": "bob", "type": "Person",
                                         "props": {"name": "Bob"}}},
                             {"value": "k1"}]]
    log = c.get("/api/log", headers=r).json()
    oldest = log[-1]["id"] if isinstance(log, list) else log["commits"][-1]["id"]
    past = c.post("/api/cypher", json={"query": "MATCH (n) RETURN n.name AS n ORDER BY n",
                                       "ref": oldest}, headers=r)
    assert past.json()["rows"] == [[{"value": "Ada"}]]
    params = c.post("/api/cypher", json={"query": "MATCH (n {name: $n}) RETURN count(*) AS c",
                                         "params": {"n": "Bob"}}, headers=r)
    assert params.json()["rows"] == [[{"value": 1}]]
    explain = c.post("/api/cypher/explain", json={"query": query}, headers=r)
    assert explain.status_code == 200 and "rows" in explain.json()["sql"]


@pytest.mark.parametrize(("query", "code"), [
    ("MATCH (n RETURN n", "query_syntax"),
    ("CREATE (n:Person)", "unsupported_query"),
    ("MATCH p = (a)-->(b) RETURN p", "unsupported_query"),
    ("MATCH (n) RETURN m", "query_error"),
    ("MATCH (n) WHERE n.name = $missing RETURN n", "query_error"),
    ("MATCH (n) RETURN n LIMIT -1", "query_syntax"),
    ("MATCH (n) RETURN n LIMIT $k", "query_error"),
    ("MATCH (n) WHERE n.name =~ '(' RETURN n", "query_error"),
])
def test_bad_queries_are_typed_errors(seeded: Server, query: str, code: str) -> None:
    got = seeded.client.post("/api/cypher", json={"query": query}, headers=seeded.h("reader"))
    assert got.status_code == 422, got.text
    assert got.json()["error"]["code"] == code


def test_needs_a_token(seeded: Server) -> None:
    got = seeded.client.post("/api/cypher", json={"query": "MATCH (n) RETURN n"})
    assert got.status_code == 401
