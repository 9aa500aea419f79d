"""Fetch, push and clone between this repository and a :class:`~.peer.Peer`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import orjson

from ..errors import InvalidValue, NonFastForward, RefNotFound
from ..storage import open_database
from ..storage.base import Database
from ..storage.schema import create_schema
from ..types import SyncReport
from ..versioning.commits import CommitStore
from ..versioning.log import is_ancestor
from ..versioning.refs import RefStore
from . import pack
from . import peer as peers
from .remotes import Remotes

Progress = Callable[[str, int, int], None]
"""``progress(what, done, total)``: e.g. ("receiving", bytes so far, 0 when unknown)."""


@dataclass
class Local:
    """This repository's stores, as the sync engine needs them."""

    db: Database
    commits: CommitStore
    refs: RefStore
    author: str

    @property
    def remotes(self) -> Remotes:
        return Remotes(self.db)


def connect(local: Local, remote: str) -> peers.Peer:
    found = local.remotes.get(remote)
    return peers.open_peer(found.url, local.remotes.token(remote), author=local.author)


def _counted(stream: Iterable[bytes], progress: Progress | None) -> Iterator[bytes]:
    """A local pack (one record per chunk), reporting ("sending", commits, total)."""
    total = done = 0
    for chunk in stream:
        if progress is not None:
            if chunk.startswith(b'{"t":"pack"'):
                total = int(orjson.loads(chunk).get("commits") or 0)
            elif chunk.startswith(b'{"t":"commit"'):
                done += 1
                progress("sending", done, total)
        yield chunk


def fetch(local: Local, remote: str, *, progress: Progress | None = None,
          peer: peers.Peer | None = None, depth: int | None = None,
          since: str | None = None) -> SyncReport:
    """Bring the commits of ``remote``'s branches that this repository lacks and set the
    remote-tracking branches ``remote/NAME`` to them (they follow the remote, forced)."""
    other = peer if peer is not None else connect(local, remote)
    try:
        adv = other.advertise()
        prefix = f"{remote}/"
        wants = sorted({cid for cid in [*adv.branches.values(), *adv.tags.values()]
                        if cid is not None and local.commits.by_id(cid) is None})
        updates = []
        for name, cid in sorted(adv.branches.items()):
            if cid is None:
                continue
            tracking = prefix + name
            current = local.refs.branch_head(tracking) if local.refs.has_branch(tracking) \
                else None
            if current is None or current.id != cid:
                updates.append(peers.RefUpdate(tracking, current.id if current else None, cid,
                                               force=True))
        if not wants:
            if updates:
                peers.apply_updates(local.commits, local.refs, updates, author=local.author,
                                    message=f"fetch {remote}")
            tags = _new_tags(local, adv.tags)
            moved: dict[str, str | None] = {**{u.name: u.new for u in updates}, **tags}
            return SyncReport(remote, "updated" if moved else "up_to_date", 0, 0, 0, 0,
                              moved)
        shallow = depth is not None or since is not None
        stream = other.send_pack(wants, pack.haves(local.db), depth=depth, since=since) \
            if shallow else other.send_pack(wants, pack.haves(local.db))
        received = peers.receive_pack(
            local.db, local.commits, local.refs, stream, updates, author=local.author,
            message=f"fetch {remote}", progress=progress, shallow=shallow)
        tags = _new_tags(local, adv.tags)
    finally:
        if peer is None:
            other.close()
    return SyncReport(remote, "updated", received.commits, received.skipped, received.rows,
                      received.bytes, {**{u.name: u.new for u in updates}, **tags})


def _new_tags(local: Local, tags: dict[str, str]) -> dict[str, str | None]:
    """Create the remote's tags this repository has no ref of that name for (an existing tag
    or branch of the same name wins, as in git)."""
    made: dict[str, str | None] = {}
    for name, cid in sorted(tags.items()):
        commit = local.commits.by_id(cid)
        if commit is None or local.db.one("SELECT 1 FROM refs WHERE name = ?", (name,)):
            continue
        local.refs.create_tag(name, commit, message=None, author=local.author)
        made[name] = cid
    return made


def push(local: Local, remote: str, branch: str, *, force: bool = False,
         progress: Progress | None = None, peer: peers.Peer | None = None) -> SyncReport:
    """Send ``branch`` to ``remote``'s branch of the same name, refusing a non-fast-forward
    (:class:`NonFastForward`) unless ``force``; then set ``remote/branch`` here."""
    head = local.refs.branch_head(branch)
    if head is None:
        raise InvalidValue(f"branch {branch!r} has no commits to push")
    other = peer if peer is not None else connect(local, remote)
    try:
        adv = other.advertise()
        old = adv.branches.get(branch)
        tracking = f"{remote}/{branch}"
        if old == head.id:
            _set_tracking(local, tracking, head.id, remote)
            return SyncReport(remote, "up_to_date", 0, 0, 0, 0, {branch: head.id})
        if old is not None and not force:
            known = local.commits.by_id(old)
            if known is None or not is_ancestor(local.commits, known, head):
                raise NonFastForward(
                    f"{remote}'s {branch!r} is at {old[:12]}, which {branch!r} here does not "
                    f"descend from: fetch and pull ({remote!r}, {branch!r}) first, or push "
                    "with force=True to replace the commits it has")
        common = [cid for cid in [*adv.haves, *adv.branches.values(), *adv.tags.values()]
                  if cid is not None and local.commits.by_id(cid) is not None]
        told = set(common)
        samples = [cid for cid in pack.haves(local.db, limit=0) if cid not in told]
        common += other.has(samples[:64])
        stream = peers.send_pack(local.db, local.commits, [head.id], common)
        received = other.receive_pack(_counted(stream, progress),
                                      [peers.RefUpdate(branch, old, head.id, force)])
    finally:
        if peer is None:
            other.close()
    _set_tracking(local, tracking, head.id, remote)
    return SyncReport(remote, "updated", received.commits, received.skipped, received.rows,
                      received.bytes, {branch: head.id})


def _set_tracking(local: Local, tracking: str, cid: str, remote: str) -> None:
    current = local.refs.branch_head(tracking) if local.refs.has_branch(tracking) else None
    if current is None or current.id != cid:
        peers.apply_updates(local.commits, local.refs,
                            [peers.RefUpdate(tracking, current.id if current else None, cid,
                                             force=True)],
                            author=local.author, message=f"push {remote}")


def clone(url: str, target: str | os.PathLike[str], *, token: str | None = None,
          author: str = "anonymous", origin: str = "origin",
          progress: Progress | None = None, depth: int | None = None,
          since: str | None = None) -> SyncReport:
    """Make a new repository at ``target`` holding ``url``'s history with identical commit
    ids: remote-tracking branches ``origin/NAME``, and a local branch for the remote's
    current one, checked out. ``target`` must be new or empty; a failed clone removes what
    it created. ``depth`` / ``since``: a shallow clone (:mod:`.shallow`)."""
    db = open_database(os.fspath(target))
    try:
        create_schema(db)
        if db.one("SELECT 1 FROM commits LIMIT 1"):
            raise InvalidValue(f"cannot clone into {db.url}: it already has commits; clone "
                               "into a new, empty path")
        commits = CommitStore(db)
        local = Local(db, commits, RefStore(commits), author)
        local.remotes.add(origin, url, token=token)
        report = fetch(local, origin, progress=progress, depth=depth, since=since)
        _check_out_remote_head(local, origin)
    except BaseException:
        if db.created:
            db.drop()
        else:
            db.close()
        raise
    db.close()
    return report


def _check_out_remote_head(local: Local, origin: str) -> None:
    """Create local branches for the remote's current branch (and ``main``) at their
    remote-tracking heads and check the current one out."""
    other = connect(local, origin)
    try:
        head_name = other.advertise().head
    finally:
        other.close()
    for name in dict.fromkeys([head_name, "main"]):
        tracking = f"{origin}/{name}"
        if not local.refs.has_branch(tracking):
            continue
        target = local.refs.branch_head(tracking)
        if local.refs.has_branch(name):
            local.refs.move_branch(name, target, author=local.author,
                                   message=f"clone: from {origin}")
        else:
            local.refs.create_branch(name, target, author=local.author)
    if local.refs.has_branch(head_name):
        local.refs.set_current(head_name)
    elif not local.refs.has_branch("main"):  # pragma: no cover - create_schema made it
        raise RefNotFound("the clone has no branch to check out")
