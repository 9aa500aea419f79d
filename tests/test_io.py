"""Import and export formats: JSON, JSON Lines, CSV, RDF, NetworkX, the history archive."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import palimpsest
from palimpsest.io import (
    Snapshot,
    detect_format,
    export_files,
    from_networkx,
    import_files,
    import_graph,
    read_snapshot,
    to_networkx,
)
from palimpsest.io.csv import entities_csv, relations_csv

ODD_VALUES = {
    "text": "plain", "number_text": "42", "empty": "", "quoted": '"q"', "int": 7,
    "float": 2.5, "bool": False, "null": None, "list": [1, "two", {"three": 3}],
    "nested": {"a": {"b": [True]}}, "unicode": "café ☕", "comma, name": "x,y\nz",
}


def sample(repo: palimpsest.Repository) -> palimpsest.Commit:
    with repo.transaction("sample", author="ada@example.com") as tx:
        tx.put_entity("ada", "Person", ODD_VALUES)
        tx.put_entity("bob", "Person", {"name": "Bob", "id": "not the id", "type": "nor type"})
        tx.put_entity("x:1", "Thing")
        tx.put_relation("r1", "KNOWS", "ada", "bob", {"since": 1833, "source": "letters"})
        tx.put_relation("r2", "OWNS", "bob", "x:1")
        tx.put_document("notes", "n1", {"text": "hello"})
    assert tx.commit is not None
    return tx.commit


def graph_state(repo: palimpsest.Repository, ref: str | None = None) -> dict[str, object]:
    state = repo.at(ref).to_dict()
    return {"entities": state["entities"], "relations": state["relations"]}


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_snapshot_formats_round_trip(repo: palimpsest.Repository, tmp_path: Path,
                                     fmt: str) -> None:
    sample(repo)
    target = tmp_path / ("out" if fmt == "csv" else f"graph.{fmt}")
    result = export_files(repo, target, format=fmt)
    assert result.count >= 5
    other = palimpsest.open(":memory:")
    imported = import_files(other, [target])
    assert imported.stats.entities_created == 3 and imported.stats.relations_created == 2
    assert graph_state(other) == graph_state(repo)
    if fmt != "csv":  # CSV carries no documents
        assert other.head().document("notes", "n1") is not None


def test_csv_cells_read_back_exactly() -> None:
    snap = Snapshot({"a": ("T", dict(ODD_VALUES))}, {"r": ("R", "a", "a", {"w": "1.0"})})
    import io

    from palimpsest.io.csv import read_csv
    back = read_csv(io.StringIO(entities_csv(snap)))
    read_csv(io.StringIO(relations_csv(snap)), into=back)
    assert back.entities == snap.entities and back.relations == snap.relations


def test_csv_relation_id_defaults_to_triple(tmp_path: Path) -> None:
    path = tmp_path / "rels.csv"
    path.write_text("type,source,target,weight\nKNOWS,a,b,3\n")
    snap = read_snapshot(path)
    assert snap.relations == {"a KNOWS b": ("KNOWS", "a", "b", {"weight": 3})}


@pytest.mark.parametrize("fmt", ["nt", "ttl", "rdf", "jsonld"])
def test_rdf_export_and_reimport_give_the_same_graph(tmp_path: Path, fmt: str) -> None:
    source = tmp_path / "in.ttl"
    source.write_text("""
        @prefix ex: <http://example.org/> .
        @prefix schema: <https://schema.org/> .
        @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
        ex:ada a schema:Person ; schema:name "Ada", "Ada L."@en ;
            schema:birthDate "1815-12-10"^^xsd:date ; schema:knows ex:bob .
        ex:bob a schema:Person ; schema:name "Bob" .
    """)
    repo = palimpsest.open(":memory:")
    import_files(repo, [source])
    out = tmp_path / f"out.{fmt}"
    export_files(repo, out)
    other = palimpsest.open(":memory:")
    import_files(other, [out])
    assert graph_state(other) == graph_state(repo)
    ada = repo.head().entity("http://example.org/ada")
    assert ada is not None and ada.type == "schema:Person"
    assert ada.props["schema:name"] == ["Ada", {"@language": "en", "@value": "Ada L."}]


def test_rdf_export_refuses_relation_properties(repo: palimpsest.Repository,
                                                 tmp_path: Path) -> None:
    with repo.transaction("people") as tx:
        tx.put_entity("ada", "Person", {"name": "Ada"})
        tx.put_entity("bob", "Person")
        tx.put_relation("r1", "KNOWS", "ada", "bob", {"since": 1833})
    with pytest.raises(palimpsest.InvalidValue, match="relation"):
        export_files(repo, tmp_path / "x.nt", prefixes={"": "http://example.org/"})
    result = export_files(repo, tmp_path / "x.nt", prefixes={"": "http://example.org/"},
                          drop_relation_props=True)
    assert result.count == 3
    assert b"<http://example.org/ada> <http://example.org/KNOWS> <http://example.org/bob>" in \
        (tmp_path / "x.nt").read_bytes()


def test_networkx_round_trip(repo: palimpsest.Repository) -> None:
    sample(repo)
    graph = to_networkx(repo.head(), type_attr="@type")
    assert graph.number_of_nodes() == 3 and graph.number_of_edges() == 2
    assert graph.nodes["ada"]["int"] == 7
    assert graph.edges["ada", "bob", "r1"]["since"] == 1833
    back = from_networkx(graph, type_attr="@type")
    other = palimpsest.open(":memory:")
    import_graph(other, back)
    assert graph_state(other) == graph_state(repo)


def test_from_plain_networkx_graph() -> None:
    import networkx as nx
    graph = nx.Graph()
    graph.add_node(1, type="City", name="Lyon")
    graph.add_edge(1, 2, type="ROAD", km=470)
    snap = from_networkx(graph)
    assert snap.entities == {"1": ("City", {"name": "Lyon"}), "2": ("Node", {})}
    assert snap.relations == {"1 ROAD 2": ("ROAD", "1", "2", {"km": 470})}


def test_to_networkx_refuses_a_type_property(repo: palimpsest.Repository) -> None:
    sample(repo)  # bob has a property called "type"
    with pytest.raises(palimpsest.InvalidValue, match="type_attr"):
        to_networkx(repo.head())


@pytest.mark.needs_embedded("exports an archive, which is written on the host")
def test_history_archive_round_trip(repo: palimpsest.Repository, tmp_path: Path) -> None:
    sample(repo)
    repo.put_entity("carl", "Person", message="more")
    repo.tag("v1")
    path = tmp_path / "history.archive.jsonl"
    result = export_files(repo, path)
    assert result.format == "archive"
    assert detect_format(path) == "archive"
    other = palimpsest.open(":memory:")
    loaded = import_files(other, [path])
    assert loaded.mode == "archive"
    assert [c.id for c in other.log(limit=None)] == [c.id for c in repo.log(limit=None)]
    assert other.resolve("v1").id == repo.resolve("v1").id


@pytest.mark.needs_embedded("exports an archive, which is written on the host")
def test_archive_needs_an_empty_repository(repo: palimpsest.Repository, tmp_path: Path) -> None:
    sample(repo)
    path = tmp_path / "h.jsonl"
    export_files(repo, path, format="archive")
    with pytest.raises(palimpsest.InvalidValue, match="empty"):
        import_files(repo, [path])


@pytest.mark.parametrize("name, expected", [
    ("a.nt", "nt"), ("a.nt.xz", "nt"), ("b.ttl.gz", "ttl"), ("c.jsonl", "jsonl"),
    ("d.json", "json"), ("e.csv", "csv"), ("f.owl", "rdf"), ("g.jsonld", "jsonld"),
])
def test_detect_format(name: str, expected: str) -> None:
    assert detect_format(name) == expected


def test_unknown_extension_asks_for_format() -> None:
    with pytest.raises(palimpsest.InvalidValue, match="--format"):
        detect_format("data.bin")


def test_bad_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text('{"kind": "entity", "id": "a", "type": "T"}\n\n{"kind": "entity", "id": '
                    '"b"\n{"kind": "relation", "id": "r", "type": "R", "source": "a"}\n')
    with pytest.raises(palimpsest.InvalidInput) as info:
        read_snapshot(path)
    assert (info.value.source, info.value.line) == ("g.jsonl", 3)
    assert str(info.value).startswith("g.jsonl:3: not JSON")
    snap = read_snapshot(path, skip_invalid=True)
    assert snap.skipped == 2 and list(snap.entities) == ["a"]
    assert snap.errors[1].line == 4 and "target" in snap.errors[1].reason


def test_bad_csv_row_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("id,type,name\na,T,x\nb,T\n,T,y\n")
    with pytest.raises(palimpsest.InvalidInput) as info:
        read_snapshot(path)
    assert (info.value.source, info.value.line) == ("e.csv", 3)
    snap = read_snapshot(path, skip_invalid=True)
    assert snap.skipped == 2 and list(snap.entities) == ["a"]


@pytest.mark.needs_embedded("import_files writes through an embedded repository")
def test_bad_ntriples_line_and_nothing_committed(repo: palimpsest.Repository,
                                                 tmp_path: Path) -> None:
    path = tmp_path / "x.nt.gz"
    path.write_bytes(gzip.compress(b'<http://e/a> <http://e/p> "ok" .\n'
                                   b'<http://e/b> <http://e/p> oops .\n'))
    with pytest.raises(palimpsest.InvalidInput) as info:
        import_files(repo, [path])
    assert info.value.source == "x.nt.gz" and info.value.line == 2
    assert repo.log(limit=None) == []
    result = import_files(repo, [path], skip_invalid=True)
    assert result.skipped == 1 and repo.head().count() == 1


def test_bad_json_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text('{\n  "entities": {\n    "a": {"type": "T",}\n  }\n}\n')
    with pytest.raises(palimpsest.InvalidInput) as info:
        read_snapshot(path)
    assert info.value.line == 3


@pytest.mark.needs_embedded("import_files writes through an embedded repository")
def test_several_files_make_one_commit(repo: palimpsest.Repository, tmp_path: Path) -> None:
    ents, rels = tmp_path / "entities.csv", tmp_path / "relations.csv"
    ents.write_text("id,type,name\na,T,A\nb,T,B\n")
    rels.write_text("id,type,source,target\nr,R,a,b\n")
    result = import_files(repo, [ents, rels], message="csv")
    assert len(repo.log(limit=None)) == 1 and result.stats.total == 3
    again = import_files(repo, [tmp_path])  # the directory holding both files
    assert again.stats.total == 0 and again.unchanged == 3
