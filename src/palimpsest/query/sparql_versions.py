"""Versions inside SPARQL: ``GRAPH <palimpsest:ref/NAME> { ... }`` matches a pattern in the
state at another ref (docs/sparql.md, "Versions inside a query").

Each ref is a named graph: its IRI is ``palimpsest:ref/`` followed by the ref (a branch, tag,
commit id or prefix, ``REF~N``, a time; percent-encoded where an IRI needs it). The pattern
inside compiles with that ref's chain, so a query joins states of two versions in one SQL
statement. ``GRAPH ?g`` ranges over every branch and tag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from ..storage.visibility import Chain

__all__ = ["PREFIX", "Versions", "graph_iri", "ref_of"]

PREFIX = "palimpsest:ref/"


@dataclass(frozen=True, slots=True)
class Versions:
    """How a query reaches other versions: a ref's chain, and the names of every branch and
    tag (the named graphs ``GRAPH ?g`` ranges over)."""

    chain: Callable[[str], Chain]
    names: Callable[[], list[str]]


def graph_iri(ref: str) -> str:
    return PREFIX + quote(ref, safe="~^@:/.-_")


def ref_of(iri: str) -> str | None:
    """The ref a graph IRI names, or None when it is not a ``palimpsest:ref/`` IRI."""
    return unquote(iri[len(PREFIX):]) if iri.startswith(PREFIX) else None
