"""The other side of a sync: what a repository tells and does for the one it syncs with.

A :class:`Peer` advertises its branches, tags and some commits it has, says which of a list of
commit ids it has, sends a pack of what the other side lacks, and receives one (moving its
branches only when everything verified). :class:`LocalPeer` is a repository opened from a
SQLite path or a PostgreSQL URL; the HTTP client registers a peer for ``http(s)://`` servers
(:func:`register_transport`), so this layer never imports the faces above it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import InvalidValue, NonFastForward, NotFound, VersionConflict
from ..storage import open_database
from ..storage.base import Database
from ..storage.schema import create_schema
from ..versioning.commits import CommitStore, id_text
from ..versioning.log import is_ancestor
from ..versioning.refs import RefStore, check_ref_name
from . import pack, shallow
from .remotes import tracking_prefixes


@dataclass(frozen=True)
class RefUpdate:
    """Move branch ``name`` from ``old`` (what the sender saw there; None: no branch or an
    empty one) to ``new``. Without ``force`` the new commit must descend from the old."""

    name: str
    old: str | None
    new: str
    force: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "old": self.old, "new": self.new, "force": self.force}

    @classmethod
    def from_json(cls, data: Any) -> RefUpdate:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or \
                not isinstance(data.get("new"), str) or \
                not isinstance(data.get("old"), (str, type(None))):
            raise InvalidValue("a ref update is {name, old, new, force}: branch name, the "
                               "commit id it had (or null) and the one it gets")
        return cls(data["name"], data["old"], data["new"], bool(data.get("force", False)))


@dataclass(frozen=True)
class Advertisement:
    """What a repository tells before a transfer."""

    head: str
    branches: dict[str, str | None]
    tags: dict[str, str]
    haves: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"head": self.head, "branches": self.branches, "tags": self.tags,
                "haves": self.haves}

    @classmethod
    def from_json(cls, data: Any) -> Advertisement:
        try:
            return cls(str(data["head"]), dict(data["branches"]), dict(data["tags"]),
                       [str(h) for h in data["haves"]])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidValue(f"not a sync advertisement ({exc})") from None


@dataclass(frozen=True)
class Received:
    """What a receiving side stored: new commits, ones it already had, rows, bytes."""

    commits: int
    skipped: int
    rows: int
    bytes: int

    def to_json(self) -> dict[str, int]:
        return {"commits": self.commits, "skipped": self.skipped, "rows": self.rows,
                "bytes": self.bytes}


class Peer(Protocol):
    url: str

    def advertise(self) -> Advertisement: ...

    def has(self, ids: Sequence[str]) -> list[str]: ...

    def send_pack(self, wants: Sequence[str], haves: Sequence[str], *,
                  depth: int | None = None, since: str | None = None) -> Iterable[bytes]: ...

    def receive_pack(self, stream: Iterable[bytes], updates: Sequence[RefUpdate]
                     ) -> Received: ...

    def close(self) -> None: ...


# -- one repository's side, used by LocalPeer, the local end of every sync, and the server --
def advertise(db: Database, refs: RefStore) -> Advertisement:
    prefixes = tuple(tracking_prefixes(db))
    with db.read():
        branches = {}
        for name in refs.branch_names():
            if not name.startswith(prefixes):
                head = refs.branch_head(name)
                branches[name] = head.id if head is not None else None
        tags = {}
        for name, cid in db.all("SELECT r.name, c.id FROM refs r JOIN commits c "
                                "ON c.seq = r.commit_seq WHERE r.kind = 'tag'"):
            tags[str(name)] = id_text(cid)
        return Advertisement(refs.current(), branches, tags, pack.haves(db))


def has(commits: CommitStore, ids: Sequence[str]) -> list[str]:
    return [cid for cid in ids if isinstance(cid, str) and commits.by_id(cid) is not None]


def send_pack(db: Database, commits: CommitStore, wants: Sequence[str], haves: Sequence[str],
              *, depth: int | None = None, since: str | None = None) -> Iterator[bytes]:
    """The pack of what ``haves`` lacks of ``wants``; shallow with ``depth`` / ``since``."""
    with db.read():
        chosen = pack.select(commits, wants, haves)
        horizon = shallow.horizon(commits, wants, depth=depth, since=since)
        yield from pack.write_pack(db, commits, chosen, horizon=horizon)


def receive_pack(db: Database, commits: CommitStore, refs: RefStore, stream: Iterable[bytes],
                 updates: Sequence[RefUpdate], *, author: str, message: str,
                 check: Callable[[RefUpdate], None] | None = None,
                 vet: Callable[[dict[str, Any]], None] | None = None,
                 progress: Callable[[str, int, int], None] | None = None,
                 shallow: bool = False) -> Received:
    """Store a pack and apply ``updates`` with it (compare-and-swap on ``old``, fast-forward
    unless forced; ``check`` adds the caller's rules for each update, e.g. a server's
    protected branches, and ``vet`` for each new commit record, e.g. its author)."""
    for update in updates:
        check_ref_name(update.name)
        if check is not None:
            check(update)
    receiver = pack.Receiver(db, commits, vet, progress, shallow=shallow)
    receiver.receive(stream, lambda: apply_updates(commits, refs, updates, author=author,
                                                   message=message))
    return Received(receiver.received, receiver.skipped, receiver.rows, receiver.bytes)


def apply_updates(commits: CommitStore, refs: RefStore, updates: Sequence[RefUpdate], *,
                  author: str, message: str) -> None:
    with commits.db.write():
        for update in updates:
            commits.db.lock(f"branch:{update.name}")
            exists = refs.has_branch(update.name)
            current = refs.branch_head(update.name) if exists else None
            target = commits.by_id(update.new)
            if target is None:
                raise InvalidValue(f"cannot move {update.name!r} to {update.new[:12]}: the "
                                   "commit did not arrive")
            if (current.id if current else None) != update.old:
                raise VersionConflict(
                    f"branch {update.name!r} moved while this transfer ran (it is at "
                    f"{current.id[:12] if current else 'nothing'}, the transfer expected "
                    f"{(update.old or 'nothing')[:12]}): fetch, pull and push again",
                    key=update.name, expected=update.old, found=current.id if current else None)
            if current is not None and current.id == target.id:
                continue
            if current is not None and not update.force and \
                    not is_ancestor(commits, current, target):
                raise NonFastForward(
                    f"{update.name!r} is at {current.id[:12]}, which {target.id[:12]} does not "
                    "descend from: the other side has commits this one lacks. Fetch and pull "
                    "them first, or push with force=True to replace them")
            if exists:
                refs.move_branch(update.name, target, author=author,
                                 message=f"{message}: {target.id[:12]}")
            else:
                refs.create_branch(update.name, target, author=author)


class LocalPeer:
    """A repository on this machine (a SQLite path or a PostgreSQL URL) as the other side."""

    def __init__(self, url: str, *, author: str = "anonymous") -> None:
        self.url = url
        self.author = author
        self.db = open_database(url)
        if self.db.created:
            self.db.drop()
            raise NotFound(f"no repository at {url}; create it first (palimpsest.open) or "
                           "clone into a new path")
        create_schema(self.db)
        self.commits = CommitStore(self.db)
        self.refs = RefStore(self.commits)

    def advertise(self) -> Advertisement:
        return advertise(self.db, self.refs)

    def has(self, ids: Sequence[str]) -> list[str]:
        return has(self.commits, ids)

    def send_pack(self, wants: Sequence[str], haves: Sequence[str], *,
                  depth: int | None = None, since: str | None = None) -> Iterable[bytes]:
        return send_pack(self.db, self.commits, wants, haves, depth=depth, since=since)

    def receive_pack(self, stream: Iterable[bytes], updates: Sequence[RefUpdate]
                     ) -> Received:
        return receive_pack(self.db, self.commits, self.refs, stream, updates,
                            author=self.author, message="push")

    def close(self) -> None:
        self.db.close()


Transport = Callable[[str, "str | None", str], Peer]
_TRANSPORTS: dict[str, Transport] = {}


def register_transport(scheme: str, factory: Transport) -> None:
    """Let ``open_peer`` reach ``scheme://`` URLs through ``factory(url, token, author)``."""
    _TRANSPORTS[scheme] = factory


def open_peer(url: str, token: str | None = None, *, author: str = "anonymous") -> Peer:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    factory = _TRANSPORTS.get(scheme)
    if factory is not None:
        return factory(url, token, author)
    if scheme in ("http", "https"):
        raise InvalidValue(f"{url}: HTTP remotes need the server extra "
                           "(pip install 'palimpsest[server]')")
    if scheme and scheme not in ("postgresql", "postgres"):
        raise InvalidValue(f"{url}: a remote is a SQLite path, a postgresql:// URL or an "
                           "http(s):// server")
    return LocalPeer(os.fspath(url), author=author)
