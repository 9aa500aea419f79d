"""Group commit for the key-value API: many concurrent writers in one process share a commit.

Opt-in (``palimpsest.open(..., kv_group_commit=0.002)``). A write queues its build (the function
that checks versions and makes its rows under the write lock); the first writer to find no
commit in progress becomes the *leader*: it waits the window for others to queue, then runs
every queued build in one commit — each against the state the earlier builds of the group left,
each with its own checks, so a failed check fails that caller only — and wakes the callers once
the commit is durable. Writers that queue while a commit runs form the next group. A group
holds one author and one metadata, and no key twice (a later write of a key already in the group
waits for the next group), so every caller still gets its own version of its key.

The trade-off: one commit holds several callers' writes (one message listing theirs, one commit
id in their entries, one entry in the log), and a caller waits up to the window longer when it
writes alone. In exchange the commits per second, not the writes, pay the fixed cost of a commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..codec import encode
from ..errors import InvalidValue
from ..types import JSON, Commit
from ..versioning.elements import Write

MAX_GROUP = 1000
"""Most writes in one group commit: bounds the commit's size and the waiting callers."""

Build = Callable[[Any], list[Write]]


class Committer(Protocol):
    def kv_commit(self, branch: str | None, message: str, author: str | None,
                  metadata: Mapping[str, JSON] | None, build: Build) -> Commit | None: ...


@dataclass(eq=False)
class _Item:
    host: Committer
    branch: str | None
    message: str
    author: str | None
    metadata: Mapping[str, JSON] | None
    group: tuple[int, str | None, str | None, str]
    keys: frozenset[str]
    build: Build
    done: threading.Event = field(default_factory=threading.Event)
    commit: Commit | None = None
    error: BaseException | None = None


class GroupCommit:
    """The queue of one repository handle's kv writes (see the module doc)."""

    def __init__(self, window: float) -> None:
        if not isinstance(window, int | float) or isinstance(window, bool) or \
                not 0 <= window <= 1:
            raise InvalidValue(f"the group commit window is in seconds, from 0 to 1, not "
                             f"{window!r}")
        self.window = float(window)
        self._lock = threading.Lock()
        self._queue: list[_Item] = []
        self._leading = False

    def submit(self, host: Committer, branch: str | None, message: str, author: str | None,
               metadata: Mapping[str, JSON] | None, keys: frozenset[str],
               build: Build) -> Commit | None:
        """Queue one write and return once the commit holding it is durable (None: the group
        wrote nothing); raise what its build raised, or what the commit raised."""
        meta = encode(dict(metadata)) if metadata else "{}"
        item = _Item(host, branch, message, author, metadata, (id(host), branch, author, meta),
                     keys, build)
        with self._lock:
            self._queue.append(item)
            lead = not self._leading
            self._leading = True
        while not item.done.is_set():
            if lead:
                self._lead()
                lead = False
            elif not item.done.wait(0.05):
                with self._lock:  # the leader died (an interrupt): take over
                    lead = not self._leading
                    self._leading = True
        if item.error is not None:
            raise item.error
        return item.commit

    def _lead(self) -> None:
        try:
            if self.window:
                time.sleep(self.window)
            while True:
                with self._lock:
                    batch = self._take()
                    if not batch:
                        self._leading = False
                        return
                self._run(batch)
        except BaseException:
            with self._lock:
                self._leading = False
            raise

    def _take(self) -> list[_Item]:
        """The next group: the oldest write, then every later one that can join it without
        overtaking an earlier write of the same key."""
        if not self._queue:
            return []
        first = self._queue[0]
        batch: list[_Item] = []
        rest: list[_Item] = []
        used: set[str] = set()
        blocked: set[str] = set()
        for item in self._queue:
            if (item.group == first.group and len(batch) < MAX_GROUP
                    and not item.keys & used and not item.keys & blocked):
                batch.append(item)
                used |= item.keys
            else:
                rest.append(item)
                blocked |= item.keys
        self._queue = rest
        return batch

    @staticmethod
    def _run(batch: list[_Item]) -> None:
        first = batch[0]

        def build(read: Any) -> list[Write]:
            writes: list[Write] = []
            for item in batch:
                try:
                    writes += item.build(read)
                except Exception as exc:  # that caller's failed check: the others go on
                    item.error = exc
            return writes

        if len(batch) == 1:
            message = first.message
        else:
            message = f"kv group commit of {len(batch)} writes\n\n" + \
                "\n".join(item.message for item in batch)
        try:
            commit = first.host.kv_commit(first.branch, message, first.author, first.metadata,
                                          build)
        except BaseException as exc:
            for item in batch:
                if item.error is None:
                    item.error = exc
            commit = None
        for item in batch:
            item.commit = commit
            item.done.set()
