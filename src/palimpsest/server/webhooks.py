"""Webhooks: admins register URLs that receive a signed JSON POST when something happens.

Events: ``commit`` (a commit on a branch matching the hook's branch pattern), ``merge`` (a
merge commit), ``merge_request.opened``, ``merge_request.approved``, ``merge_request.merged``
and ``tag``. Each delivery carries ``X-Palimpsest-Event``, ``X-Palimpsest-Delivery`` (its id)
and ``X-Palimpsest-Signature: sha256=<hex HMAC-SHA256 of the body with the hook's secret>``.

Deliveries leave from one background thread per server (never from a request or the event
loop) and are retried with exponential backoff; every attempt updates the delivery's row, so
``deliveries`` shows what happened. Hooks and deliveries are server configuration, like
tokens: stored in tables created on first use, not versioned, not exported.

This module does not import FastAPI, so the CLI can manage hooks without the server extra.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import queue
import secrets
import threading
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from ..codec import from_us, now_us
from ..errors import InvalidValue, NotFound

if TYPE_CHECKING:
    from ..repository import Repository
    from ..storage.base import Database
    from ..types import Commit

EVENTS: tuple[str, ...] = ("commit", "merge", "merge_request.opened", "merge_request.approved",
                           "merge_request.merged", "tag")


@dataclass(frozen=True, slots=True)
class Webhook:
    """A registered URL and the events it receives (its secret is shown only at creation)."""

    id: str
    url: str
    events: tuple[str, ...]
    branch_pattern: str
    created: datetime

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "url": self.url, "events": list(self.events),
                "branch_pattern": self.branch_pattern, "created": self.created.isoformat()}

    def wants(self, event: str, branch: str | None) -> bool:
        if event not in self.events:
            return False
        return branch is None or any(fnmatchcase(branch, p.strip())
                                     for p in self.branch_pattern.split(","))


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event sent (or being sent) to one hook."""

    id: str
    hook_id: str
    event: str
    status: str
    """``pending``, ``delivered`` or ``failed`` (after the last attempt)."""
    attempts: int
    http_status: int | None
    error: str | None
    created: datetime

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "hook_id": self.hook_id, "event": self.event,
                "status": self.status, "attempts": self.attempts,
                "http_status": self.http_status, "error": self.error,
                "created": self.created.isoformat()}


# -- storage -------------------------------------------------------------------------------
_READY: weakref.WeakSet[Any] = weakref.WeakSet()


def ensure_tables(db: Database) -> None:
    """Create the hook and delivery tables if missing (idempotent; once per handle)."""
    with contextlib.suppress(TypeError):
        if db in _READY:
            return
    bigint = db.dialect.bigint
    with db.write():
        db.run(f"""CREATE TABLE IF NOT EXISTS server_webhooks (
            id             TEXT PRIMARY KEY,
            url            TEXT NOT NULL,
            events         TEXT NOT NULL,
            branch_pattern TEXT NOT NULL,
            secret         TEXT NOT NULL,
            created_us     {bigint} NOT NULL
        )""")
        db.run(f"""CREATE TABLE IF NOT EXISTS server_webhook_deliveries (
            id          TEXT PRIMARY KEY,
            hook_id     TEXT NOT NULL,
            event       TEXT NOT NULL,
            status      TEXT NOT NULL,
            attempts    INTEGER NOT NULL,
            http_status INTEGER,
            error       TEXT,
            created_us  {bigint} NOT NULL
        )""")
    with contextlib.suppress(TypeError):
        _READY.add(db)


def _check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise InvalidValue(f"a webhook URL must be an absolute http:// or https:// URL, "
                           f"not {url!r}")
    return url.strip()


def _check_events(events: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if not events:
        raise InvalidValue(f"give at least one event: {', '.join(EVENTS)}")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise InvalidValue(f"unknown webhook event {unknown[0]!r}: use one of "
                           f"{', '.join(EVENTS)}")
    return tuple(dict.fromkeys(events))


def add_hook(repo: Repository, url: str, events: list[str] | tuple[str, ...], *,
             branch_pattern: str = "*", secret: str | None = None) -> tuple[Webhook, str]:
    """Register a hook; returns it and its signing secret (generated unless given)."""
    db = repo.database
    ensure_tables(db)
    hook = Webhook(secrets.token_hex(6), _check_url(url), _check_events(events),
                   branch_pattern.strip() or "*", from_us(now_us()))
    secret = secret or secrets.token_hex(32)
    with db.write():
        db.run("INSERT INTO server_webhooks (id, url, events, branch_pattern, secret, "
               "created_us) VALUES (?, ?, ?, ?, ?, ?)",
               (hook.id, hook.url, ",".join(hook.events), hook.branch_pattern, secret,
                now_us()))
    return hook, secret


def _hooks(db: Database) -> list[tuple[Webhook, str]]:
    ensure_tables(db)
    rows = db.all("SELECT id, url, events, branch_pattern, secret, created_us "
                  "FROM server_webhooks ORDER BY created_us, id")
    return [(Webhook(str(r[0]), str(r[1]), tuple(str(r[2]).split(",")), str(r[3]),
                     from_us(int(r[5]))), str(r[4])) for r in rows]


def list_hooks(repo: Repository) -> list[Webhook]:
    """Every registered hook (without secrets)."""
    return [hook for hook, _ in _hooks(repo.database)]


def remove_hook(repo: Repository, hook_id: str) -> None:
    """Unregister a hook: it receives nothing more (deliveries already queued are dropped)."""
    db = repo.database
    ensure_tables(db)
    if db.one("SELECT 1 FROM server_webhooks WHERE id = ?", (hook_id,)) is None:
        raise NotFound(f"no webhook {hook_id!r}; list them with `palimpsest webhook list`")
    with db.write():
        db.run("DELETE FROM server_webhooks WHERE id = ?", (hook_id,))


def deliveries(repo: Repository, hook_id: str, limit: int = 100) -> list[Delivery]:
    """The latest deliveries of a hook, newest first."""
    db = repo.database
    ensure_tables(db)
    if db.one("SELECT 1 FROM server_webhooks WHERE id = ?", (hook_id,)) is None:
        raise NotFound(f"no webhook {hook_id!r}; list them with `palimpsest webhook list`")
    rows = db.all("SELECT id, hook_id, event, status, attempts, http_status, error, "
                  "created_us FROM server_webhook_deliveries WHERE hook_id = ? "
                  "ORDER BY created_us DESC, id DESC LIMIT ?", (hook_id, limit))
    return [Delivery(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]),
                     None if r[5] is None else int(r[5]), None if r[6] is None else str(r[6]),
                     from_us(int(r[7]))) for r in rows]


def sign(secret: str, body: bytes) -> str:
    """The ``X-Palimpsest-Signature`` value of ``body``: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- delivery --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Job:
    delivery_id: str
    hook_id: str
    url: str
    secret: str
    event: str
    body: bytes


class Dispatcher:
    """Sends deliveries from one daemon thread, retrying with exponential backoff."""

    def __init__(self, repo: Repository, *, attempts: int = 5, backoff_seconds: float = 1.0,
                 timeout_seconds: float = 10.0) -> None:
        self.repo = repo
        self.attempts = max(1, attempts)
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="palimpsest-webhooks",
                                        daemon=True)
        self._thread.start()

    def emit(self, event: str, payload: dict[str, Any], branch: str | None = None) -> None:
        """Queue ``event`` for every hook that wants it (cheap: one read, no network)."""
        hooks = [(h, s) for h, s in _hooks(self.repo.database) if h.wants(event, branch)]
        if not hooks:
            return
        body = orjson.dumps({"event": event, "payload": payload,
                             "repository": self.repo.url.rsplit("/", 1)[-1]})
        db = self.repo.database
        for hook, secret in hooks:
            delivery_id = secrets.token_hex(8)
            with db.write():
                db.run("INSERT INTO server_webhook_deliveries (id, hook_id, event, status, "
                       "attempts, created_us) VALUES (?, ?, ?, 'pending', 0, ?)",
                       (delivery_id, hook.id, event, now_us()))
            self._queue.put(_Job(delivery_id, hook.id, hook.url, secret, event, body))

    def close(self) -> None:
        self._stop.set()
        self._queue.put(None)

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._queue.get()
            if job is None:
                return
            with contextlib.suppress(Exception):  # a broken database must not kill the thread
                self._deliver(job)

    def _still_registered(self, hook_id: str) -> bool:
        return self.repo.database.one("SELECT 1 FROM server_webhooks WHERE id = ?",
                                      (hook_id,)) is not None

    def _deliver(self, job: _Job) -> None:
        db = self.repo.database
        for attempt in range(1, self.attempts + 1):
            if attempt > 1 and self._stop.wait(self.backoff_seconds * 2 ** (attempt - 2)):
                return
            if not self._still_registered(job.hook_id):
                return
            http_status, error = self._post(job)
            ok = http_status is not None and 200 <= http_status < 300
            status = "delivered" if ok else ("failed" if attempt == self.attempts
                                              else "pending")
            with db.write():
                db.run("UPDATE server_webhook_deliveries SET status = ?, attempts = ?, "
                       "http_status = ?, error = ? WHERE id = ?",
                       (status, attempt, http_status, error, job.delivery_id))
            if ok:
                return

    def _post(self, job: _Job) -> tuple[int | None, str | None]:
        request = urllib.request.Request(job.url, data=job.body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "palimpsest-webhooks",
            "X-Palimpsest-Event": job.event, "X-Palimpsest-Delivery": job.delivery_id,
            "X-Palimpsest-Signature": sign(job.secret, job.body)})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                return int(response.status), None
        except urllib.error.HTTPError as exc:
            return int(exc.code), f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            return None, str(exc)[:500] or type(exc).__name__


_DISPATCHERS: weakref.WeakKeyDictionary[Any, Dispatcher] = weakref.WeakKeyDictionary()


def install(repo: Repository, *, attempts: int = 5, backoff_seconds: float = 1.0
            ) -> Dispatcher:
    """Start delivering for ``repo`` (once per handle) and send commit and merge events."""
    found = _DISPATCHERS.get(repo)
    if found is not None:
        return found
    ensure_tables(repo.database)
    dispatcher = Dispatcher(repo, attempts=attempts, backoff_seconds=backoff_seconds)
    _DISPATCHERS[repo] = dispatcher

    def on_commit(commit: Commit) -> None:
        with contextlib.suppress(Exception):  # a hook must never fail a commit
            event = "merge" if len(commit.parents) > 1 else "commit"
            if not any(event in hook.events for hook, _ in _hooks(repo.database)):
                return  # the usual case: no branch lookup
            branches: list[str | None] = [
                b.name for b in repo.branches(base=None)
                if b.head is not None and b.head.id == commit.id]
            payload = {"id": commit.id, "parents": list(commit.parents),
                       "author": commit.author, "message": commit.message,
                       "timestamp": commit.timestamp.isoformat()}
            for branch in branches or [None]:  # None: no branch points at it any more
                dispatcher.emit(event, payload | {"branch": branch}, branch)

    repo.on_commit(on_commit)
    return dispatcher


def emit(repo: Repository, event: str, payload: dict[str, Any],
         branch: str | None = None) -> None:
    """Send ``event`` to the hooks of ``repo`` if a server delivers for it (else nothing)."""
    dispatcher = _DISPATCHERS.get(repo)
    if dispatcher is not None:
        with contextlib.suppress(Exception):
            dispatcher.emit(event, payload, branch)
