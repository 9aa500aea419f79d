"""SPARQL property paths (``/``, ``|``, ``^``, ``*``, ``+``, ``?``, ``!``) compiled to SQL.

A path becomes one common table expression of the pairs ``(ps, po)`` it connects, built from
the triple sources of :mod:`.sparql_sql`: a sequence joins its steps (keeping multiplicities,
as the standard's translation to patterns does), an alternative is a ``UNION`` of distinct
pairs (as pyoxigraph answers), an inverse swaps the columns, and ``+`` is a ``WITH RECURSIVE`` closure whose ``UNION`` stops on
cycles; ``*`` and ``?`` add the zero-length pairs: every node of the graph (subject or object
of a triple) with itself, or just the constant end of the pattern when it is such a node. A
closure whose start (or end) is a constant grows from that node only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..errors import UnsupportedQuery
from ..storage.visibility import Chain
from .rdfnames import Names
from .sparql_sql import Dialect, P, S, fmt, join, pattern

__all__ = ["PathHost", "pairs"]


class PathHost(Protocol):
    """What path compilation needs of the query compiler."""

    d: Dialect
    chain: Chain
    names: Names
    rdf_type: str
    recursive: bool

    def cte(self, sql: S, materialized: bool = False) -> str: ...

    def recursive_cte(self, build: Callable[[str], S]) -> str: ...


def _triples(host: PathHost, pred: str | None) -> str:
    """All (ps, po) of predicate ``pred`` (a name), or of every predicate, with ``pp``."""
    if pred is not None:
        return host.cte(pattern(host.d, host.chain, ("var", "ps"), ("node", pred),
                                ("var", "po"), host.rdf_type, ["ps", "po"]))
    return host.cte(pattern(host.d, host.chain, ("var", "ps"), ("var", "pp"), ("var", "po"),
                            host.rdf_type, ["ps", "pp", "po"]))


def _is_node(host: PathHost, term: str) -> S:
    """SQL true when the encoded term is the subject or object of some triple (by the
    indexed columns: the constant goes into the patterns)."""
    const = ("node", term[1:]) if term.startswith("<") else (
        ("double", term[1:]) if term.startswith("d") else ("literal", term))
    tests: list[S] = []
    if const[0] == "node":
        subject = pattern(host.d, host.chain, const, ("var", "pp"), ("var", "po"),
                          host.rdf_type, ["pp", "po"])
        tests.append(fmt("EXISTS ({})", subject))
    obj = pattern(host.d, host.chain, ("var", "ps"), ("var", "pp"), const, host.rdf_type,
                  ["ps", "pp"])
    tests.append(fmt("EXISTS ({})", obj))
    return fmt("({})", join(" OR ", tests))


def _zero(host: PathHost, start: str | None) -> S:
    """The zero-length pairs: (start, start) when ``start`` is a node, else every node's."""
    if start is not None:
        return fmt("SELECT CAST({} AS TEXT) AS ps, CAST({} AS TEXT) AS po WHERE {}",
                   P(start), P(start), _is_node(host, start))
    every = _triples(host, None)
    return S(f"SELECT ps, ps AS po FROM {every} UNION SELECT po AS ps, po FROM {every}")


def pairs(host: PathHost, path: Any, start: str | None = None, end: str | None = None) -> str:
    """A CTE of the (ps, po) pairs ``path`` connects (encoded terms); ``start`` / ``end``
    (encoded constants of the pattern, or None) let closures grow from one node."""
    from rdflib import URIRef
    from rdflib.paths import AlternativePath, InvPath, MulPath, NegatedPath, SequencePath

    if isinstance(path, URIRef):
        return _triples(host, host.names.compact(str(path)))
    if isinstance(path, InvPath):
        inner = pairs(host, path.arg, end, start)
        return host.cte(S(f"SELECT po AS ps, ps AS po FROM {inner}"))
    if isinstance(path, SequencePath):
        steps = [pairs(host, p, start if i == 0 else None,
                       end if i == len(path.args) - 1 else None)
                 for i, p in enumerate(path.args)]
        sql = f"SELECT s0.ps AS ps, s{len(steps) - 1}.po AS po FROM {steps[0]} s0"
        for i, step in enumerate(steps[1:], 1):
            sql += f" JOIN {step} s{i} ON s{i - 1}.po = s{i}.ps"
        return host.cte(S(sql))
    if isinstance(path, AlternativePath):
        branches = [pairs(host, p, start, end) for p in path.args]
        return host.cte(S(" UNION ".join(f"SELECT ps, po FROM {b}" for b in branches)))
    if isinstance(path, MulPath):
        base = pairs(host, path.path)
        parts: list[S] = []
        if path.mod in ("*", "?"):
            parts.append(_zero(host, start if start is not None else end))
        if path.mod == "?":
            parts.append(S(f"SELECT ps, po FROM {base}"))
        else:
            parts.append(S(f"SELECT ps, po FROM {_closure(host, base, start, end)}"))
        return host.cte(fmt("SELECT DISTINCT ps, po FROM ({}) z", join(" UNION ALL ", parts)))
    if isinstance(path, NegatedPath):
        return _negated(host, path.args)
    raise UnsupportedQuery(f"property path {path!r} is not supported", "property path")


def _closure(host: PathHost, step: str, start: str | None, end: str | None) -> str:
    """``step+``: a recursive CTE, grown from ``start`` (or back from ``end``) if given; the
    step is computed once, not once per round."""
    base = host.cte(S(f"SELECT ps, po FROM {step}"), materialized=True)
    def build(name: str) -> S:
        if start is None and end is not None:
            return fmt(f"SELECT ps, po FROM {base} WHERE po = {{}} UNION SELECT b.ps, r.po "
                       f"FROM {name} r JOIN {base} b ON b.po = r.ps", P(end))
        seed = fmt(f"SELECT ps, po FROM {base} WHERE ps = {{}}", P(start)) if start else \
            S(f"SELECT ps, po FROM {base}")
        return fmt(f"{{}} UNION SELECT r.ps, b.po FROM {name} r JOIN {base} b ON r.po = b.ps",
                   seed)

    return host.recursive_cte(build)


def _negated(host: PathHost, args: list[Any]) -> str:
    """``!(p1|^p2|...)``: triples whose predicate is none of the forward ones, and reversed
    triples whose predicate is none of the inverse ones."""
    from rdflib import URIRef
    from rdflib.paths import InvPath

    if not all(isinstance(a, URIRef | InvPath) for a in args):  # rdflib drops their IRI
        raise UnsupportedQuery("inverse IRIs in a negated property set (!^p) are not "
                               "supported", "negated inverse path")
    forward = ["<" + host.names.compact(str(a)) for a in args if isinstance(a, URIRef)]
    inverse = ["<" + host.names.compact(str(a.arg)) for a in args if isinstance(a, InvPath)]
    every = _triples(host, None)
    parts: list[S] = []
    for names, cols in ((forward, "ps, po"), (inverse, "po AS ps, ps AS po")):
        if names or not (forward or inverse):
            test = join(", ", [P(n) for n in names])
            parts.append(fmt(f"SELECT {cols} FROM {every} WHERE pp NOT IN ({{}})", test)
                         if names else S(f"SELECT {cols} FROM {every}"))
    return host.cte(join(" UNION ", parts))
