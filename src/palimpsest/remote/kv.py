"""The key-value state of a branch over HTTP (``repo.kv`` of :func:`palimpsest.connect`):
the methods of :class:`palimpsest.models.kv.KeyValue`, sent to the server's ``/api/kv``
routes."""

from __future__ import annotations

import base64
import builtins
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from .. import wire
from ..codec import check_json, encode
from ..errors import InvalidValue, NotFound, ReadOnly
from ..models import kv as kv_model
from ..types import JSON, Commit, Entry, KVEvent


class Server(Protocol):
    """What RemoteKV needs of the client: requests and event streams."""

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None) -> Any: ...

    def events(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]: ...


class RemoteKV:
    """The common key-value operations of :class:`palimpsest.models.kv.KeyValue` over HTTP:
    a branch's state (``repo.kv``), or with ``at`` one commit's, read-only (``view.kv``; the
    empty string: the empty state)."""

    def __init__(self, repo: Server, branch: str | None, *, at: str | None = None) -> None:
        self._repo = repo
        self.branch = branch
        self._at = at

    def on(self, branch: str) -> RemoteKV:
        if self._at is not None:
            raise ReadOnly("a past state's kv is read-only; use repo.kv.on(branch)")
        return RemoteKV(self._repo, branch)

    @property
    def read_only(self) -> bool:
        """True for a past state (``view.kv``); a branch's is writable with a writer token."""
        return self._at is not None

    def _where(self) -> dict[str, Any]:
        return {"ref": self._at} if self._at is not None else {"branch": self.branch}

    def _writable(self) -> None:
        if self._at is not None:
            raise ReadOnly("this kv is a past state and read-only; write through repo.kv")

    def get(self, key: str) -> Entry | None:
        if self._at == "":
            kv_model.check_key(key)
            return None
        try:
            data = self._repo.request("GET", "/api/kv/entry", params={"key": key,
                                                                    **self._where()})
        except NotFound:
            return None
        return wire.decode(Entry, data)

    def get_json(self, key: str, default: JSON = None) -> JSON:
        """The value at ``key`` parsed as JSON, or ``default`` when missing."""
        return kv_model.json_value(self.get(key), key, default)

    def exists(self, key: str) -> bool:
        return self.get(key) is not None

    def version(self, key: str) -> int:
        """The key's version (0: missing)."""
        entry = self.get(key)
        return 0 if entry is None else entry.version

    def list(self, prefix: str = "/", *, limit: int | None = None,
             start_after: str | None = None) -> builtins.list[Entry]:
        if self._at == "":
            kv_model.check_prefix(prefix)
            return []
        rows = self._repo.request("GET", "/api/kv", params={
            "prefix": prefix, **self._where(), "limit": limit or 10_000,
            "start_after": start_after})
        return [wire.decode(Entry, r) for r in rows]

    def keys(self, prefix: str = "/", *, limit: int | None = None,
             start_after: str | None = None) -> builtins.list[str]:
        return [e.key for e in self.list(prefix, limit=limit, start_after=start_after)]

    def count(self, prefix: str = "/") -> int:
        return len(self.list(prefix))

    def __contains__(self, key: str) -> bool:
        return self.exists(key)

    def _set(self, key: str, value: bytes, **extra: Any) -> Entry:
        self._writable()
        body = {"key": kv_model.check_key(key), "value": base64.b64encode(kv_model.to_bytes(value)).decode(),
                "branch": self.branch, **extra}
        return wire.decode(Entry, self._repo.request("PUT", "/api/kv/entry",
                                       json={k: v for k, v in body.items() if v is not None}))

    def set(self, key: str, value: bytes, *, message: str | None = None,
            author: str | None = None, metadata: Mapping[str, JSON] | None = None) -> Entry:
        return self._set(key, value, message=message, author=author, metadata=metadata)

    def set_json(self, key: str, value: JSON, **kwargs: Any) -> Entry:
        """Store ``value`` as canonical JSON (see KeyValue.set_json)."""
        check_json(value, f"kv value at {key}")
        return self.set(key, encode(value).encode(), **kwargs)

    def set_many(self, items: Mapping[str, bytes], *, message: str | None = None,
                 author: str | None = None, metadata: Mapping[str, JSON] | None = None
                 ) -> builtins.list[Entry]:
        """Every ``key: value`` in one commit on the server (see KeyValue.set_many)."""
        if not isinstance(items, Mapping):
            raise InvalidValue(f"set_many takes a mapping of key to bytes, got "
                               f"{type(items).__name__}")
        encoded = {kv_model.check_key(key): base64.b64encode(kv_model.to_bytes(value)).decode()
                   for key, value in items.items()}
        if not encoded:
            return []
        body = {"items": encoded, "branch": self.branch, "message": message, "author": author,
                "metadata": dict(metadata) if metadata is not None else None}
        data = self._repo.request("POST", "/api/kv/entries",
                                  json={k: v for k, v in body.items() if v is not None})
        return [wire.decode(Entry, e) for e in data]

    def compare_and_set(self, key: str, expected_version: int, value: bytes, *,
                        message: str | None = None, author: str | None = None,
                        metadata: Mapping[str, JSON] | None = None) -> Entry:
        """Raises VersionConflict (expected, found) when the key moved."""
        return self._set(key, value, expected_version=expected_version, message=message,
                         author=author, metadata=metadata)

    def create_if_not_exists(self, key: str, value: bytes, *, message: str | None = None,
                             author: str | None = None,
                             metadata: Mapping[str, JSON] | None = None) -> Entry:
        return self._set(key, value, create_only=True, message=message, author=author,
                         metadata=metadata)

    def delete(self, key: str, *, expected_version: int | None = None,
               message: str | None = None, author: str | None = None,
               metadata: Mapping[str, JSON] | None = None) -> bool:
        self._writable()
        if author is not None or metadata is not None:
            checks = [] if expected_version is None else [
                kv_model.check_version(key, expected_version)]
            exists = self.exists(key)
            self.transaction([*checks, kv_model.op_delete(key)], message=message,
                             author=author, metadata=metadata)
            return exists
        data = self._repo.request("DELETE", "/api/kv/entry", params={
            "key": key, "branch": self.branch, "expected_version": expected_version,
            "message": message})
        return bool(data["deleted"])

    # The same op builders as the embedded KeyValue, so transactions move over unchanged.
    check_version = staticmethod(kv_model.check_version)
    check_exists = staticmethod(kv_model.check_exists)
    check_missing = staticmethod(kv_model.check_missing)
    op_set = staticmethod(kv_model.op_set)
    op_delete = staticmethod(kv_model.op_delete)

    def transaction(self, ops: Sequence[kv_model.KVOp], *, message: str | None = None,
                    author: str | None = None,
                    metadata: Mapping[str, JSON] | None = None) -> Commit | None:
        """All checks, then all writes, in one commit on the server, or nothing: a failed
        check raises VersionConflict naming it. None when the ops changed nothing."""
        self._writable()
        items: list[dict[str, Any]] = []
        for op in ops:
            if not isinstance(op, kv_model.KVOp):
                raise InvalidValue(f"a kv transaction takes KVOp values (kv.op_set(...), "
                                   f"kv.check_version(...)...), not {op!r}")
            item: dict[str, Any] = {"op": op.op, "key": op.key}
            if op.version is not None:
                item["version"] = op.version
            if op.value is not None:
                item["value"] = base64.b64encode(op.value).decode()
            items.append(item)
        body = {"ops": items, "branch": self.branch, "message": message, "author": author,
                "metadata": dict(metadata) if metadata is not None else None}
        data = self._repo.request("POST", "/api/kv/transaction",
                                json={k: v for k, v in body.items() if v is not None})
        return wire.decode(Commit, data) if data else None

    def watch(self, pattern: str, *, since: int | None = None, limit: int | None = None,
              timeout: float | None = None) -> Iterator[KVEvent]:
        """Changes to keys matching ``pattern`` (``/a/b`` or ``/a/*``) as server-sent events,
        in commit order; ``since`` (a commit seq, 0 for the beginning) replays first."""
        params = {k: v for k, v in {"pattern": pattern, "branch": self.branch, "since": since,
                                    "limit": limit, "timeout": timeout}.items()
                  if v is not None}
        for data in self._repo.events("/api/kv/watch", params):
            yield wire.decode(KVEvent, data)
