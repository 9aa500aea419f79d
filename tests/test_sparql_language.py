"""SPARQL beyond basic patterns: MINUS, FILTER (NOT) EXISTS, subqueries, property paths,
CONSTRUCT and DESCRIBE, each checked against pyoxigraph on the exported RDF (random graphs and
random queries), on every backend."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

pyoxigraph = pytest.importorskip("pyoxigraph")
pytest.importorskip("rdflib")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import palimpsest  # noqa: E402
from palimpsest.errors import UnsupportedQuery  # noqa: E402
from palimpsest.io import render  # noqa: E402
from test_sparql import (  # noqa: E402
    HEADER,
    PREFIXES,
    build,
    check,
    norm,
    random_bgp,
    random_filter,
)

PATHS = ["ex:r0", "ex:r1", "^ex:r0", "ex:r0/ex:r1", "ex:r0|ex:r1", "ex:r0+", "ex:r0*",
         "ex:r1?", "(ex:r0|^ex:r1)+", "ex:r0/ex:p0", "(ex:r0/ex:r1)*", "!ex:r0",
         "ex:r0*/ex:p1", "^ex:r1/ex:r0+", "!(ex:r0|ex:r1)"]


def random_path_triple(rng: random.Random) -> str:
    s = rng.choice(["?a", "?a", "ex:e0", "ex:e1"])
    o = rng.choice(["?b", "?b", "?a", "ex:e2", "ex:e1"])
    return f"{s} {rng.choice(PATHS)} {o}"


def random_group(rng: random.Random, depth: int = 0) -> str:
    """A group graph pattern using the constructs under test."""
    parts = [random_bgp(rng) if rng.random() < 0.6 else random_path_triple(rng)]
    roll = rng.random()
    if roll < 0.2:
        parts.append(f"MINUS {{ {random_bgp(rng)} }}")
    elif roll < 0.4:
        inner = random_bgp(rng)
        if rng.random() < 0.3:
            inner += f" FILTER({random_filter(rng)})"
        parts.append(f"FILTER({rng.choice(['', 'NOT '])}EXISTS {{ {inner} }})")
    elif roll < 0.55 and depth == 0:
        var = rng.choice(["?a", "?o", "?b"])
        sub = f"SELECT {'DISTINCT ' if rng.random() < 0.5 else ''}* WHERE {{ {random_group(rng, 1)} }}"
        if rng.random() < 0.4:
            sub = f"SELECT {var} (COUNT(*) AS ?n) WHERE {{ {random_group(rng, 1)} }} GROUP BY {var}"
        parts.append(f"{{ {sub} }}")
    elif roll < 0.75:
        parts.append(random_path_triple(rng))
    if rng.random() < 0.2:
        parts.append(f"OPTIONAL {{ {random_path_triple(rng)} }}")
    return " . ".join(p for p in parts if p)


def random_query(rng: random.Random) -> str:
    body = random_group(rng)
    if rng.random() < 0.15:
        return HEADER + f"ASK {{ {body} }}"
    return HEADER + f"SELECT {'DISTINCT ' if rng.random() < 0.3 else ''}* WHERE {{ {body} }}"


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(graph=st.integers(0, 10**6), query=st.integers(0, 10**6))
def test_answers_equal_pyoxigraph(graph: int, query: int) -> None:
    repo = palimpsest.open(":memory:")
    check(repo, build(repo, graph), random_query(random.Random(query)))


@pytest.mark.parametrize("seed", range(3))
def test_answers_equal_pyoxigraph_on_every_backend(repo: palimpsest.Repository,
                                                   seed: int) -> None:
    commits = build(repo, seed)
    rng = random.Random(seed)
    for _ in range(10):
        check(repo, commits, random_query(rng))


@pytest.mark.parametrize("path", PATHS)
def test_each_path_on_a_cyclic_graph(repo: palimpsest.Repository, path: str) -> None:
    with repo.transaction() as tx:
        for i in range(5):
            tx.put_entity(f"ex:e{i}", type="ex:A", props={"ex:p0": i, "ex:p1": "x"})
        for i, j, t in [(0, 1, "ex:r0"), (1, 2, "ex:r0"), (2, 0, "ex:r0"), (2, 3, "ex:r1"),
                        (3, 4, "ex:r0"), (4, 4, "ex:r1"), (1, 3, "ex:r1")]:
            tx.put_relation(f"{i}-{j}-{t}", type=t, source=f"ex:e{i}", target=f"ex:e{j}")
    commits = [repo.head().commit.id]  # type: ignore[union-attr]
    for s, o in [("?a", "?b"), ("ex:e0", "?b"), ("?a", "ex:e3"), ("?a", "?a"),
                 ("ex:e0", "ex:e4"), ("ex:nowhere", "?b")]:
        check(repo, commits, HEADER + f"SELECT * WHERE {{ {s} {path} {o} }}")


def reference_graph(repo: palimpsest.Repository, ref: str, query: str) -> set[Any]:
    data, _ = render(repo, ref, "nt", prefixes=PREFIXES)
    store = pyoxigraph.Store()
    store.load(data, pyoxigraph.RdfFormat.N_TRIPLES)
    return {normed(t) for t in store.query(query)}  # type: ignore[union-attr]


def normed(triple: Any) -> tuple[Any, ...]:
    """A triple with numbers compared by value (as in test_sparql)."""
    return tuple(norm(t) for t in (triple.subject, triple.predicate, triple.object))


TEMPLATES = ["?a ex:q ?b", "?a ex:q ?b . ?b ex:r ?a", "?b ex:q \"c\"", "?a a ex:Z",
             "ex:e0 ex:q ?b", "?b ?p ?a"]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(graph=st.integers(0, 10**6), query=st.integers(0, 10**6))
def test_construct_and_describe_equal_pyoxigraph(graph: int, query: int) -> None:
    repo = palimpsest.open(":memory:")
    commits = build(repo, graph)
    rng = random.Random(query)
    body = random_group(rng).replace("?o", "?b")
    queries = [HEADER + f"CONSTRUCT {{ {rng.choice(TEMPLATES)} }} WHERE {{ {body} }}",
               HEADER + f"CONSTRUCT WHERE {{ {rng.choice(TEMPLATES)} }}",  # the short form
               HEADER + f"DESCRIBE ?a WHERE {{ {body} }}",
               HEADER + f"DESCRIBE {rng.choice(['ex:e0', 'ex:e1 ex:e2', 'ex:nothing'])}"]
    for q in queries:
        for ref in commits:
            got = repo.sparql(q, ref=ref, prefixes=PREFIXES)
            assert {normed(t) for t in got} == reference_graph(repo, ref, q), q
            assert len(got) == len(set(got))


def test_construct_blank_nodes_and_serialization(repo: palimpsest.Repository) -> None:
    repo.put_entity("ex:ada", type="ex:Person", props={"ex:name": "Ada"})
    repo.put_entity("ex:bob", type="ex:Person", props={"ex:name": "Bob"})
    q = HEADER + ("CONSTRUCT { ?s ex:card [ ex:label ?n ] } WHERE { ?s ex:name ?n } "
                  "ORDER BY ?n LIMIT 1")
    triples = repo.sparql(q, prefixes=PREFIXES)
    assert len(triples) == 2
    blanks = {t.object for t in triples if t.predicate.value.endswith("card")}
    assert len(blanks) == 1 and {t.subject for t in triples} >= blanks
    nt = triples.serialize("nt")
    assert len(list(pyoxigraph.parse(nt, pyoxigraph.RdfFormat.N_TRIPLES))) == 2
    ttl = triples.serialize("ttl", prefixes=PREFIXES)
    assert b"@prefix ex:" in ttl


def test_subquery_limits_apply_inside(repo: palimpsest.Repository) -> None:
    for i in range(5):
        repo.put_entity(f"ex:e{i}", type="ex:A", props={"ex:p0": i})
    q = HEADER + ("SELECT ?s ?v WHERE { { SELECT ?s WHERE { ?s ex:p0 ?x } ORDER BY DESC(?x) "
                  "LIMIT 2 } ?s ex:p0 ?v } ORDER BY ?v")
    got = repo.sparql(q, prefixes=PREFIXES)
    assert [r["v"].value for r in got] == ["3", "4"]


def test_still_unsupported_constructs_are_named(repo: palimpsest.Repository) -> None:
    cases = {
        "SELECT * WHERE { SERVICE <http://x.org/s> { ?s ?p ?o } }": "SERVICE",
        "SELECT (GROUP_CONCAT(?o) AS ?n) WHERE { ?s ?p ?o }": "GROUP_CONCAT",
        "SELECT * FROM <http://x.org/g> WHERE { ?s ?p ?o }": "FROM",
        "SELECT * WHERE { ?s !(ex:a|^ex:b) ?o }": "negated inverse path",
    }
    for query, construct in cases.items():
        with pytest.raises(UnsupportedQuery) as info:
            repo.sparql(HEADER + query, prefixes=PREFIXES)
        assert info.value.construct == construct, query


# -- versions inside a query: GRAPH <palimpsest:ref/NAME> ---------------------------------------
def versioned_store(repo: palimpsest.Repository, ref: str, names: list[str]) -> Any:
    """pyoxigraph with the export at ``ref`` as default graph and each named ref's export as
    the named graph ``palimpsest:ref/NAME``."""
    store = pyoxigraph.Store()
    store.load(render(repo, ref, "nt", prefixes=PREFIXES)[0], pyoxigraph.RdfFormat.N_TRIPLES)
    for name in names:
        store.load(render(repo, name, "nt", prefixes=PREFIXES)[0],
                   pyoxigraph.RdfFormat.N_TRIPLES,
                   to_graph=pyoxigraph.NamedNode(f"palimpsest:ref/{name}"))
    return store


def random_versions_query(rng: random.Random, names: list[str]) -> str:
    a, b = rng.choice(names), rng.choice(names)
    pat = random_bgp(rng)
    roll = rng.random()
    if roll < 0.3:  # true at a, no longer true here
        body = f"GRAPH <palimpsest:ref/{a}> {{ {pat} }} FILTER NOT EXISTS {{ {pat} }}"
    elif roll < 0.55:  # the same pattern at two versions
        body = f"GRAPH <palimpsest:ref/{a}> {{ {pat} }} GRAPH <palimpsest:ref/{b}> {{ {pat} }}"
    elif roll < 0.8:  # which versions hold it
        body = f"GRAPH ?g {{ {pat} }}"
    else:  # added between a and b
        body = (f"GRAPH <palimpsest:ref/{b}> {{ {pat} }} MINUS {{ GRAPH <palimpsest:ref/{a}> "
                f"{{ {pat} }} }}")
    return HEADER + f"SELECT * WHERE {{ {body} }}"


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(graph=st.integers(0, 10**6), query=st.integers(0, 10**6))
def test_versions_inside_a_query_equal_pyoxigraph_named_graphs(graph: int, query: int) -> None:
    repo = palimpsest.open(":memory:")
    commits = build(repo, graph)
    names = ["main"]
    for i, commit in enumerate(commits):
        repo.tag(f"c{i}", commit)
        names.append(f"c{i}")
    rng = random.Random(query)
    for _ in range(3):
        q = random_versions_query(rng, names)
        ref = rng.choice(commits)
        store = versioned_store(repo, ref, names)
        expected = Counter(frozenset((v.value, norm(s[v])) for v in store.query(q).variables
                                     if s[v] is not None) for s in store.query(q))
        got = repo.sparql(q, ref=ref, prefixes=PREFIXES)
        assert Counter(frozenset((v, norm(s[v])) for v in got.variables if s[v] is not None)
                       for s in got) == expected, q


def test_graph_names_and_unknown_graphs(repo: palimpsest.Repository) -> None:
    repo.put_entity("ex:bob", type="ex:Person", props={"ex:name": "Bob"})
    repo.tag("v1")
    repo.put_entity("ex:bob", type="ex:Person", props={"ex:name": "Robert"})
    got = repo.sparql(HEADER + "SELECT ?g ?n WHERE { GRAPH ?g { ex:bob ex:name ?n } } "
                      "ORDER BY ?g", prefixes=PREFIXES)
    assert [(r["g"].value, r["n"].value) for r in got] == [
        ("palimpsest:ref/main", "Robert"), ("palimpsest:ref/v1", "Bob")]
    was = repo.sparql(HEADER + "SELECT ?n WHERE { GRAPH <palimpsest:ref/main~1> "
                      "{ ex:bob ex:name ?n } }", prefixes=PREFIXES)
    assert [r["n"].value for r in was] == ["Bob"]
    none = repo.sparql(HEADER + "SELECT * WHERE { GRAPH <http://example.org/g> { ?s ?p ?o } }",
                       prefixes=PREFIXES)
    assert list(none) == []
    from palimpsest.errors import RefNotFound
    with pytest.raises(RefNotFound):
        repo.sparql("SELECT * WHERE { GRAPH <palimpsest:ref/nope> { ?s ?p ?o } }")
