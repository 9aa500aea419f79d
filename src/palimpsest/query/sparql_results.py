"""SPARQL query results in the W3C formats: JSON, XML, CSV and TSV."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson
import pyoxigraph as ox

from ..errors import QueryError

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
FORMATS = ("json", "xml", "csv", "tsv")


def _json_term(term: Any) -> dict[str, str]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    out = {"type": "literal", "value": term.value}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype.value != XSD_STRING:
        out["datatype"] = term.datatype.value
    return out


def _xml_term(term: Any) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if term.language:
        return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
    if term.datatype.value != XSD_STRING:
        return (f"<literal datatype={quoteattr(term.datatype.value)}>"
                f"{escape(term.value)}</literal>")
    return f"<literal>{escape(term.value)}</literal>"


def _csv_field(term: Any) -> str:
    if term is None:
        return ""
    text = term.value if not isinstance(term, ox.BlankNode) else "_:" + term.value
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _tsv_field(term: Any) -> str:
    if term is None:
        return ""
    return str(term).replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def serialize_solutions(variables: Sequence[str], rows: Sequence[Sequence[Any]],
                        format: str = "json") -> bytes:
    fmt = format.lower()
    if fmt == "json":
        bindings = [{v: _json_term(t) for v, t in zip(variables, row, strict=True)
                     if t is not None} for row in rows]
        return orjson.dumps({"head": {"vars": list(variables)},
                             "results": {"bindings": bindings}})
    if fmt == "xml":
        out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
               "<head>"]
        out += [f"<variable name={quoteattr(v)}/>" for v in variables]
        out.append("</head><results>")
        for row in rows:
            out.append("<result>")
            out += [f"<binding name={quoteattr(v)}>{_xml_term(t)}</binding>"
                    for v, t in zip(variables, row, strict=True) if t is not None]
            out.append("</result>")
        out.append("</results></sparql>\n")
        return "".join(out).encode()
    if fmt == "csv":
        lines = [",".join(variables)]
        lines += [",".join(_csv_field(t) for t in row) for row in rows]
        return ("\r\n".join(lines) + "\r\n").encode()
    if fmt == "tsv":
        lines = ["\t".join("?" + v for v in variables)]
        lines += ["\t".join(_tsv_field(t) for t in row) for row in rows]
        return ("\n".join(lines) + "\n").encode()
    raise QueryError(f"unknown SPARQL results format {format!r}; use one of {', '.join(FORMATS)}")


def serialize_boolean(value: bool, format: str = "json") -> bytes:
    """The answer of an ASK query in ``json`` or ``xml`` (CSV and TSV hold solutions only)."""
    fmt = format.lower()
    if fmt == "json":
        return orjson.dumps({"head": {}, "boolean": value})
    if fmt == "xml":
        return ('<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
                f"<head/><boolean>{'true' if value else 'false'}</boolean></sparql>\n").encode()
    raise QueryError(f"an ASK answer serializes as json or xml, not {format!r}")


GRAPH_FORMATS = {"nt": ox.RdfFormat.N_TRIPLES, "ttl": ox.RdfFormat.TURTLE,
                 "rdf": ox.RdfFormat.RDF_XML}


class Triples(list[ox.Triple]):
    """The triples of a CONSTRUCT or DESCRIBE answer (pyoxigraph ``Triple``s, each once)."""

    def serialize(self, format: str = "nt", *,
                  prefixes: Mapping[str, str] | None = None) -> bytes:
        """The triples as ``nt`` (N-Triples), ``ttl`` (Turtle, with ``prefixes``) or ``rdf``
        (RDF/XML)."""
        found = GRAPH_FORMATS.get(format.lower())
        if found is None:
            raise QueryError(f"unknown RDF format {format!r}; use one of "
                             f"{', '.join(GRAPH_FORMATS)}")
        data = ox.serialize(self, format=found, prefixes=dict(prefixes or {}) or None)
        return data if data is not None else b""
