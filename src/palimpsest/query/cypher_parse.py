"""openCypher text → a small query tree (``cypher_ir``), parsed by graphglot.

graphglot (its Neo4j dialect) parses the text into a GQL-shaped syntax tree; this module is a
thin adapter from that tree to the few node types :mod:`.cypher` compiles. Anything the
adapter does not know raises :class:`UnsupportedQuery` naming the construct; writes
(``CREATE``, ``MERGE``, ``SET``, ``DELETE``, ``REMOVE``) raise it too, saying to write through
a transaction.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ..errors import QuerySyntaxError, UnsupportedQuery
from .cypher_ir import (
    AGGREGATES,
    Clause,
    Const,
    Expr,
    Func,
    Item,
    Match,
    NodePat,
    Op,
    Order,
    Param,
    Path,
    Projection,
    Prop,
    RelPat,
    Unwind,
    Var,
    const,
)

_WRITES = {
    "InsertPathPatternList": "CREATE", "InsertStatement": "CREATE", "CreateClause": "CREATE",
    "MergeClause": "MERGE", "SetItemList": "SET", "SetStatement": "SET",
    "DeleteStatement": "DELETE", "RemoveStatement": "REMOVE", "RemoveItemList": "REMOVE",
    "CreateIndex": "CREATE INDEX", "DropIndex": "DROP INDEX",
    "CreateConstraint": "CREATE CONSTRAINT", "DropConstraint": "DROP CONSTRAINT",
}
_LOCATION = re.compile(r"Line (\d+), Col: (\d+)")
_COMPARE = {"EQUALS": "=", "NOT_EQUALS": "<>", "LESS_THAN": "<", "GREATER_THAN": ">",
            "LESS_THAN_OR_EQUALS": "<=", "GREATER_THAN_OR_EQUALS": ">="}
_SET_FUNCS = {"_Count": "count", "_Sum": "sum", "_Avg": "avg", "_Min": "min", "_Max": "max",
              "_CollectList": "collect"}


def _dialect() -> Any:
    try:
        from graphglot.dialect import Dialect
    except ImportError:  # pragma: no cover - the extra is part of dev
        raise UnsupportedQuery("Cypher queries need graphglot: pip install "
                               "'palimpsest[cypher]'", "Cypher") from None
    return Dialect.get_or_raise("neo4j")


def parse(text: str) -> list[Clause]:
    """The clauses of one read query, in order (the last one a RETURN :class:`Projection`)."""
    from graphglot.error import GraphGlotError

    _fix_in_precedence()
    try:
        trees = _dialect().parse(text)
    except GraphGlotError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        found = _LOCATION.search(message)
        line, column = (int(found[1]), int(found[2])) if found else (None, None)
        raise QuerySyntaxError(_LOCATION.sub("", message).strip(" ."), line=line,
                               column=column) from None
    if len(trees) != 1:
        raise UnsupportedQuery("one Cypher statement at a time", "several statements")
    for node in trees[0].dfs():
        write = _WRITES.get(type(node).__name__)
        if write:
            raise UnsupportedQuery(
                f"Cypher here is read-only: {write} is not run by a query; change the graph "
                "with a transaction (repo.transaction(): put_entity, put_relation, delete...)",
                write)
    return _Adapter(text).statement(trees[0])


_fixed = False


def _fix_in_precedence() -> None:
    """graphglot 0.14 parses the list after ``IN`` as a whole boolean expression, so
    ``x IN [1] AND y = 2`` became ``x IN ([1] AND y = 2)``. Parse it as an operand (the
    openCypher grammar's precedence); tests/test_cypher.py checks the result."""
    global _fixed
    if _fixed:
        return
    from graphglot import ast
    from graphglot.ast.cypher import InPredicate
    from graphglot.dialect import cypher as module
    from graphglot.lexer import TokenType

    original = getattr(module, "_try_cypher_infix_predicate", None)
    if original is None or not _has_parser_api():
        _fixed = True
        return

    # graphglot's parser API is its underscored methods (its own dialects use them)
    def infix(parser: Any) -> Any:
        start = parser._index  # noqa: SLF001
        lhs = parser.get_parser(ast.CommonValueExpression)(parser)
        if parser._match(TokenType.IN):  # noqa: SLF001
            parser._expect(TokenType.IN)  # noqa: SLF001
            rhs = parser.get_parser(ast.CommonValueExpression)(parser)
            return InPredicate(value=lhs, list_expression=rhs)
        parser._retreat(start)  # noqa: SLF001
        return original(parser)

    module._try_cypher_infix_predicate = infix  # noqa: SLF001
    _fixed = True


def _has_parser_api() -> bool:
    from graphglot.parser import Parser

    return all(hasattr(Parser, name) for name in ("_match", "_expect", "_retreat"))


def _name(node: Any) -> str:
    return type(node).__name__


def _fields(node: Any) -> list[tuple[str, Any]]:
    return [(n, getattr(node, n)) for n in node.__ast_field_names__
            if getattr(node, n) is not None and getattr(node, n) != []]


def _ident(node: Any) -> str:
    while _name(node) != "Identifier":
        inner = _only(node)
        if inner is None:
            raise UnsupportedQuery(f"expected a name, found {_name(node)}", _name(node))
        node = inner
    return str(node.name)


def _only(node: Any) -> Any:
    """The single child of a wrapper node, or None."""
    from graphglot.ast.base import Expression

    fields = [v for _, v in _fields(node)]
    if len(fields) == 1 and isinstance(fields[0], Expression):
        return fields[0]
    return None


class _Adapter:
    def __init__(self, text: str) -> None:
        self.text = text

    def statement(self, tree: Any) -> list[Clause]:
        node = tree
        while _name(node) != "_SimpleLinearQueryStatementPrimitiveResultStatement":
            if _name(node) in ("CompositeQueryExpression",) and getattr(
                    node, "query_conjunction_elements", None):
                raise UnsupportedQuery("UNION is not supported in Cypher queries", "UNION")
            inner = _only(node)
            if inner is None:
                if _name(node) in ("PrimitiveResultStatement", "ReturnStatement",
                                   "_ReturnStatementOrderByAndPageStatement"):
                    return [self.projection(node, final=True)]
                raise UnsupportedQuery(f"a Cypher query must end with RETURN "
                                       f"(found {_name(node)})", _name(node))
            node = inner
        clauses: list[Clause] = []
        if node.simple_linear_query_statement is not None:
            for item in node.simple_linear_query_statement.list_simple_query_statement:
                clauses.append(self.clause(item))
        clauses.append(self.projection(node.primitive_result_statement, final=True))
        return clauses

    # -- clauses ------------------------------------------------------------------------
    def clause(self, node: Any) -> Clause:
        kind = _name(node)
        if kind == "OptionalMatchStatement":
            inner = node.optional_operand.optional_operand
            if _name(inner) != "SimpleMatchStatement":
                raise UnsupportedQuery("OPTIONAL MATCH with a block", "OPTIONAL MATCH block")
            return self.match(inner, optional=True)
        if kind == "SimpleMatchStatement":
            return self.match(node, optional=False)
        if kind == "CypherWithStatement":
            return self.projection(node, final=False)
        if kind == "ForStatement" or kind == "ForItem":
            item = node if kind == "ForItem" else node.for_item
            return Unwind(self.expr(item.for_item_source), _ident(item.for_item_alias))
        if kind in ("CallQueryStatement", "CallProcedureStatement", "InlineProcedureCall",
                    "NamedProcedureCall"):
            raise UnsupportedQuery("CALL is not supported in Cypher queries", "CALL")
        raise UnsupportedQuery(f"the Cypher clause {kind} is not supported", kind)

    def match(self, node: Any, optional: bool) -> Match:
        table = node.graph_pattern_binding_table
        if table.graph_pattern_yield_clause is not None:
            raise UnsupportedQuery("YIELD in MATCH", "YIELD")
        graph = table.graph_pattern
        if graph.match_mode is not None or graph.keep_clause is not None:
            raise UnsupportedQuery("match modes and KEEP", "match mode")
        paths = [self.path(p) for p in graph.path_pattern_list.list_path_pattern]
        where = None
        if graph.graph_pattern_where_clause is not None:
            where = self.expr(graph.graph_pattern_where_clause.search_condition)
        return Match(paths, where, optional)

    def path(self, node: Any) -> Path:
        if node.path_pattern_prefix is not None:
            raise UnsupportedQuery("path search prefixes (shortestPath, ALL, ANY...)",
                                   "path prefix")
        name = None
        if node.path_variable_declaration is not None:
            name = _ident(node.path_variable_declaration.path_variable)
        term = node.path_pattern_expression
        if _name(term) != "PathTerm":
            raise UnsupportedQuery(f"the path pattern {_name(term)}", _name(term))
        nodes: list[NodePat] = []
        rels: list[RelPat] = []
        for factor in term.factors:
            if _name(factor) == "NodePattern":
                if len(nodes) > len(rels):
                    raise UnsupportedQuery("two node patterns in a row", "node pattern")
                nodes.append(self.node(factor))
            else:
                rels.append(self.rel(factor))
        if len(nodes) != len(rels) + 1:
            raise UnsupportedQuery("a path pattern must alternate nodes and relationships",
                                   "path pattern")
        return Path(name, nodes, rels)

    def _filler(self, filler: Any) -> tuple[str | None, list[list[str]], dict[str, Expr]]:
        var = None
        labels: list[list[str]] = []
        props: dict[str, Expr] = {}
        if filler is None:
            return var, labels, props
        if filler.element_variable_declaration is not None:
            var = _ident(filler.element_variable_declaration.element_variable)
        if filler.is_label_expression is not None:
            labels = self.labels(filler.is_label_expression.label_expression)
        predicate = filler.element_pattern_predicate
        if predicate is not None:
            if _name(predicate) != "ElementPropertySpecification":
                raise UnsupportedQuery("WHERE inside a pattern", "pattern WHERE")
            pairs = predicate.property_key_value_pair_list.list_property_key_value_pair
            for pair in pairs:
                props[_ident(pair.property_name)] = self.expr(pair.value_expression)
        return var, labels, props

    def labels(self, node: Any) -> list[list[str]]:
        """Label expression as a conjunction of alternatives: ``A:B`` → [[A], [B]],
        ``A|B`` → [[A, B]]."""
        if _name(node) != "LabelExpression":
            raise UnsupportedQuery(f"the label expression {_name(node)}", "label expression")
        terms = node.label_terms
        if len(terms) > 1:  # A|B
            names = []
            for term in terms:
                if len(term.label_factors) != 1:
                    raise UnsupportedQuery("mixed & and | label expressions", "label expression")
                names.append(self._label(term.label_factors[0]))
            return [names]
        return [[self._label(f)] for f in terms[0].label_factors]

    def _label(self, node: Any) -> str:
        if _name(node) != "LabelName":
            raise UnsupportedQuery(f"the label expression {_name(node)}", "label expression")
        return _ident(node)

    def node(self, node: Any) -> NodePat:
        var, labels, props = self._filler(node.element_pattern_filler)
        return NodePat(var, labels, props)

    def rel(self, node: Any) -> RelPat:
        low: int | None = 1
        high: int | None = 1
        if _name(node) == "QuantifiedPathPrimary":
            quant = node.graph_pattern_quantifier
            if _name(quant) == "FixedQuantifier":
                low = high = int(quant.unsigned_integer.value)
            elif _name(quant) == "GeneralQuantifier":
                low = int(quant.lower_bound.value) if quant.lower_bound is not None else 1
                high = int(quant.upper_bound.value) if quant.upper_bound is not None else None
            else:
                raise UnsupportedQuery(f"the quantifier {_name(quant)}", "quantifier")
            node = node.path_primary
            varlen = True
        else:
            varlen = False
        kind = _name(node)
        directions = {"FullEdgePointingRight": "out", "FullEdgePointingLeft": "in",
                      "FullEdgeAnyDirection": "both", "FullEdgeLeftOrRight": "both"}
        if kind == "AbbreviatedEdgePattern":
            pattern = node.pattern.name
            direction = {"RIGHT_ARROW": "out", "LEFT_ARROW": "in", "MINUS_SIGN": "both",
                         "LEFT_MINUS_RIGHT": "both"}.get(pattern)
            if direction is None:
                raise UnsupportedQuery(f"the edge pattern {pattern}", "edge pattern")
            return RelPat(None, [], {}, direction, low, high, varlen)
        if kind not in directions:
            raise UnsupportedQuery(f"the edge pattern {kind}", "edge pattern")
        var, labels, props = self._filler(node.element_pattern_filler)
        if len(labels) > 1:
            raise UnsupportedQuery("a relationship has one type: use :A|B", "relationship type")
        return RelPat(var, labels[0] if labels else [], props, directions[kind], low, high,
                      varlen)

    # -- WITH / RETURN --------------------------------------------------------------------
    def projection(self, node: Any, final: bool) -> Projection:
        body = node
        order: list[Order] = []
        skip = limit = where = None
        if _name(node) == "CypherWithStatement":
            body = node.return_statement_body
            page = node.order_by_and_page_statement
            if node.where_clause is not None:
                where = self.expr(node.where_clause.search_condition)
        else:
            while _name(body) in ("PrimitiveResultStatement",):
                body = body.primitive_result_statement
            page = None
            if _name(body) == "_ReturnStatementOrderByAndPageStatement":
                page = body.order_by_and_page_statement
                body = body.return_statement
            if _name(body) == "ReturnStatement":
                body = body.return_statement_body
        while _name(body) == "ReturnStatementBody":
            body = body.return_statement_body
        if page is not None:
            if _name(page) == "OrderByAndPageStatement":
                page = page.order_by_and_page_statement
            parts = {"OrderByClause": page if _name(page) == "OrderByClause" else None,
                     "OffsetClause": page if _name(page) == "OffsetClause" else None,
                     "LimitClause": page if _name(page) == "LimitClause" else None}
            if not any(parts.values()):
                known = ("_OrderByClauseOffsetClauseLimitClause", "_OffsetClauseLimitClause",
                         "_OrderByClauseLimitClause", "_OrderByClauseOffsetClause")
                if _name(page) not in known and not _name(page).startswith("_"):
                    raise UnsupportedQuery(f"the page clause {_name(page)}", "ORDER BY/SKIP")
                parts = {"OrderByClause": getattr(page, "order_by_clause", None),
                         "OffsetClause": getattr(page, "offset_clause", None),
                         "LimitClause": getattr(page, "limit_clause", None)}
            clause = parts["OrderByClause"]
            if clause is not None:
                for spec in clause.sort_specification_list.list_sort_specification:
                    descending = (spec.ordering_specification is not None and
                                  spec.ordering_specification.ordering_specification.name
                                  == "DESC")
                    order.append(Order(self.expr(spec.sort_key), descending))
            if parts["OffsetClause"] is not None:
                skip = self.expr(parts["OffsetClause"].non_negative_integer_specification)
            if parts["LimitClause"] is not None:
                limit = self.expr(parts["LimitClause"].non_negative_integer_specification)
        distinct = False
        items: list[Item] = []
        star = False
        if _name(body) == "_SetQuantifierReturnItemListGroupByClause":
            if body.group_by_clause is not None:
                raise UnsupportedQuery("GROUP BY (Cypher groups by the non-aggregate items)",
                                       "GROUP BY")
            if body.set_quantifier is not None:
                distinct = body.set_quantifier.set_quantifier.name == "DISTINCT"
            item_list = body.return_item_list
            if _name(item_list) == "Asterisk":
                star = True
            else:
                for item in item_list.list_return_item:
                    expr = self.expr(item.aggregating_value_expression)
                    alias = (_ident(item.return_item_alias) if item.return_item_alias
                             else self.display(item.aggregating_value_expression, expr))
                    items.append(Item(expr, alias))
        elif _name(body) in ("Asterisk", "_SetQuantifierAsterisk",
                             "_SetQuantifierAsteriskGroupByClause"):
            star = True
            quant = getattr(body, "set_quantifier", None)
            distinct = bool(quant is not None and quant.set_quantifier.name == "DISTINCT")
        else:
            raise UnsupportedQuery(f"the projection {_name(body)}", "RETURN")
        return Projection(items, star, distinct, order, skip, limit, where, final)

    # -- expressions ----------------------------------------------------------------------
    def expr(self, node: Any) -> Expr:
        kind = _name(node)
        if kind == "BooleanValueExpression":
            out = self.expr(node.boolean_term)
            for op in node.ops or []:
                name = op.operator.name
                if name not in ("OR", "XOR"):
                    raise UnsupportedQuery(f"the boolean operator {name}", name)
                out = Op(name.lower(), [out, self.expr(op.boolean_term)])
            return out
        if kind == "BooleanTerm":
            factors = [self.expr(f) for f in node.list_boolean_factor]
            return factors[0] if len(factors) == 1 else Op("and", factors)
        if kind == "BooleanFactor":
            inner = self.expr(node.boolean_test)
            return Op("not", [inner]) if node.not_ else inner
        if kind == "BooleanTest":
            if node.truth_value is not None:
                raise UnsupportedQuery("IS TRUE / IS FALSE", "truth value test")
            return self.expr(node.boolean_primary)
        if kind == "ComparisonPredicate":
            part = node.comparison_predicate_part_2
            return Op(_COMPARE[part.comp_op.name], [self.expr(node.comparison_predicand),
                                                     self.expr(part.comparison_predicand)])
        if kind == "CypherChainedComparison":
            raise UnsupportedQuery("chained comparisons (a < b < c)", "chained comparison")
        if kind == "NullPredicate":
            test = Op("is null", [self.expr(node.value_expression_primary)])
            return Op("not", [test]) if node.null_predicate_part_2.not_ else test
        if kind == "LabeledPredicate":  # n:A, n:A|B, n:A:B
            part = node.labeled_predicate_part_2
            test = Op("label", [Var(_ident(node.element_variable_reference)),
                                Const(self.labels(part.label_expression))])
            negated = _name(part.is_labeled_or_colon.is_labeled_or_colon) == "_IsNotLabeled"
            return Op("not", [test]) if negated else test
        if kind == "InPredicate":
            return Op("in", [self.expr(node.value), self.expr(node.list_expression)])
        if kind == "StringMatchPredicate":
            return Op(node.kind.name.lower().replace("_", " "),
                      [self.expr(node.lhs), self.expr(node.rhs)])
        if kind == "RegexMatchPredicate":
            return Op("=~", [self.expr(node.lhs), self.expr(node.rhs)])
        if kind == "ArithmeticValueExpression":
            out = self.expr(node.base)
            for step in node.steps or []:
                out = Op(step.sign.value, [out, self.expr(step.term)])
            return out
        if kind == "ArithmeticTerm":
            out = self.expr(node.base)
            for step in node.steps or []:
                out = Op(step.operator.value, [out, self.expr(step.factor)])
            return out
        if kind == "ArithmeticFactor":
            inner = self.expr(node.arithmetic_primary)
            if node.sign.value == "-":
                if isinstance(inner, Const) and isinstance(inner.value, int | float) \
                        and not isinstance(inner.value, bool):
                    return const(-inner.value)
                return Op("neg", [inner])
            return inner
        if kind == "PropertyReference":
            out = self.expr(node.property_source)
            for name in node.property_name:
                out = Prop(out, _ident(name))
            return out
        if kind == "BindingVariableReference":
            return Var(_ident(node.binding_variable))
        if kind == "Identifier":
            return Var(str(node.name))
        if kind in ("GeneralParameterReference", "DynamicParameterSpecification"):
            return Param(_ident(node.parameter_name))
        if kind == "UnsignedNumericLiteral":
            value = node.value
            return const(float(value) if isinstance(value, Decimal | float) else int(value))
        if kind == "CharacterStringLiteral":
            return const(str(node.value))
        if kind == "CharacterStringValueExpression":
            parts = [self.expr(p) for p in node.list_character_string_value_expression]
            out = parts[0]
            for part in parts[1:]:
                out = Op("+", [out, part])
            return out
        if kind == "BooleanLiteral":
            if node.value is None:
                return const(None)
            return const(bool(node.value))
        if kind == "NullLiteral":
            return const(None)
        if kind in ("ListValueConstructorByEnumeration",):
            if node.list_element_list is None:
                return Func("list", [])
            return self.expr(node.list_element_list)
        if kind == "ListElementList":
            return Func("list", [self.expr(e) for e in node.list_list_element])
        if kind == "ListValueExpression":
            parts = [self.expr(p) for p in node.list_list_primary]
            out = parts[0]
            for part in parts[1:]:
                out = Op("+", [out, part])
            return out
        if kind == "RecordConstructor":
            fields = node.fields_specification.field_list.list_field \
                if node.fields_specification and node.fields_specification.field_list else []
            return Func("map", [self.expr(f.value_expression) for f in fields],
                        keys=[_ident(f.field_name) for f in fields])
        if kind == "AggregateFunction":
            inner = node.aggregate_function
            if _name(inner) == "_CountAsterisk":
                return Func("count", [], star=True)
            if _name(inner) != "GeneralSetFunction":
                raise UnsupportedQuery(f"the aggregate {_name(inner)}", _name(inner))
            fname = _SET_FUNCS.get(_name(inner.general_set_function_type.general_set_function_type))
            if fname is None:
                raise UnsupportedQuery(
                    f"the aggregate {_name(inner.general_set_function_type)}", "aggregate")
            distinct = bool(inner.set_quantifier is not None and
                            inner.set_quantifier.set_quantifier.name == "DISTINCT")
            return Func(fname, [self.expr(inner.value_expression)], distinct=distinct)
        if kind == "GeneralSetFunction":
            return self.expr_aggregate(node)
        if kind == "_CoalesceLeftParenListValueExpressionRightParen":
            return Func("coalesce", [self.expr(a) for a in node.list_value_expression])
        if kind == "CypherSubscriptExpression":
            return Op("[]", [self.expr(node.base), self.expr(node.index)])
        if kind == "ParenthesizedValueExpression":
            return self.expr(node.value_expression)
        if kind == "Asterisk":
            raise UnsupportedQuery("* is only allowed as RETURN * / WITH *", "*")
        func = self.function(node)
        if func is not None:
            return func
        inner = _only(node)
        if inner is not None:
            return self.expr(inner)
        raise UnsupportedQuery(f"the expression {kind} is not supported in Cypher queries",
                               kind)

    def display(self, node: Any, expr: Expr) -> str:
        """The column name of an unaliased RETURN item: its text as written."""
        start, end = getattr(node, "_start_token", None), getattr(node, "_end_token", None)
        if start is not None and end is not None:
            return self.text[start.start:end.end + 1]
        found = _display(expr)
        if found is not None:
            return found
        try:
            return str(_dialect().generate(node))
        except Exception:
            return repr(expr)

    def expr_aggregate(self, node: Any) -> Expr:
        from graphglot import ast

        return self.expr(ast.AggregateFunction(aggregate_function=node))

    def function(self, node: Any) -> Expr | None:
        from graphglot.ast.functions import Anonymous
        from graphglot.ast.functions import Func as GFunc

        if not isinstance(node, GFunc):
            return None
        name = node.name if isinstance(node, Anonymous) else node.func_name
        name = name.lower()
        if name in AGGREGATES:  # count(x) parsed as a plain function
            return Func(name, [self.expr(a) for a in node.arguments])
        return Func(name, [self.expr(a) for a in node.arguments])


def _display(expr: Expr) -> str | None:
    if isinstance(expr, Var):
        return expr.name
    if isinstance(expr, Prop):
        inner = _display(expr.subject)
        return None if inner is None else f"{inner}.{expr.key}"
    return None
