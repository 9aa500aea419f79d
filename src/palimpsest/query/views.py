"""Materialized views: a named query whose result is kept in the database, readable at the head
of any branch and at any past commit.

A view stores membership, not values: for every row of its collection / entity type, a
``view_rows`` row stamped with the same ``(line, seq)`` says whether that version matches the
view's filter (``op`` 1) or no longer does (``op`` 0, written only for keys that matched
before). The one visibility rule, applied to ``view_rows``, then gives the view's members at any
commit, and values are read from ``rows`` by a join (so erasure and hash checks apply). Keeping
a view current costs O(rows written since it was last brought up to date); that work is done by
the next read that needs it, or by :func:`refresh` (``Repository.refresh_views``).
"""

from __future__ import annotations

from typing import Any

from ..codec import DOC_SEP, check_name, decode, encode, now_us
from ..errors import InvalidValue, NotFound
from ..storage.base import Database
from ..storage.visibility import COLUMNS, Chain, StoredRow, visible
from ..types import ViewInfo
from ..versioning.elements import doc_key, to_value
from .engine import Query, Result, Where, check_page, shape
from .filters import parse_order, parse_select, to_filter
from .target import ELEMENT_NAMES, Target


def _info(row: Any) -> ViewInfo:
    name, kind, type_, spec, synced = row
    return ViewInfo(str(name), ELEMENT_NAMES[str(kind)], str(type_), Query.of(decode(spec)).to_dict(),
                    int(synced))


def get(db: Database, name: str) -> ViewInfo:
    row = db.one("SELECT name, kind, type, spec, synced_seq FROM query_views WHERE name = ?",
                 (name,))
    if row is None:
        raise NotFound(f"no materialized view {name!r}; create it with repo.create_view")
    return _info(row)


def list_all(db: Database) -> list[ViewInfo]:
    rows = db.all("SELECT name, kind, type, spec, synced_seq FROM query_views ORDER BY name")
    return [_info(r) for r in rows]


def create(db: Database, name: str, target: Target, query: Query) -> ViewInfo:
    """Declare a view and build it over the whole history (idempotent for an identical
    definition; a different one under the same name is refused)."""
    check_name(name, "view name")
    spec = encode(query.to_dict())
    with db.write():
        row = db.one("SELECT kind, type, spec FROM query_views WHERE name = ?", (name,))
        if row is not None:
            if tuple(row) != (target.kind, target.type, spec):
                raise InvalidValue(f"a view named {name!r} already exists with another "
                                   "definition; drop_view it first")
        else:
            db.run("INSERT INTO query_views (name, kind, type, spec, synced_seq, time_us) "
                   "VALUES (?, ?, ?, ?, 0, ?)", (name, target.kind, target.type, spec, now_us()))
        refresh(db, name)
    return get(db, name)


def drop(db: Database, name: str) -> None:
    with db.write():
        get(db, name)
        db.run("DELETE FROM view_rows WHERE view = ?", (name,))
        db.run("DELETE FROM view_lines WHERE view = ?", (name,))
        db.run("DELETE FROM query_views WHERE name = ?", (name,))


def _behind(db: Database, name: str, chain: Chain | None) -> list[tuple[int, int, int]]:
    """``(line, built up to, bound)`` of the lines of ``chain`` (None: every line, up to its
    head) on which the view is not yet built up to the bound.

    The view is built per line: a line's bound is a committed commit's seq, and no commit can
    still land on that line at or below it, whereas across lines seqs may become visible out of
    order (docs/postgres.md, "Many writers"): a repository-wide "built up to seq N" could skip
    a lower seq that commits later."""
    if chain is None:
        wanted = [(int(line), int(head)) for line, head in db.all(
            "SELECT id, head_seq FROM lines WHERE head_seq IS NOT NULL")]
    else:
        wanted = list(chain)
    built = {int(line): int(seq) for line, seq in db.all(
        "SELECT line, synced_seq FROM view_lines WHERE view = ?", (name,))}
    return [(line, built.get(line, 0), bound) for line, bound in wanted
            if bound > built.get(line, 0)]


def refresh(db: Database, name: str, chain: Chain | None = None) -> int:
    """Bring one view up to the newest commit of every line (or up to ``chain``'s bounds on
    its lines); returns the number of membership rows written."""
    get(db, name)
    if not _behind(db, name, chain):
        return 0
    with db.write():
        db.lock(f"view:{name}")  # one builder per view at a time
        info = get(db, name)
        todo = _behind(db, name, chain)  # again, under the lock
        if not todo:
            return 0
        target = Target("d" if info.element == "document" else "e", info.type)
        comp = target.compiler(db)
        fsql, fparams = comp.filter(Query.of(info.query).where)
        # Deletion rows carry no type. Entities can change type, so every entity row is
        # looked at; a document's collection is the prefix of its key.
        scope = " AND r.key >= ? AND r.key < ?" if target.kind == "d" else ""
        segments = " OR ".join("(r.line = ? AND r.seq > ? AND r.seq <= ?)" for _ in todo)
        sql = (f"SELECT r.key, r.line, r.seq, CASE WHEN r.op = 1 AND r.type = ? AND {fsql} "
               f"THEN 1 ELSE 0 END FROM rows r WHERE r.kind = ?{scope} AND ({segments}) "
               "ORDER BY r.seq, r.key")
        params: list[Any] = [target.type, *fparams, target.kind]
        if scope:
            params += [doc_key(target.type, ""), target.type + chr(ord(DOC_SEP) + 1)]
        rows = db.all(sql, [*params, *(v for segment in todo for v in segment)])
        known = _known_keys(db, name, sorted({str(r[0]) for r in rows if not r[3]}))
        inserts, supersede = [], []
        for key, line, seq, matched in rows:
            if not matched and key not in known:
                continue  # never a member anywhere: nothing to hide
            known.add(key)
            inserts.append((name, key, line, seq, 1 if matched else 0))
            supersede.append((seq, name, key, line, seq))
        if inserts:
            db.many("INSERT INTO view_rows (view, key, line, seq, op) VALUES (?, ?, ?, ?, ?)",
                    inserts)
            db.many("UPDATE view_rows SET superseded = ? WHERE view = ? AND key = ? AND "
                    "line = ? AND superseded IS NULL AND seq < ?", supersede)
        db.many("INSERT INTO view_lines (view, line, synced_seq) VALUES (?, ?, ?) "
                "ON CONFLICT (view, line) DO UPDATE SET synced_seq = excluded.synced_seq",
                [(name, line, bound) for line, _, bound in todo])
        top = max(bound for _, _, bound in todo)  # shown as the view's synced_seq
        db.run("UPDATE query_views SET synced_seq = ? WHERE name = ? AND synced_seq < ?",
               (top, name, top))
        return len(inserts)


def _known_keys(db: Database, name: str, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        found |= {str(r[0]) for r in db.all(
            f"SELECT DISTINCT key FROM view_rows WHERE view = ? AND key IN ({marks})",
            [name, *chunk])}
    return found


def read(db: Database, chain: Chain, name: str, *, where: Where = None,
         order_by: Any = None, limit: int | None = None, offset: int = 0) -> list[Result]:
    """The view's members at ``chain`` (its own order unless ``order_by`` is given),
    optionally filtered further, with the view's projection."""
    refresh(db, name, chain)
    info = get(db, name)
    check_page(limit, offset)
    target = Target("d" if info.element == "document" else "e", info.type)
    comp = target.compiler(db)
    fsql, fparams = comp.filter(to_filter(where))
    order = parse_order(order_by) if order_by is not None else list(Query.of(info.query).order_by)
    vis, vparams = visible(chain, name, "v", table="view_rows", partition="view")
    sql = (f"SELECT {COLUMNS} FROM view_rows v JOIN rows r ON r.kind = ? AND r.key = v.key "
           f"AND r.line = v.line AND r.seq = v.seq WHERE v.view = ? AND v.op = 1 AND {vis} "
           f"AND ({fsql}) ORDER BY {comp.order(order)}")
    args: list[Any] = [target.kind, name, *vparams, *fparams]
    if limit is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        args += [2**63 - 1 if limit is None else limit, offset]
    select = Query.of(info.query).select
    paths = parse_select(list(select)) if select is not None else None
    return [shape(to_value(StoredRow(*row)), paths) for row in db.all(sql, args)]
