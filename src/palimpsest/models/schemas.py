"""Schemas versioned with the data, and the check every commit passes (docs/schemas.md).

A schema is an ordinary document of the reserved collection ``_schemas`` (key
``"<kind>/<target>"``), so time travel, diff, branches and merge see schema changes like any
other change, with no storage of its own. :func:`check` runs on every commit just before its
rows are written (``Transaction``: one-op writes, transactions, imports, merges, cherry-picks,
reverts) against the schemas of the state the commit produces, on what the commit touched:

- every element it writes is checked against its type's schema;
- a schema it writes is checked against every element of its target (a schema change the
  data violates is refused);
- the graph rules look only at the written relations' endpoints (``source_types`` /
  ``target_types``), their source's relations of the type (``max_per_source``), and, for
  ``unique``, the entities of the written entity's type.

JSON Schema is validated by ``jsonschema``'s ``Draft202012Validator``: it reports every error
with its path and keyword (fastjsonschema stops at the first and compiles code with ``exec``).
``format`` is an annotation, as the 2020-12 default says.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..codec import DOC_SEP, decode, encode
from ..errors import InvalidValue, SchemaViolation
from ..storage.base import Database
from ..storage.cache import facts_of
from ..storage.visibility import Chain, StoredRow, adjacent, read_rows, scan
from ..types import JSON, Schema, SchemaKind, Violation
from ..versioning.elements import PUT, Write, doc_key, is_erased, row_of_write, split_doc_key

COLLECTION = "_schemas"
"""The reserved collection holding the schemas, one document per target."""

KINDS: dict[str, str] = {"entity": "e", "relation": "r", "collection": "d"}
_ELEMENT = {"e": "entity", "r": "relation", "d": "document"}
if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

MAX_REPORTED = 100
Ident = tuple[str, str]


def schema_key(kind: str, target: str) -> str:
    """The document key of the schema of ``target`` (an entity type, relation type or
    collection)."""
    if kind not in KINDS:
        raise InvalidValue(f"schema kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return f"{kind}/{target}"


def to_document(schema: Schema) -> dict[str, JSON]:
    """The ``_schemas`` document of a schema (checked: a bad schema raises InvalidValue)."""
    value: dict[str, JSON] = {"kind": schema.kind, "target": schema.target,
                              "json_schema": schema.json_schema}
    if schema.source_types is not None:
        value["source_types"] = list(schema.source_types)
    if schema.target_types is not None:
        value["target_types"] = list(schema.target_types)
    if schema.max_per_source is not None:
        value["max_per_source"] = schema.max_per_source
    if schema.unique:
        value["unique"] = list(schema.unique)
    _compiled(encode(value))  # refuses what could not be checked
    return value


def from_document(value: Any) -> Schema:
    """The schema a ``_schemas`` document holds; InvalidValue says what is wrong with it."""
    if not isinstance(value, dict):
        raise InvalidValue(f"a schema document must be an object, not {type(value).__name__}")
    unknown = set(value) - {"kind", "target", "json_schema", "source_types", "target_types",
                            "max_per_source", "unique"}
    if unknown:
        raise InvalidValue(f"schema document has unknown field(s) {sorted(unknown)}")
    kind, target = value.get("kind"), value.get("target")
    if kind not in KINDS or not isinstance(target, str) or not target:
        raise InvalidValue("a schema document needs kind (entity, relation or collection) and "
                           f"a target name; got kind {kind!r} and target {target!r}")
    json_schema = value.get("json_schema")
    if json_schema is not None and not isinstance(json_schema, dict | bool):
        raise InvalidValue("json_schema must be a JSON Schema (an object or a boolean)")
    if json_schema is not None:
        from jsonschema import Draft202012Validator  # loaded once a schema is used
        from jsonschema.exceptions import SchemaError
        try:
            Draft202012Validator.check_schema(json_schema)
        except SchemaError as e:
            raise InvalidValue(f"json_schema of {kind} {target!r} is not a valid JSON Schema "
                               f"2020-12: {e.message}") from None
    ends = {}
    for name in ("source_types", "target_types"):
        types = value.get(name)
        if types is not None and (kind != "relation" or not isinstance(types, list)
                                  or not all(isinstance(t, str) for t in types)):
            raise InvalidValue(f"{name} applies to relation types and is a list of entity "
                               f"types; got {types!r} for {kind} {target!r}")
        ends[name] = list(types) if types is not None else None
    limit = value.get("max_per_source")
    if limit is not None and (kind != "relation" or not isinstance(limit, int)
                              or isinstance(limit, bool) or limit < 0):
        raise InvalidValue("max_per_source applies to relation types and is an integer >= 0; "
                           f"got {limit!r} for {kind} {target!r}")
    unique = value.get("unique", [])
    if not isinstance(unique, list) or not all(isinstance(u, str) for u in unique) or (
            unique and kind != "entity"):
        raise InvalidValue("unique applies to entity types and is a list of property names; "
                           f"got {unique!r} for {kind} {target!r}")
    skind: SchemaKind = kind
    return Schema(skind, target, json_schema, ends["source_types"], ends["target_types"],
                  limit, list(unique))


@dataclass(frozen=True)
class _Compiled:
    schema: Schema
    validator: Draft202012Validator | None


@lru_cache(maxsize=1024)
def _compiled(text: str) -> _Compiled:
    from jsonschema import Draft202012Validator
    schema = from_document(decode(text))
    validator = (Draft202012Validator(schema.json_schema)
                 if schema.json_schema is not None else None)
    return _Compiled(schema, validator)


# -- the state a commit produces ------------------------------------------------------------
def _pending_row(write: Write) -> StoredRow:
    return row_of_write(write)


class _State:
    """The state at ``chain`` with ``pending`` applied: what the commit will produce."""

    def __init__(self, db: Database, chain: Chain, pending: Mapping[Ident, Write]) -> None:
        self.db, self.chain, self.pending = db, chain, pending
        self._by_type: dict[tuple[str, str | None], list[Write]] | None = None

    def pending_of(self, kind: str, type_: str) -> list[Write]:
        """Pending writes of one kind and type (indexed once: a commit can hold many)."""
        if self._by_type is None:
            self._by_type = {}
            for (k, _), write in self.pending.items():
                self._by_type.setdefault((k, write.type), []).append(write)
        return self._by_type.get((kind, type_), [])

    def rows(self, kind: str, keys: list[str]) -> dict[str, StoredRow]:
        """Live rows of ``keys`` (absent when deleted or missing)."""
        out: dict[str, StoredRow] = {}
        stored = read_rows(self.db, self.chain, kind,
                           [k for k in keys if (kind, k) not in self.pending])
        for key in keys:
            write = self.pending.get((kind, key))
            row = _pending_row(write) if write is not None else stored.get(key)
            if row is not None and row.op == PUT:
                out[key] = row
        return out

    def of_type(self, kind: str, type_: str) -> Iterator[StoredRow]:
        """Live rows of one type or collection."""
        for row in scan(self.db, self.chain, kind, type_=type_):
            if (kind, row.key) not in self.pending:
                yield row
        for write in self.pending_of(kind, type_):
            if write.op == PUT:
                yield _pending_row(write)

    def from_source(self, source: str, rel_type: str) -> set[str]:
        """Ids of live relations of ``rel_type`` from ``source``."""
        out = {row.key for row in adjacent(self.db, self.chain, [source], column="source",
                                           rel_type=rel_type)
               if ("r", row.key) not in self.pending}
        for write in self.pending_of("r", rel_type):
            if write.op == PUT and write.source == source:
                out.add(write.key)
        return out


def load(db: Database, chain: Chain, pending: Mapping[Ident, Write] | None = None
         ) -> dict[tuple[str, str], _Compiled]:
    """The schemas of a state by (row kind, target), compiled."""
    out: dict[tuple[str, str], _Compiled] = {}
    for row in _State(db, chain, pending or {}).of_type("d", COLLECTION):
        if row.value is None or is_erased(row.value):
            continue
        try:
            compiled = _compiled(row.value)
        except InvalidValue as e:
            raise InvalidValue(f"schema document {split_doc_key(row.key)[1]!r}: {e}") from None
        schema = compiled.schema
        if split_doc_key(row.key)[1] != schema_key(schema.kind, schema.target):
            raise InvalidValue(f"schema document {split_doc_key(row.key)[1]!r} must have the "
                               f"key {schema_key(schema.kind, schema.target)!r}; use "
                               "repo.set_schema")
        out[(KINDS[schema.kind], schema.target)] = compiled
    return out


def ever_had_schemas(db: Database) -> bool:
    """Whether any version of any branch ever held a schema (one index probe; inside a
    write, kept between commits: storage.cache.WriteFacts)."""
    return facts_of(db).get(db, ("rows", "d", COLLECTION), lambda: db.one(  # type: ignore[no-any-return]
        "SELECT 1 FROM rows WHERE kind = 'd' AND type = ? LIMIT 1", [COLLECTION]) is not None)


def schemas(db: Database, chain: Chain) -> list[Schema]:
    """Every schema of the state at ``chain``, by kind and target."""
    found = load(db, chain)
    return [found[k].schema for k in sorted(found)]


# -- the check ------------------------------------------------------------------------------
def check(db: Database, chain: Chain, pending: Mapping[Ident, Write]) -> None:
    """Raise SchemaViolation unless the state ``pending`` produces on ``chain`` keeps its
    schemas (on what ``pending`` touches)."""
    found = violations(db, chain, pending)
    if found:
        shown = "; ".join(str(v) for v in found[:5])
        more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
        raise SchemaViolation(f"this commit breaks the schema: {shown}{more}; nothing was "
                              "written. Fix the data, or change the schema first "
                              "(repo.set_schema)", found)


def violations(db: Database, chain: Chain, pending: Mapping[Ident, Write]) -> list[Violation]:
    """The schema violations of the state ``pending`` produces on ``chain``, on what it
    touches."""
    state = _State(db, chain, pending)
    prefix = COLLECTION + DOC_SEP
    changed: set[tuple[str, str]] = set()
    for (kind, key) in pending:
        if kind == "d" and key.startswith(prefix):
            skind, _, target = key[len(prefix):].partition("/")
            if skind in KINDS:
                changed.add((KINDS[skind], target))
    if not changed and not ever_had_schemas(db):
        return []  # the common case costs one indexed probe
    rules = load(db, chain, pending)
    if not rules:
        return []
    touched: dict[str, dict[str, StoredRow]] = {"e": {}, "r": {}, "d": {}}
    for (kind, key), write in pending.items():
        if kind in touched and write.op == PUT and write.type != COLLECTION:
            touched[kind][key] = _pending_row(write)
    for kind, target in changed:
        if (kind, target) in rules:
            for row in state.of_type(kind, target):
                touched[kind].setdefault(row.key, row)
    checker = _Checker(state, rules)
    for kind in ("e", "r", "d"):
        for key in sorted(touched[kind]):
            checker.element(touched[kind][key])
            if len(checker.found) >= MAX_REPORTED:
                return checker.found[:MAX_REPORTED]
    checker.endpoints_of_retyped(touched["e"])
    return checker.found[:MAX_REPORTED]


def _pointer(path: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


class _Checker:
    def __init__(self, state: _State, rules: Mapping[tuple[str, str], _Compiled]) -> None:
        self.state, self.rules = state, rules
        self.found: list[Violation] = []
        self._unique: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._checked_relations: set[str] = set()

    def _add(self, row: StoredRow, path: str, rule: str, message: str) -> None:
        if row.kind == "d":
            collection, key = split_doc_key(row.key)
            self.found.append(Violation("document", key, path, rule, message, collection))
        else:
            self.found.append(Violation(_ELEMENT[row.kind], row.key, path, rule, message))

    def element(self, row: StoredRow) -> None:
        if row.value is None or is_erased(row.value) or row.type is None:
            return
        compiled = self.rules.get((row.kind, row.type))
        if compiled is None:
            if row.kind == "r":
                self._checked_relations.add(row.key)
            return
        value = decode(row.value)
        if compiled.validator is not None:
            errors = sorted(compiled.validator.iter_errors(value),
                            key=lambda e: (_pointer(e.absolute_path), str(e.validator)))
            for error in errors:
                self._add(row, _pointer(error.absolute_path), str(error.validator),
                          error.message)
        schema = compiled.schema
        if row.kind == "r":
            self._relation(row, schema)
        elif row.kind == "e" and schema.unique:
            self._unique_props(row, schema, value)

    def _relation(self, row: StoredRow, schema: Schema) -> None:
        self._checked_relations.add(row.key)
        assert row.source is not None and row.target is not None
        ends = self.state.rows("e", [row.source, row.target])
        for rule, end, allowed in (("source_types", row.source, schema.source_types),
                                   ("target_types", row.target, schema.target_types)):
            found = ends.get(end)
            if allowed is not None and found is not None and found.type not in allowed:
                side = "@source" if rule == "source_types" else "@target"
                self._add(row, "/" + side, rule,
                          f"{schema.target} relations need a {side[1:]} of type "
                          f"{' or '.join(allowed)}; {end!r} is a {found.type}")
        if schema.max_per_source is not None:
            count = len(self.state.from_source(row.source, schema.target))
            if count > schema.max_per_source:
                self._add(row, "/@source", "max_per_source",
                          f"entity {row.source!r} would have {count} {schema.target} "
                          f"relations; at most {schema.max_per_source} allowed")

    def _unique_props(self, row: StoredRow, schema: Schema, value: Any) -> None:
        assert row.type is not None
        for prop in schema.unique:
            if not isinstance(value, dict) or prop not in value:
                continue
            holders = self._holders(row.type, prop).get(encode(value[prop]), set())
            others = sorted(holders - {row.key})
            if others:
                self._add(row, _pointer([prop]), "unique",
                          f"{prop} = {encode(value[prop])} is also held by {row.type} "
                          f"{others[0]!r}; it must be unique within the type")

    def _holders(self, type_: str, prop: str) -> dict[str, set[str]]:
        """Canonical value -> entities of ``type_`` holding it (one scan per type and
        property per commit)."""
        found = self._unique.get((type_, prop))
        if found is None:
            found = {}
            for other in self.state.of_type("e", type_):
                if other.value is None or is_erased(other.value):
                    continue
                props = decode(other.value)
                if isinstance(props, dict) and prop in props:
                    found.setdefault(encode(props[prop]), set()).add(other.key)
            self._unique[(type_, prop)] = found
        return found

    def endpoints_of_retyped(self, entities: Mapping[str, StoredRow]) -> None:
        """A written entity may change type under relations constrained by endpoint types."""
        constrained = {t for (k, t), c in self.rules.items()
                       if k == "r" and (c.schema.source_types is not None
                                        or c.schema.target_types is not None)}
        if not constrained or not entities:
            return
        ids = sorted(entities)
        rows = (adjacent(self.state.db, self.state.chain, ids, column="source")
                + adjacent(self.state.db, self.state.chain, ids, column="target"))
        keys = sorted({r.key for r in rows if r.type in constrained}
                      - self._checked_relations)
        for row in self.state.rows("r", keys).values():
            if row.type in constrained and row.key not in self._checked_relations:
                self._relation(row, self.rules[("r", row.type)].schema)


def document_key(kind: str, target: str) -> str:
    """The stored row key of a schema document."""
    return doc_key(COLLECTION, schema_key(kind, target))
