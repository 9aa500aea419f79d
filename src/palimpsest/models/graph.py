"""The graph model: entities and relations read at any state, traversal, and its rules.

Reads go through the visibility rule (:mod:`palimpsest.storage.visibility`) with the chain of
the state being read, so the same code answers at the head and at any past commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from ..codec import check_json, decode, to_us
from ..errors import InvalidValue
from ..storage.base import Database
from ..storage.cache import copy_json, read_through
from ..storage.visibility import (
    Chain,
    Window,
    adjacent,
    count,
    read_row,
    read_rows,
    row_in_window,
    scan,
)
from ..types import JSON, Entity, Relation
from ..versioning import provenance
from ..versioning.elements import is_erased, to_value

Direction = Literal["out", "in", "both"]


def _load(db: Database, chain: Chain, kind: str, key: str) -> tuple[Any, int, Any]:
    """For the read cache: the form it keeps — the fields and canonical text as a tuple of
    strings (cheap to keep: the garbage collector skips it), or ``(value,)`` for an erased
    row —, the text's size, and the value for this caller (hits decode the text again)."""
    row = read_row(db, chain, kind, key)
    value = to_value(row)  # hash-checked
    if row is None or value is None:
        return None, 0, None
    size = len(row.value or "")
    if is_erased(row.value):
        return (value,), size, to_value(row)
    if isinstance(value, Relation):
        return (value.id, value.type, value.source, value.target, row.value, value.valid_from,
                value.valid_to), size, value
    return (value.id, value.type, row.value, value.valid_from, value.valid_to), size, value


def _copy_entity(cached: Any) -> Entity | None:
    if cached is None:
        return None
    if len(cached) == 1:
        old = cached[0]
        return Entity(old.id, old.type, copy_json(old.props), old.valid_from, old.valid_to)
    return Entity(cached[0], cached[1], decode(cached[2]), cached[3], cached[4])


def _copy_relation(cached: Any) -> Relation | None:
    if cached is None:
        return None
    if len(cached) == 1:
        old = cached[0]
        return Relation(old.id, old.type, old.source, old.target, copy_json(old.props),
                        old.valid_from, old.valid_to)
    return Relation(cached[0], cached[1], cached[2], cached[3], decode(cached[4]), cached[5],
                    cached[6])


def valid_in(element: Entity | Relation | None, window: Window | None) -> bool:
    """Whether an element read is valid in ``window`` (always, without a window)."""
    if element is None or window is None:
        return element is not None
    return ((element.valid_from is None or to_us(element.valid_from) < window[1])
            and (element.valid_to is None or to_us(element.valid_to) > window[0]))


def entity(db: Database, chain: Chain, id: str, *, window: Window | None = None
           ) -> Entity | None:
    """The entity ``id`` at the chain's state (served by the read cache when it holds it),
    when it is valid in ``window`` (valid time; None: any)."""
    value = read_through(db, "e", id, chain, lambda: _load(db, chain, "e", id), _copy_entity)
    return value if isinstance(value, Entity) and valid_in(value, window) else None


def relation(db: Database, chain: Chain, id: str, *, window: Window | None = None
             ) -> Relation | None:
    value = read_through(db, "r", id, chain, lambda: _load(db, chain, "r", id),
                         _copy_relation)
    return value if isinstance(value, Relation) and valid_in(value, window) else None


def _where_sql(db: Database, where: Mapping[str, JSON] | None) -> tuple[str, list[Any]]:
    """Narrow a property-equality filter in SQL; callers confirm exact equality in Python."""
    if where is not None and not isinstance(where, Mapping):
        raise InvalidValue(f"where must be a dict of property name -> value, not "
                           f"{type(where).__name__}")
    if not where:
        return "", []
    check_json(dict(where), "where")  # string keys, storable values (no NaN, 64-bit ints)
    parts: list[str] = []
    params: list[Any] = []
    for name, value in where.items():
        if isinstance(value, str):
            parts.append(f"{db.dialect.json_text('r.value', [name])} = ?")
            params.append(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(f"{db.dialect.json_number('r.value', [name])} = ?")
            params.append(value)
    return " AND ".join(parts), params


def matches(props: Mapping[str, JSON], where: Mapping[str, JSON] | None) -> bool:
    """Whether ``props`` hold every value of ``where`` (compared as JSON)."""
    if not where:
        return True
    for name, value in where.items():
        if name not in props:
            return False
        found = props[name]
        if found != value or isinstance(found, bool) != isinstance(value, bool):
            return False
    return True


def entities(db: Database, chain: Chain, *, type: str | None = None,
             where: Mapping[str, JSON] | None = None, limit: int | None = None,
             offset: int = 0, source: str | None = None,
             window: Window | None = None) -> Iterator[Entity]:
    """Live entities at the chain's state (valid in ``window``), by id; ``where`` is
    property equality; ``source`` keeps those whose current version came from that
    provenance source."""
    extra, params = _where_sql(db, where)
    # SQL filters exactly unless a condition could not be expressed there (then Python
    # confirms each row, and limit/offset must be applied after that check).
    exact = not where or len(params) == len(where)
    if source is not None:
        sql, args = provenance.source_filter(source)
        extra, params = (f"{extra} AND {sql}" if extra else sql), [*params, *args]
    rows = scan(db, chain, "e", type_=type, extra=extra, extra_params=params,
                limit=limit if exact else None, offset=offset if exact else 0, window=window)
    produced = skipped = 0
    for row in rows:
        value = to_value(row)
        if not matches(value.props, where):
            continue
        if not exact and skipped < offset:
            skipped += 1
            continue
        yield value
        produced += 1
        if not exact and limit is not None and produced >= limit:
            return


def count_entities(db: Database, chain: Chain, *, type: str | None = None,
                   window: Window | None = None) -> int:
    return count(db, chain, "e", type_=type, window=window)


def count_relations(db: Database, chain: Chain, *, type: str | None = None,
                    window: Window | None = None) -> int:
    return count(db, chain, "r", type_=type, window=window)


def relations(db: Database, chain: Chain, *, type: str | None = None,
              source: str | None = None, target: str | None = None,
              window: Window | None = None) -> Iterator[Relation]:
    """Live relations, optionally of one type and/or from a source and/or to a target (valid
    in ``window``)."""
    if source is not None or target is not None:
        column, ident = ("source", source) if source is not None else ("target", target)
        assert ident is not None
        rows = adjacent(db, chain, [ident], column=column, rel_type=type, window=window)
        rows.sort(key=lambda r: r.key)
        for row in rows:
            value = to_value(row)
            if target is not None and value.target != target:
                continue
            yield value
        return
    for row in scan(db, chain, "r", type_=type, window=window):
        yield to_value(row)


def incident(db: Database, chain: Chain, ids: list[str]) -> list[Relation]:
    """Live relations that start or end at any of ``ids``."""
    rows = adjacent(db, chain, ids, column="source") + adjacent(db, chain, ids, column="target")
    seen: dict[str, Relation] = {}
    for row in rows:
        seen.setdefault(row.key, to_value(row))
    return [seen[k] for k in sorted(seen)]


def neighbors(db: Database, chain: Chain, id: str, *, depth: int = 1,
              rel_type: str | None = None, direction: Direction = "both",
              window: Window | None = None) -> list[Entity]:
    """Entities within ``depth`` hops of ``id`` (breadth first; nearest first, then by id);
    with a valid-time ``window``, only through relations valid in it, to entities valid in it
    (a hop stops at an entity that is not)."""
    if direction not in ("out", "in", "both"):
        raise InvalidValue(f"direction must be 'out', 'in' or 'both', not {direction!r}")
    seen = {id}
    frontier = [id]
    found: list[str] = []
    for _ in range(max(depth, 0)):
        if not frontier:
            break
        reached: set[str] = set()
        if direction in ("out", "both"):
            reached |= {str(r.target) for r in adjacent(db, chain, frontier, column="source",
                                                   rel_type=rel_type, window=window)}
        if direction in ("in", "both"):
            reached |= {str(r.source) for r in adjacent(db, chain, frontier, column="target",
                                                   rel_type=rel_type, window=window)}
        frontier = sorted(reached - seen)
        seen |= reached
        if window is not None:
            rows = read_rows(db, chain, "e", frontier)
            frontier = [k for k in frontier if row_in_window(rows.get(k), window)
                        and rows[k].op == 1]
        found += frontier
    rows = read_rows(db, chain, "e", found)
    out = [to_value(rows[k]) for k in found if k in rows]
    return [e for e in out if e is not None]
