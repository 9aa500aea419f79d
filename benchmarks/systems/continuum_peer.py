"""SQLAlchemy-Continuum on SQLite: ORM models with shadow version tables.

Entities and relations are versioned ORM models. One SQLAlchemy transaction
is one commit; its Continuum transaction id is the commit handle, and a small
plugin stamps the workload's commit time into ``transaction.issued_at``
(indexed, for time lookups). Point reads and history use Continuum's
``version_at`` / ``all_versions``; scans of a past state use the rule of the
strategy in use; rollback reverts every element changed since the target with
``version.revert()``, as one new transaction. Continuum has no branches.

Two strategies are registered. ``continuum`` uses "subquery" (a version row
only records the transaction that wrote it), Continuum's write-friendly
option; ``continuum_validity`` uses the default "validity" (each write also
closes the previous version row), which reads faster but here costs about
20 ms per commit and 2 ms per imported element, too slow for the small run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, configure_mappers, mapped_column
from sqlalchemy_continuum import make_versioned, version_class, versioning_manager
from sqlalchemy_continuum.operation import Operation
from sqlalchemy_continuum.plugins.base import Plugin

from benchmarks.systems import sql_common
from benchmarks.systems.base import Handle, Unsupported, checkpoint, dir_bytes
from benchmarks.workload import (
    CommitSpec,
    CreateEntity,
    CreateRelation,
    DeleteEntity,
    DeleteRelation,
    Entity,
    Props,
    Relation,
    commit_time,
)

_ISSUED_AT = "bench_issued_at"


class _IssuedAtPlugin(Plugin):  # type: ignore[misc]
    """Lets a session choose the time its Continuum transaction records."""

    def transaction_args(self, uow: Any, session: Session) -> dict[str, Any]:
        when = session.info.get(_ISSUED_AT)
        return {} if when is None else {"issued_at": when}


class _Base(DeclarativeBase):
    pass


@dataclass(frozen=True)
class _Models:
    """The versioned models, built once per process for one strategy."""

    strategy: str
    entity: Any
    relation: Any
    entity_version: Any
    relation_version: Any
    transaction: Any


_built: _Models | None = None


def _models(strategy: str) -> _Models:
    """Declare the models under Continuum (it patches mappers, so only once per process)."""
    global _built
    if _built is not None:
        if _built.strategy != strategy:
            raise RuntimeError("one Continuum strategy per process")
        return _built
    make_versioned(user_cls=None, plugins=[_IssuedAtPlugin()], options={"strategy": strategy})

    class EntityRow(_Base):
        """Current state of an entity; Continuum keeps the past in ``entities_version``."""

        __tablename__ = "entities"
        __versioned__: ClassVar[dict[str, Any]] = {}
        id: Mapped[str] = mapped_column(primary_key=True)
        type: Mapped[str] = mapped_column(index=True)
        props: Mapped[dict[str, Any]] = mapped_column(sa.JSON)

    class RelationRow(_Base):
        """Current state of a relation; the past is in ``relations_version``."""

        __tablename__ = "relations"
        __versioned__: ClassVar[dict[str, Any]] = {}
        id: Mapped[str] = mapped_column(primary_key=True)
        type: Mapped[str]
        source: Mapped[str] = mapped_column(index=True)
        target: Mapped[str] = mapped_column(index=True)
        props: Mapped[dict[str, Any]] = mapped_column(sa.JSON)

    configure_mappers()
    _built = _Models(
        strategy,
        EntityRow,
        RelationRow,
        version_class(EntityRow),
        version_class(RelationRow),
        versioning_manager.transaction_cls,
    )
    return _built


def _naive_utc(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)


class ContinuumPeer:
    """SQLAlchemy-Continuum over a SQLite file (WAL, synchronous=NORMAL)."""

    name = "continuum"
    strategy = "subquery"

    def __init__(self) -> None:
        self.m = _models(self.strategy)
        self._dir = Path()
        self._engine: sa.Engine | None = None
        self._session: Session | None = None
        self._txs: list[int] = []  # the current branch's commits, oldest first

    @property
    def session(self) -> Session:
        assert self._session is not None, "setup() first"
        return self._session

    def setup(self, path: Path) -> None:
        self._dir = path
        engine = sa.create_engine(f"sqlite:///{path / 'continuum.db'}")

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            sql_common.configure(dbapi_conn)

        _Base.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    'CREATE INDEX IF NOT EXISTS ix_transaction_issued_at ON "transaction" (issued_at)'
                )
            )
        self._engine = engine
        self._session = Session(engine, expire_on_commit=False)

    # -- writes ----------------------------------------------------------------

    def _commit(self, when: datetime) -> int:
        s = self.session
        s.info[_ISSUED_AT] = _naive_utc(when)
        s.flush()
        tx = int(versioning_manager.unit_of_work(s).current_transaction.id)
        s.commit()
        self._txs.append(tx)
        return tx

    def bulk_import(self, entities: Sequence[Entity], relations: Sequence[Relation]) -> Handle:
        s, m = self.session, self.m
        s.add_all(m.entity(id=e.id, type=e.type, props=e.props) for e in entities)
        s.add_all(
            m.relation(id=r.id, type=r.type, source=r.source, target=r.target, props=r.props)
            for r in relations
        )
        tx = self._commit(commit_time(-1))
        s.expunge_all()
        return tx

    def commit(self, spec: CommitSpec) -> Handle:
        s = self.session
        s.info[_ISSUED_AT] = _naive_utc(spec.timestamp)  # before any flush opens the transaction
        try:
            with s.no_autoflush:  # one flush, hence one round of version rows, per commit
                self._apply(spec)
            return self._commit(spec.timestamp)
        except BaseException:
            s.rollback()
            raise

    def _apply(self, spec: CommitSpec) -> None:
        s, m = self.session, self.m
        for mut in spec.mutations:
            if isinstance(mut, CreateEntity):
                e = mut.entity
                s.add(m.entity(id=e.id, type=e.type, props=e.props))
            elif isinstance(mut, DeleteEntity):
                rels = s.scalars(
                    sa.select(m.relation).where(
                        sa.or_(m.relation.source == mut.id, m.relation.target == mut.id)
                    )
                )
                for rel in rels:
                    s.delete(rel)
                s.delete(s.get_one(m.entity, mut.id))
            elif isinstance(mut, CreateRelation):
                r = mut.relation
                s.add(
                    m.relation(
                        id=r.id, type=r.type, source=r.source, target=r.target, props=r.props
                    )
                )
            elif isinstance(mut, DeleteRelation):
                s.delete(s.get_one(m.relation, mut.id))
            else:
                row = s.get_one(m.entity, mut.id)
                row.props = {**row.props, **mut.patch}

    # -- reads of the past -----------------------------------------------------

    def _live_at(self, version: Any, tx: int) -> sa.ColumnElement[bool]:
        """This version row is the element's state at ``tx`` (and not a deletion)."""
        not_deleted = version.operation_type != Operation.DELETE
        if self.strategy == "validity":
            return sa.and_(
                version.transaction_id <= tx,
                sa.or_(version.end_transaction_id > tx, version.end_transaction_id.is_(None)),
                not_deleted,
            )
        newer = sa.orm.aliased(version)
        latest = (
            sa.select(sa.func.max(newer.transaction_id))
            .where(newer.id == version.id, newer.transaction_id <= tx)
            .scalar_subquery()
        )
        return sa.and_(version.transaction_id == latest, not_deleted)

    def read_entity_at(self, handle: Handle, entity_id: str) -> Props | None:
        v = self.m.entity_version.version_at(self.session, {"id": entity_id}, handle)
        if v is None or v.operation_type == Operation.DELETE:
            return None
        return dict(v.props)

    def history(self, entity_id: str) -> list[Props]:
        versions = self.m.entity_version.all_versions(self.session, {"id": entity_id}, link=False)
        return [dict(v.props) for v in versions if v.operation_type != Operation.DELETE]

    def count_type_at(self, handle: Handle, type_: str) -> int:
        v = self.m.entity_version
        q = (
            sa.select(sa.func.count())
            .select_from(v)
            .where(v.type == type_, self._live_at(v, handle))
        )
        return int(self.session.scalar(q) or 0)

    def neighbors2_at(self, handle: Handle, entity_id: str) -> set[str]:
        v = self.m.relation_version
        frontier = {entity_id}
        seen: set[str] = set()
        for _ in range(2):
            q = sa.select(v.source, v.target).where(
                sa.or_(v.source.in_(frontier), v.target.in_(frontier)), self._live_at(v, handle)
            )
            reached: set[str] = set()
            for src, dst in self.session.execute(q):
                reached.add(src)
                reached.add(dst)
            seen |= frontier
            frontier = reached - seen
        return (seen | frontier) - {entity_id}

    def _states(
        self, version: Any, cols: tuple[str, ...], changed: Any, tx: int
    ) -> dict[str, tuple[Any, ...]]:
        q = sa.select(version.id, *(getattr(version, c) for c in cols)).where(
            version.id.in_(changed), self._live_at(version, tx)
        )
        return {row[0]: tuple(row[1:]) for row in self.session.execute(q)}

    def diff(self, a: Handle, b: Handle) -> int:
        total = 0
        for version, cols in (
            (self.m.entity_version, ("type", "props")),
            (self.m.relation_version, ("type", "source", "target", "props")),
        ):
            changed = (
                sa.select(version.id)
                .where(version.transaction_id > a, version.transaction_id <= b)
                .distinct()
                .scalar_subquery()
            )
            old = self._states(version, cols, changed, a)
            new = self._states(version, cols, changed, b)
            total += sum(1 for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        return total

    def time_resolve(self, when: datetime) -> Handle:
        t = self.m.transaction
        q = (
            sa.select(t.id)
            .where(t.issued_at <= _naive_utc(when))
            .order_by(t.issued_at.desc(), t.id.desc())
            .limit(1)
        )
        return self.session.scalar(q)

    def create_branch(self, name: str) -> None:
        raise Unsupported("Continuum has no branches")

    def rollback(self, n_commits: int) -> None:
        s, m = self.session, self.m
        target = self._txs[-1 - n_commits]
        last = s.scalar(sa.select(sa.func.max(m.transaction.issued_at)))
        assert last is not None, "nothing to roll back"
        s.info[_ISSUED_AT] = last
        pairs = ((m.entity_version, m.entity), (m.relation_version, m.relation))
        with s.no_autoflush:  # else every version_at() flushes the reverts made so far
            for version, parent in pairs:
                changed = s.scalars(
                    sa.select(version.id).where(version.transaction_id > target).distinct()
                ).all()
                for key in changed:
                    old = version.version_at(s, {"id": key}, target)
                    if old is not None and old.operation_type != Operation.DELETE:
                        old.revert()
                    else:
                        current = s.get(parent, key)
                        if current is not None:
                            s.delete(current)
        self._commit(last.replace(tzinfo=UTC))

    # -- housekeeping ----------------------------------------------------------

    def storage_bytes(self) -> int:
        self.session.commit()
        assert self._engine is not None
        raw = self._engine.raw_connection()
        try:
            checkpoint(raw)
        finally:
            raw.close()
        return dir_bytes(self._dir)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class ContinuumValidityPeer(ContinuumPeer):
    """Continuum with its default "validity" strategy: faster reads, far slower writes."""

    name = "continuum_validity"
    strategy = "validity"
