"""Aggregations at one state: count, sum, avg, min, max and distinct, optionally per group.

Computed in SQL over the rows the visibility rule selects, with the same type-strict rules as
filters: ``sum`` / ``avg`` use numbers only (booleans are not numbers), ``min`` / ``max`` order
numbers before strings (and ignore other types), ``count(field)`` counts non-null values,
``distinct`` lists the values present (null included), in sort order. Groups are keyed by the
JSON value of the group fields (a missing field groups with null) and come back in sort order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..codec import decode
from ..errors import QueryError
from ..storage.base import Database
from ..storage.visibility import Chain, Window, in_window, visible
from . import indexes
from .engine import Where
from .filters import CATEGORIES, Compiler, Path, parse_field, to_filter
from .target import Target

AGGREGATES = ("count", "sum", "avg", "min", "max", "distinct")


@dataclass(frozen=True, slots=True)
class Agg:
    """One aggregate: ``Agg.count()``, ``Agg.sum("amount")``, ``Agg.distinct("tag")``..."""

    op: str
    field: str | None = None

    def __post_init__(self) -> None:
        if self.op not in AGGREGATES:
            raise QueryError(f"unknown aggregate {self.op!r}; use one of "
                             f"{', '.join(AGGREGATES)}")
        if self.field is None and self.op != "count":
            raise QueryError(f"{self.op}: needs a field")
        if self.field is not None:
            parse_field(self.field, self.op)

    @staticmethod
    def count(field: str | None = None) -> Agg:
        """Matching elements, or (with a field) those where the field is present and not
        null."""
        return Agg("count", field)

    @staticmethod
    def sum(field: str) -> Agg:
        return Agg("sum", field)

    @staticmethod
    def avg(field: str) -> Agg:
        return Agg("avg", field)

    @staticmethod
    def min(field: str) -> Agg:
        return Agg("min", field)

    @staticmethod
    def max(field: str) -> Agg:
        return Agg("max", field)

    @staticmethod
    def distinct(field: str) -> Agg:
        return Agg("distinct", field)

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "field": self.field}


def parse_aggregates(spec: Any) -> dict[str, Agg]:
    """``{"n": Agg.count(), "total": {"op": "sum", "field": "amount"}, "c": "count",
    "s": ["sum", "amount"]}``, or a list of Agg (named ``count``, ``sum_amount``...)."""
    if spec is None:
        return {"count": Agg("count")}
    if isinstance(spec, Agg):
        spec = [spec]
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        out: dict[str, Agg] = {}
        for i, item in enumerate(spec):
            agg = _one(item, f"aggregates[{i}]")
            out[agg.op if agg.field is None else f"{agg.op}_{agg.field}"] = agg
        return out
    if not isinstance(spec, Mapping) or not spec:
        raise QueryError(f"aggregates: expected a dict of name -> aggregate, got {spec!r}")
    return {str(name): _one(item, f"aggregates.{name}") for name, item in spec.items()}


def _one(item: Any, where: str) -> Agg:
    try:
        if isinstance(item, Agg):
            return item
        if isinstance(item, str):
            return Agg(item)
        if isinstance(item, Mapping):
            unknown = set(item) - {"op", "field"}
            if unknown:
                raise QueryError(f"unknown key {sorted(unknown)[0]!r} (use op, field)")
            return Agg(str(item.get("op")), item.get("field"))
        if isinstance(item, Sequence) and len(item) == 2:
            return Agg(str(item[0]), item[1])
    except QueryError as exc:
        raise QueryError(f"{where}: {exc}") from exc
    raise QueryError(f"{where}: expected Agg, 'count', ['sum', 'field'] or "
                     f"{{'op': 'sum', 'field': 'x'}}, got {item!r}")


def sort_key(value: Any) -> tuple[int, Any]:
    """The total order of query results for one value: null < false < true < numbers <
    strings < arrays = objects."""
    if value is None:
        return (1, 0)
    if value is False:
        return (2, 0)
    if value is True:
        return (3, 0)
    if isinstance(value, int | float):
        return (4, value)
    if isinstance(value, str):
        return (5, value)
    return (6, 0)


def _decode(cat: Any, number: Any, string: Any, raw: Any) -> Any:
    if cat == "number":
        return number
    if cat == "string":
        return string
    if cat in ("array", "object"):
        return decode(raw)
    return {"true": True, "false": False}.get(str(cat))


def run(db: Database, chain: Chain, target: Target, aggregates: Any = None, *,
        where: Where = None, group_by: str | Sequence[str] | None = None,
        window: Window | None = None) -> dict[str, Any] | list[dict[str, Any]]:
    """Aggregate the matching elements; without ``group_by`` one dict, with it one dict per
    group (group fields first), groups in sort order."""
    aggs = parse_aggregates(aggregates)
    groups = [group_by] if isinstance(group_by, str) else list(group_by or [])
    paths = [parse_field(g, f"group_by[{i}]") for i, g in enumerate(groups)]
    clash = set(groups) & set(aggs)
    if clash:
        raise QueryError(f"aggregates: the name {sorted(clash)[0]!r} is also a group_by "
                         "field; name the aggregate differently")
    comp = target.compiler(db)
    flt = to_filter(where)
    fsql, fparams = comp.filter(flt)
    index = indexes.pick(db, target, flt)
    hint = ""
    if index is not None:
        fsql = f"{target.literal_sql()} AND {fsql}"
        hint = db.dialect.index_hint(index)
    vis, vparams = visible(chain, target.kind)
    base = (f"FROM rows r {hint} WHERE r.kind = ? AND r.op = 1 AND {vis} AND r.type = ? "
            f"AND ({fsql})")
    base_params = [target.kind, *vparams, target.type, *fparams]
    valid, valid_params = in_window(window)
    if valid:
        base += f" AND {valid}"
        base_params += valid_params
    group_cols = [col for path in paths for col in _group_columns(comp, path)]
    agg_cols: list[str] = []
    for agg in aggs.values():
        agg_cols += _agg_columns(comp, agg)
    cols = group_cols + (agg_cols or ["count(*)"])
    sql = f"SELECT {', '.join(cols)} {base}"
    if group_cols:
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(group_cols)))
    results: dict[tuple[Any, ...], dict[str, Any]] = {}
    width = len(group_cols)
    for row in db.all(sql, base_params):
        key = tuple(row[:width])
        out = _group_values(groups, key)
        values = iter(row[width:])
        for name, agg in aggs.items():
            out[name] = _finish(agg, values)
        results[key] = out
    for name, agg in aggs.items():
        if agg.op != "distinct":
            continue
        assert agg.field is not None
        path = parse_field(agg.field)
        dcols = _group_columns(comp, path, merge_null=False)
        dsql = (f"SELECT {', '.join(group_cols + dcols)} {base} AND "
                f"{_present(comp, path)} GROUP BY "
                + ", ".join(str(i + 1) for i in range(width + 4)))
        for row in db.all(dsql, base_params):
            key = tuple(row[:width])
            if key in results:
                results[key][name].append(_decode(*row[width:]))
        for out in results.values():
            out[name].sort(key=sort_key)
    if not groups:
        if not results:  # no rows at all: SQL returns one row for plain aggregates
            return {name: _finish(agg, iter([None, None])) for name, agg in aggs.items()}
        return next(iter(results.values()))
    ordered = sorted(results.values(), key=lambda o: [sort_key(o[g]) for g in groups])
    return ordered


def _present(comp: Compiler, path: Path) -> str:
    if path == ("@key",):
        return "(1 = 1)"
    return f"({comp.type_of(path)} IS NOT NULL)"


def _group_columns(comp: Compiler, path: Path, *, merge_null: bool = True) -> list[str]:
    number, string, raw = comp.typed(path)
    cat = comp.category(path)
    if merge_null:
        cat = f"coalesce({cat}, 'null')"
    return [cat, number, string, raw]


def _group_values(groups: list[str], key: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, name in enumerate(groups):
        out[name] = _decode(*key[4 * i:4 * i + 4])
    return out


def _agg_columns(comp: Compiler, agg: Agg) -> list[str]:
    if agg.field is None:
        return ["count(*)"]
    path = parse_field(agg.field)
    number, string, _ = comp.typed(path)
    if agg.op == "count":
        if path == ("@key",):
            return ["count(*)"]
        kinds = [c for c in CATEGORIES if c != "null"]
        return [f"count(CASE WHEN {comp.is_(path, *kinds)} THEN 1 END)"]
    if agg.op == "sum":
        return [f"sum({number})"]
    if agg.op == "avg":
        return [f"avg({number})"]
    if agg.op in ("min", "max"):
        return [f"{agg.op}({number})", f"{agg.op}({string})"]
    return []  # distinct: a second query


def _finish(agg: Agg, values: Any) -> Any:
    if agg.op == "count":
        return int(next(values) or 0)
    if agg.op == "sum":
        total = next(values)
        return 0 if total is None else total
    if agg.op == "avg":
        mean = next(values)
        return None if mean is None else float(mean)
    if agg.op == "min":
        number, string = next(values), next(values)
        return number if number is not None else string
    if agg.op == "max":
        number, string = next(values), next(values)
        return string if string is not None else number
    return []
