"""Query filters: a Pythonic builder, a plain-dict form, and their translation to SQL.

``F("age") > 30``, ``Filter.gt("age", 30)`` and ``{"field": "age", "op": "gt", "value": 30}``
are the same filter. Filters are compiled to SQL through the storage dialect (JSON functions), so
they run inside the database at any commit, and the same rules hold on every backend:

* Comparisons are type-strict, as JSON has it: ``1`` never equals ``true`` or ``"1"``; ``gt``
  and friends compare numbers with numbers and strings with strings (by code point), and are
  false for any other type. ``eq(None)`` matches an explicit JSON ``null``, not a missing field.
* Every filter is true or false for every element (never SQL NULL), so ``ne`` and ``not_``
  are exact complements: ``ne("a", 1)`` also matches elements without ``a``.
* Fields are dotted paths through objects (``"address.city"``); ``"@key"`` is the element's
  key (document key or entity id).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import QueryError
from ..storage import regex
from ..storage.base import Dialect

Path = tuple[str, ...]
Scalar = str | int | float | bool | None

KEY_FIELD = "@key"
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "exists", "matches", "in")
LOGICAL = ("and", "or", "not")
CATEGORIES = ("null", "false", "true", "number", "string", "array", "object")
"""JSON value categories in sort order (a missing field sorts before all of them)."""

_RANGE_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


# -- fields and values ----------------------------------------------------------------------
def parse_field(field: object, where: str = "field") -> Path:
    """A dotted field name as a path; QueryError names what is wrong with it."""
    if not isinstance(field, str) or not field:
        raise QueryError(f"{where}: a field must be a non-empty string like 'address.city', "
                         f"got {field!r}")
    if field == KEY_FIELD:
        return (KEY_FIELD,)
    parts = tuple(field.split("."))
    for part in parts:
        if not part:
            raise QueryError(f"{where}: field {field!r} has an empty segment")
        if '"' in part or any(ord(c) < 32 for c in part):
            raise QueryError(f"{where}: field {field!r} contains a quote or control character, "
                             "which queries cannot address")
    return parts


def category(value: Any) -> str:
    """The JSON category of a Python value (see :data:`CATEGORIES`)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def _is_scalar(value: Any) -> bool:
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, int):
        return _INT_MIN <= value <= _INT_MAX
    return isinstance(value, float) and math.isfinite(value)


def _is_orderable(value: Any) -> bool:
    return _is_scalar(value) and isinstance(value, int | float | str) and \
        not isinstance(value, bool)


# -- the filter value -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Filter:
    """A condition on elements: a comparison on one field, or ``and`` / ``or`` / ``not`` of
    filters. Build with :func:`F`, the static constructors, or :meth:`from_dict`; combine with
    ``&``, ``|`` and ``~``.

    >>> (F("age") > 30) & F("city").in_(["Paris", "Rome"])
    Filter(op='and', ...)
    """

    op: str
    field: str = ""
    value: Any = None
    filters: tuple[Filter, ...] = ()

    def __post_init__(self) -> None:
        _validate(self)

    def __repr__(self) -> str:
        if self.op in LOGICAL:
            return f"Filter(op={self.op!r}, ...)"
        return f"Filter(op={self.op!r}, field={self.field!r}, value={self.value!r})"

    def __bool__(self) -> bool:
        raise QueryError("combine filters with &, | and ~ (or and_, or_, not_), not with "
                         "Python's and / or / not or chained comparisons")

    def __and__(self, other: Filter) -> Filter:
        return and_(self, other)

    def __or__(self, other: Filter) -> Filter:
        return or_(self, other)

    def __invert__(self) -> Filter:
        return not_(self)

    # constructors, one per operator
    @staticmethod
    def eq(field: str, value: Scalar) -> Filter:
        return Filter("eq", field, value)

    @staticmethod
    def ne(field: str, value: Scalar) -> Filter:
        return Filter("ne", field, value)

    @staticmethod
    def gt(field: str, value: int | float | str) -> Filter:
        return Filter("gt", field, value)

    @staticmethod
    def gte(field: str, value: int | float | str) -> Filter:
        return Filter("gte", field, value)

    @staticmethod
    def lt(field: str, value: int | float | str) -> Filter:
        return Filter("lt", field, value)

    @staticmethod
    def lte(field: str, value: int | float | str) -> Filter:
        return Filter("lte", field, value)

    @staticmethod
    def contains(field: str, value: Scalar) -> Filter:
        """Arrays holding ``value`` as an element, or strings holding it as a substring."""
        return Filter("contains", field, value)

    @staticmethod
    def exists(field: str, present: bool = True) -> Filter:
        """The field is present (any value, null included), or with ``False`` absent."""
        return Filter("exists", field, present)

    @staticmethod
    def matches(field: str, pattern: str) -> Filter:
        """String values in which the regular expression finds a match (RE2 syntax, ``re.search`` semantics; docs/query.md)."""
        return Filter("matches", field, pattern)

    @staticmethod
    def in_(field: str, values: Iterable[Scalar]) -> Filter:
        return Filter("in", field, tuple(values) if not isinstance(values, str) else values)

    @staticmethod
    def and_(*filters: Filter) -> Filter:
        return and_(*filters)

    @staticmethod
    def or_(*filters: Filter) -> Filter:
        return or_(*filters)

    @staticmethod
    def not_(inner: Filter) -> Filter:
        return not_(inner)

    # plain-dict form
    def to_dict(self) -> dict[str, Any]:
        """The canonical dict form (what :meth:`from_dict` and the HTTP API accept)."""
        if self.op == "not":
            return {"not": self.filters[0].to_dict()}
        if self.op in ("and", "or"):
            return {self.op: [f.to_dict() for f in self.filters]}
        value = list(self.value) if self.op == "in" else self.value
        return {"field": self.field, "op": self.op, "value": value}

    @staticmethod
    def from_dict(data: Any, where: str = "where") -> Filter:
        """Parse the dict form: ``{"field", "op", "value"}``, ``{"and": [...]}``,
        ``{"or": [...]}``, ``{"not": {...}}``, or the shorthand ``{"age": {"gt": 30},
        "city": "Paris"}`` (several fields: all must hold; operators may be written ``$gt``)."""
        return _from_dict(data, where)


def _validate(f: Filter) -> None:
    op = f.op
    if op in LOGICAL:
        if not all(isinstance(x, Filter) for x in f.filters):
            raise QueryError(f"{op}: every operand must be a Filter")
        if op == "not" and len(f.filters) != 1:
            raise QueryError("not: takes exactly one filter")
        return
    if op not in OPERATORS:
        raise QueryError(f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
    what = f"{op}({f.field!r})"
    parse_field(f.field, what)
    value = f.value
    if op in ("eq", "ne", "contains"):
        if not _is_scalar(value):
            raise QueryError(f"{what}: the value must be a string, number, boolean or None, "
                             f"got {type(value).__name__}")
    elif op in _RANGE_OPS:
        if not _is_orderable(value):
            raise QueryError(f"{what}: the value must be a number or a string, "
                             f"got {type(value).__name__}")
    elif op == "exists":
        if not isinstance(value, bool):
            raise QueryError(f"{what}: the value must be true or false")
    elif op == "matches":
        if not isinstance(value, str):
            raise QueryError(f"{what}: the pattern must be a string")
        try:
            regex.check(value)
        except QueryError as exc:
            raise QueryError(f"{what}: {exc}") from None
    elif op == "in" and (not isinstance(value, tuple) or not all(_is_scalar(v) for v in value)):
        raise QueryError(f"{what}: the value must be a list of strings, numbers, booleans "
                         "or None")


def and_(*filters: Filter) -> Filter:
    """All of ``filters`` hold (true when there are none)."""
    flat: list[Filter] = []
    for f in filters:
        flat.extend(f.filters if isinstance(f, Filter) and f.op == "and" else [f])
    return Filter("and", filters=tuple(flat))


def or_(*filters: Filter) -> Filter:
    """At least one of ``filters`` holds (false when there are none)."""
    flat: list[Filter] = []
    for f in filters:
        flat.extend(f.filters if isinstance(f, Filter) and f.op == "or" else [f])
    return Filter("or", filters=tuple(flat))


def not_(inner: Filter) -> Filter:
    return Filter("not", filters=(inner,))


class Field:
    """A field to compare: ``F("age") > 30``, ``F("tags").contains("x")``."""

    __slots__ = ("name",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, name: str) -> None:
        parse_field(name)
        self.name = name

    def __repr__(self) -> str:
        return f"F({self.name!r})"

    def __eq__(self, value: Scalar) -> Filter:  # type: ignore[override]
        return Filter("eq", self.name, value)

    def __ne__(self, value: Scalar) -> Filter:  # type: ignore[override]
        return Filter("ne", self.name, value)

    def __gt__(self, value: int | float | str) -> Filter:
        return Filter("gt", self.name, value)

    def __ge__(self, value: int | float | str) -> Filter:
        return Filter("gte", self.name, value)

    def __lt__(self, value: int | float | str) -> Filter:
        return Filter("lt", self.name, value)

    def __le__(self, value: int | float | str) -> Filter:
        return Filter("lte", self.name, value)

    def eq(self, value: Scalar) -> Filter:
        return Filter("eq", self.name, value)

    def ne(self, value: Scalar) -> Filter:
        return Filter("ne", self.name, value)

    def contains(self, value: Scalar) -> Filter:
        return Filter.contains(self.name, value)

    def exists(self, present: bool = True) -> Filter:
        return Filter.exists(self.name, present)

    def matches(self, pattern: str) -> Filter:
        return Filter.matches(self.name, pattern)

    def in_(self, values: Iterable[Scalar]) -> Filter:
        return Filter.in_(self.name, values)


def F(name: str) -> Field:
    """A field reference for building filters: ``F("address.city") == "Paris"``."""
    return Field(name)


# -- dict form ------------------------------------------------------------------------------
def _from_dict(data: Any, where: str) -> Filter:
    if isinstance(data, Filter):
        return data
    if not isinstance(data, Mapping):
        raise QueryError(f"{where}: a filter must be an object, got {type(data).__name__}")
    try:
        if "op" in data and "field" in data and set(data) <= {"op", "field", "value"}:
            op = data["op"]
            if not isinstance(op, str):
                raise QueryError(f"{where}.op: must be a string")
            op = op.lstrip("$")
            if op in LOGICAL:
                raise QueryError(f"{where}.op: {op!r} takes filters: write {{{op!r}: [...]}}")
            value = data.get("value", True if op == "exists" else None)
            if op == "in":
                if not isinstance(value, list | tuple):
                    raise QueryError(f"{where}.value: 'in' needs a list")
                value = tuple(value)
            return Filter(op, data["field"], value)
        if len(data) == 1:
            (name, body), = data.items()
            logical = name.lstrip("$") if isinstance(name, str) else name
            if logical in ("and", "or"):
                if not isinstance(body, list | tuple):
                    raise QueryError(f"{where}.{logical}: must be a list of filters")
                parts = [_from_dict(x, f"{where}.{logical}[{i}]") for i, x in enumerate(body)]
                return Filter(logical, filters=tuple(parts))
            if logical == "not":
                return not_(_from_dict(body, f"{where}.not"))
        parts = []
        for name, body in data.items():
            parts += _shorthand(name, body, f"{where}.{name}")
        return parts[0] if len(parts) == 1 else Filter("and", filters=tuple(parts))
    except QueryError as exc:
        message = str(exc)
        if not message.startswith(where):
            raise QueryError(f"{where}: {message}") from exc
        raise


def _shorthand(name: Any, body: Any, where: str) -> list[Filter]:
    parse_field(name, where)
    if isinstance(body, Mapping) and body:
        out = []
        for op, value in body.items():
            if not isinstance(op, str):
                raise QueryError(f"{where}: operator names must be strings")
            op = op.lstrip("$")
            if op not in OPERATORS:
                raise QueryError(f"{where}: unknown operator {op!r}; use one of "
                                 f"{', '.join(OPERATORS)}")
            if op == "in":
                if not isinstance(value, list | tuple):
                    raise QueryError(f"{where}.in: needs a list")
                value = tuple(value)
            out.append(_make(op, name, value, f"{where}.{op}"))
        return out
    return [_make("eq", name, body, where)]


def _make(op: str, field: str, value: Any, where: str) -> Filter:
    try:
        return Filter(op, field, value)
    except QueryError as exc:
        raise QueryError(f"{where}: {exc}") from exc


def to_filter(where: Filter | Mapping[str, Any] | None) -> Filter | None:
    """Accept a Filter, the dict form, or None (everything)."""
    if where is None:
        return None
    return where if isinstance(where, Filter) else Filter.from_dict(where)


# -- order and projection -------------------------------------------------------------------
def parse_order(order_by: Any) -> list[tuple[str, bool]]:
    """``"age"``, ``"-age"`` (descending), a list of those, ``("age", "desc")`` pairs or
    ``{"field": "age", "order": "desc"}`` objects -> [(field, descending)]."""
    if order_by is None:
        return []
    items = [order_by] if isinstance(order_by, str | Mapping) else order_by
    if isinstance(order_by, tuple) and len(order_by) == 2 and \
            order_by[1] in ("asc", "desc"):
        items = [order_by]
    if not isinstance(items, Sequence):
        raise QueryError(f"order_by: expected a field name or a list of them, got {order_by!r}")
    out: list[tuple[str, bool]] = []
    for i, item in enumerate(items):
        where = f"order_by[{i}]"
        name: Any
        if isinstance(item, str):
            name, desc = (item[1:], True) if item.startswith("-") else (item, False)
        elif isinstance(item, Mapping):
            name, direction = item.get("field"), item.get("order", "asc")
            if direction not in ("asc", "desc"):
                raise QueryError(f"{where}.order: must be 'asc' or 'desc', not {direction!r}")
            desc = direction == "desc"
        elif isinstance(item, Sequence) and len(item) == 2 and item[1] in ("asc", "desc"):
            name, desc = item[0], item[1] == "desc"
        else:
            raise QueryError(f"{where}: expected 'field', '-field' or ('field', 'desc'), "
                             f"got {item!r}")
        parse_field(name, where)
        out.append((str(name), desc))
    return out


def parse_select(select: Any) -> list[Path] | None:
    if select is None:
        return None
    items = [select] if isinstance(select, str) else select
    if not isinstance(items, Sequence):
        raise QueryError(f"select: expected a list of field names, got {select!r}")
    return [parse_field(name, f"select[{i}]") for i, name in enumerate(items)]


_MISSING = object()


def lookup(value: Any, path: Path) -> Any:
    """The value at ``path`` inside ``value``, or :data:`_MISSING`."""
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def project(value: Any, paths: list[Path]) -> dict[str, Any]:
    """Only the selected fields of a JSON value, keeping their nesting."""
    out: dict[str, Any] = {}
    for path in paths:
        if path == (KEY_FIELD,):
            continue
        found = lookup(value, path)
        if found is _MISSING:
            continue
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = found
    return out


# -- SQL ------------------------------------------------------------------------------------
class Compiler:
    """Translates filters, orderings and grouped values to SQL over one row alias.

    ``column`` holds the JSON (the document value, or the entity's properties); ``key`` is
    the SQL of the element's key (for ``"@key"``).
    """

    def __init__(self, dialect: Dialect, *, column: str = "r.value", key: str = "r.key") -> None:
        self.d = dialect
        self.column = column
        self.key = key

    # pieces
    def type_of(self, path: Path) -> str:
        return self.d.json_type(self.column, path)

    def names(self, *cats: str) -> str:
        return ", ".join("'" + n + "'" for c in cats for n in self.d.json_types[c])

    def is_(self, path: Path, *cats: str) -> str:
        """SQL true (never NULL) when the value at ``path`` is of one of ``cats``."""
        return f"coalesce({self.type_of(path)}, '') IN ({self.names(*cats)})"

    def number(self, path: Path) -> str:
        return self.d.json_number(self.column, path)

    def string(self, path: Path) -> str:
        return self.d.json_string(self.column, path)

    def category(self, path: Path) -> str:
        """SQL yielding the category name (``number``, ``string``...), NULL when missing."""
        if path == (KEY_FIELD,):
            return "'string'"
        t = self.type_of(path)
        cases = " ".join(f"WHEN {t} IN ({self.names(c)}) THEN '{c}'" for c in CATEGORIES)
        return f"(CASE {cases} END)"

    def rank(self, path: Path) -> str:
        t = self.type_of(path)
        cases = " ".join(f"WHEN {t} IN ({self.names(c)}) THEN {i + 1}"
                         for i, c in enumerate(CATEGORIES))
        return f"(CASE {cases} ELSE 0 END)"

    def typed(self, path: Path) -> tuple[str, str, str]:
        """(number, string, JSON text of arrays/objects) SQL for grouping and distinct."""
        if path == (KEY_FIELD,):
            return "NULL", self.key, "NULL"
        return (f"(CASE WHEN {self.is_(path, 'number')} THEN {self.number(path)} END)",
                f"(CASE WHEN {self.is_(path, 'string')} THEN {self.string(path)} END)",
                f"(CASE WHEN {self.is_(path, 'array', 'object')} THEN "
                f"{self.d.json_text(self.column, path)} END)")

    # filters
    def filter(self, f: Filter | None) -> tuple[str, list[Any]]:
        if f is None:
            return "(1 = 1)", []
        params: list[Any] = []
        return self._node(f, params), params

    def _node(self, f: Filter, params: list[Any]) -> str:
        if f.op in ("and", "or"):
            if not f.filters:
                return "(1 = 1)" if f.op == "and" else "(1 = 0)"
            return "(" + f" {f.op.upper()} ".join(self._node(x, params) for x in f.filters) + ")"
        if f.op == "not":
            return f"(NOT {self._node(f.filters[0], params)})"
        if f.op == "ne":
            return f"(NOT {self._eq(parse_field(f.field), f.value, params)})"
        path = parse_field(f.field)
        if f.op == "eq":
            return self._eq(path, f.value, params)
        if f.op == "in":
            return self._in(path, f.value, params)
        if path == (KEY_FIELD,):
            return self._key_op(f, params)
        if f.op in _RANGE_OPS:
            cat = "string" if isinstance(f.value, str) else "number"
            expr = self.string(path) if cat == "string" else self.number(path)
            params.append(f.value)
            return f"({self.is_(path, cat)} AND {expr} {_RANGE_OPS[f.op]} ?)"
        if f.op == "exists":
            return f"({self.type_of(path)} IS {'NOT ' if f.value else ''}NULL)"
        if f.op == "matches":
            params.append(self.d.regex_pattern(f.value))
            return f"({self.is_(path, 'string')} AND {self.d.regex_search(self.string(path))})"
        assert f.op == "contains"
        value, cat = f.value, category(f.value)
        parts = []
        if cat == "string":
            params.append(value)
            parts.append(f"({self.is_(path, 'string')} AND "
                         f"{self.d.text_contains(self.string(path))})")
        with_value = cat in ("number", "string")
        if with_value:
            params.append(value)
        parts.append(self.d.json_array_has(self.column, path, self.d.json_types[cat],
                                           with_value))
        return "(" + " OR ".join(parts) + ")"

    def _eq(self, path: Path, value: Scalar, params: list[Any]) -> str:
        if path == (KEY_FIELD,):
            if not isinstance(value, str):
                return "(1 = 0)"
            params.append(value)
            return f"({self.key} = ?)"
        cat = category(value)
        if cat in ("null", "true", "false"):
            return f"({self.is_(path, cat)})"
        expr = self.string(path) if cat == "string" else self.number(path)
        params.append(value)
        return f"({self.is_(path, cat)} AND {expr} = ?)"

    def _in(self, path: Path, values: tuple[Scalar, ...], params: list[Any]) -> str:
        if path == (KEY_FIELD,):
            keys = [v for v in values if isinstance(v, str)]
            if not keys:
                return "(1 = 0)"
            params += keys
            return f"({self.key} IN ({', '.join('?' * len(keys))}))"
        parts = []
        for cat in ("number", "string"):
            group = [v for v in values if category(v) == cat]
            if group:
                expr = self.string(path) if cat == "string" else self.number(path)
                params += group
                parts.append(f"({self.is_(path, cat)} AND {expr} IN "
                             f"({', '.join('?' * len(group))}))")
        flags = sorted({category(v) for v in values} & {"null", "true", "false"})
        if flags:
            parts.append(f"({self.is_(path, *flags)})")
        return "(" + " OR ".join(parts) + ")" if parts else "(1 = 0)"

    def _key_op(self, f: Filter, params: list[Any]) -> str:
        if f.op == "exists":
            return "(1 = 1)" if f.value else "(1 = 0)"
        if f.op in _RANGE_OPS:
            if not isinstance(f.value, str):
                return "(1 = 0)"
            params.append(f.value)
            return f"({self.key} {_RANGE_OPS[f.op]} ?)"
        if not isinstance(f.value, str):
            return "(1 = 0)"
        if f.op == "matches":
            params.append(self.d.regex_pattern(f.value))
            return self.d.regex_search(self.key)
        params.append(f.value)
        return self.d.text_contains(self.key)

    # ordering
    def order(self, order: list[tuple[str, bool]]) -> str:
        """ORDER BY terms: per field, missing < null < false < true < numbers < strings <
        arrays = objects; ties broken by the next field, then by key."""
        terms: list[str] = []
        for name, desc in order:
            way = "DESC" if desc else "ASC"
            path = parse_field(name)
            if path == (KEY_FIELD,):
                terms.append(f"{self.key} {way}")
                continue
            number, string, _ = self.typed(path)
            terms += [f"{self.rank(path)} {way}", f"{number} {way}", f"{string} {way}"]
        terms.append(f"{self.key} ASC")
        return ", ".join(terms)


def indexable_fields(f: Filter | None) -> list[str]:
    """Fields that a top-level conjunct compares with an index-friendly operator (equality or
    a range on one number or string, or ``in`` over values of one kind)."""
    if f is None:
        return []
    out: list[str] = []
    parts = f.filters if f.op == "and" else (f,)
    for part in parts:
        if (part.op in ("eq", *_RANGE_OPS) and _is_orderable(part.value)) or (part.op == "in" and part.value and len({category(v) for v in part.value}) == 1 \
                and category(part.value[0]) in ("number", "string")):
            out.append(part.field)
    return [name for name in out if name != KEY_FIELD]
