"""SQL for Cypher values: every value is its JSON text (or SQL NULL for Cypher's null).

A property read gives the JSON text stored in the row (``1``, ``1.0``, ``true`` and ``"1"``
stay different values), literals and parameters are bound as canonical JSON text, and the
helpers here test a value's kind, read it as a number or a string, and write results back as
JSON text, on SQLite (JSON1) and PostgreSQL (``json``) alike.
"""

from __future__ import annotations

from typing import Any

from ..codec import canonical
from ..storage.base import Database
from .sparql_sql import P, S, fmt

NULL = S("NULL")


def lit(value: Any) -> S:
    """A constant as JSON text (SQL NULL for null)."""
    if value is None:
        return NULL
    return fmt("CAST({} AS TEXT)", P(canonical(value).decode()))


def doc(col: str) -> str:
    """The JSON object text in a rows ``value`` column (an erased row's marker reads as ``{}``)."""
    return f"(CASE WHEN substr({col}, 1, 1) = '{{' THEN {col} ELSE '{{}}' END)"


class SQLite:
    postgres = False
    sep = "char(31)"

    def is_(self, kind: str, x: S) -> S:
        names = {"num": "('integer', 'real')", "str": "('text')", "bool": "('true', 'false')",
                 "list": "('array')", "map": "('object')", "int": "('integer')"}
        return fmt("(json_type({}) IN " + names[kind] + ")", x)

    def num(self, x: S) -> S:
        return fmt("json_extract({}, '$')", x)

    def string(self, x: S) -> S:
        return fmt("json_extract({}, '$')", x)

    def json_num(self, n: S) -> S:
        return fmt("NULLIF(json_quote({}), 'null')", n)

    def json_str(self, t: S | str) -> S:
        return fmt("NULLIF(json_quote({}), 'null')", t)

    def json_float(self, n: S) -> S:
        return fmt("NULLIF(json_quote(CAST({} AS REAL)), 'null')", n)

    def prop(self, x: S | str, key: str) -> S:
        return fmt("NULLIF(({} -> {}), 'null')", x, P(_path(key)))

    def index(self, x: S, i: int) -> S:
        path = f"$[{i}]" if i >= 0 else f"$[#{i}]"
        return fmt("NULLIF(({} -> {}), 'null')", x, P(path))

    def pos(self, needle: S, hay: S) -> S:
        return fmt("instr({}, {})", hay, needle)

    def text(self, x: S) -> S:
        return x

    def size(self, x: S) -> S:
        return fmt("json_array_length({})", x)

    def each(self, x: S, alias: str) -> tuple[S, S]:
        """(FROM item, element JSON text) for the elements of a list (a non-list: itself)."""
        item = fmt(f"json_each({{}}) {alias}", x)
        elem = S(f"(CASE {alias}.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
                 f"WHEN 'null' THEN NULL WHEN 'object' THEN {alias}.value "
                 f"WHEN 'array' THEN {alias}.value ELSE json_quote({alias}.value) END)")
        return item, elem

    def lateral(self) -> str:
        return "JOIN "

    def element_json(self, pairs: list[tuple[str, S | str]], props: S | str) -> S:
        parts: list[S | str] = []
        for key, value in pairs:
            parts += [f"'{key}'", value]
        template = "json_object(" + ", ".join("{}" for _ in parts) + ", 'props', json({}))"
        return fmt(template, *parts, props)

    def keys(self, x: S) -> S:
        return fmt("(SELECT json_group_array(k.key) FROM json_each({}) k)", x)

    def group_concat(self, x: S, distinct: bool) -> S:
        return fmt("group_concat(DISTINCT {})" if distinct else "group_concat({}, ',')", x)


class Postgres(SQLite):
    postgres = True
    sep = "chr(31)"

    def _typeof(self, x: S) -> S:
        return fmt("json_typeof(CAST({} AS json))", x)

    def is_(self, kind: str, x: S) -> S:
        if kind == "int":
            return fmt("(json_typeof(CAST({} AS json)) = 'number' AND {} !~ '[.eE]')", x, x)
        names = {"num": "'number'", "str": "'string'", "bool": "'boolean'", "list": "'array'",
                 "map": "'object'"}
        return fmt("(json_typeof(CAST({} AS json)) = " + names[kind] + ")", x)

    def num(self, x: S) -> S:
        return fmt("(CASE WHEN json_typeof(CAST({} AS json)) = 'number' THEN "
                   "CAST({} AS numeric) END)", x, x)

    def string(self, x: S) -> S:
        return S("(CAST(", x, " AS json) #>> '{}')")

    def json_num(self, n: S) -> S:
        return fmt("CAST({} AS TEXT)", n)

    def json_str(self, t: S | str) -> S:
        return fmt("CAST(to_json(CAST({} AS TEXT)) AS TEXT)", t)

    def json_float(self, n: S) -> S:
        return fmt("CAST(CAST({} AS float8) AS TEXT)", n)

    def prop(self, x: S | str, key: str) -> S:
        return fmt("NULLIF(CAST((CAST({} AS json) -> CAST({} AS TEXT)) AS TEXT), 'null')",
                   x, P(key))

    def index(self, x: S, i: int) -> S:
        return fmt("NULLIF(CAST((CAST({} AS json) -> CAST({} AS INTEGER)) AS TEXT), 'null')",
                   x, P(i))

    def pos(self, needle: S, hay: S) -> S:
        return fmt("strpos({}, {})", hay, needle)

    def text(self, x: S) -> S:
        return fmt('({} COLLATE "C")', x)

    def size(self, x: S) -> S:
        return fmt("json_array_length(CAST({} AS json))", x)

    def each(self, x: S, alias: str) -> tuple[S, S]:
        item = fmt("LATERAL json_array_elements(CASE WHEN json_typeof(CAST({} AS json)) = "
                   "'array' THEN CAST({} AS json) ELSE json_build_array(CAST({} AS json)) END) "
                   f"{alias}(v)", x, x, x)
        return item, S(f"NULLIF(CAST({alias}.v AS TEXT), 'null')")

    def lateral(self) -> str:
        return "JOIN "

    def element_json(self, pairs: list[tuple[str, S | str]], props: S | str) -> S:
        parts: list[S | str] = []
        for key, value in pairs:
            parts += [f"'{key}'", value]
        template = ("CAST(json_build_object(" + ", ".join("{}" for _ in parts) +
                    ", 'props', CAST({} AS json)) AS TEXT)")
        return fmt(template, *parts, props)

    def keys(self, x: S) -> S:
        return fmt("(SELECT CAST(coalesce(json_agg(k), '[]') AS TEXT) FROM "
                   "json_object_keys(CAST({} AS json)) k)", x)

    def group_concat(self, x: S, distinct: bool) -> S:
        return fmt("string_agg(DISTINCT {}, ',')" if distinct else "string_agg({}, ',')", x)


def dialect_for(db: Database) -> SQLite:
    return Postgres() if db.capabilities.postgres_json else SQLite()


def _path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
