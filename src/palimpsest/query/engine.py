"""Running a query at one state: which rows match, in which order, with which fields.

A query reads through the one visibility rule (:func:`palimpsest.storage.visibility.scan`)
with the filter, ordering and limit compiled to SQL, so it answers the same at the head and at
any past commit, and uses a declared index (:mod:`.indexes`) in both cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..codec import show_number
from ..errors import QueryError
from ..storage.base import Database
from ..storage.visibility import Chain, Window, scan
from ..types import Document, Entity
from ..versioning.elements import to_value
from . import indexes
from .filters import Filter, parse_order, parse_select, project, to_filter
from .target import Target

Where = Filter | Mapping[str, Any] | None
Result = Document | Entity


@dataclass(frozen=True, slots=True)
class Query:
    """A stored query (a materialized view's definition): filter, projection and order."""

    where: Filter | None = None
    select: tuple[str, ...] | None = None
    order_by: tuple[tuple[str, bool], ...] = ()

    @staticmethod
    def of(spec: Any) -> Query:
        """Accept a Query, a Filter (the where clause), a dict ``{"where", "select",
        "order_by"}`` or None."""
        if spec is None:
            return Query()
        if isinstance(spec, Query):
            return spec
        if isinstance(spec, Filter):
            return Query(where=spec)
        if not isinstance(spec, Mapping):
            raise QueryError(f"query: expected a Filter, a Query or a dict, got {spec!r}")
        unknown = set(spec) - {"where", "select", "order_by"}
        if unknown:
            raise QueryError(f"query: unknown part {sorted(unknown)[0]!r}; use where, select, "
                             "order_by")
        select = spec.get("select")
        paths = parse_select(select)
        names = None if paths is None else tuple(".".join(p) for p in paths)
        return Query(to_filter(spec.get("where")), names,
                     tuple(parse_order(spec.get("order_by"))))

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where.to_dict() if self.where is not None else None,
                "select": list(self.select) if self.select is not None else None,
                "order_by": [[name, "desc" if desc else "asc"] for name, desc in self.order_by]}


def check_page(limit: object, offset: object) -> None:
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                              or not 0 <= limit < 2**63):
        raise QueryError(f"limit: must be an integer from 0 to 2**63 - 1 or None, got "
                         f"{show_number(limit)}")
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset < 2**63:
        raise QueryError(f"offset: must be an integer from 0 to 2**63 - 1, got "
                         f"{show_number(offset)}")


def shape(value: Result, select: list[tuple[str, ...]] | None) -> Result:
    """Apply a projection to one result."""
    if select is None:
        return value
    if isinstance(value, Entity):
        return replace(value, props=project(value.props, select))
    return replace(value, value=project(value.value, select))


def run(db: Database, chain: Chain, target: Target, *, where: Where = None,
        select: Any = None, order_by: Any = None, limit: int | None = None,
        offset: int = 0, window: Window | None = None) -> list[Result]:
    """The matching elements at ``chain`` (valid in ``window``: valid time), ordered (by key
    when no order is given)."""
    flt = to_filter(where)
    paths = parse_select(select)
    order = parse_order(order_by)
    check_page(limit, offset)
    compiler = target.compiler(db)
    sql, params = compiler.filter(flt)
    index = indexes.pick(db, target, flt)
    hint = ""
    if index is not None:
        sql = f"{target.literal_sql()} AND {sql}"
        hint = db.dialect.index_hint(index)
    rows = scan(db, chain, target.kind, type_=target.type, extra=sql, extra_params=params,
                order=compiler.order(order), limit=limit, offset=offset, hint=hint,
                window=window)
    return [shape(to_value(row), paths) for row in rows]
