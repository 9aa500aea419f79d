"""POST /api/cypher and /api/cypher/explain: answers at a ref, tagged values, typed errors
(never a 5xx for a bad query), auth."""

from __future__ import annotations

import pytest

pytest.importorskip("graphglot")

import palimpsest

from .conftest import Server, make_server


def test_answers_at_refs(seeded: Server) -> None:
    c, r = seeded.client, seeded.h("reader")
    query = "MATCH (a)-[k:KNOWS]->(b) RETURN a.name AS who, b, id(k) AS rel"
    got = c.post("/api/cypher", json={"query": query}, headers=r)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["columns"] == ["who", "b", "rel"]
    assert body["rows"] == [[{"value": "Ada Lovelace"},
                             {"entity": {"id": "bob", "type": "Person",
                                         "props": {"name": "Bob"}, "valid_from": None,
                                         "valid_to": None}},
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


def test_ui_query_page(repo_file: palimpsest.Repository) -> None:
    repo_file.put_entity("ada", type="Person", props={"name": "Ada"})
    repo_file.tag("v1")
    repo_file.put_entity("bob", type="Person", props={"name": "Bob"})
    repo_file.put_relation("k", type="KNOWS", source="ada", target="bob")
    ui = make_server(repo_file, no_auth=True).client
    page = ui.get("/ui/cypher", params={"query": "MATCH (n) RETURN n.name AS name", "ref": "v1"})
    assert page.status_code == 200 and "<td>Ada</td>" in page.text and "Bob" not in page.text
    linked = ui.get("/ui/cypher", params={"query": "MATCH (a)-[k]->(b) RETURN a, k, b"})
    assert 'href="/ui/entity/ada' in linked.text and 'href="/ui/entity/bob' in linked.text
    bad = ui.get("/ui/cypher", params={"query": "MATCH (n RETURN n"})
    assert bad.status_code == 200 and "Expected" in bad.text
    write = ui.get("/ui/cypher", params={"query": "CREATE (n)"})
    assert "transaction" in write.text
    assert "<textarea" in ui.get("/ui/cypher").text
