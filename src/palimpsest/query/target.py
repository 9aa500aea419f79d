"""What a query reads: the documents of one collection or the entities of one type."""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import check_name
from ..errors import InvalidValue, QueryError
from ..storage.base import Database
from .filters import Compiler

ELEMENT_KINDS = {"document": "d", "entity": "e"}
ELEMENT_NAMES = {code: name for name, code in ELEMENT_KINDS.items()}

@dataclass(frozen=True, slots=True)
class Target:
    """What a query reads: the documents of one collection (kind ``d``) or the entities of one
    type (kind ``e``)."""

    kind: str
    type: str

    @property
    def element(self) -> str:
        return ELEMENT_NAMES[self.kind]

    def key_sql(self, alias: str = "r") -> str:
        """SQL of the element's own key: the entity id, or the document key without its
        collection prefix."""
        if self.kind == "e":
            return f"{alias}.key"
        return f"substr({alias}.key, {len(self.type) + 2})"

    def literal_sql(self, alias: str = "r") -> str:
        """The kind and type as literals, so the planner can match a partial index."""
        name = self.type.replace("'", "''")
        return f"{alias}.kind = '{self.kind}' AND {alias}.type = '{name}'"

    def compiler(self, db: Database, alias: str = "r", column: str | None = None) -> Compiler:
        return Compiler(db.dialect, column=column or f"{alias}.value", key=self.key_sql(alias))


def exists(db: Database, kind: str, type_: str) -> bool:
    """Whether any row of this collection / entity type was ever written (cheap: one index
    probe)."""
    return db.one("SELECT 1 FROM rows WHERE kind = ? AND type = ? LIMIT 1",
                  (kind, type_)) is not None


def resolve_target(db: Database, name: object, kind: str | None = None) -> Target:
    """The collection or entity type called ``name``; ``kind`` ("document" / "entity")
    settles names used for both."""
    if not isinstance(name, str) or not name:
        raise QueryError(f"collection or type: expected a name, got {name!r}")
    if kind is not None:
        if kind not in ELEMENT_KINDS:
            raise QueryError(f"kind: must be 'document' or 'entity', not {kind!r}")
        code = ELEMENT_KINDS[kind]
        if not exists(db, code, name):
            what = "collection" if code == "d" else "entity type"
            raise QueryError(f"no {what} {name!r} in this repository")
        return Target(code, name)
    found = [code for code in ("d", "e") if exists(db, code, name)]
    if not found:
        raise QueryError(f"no collection or entity type {name!r} in this repository")
    if len(found) > 1:
        raise QueryError(f"{name!r} is both a collection and an entity type; pass "
                         "kind='document' or kind='entity'")
    return Target(found[0], name)


def index_target(type: str | None, collection: str | None) -> Target:
    """What a declared index covers: an entity ``type`` or a ``collection``, exactly one."""
    if (type is None) == (collection is None):
        raise InvalidValue("give an entity type or collection=..., not both")
    if collection is not None:
        return Target("d", check_name(collection, "collection"))
    return Target("e", check_name(type, "entity type"))


def search_target(db: Database, name: str, kind: str | None) -> Target:
    """What a search index covers: the entity type or collection ``name``, which must be
    stored already unless ``kind`` ("entity" / "document") says which."""
    if kind is None:
        kinds = [code for code in ("d", "e") if exists(db, code, name)]
        if len(kinds) != 1:
            why = "both a collection and an entity type" if kinds else "not stored yet"
            raise InvalidValue(f"{name!r} is {why}; give its kind: 'entity' or "
                               "'document'")
        return Target(kinds[0], check_name(name, "type"))
    if kind not in ("entity", "document"):
        raise InvalidValue(f"kind: 'entity' or 'document', not {kind!r}")
    return index_target(name, None) if kind == "entity" else index_target(None, name)
