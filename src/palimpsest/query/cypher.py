"""openCypher read queries at any state, compiled to one SQL query (docs/cypher.md).

graphglot parses the text (:mod:`.cypher_parse`); this module compiles the clauses to SQL over
the rows table with the visibility rule of the view's commit: every node pattern is a visible
entity row, every relationship pattern a visible relation row, variable-length relationships a
recursive common table expression over the visible relations, ``WITH`` a common table
expression, ``OPTIONAL MATCH`` a left join. Labels are entity types, relationship types are
relation types, properties are the JSON properties, ``id(n)`` is the palimpsest id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..codec import check_json, decode
from ..errors import InvalidValue, QueryError, UnsupportedQuery
from ..storage.base import Database
from ..storage.visibility import Chain, visible
from ..types import CypherResult, Entity, Relation
from .cypher_ir import (
    AGGREGATES,
    Const,
    Expr,
    Func,
    Match,
    NodePat,
    Op,
    Param,
    Path,
    Projection,
    Prop,
    RelPat,
    Unwind,
    Var,
    has_aggregate,
)
from .cypher_sql import NULL, SQLite, dialect_for, doc, lit
from .sparql_sql import Dialect as SparqlDialect
from .sparql_sql import P, PostgresDialect, S, fmt, join, with_params

__all__ = ["Compiled", "compile_query", "run"]

_COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")


# -- bindings: what a variable stands for -------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NodeB:
    key: S
    type: S
    value: S  # JSON object text of the properties


@dataclass(frozen=True, slots=True)
class RelB:
    key: S
    type: S
    source: S
    target: S
    value: S


@dataclass(frozen=True, slots=True)
class V:
    """A compiled expression: ``json`` (JSON text or NULL), ``bool`` (an SQL truth value),
    ``float`` (JSON text of a number answered as a float), ``nodes`` / ``rels`` (JSON text of a
    list of elements), or an element (``node`` / ``rel``, with its binding)."""

    sql: S
    kind: str
    element: NodeB | RelB | None = None


Binding = NodeB | RelB | V


class _Unbound(QueryError):
    def __init__(self, name: str) -> None:
        super().__init__(f"variable `{name}` is not defined")
        self.name = name


@dataclass(slots=True)
class Frame:
    """The FROM clause, conditions and variables of the SELECT being built."""

    base: S
    joins: list[S] = field(default_factory=list)
    where: list[S] = field(default_factory=list)
    scope: dict[str, Binding] = field(default_factory=dict)

    def from_sql(self) -> S:
        return S(self.base, *[S(" ", j) for j in self.joins])

    def where_sql(self) -> S:
        return S(" WHERE ", join(" AND ", self.where)) if self.where else S("")


@dataclass(frozen=True, slots=True)
class Compiled:
    columns: list[str]
    kinds: list[str]  # one per column: json, float, node, rel, nodes, rels
    sql: str
    params: list[Any]


class Compiler:
    def __init__(self, db: Database, chain: Chain, params: Mapping[str, Any]) -> None:
        self.d: SQLite = dialect_for(db)
        self.re: SparqlDialect = PostgresDialect() if self.d.postgres else SparqlDialect()
        self.chain = chain
        self.params = params
        self.ctes: list[S] = []
        self.n = 0

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # -- the query ----------------------------------------------------------------------------
    def query(self, clauses: list[Any]) -> Compiled:
        frame = Frame(S("(SELECT 1 AS one) s0"))
        for clause in clauses[:-1]:
            if isinstance(clause, Match):
                if clause.optional:
                    self.optional(frame, clause)
                else:
                    self.match(frame, clause)
            elif isinstance(clause, Unwind):
                self.unwind(frame, clause)
            else:
                frame = self.with_(frame, clause)
        final = clauses[-1]
        assert isinstance(final, Projection)
        select, columns, kinds = self.project(frame, final)
        head = S("WITH RECURSIVE ", join(", ", self.ctes), " ") if self.ctes else S("")
        sql, params = S(head, select).render()
        return Compiled(columns, kinds, sql, params)

    # -- MATCH ----------------------------------------------------------------------------------
    def match(self, frame: Frame, clause: Match) -> None:
        rel_keys: list[S] = []
        paths_of: list[S] = []
        for path in clause.paths:
            self.path(frame, path, rel_keys, paths_of)
        for i, a in enumerate(rel_keys):  # relationship isomorphism inside one MATCH
            for b in rel_keys[i + 1:]:
                frame.where.append(fmt("{} <> {}", a, b))
            for p in paths_of:
                frame.where.append(fmt("{} = 0", self.d.pos(fmt(f"{self.d.sep} || {{}} || "
                                                                 f"{self.d.sep}", a), p)))
        if clause.where is not None:
            frame.where.append(self.pred(frame.scope, clause.where))

    def path(self, frame: Frame, path: Path, rel_keys: list[S], paths_of: list[S]) -> None:
        if path.name is not None:
            raise UnsupportedQuery("named paths (p = (...)) are not supported yet", "named path")
        seeds = [self.seed(frame, n) for n in path.nodes]
        nodes = [self.node(frame, n) for n in path.nodes]
        for i, rel in enumerate(path.rels):
            left, right = nodes[i], nodes[i + 1]
            if rel.varlen:
                paths_of.append(self.varlen(frame, rel, left, right, seeds[i], seeds[i + 1]))
            else:
                rel_keys.append(self.rel(frame, rel, left, right))

    def node(self, frame: Frame, pat: NodePat) -> NodeB:
        bound = frame.scope.get(pat.var) if pat.var else None
        if bound is not None:
            if not isinstance(bound, NodeB):
                raise QueryError(f"`{pat.var}` is not a node")
            node = bound
        else:
            alias = self.fresh("n")
            frame.joins.append(S(f"JOIN rows {alias} ON 1 = 1"))
            frame.where.append(S(f"{alias}.kind = 'e' AND {alias}.op = 1"))
            frame.where.append(self.visible("e", alias, by_position=False))
            node = NodeB(S(f"{alias}.key"), S(f"{alias}.type"), S(doc(f"{alias}.value")))
            if pat.var:
                frame.scope[pat.var] = node
        for alternatives in pat.labels:
            frame.where.append(self.one_of(node.type, alternatives))
        for key, expr in pat.props.items():
            frame.where.append(self.equal(self.prop(V(node.value, "json"), key),
                                          self.expr(frame.scope, expr)))
        return node

    def one_of(self, column: S, names: list[str]) -> S:
        return fmt(f"{{}} IN ({', '.join('{}' for _ in names)})", column,
                   *[P(n) for n in names])

    def visible(self, kind: str, alias: str, by_position: bool = True) -> S:
        sql, params = visible(self.chain, kind, alias, by_position=by_position)
        return with_params(sql, params)

    def rel(self, frame: Frame, pat: RelPat, left: NodeB, right: NodeB) -> S:
        bound = frame.scope.get(pat.var) if pat.var else None
        if bound is not None:
            if not isinstance(bound, RelB):
                raise QueryError(f"`{pat.var}` is not a relationship")
            rel = bound
        else:
            alias = self.fresh("r")
            frame.joins.append(S(f"JOIN rows {alias} ON 1 = 1"))
            frame.where.append(S(f"{alias}.kind = 'r' AND {alias}.op = 1"))
            frame.where.append(self.visible("r", alias, by_position=False))
            rel = RelB(S(f"{alias}.key"), S(f"{alias}.type"), S(f"{alias}.source"),
                       S(f"{alias}.target"), S(doc(f"{alias}.value")))
            if pat.var:
                frame.scope[pat.var] = rel
        if pat.types:
            frame.where.append(self.one_of(rel.type, pat.types))
        for key, expr in pat.props.items():
            frame.where.append(self.equal(self.prop(V(rel.value, "json"), key),
                                          self.expr(frame.scope, expr)))
        out = fmt("{} = {} AND {} = {}", rel.source, left.key, rel.target, right.key)
        back = fmt("{} = {} AND {} = {}", rel.source, right.key, rel.target, left.key)
        frame.where.append({"out": out, "in": back}.get(pat.direction)
                           or fmt("(({}) OR ({}))", out, back))
        return rel.key

    def seed(self, frame: Frame, pat: NodePat) -> S | None:
        """The keys a new node pattern can match when its labels or constant properties narrow
        it (a variable-length path starts its recursion there), else None."""
        if (pat.var and pat.var in frame.scope) or not (pat.labels or pat.props):
            return None
        if not all(isinstance(e, Const | Param) for e in pat.props.values()):
            return None
        conds = [S("e.kind = 'e' AND e.op = 1"), self.visible("e", "e")]
        conds += [self.one_of(S("e.type"), names) for names in pat.labels]
        conds += [self.equal(self.prop(V(S(doc("e.value")), "json"), key), self.expr({}, e))
                  for key, e in pat.props.items()]
        return S("SELECT e.key FROM rows e WHERE ", join(" AND ", conds))

    def varlen(self, frame: Frame, pat: RelPat, left: NodeB, right: NodeB,
               left_seed: S | None = None, right_seed: S | None = None) -> S:
        """A recursive CTE of the paths along visible relations (no relation twice in a path),
        started from the narrower end when one is narrowed; returns the SQL of the joined
        path's relation keys (``sep key sep key sep``)."""
        seed_keys = left_seed
        if left_seed is None and right_seed is not None:  # walk backwards from the right end
            seed_keys, left, right = right_seed, right, left
            flip = {"out": "in", "in": "out", "both": "both"}[pat.direction]
            pat = RelPat(pat.var, pat.types, pat.props, flip, pat.low, pat.high, pat.varlen)
        if seed_keys is not None:  # computed once, not once per relation
            name = self.fresh("sd")
            self.ctes.append(S(f"{name} AS {self.re.materialized}(", seed_keys, ")"))
            seed_keys = S(f"SELECT key FROM {name}")
        if pat.var is not None:
            raise UnsupportedQuery("a variable on a variable-length relationship "
                                   "(-[r*1..3]->) is not supported yet; leave it unnamed",
                                   "variable-length relationship variable")
        if pat.high is not None and pat.low is not None and pat.high < pat.low:
            frame.where.append(S("1 = 0"))
            return S("''")
        sep = self.d.sep
        steps, paths = self.fresh("st"), self.fresh("vl")
        conds: list[S] = [S("r.kind = 'r' AND r.op = 1"), self.visible("r", "r")]
        if pat.types:
            conds.append(self.one_of(S("r.type"), pat.types))
        for key, expr in pat.props.items():
            if not isinstance(expr, Const | Param):
                raise UnsupportedQuery("properties of a variable-length relationship must be "
                                       "constants or parameters", "variable-length properties")
            conds.append(self.equal(self.prop(V(S(doc("r.value")), "json"), key),
                                    self.expr({}, expr)))
        where = join(" AND ", conds)
        branches = []
        if pat.direction in ("out", "both"):
            branches.append(S("SELECT r.key AS k, r.source AS a, r.target AS b FROM rows r "
                              "WHERE ", where))
        if pat.direction in ("in", "both"):
            branches.append(S("SELECT r.key AS k, r.target AS a, r.source AS b FROM rows r "
                              "WHERE ", where))
        self.ctes.append(S(f"{steps} AS {self.mat()}(", join(" UNION ALL ", branches), ")"))
        low = 1 if pat.low is None else pat.low
        depth = "" if pat.high is None else f" AND v.d < {int(pat.high)}"
        if low == 0:
            seed = S("SELECT e.key AS s, e.key AS e, 0 AS d, ", self.d.text(S(sep)),
                     " AS p FROM rows e WHERE "
                     "e.kind = 'e' AND e.op = 1 AND ", self.visible("e", "e"),
                     S(" AND e.key IN (", seed_keys, ")") if seed_keys is not None else "")
        else:
            seed = S(f"SELECT a AS s, b AS e, 1 AS d, {sep} || k || {sep} AS p FROM {steps}",
                     S(" WHERE a IN (", seed_keys, ")") if seed_keys is not None else "")
        step = S(f"SELECT v.s, st.b, v.d + 1, v.p || st.k || {sep} FROM {paths} v "
                 f"JOIN {steps} st ON st.a = v.e WHERE ",
                 self.d.pos(S(f"{sep} || st.k || {sep}"), S("v.p")), f" = 0{depth}")
        self.ctes.append(S(f"{paths}(s, e, d, p) AS (", seed, " UNION ALL ", step, ")"))
        alias = self.fresh("v")
        frame.joins.append(S(f"JOIN {paths} {alias} ON 1 = 1"))
        frame.where.append(fmt(f"{alias}.s = {{}} AND {alias}.e = {{}} AND {alias}.d >= {low}",
                               left.key, right.key))
        return S(f"{alias}.p")

    def mat(self) -> str:
        return "MATERIALIZED " if self.d.postgres else ""

    def optional(self, frame: Frame, clause: Match) -> None:
        """OPTIONAL MATCH: the pattern as its own SELECT, left-joined on the variables it shares
        with the rows so far (the shared nodes and relationships are read again inside)."""
        inner = Frame(S("(SELECT 1 AS one) s0"))
        pattern_vars = {n.var for p in clause.paths for n in p.nodes if n.var} | {
            r.var for p in clause.paths for r in p.rels if r.var}
        self.match(inner, Match(clause.paths, None, False))
        if clause.where is not None:
            try:
                inner.where.append(self.pred(inner.scope, clause.where))
            except _Unbound as exc:
                raise UnsupportedQuery(
                    f"the WHERE of an OPTIONAL MATCH may only use the variables of its "
                    f"pattern (`{exc.name}` is not in it)", "OPTIONAL MATCH WHERE") from None
        alias = self.fresh("o")
        cols: list[S] = []
        on: list[S] = []
        for number, name in enumerate(sorted(pattern_vars)):
            binding = inner.scope[name]
            outer = frame.scope.get(name)
            if outer is not None and not isinstance(outer, type(binding)):
                raise QueryError(f"`{name}` is bound to another kind of value")
            names = _element_cols(number, binding)
            for col, sql in zip(names, _element_sql(binding), strict=True):
                cols.append(S(sql, f" AS {col}"))
            if outer is not None:
                on.append(fmt(f"{alias}.{names[0]} = {{}}", _element_sql(outer)[0]))
            else:
                frame.scope[name] = _rebind(alias, names, binding)
        select = S("SELECT ", join(", ", cols) if cols else S("1 AS one"), " FROM ",
                   inner.from_sql(), inner.where_sql())
        frame.joins.append(S("LEFT JOIN (", select, f") {alias} ON ",
                             join(" AND ", on) if on else S("1 = 1")))

    def unwind(self, frame: Frame, clause: Unwind) -> None:
        value = self.value(self.expr(frame.scope, clause.expr))
        alias = self.fresh("u")
        item, elem = self.d.each(value, alias)
        frame.joins.append(S(self.d.lateral(), item, " ON 1 = 1"))
        frame.scope[clause.alias] = V(elem, "json")

    # -- WITH / RETURN ----------------------------------------------------------------------
    def items(self, frame: Frame, proj: Projection) -> list[tuple[str, Expr]]:
        if proj.star:
            named = sorted(n for n in frame.scope if not n.startswith(" "))
            if not named and proj.final:
                raise QueryError("RETURN * has no variables to return")
            return [(n, Var(n)) for n in named] + [(i.alias, i.expr) for i in proj.items]
        return [(i.alias, i.expr) for i in proj.items]

    def with_(self, frame: Frame, proj: Projection) -> Frame:
        if (proj.star and not proj.items and not proj.distinct and not proj.order
                and proj.skip is None and proj.limit is None):
            if proj.where is not None:
                frame.where.append(self.pred(frame.scope, proj.where))
            return frame
        select, columns, kinds = self.project(frame, proj)
        name = self.fresh("w")
        self.ctes.append(S(f"{name} AS {self.mat()}(", select, ")"))
        out = Frame(S(f"{name}"))
        for i, (alias, kind) in enumerate(zip(columns, kinds, strict=True)):
            out.scope[alias] = self._column_binding(name, i, kind)
        if proj.where is not None:
            out.where.append(self.pred(out.scope, proj.where))
        return out

    def _column_binding(self, table: str, i: int, kind: str) -> Binding:
        if kind == "node":
            return NodeB(*(S(f"{table}.c{i}_{c}") for c in ("key", "type", "value")))
        if kind == "rel":
            return RelB(*(S(f"{table}.c{i}_{c}")
                          for c in ("key", "type", "source", "target", "value")))
        return V(S(f"{table}.c{i}"), kind)

    def project(self, frame: Frame, proj: Projection) -> tuple[S, list[str], list[str]]:
        items = self.items(frame, proj)
        if len({a for a, _ in items}) != len(items):
            raise QueryError("two columns have the same name; give them different aliases")
        aggregating = any(has_aggregate(e) for _, e in items)
        compiled = [self.expr(frame.scope, e) for _, e in items]
        cols: list[S] = []
        groups: list[S] = []
        kinds: list[str] = []
        for i, ((_, expr), v) in enumerate(zip(items, compiled, strict=True)):
            kind = v.kind if v.kind != "bool" else "json"
            kinds.append(kind)
            parts = self.columns(v)
            if len(parts) == 1:
                cols.append(S(parts[0], f" AS c{i}"))
            else:
                names = ("key", "type", "value") if kind == "node" else (
                    "key", "type", "source", "target", "value")
                cols += [S(p, f" AS c{i}_{n}") for p, n in zip(parts, names, strict=True)]
            if aggregating and not has_aggregate(expr):  # by position: the same parameters
                first = len(cols) - len(parts) + 1
                groups += [S(str(first + k)) for k in range(len(parts))]
        # ORDER BY: over the projected columns, or (no DISTINCT, no aggregate) over the
        # variables before the projection, as hidden columns
        order_cols: list[tuple[S, bool]] = []
        hidden: list[S] = []
        alias_scope: dict[str, Binding] = {
            alias: self._column_binding("q", i, kinds[i]) for i, (alias, _) in enumerate(items)}
        for n, order in enumerate(proj.order):
            try:
                v = self.expr(alias_scope, order.expr)
                keys = self.sort_keys(v)
            except _Unbound:
                if proj.distinct or aggregating:
                    raise
                scope = dict(frame.scope)
                scope.update({a: c for (a, _), c in zip(items, compiled, strict=True)})
                keys = []
                for j, key in enumerate(self.sort_keys(self.expr(scope, order.expr))):
                    hidden.append(S(key, f" AS h{n}_{j}"))
                    keys.append(S(f"q.h{n}_{j}"))
            order_cols += [(k, order.descending) for k in keys]
        inner = S("SELECT ", "DISTINCT " if proj.distinct else "",
                  join(", ", cols + hidden) if cols or hidden else S("1 AS one"),
                  " FROM ", frame.from_sql(), frame.where_sql(),
                  S(" GROUP BY ", join(", ", groups)) if groups else S(""))
        visible_cols = [c for i, k in enumerate(kinds) for c in (
            [f"q.c{i}"] if k not in ("node", "rel") else
            [f"q.c{i}_{n}" for n in (("key", "type", "value") if k == "node" else
                                     ("key", "type", "source", "target", "value"))])]
        tail: list[S | str] = []
        if order_cols:
            tail.append(S(" ORDER BY ", join(", ", [
                S(k, " DESC" if desc else " ASC") for k, desc in order_cols])))
        skip, limit = self.count(proj.skip, "SKIP"), self.count(proj.limit, "LIMIT")
        if limit is not None:
            tail.append(fmt(" LIMIT {}", P(limit)))
        elif skip is not None and not self.d.postgres:
            tail.append(" LIMIT -1")
        if skip is not None:
            tail.append(fmt(" OFFSET {}", P(skip)))
        select = S("SELECT ", ", ".join(visible_cols) or "1 AS one", " FROM (", inner, ") q",
                   *tail)
        return select, [a for a, _ in items], kinds

    def count(self, expr: Expr | None, what: str) -> int | None:
        if expr is None:
            return None
        value = self.constant(expr)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise QueryError(f"{what} takes a non-negative integer, not {value!r}")
        return value

    def constant(self, expr: Expr) -> Any:
        if isinstance(expr, Const):
            return expr.value
        if isinstance(expr, Param):
            return self.param(expr.name)
        raise UnsupportedQuery("SKIP and LIMIT take a number or a parameter", "SKIP/LIMIT")

    def param(self, name: str) -> Any:
        if name not in self.params:
            raise QueryError(f"missing parameter ${name}: pass it in params")
        return self.params[name]

    def columns(self, v: V) -> list[S]:
        if v.kind == "node" and isinstance(v.element, NodeB):
            e = v.element
            return [e.key, e.type, e.value]
        if v.kind == "rel" and isinstance(v.element, RelB):
            r = v.element
            return [r.key, r.type, r.source, r.target, r.value]
        return [self.value(v)]

    def sort_keys(self, v: V) -> list[S]:
        """Cypher's order: maps, nodes, relationships, lists, strings, booleans, numbers,
        null last (ascending)."""
        if v.element is not None:
            return [self.value(V(v.element.key, "json"))]
        x = self.value(v)
        d = self.d
        rank = fmt("(CASE WHEN {} IS NULL THEN 9 WHEN {} THEN 8 WHEN {} THEN 7 WHEN {} THEN 6 "
                   "WHEN {} THEN 4 ELSE 1 END)", x, d.is_("num", x), d.is_("bool", x),
                   d.is_("str", x), d.is_("list", x))
        number = fmt("(CASE WHEN {} THEN {} END)", d.is_("num", x), d.num(x))
        other = fmt("(CASE WHEN {} THEN NULL ELSE {} END)", d.is_("num", x), d.text(x))
        return [rank, number, other]

    # -- expressions --------------------------------------------------------------------------
    def value(self, v: V) -> S:
        """JSON text of a compiled expression."""
        if v.kind == "bool":
            return fmt("(CASE WHEN {} THEN 'true' WHEN NOT {} THEN 'false' END)", v.sql, v.sql)
        if v.element is not None:
            e = v.element
            pairs: list[tuple[str, S | str]] = [("id", e.key), ("type", e.type)]
            if isinstance(e, RelB):
                pairs += [("source", e.source), ("target", e.target)]
            return fmt("(CASE WHEN {} IS NULL THEN NULL ELSE {} END)", e.key,
                       self.d.element_json(pairs, e.value))
        return v.sql

    def pred(self, scope: Mapping[str, Binding], expr: Expr) -> S:
        v = self.expr(scope, expr)
        if v.kind == "bool":
            return v.sql
        if v.element is not None:
            raise QueryError("a node or relationship is not a condition")
        return fmt("({} = 'true')", v.sql)

    def expr(self, scope: Mapping[str, Binding], e: Expr) -> V:
        d = self.d
        if isinstance(e, Const):
            return V(lit(_checked(e.value)), "json")
        if isinstance(e, Param):
            return V(lit(_checked(self.param(e.name))), "json")
        if isinstance(e, Var):
            if e.name not in scope:
                raise _Unbound(e.name)
            b = scope[e.name]
            if isinstance(b, NodeB):
                return V(b.key, "node", b)
            if isinstance(b, RelB):
                return V(b.key, "rel", b)
            return b
        if isinstance(e, Prop):
            subject = self.expr(scope, e.subject)
            if subject.element is not None:
                return self.prop(V(subject.element.value, "json"), e.key)
            return self.prop(V(self.value(subject), "json"), e.key)
        if isinstance(e, Func):
            return self.func(scope, e)
        assert isinstance(e, Op)
        op = e.op
        if op in ("and", "or"):
            return V(S("(", join(f" {op.upper()} ", [self.pred(scope, x) for x in e.args]),
                       ")"), "bool")
        if op == "xor":
            p, q = (self.pred(scope, x) for x in e.args)
            return V(fmt("(({}) <> ({}))", p, q), "bool")
        if op == "not":
            return V(fmt("(NOT {})", self.pred(scope, e.args[0])), "bool")
        if op == "is null":
            v = self.expr(scope, e.args[0])
            target = v.element.key if v.element is not None else self.value(v)
            return V(fmt("({} IS NULL)", target), "bool")
        if op == "label":
            subject = self.expr(scope, e.args[0])
            labels = e.args[1]
            if subject.element is None or not isinstance(labels, Const):
                raise QueryError("a label test takes a node or a relationship: n:Label")
            tests = [self.one_of(subject.element.type, names) for names in labels.value]
            return V(fmt("(CASE WHEN {} IS NOT NULL THEN ({}) END)", subject.element.key,
                         join(" AND ", tests)), "bool")
        args = [self.expr(scope, x) for x in e.args]
        if op in _COMPARISONS:
            return self.compare(op, args[0], args[1])
        if op == "in":
            return self.in_(e.args[1], args[0], args[1])
        if op in ("starts with", "ends with", "contains"):
            ta, tb = (self.value(x) for x in args)
            sa, sb = d.string(ta), d.string(tb)
            if op == "starts with":
                test = fmt("substr({}, 1, length({})) = {}", sa, sb, sb)
            elif op == "ends with":
                test = fmt("length({}) >= length({}) AND substr({}, length({}) - length({}) + 1)"
                           " = {}", sa, sb, sa, sa, sb, sb)
            else:
                test = fmt("{} > 0", d.pos(sb, sa))
            return V(fmt("(CASE WHEN {} AND {} THEN ({}) END)", d.is_("str", ta),
                         d.is_("str", tb), test), "bool")
        if op == "=~":
            pattern = e.args[1]
            if not isinstance(pattern, Const | Param):
                raise UnsupportedQuery("=~ takes a constant pattern or a parameter", "=~")
            text = self.constant(pattern)
            if text is None:
                return V(NULL, "bool")
            if not isinstance(text, str):
                raise QueryError("=~ takes a string pattern")
            target = self.value(args[0])
            test = self.re.regex_param(d.string(target), f"^(?:{text})$")
            return V(fmt("(CASE WHEN {} THEN {} END)", d.is_("str", target), test), "bool")
        if op in ("+", "-", "*", "/", "%", "neg"):
            return self.arith(op, [self.value(a) for a in args])
        if op == "[]":
            index = e.args[1]
            if not isinstance(index, Const | Param):
                raise UnsupportedQuery("list[index] takes a constant index", "subscript")
            i = self.constant(index)
            if isinstance(i, str):
                return self.prop(V(self.value(args[0]), "json"), i)
            if not isinstance(i, int) or isinstance(i, bool):
                raise QueryError("a list index is an integer")
            x = self.value(args[0])
            return V(fmt("(CASE WHEN {} THEN {} END)", d.is_("list", x), d.index(x, i)), "json")
        raise UnsupportedQuery(f"the operator {op}", op)

    def prop(self, subject: V, key: str) -> V:
        return V(self.d.prop(subject.sql, key), "json")

    def equal(self, a: V, b: V) -> S:
        return self.compare("=", a, b).sql

    def compare(self, op: str, a: V, b: V) -> V:
        d = self.d
        if a.element is not None or b.element is not None:
            if op not in ("=", "<>"):
                raise QueryError(f"nodes and relationships do not compare with {op}")
            if a.element is None or b.element is None or a.kind != b.kind:
                return V(S("(1 = 0)") if op == "=" else S("(1 = 1)"), "bool")
            return V(fmt(f"({{}} {op} {{}})", a.element.key, b.element.key), "bool")
        x, y = self.value(a), self.value(b)
        if op in ("=", "<>"):
            test = fmt("(CASE WHEN {} IS NULL OR {} IS NULL THEN NULL WHEN {} AND {} THEN {} = {} "
                       "ELSE {} = {} END)", x, y, d.is_("num", x), d.is_("num", y), d.num(x),
                       d.num(y), x, y)
            return V(test if op == "=" else fmt("(NOT {})", test), "bool")
        return V(fmt(f"(CASE WHEN {{}} AND {{}} THEN {{}} {op} {{}} WHEN {{}} AND {{}} THEN "
                     f"{{}} {op} {{}} WHEN {{}} AND {{}} THEN {{}} {op} {{}} END)",
                     d.is_("num", x), d.is_("num", y), d.num(x), d.num(y),
                     d.is_("str", x), d.is_("str", y), d.text(d.string(x)), d.text(d.string(y)),
                     d.is_("bool", x), d.is_("bool", y), x, y), "bool")

    def in_(self, source: Expr, x: V, items: V) -> V:
        if isinstance(source, Const | Param):
            values = self.constant(source)
            if values is None:
                return V(NULL, "bool")
            if not isinstance(values, list):
                raise QueryError("IN takes a list")
            if not values:
                return V(S("(1 = 0)"), "bool")
            tests = [self.compare("=", x, V(lit(_checked(v)), "json")).sql for v in values]
            return V(S("(", join(" OR ", tests), ")"), "bool")
        alias = self.fresh("j")
        item, elem = self.d.each(self.value(items), alias)
        test = self.compare("=", x, V(elem, "json")).sql
        return V(S("EXISTS (SELECT 1 FROM ", item, " WHERE ", test, ")"), "bool")

    def arith(self, op: str, args: list[S]) -> V:
        d = self.d
        if op == "neg":
            x = args[0]
            return V(fmt("(CASE WHEN {} THEN {} END)", d.is_("num", x),
                         d.json_num(fmt("(- {})", d.num(x)))), "json")
        x, y = args
        nx, ny = d.num(x), d.num(y)
        if op == "/" and d.postgres:
            number = fmt("(CASE WHEN {} AND {} THEN trunc({} / NULLIF({}, 0)) "
                         "ELSE {} / NULLIF({}, 0) END)", d.is_("int", x), d.is_("int", y),
                         nx, ny, nx, ny)
        elif op in ("/", "%"):
            number = fmt(f"({{}} {op} NULLIF({{}}, 0))", nx, ny)
        else:
            number = fmt(f"({{}} {op} {{}})", nx, ny)
        branches = fmt("WHEN {} AND {} THEN {}", d.is_("num", x), d.is_("num", y),
                       d.json_num(number))
        if op == "+":
            branches = S(branches, fmt(" WHEN {} AND {} THEN {}", d.is_("str", x),
                                       d.is_("str", y),
                                       d.json_str(fmt("({} || {})", d.string(x), d.string(y)))))
        return V(S("(CASE ", branches, " END)"), "json")

    def func(self, scope: Mapping[str, Binding], f: Func) -> V:
        d = self.d
        name = f.name
        if name in AGGREGATES:
            return self.aggregate(scope, f)
        if name == "list":
            parts = [fmt("coalesce({}, 'null')", self.value(self.expr(scope, arg)))
                     for arg in f.args]
            if not parts:
                return V(S("'[]'"), "json")
            return V(S("('[' || ", join(" || ',' || ", parts), " || ']')"), "json")
        if name == "map":
            parts = []
            for key, arg in zip(f.keys, f.args, strict=True):
                parts.append(fmt("{} || ':' || coalesce({}, 'null')",
                                 lit(key), self.value(self.expr(scope, arg))))
            if not parts:
                return V(S("'{}'"), "json")
            return V(S("('{' || ", join(" || ',' || ", parts), " || '}')"), "json")
        args = [self.expr(scope, arg) for arg in f.args]
        if name == "coalesce":
            return V(S("COALESCE(", join(", ", [self.value(a) for a in args]), ")"), "json")
        if len(args) != 1:
            raise UnsupportedQuery(f"the function {name}() with {len(args)} arguments",
                                   f"{name}()")
        a = args[0]
        if name in ("id", "elementid"):
            if a.element is None:
                raise QueryError(f"{name}() takes a node or a relationship")
            return V(fmt("(CASE WHEN {} IS NOT NULL THEN {} END)", a.element.key,
                         d.json_str(a.element.key)), "json")
        if name == "labels":
            if not isinstance(a.element, NodeB):
                raise QueryError("labels() takes a node")
            return V(fmt("(CASE WHEN {} IS NOT NULL THEN '[' || {} || ']' END)", a.element.key,
                         d.json_str(a.element.type)), "json")
        if name == "type":
            if not isinstance(a.element, RelB):
                raise QueryError("type() takes a relationship")
            return V(fmt("(CASE WHEN {} IS NOT NULL THEN {} END)", a.element.key,
                         d.json_str(a.element.type)), "json")
        if name == "properties":
            if a.element is not None:
                return V(fmt("(CASE WHEN {} IS NOT NULL THEN {} END)", a.element.key,
                             a.element.value), "json")
            x = self.value(a)
            return V(fmt("(CASE WHEN {} THEN {} END)", d.is_("map", x), x), "json")
        if name == "keys":
            x = a.element.value if a.element is not None else self.value(a)
            return V(fmt("(CASE WHEN {} IS NOT NULL THEN {} END)", x, d.keys(x)), "json")
        x = self.value(a)
        if name in ("size", "length"):
            return V(fmt("(CASE WHEN {} THEN {} WHEN {} THEN {} END)", d.is_("list", x),
                         d.json_num(d.size(x)), d.is_("str", x),
                         d.json_num(fmt("length({})", d.string(x)))), "json")
        if name in ("toupper", "tolower"):
            fn = "upper" if name == "toupper" else "lower"
            return V(fmt("(CASE WHEN {} THEN {} END)", d.is_("str", x),
                         d.json_str(fmt(f"{fn}({{}})", d.string(x)))), "json")
        if name == "tostring":
            return V(fmt("(CASE WHEN {} THEN {} WHEN {} IS NOT NULL THEN {} END)",
                         d.is_("str", x), x, x, d.json_str(x)), "json")
        if name == "abs":
            return V(fmt("(CASE WHEN {} THEN {} END)", d.is_("num", x),
                         d.json_num(fmt("abs({})", d.num(x)))), "json")
        raise UnsupportedQuery(f"the function {name}() is not supported", f"{name}()")

    def aggregate(self, scope: Mapping[str, Binding], f: Func) -> V:
        d = self.d
        if f.star:
            return V(S("CAST(count(*) AS TEXT)"), "json")
        if len(f.args) != 1:
            raise QueryError(f"{f.name}() takes one argument")
        if has_aggregate(f.args[0]):
            raise QueryError("aggregates cannot be nested")
        a = self.expr(scope, f.args[0])
        distinct = "DISTINCT " if f.distinct else ""
        x = self.value(a) if a.element is None else a.element.key
        if f.name == "count":
            return V(fmt(f"CAST(count({distinct}{{}}) AS TEXT)", x), "json")
        if f.name == "collect":
            items = self.value(a)
            kind = {"node": "nodes", "rel": "rels"}.get(a.kind, "json")
            return V(fmt("('[' || coalesce({}, '') || ']')", d.group_concat(items, f.distinct)),
                     kind)
        if a.element is not None:
            raise QueryError(f"{f.name}() takes values, not nodes or relationships")
        number = fmt("(CASE WHEN {} THEN {} END)", d.is_("num", x), d.num(x))
        if f.name == "sum":
            return V(fmt("COALESCE({}, '0')", d.json_num(fmt(f"sum({distinct}{{}})", number))),
                     "json")
        if f.name == "avg":
            return V(d.json_float(fmt(f"avg({distinct}{{}})", number)), "float")
        # min / max: numbers if there are any, else strings
        string = fmt("(CASE WHEN {} THEN {} END)", d.is_("str", x), d.text(d.string(x)))
        fn = f.name
        return V(fmt("(CASE WHEN count({}) > 0 THEN {} ELSE {} END)", number,
                     d.json_num(fmt(f"{fn}({{}})", number)),
                     d.json_str(fmt(f"{fn}({{}})", string))), "json")


def _element_cols(number: int, b: Binding) -> list[str]:
    n = 3 if isinstance(b, NodeB) else 5 if isinstance(b, RelB) else 2
    return [f"x{number}_{i}" for i in range(n)]


def _element_sql(b: Binding) -> list[S]:
    if isinstance(b, NodeB):
        return [b.key, b.type, b.value]
    if isinstance(b, RelB):
        return [b.key, b.type, b.source, b.target, b.value]
    return [b.sql, S(f"'{b.kind}'")]


def _rebind(alias: str, cols: list[str], b: Binding) -> Binding:
    parts = [S(f"{alias}.{c}") for c in cols]
    if isinstance(b, NodeB):
        return NodeB(*parts)
    if isinstance(b, RelB):
        return RelB(*parts)
    return V(parts[0], b.kind)


def _checked(value: Any) -> Any:
    try:
        check_json(value, "a Cypher parameter")
    except InvalidValue as exc:
        raise QueryError(str(exc)) from None
    return value


# -- running -------------------------------------------------------------------------------
def compile_query(db: Database, chain: Chain, text: str,
                  params: Mapping[str, Any] | None = None) -> Compiled:
    from .cypher_parse import parse

    return Compiler(db, chain, dict(params or {})).query(parse(text))


def run(db: Database, chain: Chain, text: str, params: Mapping[str, Any] | None = None,
        timeout: float | None = None) -> CypherResult:
    """Answer a read query at the chain's commit: columns and rows of exact values."""
    compiled = compile_query(db, chain, text, params)
    with db.deadline(timeout):
        rows = db.all(compiled.sql, compiled.params)
    out = []
    for row in rows:
        values: list[Any] = []
        i = 0
        for kind in compiled.kinds:
            n = 3 if kind == "node" else 5 if kind == "rel" else 1
            values.append(_decode(kind, row[i:i + n]))
            i += n
        out.append(tuple(values))
    return CypherResult(tuple(compiled.columns), tuple(out))


def _decode(kind: str, cells: tuple[Any, ...] | list[Any]) -> Any:
    if kind == "node":
        key, type_, value = cells
        return None if key is None else Entity(key, type_, decode(value))
    if kind == "rel":
        key, type_, source, target, value = cells
        return None if key is None else Relation(key, type_, source, target, decode(value))
    text = cells[0]
    if text is None:
        return None
    value = decode(text)
    if kind == "float":
        return float(value)
    if kind == "nodes":
        return [Entity(v["id"], v["type"], v["props"]) for v in value]
    if kind == "rels":
        return [Relation(v["id"], v["type"], v["source"], v["target"], v["props"])
                for v in value]
    return value

