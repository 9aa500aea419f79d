"""NetworkX interop (the optional ``networkx`` extra): a View as a graph and back.

``to_networkx(view)`` gives a :class:`networkx.MultiDiGraph`: one node per entity (attribute
``type`` plus its properties), one edge per relation keyed by the relation id (attribute
``type`` plus its properties), and the graph attributes (``G.graph``) from the document
:data:`~palimpsest.io.snapshot.GRAPH_ATTRS`. ``from_networkx(graph)`` reads any NetworkX
graph into a :class:`~palimpsest.io.snapshot.Snapshot`, ready for
:func:`~palimpsest.io.import_graph`.

Nothing is merged silently: every node becomes its own entity and every edge its own relation,
or the conversion fails with :class:`InvalidValue` saying which two would have become one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidValue, PalimpsestError
from .snapshot import GRAPH_ATTRS, Snapshot

if TYPE_CHECKING:
    from ..view import View


def _networkx() -> Any:
    try:
        import networkx
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise PalimpsestError("NetworkX support needs the networkx extra: "
                              "pip install 'palimpsest[networkx]'") from None
    return networkx


def to_networkx(view: View, *, type_attr: str = "type") -> Any:
    """The graph at ``view`` as a ``networkx.MultiDiGraph`` (nodes and edges keyed by id).

    >>> import palimpsest
    >>> repo = palimpsest.open(":memory:")
    >>> with repo.transaction("people") as tx:
    ...     _ = tx.put_entity("ada", "Person", {"born": 1815})
    ...     _ = tx.put_entity("bob", "Person")
    ...     _ = tx.put_relation("r1", "KNOWS", "ada", "bob")
    >>> g = to_networkx(repo.head())
    >>> g.nodes["ada"], list(g.edges(keys=True, data="type"))
    ({'type': 'Person', 'born': 1815}, [('ada', 'bob', 'r1', 'KNOWS')])
    """
    nx = _networkx()
    graph = nx.MultiDiGraph()
    attrs = view.document(*GRAPH_ATTRS)
    if attrs is not None and isinstance(attrs.value, dict):
        graph.graph.update(attrs.value)
    for entity in view.entities():
        if type_attr in entity.props:
            raise InvalidValue(f"entity {entity.id!r} has a property {type_attr!r}, which "
                               "would clash with the type; pass type_attr='@type'")
        graph.add_node(entity.id, **{type_attr: entity.type, **entity.props})
    for rel in view.relations():
        if type_attr in rel.props:
            raise InvalidValue(f"relation {rel.id!r} has a property {type_attr!r}; "
                               "pass type_attr='@type'")
        graph.add_edge(rel.source, rel.target, key=rel.id, **{type_attr: rel.type, **rel.props})
    return graph


def from_networkx(graph: Any, *, type_attr: str = "type", default_type: str = "Node",
                  default_relation_type: str = "EDGE") -> Snapshot:
    """A :class:`Snapshot` of a NetworkX graph: nodes become entities (``type_attr`` gives
    the type, other attributes the properties), edges relations, ``graph.graph`` the graph
    attributes.

    Node ids that are not strings are converted with ``str()``; two nodes that would get the
    same id (``1`` and ``"1"``) raise :class:`InvalidValue`. An edge's id is its key when the
    graph is a multigraph with string keys (each key must then name one edge of the whole
    graph, as :func:`to_networkx` makes them), else ``"<source> <type> <target>"`` (with the
    key appended for other multigraph keys); an id that two edges would share raises
    :class:`InvalidValue`. Undirected edges go from the first node to the second as NetworkX
    lists them.
    """
    snap = Snapshot(source="networkx")
    nodes: dict[str, Any] = {}
    for node, attrs in graph.nodes(data=True):
        eid = node if isinstance(node, str) else str(node)
        if eid in nodes:
            raise InvalidValue(f"nodes {nodes[eid]!r} and {node!r} would both become entity "
                               f"{eid!r}; give them distinct string ids "
                               "(networkx.relabel_nodes)")
        nodes[eid] = node
        props = dict(attrs)
        etype = props.pop(type_attr, default_type)
        snap.entities[eid] = (str(etype), props)
    multi = graph.is_multigraph()
    edges = graph.edges(keys=True, data=True) if multi else (
        (u, v, None, d) for u, v, d in graph.edges(data=True))
    seen: dict[str, tuple[Any, Any, Any]] = {}
    for u, v, key, attrs in edges:
        props = dict(attrs)
        rtype = str(props.pop(type_attr, default_relation_type))
        source = u if isinstance(u, str) else str(u)
        target = v if isinstance(v, str) else str(v)
        if isinstance(key, str):
            rid = key
        else:
            rid = f"{source} {rtype} {target}" + (f" {key}" if multi and key else "")
        if rid in seen:
            first = seen[rid]
            raise InvalidValue(
                f"edges {_edge(*first)} and {_edge(u, v, key)} would both become relation "
                f"{rid!r}; " + ("an edge key names one relation of the whole graph: make "
                                "the keys unique" if isinstance(key, str) else
                                "give the edges distinct string keys in a MultiDiGraph"))
        seen[rid] = (u, v, key)
        snap.relations[rid] = (rtype, source, target, props)
    snap.attrs = dict(graph.graph)
    return snap


def _edge(u: Any, v: Any, key: Any) -> str:
    return f"{u!r}->{v!r}" + (f" (key {key!r})" if key is not None else "")
