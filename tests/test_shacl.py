"""SHACL validation of any version (pySHACL), on every backend and face; checked against a
brute-force count on schema.org releases from the shared data set."""

from __future__ import annotations

from pathlib import Path

import pytest

import palimpsest
from palimpsest import InvalidValue, ShaclReport

SCHEMAORG = Path(__file__).resolve().parents[2] / "shared" / "data" / "schemaorg" / "releases"

SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix schema: <http://schema.org/> .
<http://example.org/PropertyShape> a sh:NodeShape ;
    sh:targetClass rdf:Property ;
    sh:property [ sh:path schema:domainIncludes ; sh:minCount 1 ] ;
    sh:property [ sh:path rdfs:comment ; sh:maxCount 1 ] .
"""

PERSON = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<http://example.org/PersonShape> a sh:NodeShape ;
    sh:targetClass <http://example.org/Person> ;
    sh:property [ sh:path <http://example.org/born> ; sh:datatype xsd:integer ;
                  sh:minCount 1 ; sh:message "born must be an integer" ] .
"""


EX = {"": "http://example.org/"}


def test_a_report_for_any_version(repo: palimpsest.Repository) -> None:
    """The graph validated is the one RDF export and SPARQL see (bare names mapped by
    ``prefixes``)."""
    first = repo.put_entity("ada", "Person", {"born": 1815})
    repo.put_entity("bob", "Person", {"born": "1900"})
    report = repo.validate_shacl(PERSON, prefixes=EX)
    assert isinstance(report, ShaclReport) and not report.conforms
    assert report.triples == 4 and report.commit == repo.head().commit.id
    assert [(r.focus, r.path, r.value, r.constraint, r.severity, r.message)
            for r in report.results] == [
        ("<http://example.org/bob>", "<http://example.org/born>", '"1900"',
         "sh:DatatypeConstraintComponent", "Violation", "born must be an integer")]
    assert repo.validate_shacl(PERSON, ref=first.id, prefixes=EX).conforms
    with pytest.raises(InvalidValue):
        repo.validate_shacl("this is not turtle", prefixes=EX)


def _brute_force(repo: palimpsest.Repository, ref: str) -> int:
    """Properties without a domain, plus properties with more than one comment."""
    view = repo.at(ref)
    props = {str(r["s"].value) for r in view.sparql(
        "SELECT ?s WHERE { ?s a <http://www.w3.org/1999/02/22-rdf-syntax-ns#Property> }")}
    with_domain = {str(r["s"].value) for r in view.sparql(
        "SELECT ?s WHERE { ?s <http://schema.org/domainIncludes> ?d }")}
    comments: dict[str, int] = {}
    for r in view.sparql("SELECT ?s ?c WHERE { ?s "
                         "<http://www.w3.org/2000/01/rdf-schema#comment> ?c }"):
        comments[str(r["s"].value)] = comments.get(str(r["s"].value), 0) + 1
    return len(props - with_domain) + sum(1 for p in props if comments.get(p, 0) > 1)


@pytest.mark.skipif(not (SCHEMAORG / "2.0.nt.xz").exists(), reason="needs the schema.org data")
@pytest.mark.needs_embedded("imports release files on the repository's host")
def test_schemaorg_releases_against_brute_force(repo: palimpsest.Repository) -> None:
    from palimpsest.io import import_files

    for version in ("2.0", "3.0", "3.1"):
        import_files(repo, [str(SCHEMAORG / f"{version}.nt.xz")], message=version)
        repo.tag(f"v{version}")
    counts = []
    for version in ("2.0", "3.0", "3.1"):
        report = repo.validate_shacl(SHAPES, ref=f"v{version}")
        assert len(report.results) == _brute_force(repo, f"v{version}"), version
        assert report.conforms == (not report.results)
        assert report.commit == repo.resolve(f"v{version}").id
        counts.append(len(report.results))
    assert counts[0] > 0  # 2.0 has a property without domainIncludes


def test_cli_shacl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from palimpsest.cli import app
    monkeypatch.setenv("PALIMPSEST_REPO", str(tmp_path / "kg.db"))
    repo = palimpsest.open(str(tmp_path / "kg.db"))
    repo.put_entity("bob", "Person", {"born": "1900"})
    repo.close()
    (tmp_path / "shapes.ttl").write_text(PERSON, encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(app, ["shacl", str(tmp_path / "shapes.ttl"), "--json",
                              "--prefix", "=http://example.org/"])
    assert out.exit_code == 1, out.stdout
    assert '"conforms": false' in out.stdout.replace(":false", ": false")
