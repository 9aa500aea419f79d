"""Bearer tokens, roles per branch pattern, and protected branches.

A token is shown once, when it is created; the repository keeps only its SHA-256 hash (the
secret part has 256 random bits, so a fast hash is enough). Tokens and protection rules live in
two tables of the repository created on first use; they are server configuration, not history:
they are not versioned and not exported.

Roles: ``reader`` reads everything; ``writer`` also commits to branches matching its branch
pattern (``fnmatch`` syntax, several patterns separated by commas); ``admin`` also manages
tokens, branches and protection. A protected branch refuses direct commits from everyone; it
changes only through a merge by an admin or by a writer listed as a merger of the rule (and an
admin may roll it back). Only an admin creates a branch or a tag whose name matches a
protected pattern.

This module does not import FastAPI, so the CLI can manage tokens without the server extra.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal

import orjson

from ..codec import check_name, from_us, now_us, to_us
from ..errors import BranchProtected, Forbidden, InvalidValue, NotFound, Unauthorized

if TYPE_CHECKING:
    from ..repository import Repository
    from ..storage.base import Database

Role = Literal["reader", "writer", "admin"]
ROLES: tuple[Role, ...] = ("reader", "writer", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
TOKEN_PREFIX = "pal_"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What the repository knows about a token (never its secret)."""

    id: str
    user: str
    role: Role
    branch_pattern: str
    created: datetime
    revoked: datetime | None = None
    expires: datetime | None = None

    @property
    def active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked is None and (self.expires is None or
                                         self.expires > datetime.now(UTC))

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "user": self.user, "role": self.role,
                "branch_pattern": self.branch_pattern, "created": self.created.isoformat(),
                "revoked": self.revoked.isoformat() if self.revoked else None,
                "expires": self.expires.isoformat() if self.expires else None}


@dataclass(frozen=True, slots=True)
class Protection:
    """A protection rule: branches matching ``pattern`` accept changes only through merges."""

    pattern: str
    mergers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"pattern": self.pattern, "mergers": list(self.mergers)}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    user: str
    role: Role
    branch_pattern: str = "*"
    token_id: str | None = None
    expires_us: int | None = None
    """When the token stops working (microseconds since the epoch); None: never."""

    def at_least(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def matches(self, branch: str) -> bool:
        return any(fnmatchcase(branch, p.strip()) for p in self.branch_pattern.split(","))

    def can_write(self, branch: str) -> bool:
        return self.at_least("writer") and self.matches(branch)

    def to_dict(self) -> dict[str, object]:
        return {"user": self.user, "role": self.role, "branch_pattern": self.branch_pattern,
                "token_id": self.token_id,
                "expires": from_us(self.expires_us).isoformat() if self.expires_us else None}


LOCAL_ADMIN_ROLE: Role = "admin"


# -- storage -------------------------------------------------------------------------------
_READY: weakref.WeakSet[Any] = weakref.WeakSet()


def ensure_tables(db: Database) -> None:
    """Create the token and protection tables if missing (idempotent; once per handle)."""
    try:
        if db in _READY:
            return
    except TypeError:  # a backend object that cannot be weakly referenced
        pass
    _create_tables(db)
    with contextlib.suppress(TypeError):
        _READY.add(db)


def _create_tables(db: Database) -> None:
    bigint = db.dialect.bigint
    with db.write():
        db.run(f"""CREATE TABLE IF NOT EXISTS server_tokens (
            id             TEXT PRIMARY KEY,
            user_name      TEXT NOT NULL,
            role           TEXT NOT NULL,
            branch_pattern TEXT NOT NULL,
            secret_hash    TEXT NOT NULL,
            created_us     {bigint} NOT NULL,
            revoked_us     {bigint},
            expires_us     {bigint}
        )""")
        db.run(f"""CREATE TABLE IF NOT EXISTS server_protection (
            pattern    TEXT PRIMARY KEY,
            mergers    TEXT NOT NULL,
            created_us {bigint} NOT NULL
        )""")
    try:  # tables made before tokens could expire
        db.one("SELECT expires_us FROM server_tokens WHERE 1 = 0")
    except Exception:
        with contextlib.suppress(Exception), db.write():  # another process may be quicker
            db.run(f"ALTER TABLE server_tokens ADD COLUMN expires_us {bigint}")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_expiry(value: str | datetime | timedelta, *, now: datetime | None = None
                 ) -> datetime:
    """When a token given ``expires=`` stops working: a duration from now (``30d``, ``12h``,
    ``45m``, ``90s``, ``2w``, or a ``timedelta``) or a time (ISO 8601 text or a
    ``datetime``; naive means UTC). Raises InvalidValue for anything else or a past time."""
    now = now or datetime.now(UTC)
    if isinstance(value, timedelta):
        when = now + value
    elif isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        match = _DURATION.match(value)
        if match:
            when = now + timedelta(seconds=float(match.group(1)) *
                                   _UNIT_SECONDS[match.group(2)])
        else:
            try:
                when = datetime.fromisoformat(value.strip())
            except ValueError:
                raise InvalidValue(f"expires must be a duration like 30d, 12h, 45m, 90s or "
                                   f"2w, or an ISO 8601 time, not {value!r}") from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
    if when <= now:
        raise InvalidValue(f"expires must lie in the future, not {when.isoformat()}")
    return when


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise InvalidValue(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _check_pattern(pattern: str) -> str:
    check_name(pattern, "branch pattern")
    if not any(p.strip() for p in pattern.split(",")):
        raise InvalidValue(f"branch pattern {pattern!r} names no branch")
    return pattern


def create_token(repo: Repository, user: str, role: str, branch_pattern: str = "*", *,
                 expires: str | datetime | timedelta | None = None) -> str:
    """Create a token for ``user`` and return it; it is not stored and cannot be shown again.

    The token looks like ``pal_<id>_<secret>``; ``<id>`` is what :func:`list_tokens` shows and
    :func:`revoke_token` takes. ``expires`` (see :func:`parse_expiry`: ``"30d"``, a
    ``timedelta``, a ``datetime``...) makes it stop working then, on every route and on open
    watch streams; None: until revoked.
    """
    check_name(user, "user")
    checked = _check_role(role)
    _check_pattern(branch_pattern)
    expires_us = to_us(parse_expiry(expires)) if expires is not None else None
    db = repo.database
    ensure_tables(db)
    token_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    with db.write():
        db.run("INSERT INTO server_tokens (id, user_name, role, branch_pattern, secret_hash, "
               "created_us, expires_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
               (token_id, user, checked, branch_pattern, _hash(token), now_us(), expires_us))
    return token


def revoke_token(repo: Repository, token_id: str) -> None:
    """Revoke a token at once (it stays listed, marked revoked); raises NotFound."""
    db = repo.database
    ensure_tables(db)
    if token_id.startswith(TOKEN_PREFIX):  # the whole token was given: take its id
        token_id = token_id[len(TOKEN_PREFIX):].split("_", 1)[0]
    with db.write():
        changed = db.run("UPDATE server_tokens SET revoked_us = ? WHERE id = ? AND "
                         "revoked_us IS NULL", (now_us(), token_id))
        if not changed and db.one("SELECT 1 FROM server_tokens WHERE id = ?",
                                  (token_id,)) is None:
            raise NotFound(f"no token with id {token_id!r}; see `palimpsest token list`")


def list_tokens(repo: Repository) -> list[TokenInfo]:
    """Every token, active and revoked, oldest first."""
    db = repo.database
    ensure_tables(db)
    rows = db.all("SELECT id, user_name, role, branch_pattern, created_us, revoked_us, "
                  "expires_us FROM server_tokens ORDER BY created_us, id")
    return [TokenInfo(i, u, _check_role(r), p, from_us(c), from_us(v) if v is not None else None,
                      from_us(x) if x is not None else None)
            for i, u, r, p, c, v, x in rows]


def authenticate(db: Database, token: str | None) -> Principal:
    """The principal a token stands for; raises Unauthorized for a missing, malformed,
    unknown, revoked or expired token (all with the same message, to leak nothing)."""
    if not token:
        raise Unauthorized("missing token: send 'Authorization: Bearer <token>' "
                           "(create one with `palimpsest token create`)")
    bad = Unauthorized("invalid, revoked or expired token")
    if not token.startswith(TOKEN_PREFIX) or token.count("_") < 2:
        raise bad
    token_id = token[len(TOKEN_PREFIX):].split("_", 1)[0]
    ensure_tables(db)
    row = db.one("SELECT user_name, role, branch_pattern, secret_hash, revoked_us, expires_us "
                 "FROM server_tokens WHERE id = ?", (token_id,))
    if row is None or row[4] is not None or not hmac.compare_digest(str(row[3]), _hash(token)):
        raise bad
    expires_us = int(row[5]) if row[5] is not None else None
    if expires_us is not None and now_us() >= expires_us:
        raise bad
    return Principal(str(row[0]), _check_role(str(row[1])), str(row[2]), token_id, expires_us)


def token_active(db: Database, token_id: str) -> bool:
    """Whether the token is still neither revoked nor expired (open watch streams ask this
    every few seconds)."""
    ensure_tables(db)
    row = db.one("SELECT revoked_us, expires_us FROM server_tokens WHERE id = ?", (token_id,))
    return row is not None and row[0] is None and (row[1] is None or now_us() < int(row[1]))


def has_tokens(db: Database) -> bool:
    ensure_tables(db)
    return db.one("SELECT 1 FROM server_tokens WHERE revoked_us IS NULL") is not None


# -- protection ----------------------------------------------------------------------------
def protect_branch(repo: Repository, pattern: str, *, mergers: list[str] | None = None
                   ) -> Protection:
    """Protect branches matching ``pattern``; writers named in ``mergers`` may merge into
    them (admins always may)."""
    _check_pattern(pattern)
    names = tuple(check_name(m, "merger") for m in (mergers or []))
    db = repo.database
    ensure_tables(db)
    with db.write():
        db.run("DELETE FROM server_protection WHERE pattern = ?", (pattern,))
        db.run("INSERT INTO server_protection (pattern, mergers, created_us) VALUES (?, ?, ?)",
               (pattern, orjson.dumps(list(names)).decode(), now_us()))
    return Protection(pattern, names)


def unprotect_branch(repo: Repository, pattern: str) -> None:
    db = repo.database
    ensure_tables(db)
    with db.write():
        if not db.run("DELETE FROM server_protection WHERE pattern = ?", (pattern,)):
            raise NotFound(f"no protection rule {pattern!r}")


def protections(db: Database) -> list[Protection]:
    ensure_tables(db)
    rows = db.all("SELECT pattern, mergers FROM server_protection ORDER BY pattern")
    return [Protection(str(p), tuple(orjson.loads(m))) for p, m in rows]


def protection_for(db: Database, branch: str) -> Protection | None:
    """The first protection rule matching ``branch`` (None: not protected)."""
    for rule in protections(db):
        if fnmatchcase(branch, rule.pattern):
            return rule
    return None


# -- decisions -----------------------------------------------------------------------------
def require_role(principal: Principal, role: Role, what: str) -> None:
    if not principal.at_least(role):
        raise Forbidden(f"{what} needs the {role} role; {principal.user} is a {principal.role}")


def require_commit(db: Database, principal: Principal, branch: str, *,
                   what: str = "committing") -> None:
    """A direct commit (transaction, revert) to ``branch``: writer on it, not protected."""
    _require_write(principal, branch, what)
    if protection_for(db, branch) is not None:
        raise BranchProtected(f"branch {branch!r} is protected: it changes only through a merge "
                              "by an admin or an allowed merger")


def require_rollback(db: Database, principal: Principal, branch: str) -> None:
    """Rollback: like a commit, but an admin may also roll back a protected branch."""
    _require_write(principal, branch, "rolling back")
    if protection_for(db, branch) is not None and not principal.is_admin:
        raise BranchProtected(f"branch {branch!r} is protected: only an admin may roll it back")


def require_merge(db: Database, principal: Principal, into: str) -> None:
    """Merging into ``into``: writer on it; if protected, an admin or a listed merger."""
    _require_write(principal, into, "merging")
    rule = protection_for(db, into)
    if rule is not None and not principal.is_admin and principal.user not in rule.mergers:
        raise BranchProtected(f"branch {into!r} is protected: {principal.user} may not merge "
                              "into it (ask an admin to add you as a merger)")


def require_create_branch(db: Database, principal: Principal, name: str) -> None:
    """Creating branch ``name``: write access to that name (or admin); under a protected
    pattern only an admin, since a new branch's head is set directly, not by a merge."""
    if not principal.is_admin:
        _require_write(principal, name, "creating a branch")
        if protection_for(db, name) is not None:
            raise BranchProtected(f"{name!r} matches a protected branch pattern: only an admin "
                                  "may create that branch")


def require_push(db: Database, principal: Principal, branch: str, *, exists: bool,
                 force: bool) -> None:
    """A push moving ``branch``: creating it as :func:`require_create_branch`; an unprotected
    branch needs write access; a protected one changes only as a merge would (an admin or a
    listed merger), and only an admin may force it."""
    if not exists:
        require_create_branch(db, principal, branch)
        return
    if protection_for(db, branch) is None:
        _require_write(principal, branch, "pushing")
        return
    if force and not principal.is_admin:
        raise BranchProtected(f"branch {branch!r} is protected: only an admin may force-push "
                              "to it")
    require_merge(db, principal, branch)


def require_own_commits(principal: Principal, author: str, commit_id: str) -> None:
    """Pushed commits keep the author their id hashes; a non-admin may push only commits it
    wrote (commits the server already has are not checked)."""
    if not principal.is_admin and author != principal.user:
        raise Forbidden(f"commit {commit_id[:12]} is by {author!r}, not {principal.user!r}: "
                        "a writer pushes only its own commits (the author is part of the "
                        "commit id, so it cannot be replaced); ask an admin to push it")


def require_tag(db: Database, principal: Principal, name: str, *, force: bool) -> None:
    """Tagging: writers; moving a tag (``force``), or a tag whose name matches a protected
    branch pattern (it would take that name from the branch), needs an admin."""
    require_role(principal, "admin" if force else "writer", "moving a tag" if force else
                 "tagging")
    if not principal.is_admin and protection_for(db, name) is not None:
        raise BranchProtected(f"{name!r} matches a protected branch pattern: only an admin may "
                              "create a tag of that name")


def may_commit(db: Database, principal: Principal, branch: str) -> bool:
    try:
        require_commit(db, principal, branch)
    except Forbidden:
        return False
    return True


def may_rollback(db: Database, principal: Principal, branch: str) -> bool:
    try:
        require_rollback(db, principal, branch)
    except Forbidden:
        return False
    return True


def may_merge(db: Database, principal: Principal, into: str) -> bool:
    try:
        require_merge(db, principal, into)
    except Forbidden:
        return False
    return True


def _require_write(principal: Principal, branch: str, what: str) -> None:
    if not principal.at_least("writer"):
        raise Forbidden(f"{what} needs the writer role; {principal.user} is a reader")
    if not principal.matches(branch):
        raise Forbidden(f"{principal.user} may write only to branches matching "
                        f"{principal.branch_pattern!r}, not {branch!r}")


__all__ = [
    "ROLES",
    "BranchProtected",
    "Principal",
    "Protection",
    "Role",
    "TokenInfo",
    "authenticate",
    "create_token",
    "ensure_tables",
    "has_tokens",
    "list_tokens",
    "may_commit",
    "may_merge",
    "may_rollback",
    "parse_expiry",
    "protect_branch",
    "protection_for",
    "protections",
    "require_commit",
    "require_create_branch",
    "require_merge",
    "require_role",
    "require_rollback",
    "require_tag",
    "revoke_token",
    "token_active",
    "unprotect_branch",
]
