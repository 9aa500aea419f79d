"""SQL building blocks for SPARQL: the triples of a state, and RDF terms encoded as text.

The graph SPARQL sees is the one ``export`` writes as RDF (docs/rdf.md, docs/sparql.md). Its
triples come from three sources over the visible rows, each a SELECT that SQL joins:

* **types**: entity ``key`` ``rdf:type`` ``type`` (unless the type is a marker starting with
  ``@`` or a shortened name with a space), and one per string in the ``@types`` property;
* **properties**: entity ``key`` ``<property key>`` literal, one per value (one per element when
  the value is a list), keys starting with ``@`` excluded;
* **relations**: ``source`` ``<relation type>`` ``target``.

Every RDF term is one text value (``Term encoding`` in docs/sparql.md), so joins, DISTINCT and
equality of terms are text equality, exact on both backends:

``<name`` an IRI or blank node (``_:label``) by its palimpsest name; ``"lexical`` an
``xsd:string``; ``ilexical`` an ``xsd:integer``; ``fjson`` an ``xsd:double`` stored as a JSON
number (its JSON text); ``dlexical`` an ``xsd:double`` stored as a typed value; ``nlexical`` an ``xsd:decimal``;
``btrue`` /
``bfalse``; ``@lang[--dir]\\x1flexical`` a language-tagged string; ``^datatype\\x1flexical``
any other typed literal (datatype by name); ``jjson`` an ``rdf:JSON`` literal.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..storage import regex
from ..storage.base import Database
from ..storage.visibility import Chain, visible

SEP = "\x1f"
INT_RE = r"^[+-]?[0-9]+$"
DOUBLE_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_PLAIN_KEY = re.compile(r"[^'\"\\()%?{}\x00-\x1f]{1,200}")
DECIMAL_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"


# -- SQL fragments with parameters kept in text order ------------------------------------------
@dataclass(frozen=True, slots=True)
class P:
    """A query parameter."""

    value: Any


class S:
    """A piece of SQL: text, parameters and nested pieces, rendered in order."""

    __slots__ = ("parts",)

    def __init__(self, *parts: str | P | S) -> None:
        self.parts = parts

    def render(self) -> tuple[str, list[Any]]:
        text: list[str] = []
        params: list[Any] = []
        self.write_into(text, params)
        return "".join(text), params

    def write_into(self, text: list[str], params: list[Any]) -> None:
        for part in self.parts:
            if isinstance(part, str):
                text.append(part)
            elif isinstance(part, P):
                text.append("?")
                params.append(part.value)
            else:
                part.write_into(text, params)


def fmt(template: str, *args: str | P | S) -> S:
    """``template`` with each ``{}`` replaced by the next argument (text is inserted as is)."""
    pieces = template.split("{}")
    if len(pieces) != len(args) + 1:
        raise ValueError(f"{len(args)} arguments for {len(pieces) - 1} slots in {template!r}")
    parts: list[str | P | S] = [pieces[0]]
    for arg, piece in zip(args, pieces[1:], strict=True):
        parts += [arg, piece]
    return S(*parts)


def join(sep: str, items: Sequence[str | P | S]) -> S:
    parts: list[str | P | S] = []
    for i, item in enumerate(items):
        if i:
            parts.append(sep)
        parts.append(item)
    return S(*parts)


def with_params(sql: str, params: Sequence[Any]) -> S:
    """Text with ``?`` placeholders (and no quoted ``?``) and its parameters, as an S."""
    pieces = sql.split("?")
    if len(pieces) != len(params) + 1:
        raise ValueError("placeholder count does not match the parameters")
    parts: list[str | P | S] = [pieces[0]]
    for value, piece in zip(params, pieces[1:], strict=True):
        parts += [P(value), piece]
    return S(*parts)


def quote(text: str) -> str:
    """An SQL string literal for a constant of this module (never user input)."""
    return "'" + text.replace("'", "''") + "'"


# -- dialects ------------------------------------------------------------------------------
class Dialect:
    """What differs between SQLite and PostgreSQL for SPARQL."""

    postgres = False
    materialized = "MATERIALIZED " if sqlite3.sqlite_version_info >= (3, 35) else ""
    """The hint that computes a common table expression once (SQLite 3.35+)."""

    def sep(self) -> str:
        return "char(31)"

    def regex(self, expr: str, pattern: str) -> str:
        return f"({expr} REGEXP {quote(pattern)})"

    def regex_param(self, expr: str | S, pattern: str) -> S:
        """SQL true when the user's ``pattern`` (RE2 syntax, checked) matches in ``expr``."""
        regex.compile_pattern(pattern)
        return fmt("({} REGEXP {})", expr, P(pattern))

    def pos(self, needle: str, haystack: str) -> str:
        return f"instr({haystack}, {needle})"

    def number(self, expr: str) -> str:
        return f"CAST({expr} AS NUMERIC)"

    def text(self, expr: str) -> str:
        """Text that compares by code point."""
        return expr

    def right(self, expr: str, n: int) -> str:
        return f"substr({expr}, -{n})"

    def guarded(self, col: str) -> str:
        """The JSON value in ``col`` (an erased row's marker reads as an empty object)."""
        return f"(CASE WHEN substr({col}, 1, 1) = '{{' THEN {col} ELSE '{{}}' END)"

    # element-wise access to the props of entity rows ``e`` --------------------------------
    def prop_branches(self) -> list[tuple[str, str, Element]]:
        """(FROM clause after ``rows e``, key expression, element) for scalar props and for
        list elements."""
        doc = self.guarded("e.value")
        scalar = Element(self, "j.type", "j.value", f"({doc} -> j.fullkey)")
        item = Element(self, "k.type", "k.value", f"({doc} -> k.fullkey)")
        return [
            (f", json_each({doc}) j", "j.key", scalar),
            (f", json_each({doc}) j, json_each({doc}, j.fullkey) k", "j.key", item),
        ]

    def array_only(self, branch: int) -> str:
        return "j.type <> 'array'" if branch == 0 else "j.type = 'array'"

    def prop_by_key(self, key: str, branch: int) -> tuple[str, str, Element]:
        """(FROM clause, test, element) reading property ``key`` (no quotes or backslashes)
        of entity rows ``e``: its value when not a list (branch 0), else each element."""
        doc, path = self.guarded("e.value"), quote(f'$."{key}"')
        if branch == 0:
            kind = f"json_type({doc}, {path})"
            return ("", f"{kind} IS NOT NULL AND {kind} <> 'array'",
                    Element(self, kind, f"json_extract({doc}, {path})", f"({doc} -> {path})"))
        return (f", json_each({doc}, {path}) k", f"json_type({doc}, {path}) = 'array'",
                Element(self, "k.type", "k.value", f"({doc} -> k.fullkey)"))

    def types_from(self) -> str:
        doc = self.guarded("e.value")
        return (f", json_each(CASE WHEN json_type({doc}, '$.\"@types\"') = 'array' "
                f"THEN json_extract({doc}, '$.\"@types\"') ELSE '[]' END) t")

    def types_value(self) -> str:
        return "(CASE WHEN t.type = 'text' THEN t.value END)"


class PostgresDialect(Dialect):
    postgres = True
    materialized = "MATERIALIZED "

    def sep(self) -> str:
        return "chr(31)"

    def regex(self, expr: str, pattern: str) -> str:
        return f"({expr} ~ {quote(pattern)})"

    def regex_param(self, expr: str | S, pattern: str) -> S:
        regex.compile_pattern(pattern)
        return fmt("({} ~ {})", expr, P(regex.to_postgres(pattern)))

    def pos(self, needle: str, haystack: str) -> str:
        return f"strpos({haystack}, {needle})"

    def number(self, expr: str) -> str:
        return f"CAST({expr} AS numeric)"

    def text(self, expr: str) -> str:
        return f"({expr} COLLATE \"C\")"

    def right(self, expr: str, n: int) -> str:
        return f"right({expr}, {n})"

    def guarded(self, col: str) -> str:
        return f"(CASE WHEN substr({col}, 1, 1) = '{{' THEN {col} ELSE '{{}}' END)::json"

    def prop_branches(self) -> list[tuple[str, str, Element]]:
        doc = self.guarded("e.value")
        scalar = PgElement(self, "j.value")
        item = PgElement(self, "k.value")
        return [
            (f" CROSS JOIN LATERAL json_each({doc}) j", "j.key", scalar),
            (f" CROSS JOIN LATERAL json_each({doc}) j CROSS JOIN LATERAL json_array_elements("
             "CASE WHEN json_typeof(j.value) = 'array' THEN j.value ELSE '[]'::json END) k",
             "j.key", item),
        ]

    def array_only(self, branch: int) -> str:
        return ("json_typeof(j.value) <> 'array'" if branch == 0
                else "json_typeof(j.value) = 'array'")

    def prop_by_key(self, key: str, branch: int) -> tuple[str, str, Element]:
        node = f"({self.guarded('e.value')} -> {quote(key)})"
        if branch == 0:
            return ("", f"{node} IS NOT NULL AND json_typeof({node}) <> 'array'",
                    PgElement(self, node))
        return (f" CROSS JOIN LATERAL json_array_elements(CASE WHEN json_typeof({node}) = "
                "'array' THEN " + node + " ELSE '[]'::json END) k",
                f"json_typeof({node}) = 'array'", PgElement(self, "k.value"))

    def types_from(self) -> str:
        doc = self.guarded("e.value")
        return (f" CROSS JOIN LATERAL json_array_elements(CASE WHEN json_typeof({doc} -> '@types')"
                f" = 'array' THEN {doc} -> '@types' ELSE '[]'::json END) t(value)")

    def types_value(self) -> str:
        return "(CASE WHEN json_typeof(t.value) = 'string' THEN t.value #>> '{}' END)"


def dialect_of(db: Database) -> Dialect:
    return PostgresDialect() if db.capabilities.postgres_json else Dialect()


class Element:
    """One JSON value inside a row (SQLite ``json_each`` row): its encoding as an RDF term."""

    def __init__(self, d: Dialect, type_: str, value: str, raw: str) -> None:
        self.d, self.type, self.value, self.raw = d, type_, value, raw

    def is_(self, kind: str) -> str:
        names = {"string": "'text'", "int": "'integer'", "float": "'real'", "true": "'true'",
                 "false": "'false'", "object": "'object'"}
        return f"{self.type} = {names[kind]}"

    def string(self) -> str:
        return self.value

    def field_is_string(self, name: str) -> str:
        return f"json_type({self.value}, '$.\"{name}\"') = 'text'"

    def field(self, name: str) -> str:
        return f"json_extract({self.value}, '$.\"{name}\"')"

    def has(self, name: str) -> str:
        return f"json_type({self.value}, '$.\"{name}\"') IS NOT NULL"

    def n_keys(self) -> str:
        return f"(SELECT count(*) FROM json_each({self.value}))"

    def encode(self) -> str:
        """SQL for the encoded term of this value, exactly as export maps it to a literal."""
        sep = self.d.sep()
        v, ty = self.field("@value"), self.field("@type")
        lang, direction = self.field("@language"), self.field("@direction")
        with_dir = (f"(CASE WHEN {self.has('@direction')} THEN '--' || {direction} "
                    "ELSE '' END)")
        lang_shape = (f"{self.field_is_string('@value')} AND {self.field_is_string('@language')}"
                      f" AND (({self.n_keys()} = 2) OR ({self.n_keys()} = 3 AND "
                      f"{self.field_is_string('@direction')}))")
        typed_shape = (f"{self.field_is_string('@value')} AND {self.field_is_string('@type')}"
                       f" AND {self.n_keys()} = 2")
        typed = (f"CASE WHEN {ty} = 'xsd:string' THEN '\"' || {v} "
                 f"WHEN {ty} = 'xsd:integer' AND {self.d.regex(v, INT_RE)} THEN 'i' || {v} "
                 f"WHEN {ty} = 'xsd:double' AND {self.d.regex(v, DOUBLE_RE)} THEN 'd' || {v} "
                 f"WHEN {ty} = 'xsd:decimal' AND {self.d.regex(v, DECIMAL_RE)} THEN 'n' || {v} "
                 f"WHEN {ty} = 'xsd:boolean' AND {v} IN ('true', 'false') THEN 'b' || {v} "
                 f"ELSE '^' || {ty} || {sep} || {v} END")
        obj = (f"CASE WHEN {lang_shape} THEN '@' || {lang} || {with_dir} || {sep} || {v} "
               f"WHEN {typed_shape} THEN {typed} ELSE 'j' || {self.raw} END")
        return (f"(CASE WHEN {self.is_('string')} THEN '\"' || {self.string()} "
                f"WHEN {self.is_('int')} THEN 'i' || {self.raw} "
                f"WHEN {self.is_('float')} THEN 'f' || {self.raw} "
                f"WHEN {self.is_('true')} THEN 'btrue' WHEN {self.is_('false')} THEN 'bfalse' "
                f"WHEN {self.is_('object')} THEN ({obj}) "
                f"ELSE 'j' || {self.raw} END)")


class PgElement(Element):
    """One JSON value (type ``json``, which keeps number texts as written) in PostgreSQL."""

    def __init__(self, d: Dialect, node: str) -> None:
        super().__init__(d, f"json_typeof({node})", node, f"({node})::text")
        self.node = node

    def is_(self, kind: str) -> str:
        t, raw = self.type, self.raw
        if kind == "int":
            return f"{t} = 'number' AND {raw} !~ '[.eE]'"
        if kind == "float":
            return f"{t} = 'number' AND {raw} ~ '[.eE]'"
        if kind in ("true", "false"):
            return f"{t} = 'boolean' AND {raw} = '{kind}'"
        return f"{t} = '{kind}'"

    def string(self) -> str:
        return f"({self.node} #>> '{{}}')"

    def field_is_string(self, name: str) -> str:
        return f"json_typeof({self.node} -> '{name}') = 'string'"

    def field(self, name: str) -> str:
        return f"({self.node} ->> '{name}')"

    def has(self, name: str) -> str:
        return f"({self.node} -> '{name}') IS NOT NULL"

    def n_keys(self) -> str:
        return f"(SELECT count(*) FROM json_object_keys({self.node}))"



# -- triple sources ------------------------------------------------------------------------
Position = tuple[str, str]
"""``("var", column)``, ``("node", name)``, ``("literal", encoded term)`` or ``("double",
number)`` (an ``xsd:double`` constant, which matches doubles of the same value)."""
LITERALS = ("literal", "double")


def _vis(chain: Chain, kind: str, alias: str, by_position: bool = True) -> S:
    sql, params = visible(chain, kind, alias, by_position=by_position)
    return with_params(sql, params)


def _bind(out: list[S], where: list[S], expr: str, pos: Position, seen: dict[str, str]) -> None:
    """Project ``expr`` for a variable position (equal to earlier uses of the same variable
    in the pattern), or test it against a constant."""
    kind, value = pos
    if kind == "var":
        if value in seen:
            where.append(S(expr, " = ", seen[value]))
        else:
            seen[value] = expr
            out.append(S(expr, " AS ", value))
    else:
        where.append(S(expr, " = ", P(value)))


def _branch(d: Dialect, chain: Chain, source: str, s: Position, p: Position, o: Position,
            rdf_type: str, branch: int = 0) -> S | None:
    """One SELECT over visible rows giving the pattern's variables, or None if the source
    cannot hold a matching triple."""
    out: list[S] = []
    where: list[S] = []
    seen: dict[str, str] = {}
    if s[0] in LITERALS:
        return None
    if source == "relation":
        if p[0] in LITERALS or o[0] in LITERALS:
            return None
        alias, kind, from_ = "r", "r", ""
        subject, pred, obj = "'<' || r.source", "'<' || r.type", "'<' || r.target"
        # constants go to the indexed columns themselves
        consts: list[S] = []
        for col, pos in (("source", s), ("type", p), ("target", o)):
            if pos[0] == "node":
                consts.append(fmt(f"r.{col} = {{}}", P(pos[1])))
        for expr, pos in ((subject, s), (pred, p), (obj, o)):
            if pos[0] == "var":
                _bind(out, where, expr, pos, seen)
        where = consts + where
    else:
        alias, kind = "e", "e"
        subject = "'<' || e.key"
        if s[0] == "node":
            where.append(fmt("e.key = {}", P(s[1])))
        else:
            _bind(out, where, subject, s, seen)
        if source == "type":
            if p[0] in LITERALS or (p[0] == "node" and p[1] != rdf_type) or o[0] in LITERALS:
                return None
            if branch == 0:
                from_ = ""
                name = "e.type"
                where.append(S("substr(e.type, 1, 1) <> '@' AND ",
                               d.pos("' '", "e.type"), " = 0"))
            else:
                from_ = d.types_from()
                name = d.types_value()
                where.append(S(f"substr({name}, 1, 1) <> '@' AND ", d.pos("' '", name), " = 0"))
            if p[0] == "var":
                _bind(out, where, quote("<" + rdf_type), p, seen)
            if o[0] == "node":
                where.append(S(name, " = ", P(o[1])))
            else:
                _bind(out, where, f"'<' || {name}", o, seen)
        else:  # properties
            if p[0] in LITERALS or o[0] == "node":
                return None
            if p[0] == "node" and _PLAIN_KEY.fullmatch(p[1]) and not p[1].startswith("@"):
                # one known key: read it by path instead of walking every property
                from_, test, element = d.prop_by_key(p[1], branch)
                where.append(S(test))
            elif p[0] == "node":
                from_, key, element = d.prop_branches()[branch]
                where.append(S(d.array_only(branch), f" AND {key} = ", P(p[1])))
            else:
                from_, key, element = d.prop_branches()[branch]
                where.append(S(d.array_only(branch), f" AND substr({key}, 1, 1) <> '@'"))
                _bind(out, where, f"'<' || {key}", p, seen)
            if o[0] == "literal":
                where.append(S(element.encode(), " = ", P(o[1])))
            elif o[0] == "double":
                term = element.encode()
                where.append(S(f"substr({term}, 1, 1) IN ('f', 'd') AND "
                               f"{d.number(f'substr({term}, 2)')} = ", P(float(o[1]))))
            else:
                _bind(out, where, element.encode(), o, seen)
    select = join(", ", out) if out else S("1 AS z")
    conds = [S(f"{alias}.kind = '{kind}' AND {alias}.op = 1"),
             _vis(chain, kind, alias, by_position=source != "relation" or s[0] != "node"),
             *where]
    return S("SELECT ", select, f" FROM rows {alias}", from_, " WHERE ", join(" AND ", conds))


def pattern(d: Dialect, chain: Chain, s: Position, p: Position, o: Position, rdf_type: str,
            columns: Sequence[str]) -> S:
    """SELECT DISTINCT of the pattern's variables (``columns``, in order) over every source."""
    branches: list[S] = []
    for source, n in (("type", 2), ("props", 2), ("relation", 1)):
        for branch in range(n):
            found = _branch(d, chain, source, s, p, o, rdf_type, branch)
            if found is not None:
                branches.append(found)
    cols = ", ".join(columns) if columns else "z"
    if not branches:
        empty = ", ".join(f"CAST(NULL AS TEXT) AS {c}" for c in columns) or "1 AS z"
        return S(f"SELECT {empty} WHERE 1 = 0")
    return fmt(f"SELECT DISTINCT {cols} FROM ({{}}) u", join(" UNION ALL ", branches))
