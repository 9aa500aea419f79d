"""The SPARQL 1.1 Protocol at /sparql: GET and POST (form, application/sparql-query), content
negotiation, refs, auth, typed errors, the query deadline, and standard clients (SPARQLWrapper,
rdflib's SPARQLStore) against a real server."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

pyoxigraph = pytest.importorskip("pyoxigraph")
pytest.importorskip("rdflib")

import palimpsest  # noqa: E402
from palimpsest.server import ServerConfig  # noqa: E402

from .conftest import Server, make_server  # noqa: E402

EX = "http://example.org/"
PREFIXES = json.dumps({"ex": EX})
NAMES = "PREFIX ex: <http://example.org/> SELECT ?n WHERE { ?s ex:name ?n } ORDER BY ?n"


def fill(repo: palimpsest.Repository) -> None:
    """Names that are IRIs: what a query means needs no prefixes (docs/rdf.md, Names)."""
    ada, bob, name = EX + "ada", EX + "bob", EX + "name"
    repo.put_entity(ada, type=EX + "Person", props={name: "Ada", EX + "born": 1815})
    repo.tag("v1")
    repo.put_entity(bob, type=EX + "Person", props={name: "Bob"})
    repo.put_relation("k", type=EX + "knows", source=ada, target=bob)


@pytest.fixture
def server(repo_file: palimpsest.Repository) -> Server:
    fill(repo_file)
    return make_server(repo_file)


def names(body: bytes) -> list[str]:
    return [b["n"]["value"] for b in json.loads(body)["results"]["bindings"]]


def test_get_post_form_and_direct_post_agree(server: Server) -> None:
    h = server.h("reader")
    got = server.client.get("/sparql", params={"query": NAMES}, headers=h)
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/sparql-results+json")
    assert names(got.content) == ["Ada", "Bob"]
    form = server.client.post("/sparql", data={"query": NAMES, "ref": "v1"}, headers=h)
    assert names(form.content) == ["Ada"]
    direct = server.client.post("/sparql", params={"ref": "v1"}, content=NAMES.encode(),
                                headers={**h, "Content-Type": "application/sparql-query"})
    assert names(direct.content) == ["Ada"]


@pytest.mark.parametrize(("accept", "media"), [
    ("application/sparql-results+xml", "application/sparql-results+xml"),
    ("text/csv", "text/csv"),
    ("text/tab-separated-values", "text/tab-separated-values"),
    ("text/html, text/csv;q=0.5, application/sparql-results+xml;q=0.9",
     "application/sparql-results+xml"),
    ("*/*", "application/sparql-results+json"),
])
def test_content_negotiation(server: Server, accept: str, media: str) -> None:
    got = server.client.get("/sparql", params={"query": NAMES},
                            headers={**server.h("reader"), "Accept": accept})
    assert got.status_code == 200 and got.headers["content-type"].startswith(media)
    if media == "text/csv":
        assert list(csv.reader(io.StringIO(got.text))) == [["n"], ["Ada"], ["Bob"]]


def test_ask_and_format_parameter(server: Server) -> None:
    ask = "PREFIX ex: <http://example.org/> ASK { ex:ada ex:knows ex:bob }"
    for ref, expected in ((None, True), ("v1", False)):
        got = server.client.get("/sparql", params={"query": ask, "ref": ref, "format": "xml"}
                                if ref else {"query": ask, "format": "xml"},
                                headers=server.h("reader"))
        assert f"<boolean>{str(expected).lower()}</boolean>" in got.text


def test_prefixes_parameter(server: Server) -> None:
    server.repo.put_entity("ex:cy", type="ex:Robot", props={"ex:name": "Cy"})
    got = server.client.get("/sparql", params={"query": "SELECT ?n WHERE { ex:cy ex:name ?n }",
                                               "prefixes": PREFIXES},
                            headers=server.h("reader"))
    assert names(got.content) == ["Cy"]


def test_errors_are_typed(server: Server) -> None:
    h = server.h("reader")
    assert server.client.get("/sparql", params={"query": NAMES}).status_code == 401
    bad = server.client.get("/sparql", params={"query": "SELECT * WHERE {\n ?s ?p }"},
                            headers=h)
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "query_syntax" and error["line"] == 2
    unsupported = server.client.get("/sparql", params={
        "query": "SELECT * WHERE { ?s ?p ?o SERVICE <http://x.org/> { ?s ?p ?o } }"}, headers=h)
    assert unsupported.status_code == 400
    assert unsupported.json()["error"]["code"] == "unsupported_query"
    assert server.client.get("/sparql", headers=h).status_code == 400
    wrong = server.client.post("/sparql", content=b"{}",
                               headers={**h, "Content-Type": "application/json"})
    assert wrong.status_code == 415
    assert server.client.get("/sparql", params={"query": NAMES, "ref": "nope"},
                             headers=h).status_code == 404


def test_queries_honour_the_deadline(repo_file: palimpsest.Repository) -> None:
    fill(repo_file)
    for i in range(30):
        repo_file.put_entity(f"ex:n{i}", type="ex:Node", props={"ex:i": i})
    server = make_server(repo_file, config=ServerConfig(max_query_seconds=0.05))
    heavy = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    got = server.client.get("/sparql", params={"query": heavy}, headers=server.h("reader"))
    assert got.status_code == 422 and got.json()["error"]["code"] == "query_timeout"
    # the server keeps answering
    assert names(server.client.get("/sparql", params={"query": NAMES},
                                   headers=server.h("reader")).content) == ["Ada", "Bob"]


def test_explain_route(server: Server) -> None:
    got = server.client.get("/api/sparql/explain", params={"query": NAMES},
                            headers=server.h("reader"))
    assert got.status_code == 200 and got.json()["sql"].startswith("WITH")


def test_standard_clients(tmp_path: Path) -> None:
    from rdflib import Graph, Literal
    from rdflib.plugins.stores.sparqlstore import SPARQLStore
    from SPARQLWrapper import JSON, SPARQLWrapper

    from .live import running_server

    path = tmp_path / "kg.db"
    with palimpsest.open(str(path)) as repo:
        fill(repo)
    with running_server(path, "--no-auth") as url:
        wrapper = SPARQLWrapper(url + "/sparql")
        wrapper.setQuery(NAMES)
        wrapper.setReturnFormat(JSON)
        result = wrapper.query().convert()
        assert [b["n"]["value"] for b in result["results"]["bindings"]] == ["Ada", "Bob"]
        wrapper.setMethod("POST")
        assert wrapper.query().convert()["results"]["bindings"]  # type: ignore[index]
        graph = Graph(store=SPARQLStore(url + "/sparql", params={"ref": "v1"}))
        assert [row[0] for row in graph.query(NAMES)] == [Literal("Ada")]  # type: ignore[index]


def test_construct_as_ntriples_and_turtle(server: Server) -> None:
    q = ("PREFIX ex: <http://example.org/> CONSTRUCT { ?s ex:label ?n } WHERE { ?s ex:name ?n }")
    h = server.h("reader")
    nt = server.client.get("/sparql", params={"query": q}, headers=h)
    assert nt.headers["content-type"].startswith("application/n-triples")
    triples = list(pyoxigraph.parse(nt.content, pyoxigraph.RdfFormat.N_TRIPLES))
    assert sorted(t.object.value for t in triples) == ["Ada", "Bob"]
    ttl = server.client.get("/sparql", params={"query": q},
                            headers={**h, "Accept": "text/turtle"})
    assert ttl.headers["content-type"].startswith("text/turtle")
    assert len(list(pyoxigraph.parse(ttl.content, pyoxigraph.RdfFormat.TURTLE))) == 2
    described = server.client.get("/sparql", params={
        "query": "DESCRIBE <http://example.org/ada>", "ref": "v1"}, headers=h)
    assert len(list(pyoxigraph.parse(described.content,
                                     pyoxigraph.RdfFormat.N_TRIPLES))) == 3


def test_versions_over_http(server: Server) -> None:
    q = ("PREFIX ex: <http://example.org/> SELECT ?n WHERE { GRAPH <palimpsest:ref/v1> "
         "{ ?s ex:name ?n } }")
    assert names(server.client.get("/sparql", params={"query": q},
                                   headers=server.h("reader")).content) == ["Ada"]


def test_ui_query_page(repo_file: palimpsest.Repository) -> None:
    fill(repo_file)
    ui = make_server(repo_file, no_auth=True).client
    page = ui.get("/ui/sparql", params={"query": NAMES, "ref": "v1"})
    assert page.status_code == 200 and "<td>Ada</td>" in page.text and "Bob" not in page.text
    people = ui.get("/ui/sparql", params={"query": "SELECT ?s WHERE { ?s a ?t }"})
    assert 'href="/ui/entity/http%3A%2F%2Fexample.org%2Fada' in people.text
    bad = ui.get("/ui/sparql", params={"query": "SELECT * WHERE { ?s ?p }"})
    assert bad.status_code == 200 and "Expected" in bad.text
    assert "<textarea" in ui.get("/ui/sparql").text
