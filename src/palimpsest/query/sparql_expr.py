"""SPARQL expressions (FILTER, BIND, ORDER BY keys) compiled to SQL over encoded terms.

A term expression yields the encoded text of an RDF term (:mod:`.sparql_sql`), NULL when
unbound or an error. A boolean expression yields TRUE, FALSE or NULL (an error): SQL's
three-valued AND, OR and NOT are exactly SPARQL's logic with errors, and a FILTER keeps a
solution only when its expression is TRUE, as SQL's WHERE does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UnsupportedQuery
from .rdfnames import Names
from .sparql_sql import DECIMAL_RE, DOUBLE_RE, INT_RE, SEP, Dialect, P, S, fmt, join, quote

XSD = "http://www.w3.org/2001/XMLSchema#"
KNOWN = "('<', '\"', 'i', 'f', 'd', 'n', 'b', '@')"
NUMERIC = "('i', 'f', 'd', 'n')"
NUMERIC_TYPES = {XSD + t for t in ("integer", "decimal", "double", "float", "int", "long",
                                   "short", "byte", "nonNegativeInteger", "positiveInteger",
                                   "negativeInteger", "nonPositiveInteger", "unsignedInt",
                                   "unsignedLong", "unsignedShort", "unsignedByte")}


@dataclass(frozen=True, slots=True)
class Expr:
    kind: str  # "term" or "bool"
    sql: S


def encode_constant(term: Any, names: Names) -> str:
    """The encoded text of an rdflib IRI or literal, as the sources encode stored values."""
    from rdflib import Literal, URIRef

    if isinstance(term, URIRef):
        return "<" + names.compact(str(term))
    if isinstance(term, Literal):
        lex = str(term)
        if term.language:
            return "@" + term.language + SEP + lex
        dt = str(term.datatype) if term.datatype is not None else XSD + "string"
        if dt == XSD + "string":
            return '"' + lex
        if dt == XSD + "integer" and re.fullmatch(INT_RE[1:-1], lex):
            return "i" + lex
        if dt == XSD + "double" and re.fullmatch(DOUBLE_RE[1:-1], lex):
            return "d" + lex
        if dt == XSD + "decimal" and re.fullmatch(DECIMAL_RE[1:-1], lex):
            return "n" + lex
        if dt == XSD + "boolean" and lex in ("true", "false"):
            return "b" + lex
        return "^" + names.compact(dt) + SEP + lex
    raise UnsupportedQuery(f"blank node or unknown term {term!r} in an expression", "blank node")


class Terms:
    """SQL functions of encoded terms."""

    def __init__(self, d: Dialect, names: Names) -> None:
        self.d, self.names = d, names

    def tag(self, t: S) -> S:
        return fmt("substr({}, 1, 1)", t)

    def payload(self, t: S) -> S:
        return fmt("substr({}, 2)", t)

    def after_sep(self, t: S) -> S:
        return fmt("substr({}, " + self.d.pos(self.d.sep(), "{}") + " + 1)", t, t)

    def lexical(self, t: S) -> S:
        """The lexical form of a literal (NULL for IRIs and blank nodes)."""
        return fmt("(CASE WHEN {} IN ('@', '^') THEN {} WHEN {} = '<' THEN NULL ELSE {} END)",
                   self.tag(t), self.after_sep(t), self.tag(t), self.payload(t))

    def number(self, t: S) -> S:
        return fmt(f"(CASE WHEN {{}} IN {NUMERIC} THEN " + self.d.number("{}") + " END)",
                   self.tag(t), self.payload(t))

    def is_numeric(self, t: S) -> S:
        return fmt(f"({{}} IN {NUMERIC})", self.tag(t))

    def is_blank(self, t: S) -> S:
        return fmt("({} = '<' AND substr({}, 2, 2) = '_:')", self.tag(t), t)

    def is_iri(self, t: S) -> S:
        return fmt("({} = '<' AND substr({}, 2, 2) <> '_:')", self.tag(t), t)

    def expand(self, name: S) -> S:
        """SQL of the IRI a name stands for (docs/rdf.md, Names)."""
        d = self.d
        colon = d.pos("':'", "{}")
        parts: list[str | P | S] = [fmt("(CASE WHEN substr({}, 1, 1) = '<' THEN "
                                         "substr({}, 2, length({}) - 2) ", name, name, name)]
        for prefix, ns in sorted(self.names.table.items()):
            if prefix:
                parts.append(fmt(f"WHEN {colon} > 0 AND substr({{}}, 1, {colon} - 1) = "
                                 f"{quote(prefix)} THEN {quote(ns)} || substr({{}}, "
                                 f"{colon} + 1) ", name, name, name, name, name))
        parts.append(fmt(f"WHEN {colon} > 0 THEN {{}} ", name, name))
        default = self.names.table.get("")
        parts.append(fmt(f"ELSE {quote(default)} || {{}} END)", name) if default
                     else S("ELSE NULL END)"))
        return S(*parts)

    def string_key(self, t: S) -> S:
        """What ORDER BY compares after the kind and the number: the IRI, label or lexical."""
        key = fmt("(CASE WHEN {} THEN {} WHEN {} THEN {} ELSE {} END)", self.is_blank(t),
                  self.payload(t), self.is_iri(t), self.expand(self.payload(t)),
                  self.lexical(t))
        return fmt('({} COLLATE "C")', key) if self.d.postgres else key


class ExprCompiler:
    """Compiles rdflib algebra expressions; ``env`` maps variable names to SQL columns."""

    def __init__(self, terms: Terms, env: Mapping[str, str], alias: str | None = None, *,
                 exists: Callable[[Any, Mapping[str, str]], S] | None = None) -> None:
        self.t, self.env = terms, env
        self.alias = alias
        self.exists = exists
        """Compiles ``EXISTS { pattern }`` against ``env`` (a correlated SQL ``EXISTS``)."""
        self.hoisted: list[tuple[str, S]] = []
        """With an ``alias``: computed terms to add as columns ``(name, SQL)`` below the
        expression, in order (each may use the ones before), so SQL nesting stays shallow."""

    def term(self, e: Any) -> S:
        from rdflib import Literal, URIRef, Variable

        x = self.compile(e)
        sql = x.sql if x.kind == "term" else fmt(
            "(CASE WHEN {} THEN 'btrue' WHEN NOT {} THEN 'bfalse' END)", x.sql, x.sql)
        if self.alias is None or isinstance(e, Variable | URIRef | Literal):
            return sql
        name = f"h{len(self.hoisted)}_"
        self.hoisted.append((name, sql))
        return S(f"{self.alias}.{name}")

    def below(self, source: S, cte: Callable[[S], str]) -> S:
        """The table ``source`` (aliased as :attr:`alias`) with the hoisted columns added,
        one common table expression (``cte`` names it) per column."""
        for name, expr in self.hoisted:
            source = S(cte(fmt(f"SELECT {self.alias}.*, {{}} AS {name} FROM {{}} "
                               f"{self.alias}", expr, source)))
        return source

    def boolean(self, e: Any) -> S:
        x = self.compile(e)
        if x.kind == "bool":
            return x.sql
        t = self.t
        v = x.sql
        return fmt("(CASE WHEN {} = 'b' THEN {} = 'true' WHEN {} THEN {} <> 0 "
                   "WHEN {} = '\"' THEN length({}) > 0 END)", t.tag(v), t.payload(v),
                   t.is_numeric(v), t.number(v), t.tag(v), t.payload(v))

    def compile(self, e: Any) -> Expr:
        from rdflib import BNode, Literal, URIRef, Variable

        if isinstance(e, Variable):
            col = self.env.get(str(e))
            return Expr("term", S(col) if col else S("CAST(NULL AS TEXT)"))
        if isinstance(e, BNode):
            raise UnsupportedQuery("blank nodes in expressions are not supported", "blank node")
        if isinstance(e, URIRef | Literal):
            return Expr("term", S("CAST(", P(encode_constant(e, self.t.names)), " AS TEXT)"))
        name = getattr(e, "name", None)
        handler: Callable[[Any], Expr] | None = getattr(self, f"_{name}", None)
        if name is None or handler is None:
            label = str(name or type(e).__name__).removeprefix("Builtin_")
            raise UnsupportedQuery(f"{label} is not supported in SPARQL expressions yet",
                                   label)
        return handler(e)

    # -- logic ---------------------------------------------------------------------------
    def _ConditionalAndExpression(self, e: Any) -> Expr:
        items = [self.boolean(e.expr), *[self.boolean(x) for x in e.other or []]]
        return Expr("bool", fmt("({})", join(" AND ", items)))

    def _ConditionalOrExpression(self, e: Any) -> Expr:
        items = [self.boolean(e.expr), *[self.boolean(x) for x in e.other or []]]
        return Expr("bool", fmt("({})", join(" OR ", items)))

    def _Builtin_EXISTS(self, e: Any) -> Expr:
        if self.exists is None:
            raise UnsupportedQuery("EXISTS is not supported here", "EXISTS")
        return Expr("bool", fmt("({})", self.exists(e.graph, self.env)))

    def _Builtin_NOTEXISTS(self, e: Any) -> Expr:
        return Expr("bool", fmt("(NOT {})", self._Builtin_EXISTS(e).sql))

    def _UnaryNot(self, e: Any) -> Expr:
        return Expr("bool", fmt("(NOT {})", self.boolean(e.expr)))

    # -- comparisons ---------------------------------------------------------------------
    def equal(self, a: S, b: S) -> S:
        t = self.t
        return fmt("(CASE WHEN {} IS NULL OR {} IS NULL THEN NULL "
                   "WHEN {} AND {} THEN {} = {} WHEN {} = {} THEN TRUE "
                   "WHEN {} = '<' OR {} = '<' OR {} = '@' OR {} = '@' THEN FALSE "
                   f"WHEN {{}} IN {KNOWN} AND {{}} IN {KNOWN} THEN FALSE END)",
                   a, b, t.is_numeric(a), t.is_numeric(b), t.number(a), t.number(b), a, b,
                   t.tag(a), t.tag(b), t.tag(a), t.tag(b), t.tag(a), t.tag(b))

    def order(self, a: S, b: S, op: str) -> S:
        """``<``, ``>``, ``<=``, ``>=`` as pyoxigraph evaluates them: numbers, simple strings
        and strings of the same language compare; the same term is equal to itself; anything
        else is an error."""
        t, d = self.t, self.t.d
        la, lb = t.lexical(a), t.lexical(b)
        if d.postgres:
            la, lb = fmt('({} COLLATE "C")', la), fmt('({} COLLATE "C")', lb)
        same = "TRUE" if "=" in op else "FALSE"
        sep = d.pos(d.sep(), "{}")
        lang = f"substr({{}}, 1, {sep})"
        return fmt(f"(CASE WHEN {{}} IS NULL OR {{}} IS NULL THEN NULL "
                   f"WHEN {{}} AND {{}} THEN {{}} {op} {{}} WHEN {{}} = {{}} THEN {same} "
                   f"WHEN ({{}} = '\"' AND {{}} = '\"') OR ({{}} = '@' AND {{}} = '@' AND "
                   f"{lang} = {lang}) THEN {{}} {op} {{}} END)",
                   a, b, t.is_numeric(a), t.is_numeric(b), t.number(a), t.number(b), a, b,
                   t.tag(a), t.tag(b), t.tag(a), t.tag(b), a, a, b, b, la, lb)

    def _RelationalExpression(self, e: Any) -> Expr:
        a = self.term(e.expr)
        op = e.op
        if op in ("IN", "NOT IN"):
            items = [self.equal(a, self.term(x)) for x in e.other]
            test = fmt("({})", join(" OR ", items)) if items else S("FALSE")
            return Expr("bool", test if op == "IN" else fmt("(NOT {})", test))
        b = self.term(e.other)
        if op == "=":
            return Expr("bool", self.equal(a, b))
        if op == "!=":
            return Expr("bool", fmt("(NOT {})", self.equal(a, b)))
        if op in ("<", ">", "<=", ">="):
            return Expr("bool", self.order(a, b, op))
        raise UnsupportedQuery(f"operator {op} is not supported", op)

    def _Builtin_sameTerm(self, e: Any) -> Expr:
        a, b = self.term(e.arg1), self.term(e.arg2)
        return Expr("bool", fmt("({} = {})", a, b))

    # -- term tests and accessors --------------------------------------------------------
    def _Builtin_BOUND(self, e: Any) -> Expr:
        return Expr("bool", fmt("({} IS NOT NULL)", self.term(e.arg)))

    def _test(self, e: Any, test: Callable[[S], S]) -> Expr:
        v = self.term(e.arg)
        return Expr("bool", fmt("(CASE WHEN {} IS NOT NULL THEN {} END)", v, test(v)))

    def _Builtin_isIRI(self, e: Any) -> Expr:
        return self._test(e, self.t.is_iri)

    _Builtin_isURI = _Builtin_isIRI

    def _Builtin_isBLANK(self, e: Any) -> Expr:
        return self._test(e, self.t.is_blank)

    def _Builtin_isLITERAL(self, e: Any) -> Expr:
        return self._test(e, lambda v: fmt("({} <> '<')", self.t.tag(v)))

    def _Builtin_isNUMERIC(self, e: Any) -> Expr:
        return self._test(e, self.t.is_numeric)

    def _Builtin_STR(self, e: Any) -> Expr:
        t, v = self.t, self.term(e.arg)
        return Expr("term", fmt("(CASE WHEN {} THEN NULL WHEN {} THEN '\"' || {} "
                                "ELSE '\"' || {} END)", t.is_blank(v), t.is_iri(v),
                                t.expand(t.payload(v)), t.lexical(v)))

    def _Builtin_LANG(self, e: Any) -> Expr:
        t, v = self.t, self.term(e.arg)
        sep = t.d.pos(t.d.sep(), "{}")
        return Expr("term", fmt(f"(CASE WHEN {{}} = '@' THEN '\"' || substr({{}}, 2, {sep} - 2) "
                                "WHEN {} = '<' THEN NULL WHEN {} IS NOT NULL THEN '\"' END)",
                                t.tag(v), v, v, t.tag(v), v))

    def _Builtin_DATATYPE(self, e: Any) -> Expr:
        t, v = self.t, self.term(e.arg)
        sep = t.d.pos(t.d.sep(), "{}")
        return Expr("term", fmt("(CASE {} WHEN '\"' THEN '<xsd:string' WHEN 'i' THEN "
                                "'<xsd:integer' WHEN 'f' THEN '<xsd:double' WHEN 'd' THEN "
                                "'<xsd:double' WHEN 'n' THEN '<xsd:decimal' WHEN 'b' THEN '<xsd:boolean' WHEN '@' THEN "
                                "'<rdf:langString' WHEN 'j' THEN '<rdf:JSON' WHEN '^' THEN "
                                f"'<' || substr({{}}, 2, {sep} - 2) END)", t.tag(v), v, v))

    # -- strings ---------------------------------------------------------------------------
    def _string(self, e: Any) -> tuple[S, S]:
        """The term and lexical form of a string argument (NULL unless a string literal)."""
        v = self.term(e)
        return v, fmt("(CASE WHEN {} IN ('\"', '@') THEN {} END)", self.t.tag(v),
                      self.t.lexical(v))

    def _simple(self, e: Any) -> S:
        v = self.term(e)
        return fmt("(CASE WHEN {} = '\"' THEN {} END)", self.t.tag(v), self.t.payload(v))

    def _Builtin_CONTAINS(self, e: Any) -> Expr:
        _, a = self._string(e.arg1)
        b = self._simple(e.arg2)
        # pos(needle, haystack) fills the SQL function's (haystack, needle) slots in order
        return Expr("bool", fmt(f"({self.t.d.pos('{}', '{}')} > 0)", a, b))

    def _Builtin_STRSTARTS(self, e: Any) -> Expr:
        _, a = self._string(e.arg1)
        b = self._simple(e.arg2)
        return Expr("bool", fmt("(substr({}, 1, length({})) = {})", a, b, b))

    def _Builtin_STRENDS(self, e: Any) -> Expr:
        _, a = self._string(e.arg1)
        b = self._simple(e.arg2)
        return Expr("bool", fmt("(length({}) >= length({}) AND "
                                "substr({}, length({}) - length({}) + 1) = {})",
                                a, b, a, a, b, b))

    def _Builtin_REGEX(self, e: Any) -> Expr:
        from rdflib import Literal

        _, a = self._string(e.text)
        pattern, flags = e.pattern, e.flags
        if not isinstance(pattern, Literal) or (flags is not None
                                                and not isinstance(flags, Literal)):
            raise UnsupportedQuery("REGEX with a pattern or flags that are not constants",
                                   "REGEX")
        text = str(pattern)
        for flag in str(flags or ""):
            if flag != "i":
                raise UnsupportedQuery(f"REGEX flag {flag!r} is not supported", "REGEX")
            text = "(?i)" + text
        return Expr("bool", self.t.d.regex_param(a, text))
