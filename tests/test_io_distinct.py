"""Imports never merge distinct things silently: every node, edge, row or record becomes its
own element, or the import fails with a clear error; NetworkX graph attributes survive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest import InvalidInput, InvalidValue
from palimpsest.io import from_networkx, import_graph, to_networkx
from palimpsest.io.files import import_files
from palimpsest.io.snapshot import GRAPH_ATTRS


def test_node_ids_1_and_string_1_are_not_merged() -> None:
    graph = nx.Graph()
    graph.add_node(1, type="A")
    graph.add_node("1", type="B")
    with pytest.raises(InvalidValue, match=r"nodes 1 and '1' would both become entity '1'"):
        from_networkx(graph)


def test_a_multigraph_key_reused_on_other_nodes_is_refused() -> None:
    graph = nx.MultiDiGraph()
    graph.add_edge("a", "b", key="k", type="R")
    graph.add_edge("c", "d", key="k", type="R")
    with pytest.raises(InvalidValue, match=r"would both become relation 'k'.*unique"):
        from_networkx(graph)


def test_colliding_generated_edge_ids_are_refused() -> None:
    graph = nx.DiGraph()
    graph.add_edge("a EDGE b", "c")
    graph.add_edge("a", "b EDGE c")  # both would be "a EDGE b EDGE c"
    with pytest.raises(InvalidValue, match=r"'a EDGE b EDGE c'.*string keys"):
        from_networkx(graph)
    # a string key equal to another edge's generated id
    multi = nx.MultiDiGraph()
    multi.add_edge("x", "y", key=0, type="R")
    multi.add_edge("p", "q", key="x R y", type="R")
    with pytest.raises(InvalidValue, match="'x R y'"):
        from_networkx(multi)


def test_parallel_edges_and_integer_nodes_keep_their_counts() -> None:
    graph = nx.MultiGraph()
    graph.add_edge(1, 2, type="ROAD", km=470)
    graph.add_edge(1, 2, type="ROAD", km=480)
    graph.add_edge(2, 3)
    snap = from_networkx(graph)
    assert len(snap.entities) == 3 and len(snap.relations) == 3
    repo = palimpsest.open(":memory:")
    import_graph(repo, snap)
    assert len(list(repo.head().entities())) == 3
    assert len(list(repo.head().relations())) == 3


def test_graph_attributes_survive_a_round_trip() -> None:
    repo = palimpsest.open(":memory:")
    graph = nx.MultiDiGraph(name="roads", meta={"version": 2, "tags": ["a", "b"]})
    graph.add_edge("lyon", "paris", key="r1", type="ROAD", km=470)
    for node in graph.nodes:
        graph.nodes[node]["type"] = "City"
    import_graph(repo, from_networkx(graph))
    assert repo.head().document(*GRAPH_ATTRS).value == graph.graph
    back = to_networkx(repo.head())
    assert back.graph == graph.graph
    assert nx.utils.graphs_equal(back, graph)
    # merge mode merges the attributes; replace mode replaces them (empty: removed)
    import_graph(repo, from_networkx(nx.MultiDiGraph(extra=1)), mode="merge")
    assert to_networkx(repo.head()).graph == {**graph.graph, "extra": 1}
    plain = nx.MultiDiGraph(back)
    plain.graph.clear()
    import_graph(repo, from_networkx(plain))
    assert repo.head().document(*GRAPH_ATTRS) is None and to_networkx(repo.head()).graph == {}
    with pytest.raises(InvalidValue):
        import_graph(repo, from_networkx(nx.Graph(bad={1, 2})))


def test_csv_rows_never_collapse(tmp_path: Path) -> None:
    repo = palimpsest.open(":memory:")
    folder = tmp_path / "g"
    folder.mkdir()
    (folder / "entities.csv").write_text("id,type\nlyon,City\nparis,City\n")
    (folder / "relations.csv").write_text("type,source,target,km\nROAD,lyon,paris,470\n"
                                          "ROAD,lyon,paris,480\n")
    with pytest.raises(InvalidInput,
                       match=r"relations.csv:3: .*used twice \(first on line 2\).*id column"):
        import_files(repo, [folder])
    result = import_files(repo, [folder], skip_invalid=True)
    assert result.skipped == 1
    (folder / "entities.csv").write_text("id,type\nlyon,City\nlyon,Town\nparis,City\n")
    (folder / "relations.csv").write_text("id,type,source,target\nr1,ROAD,lyon,paris\n")
    with pytest.raises(InvalidInput, match="entity id 'lyon' is used twice"):
        import_files(repo, [folder])


def test_jsonl_records_never_collapse(tmp_path: Path) -> None:
    repo = palimpsest.open(":memory:")
    path = tmp_path / "g.jsonl"
    path.write_text('{"kind":"entity","id":"a","type":"T"}\n'
                    '{"kind":"entity","id":"a","type":"U"}\n')
    with pytest.raises(InvalidInput, match=r"g\.jsonl:2: .*used twice"):
        import_files(repo, [path])
    path.write_text('{"kind":"document","collection":"c","key":"k","value":1}\n'
                    '{"kind":"document","collection":"c","key":"k","value":2}\n')
    with pytest.raises(InvalidInput, match="appears twice"):
        import_files(repo, [path])


def test_rdf_iris_that_look_alike_stay_distinct() -> None:
    from palimpsest.io.rdf import parse_rdf
    data = ("<http://example.org/a> <http://example.org/p> \"1\" .\n"
            "<ex:a> <http://example.org/p> \"2\" .\n")
    graph = parse_rdf(data.encode(), format="nt", prefixes={"ex": "http://example.org/"})
    assert len(graph.entities) == 2


# -- properties ---------------------------------------------------------------------------------
_names = st.text(alphabet="abc xyz:-1", min_size=1, max_size=6).filter(lambda s: s.strip() != "")
_values = st.one_of(st.integers(-10**6, 10**6), st.booleans(), st.text(max_size=5),
                    st.lists(st.integers(0, 9), max_size=3))
_attrs = st.dictionaries(st.text(alphabet="pqrs", min_size=1, max_size=3), _values, max_size=3)


@st.composite
def keyed_graphs(draw: Any) -> Any:
    """MultiDiGraphs shaped like to_networkx's output: string node ids, a type on every node
    and edge, string edge keys unique in the whole graph, graph attributes."""
    graph = nx.MultiDiGraph(**draw(_attrs))
    nodes = draw(st.lists(_names, min_size=1, max_size=6, unique=True))
    for node in nodes:
        graph.add_node(node, type=draw(st.sampled_from(["A", "B"])), **draw(_attrs))
    keys = draw(st.lists(_names, max_size=8, unique=True))
    for key in keys:
        graph.add_edge(draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes)), key=key,
                       type=draw(st.sampled_from(["R", "S"])), **draw(_attrs))
    return graph


@st.composite
def any_graphs(draw: Any) -> Any:
    """Any of the four graph classes, with int and str node ids mixed and parallel edges."""
    cls = draw(st.sampled_from([nx.Graph, nx.DiGraph, nx.MultiGraph, nx.MultiDiGraph]))
    graph = cls()
    nodes = draw(st.lists(st.one_of(_names, st.integers(0, 5)), min_size=1, max_size=6,
                          unique=True))
    graph.add_nodes_from(nodes)
    for _ in range(draw(st.integers(0, 8))):
        graph.add_edge(draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes)),
                       **({"type": t} if (t := draw(st.sampled_from([None, "R"]))) else {}))
    return graph


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keyed_graphs())
def test_networkx_round_trip_is_exact(graph: Any) -> None:
    repo = palimpsest.open(":memory:")
    import_graph(repo, from_networkx(graph))
    back = to_networkx(repo.head())
    assert nx.utils.graphs_equal(back, graph)
    assert back.graph == graph.graph
    again = from_networkx(back)
    assert again.entities == from_networkx(graph).entities
    assert again.relations == from_networkx(graph).relations
    repo.close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_graphs())
def test_networkx_import_keeps_every_node_and_edge_or_fails(graph: Any) -> None:
    try:
        snap = from_networkx(graph)
    except InvalidValue:
        return  # a collision, named in the message
    assert len(snap.entities) == graph.number_of_nodes()
    assert len(snap.relations) == graph.number_of_edges()
    repo = palimpsest.open(":memory:")
    import_graph(repo, snap)
    view = repo.head()
    assert len(list(view.entities())) == graph.number_of_nodes()
    assert len(list(view.relations())) == graph.number_of_edges()
    repo.close()
