"""Change notifications: follow a branch and report its new commits, or the key-value changes
they make, in commit order, from this process or any other.

A commit watch remembers which commits it has delivered as their *tips* (the delivered commits
no other delivered commit descends from; every ancestor of a tip was delivered). Each poll reads
the branch head (two indexed lookups) and, when it is not a tip, delivers the commits reachable
from it and not from the tips, oldest first (``versioning.log.reachable_since``): the branch's
own new commits and every commit a merge brought in, although merged commits have lower seqs
than ones already delivered, each exactly once and after its parents. A branch moved back to an
older commit delivers nothing; moved to an unrelated history, that history's commits.

A key-value watch reports changes to the branch's *state*: it remembers the chain of the last
state it reported and, on the same history, reads the rows of the segments
``(line, old bound, new bound]`` the new chain adds, in seq order. A merge's changes arrive as
the events of the merge commit, once (the merged branch's own intermediate values were never
the watched branch's state). When the branch is moved to a history that does not extend the
reported one (a reset, or a fast-forward onto a branch that merged this one), it reports the
net change of each key at the new head.

Polls happen every ``interval`` seconds (other processes' commits) and at once after a commit
through the same Repository handle (``Repository.on_commit``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:  # asyncio costs ~50 ms to import: only async iteration needs it
    import asyncio

from .errors import InvalidValue
from .models.kv import KIND, matches, parse_tag, prefix_range
from .storage.base import Database
from .storage.visibility import COLUMNS, Chain, StoredRow, changed_keys, divergent, read_row
from .types import Commit, KVEvent, KVEventType
from .versioning.commits import CommitStore
from .versioning.elements import PUT, to_value
from .versioning.log import reachable_since
from .versioning.refs import RefStore

T = TypeVar("T")
Subscribe = Callable[[Callable[[Commit], None]], Callable[[], None]]
_EAGER_S, _EAGER_INTERVAL = 0.5, 0.005


class Watch(Generic[T]):
    """A stream of events. Iterate it (blocking) or ``async for`` it; it ends when
    :meth:`close` is called (from any thread), or after ``timeout`` seconds without an event.
    Use it as a context manager so it always stops.

    >>> import palimpsest
    >>> repo = palimpsest.open(":memory:")
    >>> with repo.kv.watch("/jobs/*", timeout=0.05) as events:
    ...     _ = repo.kv.set("/jobs/1", b"run")
    ...     [(e.type, e.key, e.version) for e in events]
    [('created', '/jobs/1', 1)]
    """

    def __init__(self, poll: Callable[[], list[T]], *, subscribe: Subscribe | None = None,
                 timeout: float | None = None, interval: float = 0.02) -> None:
        if interval <= 0:
            raise InvalidValue(f"interval must be positive, got {interval!r}")
        if timeout is not None and timeout < 0:
            raise InvalidValue(f"timeout must be >= 0 or None, got {timeout!r}")
        self._poll = poll
        self._buffer: deque[T] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self.timeout = timeout
        self.interval = interval
        self._eager_until = 0.0  # after a wakeup, poll often for a while (see _notified)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async_wake: asyncio.Event | None = None
        self._unsubscribe = subscribe(self._notified) if subscribe is not None else None

    def __repr__(self) -> str:
        return f"<Watch {'closed' if self._closed else 'open'}>"

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop the watch; a blocked iteration ends at once."""
        if self._closed:
            return
        self._closed = True
        if self._unsubscribe is not None:
            with contextlib.suppress(ValueError):
                self._unsubscribe()
        self._notified(None)

    def __enter__(self) -> Watch[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Watch[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _notified(self, _commit: Commit | None) -> None:
        # A listener may run before the commit is visible to other connections (it is called
        # inside the writer's transaction when that is nested), so poll every few ms for a
        # short while instead of trusting the first poll after the wakeup.
        self._eager_until = time.monotonic() + _EAGER_S
        self._wake.set()
        loop, event = self._loop, self._async_wake
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(event.set)

    # -- reading -------------------------------------------------------------------------
    def _fill(self) -> bool:
        with self._lock:
            if not self._buffer and not self._closed:
                self._buffer.extend(self._poll())
            return bool(self._buffer)

    def _pop(self) -> T:
        with self._lock:
            return self._buffer.popleft()

    def poll(self) -> list[T]:
        """Every event ready now, without waiting."""
        with self._lock:
            if not self._closed:
                self._buffer.extend(self._poll())
            out = list(self._buffer)
            self._buffer.clear()
            return out

    def next(self, timeout: float | None = None) -> T | None:
        """The next event, waiting at most ``timeout`` seconds (None: until one comes or the
        watch is closed); None when none came."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._wake.clear()
            if self._fill():
                return self._pop()
            if self._closed:
                return None
            wait = self._wait()
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                wait = min(wait, remaining)
            self._wake.wait(wait)

    def _wait(self) -> float:
        if time.monotonic() < self._eager_until:
            return min(self.interval, _EAGER_INTERVAL)
        return self.interval

    def __iter__(self) -> Watch[T]:
        return self

    def __next__(self) -> T:
        item = self.next(self.timeout)
        if item is None:
            self.close()
            raise StopIteration
        return item

    async def next_async(self, timeout: float | None = None) -> T | None:
        """Like :meth:`next`, without blocking the event loop."""
        import asyncio

        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._async_wake is None:
            self._loop, self._async_wake = loop, asyncio.Event()
        event = self._async_wake
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            event.clear()
            if await asyncio.to_thread(self._fill):
                return self._pop()
            if self._closed:
                return None
            wait = self._wait()
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                wait = min(wait, remaining)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), wait)

    def __aiter__(self) -> Watch[T]:
        return self

    async def __anext__(self) -> T:
        item = await self.next_async(self.timeout)
        if item is None:
            self.close()
            raise StopAsyncIteration
        return item


# -- following a branch ---------------------------------------------------------------------
def extends(old: Chain, new: Chain) -> bool:
    """Whether the state ``new`` only adds commits to the state ``old``."""
    bounds = dict(new)
    return all(line in bounds and bounds[line] >= bound for line, bound in old)


class Follower:
    """The chain a watch has reported up to, and how to find the next state."""

    def __init__(self, commits: CommitStore, refs: RefStore, branch: str,
                 since: Commit | int | None) -> None:
        self.commits = commits
        self.refs = refs
        self.branch = branch
        if since is None:
            self.chain = self.current()
        elif isinstance(since, int):
            if since != 0:
                raise InvalidValue("since: give a commit, a ref, or 0 for the beginning")
            self.chain = ()
        else:
            self.chain = commits.commit_chain(since)

    def current(self) -> Chain:
        line = self.refs.branch_line(self.branch)
        return self.commits.chain(line, self.commits.line_head(line) or 0)

    def advance(self) -> tuple[Chain, Chain] | None:
        new = self.current()
        if new == self.chain:
            return None
        old, self.chain = self.chain, new
        return old, new


class CommitFollower:
    """The commits a commit watch has delivered, as tips (see the module docstring)."""

    def __init__(self, commits: CommitStore, refs: RefStore, branch: str,
                 since: Commit | int | Iterable[Commit] | None) -> None:
        self.commits = commits
        self.refs = refs
        self.branch = branch
        refs.branch_line(branch)  # RefNotFound for an unknown branch
        self.tips: dict[str, Commit] = {}
        self._checked: str | None = None  # a head known to bring nothing new
        if since is None:
            head = refs.branch_head(branch)
            start: Iterable[Commit] = [head] if head is not None else []
        elif isinstance(since, int):
            if since != 0:
                raise InvalidValue("since: give a commit, a ref, or 0 for the beginning")
            start = []
        elif isinstance(since, Commit):
            start = [since]
        else:
            start = since
        for commit in start:
            self.tips[commit.id] = commit

    def delivered(self, commit: Commit) -> None:
        """Record that ``commit`` was delivered (its parents were, before it)."""
        for parent in commit.parents:
            self.tips.pop(parent, None)
        self.tips[commit.id] = commit

    def new_commits(self) -> list[Commit]:
        """The commits now reachable from the branch head that were not delivered, oldest
        first. The caller delivers them in this order, calling :meth:`delivered` for each."""
        head = self.refs.branch_head(self.branch)
        if head is None or head.id in self.tips or head.id == self._checked:
            return []
        found = reachable_since(self.commits, head, self.tips.values())
        self._checked = None if found else head.id  # e.g. moved back: nothing new there
        return found

    def token(self) -> str:
        """A resume token: the tips' seqs (one seq when the history delivered is linear)."""
        return ",".join(str(seq) for seq in sorted(c.seq for c in self.tips.values())) or "0"


def parse_token(commits: CommitStore, token: str) -> list[Commit]:
    """The tips a :meth:`CommitFollower.token` names ("0": nothing delivered yet)."""
    parts = token.strip().split(",")
    if not all(part.strip().isascii() and part.strip().isdigit() and len(part.strip()) <= 19
               and int(part) < 2**63 for part in parts):
        raise InvalidValue(f"a resume token is commit seqs separated by commas, not {token!r}")
    return [commits.by_seq(int(part)) for part in parts if int(part) != 0]


def commit_poller(follower: CommitFollower) -> Callable[[], list[Commit]]:
    """New commits of the followed branch, each once, after its parents."""

    def poll() -> list[Commit]:
        found = follower.new_commits()
        for commit in found:
            follower.delivered(commit)
        return found

    return poll


def kv_poller(db: Database, follower: Follower, pattern: str) -> Callable[[], list[KVEvent]]:
    """KV events of the followed branch for keys matching ``pattern``, in commit order."""
    commits = follower.commits
    if pattern.endswith("*"):
        low, high = prefix_range(pattern[:-1] or "/")
        key_sql, key_params = "r.key >= ? AND r.key < ?", [low, high]
    else:
        key_sql, key_params = "r.key = ?", [pattern]

    def poll() -> list[KVEvent]:
        moved = follower.advance()
        if moved is None:
            return []
        old, new = moved
        if not extends(old, new):
            return _net_events(db, commits, old, new, pattern)
        added = divergent(old, new)
        if added is None:
            return []
        where, params = added
        rows = [StoredRow(*r) for r in db.all(
            f"SELECT {COLUMNS} FROM rows r WHERE r.kind = ? AND {key_sql} AND {where} "
            "ORDER BY r.seq, r.key", [KIND, *key_params, *params])]
        alive: dict[str, bool] = {}
        events: list[KVEvent] = []
        for row in rows:
            if row.key not in alive:
                before = tuple((line, min(bound, row.seq - 1)) for line, bound in new)
                prior = read_row(db, before, KIND, row.key)
                alive[row.key] = prior is not None and prior.op == PUT
            event = _event(commits, row, alive[row.key])
            alive[row.key] = row.op == PUT
            if event is not None:
                events.append(event)
        return events

    return poll


def _event(commits: CommitStore, row: StoredRow, was_alive: bool,
           commit: Commit | None = None) -> KVEvent | None:
    commit = commit or commits.by_seq(row.seq)
    made = row.origin if row.origin is not None else row.seq  # the commit that made it
    origin = commits.by_seq(made).id if made != commit.seq else None
    if row.op != PUT:
        return KVEvent("deleted", row.key, None, 0, commit, origin) if was_alive else None
    kind: KVEventType = "updated" if was_alive else "created"
    return KVEvent(kind, row.key, to_value(row), parse_tag(row)[0], commit, origin)


def _net_events(db: Database, commits: CommitStore, old: Chain, new: Chain,
                pattern: str) -> list[KVEvent]:
    head = commits.by_seq(new[0][1]) if new[0][1] else None
    if head is None:
        return []
    events = []
    for kind, key in changed_keys(db, old, new):
        if kind != KIND or not matches(pattern, key):
            continue
        before, after = read_row(db, old, KIND, key), read_row(db, new, KIND, key)
        was = before is not None and before.op == PUT
        if after is not None and after.op == PUT and was and before is not None and \
                bytes(before.hash or b"") == bytes(after.hash or b""):
            continue
        if after is None:
            if was:
                events.append(KVEvent("deleted", key, None, 0, head))
            continue
        event = _event(commits, after, was, head)
        if event is not None:
            events.append(event)
    return events
