"""Copy a whole repository — full history, refs, reflog, maintenance records — to another
location, e.g. from a SQLite file to PostgreSQL and back.

The copy streams the same records as the JSON Lines archive (:mod:`.archive`) straight into the
destination, with no file in between: the source is read in one snapshot, the destination
written in one transaction (it lands whole or not at all). Seqs, line ids, commit ids and state
hashes are kept exactly; consecutive inserts into one table are sent as batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, cast

from ..errors import CorruptObject, InvalidValue
from ..storage.base import Database, Dialect, Params, Row, Tracer
from ..storage.schema import create_schema, rebuild_superseded, sync_sequences
from ..types import CopyReport
from ..versioning import search_index
from ..versioning.commits import CommitStore, id_text
from ..versioning.refs import RefStore
from .archive import _load, _records, _verify

_BATCH = 1000


class _Batcher:
    """Groups consecutive identical INSERT statements into ``many()`` calls; everything else
    is passed through in order (after the pending batch)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect: Dialect = db.dialect
        self.url = db.url
        self.tracer: Tracer | None = db.tracer
        self._sql: str | None = None
        self._rows: list[Params] = []

    def flush(self) -> None:
        if self._sql is not None and self._rows:
            self.db.many(self._sql, self._rows)
        self._sql, self._rows = None, []

    def run(self, sql: str, params: Params = ()) -> int:
        if not sql.lstrip().upper().startswith("INSERT"):
            self.flush()
            return self.db.run(sql, params)
        if sql != self._sql:
            self.flush()
            self._sql = sql
        self._rows.append(tuple(params))
        if len(self._rows) >= _BATCH:
            self.flush()
        return 1

    def one(self, sql: str, params: Params = ()) -> Row | None:
        self.flush()
        return self.db.one(sql, params)

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        self.flush()
        return self.db.all(sql, params)

    def iterate(self, sql: str, params: Params = ()) -> Iterator[Row]:
        self.flush()
        return self.db.iterate(sql, params)

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        self.flush()
        self.db.many(sql, rows)

    def script(self, sql: str) -> None:
        self.flush()
        self.db.script(sql)

    def write(self) -> AbstractContextManager[None]:
        return self.db.write()

    def read(self) -> AbstractContextManager[None]:
        return self.db.read()

    def in_write(self) -> bool:
        return self.db.in_write()

    def lock(self, name: str) -> None:
        self.db.lock(name)

    def close(self) -> None:
        self.flush()


def copy_repository(src: Database, commits: CommitStore, refs: RefStore, dst: Database, *,
                    verify: bool = True) -> CopyReport:
    """Copy everything in ``src`` into ``dst``, which must hold no commit yet.

    With ``verify`` (the default) every copied commit id is recomputed from its content and
    the destination's fsck must pass (value hashes and state hashes), before the copy commits.
    """
    create_schema(dst)
    if dst.one("SELECT 1 FROM commits LIMIT 1"):
        raise InvalidValue(f"cannot copy into {dst.url}: it already has commits; "
                           "copy into a new, empty repository")
    batcher = _Batcher(dst)
    target = cast(Database, batcher)
    counts = {"commit": 0, "row": 0}
    records = 0
    with src.read(), dst.write():
        dst.run("DELETE FROM refs")
        dst.run("DELETE FROM lines")
        for number, record in enumerate(_records(src, commits, refs, None), 1):
            kind = record.get("t")
            records += 1
            if kind == "header":
                continue
            if kind in counts:
                counts[kind] += 1
            _load(target, kind, record, number)
        batcher.flush()
        rebuild_superseded(dst)
        sync_sequences(dst)  # the next commit's seq lies above every copied one
        search_index.rebuild(dst)
        _verify(dst)
        heads = _heads(dst)
        if heads != _heads(src):
            raise CorruptObject(f"copy to {dst.url}: branch heads differ after the copy")
        if verify:
            _check(dst)
    return CopyReport(url=dst.url, commits=counts["commit"], rows=counts["row"],
                      records=records, heads=heads)


def _heads(db: Database) -> dict[str, str | None]:
    rows: Sequence[Row] = db.all(
        "SELECT r.name, c.id FROM refs r JOIN lines l ON l.id = r.line "
        "LEFT JOIN commits c ON c.seq = coalesce(l.head_seq, l.fork_seq) "
        "WHERE r.kind = 'branch' ORDER BY r.name")
    return {str(name): (id_text(cid) if cid is not None else None) for name, cid in rows}


def _check(db: Database) -> None:
    from .fsck import fsck

    report: Any = fsck(db, CommitStore(db))
    problems = list(getattr(report, "problems", []))
    if problems:
        raise CorruptObject(f"copy to {db.url} does not verify: {problems[0]}"
                            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))


__all__ = ["CopyReport", "copy_repository"]
