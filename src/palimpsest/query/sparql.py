"""SPARQL 1.1 SELECT and ASK at any state, compiled to one SQL query (docs/sparql.md).

rdflib parses the query and translates it to the SPARQL algebra; this module compiles the
algebra to SQL over the rows table, with the visibility rule of the view's commit, and decodes
the answers to pyoxigraph terms. The graph is the one ``export`` writes as RDF.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import QueryError, QuerySyntaxError, UnsupportedQuery
from ..storage.base import Database
from ..storage.visibility import Chain
from .rdfnames import Names
from .sparql_expr import ExprCompiler, Terms, encode_constant
from .sparql_results import Triples, construct, decode
from .sparql_sql import Dialect, P, Position, S, dialect_of, fmt, join, pattern
from .sparql_versions import Versions, graph_iri, ref_of

__all__ = ["Solution", "Solutions", "Triples", "compile_query", "run"]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
_SAFE = re.compile(r"[a-z0-9_]{1,40}")


@dataclass(slots=True)
class Rel:
    """A compiled graph pattern: a SELECT giving one column per variable (NULL: unbound)."""

    sql: S
    vars: list[str]
    nullable: set[str] = field(default_factory=set)
    name: str | None = None  # its common table expression, once it has one


@dataclass(frozen=True, slots=True)
class Compiled:
    form: str  # "SELECT", "ASK", "CONSTRUCT" or "DESCRIBE"
    variables: list[str]
    sql: str
    params: list[Any]
    template: list[Any] = field(default_factory=list)  # CONSTRUCT: rdflib triples


class Solution:
    """One answer: terms by variable name (``row["x"]``) or position (``row[0]``); None when
    unbound."""

    __slots__ = ("_index", "values")

    def __init__(self, index: Mapping[str, int], values: tuple[Any, ...]) -> None:
        self._index, self.values = index, values

    def __getitem__(self, key: int | str) -> Any:
        return self.values[key if isinstance(key, int) else self._index[key]]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Solution) and self.values == other.values

    def __hash__(self) -> int:
        return hash(self.values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in zip(self._index, self.values, strict=True))
        return f"<Solution {inner}>"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in zip(self._index, self.values, strict=True) if v is not None}


class Solutions(list[Solution]):
    """The answers of a SELECT, in order, with the selected ``variables``."""

    def __init__(self, variables: Sequence[str], rows: Sequence[Solution] = ()) -> None:
        super().__init__(rows)
        self.variables = list(variables)

    def serialize(self, format: str = "json") -> bytes:
        """SPARQL results as ``json``, ``xml``, ``csv`` or ``tsv`` (the W3C formats)."""
        from .sparql_results import serialize_solutions
        return serialize_solutions(self.variables, [s.values for s in self], format)


# -- parsing ---------------------------------------------------------------------------------
def parse(text: str, names: Names) -> Any:
    from pyparsing import ParseException
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        tree = parseQuery(text)
    except ParseException as exc:
        raise QuerySyntaxError(str(exc.msg), line=exc.lineno, column=exc.col) from None
    # SELECT *: the variables in scope, in order of first appearance
    star = tree[1].name == "SelectQuery" and "projection" not in tree[1]
    try:
        query = translateQuery(tree, initNs=dict(names.table))
    except Exception as exc:  # rdflib raises plain exceptions for unknown prefixes etc.
        raise QuerySyntaxError(str(exc)) from None
    setattr(query, "star", star)  # noqa: B010
    # DESCRIBE ?x: the resources named (rdflib's algebra adds a subquery's variables)
    setattr(query, "described", list(tree[1].get("var") or []))  # noqa: B010
    return query


# -- compiling -------------------------------------------------------------------------------
class Compiler:
    def __init__(self, db: Database, chain: Chain, names: Names,
                 versions: Versions | None = None) -> None:
        self.d: Dialect = dialect_of(db)
        self.chain, self.names = chain, names
        self.versions = versions
        self.terms = Terms(self.d, names)
        self.columns: dict[str, str] = {}
        self.rdf_type = names.compact(RDF + "type")
        self.aliases = 0
        self.ctes: list[S] = []
        self.recursive = False  # a property path needs WITH RECURSIVE

    def col(self, var: str) -> str:
        found = self.columns.get(var)
        if found is None:
            # lower case: PostgreSQL folds unquoted names, and ?x and ?X are different
            found = f"v_{var}" if _SAFE.fullmatch(var) else f"v{len(self.columns)}_"
            self.columns[var] = found
        return found

    def cte(self, sql: S, materialized: bool = False) -> str:
        """Name ``sql`` as a common table expression: the query stays a flat list of steps
        (SQLite's parser limits nesting; both engines inline CTEs used once).
        ``materialized``: computed once even where it is read many times (a closure's
        step)."""
        name = f"t{len(self.ctes) + 1}"
        hint = self.d.materialized if materialized else ""
        self.ctes.append(fmt(f"{name} AS {hint}({{}})", sql))
        return name

    def recursive_cte(self, build: Callable[[str], S]) -> str:
        """A recursive common table expression (columns ps, po) that refers to its name."""
        self.recursive = True
        name = f"t{len(self.ctes) + 1}"
        self.ctes.append(fmt(f"{name}(ps, po) AS ({{}})", build(name)))
        return name

    def src(self, rel: Rel) -> S:
        if rel.name is None:
            rel.name = self.cte(rel.sql)
        return S(rel.name)

    def with_ctes(self, sql: S) -> S:
        return fmt("WITH {} {}", join(", ", self.ctes), sql) if self.ctes else sql

    def alias(self) -> str:
        self.aliases += 1
        return f"q{self.aliases}"

    def exprs(self, env: Mapping[str, str], alias: str | None = None) -> ExprCompiler:
        return ExprCompiler(self.terms, env, alias, exists=self.exists)

    def exists(self, graph: Any, env: Mapping[str, str]) -> S:
        """``EXISTS { graph }`` for the solution whose variables are ``env``: a correlated
        SQL ``EXISTS`` over the pattern, joined on the shared variables as pyoxigraph does
        (compatible bindings). The pattern's own FILTERs also see the outer variables."""
        filters: list[Any] = []
        while getattr(graph, "name", None) == "Filter":
            filters.append(graph.expr)
            graph = graph.p
        inner = self.graph_pattern(graph)
        i = self.alias()
        conds: list[S] = []
        merged = dict(env)
        for v in inner.vars:
            c = f"{i}.{self.col(v)}"
            if v in env:
                o = env[v]
                conds.append(S(f"({o} IS NULL OR {c} IS NULL OR {o} = {c})"))
                merged[v] = f"COALESCE({c}, {o})"
            else:
                merged[v] = c
        conds += [self.exprs(merged).boolean(f) for f in filters]
        where = join(" AND ", conds) if conds else S("1 = 1")
        return fmt(f"EXISTS (SELECT 1 FROM {{}} {i} WHERE {{}})", self.src(inner), where)

    def graph(self, node: Any) -> Rel:
        """``GRAPH <palimpsest:ref/NAME> { p }``: ``p`` in the state at that ref;
        ``GRAPH ?g { p }``: ``p`` at every branch and tag, ``?g`` naming it
        (:mod:`.sparql_versions`)."""
        from rdflib import URIRef, Variable

        if self.versions is None:
            raise UnsupportedQuery("GRAPH needs a view opened from a repository at a ref",
                                   "GRAPH")
        term = node.term
        if isinstance(term, URIRef):
            ref = ref_of(str(term))
            if ref is None:  # not a version: no such named graph, no solutions
                rel = self.graph_pattern(node.p)
                q = self.alias()
                return Rel(fmt(f"SELECT {{}} FROM {{}} {q} WHERE 1 = 0",
                               self.columns_of(rel, q), self.src(rel)), rel.vars, rel.nullable)
            return self.in_chain(self.versions.chain(ref), node.p)
        if not isinstance(term, Variable):
            raise UnsupportedQuery("GRAPH takes an IRI or a variable", "GRAPH")
        var = str(term)
        out: Rel | None = None
        for ref in self.versions.names():
            rel = self.in_chain(self.versions.chain(ref), node.p)
            q = self.alias()
            iri = "<" + self.names.compact(graph_iri(ref))
            if var in rel.vars:  # ?g inside the pattern too
                sql = fmt(f"SELECT {{}} FROM {{}} {q} WHERE {q}.{self.col(var)} = {{}}",
                          self.columns_of(rel, q), self.src(rel), P(iri))
            else:
                sql = fmt(f"SELECT {{}}, CAST({{}} AS TEXT) AS {self.col(var)} FROM {{}} {q}",
                          self.columns_of(rel, q), P(iri), self.src(rel))
            tagged = Rel(sql, [*rel.vars, var] if var not in rel.vars else rel.vars,
                         rel.nullable)
            out = tagged if out is None else self.union(out, tagged)
        if out is None:
            return self.values([])
        return out

    def in_chain(self, chain: Chain, node: Any) -> Rel:
        """Compile ``node`` against the state of another commit."""
        saved, self.chain = self.chain, chain
        try:
            return self.graph_pattern(node)
        finally:
            self.chain = saved

    def minus(self, a: Rel, b: Rel) -> Rel:
        """``a MINUS b``: the solutions of ``a`` with no compatible solution in ``b`` sharing
        a bound variable."""
        shared = [v for v in a.vars if v in b.vars]
        if not shared:
            return a
        qa, qb = self.alias(), self.alias()
        compat: list[S] = []
        overlap: list[str] = []
        for v in shared:
            ca, cb = f"{qa}.{self.col(v)}", f"{qb}.{self.col(v)}"
            if v in a.nullable or v in b.nullable:
                compat.append(S(f"({ca} IS NULL OR {cb} IS NULL OR {ca} = {cb})"))
                overlap.append(f"({ca} IS NOT NULL AND {cb} IS NOT NULL)")
            else:
                compat.append(S(f"{ca} = {cb}"))
                overlap.append("1 = 1")
        compat.append(S("(" + " OR ".join(overlap) + ")"))
        sql = fmt(f"SELECT {{}} FROM {{}} {qa} WHERE NOT EXISTS (SELECT 1 FROM {{}} {qb} "
                  "WHERE {})", self.columns_of(a, qa), self.src(a), self.src(b),
                  join(" AND ", compat))
        return Rel(sql, a.vars, a.nullable)

    # -- patterns --------------------------------------------------------------------------
    def position(self, term: Any, what: str) -> Position:
        from rdflib import BNode, Literal, URIRef, Variable

        if isinstance(term, Variable):
            return ("var", self.col(str(term)))
        if isinstance(term, BNode):  # blank nodes in patterns are variables nobody selects
            return ("var", self.col("_:" + str(term)))
        if isinstance(term, URIRef):
            return ("node", self.names.compact(str(term)))
        if isinstance(term, Literal):
            encoded = encode_constant(term, self.names)
            return ("double", encoded[1:]) if encoded[0] == "d" else ("literal", encoded)
        raise UnsupportedQuery(f"{type(term).__name__} in a triple pattern ({what})",
                               "property path" if what == "predicate" else type(term).__name__)

    def bgp(self, node: Any) -> Rel:
        from rdflib import BNode, Variable
        from rdflib.paths import Path

        rels: list[Rel] = []
        for s, p, o in node.triples:
            if isinstance(p, Path):
                rels.append(self.path(s, p, o))
                continue
            s_pos = self.position(s, "subject")
            p_pos = self.position(p, "predicate")
            o_pos = self.position(o, "object")
            vars_: list[str] = []
            for term in (s, p, o):
                if isinstance(term, Variable | BNode):
                    name = str(term) if isinstance(term, Variable) else "_:" + str(term)
                    if name not in vars_:
                        vars_.append(name)
            cols = [self.col(v) for v in vars_]
            rels.append(Rel(pattern(self.d, self.chain, s_pos, p_pos, o_pos, self.rdf_type,
                                    cols), vars_))
        if not rels:
            return Rel(S("SELECT 1 AS z"), [])
        out = rels[0]
        for rel in rels[1:]:
            out = self.join(out, rel)
        return out

    def path(self, s: Any, path: Any, o: Any) -> Rel:
        """A triple pattern with a property path (:mod:`.sparql_paths`)."""
        from .sparql_paths import pairs

        ends = [self.position(s, "subject"), self.position(o, "object")]
        consts = [None if kind == "var" else self.encoded(kind, value) for kind, value in ends]
        name = pairs(self, path, consts[0], consts[1])
        cols: list[S] = []
        where: list[S] = []
        vars_: list[str] = []
        for (_kind, value), const, side, term in zip(ends, consts, ("ps", "po"), (s, o),
                                                      strict=True):
            if const is not None:
                where.append(fmt(f"x.{side} = {{}}", P(const)))
            elif value in [self.col(v) for v in vars_]:
                where.append(S("x.ps = x.po"))
            else:
                vars_.append(self.var_name(term))
                cols.append(S(f"x.{side} AS {value}"))
        sql = fmt(f"SELECT {{}} FROM {name} x", self.select_list(cols))
        if where:
            sql = fmt("{} WHERE {}", sql, join(" AND ", where))
        return Rel(sql, vars_)

    def encoded(self, kind: str, value: str) -> str:
        """The encoded term of a constant position."""
        return "<" + value if kind == "node" else "d" + value if kind == "double" else value

    @staticmethod
    def var_name(term: Any) -> str:
        from rdflib import Variable

        return str(term) if isinstance(term, Variable) else "_:" + str(term)

    def select_list(self, items: list[S]) -> S:
        return join(", ", items) if items else S("1 AS z")

    def join(self, a: Rel, b: Rel, expr: Any = None, left: bool = False) -> Rel:
        qa, qb = self.alias(), self.alias()
        env: dict[str, str] = {}
        conds: list[S] = []
        for v in a.vars:
            env[v] = f"{qa}.{self.col(v)}"
        for v in b.vars:
            c = self.col(v)
            if v not in env:
                env[v] = f"{qb}.{c}"
                continue
            ca, cb = f"{qa}.{c}", f"{qb}.{c}"
            if v in a.nullable or v in b.nullable:
                conds.append(S(f"({ca} = {cb} OR {ca} IS NULL OR {cb} IS NULL)"))
                env[v] = f"COALESCE({ca}, {cb})"
            else:
                conds.append(S(f"{ca} = {cb}"))
        if expr is not None:
            conds.append(self.exprs(env).boolean(expr))
        vars_ = [*a.vars, *[v for v in b.vars if v not in a.vars]]
        nullable = a.nullable | b.nullable
        if left:
            nullable |= {v for v in b.vars if v not in a.vars}
        cols = self.select_list([S(f"{env[v]} AS {self.col(v)}") for v in vars_])
        on = join(" AND ", conds) if conds else S("1 = 1")
        kind = "LEFT JOIN" if left else "JOIN"
        sql = fmt(f"SELECT {{}} FROM {{}} {qa} {kind} {{}} {qb} ON {{}}", cols, self.src(a),
                  self.src(b), on)
        return Rel(sql, vars_, nullable)

    def union(self, a: Rel, b: Rel) -> Rel:
        vars_ = [*a.vars, *[v for v in b.vars if v not in a.vars]]

        def side(rel: Rel) -> S:
            q = self.alias()
            cols = [S(f"{q}.{self.col(v)} AS {self.col(v)}" if v in rel.vars
                      else f"CAST(NULL AS TEXT) AS {self.col(v)}") for v in vars_]
            return fmt(f"SELECT {{}} FROM {{}} {q}", self.select_list(cols), self.src(rel))

        nullable = a.nullable | b.nullable | (set(a.vars) ^ set(b.vars))
        return Rel(fmt("{} UNION ALL {}", side(a), side(b)), vars_, nullable)

    def env(self, rel: Rel, q: str) -> dict[str, str]:
        return {v: f"{q}.{self.col(v)}" for v in rel.vars}

    def columns_of(self, rel: Rel, q: str) -> S:
        return self.select_list([S(f"{q}.{self.col(v)} AS {self.col(v)}") for v in rel.vars])

    def filter(self, rel: Rel, expr: Any) -> Rel:
        q = self.alias()
        exprs = self.exprs(self.env(rel, q), q)
        test = exprs.boolean(expr)
        return Rel(fmt(f"SELECT {{}} FROM {{}} {q} WHERE {{}}", self.columns_of(rel, q),
                       exprs.below(self.src(rel), self.cte), test), rel.vars, rel.nullable)

    def extend(self, rel: Rel, var: str, expr: Any) -> Rel:
        q = self.alias()
        exprs = self.exprs(self.env(rel, q), q)
        value = exprs.term(expr)
        cols = [S(f"{q}.{self.col(v)} AS {self.col(v)}") for v in rel.vars]
        cols.append(fmt(f"{{}} AS {self.col(var)}", value))
        return Rel(fmt(f"SELECT {{}} FROM {{}} {q}", join(", ", cols),
                       exprs.below(self.src(rel), self.cte)),
                   [*rel.vars, var], rel.nullable | {var})

    def values(self, rows: list[dict[Any, Any]]) -> Rel:
        """VALUES: one SELECT of parameters per row, UNDEF as NULL."""
        vars_: list[str] = []
        for row in rows:
            vars_ += [str(v) for v in row if str(v) not in vars_]
        nullable: set[str] = set()
        selects: list[S] = []
        for row in rows:
            by_name = {str(k): v for k, v in row.items()}
            cols: list[S] = []
            for v in vars_:
                value = by_name.get(v, "UNDEF")
                if isinstance(value, str) and value == "UNDEF":
                    nullable.add(v)
                    cols.append(S(f"CAST(NULL AS TEXT) AS {self.col(v)}"))
                else:
                    encoded = encode_constant(value, self.names)
                    cols.append(S("CAST(", P(encoded), f" AS TEXT) AS {self.col(v)}"))
            selects.append(fmt("SELECT {}", self.select_list(cols)))
        if not selects:
            empty = [S(f"CAST(NULL AS TEXT) AS {self.col(v)}") for v in vars_]
            return Rel(fmt("SELECT {} WHERE 1 = 0", self.select_list(empty)), vars_)
        return Rel(join(" UNION ALL ", selects), vars_, nullable)

    def aggregate_join(self, node: Any) -> Rel:
        """GROUP BY variables (or one group) and the aggregates over each group."""
        from rdflib import Variable

        inner = self.graph_pattern(node.p.p)
        q = self.alias()
        env = self.env(inner, q)
        keys: list[S] = []
        for key in node.p.expr or []:
            if not isinstance(key, Variable):
                raise UnsupportedQuery("GROUP BY an expression is not supported yet (group by "
                                       "a variable bound with BIND)", "GROUP BY expression")
            if str(key) in env:
                keys.append(S(env[str(key)]))
        exprs = self.exprs(env)
        cols: list[S] = []
        out: list[str] = []
        for agg in node.A:
            res = str(agg.res)
            cols.append(fmt(f"{{}} AS {self.col(res)}", self.aggregate(agg, exprs)))
            out.append(res)
        sql = fmt(f"SELECT {{}} FROM {{}} {q}", self.select_list(cols), self.src(inner))
        if keys:
            sql = fmt("{} GROUP BY {}", sql, join(", ", keys))
        elif node.p.expr:  # grouped by unbound variables only: one group, unless no rows
            sql = fmt("{} HAVING count(*) > 0", sql)
        return Rel(sql, out, set(out))

    def aggregate(self, agg: Any, exprs: ExprCompiler) -> S:
        """An aggregate as an encoded term (see docs/sparql.md for the result types)."""
        t, d = self.terms, self.d
        name = agg.name.removeprefix("Aggregate_")
        distinct = "DISTINCT " if agg.get("distinct") == "DISTINCT" else ""
        if name == "Count":
            if agg.vars == "*":
                if distinct:
                    raise UnsupportedQuery("COUNT(DISTINCT *) is not supported yet",
                                           "COUNT(DISTINCT *)")
                return S("('i' || CAST(count(*) AS TEXT))")
            return fmt(f"('i' || CAST(count({distinct}{{}}) AS TEXT))", exprs.term(agg.vars))
        v = exprs.term(agg.vars)
        if name == "Sample":
            return fmt("min({})", v)
        if name not in ("Sum", "Avg", "Min", "Max"):
            label = {"GroupConcat": "GROUP_CONCAT"}.get(name, name.upper())
            raise UnsupportedQuery(f"aggregate {label} is not supported yet", label)
        numbers = fmt("count(CASE WHEN {} THEN 1 END)", t.is_numeric(v))
        ints = fmt("count(CASE WHEN {} = 'i' THEN 1 END)", t.tag(v))
        whole = fmt(f"CAST({{}} AS {'bigint' if d.postgres else 'INTEGER'})", t.payload(v))
        real = fmt(f"CAST({{}} AS {'double precision' if d.postgres else 'REAL'})",
                   t.payload(v))
        fn = {"Sum": "sum", "Avg": "avg", "Min": "min", "Max": "max"}[name]
        if name != "Avg":
            as_int = fmt(f"('i' || CAST({fn}({distinct}CASE WHEN {{}} = 'i' THEN {{}} END) "
                         "AS TEXT))", t.tag(v), whole)
        else:
            as_int = fmt(f"('n' || {self.float_text(f'avg({distinct}{{}})')})",
                         fmt("CASE WHEN {} = 'i' THEN {} END", t.tag(v), whole))
        as_real = fmt(f"('f' || {self.float_text(f'{fn}({distinct}{{}})')})",
                      fmt("CASE WHEN {} THEN {} END", t.is_numeric(v), real))
        empty = {"Sum": "'i0'", "Avg": "'i0'", "Min": "NULL", "Max": "NULL"}[name]
        strings = S("NULL")
        if name in ("Min", "Max"):  # simple strings compare by code point
            strings = fmt(f"CASE WHEN count(CASE WHEN {{}} = '\"' THEN 1 END) = count({{}}) "
                          f"THEN {fn}({d.text('{}')}) END", t.tag(v), v, v)
        # as pyoxigraph: an unbound value makes the aggregate an error (unbound)
        return fmt("(CASE WHEN count(*) = 0 THEN " + empty + " WHEN count({}) < count(*) "
                   "THEN NULL WHEN {} < count({}) THEN {} WHEN {} = count({}) THEN {} "
                   "ELSE {} END)", v, numbers, v, strings, ints, v, as_int, as_real)

    def float_text(self, expr: str) -> str:
        """SQL text of a double that reads back as the same double."""
        if self.d.postgres:
            return f"CAST(CAST({expr} AS double precision) AS TEXT)"
        return f"printf('%!.17g', {expr})"

    def graph_pattern(self, node: Any) -> Rel:
        name = getattr(node, "name", type(node).__name__)
        if name == "BGP":
            return self.bgp(node)
        if name == "Join":
            return self.join(self.graph_pattern(node.p1), self.graph_pattern(node.p2))
        if name == "LeftJoin":
            expr = node.expr
            if getattr(expr, "name", None) == "TrueFilter":
                expr = None
            return self.join(self.graph_pattern(node.p1), self.graph_pattern(node.p2), expr,
                             left=True)
        if name == "Union":
            return self.union(self.graph_pattern(node.p1), self.graph_pattern(node.p2))
        if name == "Filter":
            return self.filter(self.graph_pattern(node.p), node.expr)
        if name == "Graph":
            return self.graph(node)
        if name == "Minus":
            return self.minus(self.graph_pattern(node.p1), self.graph_pattern(node.p2))
        if name == "Extend":
            return self.extend(self.graph_pattern(node.p), str(node.var), node.expr)
        if name == "AggregateJoin":
            return self.aggregate_join(node)
        if name == "ToMultiSet" and getattr(node.p, "name", None) == "values":
            return self.values(node.p.res)
        if name == "ToMultiSet" and isinstance(node.p, list) and not node.p:
            return self.values([])  # VALUES with no rows
        if name == "ToMultiSet":
            return self.subquery(node.p)
        labels = {"Minus": "MINUS", "Graph": "GRAPH", "ToMultiSet": "subquery",
                  "values": "VALUES", "Group": "GROUP BY",
                  "Project": "subquery", "Distinct": "subquery", "Slice": "subquery",
                  "OrderBy": "subquery", "ServiceGraphPattern": "SERVICE"}
        label = labels.get(name, name)
        raise UnsupportedQuery(f"{label} is not supported by palimpsest's SPARQL yet", label)

    # -- the query -------------------------------------------------------------------------
    def select(self, node: Any, star: bool = False) -> tuple[list[str], S, set[str]]:
        """A SELECT's solution modifiers (slice, distinct, projection, order) over its
        pattern: the selected variables, the SQL, the variables that may be unbound."""
        limit = offset = None
        distinct = False
        if node.name == "Slice":
            offset, limit, node = node.start or None, node.length, node.p
        if node.name in ("Distinct", "Reduced"):
            distinct, node = node.name == "Distinct", node.p
        projected: list[str] | None = None
        if node.name == "Project":
            projected, node = [str(v) for v in node.PV], node.p
        order: list[Any] = []
        if node.name == "OrderBy":
            order, node = list(node.expr), node.p
        rel = self.graph_pattern(node)
        if projected is not None and star:
            projected = [v for v in rel.vars if not v.startswith("_:")]
        variables = projected if projected is not None else [
            v for v in rel.vars if not v.startswith("_:")]
        q = self.alias()
        env = self.env(rel, q)
        cols = [S(f"{env[v]} AS {self.col(v)}" if v in env
                  else f"CAST(NULL AS TEXT) AS {self.col(v)}") for v in variables]
        keys: list[S] = []
        if order:
            if distinct and any((_vars(c.expr) & set(rel.vars)) - set(variables)
                                for c in order):
                raise UnsupportedQuery("ORDER BY a variable that is not selected, with "
                                       "DISTINCT", "ORDER BY")
            order_env = ({v: f"d.{self.col(v)}" for v in variables} if distinct else env)
            exprs = self.exprs(order_env)
            for cond in order:
                expr, desc = cond, False
                if getattr(cond, "name", None) == "OrderCondition":
                    expr, desc = cond.expr, cond.order == "DESC"
                keys += self.order_keys(exprs.term(expr), desc)
        source = self.src(rel)
        sql = fmt(f"SELECT {'DISTINCT ' if distinct else ''}{{}} FROM {{}} {q}",
                  self.select_list(cols), source)
        if distinct and keys:
            sql = fmt("SELECT * FROM ({}) d", sql)
        if keys:
            sql = fmt("{} ORDER BY {}", sql, join(", ", keys))
        if limit is not None or offset:
            sql = fmt("{} LIMIT {} OFFSET {}", sql, P(limit if limit is not None else 2**63 - 1),
                      P(offset or 0))
        nullable = {v for v in variables if v in rel.nullable or v not in env}
        return variables, sql, nullable

    def subquery(self, node: Any) -> Rel:
        variables, sql, nullable = self.select(node)
        return Rel(sql, variables, nullable)

    def render(self, sql: S) -> tuple[str, list[Any]]:
        text, params = self.with_ctes(sql).render()
        if self.recursive:
            text = "WITH RECURSIVE" + text.removeprefix("WITH")
        return text, params

    def describe(self, algebra: Any, targets: list[Any]) -> Compiled:
        """DESCRIBE: the triples whose subject is one of the described resources (the IRIs
        named, and the values of the variables named, as pyoxigraph does)."""
        from rdflib import URIRef, Variable

        node = algebra.p
        while node is not None and node.name in ("Distinct", "Reduced", "Project", "Slice",
                                                  "OrderBy"):
            node = node.p
        rel = self.graph_pattern(node) if node is not None else None
        parts: list[S] = []
        for target in targets:
            if isinstance(target, URIRef):
                parts.append(fmt("SELECT CAST({} AS TEXT) AS r", P(
                    "<" + self.names.compact(str(target)))))
            elif isinstance(target, Variable) and rel is not None and str(target) in rel.vars:
                c = self.col(str(target))
                parts.append(fmt(f"SELECT w.{c} AS r FROM {{}} w WHERE w.{c} IS NOT NULL",
                                 self.src(rel)))
        if not parts:
            parts.append(S("SELECT CAST(NULL AS TEXT) AS r WHERE 1 = 0"))
        described = self.cte(join(" UNION ", parts))
        triples = self.cte(pattern(self.d, self.chain, ("var", "ds"), ("var", "dp"),
                                   ("var", "do"), self.rdf_type, ["ds", "dp", "do"]))
        text, params = self.render(S(f"SELECT DISTINCT t.ds, t.dp, t.do FROM {triples} t "
                                     f"WHERE t.ds IN (SELECT r FROM {described})"))
        return Compiled("DESCRIBE", ["s", "p", "o"], text, params)

    def query(self, query: Any) -> Compiled:
        algebra = query.algebra
        form = algebra.name
        if getattr(algebra, "datasetClause", None):
            raise UnsupportedQuery("FROM / FROM NAMED are not supported", "FROM")
        if form == "AskQuery":
            _, sql, _ = self.select(algebra.p)
            ask, params = self.render(fmt("SELECT 1 FROM ({}) a LIMIT 1", sql))
            return Compiled("ASK", [], ask, params)
        if form == "DescribeQuery":
            return self.describe(algebra, getattr(query, "described", None) or algebra.PV)
        if form not in ("SelectQuery", "ConstructQuery"):
            label = form.removesuffix("Query").upper()
            raise UnsupportedQuery(f"{label} queries are not supported", label)
        variables, sql, _ = self.select(algebra.p, getattr(query, "star", False)
                                        or form == "ConstructQuery")
        text, params = self.render(sql)
        if form == "ConstructQuery":
            template = algebra.template if algebra.template is not None else \
                _where_triples(algebra.p)  # CONSTRUCT WHERE { ... }: the pattern is the template
            return Compiled("CONSTRUCT", variables, text, params, list(template))
        return Compiled("SELECT", variables, text, params)

    def order_keys(self, t: S, desc: bool) -> list[S]:
        terms = self.terms
        rank = fmt("(CASE WHEN {} IS NULL THEN 0 WHEN {} THEN 1 WHEN {} THEN 2 WHEN {} THEN 3 "
                   "ELSE 4 END)", t, terms.is_blank(t), terms.is_iri(t), terms.is_numeric(t))
        suffix = " DESC" if desc else ""
        return [fmt("{}" + suffix, rank), fmt("{}" + suffix, terms.number(t)),
                fmt("{}" + suffix, terms.string_key(t))]


def _vars(expr: Any) -> set[str]:
    from rdflib import Variable

    if isinstance(expr, Variable):
        return {str(expr)}
    found: set[str] = set()
    if isinstance(expr, list):
        for v in expr:
            found |= _vars(v)
    elif hasattr(expr, "values") and not isinstance(expr, str):
        for v in expr.values():
            found |= _vars(v)
    return found


def _names(prefixes: Mapping[str, str] | None) -> Names:
    try:
        return Names(prefixes)
    except ValueError as exc:
        raise QueryError(f"{exc}; a prefix is a name like 'ex' (or '' for bare names) and a "
                         "namespace IRI") from None


def compile_query(db: Database, chain: Chain, text: str,
                  prefixes: Mapping[str, str] | None = None,
                  versions: Versions | None = None) -> Compiled:
    names = _names(prefixes)
    return Compiler(db, chain, names, versions).query(parse(text, names))


def run(db: Database, chain: Chain, text: str, prefixes: Mapping[str, str] | None = None,
        timeout: float | None = None,
        versions: Versions | None = None) -> Solutions | bool | Triples:
    """Answer a SELECT (:class:`Solutions`), an ASK (bool), or a CONSTRUCT or DESCRIBE
    (:class:`Triples`) at the chain's commit."""
    names = _names(prefixes)
    compiled = Compiler(db, chain, names, versions).query(parse(text, names))
    with db.deadline(timeout):
        rows = db.all(compiled.sql, compiled.params)
    if compiled.form == "ASK":
        return bool(rows)
    if compiled.form in ("CONSTRUCT", "DESCRIBE"):
        from rdflib import Variable

        template = compiled.template if compiled.form == "CONSTRUCT" else [
            tuple(Variable(v) for v in ("s", "p", "o"))]
        try:
            return construct(template, compiled.variables, rows, names)
        except ValueError as exc:
            raise QueryError(f"cannot answer as RDF: {exc}") from None
    index = {v: i for i, v in enumerate(compiled.variables)}
    out = Solutions(compiled.variables)
    try:
        for row in rows:
            out.append(Solution(index, tuple(decode(v, names) for v in row[:len(index)])))
    except ValueError as exc:  # a name that does not map to an IRI (docs/rdf.md, Names)
        raise QueryError(f"cannot answer as RDF: {exc}") from None
    return out


def _where_triples(node: Any) -> list[Any]:
    """The triples of a short-form ``CONSTRUCT WHERE`` pattern (a basic graph pattern, which
    rdflib wraps in projections and leaves the template empty)."""
    while getattr(node, "name", None) != "BGP":
        if getattr(node, "p", None) is None:
            raise UnsupportedQuery("CONSTRUCT WHERE takes a basic graph pattern only: write "
                                   "CONSTRUCT { template } WHERE { pattern }", "CONSTRUCT WHERE")
        node = node.p
    return list(node.triples)

