"""RDF <-> property-graph mapping (palimpsest.io.rdf)."""

from __future__ import annotations

import gzip
import json
import lzma
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ox = pytest.importorskip("pyoxigraph")

from palimpsest.io.rdf import (  # noqa: E402
    MAX_ID_BYTES,
    PLACEHOLDER,
    UNTYPED,
    GraphData,
    RDFSyntaxError,
    parse_rdf,
    serialize_rdf,
)

SCHEMAORG = Path(__file__).resolve().parents[2] / "shared" / "data" / "schemaorg"

TURTLE = """\
@prefix ex: <http://example.org/> .
@prefix schema: <https://schema.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:alice a schema:Person, ex:Agent ;
    schema:name "Alice", "Alicia"@es, "Alice"@en, "Alice" ;
    schema:birthDate "1990-01-02"^^xsd:date ;
    schema:height "1.70"^^xsd:decimal ;
    schema:knows ex:bob, [ schema:name "someone" ] ;
    ex:list ( 1 2 ) ;
    ex:motto "salam"@ar--rtl .
ex:bob a schema:Person ; schema:knows ex:alice .
_:b0 ex:p _:b1 .
"""

NTRIPLES = """\
<https://schema.org/Person> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2000/01/rdf-schema#Class> .
<https://schema.org/Person> <http://www.w3.org/2000/01/rdf-schema#label> "Person" .
<https://schema.org/Person> <http://www.w3.org/2000/01/rdf-schema#label> "Personne"@fr .
<https://schema.org/Person> <http://www.w3.org/2000/01/rdf-schema#comment> "A person \\"alive\\",\\n dead or \\u00E9 fictional\\t." .
<https://schema.org/Person> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <https://schema.org/Thing> .
<http://schema.org/Person> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2000/01/rdf-schema#Class> .
<https://schema.org/Boolean> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://schema.org/DataType> .
<https://schema.org/Boolean> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2000/01/rdf-schema#Class> .
<https://schema.org/Boolean> <https://schema.org/version> "3"^^<http://www.w3.org/2001/XMLSchema#integer> .
<https://schema.org/Boolean> <https://schema.org/version> "10"^^<http://www.w3.org/2001/XMLSchema#integer> .
<https://schema.org/Boolean> <https://schema.org/version> "10" .
_:n1 <https://schema.org/about> <https://schema.org/Person> .
_:n1 <https://schema.org/about> _:n2 .
<urn:isbn:0451450523> <http://www.w3.org/2000/01/rdf-schema#label> "a book" .
<schema:odd> <http://www.w3.org/2000/01/rdf-schema#label> "scheme named like a prefix" .
"""


def triples(data: bytes | str, fmt: str = "nt") -> set[object]:
    """The triple set as pyoxigraph reads it (blank node labels kept)."""
    rdf_format = {"nt": ox.RdfFormat.N_TRIPLES, "ttl": ox.RdfFormat.TURTLE}[fmt]
    return {q.triple for q in ox.parse(data, rdf_format)}


def canonical(data: bytes | str, fmt: str) -> object:
    """A dataset with canonical blank node labels, for comparison up to isomorphism."""
    rdf_format = {"nt": ox.RdfFormat.N_TRIPLES, "ttl": ox.RdfFormat.TURTLE}[fmt]
    dataset = ox.Dataset(ox.parse(data, rdf_format))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return dataset


def nt(graph: GraphData, **kw: object) -> bytes:
    return serialize_rdf(graph.entity_rows(), graph.relation_rows(), **kw)  # type: ignore[arg-type]


def test_turtle_mapping() -> None:
    g = parse_rdf(TURTLE, format="ttl")
    alice_type, alice = g.entities["http://example.org/alice"]
    assert alice_type == "http://example.org/Agent"  # smallest name in code-point order
    assert alice["@types"] == ["http://example.org/Agent", "schema:Person"]
    assert alice["schema:name"] == [
        "Alice",
        {"@value": "Alice", "@language": "en"},
        {"@value": "Alicia", "@language": "es"},
    ]
    assert alice["schema:birthDate"] == {"@value": "1990-01-02", "@type": "xsd:date"}
    assert alice["schema:height"] == {"@value": "1.70", "@type": "xsd:decimal"}
    assert alice["http://example.org/motto"] == {
        "@value": "salam", "@language": "ar", "@direction": "rtl"}
    assert g.entities["http://example.org/bob"] == ("schema:Person", {})
    # anonymous blank nodes are numbered in order of appearance; labels are kept
    assert g.entities["_:anon0"] == (UNTYPED, {"schema:name": "someone"})
    assert g.entities["_:anon1"][1] == {"rdf:first": {"@value": "1", "@type": "xsd:integer"}}
    assert g.entities["_:b0"] == (UNTYPED, {})
    assert g.entities["_:b1"] == (PLACEHOLDER, {})
    assert g.entities["rdf:nil"] == (PLACEHOLDER, {})
    rid = "http://example.org/alice schema:knows http://example.org/bob"
    assert g.relations[rid] == (
        "schema:knows", "http://example.org/alice", "http://example.org/bob", {})
    assert "_:anon1 rdf:rest _:anon2" in g.relations
    for source_target in g.relations.values():  # referential integrity
        assert source_target[1] in g.entities and source_target[2] in g.entities

    out = nt(g)
    assert parse_rdf(out, format="nt") == g
    assert canonical(out, "nt") == canonical(TURTLE, "ttl")
    assert parse_rdf(TURTLE, format="ttl") == g  # anonymous ids are stable


def test_anonymous_ids_skip_labels_in_use() -> None:
    g = parse_rdf("_:anon0 <http://e/p> [ <http://e/q> 'x' ] .", format="ttl")
    assert set(g.entities) == {"_:anon0", "_:anon1"}


def test_ntriples_round_trip_exact() -> None:
    g = parse_rdf(NTRIPLES.encode(), format="nt")
    assert g.entities["schema:Person"][1]["rdfs:label"] == [
        "Person", {"@value": "Personne", "@language": "fr"}]
    assert g.entities["schema:Person"][1]["rdfs:comment"] == (
        'A person "alive",\n dead or \u00e9 fictional\t.')
    # http and https schema.org stay distinct
    assert g.entities["schema_http:Person"] == ("rdfs:Class", {})
    assert g.entities["schema:Person"][0] == "rdfs:Class"
    boolean_type, boolean = g.entities["schema:Boolean"]
    assert boolean_type == "rdfs:Class"
    assert boolean["@types"] == ["rdfs:Class", "schema:DataType"]
    assert boolean["schema:version"] == [
        "10", {"@value": "10", "@type": "xsd:integer"}, {"@value": "3", "@type": "xsd:integer"}]
    assert g.entities["_:n1"] == (UNTYPED, {})
    assert g.entities["_:n2"] == (PLACEHOLDER, {})
    assert g.entities["schema:Thing"] == (PLACEHOLDER, {})
    assert "urn:isbn:0451450523" in g.entities
    assert "<schema:odd>" in g.entities
    out = nt(g)
    assert triples(out) == triples(NTRIPLES)  # exact, blank node labels included
    assert parse_rdf(out) == g
    assert out == nt(parse_rdf(out))  # deterministic output


def test_other_formats_round_trip() -> None:
    g = parse_rdf(NTRIPLES, format="nt")
    for fmt in ("ttl", "nq", "trig", "rdf", "jsonld", "n3", "text/turtle"):
        assert parse_rdf(nt(g, format=fmt), format=fmt) == g, fmt
    turtle = nt(g, format="ttl").decode()
    assert "@prefix schema: <https://schema.org/> ." in turtle
    assert "foaf:" not in turtle  # only prefixes in use are declared


def test_prefixes_and_native_values() -> None:
    prefixes = {"": "http://example.org/kg/", "ex": "http://example.org/vocab/"}
    entities = [
        ("users", "Endpoint", {"path": "GET /users", "count": 3, "ok": True, "ratio": 0.5,
                               "meta": {"b": [1, None], "a": "x"}, "ex:tag": ["b", "a"]}),
        ("User", "Schema", {}),
    ]
    relations: list[tuple[str, str, str, str, dict[str, object]]] = [
        ("users-returns-user", "RETURNS", "users", "User", {})]
    out = serialize_rdf(entities, relations, prefixes=prefixes)
    assert b'<http://example.org/kg/users> <http://example.org/kg/RETURNS> ' \
           b'<http://example.org/kg/User> .' in out
    g = parse_rdf(out, prefixes=prefixes)
    assert g.entities["users"] == ("Endpoint", {
        "count": {"@value": "3", "@type": "xsd:integer"},
        "ex:tag": ["a", "b"],
        "meta": {"@value": '{"a":"x","b":[1,null]}', "@type": "rdf:JSON"},
        "ok": {"@value": "true", "@type": "xsd:boolean"},
        "path": "GET /users",
        "ratio": {"@value": "0.5", "@type": "xsd:double"},
    })
    assert g.relations == {"users RETURNS User": ("RETURNS", "users", "User", {})}
    assert parse_rdf(nt(g, prefixes=prefixes), prefixes=prefixes) == g
    # without the default namespace, bare names stay full IRIs
    assert "http://example.org/kg/users" in parse_rdf(out).entities
    with pytest.raises(ValueError, match="bare names"):
        serialize_rdf(entities, relations)


def test_relation_properties_need_opt_in() -> None:
    entities: list[tuple[str, str, dict[str, object]]] = [
        ("http://e/a", UNTYPED, {}), ("http://e/b", UNTYPED, {})]
    relations = [("r", "http://e/p", "http://e/a", "http://e/b", {"weight": 1})]
    with pytest.raises(ValueError, match="drop_relation_props"):
        serialize_rdf(entities, relations)
    out = serialize_rdf(entities, relations, drop_relation_props=True)
    assert out == b"<http://e/a> <http://e/p> <http://e/b> .\n"


def test_long_iris_get_bounded_ids() -> None:
    long_iri = "http://example.org/" + "x" * 600
    data = f"<{long_iri}> <http://e/p> <{long_iri}/o> .\n<{long_iri}> <http://e/q> \"v\" .\n"
    g = parse_rdf(data, format="nt")
    for ids in (g.entities, g.relations):
        for key in ids:
            assert 0 < len(key.encode()) <= MAX_ID_BYTES
    (subject,) = [e for e, (_, p) in g.entities.items() if p.get("@iri") == long_iri]
    assert g.entities[subject][1]["http://e/q"] == "v"
    (rid,) = g.relations
    assert rid.startswith("~") and g.relations[rid][1] == subject
    out = nt(g)
    assert triples(out) == triples(data)
    assert parse_rdf(out) == g


def test_long_types_and_predicates_are_shortened() -> None:
    long_name = "http://example.org/" + "y" * 600
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    data = f"<http://e/a> <{rdf_type}> <{long_name}> .\n<http://e/a> <{long_name}> <http://e/b> .\n"
    g = parse_rdf(data, format="nt")
    etype, props = g.entities["http://e/a"]
    assert len(etype.encode()) <= MAX_ID_BYTES and props["@types"] == [long_name]
    ((rtype, _, _, rprops),) = g.relations.values()
    assert len(rtype.encode()) <= MAX_ID_BYTES and rprops == {"@iri": long_name}
    out = nt(g)
    assert triples(out) == triples(data)
    assert parse_rdf(out) == g


def test_syntax_error_reports_line_and_column(tmp_path: Path) -> None:
    bad = NTRIPLES.splitlines()
    bad[2] = "<https://schema.org/Person> <http://e/p> oops ."
    with pytest.raises(RDFSyntaxError) as info:
        parse_rdf("\n".join(bad), format="nt")
    assert isinstance(info.value, ValueError)
    assert (info.value.line, info.value.column) == (3, 42)
    assert "object" in info.value.reason
    path = tmp_path / "broken.ttl.xz"
    path.write_bytes(lzma.compress(b"@prefix ex: <http://e/> .\nex:a ex:b ex:c .\nex:a ex:b .\n"))
    with pytest.raises(RDFSyntaxError, match=r"^broken\.ttl\.xz:3:") as info:
        parse_rdf(path)
    assert info.value.line == 3 and info.value.source == "broken.ttl.xz"


def test_skip_invalid_counts_skipped_statements() -> None:
    lines = NTRIPLES.splitlines()
    lines[1] = '<https://schema.org/Person> <http://e/p> "unterminated .'
    lines[4] = "<https://schema.org/Person> not-an-iri <http://e/o> ."
    g = parse_rdf("\n".join(lines), format="nt", skip_invalid=True)
    assert g.skipped == 2 and [e.line for e in g.errors] == [2, 5]
    good = "\n".join(line for i, line in enumerate(lines) if i not in (1, 4))
    assert g == parse_rdf(good, format="nt")
    # other formats: the parser's own recovery (best effort, see docs/rdf.md)
    ttl = parse_rdf("@prefix ex: <http://e/> .\nex:a ex:b oops .\nex:a ex:q 'y' .\n",
                    format="ttl", skip_invalid=True)
    assert ttl.skipped == 1 and ttl.errors[0].line == 2 and not ttl.relations
    assert ttl.entities["http://e/a"] == (UNTYPED, {"http://e/q": "y"})


def test_named_graphs_and_unknown_formats_are_rejected() -> None:
    with pytest.raises(RDFSyntaxError, match="Named graphs"):
        parse_rdf("<http://a> <http://b> <http://c> <http://g> .", format="nq")
    with pytest.raises(ValueError, match="unknown RDF format"):
        parse_rdf("", format="xlsx")


def test_compressed_inputs_and_format_from_name(tmp_path: Path) -> None:
    expected = parse_rdf(TURTLE, format="ttl")
    (tmp_path / "g.ttl.xz").write_bytes(lzma.compress(TURTLE.encode()))
    (tmp_path / "g.ttl.gz").write_bytes(gzip.compress(TURTLE.encode()))
    (tmp_path / "g.ttl").write_text(TURTLE)
    for name in ("g.ttl.xz", "g.ttl.gz", "g.ttl"):
        assert parse_rdf(tmp_path / name) == expected
    assert parse_rdf(lzma.compress(TURTLE.encode())) == expected  # sniffed as Turtle


def schemaorg_release(version: str) -> Path:
    path = SCHEMAORG / "releases" / f"{version}.nt.xz"
    if not path.exists():
        pytest.skip(f"shared schema.org data not found at <repo>/../shared/data/schemaorg ({path.name})")
    return path


@pytest.mark.parametrize("version", ["7.0", "30.0"])
def test_schemaorg_release_round_trip(version: str) -> None:
    path = schemaorg_release(version)
    manifest = json.loads((SCHEMAORG / "manifest.json").read_text())
    releases = manifest["releases"] if isinstance(manifest, dict) else manifest
    info = next(r for r in releases if r["version"] == version)
    raw = lzma.decompress(path.read_bytes())
    g = parse_rdf(path)
    prefix = "schema_http:" if version == "7.0" else "schema:"
    assert g.entities[prefix + "Person"][0] == "rdfs:Class"
    assert not any(e.startswith("http://schema.org/") or e.startswith("https://schema.org/")
                   for e in g.entities)
    subjects = [e for e, (t, _) in g.entities.items() if t != PLACEHOLDER]
    assert len(subjects) == info["subjects"]
    for ids in (g.entities, g.relations):
        for key in ids:
            assert key and len(key.encode()) <= MAX_ID_BYTES
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key)
    for _, source, target, _ in g.relations.values():
        assert source in g.entities and target in g.entities
    out = nt(g)
    assert triples(out) == triples(raw)
    assert len(out.splitlines()) == info["triples"]
    assert parse_rdf(out, format="nt") == g


IRI_STARTS = ["https://schema.org/", "http://schema.org/", "schema:", "rdf:", "urn:x:",
              "http://www.w3.org/2001/XMLSchema#", "http://example.org/kg/", "http://e/"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(IRI_STARTS), st.text("ab:_.-", max_size=6),
                          st.sampled_from(IRI_STARTS), st.text("ab:_", max_size=4),
                          st.one_of(st.text(max_size=5), st.sampled_from(IRI_STARTS))),
                min_size=1, max_size=12))
def test_random_graphs_round_trip(rows: list[tuple[str, str, str, str, str]]) -> None:
    lines = []
    for s_ns, s_local, p_ns, p_local, obj in rows:
        escaped = obj.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        o = f"<{obj}x>" if obj in IRI_STARTS else '"' + escaped.replace("\r", "\\r") + '"'
        lines.append(f"<{s_ns}{s_local}> <{p_ns}{p_local}> {o} .")
    data = "\n".join(lines)
    for prefixes in (None, {"": "http://example.org/kg/", "e": "http://e/"}):
        g = parse_rdf(data, format="nt", prefixes=prefixes)
        out = nt(g, prefixes=prefixes)
        assert triples(out) == triples(data)
        assert parse_rdf(out, prefixes=prefixes) == g
