"""The Repository: writes, history, refs. The Python API is the product; the CLI and the HTTP
server are thin mirrors of these methods with the same names."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from .codec import check_name, to_us
from .errors import InvalidValue, NotFound, RefNotFound
from .storage.base import Database
from .storage.schema import create_schema, rebuild_superseded
from .storage.visibility import Chain
from .transaction import Transaction
from .types import JSON, Blame, Branch, Change, Commit, RefLogEntry, Tag, Version
from .versioning import log as history_log
from .versioning.commits import CommitStore
from .versioning.diff import Diff
from .versioning.diff import compute as compute_diff
from .versioning.elements import doc_key
from .versioning.fsck import FsckReport, fsck
from .versioning.refs import RefStore
from .versioning.restore import revert_writes, rollback_writes
from .view import View

Ref = str | datetime | Commit
ElementRef = str | tuple[str, str]


class Repository:
    """A versioned graph and document store in one SQLite file or PostgreSQL schema.

    Open one with :func:`palimpsest.open`. A handle may be shared by threads; several processes
    may open the same file (SQLite serialises their commits).
    """

    def __init__(self, db: Database, *, author: str = "anonymous") -> None:
        create_schema(db)
        self._db = db
        self._commits = CommitStore(db)
        self._refs = RefStore(self._commits)
        self.default_author = check_name(author, "author")
        self._listeners: list[Callable[[Commit], None]] = []

    def __repr__(self) -> str:
        return f"<Repository {self._db.url} on {self.current_branch!r}>"

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @property
    def url(self) -> str:
        return self._db.url

    @property
    def database(self) -> Database:
        """The storage backend (for tools and tests; prefer the methods below)."""
        return self._db

    def _notify(self, commit: Commit | None) -> None:
        if commit is not None:
            for listener in list(self._listeners):
                listener(commit)

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
        an exception writes nothing.

        ``timestamp`` sets the commit time (for importing history); it may not be earlier
        than the parent commit's. Writes go to ``branch`` (default: the current branch).
        """
        return Transaction(self, branch=branch or self.current_branch, message=message,
                           author=author or self.default_author, metadata=metadata,
                           timestamp=timestamp)

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
                   timestamp: datetime | str | None = None, branch: str | None = None) -> Commit:
        """Create or replace one entity in its own commit."""
        return self._one(message or f"Put entity {id}", author, metadata, timestamp, branch,
                         lambda tx: tx.put_entity(id, type, props))

    def update_entity(self, id: str, props: Mapping[str, JSON] | None = None, *,
                      type: str | None = None, message: str | None = None,
                      author: str | None = None, metadata: Mapping[str, JSON] | None = None,
                      timestamp: datetime | str | None = None,
                      branch: str | None = None) -> Commit:
        """Patch one entity's properties (None removes a property) in its own commit."""
        return self._one(message or f"Update entity {id}", author, metadata, timestamp, branch,
                         lambda tx: tx.update_entity(id, props, type=type))

    def delete_entity(self, id: str, *, message: str | None = None, author: str | None = None,
                      metadata: Mapping[str, JSON] | None = None,
                      timestamp: datetime | str | None = None,
                      branch: str | None = None) -> Commit:
        """Delete one entity and its relations in one commit."""
        return self._one(message or f"Delete entity {id}", author, metadata, timestamp, branch,
                         lambda tx: tx.delete_entity(id))

    def put_relation(self, id: str, type: str, source: str, target: str,
                     props: Mapping[str, JSON] | None = None, *, message: str | None = None,
                     author: str | None = None, metadata: Mapping[str, JSON] | None = None,
                     timestamp: datetime | str | None = None,
                     branch: str | None = None) -> Commit:
        return self._one(message or f"Put relation {id}", author, metadata, timestamp, branch,
                         lambda tx: tx.put_relation(id, type, source, target, props))

    def delete_relation(self, id: str, *, message: str | None = None, author: str | None = None,
                        metadata: Mapping[str, JSON] | None = None,
                        timestamp: datetime | str | None = None,
                        branch: str | None = None) -> Commit:
        return self._one(message or f"Delete relation {id}", author, metadata, timestamp,
                         branch, lambda tx: tx.delete_relation(id))

    def put_document(self, collection: str, key: str, value: JSON, *,
                     message: str | None = None, author: str | None = None,
                     metadata: Mapping[str, JSON] | None = None,
                     timestamp: datetime | str | None = None,
                     branch: str | None = None) -> Commit:
        return self._one(message or f"Put document {collection}/{key}", author, metadata,
                         timestamp, branch, lambda tx: tx.put_document(collection, key, value))

    def delete_document(self, collection: str, key: str, *, message: str | None = None,
                        author: str | None = None, metadata: Mapping[str, JSON] | None = None,
                        timestamp: datetime | str | None = None,
                        branch: str | None = None) -> Commit:
        return self._one(message or f"Delete document {collection}/{key}", author, metadata,
                         timestamp, branch, lambda tx: tx.delete_document(collection, key))

    # -- reading -------------------------------------------------------------------------
    def resolve(self, ref: Ref | None = None) -> Commit:
        """The commit a ref names (see docs for the syntax); raises RefNotFound."""
        commit = self._refs.resolve(ref)
        if commit is None:
            raise RefNotFound(f"{ref or self.current_branch!r} has no commits yet")
        return commit

    def _chain(self, commit: Commit | None) -> Chain:
        return self._commits.commit_chain(commit)

    def head(self) -> View:
        """The state at the head of the current branch."""
        return self.at(None)

    def at(self, ref: Ref | None) -> View:
        """The state at a branch, tag, commit id or prefix, ``REF~N``, ``REF^``, or a time."""
        if (isinstance(ref, str) and self._refs.has_branch(ref)) or ref is None:
            name = ref or self.current_branch
            line = self._refs.branch_line(name)
            seq = self._commits.line_head(line)
            commit = self._commits.by_seq(seq) if seq is not None else None
            return View(self._db, self._commits.chain(line, seq or 0), commit)
        commit = self.resolve(ref)
        return View(self._db, self._chain(commit), commit)

    # -- history -------------------------------------------------------------------------
    def log(self, ref: Ref | None = None, limit: int | None = 50, *, author: str | None = None,
            since: datetime | str | None = None, until: datetime | str | None = None,
            touching: ElementRef | None = None, first_parent: bool = False) -> list[Commit]:
        """Commits reachable from ``ref``, newest first, optionally filtered."""
        head = self._refs.resolve(ref)
        seqs = None
        if touching is not None:
            seqs = set()
            for kind, key in self._element_keys(touching):
                seqs |= history_log.seqs_touching(self._commits, kind, key)
        return history_log.log(
            self._commits, head, limit=limit, author=author,
            since_us=to_us(since) if since is not None else None,
            until_us=to_us(until) if until is not None else None, touching=seqs,
            first_parent=first_parent)

    def commit(self, ref: Ref | None = None) -> Commit:
        """Alias of :meth:`resolve`: the Commit a ref names."""
        return self.resolve(ref)

    def changes(self, commit: Ref) -> list[Change]:
        """Every element one commit changed, with old and new values."""
        target = self.resolve(commit)
        parent = self._commits.by_id(target.parents[0]) if target.parents else None
        return compute_diff(self._db, parent, self._chain(parent), target,
                            self._chain(target)).changes

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
                limit: int | None = None) -> list[Version]:
        """Every version of one element along ``ref``'s history, newest first.

        ``id`` is an entity id (or a relation id), or ``(collection, key)`` for a document;
        ``element=`` picks the kind explicitly.
        """
        head = self._refs.resolve(ref)
        chain = self._chain(head)
        for kind, key in self._element_keys(id, element):
            versions = history_log.history(self._commits, chain, kind, key, limit)
            if versions:
                return versions
        return []

    def blame(self, id: ElementRef, ref: Ref | None = None, *,
              element: str | None = None) -> dict[str, Blame]:
        """For each property of the element's current value, the commit that set it."""
        versions = self.history(id, ref, element=element)
        if not versions:
            raise NotFound(f"no history for {id!r} at {ref or self.current_branch!r}")
        return history_log.blame(versions)

    def diff(self, a: Ref, b: Ref | None = None) -> Diff:
        """What changed from ``a`` to ``b`` (default: the current head).

        ``repo.diff("main...feature")`` diffs from the merge base to ``feature`` (what the
        branch changed); ``"a..b"`` is the same as ``diff(a, b)``.
        """
        if b is None and isinstance(a, str) and ".." in a:
            left, sep, right = a.partition("...") if "..." in a else a.partition("..")
            ca, cb = self._refs.resolve(left or None), self._refs.resolve(right or None)
            if sep == "..." and ca is not None and cb is not None:
                bases = history_log.merge_bases(self._commits, ca, cb)
                ca = bases[0] if bases else None
        else:
            ca = self._refs.resolve(a)
            cb = self._refs.resolve(b)
        return compute_diff(self._db, ca, self._chain(ca), cb, self._chain(cb))

    def merge_base(self, a: Ref, b: Ref) -> Commit | None:
        """The best common ancestor of two commits (the newest one in criss-cross cases)."""
        bases = history_log.merge_bases(self._commits, self.resolve(a), self.resolve(b))
        return bases[0] if bases else None

    # -- restore -------------------------------------------------------------------------
    def rollback(self, ref: Ref, *, message: str | None = None, author: str | None = None,
                 branch: str | None = None) -> Commit:
        """A new commit on ``branch`` whose state equals ``ref``'s (history is kept)."""
        target = self.resolve(ref)
        with self._db.write():
            tx = self.transaction(message or f"Roll back to {target.short_id}", author=author,
                                  branch=branch, metadata={"rollback_to": target.id})
            with tx:
                for write in rollback_writes(self._db, tx._chain, self._chain(target)):
                    tx.write_raw(write)
        assert tx.commit is not None
        return tx.commit

    def revert(self, commit: Ref, *, message: str | None = None, author: str | None = None,
               branch: str | None = None) -> Commit:
        """A new commit undoing one commit; fails (changing nothing) with RevertConflict when
        later commits changed the same properties."""
        target = self.resolve(commit)
        parent = self._commits.by_id(target.parents[0]) if target.parents else None
        with self._db.write():
            tx = self.transaction(message or f'Revert "{target.message}"', author=author,
                                  branch=branch, metadata={"reverts": target.id})
            with tx:
                for write in revert_writes(self._db, commit=self._chain(target),
                                           parent=self._chain(parent), head=tx._chain):
                    tx.write_raw(write)
        assert tx.commit is not None
        return tx.commit

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
        from .versioning.archive import export_archive
        return export_archive(self._db, self._commits, self._refs, os.fspath(path), ref)

    def fsck(self, *, last: int | None = None, repair_indexes: bool = False) -> FsckReport:
        """Verify value hashes, commit ids, state hashes, refs, lines and derived data.

        ``last=N`` checks only the newest N commits (and their rows); ``repair_indexes``
        first rebuilds derived data (never history).
        """
        if repair_indexes:
            rebuild_superseded(self._db)
        return fsck(self._db, self._commits, last=last)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._db.write():
            yield
