"""IRI <-> name mapping shared by RDF import/export and SPARQL (see docs/rdf.md, "Names").

Every IRI is turned into a *name* by one reversible rule; the same rule names entities, types,
property keys and relation types. It lives in the query layer so that SPARQL (which may not
import the faces) and :mod:`palimpsest.io.rdf` use the very same code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pyoxigraph as ox

__all__ = ["WELL_KNOWN_PREFIXES", "Names"]

WELL_KNOWN_PREFIXES: Mapping[str, str] = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "schema": "https://schema.org/",
    "schema_http": "http://schema.org/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "prov": "http://www.w3.org/ns/prov#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "sh": "http://www.w3.org/ns/shacl#",
}
PREFIX_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
BARE = re.compile(r"[A-Za-z0-9_][^\s:]*")
CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Names:
    """Compaction of IRIs to names and expansion back (exact inverses)."""

    def __init__(self, prefixes: Mapping[str, str] | None) -> None:
        table = {**WELL_KNOWN_PREFIXES, **(prefixes or {})}
        for name, ns in table.items():
            if (name and not PREFIX_NAME.fullmatch(name)) or not ns or CTRL.search(ns):
                raise ValueError(f"invalid prefix {name!r}: {ns!r}")
        self.table = table
        self.order = sorted(((ns, name) for name, ns in table.items()), key=lambda t: -len(t[0]))
        self.cache: dict[str, str] = {}
        self.terms: dict[str, ox.NamedNode | ox.BlankNode] = {}
        self.used: set[str] = set()

    def compact(self, iri: str) -> str:
        name = self.cache.get(iri)
        if name is None:
            name = self.cache[iri] = self._compact(iri)
        return name

    def _compact(self, iri: str) -> str:
        for ns, prefix in self.order:
            if iri.startswith(ns):
                local = iri[len(ns):]
                if prefix:
                    return f"{prefix}:{local}"
                if BARE.fullmatch(local):
                    return local
        scheme, colon, _ = iri.partition(":")
        return f"<{iri}>" if not colon or scheme in self.table else iri

    def expand(self, name: str) -> str:
        if name.startswith("<") and name.endswith(">"):
            return name[1:-1]
        prefix, colon, local = name.partition(":")
        if not colon and "" in self.table and BARE.fullmatch(name):
            prefix, local = "", name
        elif not colon or prefix not in self.table:
            if colon:
                return name
            raise ValueError(f"{name!r} is not an IRI, a prefixed name or a blank node; "
                             "pass prefixes={'': namespace} to map bare names")
        self.used.add(prefix)
        return self.table[prefix] + local

    def term(self, name: str) -> ox.NamedNode | ox.BlankNode:
        term = self.terms.get(name)
        if term is None:
            try:
                term = ox.BlankNode(name[2:]) if name.startswith("_:") else ox.NamedNode(
                    self.expand(name))
            except ValueError as exc:
                raise ValueError(f"cannot map {name!r} to RDF: {exc}") from None
            self.terms[name] = term
        return term

    def named(self, name: str) -> ox.NamedNode:
        term = self.term(name)
        if not isinstance(term, ox.NamedNode):
            raise ValueError(f"{name!r} is a blank node; predicates must be IRIs")
        return term
