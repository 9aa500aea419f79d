"""A Python client for ``palimpsest serve``, with the Repository / View interface of the
embedded API for the common operations, so code moves from embedded to shared unchanged::

    repo = palimpsest.connect("http://kg.example:8000", token="pal_...")
    with repo.transaction(message="Import") as tx:
        tx.put_entity("users", type="Endpoint", props={"path": "GET /users"})
    repo.head().entity("users")

Both implement the Protocols of :mod:`palimpsest.api` (``tests/test_contract.py`` lists what is
embedded-only and why). Differences: a remote transaction buffers its writes and sends them as
one request when the block ends, with what it read (reads inside it see its writes and are
checked at commit, like the embedded one's); the commit's author is the token's user. Errors are the same classes, rebuilt from the
server's ``error.code``. Needs ``httpx`` (the ``server`` extra).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .. import errors, wire
from ..codec import check_document, check_name, check_props
from ..errors import InvalidValue, NotFound
from ..query.engine import Query
from ..types import (
    JSON,
    Blame,
    Branch,
    Change,
    Commit,
    CommitStats,
    Erasure,
    IndexInfo,
    RefLogEntry,
    Relations,
    RetentionPolicy,
    Schema,
    ShaclReport,
    SimilarHit,
    Tag,
    TextIndex,
    VectorIndex,
    Version,
    ViewInfo,
)
from ..versioning.diff import Diff
from ..versioning.merge import MergeResult
from .http import (
    Ref,
    _options,
    _p,
    _ref,
    _resolutions,
    _settled,
    _with,
    error_from,
    interval_body,
)
from .kv import RemoteKV
from .transaction import RemoteTransaction
from .view import RemoteView


class RemoteRepository:
    """A repository served by ``palimpsest serve``; see :func:`palimpsest.connect`."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30.0,
                 http_client: Any = None) -> None:
        import httpx

        self._url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._own = http_client is None
        self._http: Any = http_client if http_client is not None else httpx.Client(
            base_url=self._url, timeout=timeout)
        self._headers = headers

    def __repr__(self) -> str:
        return f"<RemoteRepository {self.url}>"

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self._url

    def __enter__(self) -> RemoteRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own:
            self._http.close()

    # -- transport -----------------------------------------------------------------------
    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              json: Any = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._http.request(method, self.url + path,
                                      params=clean, json=json, headers=self._headers)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            raise error_from(response.status_code, body)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None) -> Any:
        """One API request: the decoded JSON answer (None when empty); an error answer raises
        its PalimpsestError (see :func:`error_from`)."""
        return self._call(method, path, params=params, json=json)

    def request_bytes(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      content: bytes | None = None,
                      headers: Mapping[str, str] | None = None) -> tuple[str, bytes]:
        """One request with a raw body and answer (``/sparql``): the answer's media type and
        bytes; an error answer raises its PalimpsestError."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._http.request(method, self.url + path, params=clean, content=content,
                                      headers={**self._headers, **(headers or {})})
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            raise error_from(response.status_code, body)
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        return kind, response.content

    def events(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The JSON payloads of the server-sent event stream at ``path``, one per event."""
        return self._events(path, params, {})

    def info(self) -> dict[str, Any]:
        """Server version, current branch, the caller and the server's features."""
        result: dict[str, Any] = self._call("GET", "/api")
        return result

    @property
    def current_branch(self) -> str:
        return str(self.info()["current_branch"])

    # -- writing -------------------------------------------------------------------------
    def transaction(self, message: str = "", *, author: str | None = None,
                    metadata: Mapping[str, JSON] | None = None,
                    timestamp: datetime | str | None = None,
                    branch: str | None = None) -> RemoteTransaction:
        """Buffer writes in a ``with`` block; a clean exit sends them as one commit."""
        options = _options(message, author, metadata, timestamp, branch)
        return RemoteTransaction(
            lambda: self.at(branch),
            lambda body: self._write("POST", "/api/transaction", options | body))

    def run_transaction(self, fn: Callable[[RemoteTransaction], object], message: str = "", *,
                        retries: int = 5, author: str | None = None,
                        metadata: Mapping[str, JSON] | None = None,
                        timestamp: datetime | str | None = None,
                        branch: str | None = None) -> Commit:
        """Run ``fn(tx)`` in a transaction and commit; on ConcurrentCommit run it again on
        the new head, up to ``retries`` times. Returns the commit (the head when nothing
        changed)."""
        for attempt in range(retries + 1):
            try:
                with self.transaction(message, author=author, metadata=metadata,
                                      timestamp=timestamp, branch=branch) as tx:
                    fn(tx)
            except errors.ConcurrentCommit:
                if attempt == retries:
                    raise
                continue
            return tx.commit if tx.commit is not None else self.resolve(branch)
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, method: str, path: str, body: dict[str, Any]) -> Commit:
        return wire.decode(Commit, self._call(method, path, json=body))

    def put_entity(self, id: str, type: str, props: Mapping[str, JSON] | None = None, *,
                   message: str | None = None, author: str | None = None,
                   metadata: Mapping[str, JSON] | None = None,
                   timestamp: datetime | str | None = None, branch: str | None = None,
                   valid_from: datetime | str | None = None,
                   valid_to: datetime | str | None = None,
                   provenance: Mapping[str, JSON] | None = None) -> Commit:
        check_name(id, "entity id")
        check_name(type, f"type of entity {id!r}")
        values = check_props(props, f"properties of entity {id!r}")
        body = _options(message, author, metadata, timestamp, branch, provenance)
        return self._write("PUT", f"/api/entities/{_p(id)}",
                           body | {"type": type, "props": values,
                                   **interval_body(valid_from, valid_to, f"entity {id!r}")})

    def update_entity(self, id: str, props: Mapping[str, JSON] | None = None, *,
                      type: str | None = None, message: str | None = None,
                      author: str | None = None, metadata: Mapping[str, JSON] | None = None,
                      timestamp: datetime | str | None = None,
                      branch: str | None = None, valid_from: datetime | str | None = None,
                      valid_to: datetime | str | None = None,
                      provenance: Mapping[str, JSON] | None = None) -> Commit:
        check_name(id, "entity id")
        values = check_props(props, f"properties of entity {id!r}")
        body = _options(message, author, metadata, timestamp, branch, provenance)
        return self._write("PATCH", f"/api/entities/{_p(id)}",
                           body | {"props": values, "type": type,
                                   **interval_body(valid_from, valid_to, None)})

    def delete_entity(self, id: str, *, message: str | None = None,
                      author: str | None = None, metadata: Mapping[str, JSON] | None = None,
                      timestamp: datetime | str | None = None,
                      branch: str | None = None,
                      provenance: Mapping[str, JSON] | None = None) -> Commit:
        body = _options(message or f"Delete entity {id}", author, metadata, timestamp,
                        branch)
        return self._write("POST", "/api/transaction", body | {"ops": [
            _with({"op": "delete_entity", "id": id}, provenance)]})

    def put_relation(self, id: str, type: str, source: str, target: str,
                     props: Mapping[str, JSON] | None = None, *, message: str | None = None,
                     author: str | None = None, metadata: Mapping[str, JSON] | None = None,
                     timestamp: datetime | str | None = None,
                     branch: str | None = None, valid_from: datetime | str | None = None,
                     valid_to: datetime | str | None = None,
                     provenance: Mapping[str, JSON] | None = None) -> Commit:
        for name, what in ((id, "relation id"), (type, f"type of relation {id!r}"),
                           (source, f"source of relation {id!r}"),
                           (target, f"target of relation {id!r}")):
            check_name(name, what)
        values = check_props(props, f"properties of relation {id!r}")
        body = _options(message, author, metadata, timestamp, branch, provenance)
        return self._write("PUT", f"/api/relations/{_p(id)}", body | {
            "type": type, "source": source, "target": target, "props": values,
            **interval_body(valid_from, valid_to, f"relation {id!r}")})

    def delete_relation(self, id: str, *, message: str | None = None,
                        author: str | None = None, metadata: Mapping[str, JSON] | None = None,
                        timestamp: datetime | str | None = None,
                        branch: str | None = None,
                        provenance: Mapping[str, JSON] | None = None) -> Commit:
        body = _options(message or f"Delete relation {id}", author, metadata, timestamp,
                        branch)
        return self._write("POST", "/api/transaction", body | {"ops": [
            _with({"op": "delete_relation", "id": id}, provenance)]})

    def put_document(self, collection: str, key: str, value: JSON, *,
                     message: str | None = None, author: str | None = None,
                     metadata: Mapping[str, JSON] | None = None,
                     timestamp: datetime | str | None = None,
                     branch: str | None = None,
                     provenance: Mapping[str, JSON] | None = None) -> Commit:
        check_name(collection, "collection")
        check_name(key, f"document key in {collection!r}")
        check_document(value, f"document {collection}/{key}")
        body = _options(message, author, metadata, timestamp, branch, provenance)
        return self._write("PUT", f"/api/documents/{_p(collection)}/{_p(key)}",
                           body | {"value": value})

    def delete_document(self, collection: str, key: str, *, message: str | None = None,
                        author: str | None = None, metadata: Mapping[str, JSON] | None = None,
                        timestamp: datetime | str | None = None,
                        branch: str | None = None,
                        provenance: Mapping[str, JSON] | None = None) -> Commit:
        body = _options(message or f"Delete document {collection}/{key}", author,
                        metadata, timestamp, branch)
        return self._write("POST", "/api/transaction", body | {"ops": [_with(
            {"op": "delete_document", "collection": collection, "key": key}, provenance)]})

    # -- schemas ---------------------------------------------------------------------------
    def set_schema(self, target: str, json_schema: JSON = None, *, kind: str = "entity",
                   source_types: Sequence[str] | None = None,
                   target_types: Sequence[str] | None = None,
                   max_per_source: int | None = None, unique: Sequence[str] = (),
                   message: str | None = None, author: str | None = None,
                   branch: str | None = None) -> Commit:
        check_name(target, "schema target")
        body = _options(message, author, None, None, branch) | {
            "json_schema": json_schema, "unique": list(unique),
            "source_types": list(source_types) if source_types is not None else None,
            "target_types": list(target_types) if target_types is not None else None,
            "max_per_source": max_per_source}
        return self._write("PUT", f"/api/schemas/{_p(kind)}/{_p(target)}", body)

    def schema(self, target: str, *, kind: str = "entity", ref: Ref | None = None
               ) -> Schema | None:
        try:
            found = self._call("GET", f"/api/schemas/{_p(kind)}/{_p(target)}",
                               params={"ref": _ref(ref)})
        except NotFound:
            return None
        return wire.decode(Schema, found)

    def schemas(self, ref: Ref | None = None) -> list[Schema]:
        return [wire.decode(Schema, s)
                for s in self._call("GET", "/api/schemas", params={"ref": _ref(ref)})]

    def drop_schema(self, target: str, *, kind: str = "entity", message: str | None = None,
                    author: str | None = None, branch: str | None = None) -> Commit:
        params = {"message": message, "author": author, "branch": branch}
        return wire.decode(Commit, self._call("DELETE", f"/api/schemas/{_p(kind)}/{_p(target)}",
                                              params=params))

    # -- reading -------------------------------------------------------------------------
    def sparql(self, text: str, ref: Ref | None = None, **options: Any) -> Any:
        """SPARQL SELECT / ASK at ``ref`` (default: the current branch): ``View.sparql``."""
        return self.at(ref).sparql(text, **options)

    def validate_shacl(self, shapes: str | bytes | os.PathLike[str], *, ref: Ref | None = None,
                       format: str | None = None,
                       prefixes: Mapping[str, str] | None = None) -> ShaclReport:
        """Validate a version's RDF graph against SHACL shapes on the server."""
        if isinstance(shapes, os.PathLike):
            shapes = Path(shapes).read_bytes()
        text = shapes.decode() if isinstance(shapes, bytes) else shapes
        return wire.decode(ShaclReport, self._call("POST", "/api/shacl", json={
            "shapes": text, "format": format, "ref": _ref(ref),
            "prefixes": dict(prefixes) if prefixes else None}))

    def resolve(self, ref: Ref | None = None) -> Commit:
        """The commit a ref names; raises RefNotFound."""
        name = _ref(ref)
        if name is None:
            name = self.current_branch
        return wire.decode(Commit, self._call("GET", f"/api/commits/{_p(name)}"))

    def commit(self, ref: Ref | None = None) -> Commit:
        return self.resolve(ref)

    def head(self) -> RemoteView:
        return self.at(None)

    def at(self, ref: Ref | None) -> RemoteView:
        """The state at a ref, pinned to the commit the ref names now."""
        name = _ref(ref) or self.current_branch
        try:
            commit: Commit | None = self.resolve(name)
        except errors.RefNotFound:
            branches = {b.name for b in self.branches(None)}
            if name not in branches:
                raise
            commit = None  # a branch without commits: the empty state
        return RemoteView(self, commit)

    def similar_at(self, vector: Sequence[float], ref: Ref | None = None, *, k: int = 10,
                   type: str | None = None, property: str | None = None,
                   where: Any = None) -> list[SimilarHit]:
        """``repo.at(ref).similar(vector, k=k, ...)``."""
        return self.at(ref).similar(vector, k, type=type, property=property, where=where)

    # -- history -------------------------------------------------------------------------
    def log(self, ref: Ref | None = None, limit: int | None = 50, *, author: str | None = None,
            since: datetime | str | None = None, until: datetime | str | None = None,
            touching: str | None = None, first_parent: bool = False,
            relations: Relations = "out") -> list[Commit]:
        rows = self._call("GET", "/api/log", params={
            "ref": _ref(ref), "limit": limit if limit is not None else 10_000,
            "author": author, "since": _ref(since), "until": _ref(until),
            "touching": touching, "first_parent": first_parent or None,
            "relations": relations})
        return [wire.decode(Commit, r) for r in rows]

    def changes(self, commit: Ref) -> list[Change]:
        return [wire.decode(Change, c) for c in self._call("GET", f"/api/changes/{_p(_ref(commit) or '')}")]

    def _element_params(self, id: str | tuple[str, str], ref: Ref | None,
                        element: str | None) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"ref": _ref(ref), "element": element}
        if isinstance(id, tuple):
            params["collection"], key = id
            return key, params
        return id, params

    def history(self, id: str | tuple[str, str], ref: Ref | None = None, *,
                element: str | None = None, limit: int | None = None,
                relations: Relations = "out") -> list[Version]:
        key, params = self._element_params(id, ref, element)
        rows = self._call("GET", f"/api/history/{_p(key)}",
                          params=params | {"limit": limit, "relations": relations})
        return [wire.decode(Version, r) for r in rows]

    def blame(self, id: str | tuple[str, str], ref: Ref | None = None, *,
              element: str | None = None, relations: Relations = "out") -> dict[str, Blame]:
        key, params = self._element_params(id, ref, element)
        rows = self._call("GET", f"/api/blame/{_p(key)}",
                          params=params | {"relations": relations})
        return {name: wire.decode(Blame, b) for name, b in rows.items()}

    def diff(self, a: Ref, b: Ref | None = None, *, limit: int | None = None,
             after: str | None = None) -> Diff:
        return wire.decode(Diff, self._call("GET", "/api/diff", params={
            "a": _ref(a), "b": _ref(b), "limit": limit, "after": after}))

    def diff_stats(self, a: Ref, b: Ref | None = None) -> CommitStats:
        return wire.decode(CommitStats, self._call("GET", "/api/diff/stats",
                                                   params={"a": _ref(a), "b": _ref(b)}))

    def json_patch(self, a: Ref, b: Ref | None = None) -> list[dict[str, Any]]:
        """The RFC 6902 patch from ``a`` to ``b``, computed by the server."""
        result: list[dict[str, Any]] = self._call("GET", "/api/diff", params={
            "a": _ref(a), "b": _ref(b), "format": "json-patch"})
        return result

    def merge_base(self, a: Ref, b: Ref) -> Commit | None:
        data = self._call("GET", "/api/merge-base", params={"a": _ref(a), "b": _ref(b)})
        return wire.decode(Commit, data) if data else None

    # -- restore -------------------------------------------------------------------------
    def rollback(self, ref: Ref, *, message: str | None = None, author: str | None = None,
                 branch: str | None = None) -> Commit:
        return self._write("POST", "/api/rollback", {"ref": _ref(ref), "message": message,
                                                     "branch": branch})

    def revert(self, commit: Ref, *, message: str | None = None, author: str | None = None,
               branch: str | None = None) -> Commit:
        return self._write("POST", "/api/revert", {"commit": _ref(commit), "message": message,
                                                   "branch": branch})

    # -- branches and tags ---------------------------------------------------------------
    def branches(self, base: str | None = "main") -> list[Branch]:
        rows = self._call("GET", "/api/branches", params={"base": base or ""})
        return [wire.decode(Branch, r) for r in rows]

    def create_branch(self, name: str, from_: Ref | None = None, *,
                      author: str | None = None) -> Branch:
        return wire.decode(Branch, self._call("POST", "/api/branches",
                                              json={"name": name, "from": _ref(from_)}))

    def delete_branch(self, name: str, *, author: str | None = None) -> None:
        self._call("DELETE", f"/api/branches/{_p(name)}")

    def checkout(self, name: str) -> None:
        self._call("POST", "/api/checkout", json={"name": name})

    def tag(self, name: str, ref: Ref | None = None, *, message: str | None = None,
            author: str | None = None, force: bool = False) -> Tag:
        return wire.decode(Tag, self._call("POST", "/api/tags", json={
            "name": name, "ref": _ref(ref), "message": message, "force": force}))

    def tags(self) -> list[Tag]:
        return [wire.decode(Tag, t) for t in self._call("GET", "/api/tags")]

    def delete_tag(self, name: str, *, author: str | None = None) -> None:
        self._call("DELETE", f"/api/tags/{_p(name)}")

    # -- merge ---------------------------------------------------------------------------
    def merge(self, source: Ref, *, into: str | None = None, message: str | None = None,
              author: str | None = None, strategy: str | None = None,
              resolutions: Mapping[tuple[str, str, str | None], JSON] | None = None,
              dry_run: bool = False, metadata: Mapping[str, JSON] | None = None
              ) -> MergeResult:
        """Merge on the server; conflicts come back as ``status == "conflict"`` with nothing
        committed, like the embedded call. The author is the token's user."""
        return _settled(lambda: self._call("POST", "/api/merge", json={
            "source": _ref(source), "into": into, "strategy": strategy, "message": message,
            "resolutions": _resolutions(resolutions), "dry_run": dry_run,
            **({"metadata": metadata} if metadata is not None else {})}),
            bool(strategy or resolutions), dry_run)

    def merge_preview(self, source: Ref, *, into: str | None = None,
                      strategy: str | None = None,
                      resolutions: Mapping[tuple[str, str, str | None], JSON] | None = None
                      ) -> MergeResult:
        """What a merge would do: status, conflicts, and in ``diff`` the incoming changes."""
        if strategy is not None or resolutions:
            return self.merge(source, into=into, strategy=strategy, resolutions=resolutions,
                              dry_run=True)
        return dataclasses.replace(wire.decode(MergeResult, self._call(
            "GET", "/api/merge-preview", params={"source": _ref(source), "into": into})),
            dry_run=True)

    def cherry_pick(self, commit: Ref, *, onto: str | None = None, message: str | None = None,
                    author: str | None = None, strategy: str | None = None,
                    resolutions: Mapping[tuple[str, str, str | None], JSON] | None = None,
                    dry_run: bool = False) -> MergeResult:
        """Cherry-pick on the server; conflicts come back as values, as from :meth:`merge`.
        ``dry_run`` is not offered over HTTP (InvalidValue)."""
        if dry_run:
            raise InvalidValue("a remote cherry-pick has no dry run")
        return _settled(lambda: self._call("POST", "/api/cherry-pick", json={
            "commit": _ref(commit), "onto": onto, "strategy": strategy, "message": message,
            "resolutions": _resolutions(resolutions)}), bool(strategy or resolutions))

    def reflog(self, name: str | None = None, limit: int = 100) -> list[RefLogEntry]:
        """Creations, deletions and moves of branches and tags, newest first."""
        rows = self._call("GET", "/api/reflog", params={"name": name, "limit": limit})
        return [wire.decode(RefLogEntry, r) for r in rows]

    # -- combine, erasure, retention, indexes, views (server/routes_manage.py) -------------
    def combine(self, refs: list[Ref] | tuple[Ref, ...], *, mode: str = "union",
                into: str | None = None, message: str | None = None, author: str | None = None,
                strategy: str | None = None,
                resolutions: Mapping[tuple[str, str, str | None], JSON] | None = None,
                dry_run: bool = False) -> MergeResult:
        """Set-merge of versions on the server (see the embedded ``combine``); conflicts come
        back as ``status == "conflict"``. The author is the token's user."""
        if isinstance(refs, str) or not isinstance(refs, list | tuple) or len(refs) < 2:
            raise InvalidValue("combine needs a list of at least two refs, e.g. "
                               "repo.combine(['v1', 'v2'], mode='union')")
        items = None
        if resolutions:
            items = []
            for key, ref in resolutions.items():
                if not (isinstance(key, tuple) and len(key) == 3):
                    raise InvalidValue(f"resolution keys are (element, id, property) tuples as "
                                       f"in Conflict.key; got {key!r}")
                items.append({"element": key[0], "id": key[1], "property": key[2],
                              "ref": _ref(ref)})
        return wire.decode(MergeResult, self._call("POST", "/api/combine", json={
            "refs": [_ref(r) for r in refs], "mode": mode, "into": into, "message": message,
            "author": author,
            "strategy": strategy, "resolutions": items, "dry_run": dry_run}))

    def erase(self, id: str | tuple[str, str], *, reason: str, author: str | None = None,
              element: str | None = None, message: str | None = None) -> Erasure:
        """Erase one element's values on the server (admins); the author is the token's
        user."""
        where = {"collection": id[0], "key": id[1]} if isinstance(id, tuple) else {"id": id}
        return wire.decode(Erasure, self._call("POST", "/api/erase", json={
            **where, "reason": reason, "element": element, "message": message,
            "author": author}))

    def retract(self, source: str, *, message: str | None = None, author: str | None = None,
                metadata: Mapping[str, JSON] | None = None, branch: str | None = None
                ) -> Commit:
        check_name(source, "source")
        return self._write("POST", "/api/retract", _options(
            message, author, metadata, None, branch) | {"source": source})

    def erase_source(self, source: str, *, reason: str, author: str | None = None,
                     message: str | None = None) -> list[Erasure]:
        """Erase what came from ``source`` on the server (admins)."""
        return [wire.decode(Erasure, e) for e in self._call("POST", "/api/erase-source", json={
            "source": source, "reason": reason, "message": message, "author": author})]

    def erasures(self) -> list[Erasure]:
        return [wire.decode(Erasure, e) for e in self._call("GET", "/api/erasures")]

    def set_retention(self, branches: str, keep: str | timedelta | int | None = None, *,
                      keep_commits: int | None = None,
                      author: str | None = None) -> RetentionPolicy | None:
        """Set the retention policy of branches matching a glob (admins)."""
        given = {"keep_seconds": keep.total_seconds()} if isinstance(keep, timedelta) else {
            "keep": keep}
        data = self._call("PUT", "/api/retention", json={
            "branches": branches, **given, "keep_commits": keep_commits, "author": author})
        return None if data is None else wire.decode(RetentionPolicy, data)

    def retention(self) -> list[RetentionPolicy]:
        return [wire.decode(RetentionPolicy, p) for p in self._call("GET", "/api/retention")]

    def horizon(self, branch: str | None = None) -> Commit | None:
        data = self._call("GET", "/api/horizon", params={"branch": branch})
        return None if data is None else wire.decode(Commit, data)

    def create_index(self, type: str | None = None, field: str | None = None, *,
                     collection: str | None = None) -> IndexInfo:
        """Declare an index on the server (admins)."""
        return wire.decode(IndexInfo, self._call("POST", "/api/indexes", json={
            "type": type, "field": field or "", "collection": collection}))

    def drop_index(self, type: str | None = None, field: str | None = None, *,
                   collection: str | None = None) -> None:
        self._call("DELETE", "/api/indexes", params={"type": type, "field": field or "",
                                                     "collection": collection})

    def indexes(self) -> list[IndexInfo]:
        return [wire.decode(IndexInfo, i) for i in self._call("GET", "/api/indexes")]

    def create_text_index(self, type_or_collection: str, fields: Sequence[str], *,
                          kind: str | None = None) -> TextIndex:
        """Declare a full-text index on the server (admins)."""
        return wire.decode(TextIndex, self._call("POST", "/api/text-indexes", json={
            "target": type_or_collection, "fields": list(fields), "kind": kind}))

    def drop_text_index(self, type_or_collection: str, *, kind: str | None = None) -> None:
        self._call("DELETE", "/api/text-indexes",
                   params={"target": type_or_collection, "kind": kind})

    def text_indexes(self) -> list[TextIndex]:
        return [wire.decode(TextIndex, i) for i in self._call("GET", "/api/text-indexes")]

    def create_vector_index(self, type_or_collection: str, property: str = "embedding", *,
                            dimensions: int, metric: str = "cosine",
                            kind: str | None = None) -> VectorIndex:
        """Declare a vector index on the server (admins)."""
        return wire.decode(VectorIndex, self._call("POST", "/api/vector-indexes", json={
            "target": type_or_collection, "property": property, "dimensions": dimensions,
            "metric": metric, "kind": kind}))

    def drop_vector_index(self, type_or_collection: str, property: str = "embedding", *,
                          kind: str | None = None) -> None:
        self._call("DELETE", "/api/vector-indexes",
                   params={"target": type_or_collection, "property": property, "kind": kind})

    def vector_indexes(self) -> list[VectorIndex]:
        return [wire.decode(VectorIndex, i) for i in self._call("GET", "/api/vector-indexes")]

    def create_view(self, name: str, collection_or_type: str, query: object = None, *,
                    kind: str | None = None) -> ViewInfo:
        """Declare a materialized view on the server (admins); ``query`` as embedded (a
        Filter, a Query or its dict form)."""
        spec = None if query is None else Query.of(query).to_dict()
        return wire.decode(ViewInfo, self._call("POST", "/api/views", json={
            "name": name, "target": collection_or_type, "query": spec, "kind": kind}))

    def drop_view(self, name: str) -> None:
        self._call("DELETE", f"/api/views/{_p(name)}")

    def views(self) -> list[ViewInfo]:
        return [wire.decode(ViewInfo, v) for v in self._call("GET", "/api/views")]

    def refresh_views(self, name: str | None = None) -> int:
        return int(self._call("POST", "/api/views/refresh", json={"name": name})["rows"])

    # -- key-value state -----------------------------------------------------------------
    @property
    def kv(self) -> RemoteKV:
        """The key-value state of the current branch (``repo.kv.on("b")`` for another)."""
        return RemoteKV(self, None)

    # -- watch ---------------------------------------------------------------------------
    def watch(self, branch: str | None = None, *, last_event_id: int | str | None = None,
              limit: int | None = None, timeout: float | None = None) -> Iterator[Commit]:
        """Each commit that becomes reachable from ``branch`` (server-sent events), merged
        ones included, once, after its parents; with ``last_event_id`` (an event id: a
        commit seq, or seqs joined by commas after merges; 0 for the beginning), first those
        not delivered before it."""
        headers = dict(self._headers)
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        params = {k: v for k, v in {"branch": branch, "limit": limit,
                                    "timeout": timeout}.items() if v is not None}
        for data in self._events("/api/watch", params, headers):
            yield wire.decode(Commit, data)

    def _events(self, path: str, params: Mapping[str, Any],
                headers: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """The JSON payloads of a server-sent event stream, one per event."""
        import orjson

        with self._http.stream("GET", self.url + path, params=dict(params),
                               headers={**self._headers, **headers},
                               timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                raise error_from(response.status_code, response.json())
            data: list[str] = []
            event = ""
            for line in response.iter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line == "" and data:
                    payload: dict[str, Any] = orjson.loads("\n".join(data))
                    if event == "error":  # the server ended the stream (token revoked...)
                        raise error_from(401, payload)
                    yield payload
                    data, event = [], ""


def connect(url: str, token: str | None = None, *, timeout: float = 30.0,
            http_client: Any = None) -> RemoteRepository:
    """Connect to a palimpsest server; ``token`` is a bearer token from
    ``palimpsest token create``. ``http_client`` (an ``httpx.Client``, e.g. FastAPI's
    TestClient) replaces the default connection."""
    return RemoteRepository(url, token, timeout=timeout, http_client=http_client)


__all__ = ["RemoteRepository", "connect"]
