"""SHACL validation of a version's RDF graph (pySHACL).

The data graph is what RDF export writes at the version (``CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }``
through the SPARQL compiler: one SQL query over the visible rows), loaded into rdflib; the
shapes graph is any RDF text rdflib reads (Turtle by default). pySHACL validates with RDFS
inference off (the graph is validated as stored) and its results graph becomes a
:class:`~palimpsest.types.ShaclReport`. Needs ``palimpsest[shacl]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidValue, QueryError
from ..types import ShaclReport, ShaclResult

SH = "http://www.w3.org/ns/shacl#"


def _load(text: str | bytes, format: str | None, what: str) -> Any:
    import rdflib

    graph = rdflib.Graph()
    try:
        graph.parse(data=text, format=format or "turtle")
    except Exception as exc:  # rdflib raises many parser-specific types
        raise InvalidValue(f"{what} is not valid {format or 'turtle'}: {exc}") from exc
    return graph


def read_shapes(shapes: str | bytes | Path) -> str | bytes:
    """Shapes given as RDF text, or as a path to a file holding it."""
    if isinstance(shapes, Path):
        return shapes.read_bytes()
    if not isinstance(shapes, str | bytes):
        raise InvalidValue(f"shapes must be RDF text or a Path, not {type(shapes).__name__}")
    return shapes


def validate(data_nt: bytes, shapes: str | bytes, *, format: str | None = None,
             commit: str | None = None) -> ShaclReport:
    """Validate the N-Triples ``data_nt`` against ``shapes`` (``format``: an rdflib format
    name, default Turtle)."""
    try:
        import pyshacl
    except ImportError as exc:  # pragma: no cover - dev installs it
        raise QueryError("SHACL validation needs pyshacl: pip install "
                                "'palimpsest[shacl]'") from exc
    data = _load(data_nt, "nt", "the data graph")
    shape_graph = _load(shapes, format, "the shapes graph")
    conforms, results, _ = pyshacl.validate(data, shacl_graph=shape_graph, inference="none",
                                            abort_on_first=False, advanced=True)
    return ShaclReport(bool(conforms), _results(results), commit, len(data))


def _term(term: Any) -> str | None:
    return None if term is None else str(term.n3())


def _results(graph: Any) -> list[ShaclResult]:
    import rdflib

    sh = rdflib.Namespace(SH)
    out = []
    for node in graph.subjects(rdflib.RDF.type, sh.ValidationResult):
        def one(name: str, node: Any = node) -> Any:
            return graph.value(node, sh[name])
        path = one("resultPath")
        severity = str(one("resultSeverity") or SH + "Violation")
        message = one("resultMessage")
        out.append(ShaclResult(
            focus=_term(one("focusNode")) or "",
            path=_term(path) if isinstance(path, rdflib.URIRef) else
            (None if path is None else "complex path"),
            value=_term(one("value")),
            constraint=str(one("sourceConstraintComponent") or "").replace(SH, "sh:"),
            shape=_term(one("sourceShape")) if isinstance(one("sourceShape"), rdflib.URIRef)
            else None,
            severity=severity.replace(SH, ""),
            message=str(message) if message is not None else ""))
    out.sort(key=lambda r: (r.focus, r.path or "", r.constraint, r.value or ""))
    return out
