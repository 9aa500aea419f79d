"""Branches, tags, HEAD, the reflog, and resolving ref expressions to commits.

A branch names a line (its head is the line's head); a tag names a commit. Both are O(1) to
create. Ref syntax, tried in this order: ``HEAD``, a full commit id (64 hex digits), a branch,
a tag, a unique id prefix of 6+ hex characters, a point in time (ISO-8601; naive means UTC) on
the current branch, or ``REF@TIME``; any of them followed by ``~N`` (N first parents) and
``^``/``^N`` (first / N-th parent).

So that a name never shadows a commit or another ref expression, new branch and tag names
may not be all hex digits (6 or more), look like a date or time, or contain ``~ ^ @`` or
``..`` (:func:`check_ref_name`). Names that an older version accepted stay readable: a name
still wins over an id prefix, and only a full commit id wins over a name.
"""

from __future__ import annotations

import re
from datetime import datetime

from ..codec import check_count, from_us, now_us, to_us
from ..errors import AmbiguousRef, InvalidKey, InvalidRef, InvalidValue, RefNotFound
from ..storage.cache import facts_of
from ..storage.visibility import Chain
from ..types import Branch, Commit, RefLogEntry, Tag
from .commits import CommitStore
from .firstparent import at_time
from .log import merge_bases
from .pruned import check_readable

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,254}$")
_HEX = re.compile(r"^[0-9a-f]{6,64}$")
_FULL_ID = re.compile(r"^[0-9a-f]{64}$")
_HEX_NAME = re.compile(r"^[0-9a-fA-F]{6,}$")
_SUFFIX = re.compile(r"^(?P<base>.*?)(?P<suffix>(?:[~^][0-9]*)*)$", re.DOTALL)
_STEP = re.compile(r"[~^][0-9]*")
_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_DIGITS = 18
"""``~N`` and ``^N`` take at most 18 digits (below 2**63): larger numbers are refused."""
_SYNTAX = {"~": "REF~N (N first parents)", "^": "REF^N (the N-th parent)",
           "@": "REF@TIME (the state at a time)", "..": "ranges (A..B, A...B)"}


def is_commit_id(text: object) -> bool:
    """Whether ``text`` is a full commit id (64 lowercase hex digits)."""
    return isinstance(text, str) and _FULL_ID.match(text) is not None


def check_ref_name(name: object, what: str = "branch name") -> str:
    """Git-like names: letters, digits, ``_ . - /``; no ``..``, no ``//``, no trailing ``/``.

    A name the ref syntax would misread is refused with :class:`InvalidRef` saying why: all
    hex digits (6+, it could be a commit id or prefix), a date or time, ``HEAD``, or one of
    ``~ ^ @`` or ``..``. Other bad names raise :class:`InvalidKey`.
    """
    if not isinstance(name, str):
        raise InvalidKey(f"{what} must be a string, not {type(name).__name__}")
    for mark, meaning in _SYNTAX.items():
        if mark in name:
            raise InvalidRef(f"{what} {name[:80]!r} contains {mark!r}, which refs use for "
                             f"{meaning}; choose a name without it")
    if name == "HEAD":
        raise InvalidRef(f"{what} 'HEAD' is reserved: it names the current branch")
    if _HEX_NAME.match(name):
        raise InvalidRef(f"{what} {name[:80]!r} is all hex digits, so it could be read as a "
                         "commit id or id prefix; add a letter beyond a-f (e.g. 'v-' or "
                         "'branch-' in front)")
    if _looks_like_time(name):
        raise InvalidRef(f"{what} {name[:80]!r} looks like a date or time, which refs read as "
                         "'the state at that time'; add a word (e.g. 'import-2026-01-15')")
    if not _NAME.match(name) or "//" in name or name.endswith(("/", ".", ".lock")):
        raise InvalidKey(f"{what} {name[:80]!r} is not valid: use letters, digits and _ . - / "
                         "(no spaces; starting with a letter, digit or '_'; no '//'; not "
                         "ending in '/', '.' or '.lock'; at most 255 characters)")
    return name


def _looks_like_time(name: str) -> bool:
    if _TIME.match(name):
        return True
    if not name[:1].isdigit():
        return False
    try:
        to_us(name)
    except InvalidValue:
        return False
    return True


Ref = str | datetime | Commit
"""A branch, tag, commit id or prefix, ``REF~N``, ``REF^N``, ``REF@TIME``, a time, or a Commit."""

class RefStore:
    """Branch and tag names, the current branch, and the reflog."""

    def __init__(self, commits: CommitStore) -> None:
        self.commits = commits
        self.db = commits.db

    # -- HEAD ----------------------------------------------------------------------------
    def current(self) -> str:
        """The current branch (inside a write, kept between commits: storage.cache)."""
        return facts_of(self.db).get(self.db, "head", self._current)  # type: ignore[no-any-return]

    def _current(self) -> str:
        row = self.db.one("SELECT value FROM meta WHERE name = 'head'")
        return str(row[0]) if row else "main"

    def set_current(self, name: str) -> None:
        self.branch_line(name)
        with self.db.write():
            self.db.run("UPDATE meta SET value = ? WHERE name = 'head'", (name,))

    # -- branches ------------------------------------------------------------------------
    def branch_line(self, name: str) -> int:
        row = self.db.one("SELECT line FROM refs WHERE name = ? AND kind = 'branch'", (name,))
        if row is None:
            raise RefNotFound(f"no branch named {name!r}; list them with repo.branches()")
        return int(row[0])

    def branch_chain(self, name: str | None) -> Chain:
        """The chain of branch ``name``'s head (None: the current branch), in one query."""
        row = self.db.one(
            "SELECT l.id, coalesce(l.head_seq, l.fork_seq) FROM refs f JOIN lines l "
            "ON l.id = f.line WHERE f.kind = 'branch' AND f.name = "
            "coalesce(?, (SELECT value FROM meta WHERE name = 'head'))", (name,))
        if row is None:
            self.branch_line(name or self.current())  # raises RefNotFound with a hint
        assert row is not None
        return self.commits.chain(int(row[0]), int(row[1] or 0))

    def branch_head(self, name: str) -> Commit | None:
        seq = self.commits.line_head(self.branch_line(name))
        return self.commits.by_seq(seq) if seq is not None else None

    def has_branch(self, name: str) -> bool:
        return self.db.one("SELECT 1 FROM refs WHERE name = ? AND kind = 'branch'",
                           (name,)) is not None

    def branch_names(self) -> list[str]:
        return [r[0] for r in self.db.all("SELECT name FROM refs WHERE kind = 'branch' "
                                          "ORDER BY name")]

    def branches(self) -> list[Branch]:
        current = self.current()
        return [Branch(name, self.branch_head(name), name == current)
                for name in self.branch_names()]

    def create_branch(self, name: str, at: Commit | None, *, author: str) -> Branch:
        check_ref_name(name)
        with self.db.write():
            if self.db.one("SELECT 1 FROM refs WHERE name = ?", (name,)):
                raise InvalidKey(f"a branch or tag named {name!r} already exists")
            line = self.commits.fork_at(at)
            self.db.run("INSERT INTO refs (name, kind, line, time_us, author) "
                        "VALUES (?, 'branch', ?, ?, ?)", (name, line, now_us(), author))
            self.log_move(name, None, at.seq if at else None, author, "branch: created")
        return Branch(name, at, False)

    def move_branch(self, name: str, to: Commit | None, *, author: str, message: str) -> None:
        """Point a branch at another commit (fast-forward, reset): a new line forks there."""
        with self.db.write():
            self.db.lock(f"branch:{name}")
            old = self.branch_head(name)
            line = self.commits.fork_at(to)
            self.db.run("UPDATE refs SET line = ? WHERE name = ? AND kind = 'branch'",
                        (line, name))
            self.log_move(name, old.seq if old else None, to.seq if to else None, author,
                          message)

    def delete_branch(self, name: str, *, author: str) -> None:
        if name == self.current():
            raise InvalidValue(f"cannot delete {name!r}: it is the current branch; "
                               "check out another branch first")
        with self.db.write():
            self.db.lock(f"branch:{name}")
            head = self.branch_head(name)
            self.db.run("DELETE FROM refs WHERE name = ? AND kind = 'branch'", (name,))
            self.log_move(name, head.seq if head else None, None, author, "branch: deleted")

    # -- tags ----------------------------------------------------------------------------
    def create_tag(self, name: str, commit: Commit, *, message: str | None, author: str,
                   force: bool = False) -> Tag:
        check_ref_name(name, "tag name")
        with self.db.write():
            existing = self.db.one("SELECT kind FROM refs WHERE name = ?", (name,))
            if existing and not (force and existing[0] == "tag"):
                raise InvalidKey(f"a {existing[0]} named {name!r} already exists")
            if existing:
                self.db.run("DELETE FROM refs WHERE name = ?", (name,))
            time = now_us()
            self.db.run("INSERT INTO refs (name, kind, commit_seq, message, author, time_us) "
                        "VALUES (?, 'tag', ?, ?, ?, ?)",
                        (name, commit.seq, message, author, time))
            self.log_move(name, None, commit.seq, author, "tag: created")
        return Tag(name, commit, message, author if message else None,
                   from_us(time) if message else None)

    def tags(self) -> list[Tag]:
        rows = self.db.all("SELECT name, commit_seq, message, author, time_us FROM refs "
                           "WHERE kind = 'tag' ORDER BY name")
        return [Tag(n, self.commits.by_seq(s), m, a if m else None,
                    from_us(t) if m and t is not None else None) for n, s, m, a, t in rows]

    def tag_commit(self, name: str) -> Commit | None:
        row = self.db.one("SELECT commit_seq FROM refs WHERE name = ? AND kind = 'tag'", (name,))
        return self.commits.by_seq(int(row[0])) if row else None

    def delete_tag(self, name: str, *, author: str) -> None:
        with self.db.write():
            commit = self.tag_commit(name)
            if commit is None:
                raise RefNotFound(f"no tag named {name!r}")
            self.db.run("DELETE FROM refs WHERE name = ? AND kind = 'tag'", (name,))
            self.log_move(name, commit.seq, None, author, "tag: deleted")

    # -- reflog --------------------------------------------------------------------------
    def log_move(self, name: str, old: int | None, new: int | None, author: str,
                 message: str) -> None:
        self.db.run("INSERT INTO reflog (name, old_seq, new_seq, time_us, author, message) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (name, old, new, now_us(), author, message))

    def reflog(self, name: str, limit: int = 100) -> list[RefLogEntry]:
        check_count(limit, "limit")
        rows = self.db.all("SELECT old_seq, new_seq, time_us, author, message FROM reflog "
                           "WHERE name = ? ORDER BY id DESC LIMIT ?", (name, limit))

        def cid(seq: int | None) -> str | None:
            return self.commits.by_seq(seq).id if seq is not None else None

        return [RefLogEntry(name, cid(o), cid(n), from_us(t), a, m) for o, n, t, a, m in rows]

    # -- resolution ----------------------------------------------------------------------
    def resolve(self, ref: str | datetime | Commit | None, *,
                readable: bool = True) -> Commit | None:
        """The commit a ref names; None for a branch that has no commit yet.

        With ``readable`` (the default) a commit whose state gc compacted away raises
        RetentionExpired naming the horizon; pass False to get its metadata anyway.
        """
        commit = self._resolve(ref)
        if readable and commit is not None and ref is not None:
            check_readable(self.commits, commit)
        return commit

    def commit_of(self, ref: Ref | None, *, readable: bool = True) -> Commit:
        """Like :meth:`resolve`, but a branch without commits raises RefNotFound."""
        commit = self.resolve(ref, readable=readable)
        if commit is None:
            raise RefNotFound(f"{ref or self.current()!r} has no commits yet")
        return commit

    def resolve_range(self, spec: str) -> tuple[Commit | None, Commit | None]:
        """The two ends of ``A..B`` (A to B) or ``A...B`` (the merge base of A and B to B); an
        empty side is the current branch."""
        left, sep, right = spec.partition("...") if "..." in spec else spec.partition("..")
        a, b = self.resolve(left or None), self.resolve(right or None)
        if sep == "..." and a is not None and b is not None:
            bases = merge_bases(self.commits, a, b)
            a = bases[0] if bases else None
        return a, b

    def _resolve(self, ref: str | datetime | Commit | None) -> Commit | None:
        if ref is None:
            return self.branch_head(self.current())
        if isinstance(ref, Commit):
            return ref
        if isinstance(ref, datetime):
            return self.at_time(self.current(), to_us(ref))
        if not isinstance(ref, str) or not ref:
            raise InvalidValue(f"a ref must be a non-empty string, datetime or Commit, "
                               f"not {ref!r}")
        found = self._exact(ref)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        match = _SUFFIX.match(ref)
        assert match is not None
        base, suffix = match.group("base"), match.group("suffix")
        if not suffix:
            return self._base(ref)
        steps = _STEP.findall(suffix)
        for step in steps:  # refuse a huge number before walking anything
            if len(step) - 1 > _MAX_DIGITS:
                raise InvalidRef(f"{_short(ref)}: the number after {step[0]!r} has "
                                 f"{len(step) - 1} digits; at most {_MAX_DIGITS} are allowed")
        commit = self._exact(base)
        commit = self._base(base) if commit is _MISSING else commit
        for step in steps:
            if commit is None:
                raise RefNotFound(f"{_short(ref)}: {_short(base)} has no commits")
            assert isinstance(commit, Commit)
            number = int(step[1:]) if len(step) > 1 else 1
            if step[0] == "~":
                for _ in range(number):
                    commit = self._parent(commit, 1, ref)
            elif number:
                commit = self._parent(commit, number, ref)
        return commit  # type: ignore[return-value]

    def _exact(self, text: str) -> Commit | object | None:
        """A full commit id (it wins over any name), else HEAD, a branch or a tag."""
        if _FULL_ID.match(text):
            found = self.commits.by_id(text)
            if found is not None:
                return found
        return self._named(text)

    def _parent(self, commit: Commit, number: int, ref: str) -> Commit:
        if len(commit.parents) < number:
            raise RefNotFound(f"{_short(ref)} goes past the start of history (commit "
                              f"{commit.short_id} has {len(commit.parents)} parent(s))")
        parent = self.commits.by_id(commit.parents[number - 1])
        if parent is None:
            raise RefNotFound(f"parent {commit.parents[number - 1]} of {commit.short_id} "
                              "is missing")
        return parent

    def _named(self, name: str) -> Commit | object | None:
        if name == "HEAD":
            return self.branch_head(self.current())
        row = self.db.one("SELECT kind, line, commit_seq FROM refs WHERE name = ?", (name,))
        if row is None:
            return _MISSING
        kind, line, seq = row
        if kind == "tag":
            return self.commits.by_seq(int(seq))
        head = self.commits.line_head(int(line))
        return self.commits.by_seq(head) if head is not None else None

    def _base(self, text: str) -> Commit | None:
        if "@" in text:
            name, _, when = text.partition("@")
            commit = self.resolve(name or "HEAD")
            if commit is None:
                raise RefNotFound(f"{_short(name)} has no commits")
            return self.time_on_chain(commit, _time(when, text), text)
        if _HEX.match(text) and len(text) < 64:
            matches = self.commits.by_prefix(text)
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                ids = [c.id for c in matches]
                raise AmbiguousRef(f"commit prefix {text!r} is ambiguous; it matches "
                                   f"{', '.join(i[:12] for i in ids)}; give more characters",
                                   ids)
        if _TIME.match(text):
            return self.at_time(self.current(), _time(text, text))
        raise RefNotFound(f"{_short(text)} is not a branch, tag or commit id (and not a time); "
                          "see repo.branches(), repo.tags(), repo.log()")

    def at_time(self, branch: str, time_us: int) -> Commit:
        head = self.branch_head(branch)
        if head is None:
            raise RefNotFound(f"branch {branch!r} has no commits")
        return self.time_on_chain(head, time_us, branch)

    def time_on_chain(self, head: Commit, time_us: int, what: str) -> Commit:
        """The latest first-parent ancestor of ``head`` committed at or before ``time_us``
        (through rollbacks to the history they undid: :func:`.firstparent.at_time`)."""
        found = at_time(self.commits, head, time_us)
        if found is not None:
            return found
        raise RefNotFound(f"{_short(what)}: no commit at or before {from_us(time_us).isoformat()} "
                          "(that is before the first commit)")


_MISSING = object()


def _short(text: str) -> str:
    """A ref for a message: quoted, and cut when it is long."""
    return repr(text) if len(text) <= 80 else repr(text[:80]) + "…"


def _time(when: str, ref: str) -> int:
    try:
        return to_us(when)
    except InvalidValue as exc:
        raise InvalidRef(f"{_short(ref)}: {exc}") from None
