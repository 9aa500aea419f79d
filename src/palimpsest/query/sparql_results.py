"""SPARQL query results in the W3C formats: JSON, XML, CSV and TSV."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson
import pyoxigraph as ox

from ..errors import QueryError
from .rdfnames import Names
from .sparql_sql import SEP

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"

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


# -- answers as terms ---------------------------------------------------------------------------------
def decode(text: str | None, names: Names) -> Any:
    """The pyoxigraph term an encoded text stands for (see :mod:`.sparql_sql`)."""
    if text is None:
        return None
    tag, body = text[0], text[1:]
    if tag == "<":
        return names.term(body)
    if tag == '"':
        return ox.Literal(body)
    if tag == "i":
        return ox.Literal(body, datatype=ox.NamedNode(XSD + "integer"))
    if tag == "f":
        return ox.Literal(repr(float(body)), datatype=ox.NamedNode(XSD + "double"))
    if tag == "d":
        return ox.Literal(body, datatype=ox.NamedNode(XSD + "double"))
    if tag == "n":
        return ox.Literal(body, datatype=ox.NamedNode(XSD + "decimal"))
    if tag == "b":
        return ox.Literal(body, datatype=ox.NamedNode(XSD + "boolean"))
    if tag == "@":
        lang, _, value = body.partition(SEP)
        lang, _, direction = lang.partition("--")
        return ox.Literal(value, language=lang,
                          direction=ox.BaseDirection(direction) if direction else None)
    if tag == "^":
        datatype, _, value = body.partition(SEP)
        return ox.Literal(value, datatype=ox.NamedNode(names.expand(datatype)))
    canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS).decode()
    return ox.Literal(canonical, datatype=ox.NamedNode(RDF + "JSON"))


def _template_term(term: Any, row: Sequence[Any], index: Mapping[str, int], names: Names,
                   blanks: dict[str, Any], cache: dict[str, Any]) -> Any:
    from rdflib import BNode, Literal, URIRef, Variable

    if isinstance(term, Variable):
        i = index.get(str(term))
        text = row[i] if i is not None else None
        if text is None:
            return None
        found = cache.get(text)
        if found is None:
            found = cache[text] = decode(text, names)
        return found
    if isinstance(term, BNode):
        return blanks.setdefault(str(term), ox.BlankNode())
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype or XSD + "string")))
    return None


def construct(template: Sequence[Any], variables: Sequence[str], rows: Sequence[Sequence[Any]],
              names: Names) -> Triples:
    """The template instantiated for each solution (fresh blank nodes per solution); a
    triple with an unbound or ill-placed term is left out, as the standard says."""
    index = {v: i for i, v in enumerate(variables)}
    cache: dict[str, Any] = {}
    out = Triples()
    seen: set[Any] = set()
    for row in rows:
        blanks: dict[str, Any] = {}
        for pattern_ in template:
            s, p, o = (_template_term(t, row, index, names, blanks, cache) for t in pattern_)
            if (not isinstance(s, ox.NamedNode | ox.BlankNode) or not isinstance(p, ox.NamedNode)
                    or o is None):
                continue
            triple = ox.Triple(s, p, o)
            if triple not in seen:
                seen.add(triple)
                out.append(triple)
    return out


