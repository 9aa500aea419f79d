"""The Repository: writes, history, refs. The Python API is the product; the CLI and the HTTP
server are thin mirrors of these methods with the same names."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from .codec import check_json, check_name, encode, to_us
from .errors import InvalidValue, NotFound
from .maintenance.fsck import check_repository
from .models import schemas as schema_rules
from .models.kv import Builder as KVBuilder
from .models.kv import KeyValue
from .models.kv import Reader as KVReader
from .models.kvgroup import GroupCommit
from .query import ann
from .query import engine as query_engine
from .query import indexes as query_indexes
from .query import views as query_views
from .query.sparql_versions import Versions
from .query.target import index_target, resolve_target, search_target
from .storage.base import Database
from .storage.cache import cache_of
from .storage.schema import create_schema
from .storage.visibility import Chain, StoredRow
from .sync import engine as sync_engine
from .sync.remotes import Remotes
from .transaction import Transaction, retract_source
from .types import (
    JSON,
    BackupInfo,
    Blame,
    Branch,
    Change,
    Commit,
    CommitStats,
    CopyReport,
    Erasure,
    FsckReport,
    GcReport,
    IndexInfo,
    KVEvent,
    RefLogEntry,
    RetentionPolicy,
    Schema,
    ShaclReport,
    SimilarHit,
    SyncReport,
    Tag,
    TextIndex,
    VectorIndex,
    Version,
    ViewInfo,
    Violation,
)
from .versioning import log as history_log
from .versioning import merge as merge_ops
from .versioning import restore, search_index
from .versioning.commits import CommitStore
from .versioning.diff import Diff
from .versioning.diff import compute as compute_diff
from .versioning.diff import stats as diff_stats
from .versioning.elements import Write, doc_key
from .versioning.merge import MergeResult, Resolver
from .versioning.pruned import pruned_range
from .versioning.refs import Ref, RefStore, is_commit_id
from .view import View
from .watch import CommitFollower, Follower, Watch, commit_poller, kv_poller, parse_token

ElementRef = str | tuple[str, str]


class Repository:
    """A versioned graph and document store in one SQLite file or PostgreSQL schema.

    Open one with :func:`palimpsest.open`. A handle may be shared by threads; several processes
    may open the same file (SQLite serialises their commits).
    """

    def __init__(self, db: Database, *, author: str = "anonymous",
                 max_clock_skew: timedelta | None = None,
                 kv_group_commit: float | None = None) -> None:
        self._kv_group = GroupCommit(kv_group_commit) if kv_group_commit is not None else None
        create_schema(db)
        self._db = db
        self._commits = CommitStore(db, max_clock_skew=max_clock_skew)
        self._refs = RefStore(self._commits)
        self.default_author = check_name(author, "author")
        self._listeners: list[Callable[[Commit], None]] = []
        self._views: weakref.WeakSet[View] = weakref.WeakSet()  # gc keeps their states

    def __repr__(self) -> str:
        return f"<Repository {self._db.url} on {self.current_branch!r}>"

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # A background similarity-index build may be reading through this handle: closing
        # its connection under a running statement is not safe, so let it finish first.
        ann.wait(self._db, timeout=60)
        self._db.close()

    @property
    def url(self) -> str:
        return self._db.url

    @property
    def database(self) -> Database:
        """The storage backend (for tools and tests; prefer the methods below)."""
        return self._db

    def _notify(self, commit: Commit | None) -> None:
        """Tell listeners about a commit once it is visible to everyone (after the outermost
        write transaction commits)."""
        if commit is not None:
            def fire() -> None:
                for listener in list(self._listeners):
                    listener(commit)
            self._db.after_commit(fire)

    def on_commit(self, listener: Callable[[Commit], None]) -> Callable[[], None]:
        """Call ``listener(commit)`` after each commit made through this handle; returns a
        function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # -- writing -------------------------------------------------------------------------
    def transaction(self, message: str = "", *, author: str | None = None,
                    metadata: Mapping[str, JSON] | None = None,
                    timestamp: datetime | str | None = None,
                    branch: str | None = None) -> Transaction:
        """Start a transaction: use it in a ``with`` block; a clean exit writes one commit,
        an exception writes nothing. ``timestamp`` sets the commit time (importing history):
        not before the parent's, not past ``max_clock_skew`` (:func:`palimpsest.open`) ahead
        of now. Writes go to ``branch`` (default: the current branch).
        """
        return Transaction(self._refs, branch=branch or self.current_branch, message=message,
                           author=author or self.default_author, metadata=metadata,
                           timestamp=timestamp, notify=self._notify)

    def run_transaction(self, fn: Callable[[Transaction], object], message: str = "", *,
                        retries: int = 5, author: str | None = None,
                        metadata: Mapping[str, JSON] | None = None,
                        timestamp: datetime | str | None = None,
                        branch: str | None = None) -> Commit:
        """Run ``fn(tx)`` in a transaction and commit; when another writer changed what it read
        or wrote meanwhile (:class:`ConcurrentCommit`), run ``fn`` again on the new head, up to
        ``retries`` more times. ``fn`` may therefore run several times: keep its effects inside
        ``tx``. Returns the commit written; after the last retry the conflict is raised.

        This is the retrying form of ``with repo.transaction(...)`` (a ``with`` block can't be
        re-run).
        """
        import random
        import time

        from .errors import ConcurrentCommit
        attempt = 0
        while True:
            try:
                with self.transaction(message, author=author, metadata=metadata,
                                      timestamp=timestamp, branch=branch) as tx:
                    fn(tx)
            except ConcurrentCommit:
                if attempt >= retries:
                    raise
                attempt += 1
                time.sleep(random.uniform(0, 0.001 * min(attempt, 10)))  # de-synchronise
                continue
            assert tx.commit is not None
            return tx.commit

    def _one(self, message: str, author: str | None, metadata: Mapping[str, JSON] | None,
             timestamp: datetime | str | None, branch: str | None,
             action: Callable[[Transaction], object]) -> Commit:
        with self.transaction(message, author=author, metadata=metadata, timestamp=timestamp,
                              branch=branch) as tx:
            action(tx)
        assert tx.commit is not None
        return tx.commit

    def put_entity(self, id: str, type: str, props: Mapping[str, JSON] | None = None, *,
                   message: str | None = None, author: str | None = None,
                   metadata: Mapping[str, JSON] | None = None,
                   timestamp: datetime | str | None = None, branch: str | None = None,
                   valid_from: datetime | str | None = None,
                   valid_to: datetime | str | None = None,
                   provenance: Mapping[str, JSON] | None = None) -> Commit:
        """Create or replace one entity in its own commit (``valid_from`` / ``valid_to``: its
        valid-time interval, docs/valid-time.md; ``provenance``: docs/provenance.md)."""
        return self._one(message or f"Put entity {id}", author, metadata, timestamp, branch,
                         lambda tx: tx.put_entity(id, type, props, valid_from=valid_from,
                                                  valid_to=valid_to, provenance=provenance))

    def update_entity(self, id: str, props: Mapping[str, JSON] | None = None, *,
                      type: str | None = None, message: str | None = None,
                      author: str | None = None, metadata: Mapping[str, JSON] | None = None,
                      timestamp: datetime | str | None = None,
                      branch: str | None = None, valid_from: datetime | str | None = None,
                      valid_to: datetime | str | None = None,
                      provenance: Mapping[str, JSON] | None = None) -> Commit:
        """Patch one entity's properties (None removes a property) and the ends of its
        valid-time interval (None keeps an end, ``"open"`` opens it) in its own commit."""
        return self._one(message or f"Update entity {id}", author, metadata, timestamp, branch,
                         lambda tx: tx.update_entity(id, props, type=type,
                                                     valid_from=valid_from, valid_to=valid_to,
                                                     provenance=provenance))

    def delete_entity(self, id: str, *, message: str | None = None, author: str | None = None,
                      metadata: Mapping[str, JSON] | None = None,
                      timestamp: datetime | str | None = None,
                      branch: str | None = None,
                      provenance: Mapping[str, JSON] | None = None) -> Commit:
        """Delete one entity and its relations in one commit."""
        return self._one(message or f"Delete entity {id}", author, metadata, timestamp, branch,
                         lambda tx: tx.delete_entity(id, provenance=provenance))

    def put_relation(self, id: str, type: str, source: str, target: str,
                     props: Mapping[str, JSON] | None = None, *, message: str | None = None,
                     author: str | None = None, metadata: Mapping[str, JSON] | None = None,
                     timestamp: datetime | str | None = None,
                     branch: str | None = None, valid_from: datetime | str | None = None,
                     valid_to: datetime | str | None = None,
                     provenance: Mapping[str, JSON] | None = None) -> Commit:
        return self._one(message or f"Put relation {id}", author, metadata, timestamp, branch,
                         lambda tx: tx.put_relation(id, type, source, target, props,
                                                    valid_from=valid_from, valid_to=valid_to,
                                                    provenance=provenance))

    def delete_relation(self, id: str, *, message: str | None = None, author: str | None = None,
                        metadata: Mapping[str, JSON] | None = None,
                        timestamp: datetime | str | None = None,
                        branch: str | None = None,
                        provenance: Mapping[str, JSON] | None = None) -> Commit:
        return self._one(message or f"Delete relation {id}", author, metadata, timestamp,
                         branch, lambda tx: tx.delete_relation(id, provenance=provenance))

    def put_document(self, collection: str, key: str, value: JSON, *,
                     message: str | None = None, author: str | None = None,
                     metadata: Mapping[str, JSON] | None = None,
                     timestamp: datetime | str | None = None,
                     branch: str | None = None,
                     provenance: Mapping[str, JSON] | None = None) -> Commit:
        return self._one(message or f"Put document {collection}/{key}", author, metadata,
                         timestamp, branch, lambda tx: tx.put_document(
                             collection, key, value, provenance=provenance))

    def delete_document(self, collection: str, key: str, *, message: str | None = None,
                        author: str | None = None, metadata: Mapping[str, JSON] | None = None,
                        timestamp: datetime | str | None = None,
                        branch: str | None = None,
                        provenance: Mapping[str, JSON] | None = None) -> Commit:
        return self._one(message or f"Delete document {collection}/{key}", author, metadata,
                         timestamp, branch, lambda tx: tx.delete_document(
                             collection, key, provenance=provenance))

    # -- schemas (docs/schemas.md): documents of the _schemas collection ------------------
    def set_schema(self, target: str, json_schema: JSON = None, *, kind: str = "entity",
                   source_types: Sequence[str] | None = None,
                   target_types: Sequence[str] | None = None,
                   max_per_source: int | None = None, unique: Sequence[str] = (),
                   message: str | None = None, author: str | None = None,
                   branch: str | None = None) -> Commit:
        """Set the schema of an entity type, relation type (``kind="relation"``) or document
        collection (``kind="collection"``) in a commit; refused with SchemaViolation when the
        data on the branch breaks it."""
        check_name(target, "schema target")
        key = schema_rules.schema_key(kind, target)
        for name, names in (("source_types", source_types), ("target_types", target_types),
                            ("unique", unique)):
            if isinstance(names, str):
                raise InvalidValue(f"{name} is a list of names, e.g. [{names!r}]")
        value = schema_rules.to_document(Schema(
            kind, target, json_schema,  # type: ignore[arg-type]  # checked by to_document
            list(source_types) if source_types is not None else None,
            list(target_types) if target_types is not None else None,
            max_per_source, list(unique)))
        return self.put_document(schema_rules.COLLECTION, key, value, author=author,
                                 message=message or f"Set schema of {kind} {target}",
                                 branch=branch)

    def schema(self, target: str, *, kind: str = "entity", ref: Ref | None = None
               ) -> Schema | None:
        """The schema of ``target`` at ``ref`` (default: the current branch), or None."""
        key = schema_rules.schema_key(kind, target)
        doc = self.at(ref).document(schema_rules.COLLECTION, key)
        return None if doc is None else schema_rules.from_document(doc.value)

    def schemas(self, ref: Ref | None = None) -> list[Schema]:
        """Every schema at ``ref`` (default: the current branch), by kind and target."""
        return schema_rules.schemas(self._db, self.at(ref).chain)

    def drop_schema(self, target: str, *, kind: str = "entity", message: str | None = None,
                    author: str | None = None, branch: str | None = None) -> Commit:
        """Remove the schema of ``target`` in a commit (the data stays as it is)."""
        key = schema_rules.schema_key(kind, target)
        if self.at(branch).document(schema_rules.COLLECTION, key) is None:
            raise NotFound(f"{kind} {target!r} has no schema; see repo.schemas()")
        return self.delete_document(schema_rules.COLLECTION, key, author=author,
                                    message=message or f"Drop schema of {kind} {target}",
                                    branch=branch)

    # -- reading -------------------------------------------------------------------------
    def resolve(self, ref: Ref | None = None) -> Commit:
        """The commit a ref names (see docs for the syntax); raises RefNotFound."""
        return self._refs.commit_of(ref)

    def _chain(self, commit: Commit | None) -> Chain:
        return self._commits.commit_chain(commit)

    def head(self) -> View:
        """The state at the head of the current branch."""
        return self.at(None)

    def sparql(self, text: str, ref: Ref | None = None, **options: Any) -> Any:
        """SPARQL SELECT / ASK at ``ref`` (default: the current branch): ``View.sparql``."""
        return self.at(ref).sparql(text, **options)

    def _version_chain(self, ref: str) -> Chain:
        return self.at(ref).chain

    def _version_names(self) -> list[str]:
        return [b.name for b in self._refs.branches()] + [t.name for t in self._refs.tags()]

    @property
    def _versions(self) -> Versions:
        """How SPARQL's ``GRAPH <palimpsest:ref/NAME>`` reaches other versions."""
        return Versions(self._version_chain, self._version_names)

    def at(self, ref: Ref | None) -> View:
        """The state at a branch, tag, commit id or prefix, ``REF~N``, ``REF^``, or a time."""
        position = None
        if not is_commit_id(ref) and (ref is None or isinstance(ref, str)):
            cache = cache_of(self._db)  # a branch's head, once per change of the database
            generation = cache.fresh(self._db)
            if generation is None:
                position = self._commits.branch_position(ref or self.current_branch)
            else:
                position = cache.head(generation, ("at", ref), lambda: self._commits.
                                      branch_position(ref or self.current_branch))
        if position is not None:  # a branch (not a full commit id): its head, in one query
            line, seq = position
            commit = self._commits.by_seq(seq) if seq is not None else None
            view = View(self._db, self._commits.chain(line, seq or 0), commit,
                        versions=self._versions)
        else:
            commit = self.resolve(ref)
            view = View(self._db, self._chain(commit), commit, versions=self._versions)
        self._views.add(view)
        return view

    # -- history -------------------------------------------------------------------------
    def log(self, ref: Ref | None = None, limit: int | None = 50, *, author: str | None = None,
            since: datetime | str | None = None, until: datetime | str | None = None,
            touching: ElementRef | None = None, first_parent: bool = False,
            relations: history_log.Relations = "out") -> list[Commit]:
        """Commits reachable from ``ref``, newest first, optionally filtered; ``touching`` an
        entity also matches changes to its ``relations`` (as in :meth:`history`)."""
        head = self._refs.resolve(ref, readable=False)  # pruned commits keep their metadata
        seqs = None
        if touching is not None:
            seqs = history_log.seqs_touching(self._commits, self._element_keys(touching),
                                             relations)
        return history_log.log(
            self._commits, head, limit=limit, author=author,
            since_us=to_us(since) if since is not None else None,
            until_us=to_us(until) if until is not None else None, touching=seqs,
            first_parent=first_parent)

    def commit(self, ref: Ref | None = None) -> Commit:
        """The Commit a ref names, also when gc pruned its state (metadata is kept)."""
        return self._refs.commit_of(ref, readable=False)

    def changes(self, commit: Ref) -> list[Change]:
        """Every element one commit changed, with old and new values."""
        target = self.resolve(commit)
        parent = self._commits.by_id(target.parents[0]) if target.parents else None
        return list(compute_diff(self._db, parent, self._chain(parent), target,
                                 self._chain(target)).changes)

    def _element_keys(self, element: ElementRef, kind: str | None = None
                      ) -> list[tuple[str, str]]:
        if isinstance(element, tuple):
            collection, key = element
            return [("d", doc_key(collection, key))]
        if kind is not None:
            codes = {"entity": "e", "relation": "r", "document": "d", "kv": "k"}
            if kind not in codes:
                raise InvalidValue(f"element must be entity, relation, document or kv, "
                                   f"not {kind!r}")
            return [(codes[kind], element)]
        return [("e", element), ("r", element)]

    def history(self, id: ElementRef, ref: Ref | None = None, *, element: str | None = None,
                limit: int | None = None, relations: history_log.Relations = "out") -> list[Version]:
        """Every version of one element along ``ref``'s history, newest first.

        ``id`` is an entity id (or a relation id), or ``(collection, key)`` for a document;
        ``element=`` picks the kind explicitly. An entity's history also holds the versions
        of its ``relations`` ("out": those it is the source of, "in", "both", "none"), each
        marked by ``Version.element`` / ``Version.id`` (docs/history.md).
        """
        chain = self._chain(self._refs.resolve(ref))
        return history_log.facts_history(self._commits, chain, self._element_keys(id, element),
                                         relations, limit)

    def blame(self, id: ElementRef, ref: Ref | None = None, *, element: str | None = None,
              relations: history_log.Relations = "out") -> dict[str, Blame]:
        """For each property of the element's current value, the commit that set it; for an
        entity also each current relation fact (key ``"@relation <id>"``, docs/history.md)."""
        chain = self._chain(self._refs.resolve(ref))
        found = history_log.facts_blame(self._commits, chain, self._element_keys(id, element),
                                        relations)
        if found is not None:
            return found
        raise NotFound(f"no history for {id!r} at {ref or self.current_branch!r}")

    def diff(self, a: Ref, b: Ref | None = None, *, limit: int | None = None,
             after: str | None = None) -> Diff:
        """What changed from ``a`` to ``b`` (default: the current head).

        ``repo.diff("main...feature")`` diffs from the merge base to ``feature`` (what the
        branch changed); ``"a..b"`` is the same as ``diff(a, b)``. With ``limit`` it returns
        one page: at most ``limit`` changes after the cursor ``after`` (element kind, then
        collection and id), and in ``Diff.next`` the cursor of the following page (None on
        the last); a page costs its own size, however big the diff. Values are decoded when
        a change is first read.
        """
        ca, cb = self._diff_ends(a, b)
        return compute_diff(self._db, ca, self._chain(ca), cb, self._chain(cb), limit=limit,
                            after=after)

    def diff_stats(self, a: Ref, b: Ref | None = None) -> CommitStats:
        """How many elements of each kind were created, modified and deleted from ``a`` to
        ``b`` (as :meth:`diff`), counted in SQL without reading any value."""
        ca, cb = self._diff_ends(a, b)
        return diff_stats(self._db, self._chain(ca), self._chain(cb))

    def _diff_ends(self, a: Ref, b: Ref | None) -> tuple[Commit | None, Commit | None]:
        if b is None and isinstance(a, str) and ".." in a:
            return self._refs.resolve_range(a)
        return self._refs.resolve(a), self._refs.resolve(b)

    def merge_base(self, a: Ref, b: Ref) -> Commit | None:
        """The best common ancestor of two commits (the newest one in criss-cross cases)."""
        bases = history_log.merge_bases(self._commits, self.resolve(a), self.resolve(b))
        return bases[0] if bases else None

    # -- restore -------------------------------------------------------------------------
    def rollback(self, ref: Ref, *, message: str | None = None, author: str | None = None,
                 branch: str | None = None) -> Commit:
        """A new commit on ``branch`` whose state equals ``ref``'s (history is kept)."""
        return restore.rollback(self._refs, ref, branch=branch or self.current_branch,
                                message=message, author=author or self.default_author,
                                notify=self._notify)

    def revert(self, commit: Ref, *, message: str | None = None, author: str | None = None,
               branch: str | None = None) -> Commit:
        """A new commit undoing one commit; fails (changing nothing) with RevertConflict when
        later commits changed the same properties."""
        return restore.revert(self._refs, commit, branch=branch or self.current_branch,
                              message=message, author=author or self.default_author,
                              write=self._write_plan)

    def _write_plan(self, branch: str, message: str, author: str,
                    metadata: Mapping[str, JSON], writes: Sequence[Write],
                    known: Mapping[tuple[str, str], StoredRow | None],
                    extra_parents: Sequence[str]) -> Commit:
        """Commit prepared writes (a merge's, rollback's, revert's) through a Transaction."""
        tx = Transaction(self._refs, branch=branch, message=message, author=author,
                         metadata=metadata, timestamp=None, extra_parents=extra_parents,
                         notify=self._notify)
        tx.assume_read(known)  # read under the caller's lock: the commit need not reread them
        with tx:
            for write in writes:
                tx.write_raw(write)
        assert tx.commit is not None
        return tx.commit

    def _vet(self, chain: Chain, writes: Sequence[Write]) -> list[Violation]:
        """The schema violations a previewed merge's writes would cause."""
        return schema_rules.violations(self._db, chain, {(w.kind, w.key): w for w in writes})

    # -- merge ---------------------------------------------------------------------------
    # Merge, merge preview, cherry-pick and combine (docs/branching.md): versioning/merge.py
    # plans and runs them under the write lock and commits through _write_plan.
    def merge(self, source: Ref, *, into: str | None = None, message: str | None = None,
              author: str | None = None, strategy: str | None = None,
              resolutions: Mapping[tuple[str, str, str | None], JSON] | None = None,
              dry_run: bool = False, metadata: Mapping[str, JSON] | None = None
              ) -> MergeResult:
        """Merge ``source`` (a branch, tag or commit) into branch ``into`` (default: current).

        Returns a MergeResult whose status is "fast_forward", "merged" (a commit whose
        parents are both heads), "up_to_date", or "conflict" (nothing written). ``strategy``
        ("ours" / "theirs") and ``resolutions`` ({Conflict.key: "ours" | "theirs" | value})
        resolve conflicts; conflicts left after them raise MergeConflict. ``metadata`` is
        added to the merge commit's (which records the merge under ``"merge"``); with it a
        merge that could fast-forward writes a merge commit instead.
        """
        return merge_ops.merge(self._refs, source, into=into or self.current_branch,
                               current=self.current_branch, message=message,
                               author=author or self.default_author,
                               resolver=Resolver(strategy, resolutions), dry_run=dry_run,
                               write=self._write_plan,
                               vet=self._vet, metadata=metadata)

    def merge_preview(self, source: Ref, *, into: str | None = None,
                      strategy: str | None = None,
                      resolutions: Mapping[tuple[str, str, str | None], JSON] | None = None
                      ) -> MergeResult:
        """What :meth:`merge` would do, without writing: status, conflicts, and in ``diff``
        the changes ``into`` would see."""
        return self.merge(source, into=into, strategy=strategy, resolutions=resolutions,
                          dry_run=True)

    def cherry_pick(self, commit: Ref, *, onto: str | None = None, message: str | None = None,
                    author: str | None = None, strategy: str | None = None,
                    resolutions: Mapping[tuple[str, str, str | None], JSON] | None = None,
                    dry_run: bool = False) -> MergeResult:
        """Apply what one commit changed (against its first parent) to branch ``onto``, as a
        new one-parent commit; same conflict rules as :meth:`merge`. The rows written credit
        the picked commit (see ``Version.origin``)."""
        resolver = Resolver(strategy, resolutions)
        return merge_ops.cherry_pick(self._refs, commit, onto=onto or self.current_branch,
                                     message=message, author=author or self.default_author,
                                     resolver=resolver, dry_run=dry_run,
                                     write=self._write_plan,
                                     vet=self._vet)

    def combine(self, refs: list[Ref] | tuple[Ref, ...], *, mode: str = "union",
                into: str | None = None, message: str | None = None, author: str | None = None,
                strategy: str | None = None,
                resolutions: Mapping[tuple[str, str, str | None], JSON] | None = None,
                dry_run: bool = False) -> MergeResult:
        """Set-merge of versions: one commit on ``into`` whose entities, relations and
        documents are those present in any (``mode="union"``) or all (``"intersection"``) of
        ``refs``. An element whose content differs between refs is a conflict; resolve with
        ``strategy="first"`` / ``"last"`` (order of ``refs``) or ``resolutions={key: ref}``.
        """
        return merge_ops.combine(self._refs, refs, mode=mode, into=into or self.current_branch,
                                 message=message, author=author or self.default_author,
                                 strategy=strategy, resolutions=resolutions, dry_run=dry_run,
                                 write=self._write_plan,
                                 vet=self._vet)

    # -- branches and tags ---------------------------------------------------------------
    @property
    def current_branch(self) -> str:
        return self._refs.current()

    def create_branch(self, name: str, from_: Ref | None = None, *,
                      author: str | None = None) -> Branch:
        """A new branch at ``from_`` (default: the current head). O(1): nothing is copied."""
        start = self._refs.resolve(from_)
        return self._refs.create_branch(name, start, author=author or self.default_author)

    def branches(self, base: str | None = "main") -> list[Branch]:
        """All branches with their heads and, when ``base`` exists, commits ahead / behind it."""
        branches = self._refs.branches()
        if base is None or not self._refs.has_branch(base):
            return branches
        base_head = self._refs.branch_head(base)
        out = []
        for branch in branches:
            ahead, behind = history_log.ahead_behind(self._commits, branch.head, base_head)
            out.append(Branch(branch.name, branch.head, branch.current, ahead, behind))
        return out

    def delete_branch(self, name: str, *, author: str | None = None) -> None:
        self._refs.delete_branch(name, author=author or self.default_author)

    def checkout(self, name: str) -> None:
        """Make ``name`` the branch that writes go to (stored in the repository, like git's
        HEAD)."""
        self._refs.set_current(name)

    def tag(self, name: str, ref: Ref | None = None, *, message: str | None = None,
            author: str | None = None, force: bool = False) -> Tag:
        """Name a commit; with ``message`` the tag is annotated (message, author, time)."""
        return self._refs.create_tag(name, self.resolve(ref), message=message,
                                     author=author or self.default_author, force=force)

    def tags(self) -> list[Tag]:
        return self._refs.tags()

    def delete_tag(self, name: str, *, author: str | None = None) -> None:
        self._refs.delete_tag(name, author=author or self.default_author)

    def reflog(self, name: str | None = None, limit: int = 100) -> list[RefLogEntry]:
        """Movements of a branch or tag (creation, deletion, resets), newest first."""
        return self._refs.reflog(name or self.current_branch, limit)

    # -- maintenance ---------------------------------------------------------------------
    def export(self, path: str | os.PathLike[str], ref: Ref | None = None) -> int:
        """Write a JSON Lines archive of the full history (or of what ``ref`` reaches);
        returns the number of records."""
        from .maintenance.archive import export_archive
        return export_archive(self._db, self._commits, self._refs, os.fspath(path), ref)

    def fsck(self, *, last: int | None = None, repair_indexes: bool = False) -> FsckReport:
        """Verify value hashes, commit ids, state hashes, refs, lines and derived data.

        ``last=N`` checks only the newest N commits (and their rows) and skips the engine's
        index check; ``repair_indexes`` first rebuilds damaged indexes and derived data
        (never history).
        """
        return check_repository(self._db, self._commits, last=last,
                                repair_indexes=repair_indexes)

    def set_retention(self, branches: str, keep: str | timedelta | int | None = None, *,
                      keep_commits: int | None = None,
                      author: str | None = None) -> RetentionPolicy | None:
        """Keep the last ``keep`` of time ("365d", "12h", "2w", a timedelta) and/or the last
        ``keep_commits`` commits of the branches matching the glob ``branches`` readable;
        :meth:`gc` compacts what is older. Neither argument removes the policy.
        """
        from .maintenance.retention import set_policy
        return set_policy(self._db, branches, keep=keep, keep_commits=keep_commits,
                          author=author or self.default_author)

    def retention(self) -> list[RetentionPolicy]:
        """The retention policies, by pattern."""
        from .maintenance.retention import policies
        return policies(self._db)

    def horizon(self, branch: str | None = None) -> Commit | None:
        """The oldest commit of ``branch`` whose state the policies keep (None: all of it)."""
        from .maintenance.retention import horizon
        return horizon(self._commits, self._refs, branch or self.current_branch)

    def gc(self, *, dry_run: bool = False, vacuum: bool = False,
           now: datetime | str | None = None) -> GcReport:
        """Apply the retention policies: delete rows no readable state needs, mark older
        commits pruned (their metadata stays). Commits reachable from a branch within its
        horizon, tagged commits and states of this handle's open Views stay readable.
        ``vacuum`` (SQLite) gives the freed pages back to the file system afterwards.
        """
        from .maintenance.retention import gc, give_back_space
        pinned = [v.commit for v in list(self._views) if v.commit is not None]
        report = gc(self._commits, self._refs, pinned=pinned, dry_run=dry_run,
                    now=to_us(now) if now is not None else None)
        if vacuum and not dry_run:
            return replace(report, vacuumed=give_back_space(self._db))
        return report

    def erase(self, id: ElementRef, *, reason: str, author: str | None = None,
              element: str | None = None, message: str | None = None) -> Erasure:
        """Remove every stored value of one element (GDPR erasure), keeping the hashes, so
        commit ids, state hashes and fsck stay valid; reads return a tombstone
        ``{"@erased": {"by", "at", "reason", "erasure"}}``. Records an empty commit on the
        current branch whose metadata names the erasure.
        """
        from .maintenance.erase import erase_rows, link_commit, scrub, stored_key
        who = check_name(author or self.default_author, "author")
        self._db.secure_delete(True)  # overwrite freed pages instead of leaving old values
        try:
            with self._db.write():
                keys = self._element_keys(id, element)
                kind, key = stored_key(self._db, keys)
                erasure = erase_rows(self._db, kind, key, reason=reason, author=who)
                record = erasure.to_dict()
                record.pop("commit")
                metadata = {"erasure": record}
                with self.transaction(message or f"Erase {erasure.element} {id!r}", author=who,
                                      metadata=metadata) as tx:
                    pass
                assert tx.commit is not None
                erasure = link_commit(self._db, erasure, tx.commit.seq, tx.commit.id)
        finally:
            self._db.secure_delete(False)
        scrub(self._db)
        return erasure

    def validate_shacl(self, shapes: str | bytes | os.PathLike[str], *, ref: Ref | None = None,
                       format: str | None = None,
                       prefixes: Mapping[str, str] | None = None) -> ShaclReport:
        """Validate the RDF graph of a version (``ref``, default the current branch: what
        RDF export writes) against SHACL ``shapes`` (RDF text, or a path to a file; Turtle
        unless ``format`` names another rdflib format) with pySHACL (docs/validation.md)."""
        from pathlib import Path

        from .query import shacl
        view = self.at(ref)
        text = shacl.read_shapes(Path(shapes) if isinstance(shapes, os.PathLike) else shapes)
        data = b"" if view.commit is None else \
            view.sparql("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
                        prefixes=prefixes).serialize("nt")
        return shacl.validate(data, text, format=format,
                              commit=view.commit.id if view.commit is not None else None)

    def erase_source(self, source: str, *, reason: str, author: str | None = None,
                     message: str | None = None) -> list[Erasure]:
        """Erase every stored value that came from provenance ``source``, in every version on
        every line (:meth:`erase` per element, restricted to the rows from that source):
        hashes stay, so commit ids, state hashes and fsck stay valid. One erasure record per
        element, one empty commit on the current branch naming them (docs/provenance.md)."""
        from .maintenance.erase import erase_rows, link_commit, scrub, source_keys
        who = check_name(author or self.default_author, "author")
        self._db.secure_delete(True)
        try:
            with self._db.write():
                keys, only = source_keys(self._db, source)
                made = [erase_rows(self._db, kind, key, reason=reason, author=who, only=only)
                        for kind, key in keys]
                metadata = {"erasure": {"source": source, "reason": reason,
                                        "ids": [e.id for e in made]}}
                with self.transaction(message or f"Erase what came from {source!r}",
                                      author=who, metadata=metadata) as tx:
                    pass
                assert tx.commit is not None
                made = [link_commit(self._db, e, tx.commit.seq, tx.commit.id) for e in made]
        finally:
            self._db.secure_delete(False)
        scrub(self._db)
        return made

    def retract(self, source: str, *, message: str | None = None, author: str | None = None,
                metadata: Mapping[str, JSON] | None = None, branch: str | None = None
                ) -> Commit:
        """One commit deleting every element whose current version came from provenance
        ``source`` (entities, relations, documents; an entity's relations go with it, as with
        :meth:`delete_entity`). Older versions stay in history; see :meth:`erase_source` to
        remove them too."""
        return self._one(message or f"Retract {source}", author, metadata, None, branch,
                         lambda tx: retract_source(tx, source))

    def erasures(self) -> list[Erasure]:
        """Every erasure made in this repository, oldest first (the audit record)."""
        from .maintenance.erase import erasures
        return erasures(self._db)

    def backup(self, dest: str | os.PathLike[str], *, format: str | None = None,
               verify: bool = True) -> BackupInfo:
        """A consistent online copy at the new path ``dest``: a SQLite file (SQLite online
        backup API) or, with ``format="archive"`` and on PostgreSQL, a JSON Lines archive.
        ``verify`` runs fsck on the copy. Restore with :func:`palimpsest.restore`.
        """
        from .maintenance.backup import backup
        if format not in (None, "sqlite", "archive"):
            raise InvalidValue(f"backup format must be 'sqlite' or 'archive', not {format!r}")
        return backup(self._refs, dest, format=format, verify=verify)  # type: ignore[arg-type]

    # -- key-value state, queries, indexes, views, watch (docs/kv.md, docs/query.md) -----
    # repo.kv is models/kv.KeyValue with this Repository as its host: each kv write is one
    # commit built under the branch's write lock (so version checks are exact across threads
    # and processes). Queries and aggregations live on View; indexes and materialized views
    # are declared here (palimpsest.query); watches follow a branch (palimpsest.watch).
    @property
    def kv(self) -> KeyValue:
        """The key-value state of the current branch (``repo.kv.on("b")`` for another)."""
        return KeyValue(self._db, host=self, group=self._kv_group)

    def kv_chain(self, branch: str | None) -> Chain:
        """The chain of ``branch``'s head (None: current), for ``repo.kv``."""
        return self._refs.branch_chain(branch)

    def kv_commit(self, branch: str | None, message: str, author: str | None,
                  metadata: Mapping[str, JSON] | None, build: KVBuilder) -> Commit | None:
        """One kv write of ``repo.kv``: ``build`` the writes from the rows it reads, under
        the branch's write lock (so version checks are exact), and commit them.

        The short path of a transaction that only writes kv rows it read under the lock: no
        read set to check, no graph to check, the branch position read once."""
        who = check_name(author or self.default_author, "author")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidValue(f"metadata must be a dict, not {type(metadata).__name__}")
        meta = dict(metadata or {})
        if meta:
            check_json(meta, "metadata")
        encode([message, meta])  # refuses what JSON cannot hold, as a transaction does
        with self._db.write():
            name = branch or self.current_branch
            self._db.lock(f"branch:{name}")
            position = self._commits.branch_position(name)
            if position is None:
                self._refs.branch_line(name)  # raises RefNotFound with a hint
                raise AssertionError("unreachable")
            line, head = position
            reader = KVReader(self._db, self._commits.chain(line, head or 0),
                              self._commits.time_us)
            writes = build(reader)
            if not writes:
                return None
            parents = [self._commits.by_seq(head).id] if head is not None else []
            commit = self._commits.write_commit(
                line=line, writes=writes, parents=parents, author=who, message=message,
                metadata=meta, known_old=reader.known, head_seq=head)
            self._notify(commit)
        return commit

    def kv_watch(self, pattern: str, *, branch: str | None, since: Ref | int | None,
                 timeout: float | None, interval: float) -> Watch[KVEvent]:
        """The watch behind ``repo.kv.watch`` (see :meth:`KeyValue.watch`)."""
        start = self._watch_start(since)
        resync: list[KVEvent] = []
        pruned = pruned_range(self._db, start) if isinstance(start, Commit) else None
        if pruned is not None:
            # Per-key changes before the horizon were compacted away: say so with a distinct
            # event naming the oldest readable state gc kept, then follow from there.
            horizon_seq = pruned[0]
            start = (self._commits.by_seq(horizon_seq) if horizon_seq is not None
                     else self._refs.resolve(branch or self.current_branch))
            if start is not None:
                resync.append(KVEvent("resync", pattern, None, 0, start))
        poll = kv_poller(self._db, self._follower(branch, start), pattern)

        def poller() -> list[KVEvent]:
            first = resync[:]
            resync.clear()
            return first + poll()

        return Watch(poller, subscribe=self.on_commit, timeout=timeout, interval=interval)

    def _watch_start(self, since: Ref | int | None) -> Commit | int | None:
        if since is None or isinstance(since, int):
            return since
        return self._refs.resolve(since, readable=False)  # pruned commits keep metadata

    def _follower(self, branch: str | None, since: Ref | int | None) -> Follower:
        name = branch or self.current_branch
        self._refs.branch_line(name)
        return Follower(self._commits, self._refs, name, self._watch_start(since))

    def watch(self, branch: str | None = None, *, since: Ref | int | None = None,
              timeout: float | None = None, interval: float = 0.02) -> Watch[Commit]:
        """Each commit that becomes reachable from ``branch`` (default: current), from any
        process, once, after its parents: new commits and those a merge brings in. ``since``
        (a commit or ref, or 0 for the beginning) first replays those not reachable from it.
        Iterate it, or ``async for`` it; close it (or use ``with``) to stop."""
        name = branch or self.current_branch
        follower = CommitFollower(self._commits, self._refs, name, self._watch_start(since))
        return Watch(commit_poller(follower), subscribe=self.on_commit, timeout=timeout,
                     interval=interval)

    def commit_follower(self, branch: str, token: str | None = None) -> CommitFollower:
        """Follows the commits reaching ``branch`` from a resume token (the seqs of the
        delivered tips, as :meth:`CommitFollower.token` gives; None: from the head): the
        server's watch stream."""
        since = None if token is None else parse_token(self._commits, token)
        return CommitFollower(self._commits, self._refs, branch, since)

    def commit_by_seq(self, seq: int) -> Commit:
        """The commit with this seq (resume tokens name commits by seq)."""
        return self._commits.by_seq(seq)

    def create_index(self, type: str | None = None, field: str | None = None, *,
                     collection: str | None = None) -> IndexInfo:
        """Declare an index on ``field`` of entity ``type`` (``create_index("Person",
        "email")``) or of a ``collection`` of documents; equality and range queries on it
        then use the index, at the head and in the past. Idempotent."""
        return query_indexes.create(self._db, index_target(type, collection), field or "")

    def drop_index(self, type: str | None = None, field: str | None = None, *,
                   collection: str | None = None) -> None:
        query_indexes.drop(self._db, index_target(type, collection), field or "")

    def indexes(self) -> list[IndexInfo]:
        """The declared indexes."""
        return query_indexes.list_all(self._db)

    # -- search (docs/search.md) ---------------------------------------------------------
    def create_text_index(self, type_or_collection: str, fields: Sequence[str], *,
                          kind: str | None = None) -> TextIndex:
        """Declare a full-text index on ``fields`` (property names; dotted paths reach
        inside objects) of an entity type or collection and index every stored version;
        ``View.search`` then finds them at any commit and branch. Idempotent; ``kind``
        (``"entity"`` / ``"document"``) settles a name used for both or not used yet."""
        target = search_target(self._db, type_or_collection, kind)
        return search_index.create_text(self._db, target.kind, target.type, fields)

    def drop_text_index(self, type_or_collection: str, *, kind: str | None = None) -> None:
        target = search_target(self._db, type_or_collection, kind)
        search_index.drop(self._db, search_index.TEXT, target.kind, target.type)

    def text_indexes(self) -> list[TextIndex]:
        """The declared full-text indexes."""
        return [i for i in (d.info() for d in search_index.declared(self._db, search_index.TEXT))
                if isinstance(i, TextIndex)]

    def create_vector_index(self, type_or_collection: str, property: str = "embedding", *,
                            dimensions: int, metric: str = "cosine",
                            kind: str | None = None) -> VectorIndex:
        """Declare that ``property`` holds vectors (JSON arrays of ``dimensions`` numbers,
        compared by ``metric``: ``"cosine"``, ``"l2"`` or ``"dot"``); every later write is
        checked and ``View.similar`` finds nearest elements at any commit. Idempotent."""
        target = search_target(self._db, type_or_collection, kind)
        return search_index.create_vector(self._db, target.kind, target.type, property,
                                          dimensions, metric)

    def drop_vector_index(self, type_or_collection: str, property: str = "embedding", *,
                          kind: str | None = None) -> None:
        target = search_target(self._db, type_or_collection, kind)
        search_index.drop(self._db, search_index.VECTOR, target.kind, target.type, property)

    def vector_indexes(self) -> list[VectorIndex]:
        """The declared vector indexes."""
        return [i for i in (d.info() for d in search_index.declared(self._db,
                                                                     search_index.VECTOR))
                if isinstance(i, VectorIndex)]

    def similar_at(self, vector: Sequence[float], ref: Ref | None = None, *, k: int = 10,
                   type: str | None = None, property: str | None = None,
                   where: Any = None) -> list[SimilarHit]:
        """``repo.at(ref).similar(vector, k=k, ...)``: nearest elements at a branch, tag,
        commit or time (``"2026-01-01"``)."""
        return self.at(ref).similar(vector, k, type=type, property=property, where=where)

    def create_view(self, name: str, collection_or_type: str, query: object = None, *,
                    kind: str | None = None) -> ViewInfo:
        """Declare a materialized view: the elements of a collection / entity type matching
        ``query`` (a Filter, or ``{"where", "select", "order_by"}``). Read it with
        ``repo.at(ref).materialized(name)`` at any commit; it is kept current as commits
        land (the work is done on the next read, or by :meth:`refresh_views`)."""
        target = resolve_target(self._db, collection_or_type, kind)
        return query_views.create(self._db, name, target, query_engine.Query.of(query))

    def drop_view(self, name: str) -> None:
        query_views.drop(self._db, name)

    def views(self) -> list[ViewInfo]:
        """The declared materialized views."""
        return query_views.list_all(self._db)

    def refresh_views(self, name: str | None = None) -> int:
        """Bring materialized views up to the newest commit now; returns rows written."""
        names = [name] if name is not None else [v.name for v in self.views()]
        return sum(query_views.refresh(self._db, n) for n in names)

    # -- copy ----------------------------------------------------------------------------
    def copy_to(self, target: str | os.PathLike[str], *, verify: bool = True) -> CopyReport:
        """Copy this repository — full history, branches, tags, reflog — into a new, empty
        repository at ``target`` (a SQLite path or a ``postgresql://`` URL), keeping every seq,
        commit id and state hash. The copy lands whole or not at all; with ``verify`` the
        destination is fsck'ed before it commits.
        """
        from .maintenance.copy import copy_repository
        from .storage import open_database
        destination = open_database(target)
        try:
            return copy_repository(self._db, self._commits, self._refs, destination,
                                   verify=verify)
        finally:
            destination.close()

    # -- sync (docs/sync.md): the work is in sync/ ---------------------------------------
    @property
    def remotes(self) -> Remotes:
        """The repositories this one syncs with: ``add(name, url, token=None)``,
        ``remove(name)``, ``list()``."""
        return Remotes(self._db)

    def _sync_side(self, author: str | None = None) -> sync_engine.Local:
        return sync_engine.Local(self._db, self._commits, self._refs,
                                 author or self.default_author)

    def fetch(self, remote: str = "origin", *, progress: sync_engine.Progress | None = None
              ) -> SyncReport:
        """Bring the commits of ``remote``'s branches this repository lacks (negotiated by
        commit id, verified before any ref moves) and set the remote-tracking branches
        ``remote/NAME``."""
        return sync_engine.fetch(self._sync_side(), remote, progress=progress)

    def pull(self, remote: str = "origin", branch: str | None = None, *,
             into: str | None = None, message: str | None = None, author: str | None = None,
             strategy: str | None = None, progress: sync_engine.Progress | None = None
             ) -> MergeResult:
        """Fetch ``remote``, then merge ``remote/branch`` into ``into`` (default: the current
        branch; ``branch`` defaults to its name): fast-forward or three-way merge, conflicts
        returned as values."""
        into = into or self.current_branch
        self.fetch(remote, progress=progress)
        return self.merge(f"{remote}/{branch or into}", into=into, author=author,
                          message=message or f"Merge {remote}/{branch or into} into {into}",
                          strategy=strategy)

    def push(self, remote: str = "origin", branch: str | None = None, *, force: bool = False,
             progress: sync_engine.Progress | None = None) -> SyncReport:
        """Send ``branch`` (default: the current one) to ``remote``'s branch of that name;
        refuses a non-fast-forward (NonFastForward) unless ``force``."""
        return sync_engine.push(self._sync_side(), remote, branch or self.current_branch,
                                force=force, progress=progress)
