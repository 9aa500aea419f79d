"""Merge requests: propose merging one branch into another, discuss, approve, check, merge.

A merge request names a source and a target branch, a title and a description. Reviewers
comment and approve; a merge rule (per branch pattern) asks for N approvals. Before a merge
lands its checks run on what the target would receive (:func:`run_checks`): whether every
conflict is resolved, ``fsck`` of the commits that would land, and the Python callables
registered with :func:`register_check`. A failing check blocks the merge.

Like tokens, merge requests are server configuration, not history: they live in tables of the
repository created when missing (``server_merge_requests``, ``server_merge_reviews``,
``server_merge_rules``), neither versioned nor exported. This module does not import FastAPI.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal

from .. import wire
from ..codec import from_us, now_us
from ..errors import Forbidden, InvalidValue, MergeConflict, NotFound, PalimpsestError
from ..types import JSON, Conflict, MergeResult
from . import auth, webhooks
from .auth import Principal

if TYPE_CHECKING:
    from ..repository import Repository
    from ..storage.base import Database

State = Literal["open", "merged", "closed"]
STATES: tuple[State, ...] = ("open", "merged", "closed")
MAX_TITLE = 200
MAX_TEXT = 20_000
Resolutions = Mapping[tuple[str, str, str | None], Any]


class MergeBlocked(Forbidden):
    """A merge request may not merge yet: approvals missing or a check failing (server)."""

    code = "merge_blocked"


@dataclass(frozen=True, slots=True)
class Review:
    """A comment or an approval on a merge request."""

    kind: Literal["comment", "approval"]
    author: str
    body: str
    created: datetime

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "author": self.author, "body": self.body,
                "created": self.created.isoformat()}


@dataclass(frozen=True, slots=True)
class MergeRequest:
    """A proposal to merge ``source`` into ``target``, with its discussion."""

    number: int
    title: str
    description: str
    source: str
    target: str
    author: str
    state: State
    created: datetime
    updated: datetime
    merge_commit: str | None = None
    reviews: tuple[Review, ...] = ()

    @property
    def approvals(self) -> list[str]:
        """Who approved (once each, in order)."""
        seen: list[str] = []
        for r in self.reviews:
            if r.kind == "approval" and r.author not in seen:
                seen.append(r.author)
        return seen

    def to_dict(self) -> dict[str, object]:
        return {"number": self.number, "title": self.title, "description": self.description,
                "source": self.source, "target": self.target, "author": self.author,
                "state": self.state, "created": self.created.isoformat(),
                "updated": self.updated.isoformat(), "merge_commit": self.merge_commit,
                "approvals": self.approvals, "reviews": [r.to_dict() for r in self.reviews]}


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    message: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "message": self.message}


@dataclass(frozen=True)
class CheckContext:
    """What a check sees: the repository, the request, and the merge preview (status,
    ``conflicts``, and in ``diff`` the changes the target would receive; None when conflicts
    are left)."""

    repo: Repository
    request: MergeRequest
    preview: MergeResult
    resolutions: Resolutions | None = None


Check = Callable[[CheckContext], "CheckResult | str | bool | None"]
"""A check returns None/True/'' (passes), False or a message (fails), or a CheckResult."""


@dataclass
class Checks:
    """The checks of one server: the built-in ones and those registered."""

    extra: dict[str, Check] = field(default_factory=dict)
    fsck_commits: int = 1000
    """fsck verifies at most this many of the newest commits."""


def checks_of(state: Any) -> Checks:
    """The checks of a server (``app.state.merge_checks``; the built-in ones until set)."""
    found: Checks | None = getattr(state, "merge_checks", None)
    if found is None:
        found = state.merge_checks = Checks()
    return found


def register_check(checks: Checks, name: str, check: Check) -> None:
    """Add a check run before every merge of a merge request (replacing one of that name)."""
    if not name or name in ("conflicts", "fsck"):
        raise InvalidValue(f"a check needs a name other than the built-in ones, not {name!r}")
    checks.extra[name] = check


# -- storage -------------------------------------------------------------------------------
_READY: weakref.WeakSet[Any] = weakref.WeakSet()


def ensure_tables(db: Database) -> None:
    """Create the merge request tables if missing (idempotent; once per handle)."""
    with contextlib.suppress(TypeError):
        if db in _READY:
            return
    bigint, autoid = db.dialect.bigint, db.dialect.autoid
    with db.write():
        db.run(f"""CREATE TABLE IF NOT EXISTS server_merge_requests (
            number       {bigint} PRIMARY KEY,
            title        TEXT NOT NULL,
            description  TEXT NOT NULL,
            source       TEXT NOT NULL,
            target       TEXT NOT NULL,
            author       TEXT NOT NULL,
            state        TEXT NOT NULL,
            created_us   {bigint} NOT NULL,
            updated_us   {bigint} NOT NULL,
            merge_commit TEXT
        )""")
        db.run(f"""CREATE TABLE IF NOT EXISTS server_merge_reviews (
            id         {autoid},
            number     {bigint} NOT NULL,
            kind       TEXT NOT NULL,
            author     TEXT NOT NULL,
            body       TEXT NOT NULL,
            created_us {bigint} NOT NULL
        )""")
        db.run(f"""CREATE TABLE IF NOT EXISTS server_merge_rules (
            pattern    TEXT PRIMARY KEY,
            approvals  {bigint} NOT NULL,
            created_us {bigint} NOT NULL
        )""")
    with contextlib.suppress(TypeError):
        _READY.add(db)


_COLUMNS = ("number, title, description, source, target, author, state, created_us, "
            "updated_us, merge_commit")


def _request(row: Any, reviews: tuple[Review, ...] = ()) -> MergeRequest:
    n, title, description, source, target, author, state, created, updated, commit = row
    return MergeRequest(int(n), str(title), str(description), str(source), str(target),
                        str(author), state, from_us(int(created)), from_us(int(updated)),
                        commit, reviews)


def _text(value: str, what: str, limit: int, *, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidValue(f"a merge request needs a {what}")
    if len(value) > limit:
        raise InvalidValue(f"the {what} is longer than {limit} characters; shorten it")
    if "\x00" in value:
        raise InvalidValue(f"the {what} contains a NUL character (U+0000); remove it")
    return value


def create(repo: Repository, principal: Principal, *, source: str, target: str, title: str,
           description: str = "") -> MergeRequest:
    """Open a merge request (writers and admins)."""
    auth.require_role(principal, "writer", "opening a merge request")
    title = _text(title, "title", MAX_TITLE, required=True)
    description = _text(description, "description", MAX_TEXT)
    names = {b.name for b in repo.branches(None)}
    for name in (source, target):
        if name not in names:
            raise NotFound(f"no branch {name!r}; a merge request goes from one branch into "
                           "another (create the branch first)")
    if source == target:
        raise InvalidValue("a merge request needs two different branches")
    db = repo.database
    ensure_tables(db)
    now = now_us()
    with db.write():
        row = db.one("SELECT MAX(number) FROM server_merge_requests")
        number = int(row[0]) + 1 if row and row[0] is not None else 1
        db.run(f"INSERT INTO server_merge_requests ({_COLUMNS}) VALUES "
               "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (number, title, description, source, target, principal.user, "open", now, now,
                None))
    return _announce(repo, "merge_request.opened", get(repo, number))


def get(repo: Repository, number: int) -> MergeRequest:
    db = repo.database
    ensure_tables(db)
    row = db.one(f"SELECT {_COLUMNS} FROM server_merge_requests WHERE number = ?", (number,))
    if row is None:
        raise NotFound(f"no merge request #{number}")
    reviews = tuple(Review(kind, str(author), str(body), from_us(int(created)))
                    for kind, author, body, created in db.all(
                        "SELECT kind, author, body, created_us FROM server_merge_reviews "
                        "WHERE number = ? ORDER BY id", (number,)))
    return _request(row, reviews)


def list_requests(repo: Repository, state: str | None = None) -> list[MergeRequest]:
    """Merge requests, newest first; ``state`` one of open, merged, closed (None: all)."""
    if state is not None and state not in STATES:
        raise InvalidValue(f"state must be one of {', '.join(STATES)}, not {state!r}")
    db = repo.database
    ensure_tables(db)
    sql = f"SELECT {_COLUMNS} FROM server_merge_requests"
    rows = (db.all(sql + " WHERE state = ? ORDER BY number DESC", (state,)) if state else
            db.all(sql + " ORDER BY number DESC"))
    reviews: dict[int, list[Review]] = {}
    for number, kind, author, body, created in db.all(
            "SELECT number, kind, author, body, created_us FROM server_merge_reviews "
            "ORDER BY id"):
        reviews.setdefault(int(number), []).append(
            Review(kind, str(author), str(body), from_us(int(created))))
    return [_request(r, tuple(reviews.get(int(r[0]), ()))) for r in rows]


def _review(repo: Repository, number: int, kind: str, author: str, body: str) -> None:
    db = repo.database
    now = now_us()
    with db.write():
        db.run("INSERT INTO server_merge_reviews (number, kind, author, body, created_us) "
               "VALUES (?, ?, ?, ?, ?)", (number, kind, author, body, now))
        db.run("UPDATE server_merge_requests SET updated_us = ? WHERE number = ?",
               (now, number))


def comment(repo: Repository, principal: Principal, number: int, body: str) -> MergeRequest:
    """Add a comment (anyone who can read)."""
    get(repo, number)
    _review(repo, number, "comment", principal.user, _text(body, "comment", MAX_TEXT,
                                                           required=True))
    return get(repo, number)


def approve(repo: Repository, principal: Principal, number: int, body: str = ""
            ) -> MergeRequest:
    """Approve an open merge request (writers and admins, not its author)."""
    auth.require_role(principal, "writer", "approving a merge request")
    request = get(repo, number)
    if request.state != "open":
        raise InvalidValue(f"merge request #{number} is {request.state}; only open ones "
                           "can be approved")
    if principal.user == request.author:
        raise Forbidden(f"{principal.user} opened merge request #{number} and cannot approve "
                        "it; ask another reviewer")
    _review(repo, number, "approval", principal.user, _text(body, "comment", MAX_TEXT))
    return _announce(repo, "merge_request.approved", get(repo, number),
                     approver=principal.user)


def close(repo: Repository, principal: Principal, number: int) -> MergeRequest:
    """Close without merging (its author or an admin)."""
    request = get(repo, number)
    if principal.user != request.author and not principal.is_admin:
        raise Forbidden(f"only {request.author} (who opened it) or an admin may close merge "
                        f"request #{number}")
    if request.state != "open":
        raise InvalidValue(f"merge request #{number} is already {request.state}")
    _set_state(repo, number, "closed", None)
    return get(repo, number)


def _set_state(repo: Repository, number: int, state: State, commit: str | None) -> None:
    db = repo.database
    with db.write():
        db.run("UPDATE server_merge_requests SET state = ?, merge_commit = ?, updated_us = ? "
               "WHERE number = ?", (state, commit, now_us(), number))


# -- rules ---------------------------------------------------------------------------------
def set_rule(repo: Repository, pattern: str, approvals: int) -> None:
    """Branches matching ``pattern`` merge a merge request only with ``approvals`` approvals
    (0 removes the rule)."""
    if not pattern or len(pattern) > 200 or any(ord(ch) < 32 for ch in pattern) or \
            approvals < 0 or approvals > 100:
        raise InvalidValue("a merge rule needs a branch pattern (at most 200 characters, no "
                           "control characters) and 0 to 100 approvals")
    db = repo.database
    ensure_tables(db)
    with db.write():
        db.run("DELETE FROM server_merge_rules WHERE pattern = ?", (pattern,))
        if approvals:
            db.run("INSERT INTO server_merge_rules (pattern, approvals, created_us) "
                   "VALUES (?, ?, ?)", (pattern, approvals, now_us()))


def required_approvals(repo: Repository, branch: str) -> int:
    """The approvals a merge into ``branch`` needs (the largest of the matching rules)."""
    db = repo.database
    ensure_tables(db)
    rows = db.all("SELECT pattern, approvals FROM server_merge_rules")
    return max((int(n) for p, n in rows if fnmatchcase(branch, str(p))), default=0)


# -- checks and merging --------------------------------------------------------------------
def preview(repo: Repository, request: MergeRequest, resolutions: Resolutions | None = None,
            strategy: str | None = None) -> MergeResult:
    return repo.merge_preview(request.source, into=request.target, strategy=strategy,
                              resolutions=resolutions)


def run_checks(repo: Repository, request: MergeRequest, checks: Checks,
               resolutions: Resolutions | None = None, strategy: str | None = None
               ) -> list[CheckResult]:
    """Every check on what merging ``request`` (with these resolutions) would land."""
    try:
        result = preview(repo, request, resolutions, strategy)
    except MergeConflict as exc:
        return [CheckResult("conflicts", False, str(exc))]
    out = [CheckResult("conflicts", not result.conflicts,
                       f"{len(result.conflicts)} conflict(s) to resolve" if result.conflicts
                       else "no conflicts left")]
    out.append(_fsck(repo, request, checks.fsck_commits))
    context = CheckContext(repo, request, result, resolutions)
    for name, check in checks.extra.items():
        try:
            answer = check(context)
        except PalimpsestError as exc:
            answer = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a user's check failing is a failed check, not a 500
            answer = f"the check raised {type(exc).__name__}: {exc}"
        out.append(_as_result(name, answer))
    return out


def _as_result(name: str, answer: CheckResult | str | bool | None) -> CheckResult:
    if isinstance(answer, CheckResult):
        return answer
    if answer is None or answer is True or answer == "":
        return CheckResult(name, True, "passed")
    if answer is False:
        return CheckResult(name, False, "failed")
    return CheckResult(name, False, str(answer))


def _fsck(repo: Repository, request: MergeRequest, limit: int) -> CheckResult:
    """fsck of the commits the merge would bring in (the source's commits ahead of the
    target), at most ``limit`` of the newest commits."""
    ahead = next((b.ahead for b in repo.branches(request.target)
                  if b.name == request.source), None) or 0
    report = repo.fsck(last=min(max(ahead, 1), limit))
    if report.problems:
        return CheckResult("fsck", False, "; ".join(str(p) for p in report.problems[:3]))
    return CheckResult("fsck", True, f"{report.commits} commit(s) verified")


def merge(repo: Repository, principal: Principal, number: int, checks: Checks, *,
          resolutions: Resolutions | None = None, strategy: str | None = None,
          message: str | None = None) -> tuple[MergeRequest, MergeResult]:
    """Merge an open merge request: the merger's rights on the target (protection), the
    required approvals, and every check must pass. The merge commit's message names the
    request (``Merge request #N: title``) and its metadata records it (``"merge_request": N``,
    ``"approved_by"``, the ``"checks"`` passed); a merge that could fast-forward writes a merge
    commit too, so the request is always in the target's history."""
    request = get(repo, number)
    if request.state != "open":
        raise InvalidValue(f"merge request #{number} is {request.state}; only open ones merge")
    auth.require_merge(repo.database, principal, request.target)
    needed = required_approvals(repo, request.target)
    have = [u for u in request.approvals if u != request.author]
    if len(have) < needed:
        raise MergeBlocked(f"merging into {request.target!r} needs {needed} approval(s); "
                           f"merge request #{number} has {len(have)}")
    passed = run_checks(repo, request, checks, resolutions, strategy)
    failed = [c for c in passed if not c.ok]
    if failed:
        raise MergeBlocked("checks failed: " + "; ".join(f"{c.name}: {c.message}"
                                                         for c in failed))
    text = message or f"Merge request #{number}: {request.title}\n\n" \
        f"Merge {request.source} into {request.target}.\nMerge-Request: #{number}"
    record: dict[str, JSON] = {"merge_request": number, "approved_by": list(have),
                               "checks": [c.name for c in passed]}
    result = repo.merge(request.source, into=request.target, message=text,
                        author=principal.user, strategy=strategy, resolutions=resolutions,
                        metadata=record)
    if result.status == "conflict":
        raise MergeConflict(f"merge request #{number} has {len(result.conflicts)} conflict(s); "
                            "resolve them first", result.conflicts)
    _set_state(repo, number, "merged", result.commit.id if result.commit else None)
    return _announce(repo, "merge_request.merged", get(repo, number)), result


def _announce(repo: Repository, event: str, request: MergeRequest, **extra: Any
              ) -> MergeRequest:
    """Tell the webhooks about ``event`` (queued; never blocks or fails the request)."""
    webhooks.emit(repo, event, request.to_dict() | extra, request.target)
    return request


def conflict_dicts(conflicts: list[Conflict]) -> list[dict[str, Any]]:
    return [wire.encode(c) for c in conflicts]
