"""The small query tree :mod:`.cypher_parse` builds and :mod:`.cypher` compiles to SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AGGREGATES = frozenset({"count", "sum", "avg", "min", "max", "collect"})


@dataclass(frozen=True, slots=True)
class Const:
    """A literal: a JSON value (``None`` is Cypher's null)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Param:
    name: str


@dataclass(frozen=True, slots=True)
class Var:
    name: str


@dataclass(frozen=True, slots=True)
class Prop:
    """``subject.key``"""

    subject: Expr
    key: str


@dataclass(frozen=True, slots=True)
class Op:
    """An operator: ``and or xor not = <> < <= > >= in + - * / % neg is null starts with
    ends with contains =~ []``."""

    op: str
    args: list[Expr]


@dataclass(frozen=True, slots=True)
class Func:
    """A function call or aggregate (``count(*)`` has ``star``); ``map`` has ``keys``."""

    name: str
    args: list[Expr]
    distinct: bool = False
    star: bool = False
    keys: list[str] = field(default_factory=list)


Expr = Const | Param | Var | Prop | Op | Func


def const(value: Any) -> Const:
    return Const(value)


def has_aggregate(expr: Expr) -> bool:
    if isinstance(expr, Func):
        return expr.name in AGGREGATES or any(has_aggregate(a) for a in expr.args)
    if isinstance(expr, Op):
        return any(has_aggregate(a) for a in expr.args)
    if isinstance(expr, Prop):
        return has_aggregate(expr.subject)
    return False


@dataclass(frozen=True, slots=True)
class NodePat:
    var: str | None
    labels: list[list[str]]  # a conjunction of alternatives
    props: dict[str, Expr]


@dataclass(frozen=True, slots=True)
class RelPat:
    var: str | None
    types: list[str]  # alternatives; empty: any type
    props: dict[str, Expr]
    direction: str  # "out", "in" or "both"
    low: int | None
    high: int | None  # None: unbounded
    varlen: bool


@dataclass(frozen=True, slots=True)
class Path:
    name: str | None
    nodes: list[NodePat]
    rels: list[RelPat]


@dataclass(frozen=True, slots=True)
class Match:
    paths: list[Path]
    where: Expr | None
    optional: bool


@dataclass(frozen=True, slots=True)
class Unwind:
    expr: Expr
    alias: str


@dataclass(frozen=True, slots=True)
class Item:
    expr: Expr
    alias: str


@dataclass(frozen=True, slots=True)
class Order:
    expr: Expr
    descending: bool


@dataclass(frozen=True, slots=True)
class Projection:
    """WITH (``final`` False) or RETURN."""

    items: list[Item]
    star: bool
    distinct: bool
    order: list[Order]
    skip: Expr | None
    limit: Expr | None
    where: Expr | None
    final: bool


Clause = Match | Unwind | Projection
