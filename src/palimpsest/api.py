"""The public API, declared once: what a repository, a view of one state, a transaction and
the key-value state offer, whether embedded (:func:`palimpsest.open`) or over HTTP
(:func:`palimpsest.connect`).

These are :class:`typing.Protocol` classes: the embedded classes (``repository.Repository``,
``view.View``, ``transaction.Transaction``, ``models.kv.KeyValue``) and the HTTP client's
(``remote.RemoteRepository``, ``RemoteView``, ``RemoteTransaction``, ``RemoteKV``) implement
them with the same parameter names, kinds and defaults; ``tests/test_contract.py`` checks it,
with the short list of what is embedded-only and why. Result types that live above this layer
(reports, index and view descriptions) are annotated ``Any`` here.

This module sits with the values (layer 0): it imports only ``types``.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from .types import (
    JSON,
    Blame,
    Branch,
    Change,
    Commit,
    CommitStats,
    CypherResult,
    Diff,
    Document,
    Entity,
    Entry,
    MergeResult,
    RefLogEntry,
    Relation,
    Relations,
    Schema,
    SearchHit,
    SimilarHit,
    Tag,
    TextIndex,
    VectorIndex,
    Version,
)

Ref = str | datetime | Commit
"""A branch or tag name, a commit id (or unique prefix), ``name~N`` / ``name^``, a
:class:`datetime` (the state at that time), or a :class:`Commit`."""
ElementRef = str | tuple[str, str]
"""An entity or relation id, or a document's ``(collection, key)``."""
Direction = Literal["out", "in", "both"]


class Repository(Protocol):
    """A versioned graph and document store in one SQLite file or PostgreSQL schema."""

    def close(self) -> None:
        ...

    @property
    def url(self) -> str:
        ...

    @property
    def database(self) -> Any:
        """The storage backend (for tools and tests; prefer the methods below)."""
        ...

    def on_commit(self, listener: Callable[[Commit], None]) -> Callable[[], None]:
        """Call ``listener(commit)`` after each commit made through this handle; returns a
        function that unsubscribes."""
        ...

    def transaction(self, message: str = "", *, author: str | None = None,
                        metadata: Mapping[str, JSON] | None = None,
                        timestamp: datetime | str | None = None,
                        branch: str | None = None) -> Transaction:
        """Start a transaction: use it in a ``with`` block; a clean exit writes one commit,
        an exception writes nothing."""
        ...

    def run_transaction(self, fn: Callable[[Transaction], object], message: str = "", *,
                            retries: int = 5, author: str | None = None,
                            metadata: Mapping[str, JSON] | None = None,
                            timestamp: datetime | str | None = None,
                            branch: str | None = None) -> Commit:
        """Run ``fn(tx)`` in a transaction and commit; when another writer changed what it read
        or wrote meanwhile (:class:`ConcurrentCommit`), run ``fn`` again on the new head, up to
        ``retries`` more times. ``fn`` may therefore run several times: keep its effects inside
        ``tx``. Returns the commit written; after the last retry the conflict is raised."""
        ...

    def put_entity(self, id: str, type: str, props: Mapping[str, JSON] | None = None, *,
                       message: str | None = None, author: str | None = None,
                       metadata: Mapping[str, JSON] | None = None,
                       timestamp: datetime | str | None = None,
                       branch: str | None = None, valid_from: datetime | str | None = None,
                       valid_to: datetime | str | None = None,
                       provenance: Mapping[str, JSON] | None = None) -> Commit:
        """Create or replace one entity in its own commit (``valid_from`` / ``valid_to``: its
        valid-time interval, docs/valid-time.md; ``provenance``: where it came from,
        docs/provenance.md)."""
        ...

    def update_entity(self, id: str, props: Mapping[str, JSON] | None = None, *,
                          type: str | None = None, message: str | None = None,
                          author: str | None = None, metadata: Mapping[str,
                          JSON] | None = None, timestamp: datetime | str | None = None,
                          branch: str | None = None, valid_from: datetime | str | None = None,
                          valid_to: datetime | str | None = None,
                          provenance: Mapping[str, JSON] | None = None) -> Commit:
        """Patch one entity's properties (None removes a property) and the ends of its
        valid-time interval (None keeps an end, ``"open"`` opens it) in its own commit."""
        ...

    def delete_entity(self, id: str, *, message: str | None = None, author: str | None = None,
                          metadata: Mapping[str, JSON] | None = None,
                          timestamp: datetime | str | None = None,
                          branch: str | None = None,
                          provenance: Mapping[str, JSON] | None = None) -> Commit:
        """Delete one entity and its relations in one commit."""
        ...

    def put_relation(self, id: str, type: str, source: str, target: str, props: Mapping[str,
                         JSON] | None = None, *, message: str | None = None,
                         author: str | None = None, metadata: Mapping[str,
                         JSON] | None = None, timestamp: datetime | str | None = None,
                         branch: str | None = None, valid_from: datetime | str | None = None,
                         valid_to: datetime | str | None = None,
                         provenance: Mapping[str, JSON] | None = None) -> Commit:
        ...

    def delete_relation(self, id: str, *, message: str | None = None,
                            author: str | None = None, metadata: Mapping[str,
                            JSON] | None = None, timestamp: datetime | str | None = None,
                            branch: str | None = None,
                            provenance: Mapping[str, JSON] | None = None) -> Commit:
        ...

    def put_document(self, collection: str, key: str, value: JSON, *,
                         message: str | None = None, author: str | None = None,
                         metadata: Mapping[str, JSON] | None = None,
                         timestamp: datetime | str | None = None,
                         branch: str | None = None,
                         provenance: Mapping[str, JSON] | None = None) -> Commit:
        ...

    def delete_document(self, collection: str, key: str, *, message: str | None = None,
                            author: str | None = None, metadata: Mapping[str,
                            JSON] | None = None, timestamp: datetime | str | None = None,
                            branch: str | None = None,
                            provenance: Mapping[str, JSON] | None = None) -> Commit:
        ...

    def set_schema(self, target: str, json_schema: JSON = None, *, kind: str = "entity",
                   source_types: Sequence[str] | None = None,
                   target_types: Sequence[str] | None = None,
                   max_per_source: int | None = None, unique: Sequence[str] = (),
                   message: str | None = None, author: str | None = None,
                   branch: str | None = None) -> Commit:
        """Set the schema of an entity type, relation type (``kind="relation"``) or document
        collection (``kind="collection"``) in a commit: a JSON Schema 2020-12 for the
        properties or value, and for relation types the allowed endpoint types and
        ``max_per_source``, for entity types ``unique`` properties. Every later commit is
        checked against it; refused with SchemaViolation when the data breaks it
        (docs/schemas.md)."""
        ...

    def schema(self, target: str, *, kind: str = "entity", ref: Ref | None = None
               ) -> Schema | None:
        """The schema of ``target`` at ``ref`` (default: the current branch), or None."""
        ...

    def schemas(self, ref: Ref | None = None) -> list[Schema]:
        """Every schema at ``ref`` (default: the current branch), by kind and target."""
        ...

    def drop_schema(self, target: str, *, kind: str = "entity", message: str | None = None,
                    author: str | None = None, branch: str | None = None) -> Commit:
        """Remove the schema of ``target`` in a commit (the data stays as it is)."""
        ...

    def resolve(self, ref: Ref | None = None) -> Commit:
        """The commit a ref names (see docs for the syntax); raises RefNotFound."""
        ...

    def head(self) -> View:
        """The state at the head of the current branch."""
        ...

    def sparql(self, text: str, ref: Ref | None = None, **options: Any) -> Any:
        """SPARQL SELECT / ASK at ``ref`` (default: the current branch): ``View.sparql``."""
        ...

    def validate_shacl(self, shapes: str | bytes | os.PathLike[str], *, ref: Ref | None = None,
                       format: str | None = None,
                       prefixes: Mapping[str, str] | None = None) -> Any:
        """Validate the RDF graph of a version (``ref``, default the current branch: what
        RDF export writes) against SHACL ``shapes`` (RDF text, or a path to a file; Turtle
        unless ``format`` names another rdflib format) with pySHACL (docs/validation.md).
        ``prefixes`` map bare names to IRIs, as for RDF export and SPARQL."""
        ...

    def at(self, ref: Ref | None) -> View:
        """The state at a branch, tag, commit id or prefix, ``REF~N``, ``REF^``, or a time."""
        ...

    def log(self, ref: Ref | None = None, limit: int | None = 50, *,
                author: str | None = None, since: datetime | str | None = None,
                until: datetime | str | None = None, touching: ElementRef | None = None,
                first_parent: bool = False, relations: Relations = 'out') -> list[Commit]:
        """Commits reachable from ``ref``, newest first, optionally filtered; ``touching`` an
        entity also matches changes to its ``relations`` (as in :meth:`history`)."""
        ...

    def commit(self, ref: Ref | None = None) -> Commit:
        """The Commit a ref names, also when gc pruned its state (metadata is kept)."""
        ...

    def changes(self, commit: Ref) -> list[Change]:
        """Every element one commit changed, with old and new values."""
        ...

    def history(self, id: ElementRef, ref: Ref | None = None, *, element: str | None = None,
                    limit: int | None = None, relations: Relations = 'out') -> list[Version]:
        """Every version of one element along ``ref``'s history, newest first."""
        ...

    def blame(self, id: ElementRef, ref: Ref | None = None, *, element: str | None = None,
                  relations: Relations = 'out') -> dict[str, Blame]:
        """For each property of the element's current value, the commit that set it; for an
        entity also each current relation fact (key ``"@relation <id>"``, docs/history.md)."""
        ...

    def diff(self, a: Ref, b: Ref | None = None, *, limit: int | None = None,
             after: str | None = None) -> Diff:
        """What changed from ``a`` to ``b`` (default: the current head). With ``limit``, one
        page: at most ``limit`` changes after the cursor ``after``, and in ``Diff.next`` the
        cursor of the following page (None on the last page)."""
        ...

    def diff_stats(self, a: Ref, b: Ref | None = None) -> CommitStats:
        """How many elements were created, modified and deleted from ``a`` to ``b``, counted
        without reading any value."""
        ...

    def merge_base(self, a: Ref, b: Ref) -> Commit | None:
        """The best common ancestor of two commits (the newest one in criss-cross cases)."""
        ...

    def rollback(self, ref: Ref, *, message: str | None = None, author: str | None = None,
                     branch: str | None = None) -> Commit:
        """A new commit on ``branch`` whose state equals ``ref``'s (history is kept)."""
        ...

    def revert(self, commit: Ref, *, message: str | None = None, author: str | None = None,
                   branch: str | None = None) -> Commit:
        """A new commit undoing one commit; fails (changing nothing) with RevertConflict when
        later commits changed the same properties."""
        ...

    def merge(self, source: Ref, *, into: str | None = None, message: str | None = None,
                  author: str | None = None, strategy: str | None = None,
                  resolutions: Mapping[tuple[str, str, str | None], JSON] | None = None,
                  dry_run: bool = False, metadata: Mapping[str, JSON] | None = None
                  ) -> MergeResult:
        """Merge ``source`` (a branch, tag or commit) into branch ``into`` (default: current);
        ``metadata`` joins the merge commit's (a merge that could fast-forward then writes a
        merge commit)."""
        ...

    def merge_preview(self, source: Ref, *, into: str | None = None,
                          strategy: str | None = None, resolutions: Mapping[tuple[str, str,
                          str | None], JSON] | None = None) -> MergeResult:
        """What :meth:`merge` would do, without writing: status, conflicts, in ``diff``
        the changes ``into`` would see, and in ``violations`` the schema violations that would
        refuse it."""
        ...

    def cherry_pick(self, commit: Ref, *, onto: str | None = None, message: str | None = None,
                        author: str | None = None, strategy: str | None = None,
                        resolutions: Mapping[tuple[str, str, str | None], JSON] | None = None,
                        dry_run: bool = False) -> MergeResult:
        """Apply what one commit changed (against its first parent) to branch ``onto``, as a
        new one-parent commit; same conflict rules as :meth:`merge`. The rows written credit
        the picked commit (see ``Version.origin``)."""
        ...

    def combine(self, refs: list[Ref] | tuple[Ref, ...], *, mode: str = 'union',
                    into: str | None = None, message: str | None = None,
                    author: str | None = None, strategy: str | None = None,
                    resolutions: Mapping[tuple[str, str, str | None], JSON] | None = None,
                    dry_run: bool = False) -> MergeResult:
        """Set-merge of versions: one commit on ``into`` whose entities, relations and
        documents are those present in any (``mode="union"``) or all (``"intersection"``) of
        ``refs``. An element whose content differs between refs is a conflict; resolve with
        ``strategy="first"`` / ``"last"`` (order of ``refs``) or ``resolutions={key: ref}``."""
        ...

    @property
    def current_branch(self) -> str:
        ...

    def create_branch(self, name: str, from_: Ref | None = None, *,
                          author: str | None = None) -> Branch:
        """A new branch at ``from_`` (default: the current head). O(1): nothing is copied."""
        ...

    def branches(self, base: str | None = 'main') -> list[Branch]:
        """All branches with their heads and, when ``base`` exists, commits ahead / behind it."""
        ...

    def delete_branch(self, name: str, *, author: str | None = None) -> None:
        ...

    def checkout(self, name: str) -> None:
        """Make ``name`` the branch that writes go to (stored in the repository, like git's
        HEAD)."""
        ...

    def tag(self, name: str, ref: Ref | None = None, *, message: str | None = None,
                author: str | None = None, force: bool = False) -> Tag:
        """Name a commit; with ``message`` the tag is annotated (message, author, time)."""
        ...

    def tags(self) -> list[Tag]:
        ...

    def delete_tag(self, name: str, *, author: str | None = None) -> None:
        ...

    def reflog(self, name: str | None = None, limit: int = 100) -> list[RefLogEntry]:
        """Movements of a branch or tag (creation, deletion, resets), newest first."""
        ...

    def export(self, path: str | os.PathLike[str], ref: Ref | None = None) -> int:
        """Write a JSON Lines archive of the full history (or of what ``ref`` reaches);
        returns the number of records."""
        ...

    def fsck(self, *, last: int | None = None, repair_indexes: bool = False) -> Any:
        """Verify value hashes, commit ids, state hashes, refs, lines and derived data."""
        ...

    def set_retention(self, branches: str, keep: str | timedelta | int | None = None, *,
                          keep_commits: int | None = None,
                          author: str | None = None) -> Any | None:
        """Keep the last ``keep`` of time ("365d", "12h", "2w", a timedelta) and/or the last
        ``keep_commits`` commits of the branches matching the glob ``branches`` readable;
        :meth:`gc` compacts what is older. Neither argument removes the policy."""
        ...

    def retention(self) -> list[Any]:
        """The retention policies, by pattern."""
        ...

    def horizon(self, branch: str | None = None) -> Commit | None:
        """The oldest commit of ``branch`` whose state the policies keep (None: all of it)."""
        ...

    def gc(self, *, dry_run: bool = False, vacuum: bool = False,
               now: datetime | str | None = None) -> Any:
        """Apply the retention policies: delete rows no readable state needs, mark older
        commits pruned (their metadata stays). Commits reachable from a branch within its
        horizon, tagged commits and states of this handle's open Views stay readable.
        ``vacuum`` (SQLite) gives the freed pages back to the file system afterwards."""
        ...

    def retract(self, source: str, *, message: str | None = None, author: str | None = None,
                metadata: Mapping[str, JSON] | None = None, branch: str | None = None
                ) -> Commit:
        """One commit deleting every element whose current version came from provenance
        ``source`` (entities, relations, documents; an entity's relations go with it, as with
        :meth:`delete_entity`). Older versions stay in history; see :meth:`erase_source` to
        remove them too."""
        ...

    def erase_source(self, source: str, *, reason: str, author: str | None = None,
                     message: str | None = None) -> list[Any]:
        """Erase every stored value that came from provenance ``source``, in every version on
        every line (:meth:`erase` per element, restricted to the rows from that source):
        hashes stay, so commit ids, state hashes and fsck stay valid. One erasure record per
        element, one empty commit on the current branch naming them (docs/provenance.md)."""
        ...

    def erase(self, id: ElementRef, *, reason: str, author: str | None = None,
                  element: str | None = None, message: str | None = None) -> Any:
        """Remove every stored value of one element (GDPR erasure), keeping the hashes, so
        commit ids, state hashes and fsck stay valid; reads return a tombstone
        ``{"@erased": {"by", "at", "reason", "erasure"}}``. Records an empty commit on the
        current branch whose metadata names the erasure."""
        ...

    def erasures(self) -> list[Any]:
        """Every erasure made in this repository, oldest first (the audit record)."""
        ...

    def backup(self, dest: str | os.PathLike[str], *, format: str | None = None,
                   verify: bool = True) -> Any:
        """A consistent online copy at the new path ``dest``: a SQLite file (SQLite online
        backup API) or, with ``format="archive"`` and on PostgreSQL, a JSON Lines archive.
        ``verify`` runs fsck on the copy. Restore with :func:`palimpsest.restore`."""
        ...

    @property
    def kv(self) -> KeyValue:
        """The key-value state of the current branch (``repo.kv.on("b")`` for another)."""
        ...

    def watch(self, branch: str | None = None, *, since: Ref | int | None = None,
                  timeout: float | None = None, interval: float = 0.02) -> Any:
        """Each commit that becomes reachable from ``branch`` (default: current), from any
        process, once, after its parents: new commits and those a merge brings in. ``since``
        (a commit or ref, or 0 for the beginning) first replays those not reachable from it.
        Iterate it, or ``async for`` it; close it (or use ``with``) to stop."""
        ...

    def create_index(self, type: str | None = None, field: str | None = None, *,
                         collection: str | None = None) -> Any:
        """Declare an index on ``field`` of entity ``type`` (``create_index("Person",
        "email")``) or of a ``collection`` of documents; equality and range queries on it
        then use the index, at the head and in the past. Idempotent."""
        ...

    def drop_index(self, type: str | None = None, field: str | None = None, *,
                       collection: str | None = None) -> None:
        ...

    def indexes(self) -> list[Any]:
        """The declared indexes."""
        ...

    def create_text_index(self, type_or_collection: str, fields: Sequence[str], *,
                          kind: str | None = None) -> TextIndex:
        """Declare a full-text index on ``fields`` (property names; dotted paths reach
        inside objects) of an entity type or collection and index every stored version;
        ``View.search`` then finds them at any commit and branch. Idempotent; ``kind``
        (``"entity"`` / ``"document"``) settles a name used for both or not used yet."""
        ...

    def drop_text_index(self, type_or_collection: str, *, kind: str | None = None) -> None:
        ...

    def text_indexes(self) -> list[TextIndex]:
        """The declared full-text indexes."""
        ...

    def create_vector_index(self, type_or_collection: str, property: str = "embedding", *,
                            dimensions: int, metric: str = "cosine",
                            kind: str | None = None) -> VectorIndex:
        """Declare that ``property`` holds vectors (JSON arrays of ``dimensions`` numbers,
        compared by ``metric``: ``"cosine"``, ``"l2"`` or ``"dot"``); every later write is
        checked and ``View.similar`` finds nearest elements at any commit. Idempotent."""
        ...

    def drop_vector_index(self, type_or_collection: str, property: str = "embedding", *,
                          kind: str | None = None) -> None:
        ...

    def vector_indexes(self) -> list[VectorIndex]:
        """The declared vector indexes."""
        ...

    def similar_at(self, vector: Sequence[float], ref: Ref | None = None, *, k: int = 10,
                   type: str | None = None, property: str | None = None,
                   where: Any = None) -> list[SimilarHit]:
        """``repo.at(ref).similar(vector, k=k, ...)``: nearest elements at a branch, tag,
        commit or time (``"2026-01-01"``)."""
        ...

    def create_view(self, name: str, collection_or_type: str, query: object = None, *,
                        kind: str | None = None) -> Any:
        """Declare a materialized view: the elements of a collection / entity type matching
        ``query`` (a Filter, or ``{"where", "select", "order_by"}``). Read it with
        ``repo.at(ref).materialized(name)`` at any commit; it is kept current as commits
        land (the work is done on the next read, or by :meth:`refresh_views`)."""
        ...

    def drop_view(self, name: str) -> None:
        ...

    def views(self) -> list[Any]:
        """The declared materialized views."""
        ...

    def refresh_views(self, name: str | None = None) -> int:
        """Bring materialized views up to the newest commit now; returns rows written."""
        ...

    def copy_to(self, target: str | os.PathLike[str], *, verify: bool = True) -> Any:
        """Copy this repository — full history, branches, tags, reflog — into a new, empty
        repository at ``target`` (a SQLite path or a ``postgresql://`` URL), keeping every seq,
        commit id and state hash. The copy lands whole or not at all; with ``verify`` the
        destination is fsck'ed before it commits."""
        ...

    @property
    def remotes(self) -> Any:
        """The repositories this one syncs with: ``remotes.add(name, url, token=None)``,
        ``remotes.remove(name)``, ``remotes.list()`` (docs/sync.md)."""
        ...

    def fetch(self, remote: str = "origin", *, progress: Any = None) -> Any:
        """Bring the commits of ``remote``'s branches this repository lacks (negotiated by
        commit id, verified before any ref moves) and set the remote-tracking branches
        ``remote/NAME``. Returns a SyncReport."""
        ...

    def pull(self, remote: str = "origin", branch: str | None = None, *,
             into: str | None = None, message: str | None = None, author: str | None = None,
             strategy: str | None = None, progress: Any = None) -> Any:
        """Fetch ``remote``, then merge ``remote/branch`` into ``into`` (default: the current
        branch, and ``branch`` defaults to its name): a fast-forward or a three-way merge,
        conflicts returned as values. Returns a MergeResult."""
        ...

    def push(self, remote: str = "origin", branch: str | None = None, *, force: bool = False,
             progress: Any = None) -> Any:
        """Send ``branch`` (default: the current one) to ``remote``'s branch of that name;
        refuses a non-fast-forward (NonFastForward) unless ``force``. Returns a SyncReport."""
        ...

class View(Protocol):
    """Read-only access to the state at :attr:`commit` (None: the empty state)."""

    @property
    def chain(self) -> Any:
        """The (line, seq) chain this view reads (see docs/architecture.md)."""
        ...

    def valid_at(self, when: datetime | str) -> View:
        """This state narrowed to the entities and relations valid at ``when`` (valid time:
        when a fact holds in the world, beside the commit's transaction time). Elements
        without an interval are always valid; documents and kv entries have none."""
        ...

    def valid_between(self, start: datetime | str, end: datetime | str) -> View:
        """This state narrowed to the entities and relations valid at some time in
        ``[start, end)`` (their interval overlaps it)."""
        ...

    @property
    def valid_window(self) -> tuple[datetime, datetime] | None:
        """The valid-time window ``[start, end)`` this view is narrowed to (None: none;
        ``valid_at(t)`` is ``[t, t + 1µs)``)."""
        ...

    def entity(self, id: str) -> Entity | None:
        """The entity with this id, or None."""
        ...

    def get_entity(self, id: str) -> Entity:
        """Like :meth:`entity` but raises :class:`palimpsest.NotFound` when missing."""
        ...

    def entities(self, type: str | None = None, where: Mapping[str, JSON] | None = None, *,
                     limit: int | None = None, offset: int = 0,
                     source: str | None = None) -> Iterator[Entity]:
        """Entities in id order, optionally of one type, with property values equal to
        ``where``, and whose current version came from provenance ``source``
        (docs/provenance.md)."""
        ...

    def count(self, type: str | None = None) -> int:
        """Number of entities (of one type) in this state, counted in SQL."""
        ...

    def relation(self, id: str) -> Relation | None:
        ...

    def relations(self, type: str | None = None, source: str | None = None,
                      target: str | None = None) -> Iterator[Relation]:
        """Relations, optionally filtered by type, source and target."""
        ...

    def count_relations(self, type: str | None = None) -> int:
        ...

    def neighbors(self, id: str, depth: int = 1, rel_type: str | None = None,
                      direction: Direction = 'both') -> list[Entity]:
        """Entities reachable from ``id`` within ``depth`` relations, nearest first."""
        ...

    def document(self, collection: str, key: str) -> Document | None:
        ...

    def documents(self, collection: str, *, limit: int | None = None,
                      offset: int = 0) -> Iterator[Document]:
        ...

    def collections(self) -> list[str]:
        ...

    def query(self, collection_or_type: str, where: Any = None, *, select: Any = None,
                  order_by: Any = None, limit: int | None = None, offset: int = 0,
                  kind: str | None = None) -> list[Document | Entity]:
        """Documents of a collection (or entities of a type) matching ``where`` (a Filter
        such as ``F("age") > 30``, or its dict form), sorted by ``order_by`` (``"-age"`` for
        descending; default: by key), paged by ``limit`` / ``offset``; ``select`` keeps only
        the named fields. Runs in SQL at this view's commit; raises QueryError on a bad query
        or an unknown collection (``kind="document"`` / ``"entity"`` settles a name used for
        both)."""
        ...

    def aggregate(self, collection_or_type: str, aggregates: Any = None, *, where: Any = None,
                      group_by: str | list[str] | None = None,
                      kind: str | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        """Aggregates (``{"n": Agg.count(), "total": Agg.sum("amount")}``; default: count)
        over the matching elements: one dict, or with ``group_by`` one dict per group."""
        ...

    def materialized(self, name: str, *, where: Any = None, order_by: Any = None,
                         limit: int | None = None, offset: int = 0) -> list[Document | Entity]:
        """The members of materialized view ``name`` (``Repository.create_view``) at this
        view's commit."""
        ...

    def search(self, query: str, *, type: str | None = None, kind: str | None = None,
               where: Any = None, limit: int | None = 10, offset: int = 0) -> list[SearchHit]:
        """Full-text search at this view's commit: the elements whose indexed fields
        (``Repository.create_text_index``) hold every word, ``"quoted phrase"`` and
        ``prefix*`` of ``query``, best first, with highlights. ``type`` picks one index
        (default: all), ``where`` filters as in :meth:`query`."""
        ...

    def similar(self, vector: Sequence[float], k: int = 10, *, type: str | None = None,
                property: str | None = None, kind: str | None = None, where: Any = None,
                exact: bool = False) -> list[SimilarHit]:
        """The ``k`` elements whose declared vector property
        (``Repository.create_vector_index``) is nearest to ``vector`` at this view's commit,
        nearest first. At a branch head without ``where`` an approximate index answers;
        in the past, with ``where`` or with ``exact=True``, an exact scan."""
        ...

    @property
    def kv(self) -> KeyValue:
        """The key-value state at this commit (read-only)."""
        ...

    def sparql(self, text: str, *, prefixes: Mapping[str, str] | None = None,
               timeout: float | None = None) -> Any:
        """Answer a SPARQL SELECT (``Solutions``: rows of pyoxigraph terms) or ASK (bool) over
        the graph ``export`` writes as RDF at this commit, compiled to one SQL query
        (docs/sparql.md)."""
        ...

    def sparql_explain(self, text: str, *, prefixes: Mapping[str, str] | None = None) -> str:
        """The SQL that :meth:`sparql` runs for this query."""
        ...

    def cypher(self, text: str, params: Mapping[str, Any] | None = None, *,
               timeout: float | None = None) -> CypherResult:
        """Answer an openCypher read query (``MATCH ... RETURN``) over the graph at this
        commit, compiled to one SQL query (docs/cypher.md): labels are entity types,
        relationship types relation types, ``id(n)`` the palimpsest id; ``$name`` reads
        ``params``."""
        ...

    def cypher_explain(self, text: str, params: Mapping[str, Any] | None = None) -> str:
        """The SQL that :meth:`cypher` runs for this query."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The whole state as one JSON object: ``entities`` and ``relations`` by id,
        ``documents`` by collection then key, and ``kv`` (key-value entries: key → value as
        base64 text). ``Repository.diff(a, b).to_json_patch()`` turns ``a``'s into ``b``'s
        exactly."""
        ...

class Transaction(Protocol):
    """One commit in the making; use it as a context manager from
:meth:`Repository.transaction`. After the block, :attr:`commit` is the commit written."""

    def entity(self, id: str) -> Entity | None:
        ...

    def relation(self, id: str) -> Relation | None:
        ...

    def document(self, collection: str, key: str) -> Document | None:
        ...

    def relations(self, type: str | None = None, source: str | None = None,
                      target: str | None = None) -> list[Relation]:
        """Relations (of one type, from ``source``, to ``target``), including this
        transaction's, by id."""
        ...

    def entities(self, type: str | None = None, where: Mapping[str,
                     JSON] | None = None) -> Iterator[Entity]:
        """Entities (of one type, with property values equal to ``where``) at the
        transaction's base with its own writes applied, by id."""
        ...

    def count(self, type: str | None = None) -> int:
        """Number of entities (of one type), this transaction's writes included."""
        ...

    def count_relations(self, type: str | None = None) -> int:
        ...

    def neighbors(self, id: str, depth: int = 1, rel_type: str | None = None,
                      direction: Direction = 'both') -> list[Entity]:
        """Entities reachable from ``id`` within ``depth`` relations, nearest first (like
        :meth:`View.neighbors`), this transaction's writes included."""
        ...

    def documents(self, collection: str, *, limit: int | None = None,
                      offset: int = 0) -> list[Document]:
        """The documents of ``collection`` by key, this transaction's writes included."""
        ...

    def query(self, collection_or_type: str, where: Any = None, *, select: Any = None,
                  order_by: Any = None, limit: int | None = None, offset: int = 0,
                  kind: str | None = None) -> list[Document | Entity]:
        """Like :meth:`View.query` at the transaction's base state; the collection (or entity
        type) joins the read set. Refused after this transaction wrote to it."""
        ...

    def aggregate(self, collection_or_type: str, aggregates: Any = None, *, where: Any = None,
                      group_by: str | list[str] | None = None,
                      kind: str | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        """Like :meth:`View.aggregate` at the transaction's base state (see :meth:`query`)."""
        ...

    @property
    def kv(self) -> Any:
        """The key-value state inside this transaction: reads see its writes and join its
        read set; ``set`` / ``delete`` become part of its commit."""
        ...

    def provenance(self, **fields: JSON) -> AbstractContextManager[None]:
        """Give every write inside the ``with`` block this provenance record (``source=``,
        ``extractor=``, ...); a write's own ``provenance=`` fields are laid over it."""
        ...

    def put_entity(self, id: str, type: str, props: Mapping[str, JSON] | None = None, *,
                   valid_from: datetime | str | None = None,
                   valid_to: datetime | str | None = None,
                   provenance: Mapping[str, JSON] | None = None) -> Entity:
        """Create or replace an entity (type, all properties and its valid-time interval
        ``[valid_from, valid_to)``, None for an open end; docs/valid-time.md); ``provenance``
        says where it came from (docs/provenance.md)."""
        ...

    def update_entity(self, id: str, props: Mapping[str, JSON] | None = None, *,
                      type: str | None = None, valid_from: datetime | str | None = None,
                      valid_to: datetime | str | None = None,
                      provenance: Mapping[str, JSON] | None = None) -> Entity:
        """Patch an entity's properties: given keys are set, keys given as None removed.
        ``valid_from`` / ``valid_to`` replace an end of its valid-time interval (None keeps
        it, ``"open"`` opens it)."""
        ...

    def delete_entity(self, id: str, *, provenance: Mapping[str, JSON] | None = None) -> None:
        """Delete an entity and every relation that starts or ends at it."""
        ...

    def delete_entities(self, ids: Iterable[str]) -> None:
        """Delete many entities and their relations, like :meth:`delete_entity` on each, but
        with one batched lookup of their relations (a versioned import deletes thousands;
        ``delete_entity`` queries the stored relations once per entity)."""
        ...

    def put_relation(self, id: str, type: str, source: str, target: str,
                     props: Mapping[str, JSON] | None = None, *,
                     valid_from: datetime | str | None = None,
                     valid_to: datetime | str | None = None,
                     provenance: Mapping[str, JSON] | None = None) -> Relation:
        """Create or replace a relation; both endpoints must exist (``valid_from`` /
        ``valid_to``: its valid-time interval)."""
        ...

    def put_entities(self, entities: Iterable[tuple[str, str, Mapping[str,
                         JSON] | None]]) -> int:
        """Bulk :meth:`put_entity` of ``(id, type, props)`` tuples; returns how many."""
        ...

    def put_relations(self, relations: Iterable[tuple[str, str, str, str, Mapping[str,
                          JSON] | None]]) -> int:
        """Bulk :meth:`put_relation` of ``(id, type, source, target, props)`` tuples; endpoint
        checks are batched. Returns how many."""
        ...

    def update_relation(self, id: str, props: Mapping[str, JSON] | None = None, *,
                        valid_from: datetime | str | None = None,
                        valid_to: datetime | str | None = None,
                        provenance: Mapping[str, JSON] | None = None) -> Relation:
        """Patch a relation's properties (None removes a property) and the ends of its
        valid-time interval (as :meth:`update_entity`)."""
        ...

    def delete_relation(self, id: str, *, provenance: Mapping[str, JSON] | None = None) -> None:
        ...

    def put_document(self, collection: str, key: str, value: JSON, *,
                     provenance: Mapping[str, JSON] | None = None) -> Document:
        """Create or replace the JSON document ``key`` in ``collection``."""
        ...

    def delete_document(self, collection: str, key: str, *,
                        provenance: Mapping[str, JSON] | None = None) -> None:
        ...

    def write_raw(self, write: Any) -> None:
        """Queue a prepared row write (used by rollback, revert, merge and the kv API)."""
        ...

class KeyValue(Protocol):
    """The key-value state of one branch (``repo.kv``), or of one past state (``view.kv``,
read-only)."""

    @property
    def read_only(self) -> bool:
        ...

    def on(self, branch: str) -> KeyValue:
        """The same API on another branch."""
        ...

    def get(self, key: str) -> Entry | None:
        """The entry at ``key``, or None."""
        ...

    def get_json(self, key: str, default: JSON = None) -> JSON:
        """The value at ``key`` decoded as JSON (``default`` when missing)."""
        ...

    def exists(self, key: str) -> bool:
        ...

    def version(self, key: str) -> int:
        """The key's version: 0 when missing, 1 after creation, +1 per write."""
        ...

    def list(self, prefix: str = '/', *, limit: int | None = None,
                 start_after: str | None = None) -> builtins.list[Entry]:
        """Entries whose key starts with ``prefix``, in key order; page with ``limit`` and
        ``start_after`` (the last key of the previous page)."""
        ...

    def keys(self, prefix: str = '/', *, limit: int | None = None,
                 start_after: str | None = None) -> builtins.list[str]:
        ...

    def count(self, prefix: str = '/') -> int:
        ...

    def set(self, key: str, value: bytes, *, message: str | None = None,
                author: str | None = None, metadata: Mapping[str,
                JSON] | None = None) -> Entry:
        """Write ``value`` at ``key`` (one commit); returns the new entry."""
        ...

    def set_json(self, key: str, value: JSON, **kwargs: Any) -> Entry:
        """Write a JSON value (canonical encoding) at ``key``."""
        ...

    def set_many(self, items: Mapping[str, bytes], *, message: str | None = None,
                 author: str | None = None, metadata: Mapping[str, JSON] | None = None
                 ) -> builtins.list[Entry]:
        """Write every ``key: value`` of ``items`` in one commit (rows read and written in
        batches): the new entries, in the order given; no commit when ``items`` is empty."""
        ...

    def compare_and_set(self, key: str, expected_version: int, value: bytes, *,
                            message: str | None = None, author: str | None = None,
                            metadata: Mapping[str, JSON] | None = None) -> Entry:
        """Write ``value`` only if ``key`` is at ``expected_version`` (0: missing); otherwise
        raise VersionConflict(key, expected, found) and change nothing."""
        ...

    def create_if_not_exists(self, key: str, value: bytes, *, message: str | None = None,
                                 author: str | None = None, metadata: Mapping[str,
                                 JSON] | None = None) -> Entry:
        """Create ``key``; raise VersionConflict (expected 0) if it exists."""
        ...

    def delete(self, key: str, *, expected_version: int | None = None,
                   message: str | None = None, author: str | None = None,
                   metadata: Mapping[str, JSON] | None = None) -> bool:
        """Delete ``key`` (one commit); False (and no commit) when it was missing. With
        ``expected_version``, raise VersionConflict unless the key is at that version."""
        ...

    def transaction(self, ops: Sequence[Any], *, message: str | None = None,
                        author: str | None = None, metadata: Mapping[str,
                        JSON] | None = None) -> Commit | None:
        """Check every ``check_*`` op against the current state, then apply every ``op_*`` in
        one commit; if a check fails, raise VersionConflict naming it and change nothing.
        Returns the commit (None when the ops changed nothing)."""
        ...

    def watch(self, pattern: str, *, since: Any = None, timeout: float | None = None,
                  interval: float = 0.02) -> Any:
        """Events (:class:`palimpsest.KVEvent`) for every commit on this branch that
        touches a key matching ``pattern`` (``/a/b`` exact, ``/a/*`` every key under
        ``/a/``), in commit order; see :class:`palimpsest.watch.Watch`. ``since`` (a commit,
        ref or ``0`` for the beginning) replays the commits after it first."""
        ...

