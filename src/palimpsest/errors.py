"""The one error tree of palimpsest.

Every error a user can cause derives from :class:`PalimpsestError`; each says what went wrong
and what to do. Lookups that fail also subclass :class:`KeyError`, bad input :class:`ValueError`,
so callers can catch them the Python way too. Expected outcomes (a merge with conflicts) are
return values; these exceptions are for misuse and for failures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


class PalimpsestError(Exception):
    """Root of every palimpsest error."""

    code = "error"

    def __str__(self) -> str:  # KeyError would quote the message; keep it readable
        return str(self.args[0]) if self.args else self.__class__.__name__


class NotFound(PalimpsestError, KeyError):
    """An element, commit or name does not exist."""

    code = "not_found"


class RefNotFound(NotFound):
    """A ref (branch, tag, commit id, ``~N``, timestamp) resolves to no commit."""

    code = "ref_not_found"


class AmbiguousRef(PalimpsestError, ValueError):
    """A commit id prefix matches several commits; ``candidates`` lists them."""

    code = "ambiguous_ref"

    def __init__(self, message: str, candidates: Sequence[str]) -> None:
        super().__init__(message)
        self.candidates = list(candidates)


class InvalidKey(PalimpsestError, ValueError):
    """An id, type, branch name, collection or key breaks the naming rules."""

    code = "invalid_key"


class InvalidValue(PalimpsestError, ValueError):
    """A property, document or argument value is not acceptable."""

    code = "invalid_value"


class InvalidRef(InvalidKey, InvalidValue):
    """A ref expression that cannot be read (a number too large in ``~N`` or ``^N``, a time
    out of range), or a branch or tag name that the ref syntax would misread (all hex digits
    like a commit id, a date, ``~ ^ @ ..``). Both an InvalidKey and an InvalidValue."""

    code = "invalid_ref"


class InvalidParameter(InvalidValue):
    """A request parameter (query string, path segment or header) is malformed or out of
    range (server)."""

    code = "invalid_parameter"


class IntegrityError(PalimpsestError, ValueError):
    """A write would break the graph's rules (e.g. a relation to a missing entity)."""

    code = "integrity"


class SchemaViolation(IntegrityError):
    """A commit would leave a state that breaks its schemas (docs/schemas.md); nothing was
    written. ``violations`` lists each broken rule (element, JSON path, rule)."""

    code = "schema_violation"

    def __init__(self, message: str, violations: Sequence[Any]) -> None:
        super().__init__(message)
        self.violations = list(violations)


class VersionConflict(PalimpsestError):
    """Optimistic concurrency failed: the state moved under the writer. Retry on the new state."""

    code = "version_conflict"

    def __init__(self, message: str, *, key: str | None = None, expected: Any = None,
                 found: Any = None) -> None:
        super().__init__(message)
        self.key = key
        self.expected = expected
        self.found = found


class ConcurrentCommit(VersionConflict):
    """Another writer committed to the same branch and touched what this transaction read."""

    code = "concurrent_commit"


class NonFastForward(VersionConflict):
    """A push would move a branch to a commit that does not descend from its head there: the
    other side has commits this one lacks. Fetch and pull (merge them), then push again; or
    push with ``force=True`` to replace them, where the receiver allows it."""

    code = "non_fast_forward"


class MergeConflict(PalimpsestError):
    """Changes clash; ``conflicts`` lists each clash with base, ours and theirs values."""

    code = "merge_conflict"

    def __init__(self, message: str, conflicts: Sequence[Any]) -> None:
        super().__init__(message)
        self.conflicts = list(conflicts)


class RevertConflict(MergeConflict):
    """A revert would undo values that later commits changed again."""

    code = "revert_conflict"


class ReadOnly(PalimpsestError):
    """A write was attempted through a read-only handle or view."""

    code = "read_only"


class Unauthorized(PalimpsestError):
    """No valid credentials were given (server)."""

    code = "unauthorized"


class Forbidden(PalimpsestError):
    """The credentials do not allow this operation (server)."""

    code = "forbidden"


class BranchProtected(Forbidden):
    """The branch is protected: it changes only through a merge by an allowed user (server)."""

    code = "branch_protected"


class CorruptObject(PalimpsestError):
    """Stored data does not match its hash: the database file was damaged."""

    code = "corrupt_object"


class RetentionExpired(PalimpsestError):
    """The requested version lies before the retention horizon and was compacted away.

    ``commit`` is the id of the requested commit (its metadata is still in the log);
    ``horizon`` the id of the oldest commit whose state gc kept on that history (None when
    the commit was unreachable from every branch and tag).
    """

    code = "retention_expired"

    def __init__(self, message: str, *, commit: str | None = None,
                 horizon: str | None = None) -> None:
        super().__init__(message)
        self.commit = commit
        self.horizon = horizon


class StorageError(PalimpsestError):
    """The database engine failed (disk full, I/O error, lock timeout); nothing was written."""

    code = "storage"


class LockTimeout(StorageError):
    """A write waited longer than its limit for the write lock (another writer, possibly
    another process, held it); nothing was written. Retry after ``retry_after`` seconds.
    The server answers 503 with a ``Retry-After`` header."""

    code = "lock_timeout"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @classmethod
    def waited(cls, where: str, wait: float | None) -> LockTimeout:
        """The error for a write that waited ``wait`` seconds for the write lock of ``where``."""
        seconds = 1.0 if wait is None else wait
        return cls(f"{where} is locked by another writer; waited {seconds:g} s for it and "
                   "wrote nothing: retry later", retry_after=max(1, math.ceil(seconds)))


class QueryError(PalimpsestError, ValueError):
    """A query is malformed; the message names the part that is wrong."""

    code = "query_error"


class QueryTimeout(QueryError):
    """A query ran past its time limit (``Database.deadline``) and was stopped."""

    code = "query_timeout"


class InvalidInput(InvalidValue):
    """An imported file is malformed: ``source`` (file), ``line`` (1-based, or None) and
    ``reason`` say where and why, so the user can fix that line."""

    code = "invalid_input"

    def __init__(self, reason: str, *, source: str | None = None,
                 line: int | None = None) -> None:
        where = ":".join(str(x) for x in (source, line) if x is not None)
        super().__init__(f"{where}: {reason}" if where else reason)
        self.reason = reason
        self.source = source
        self.line = line


class SchemaVersionError(PalimpsestError):
    """The database was written by a newer palimpsest than this one."""

    code = "schema_version"


class DatabaseUnavailable(StorageError):
    """The database server can't be reached or the connection dropped. The message names the
    server and database (never the password); an interrupted commit landed whole or not at all,
    and the next call reconnects."""

    code = "database_unavailable"


class UnsupportedQuery(QueryError):
    """A valid query uses a construct palimpsest does not run yet; ``construct`` names it
    (``MINUS``, ``CONSTRUCT``, ``property path``...)."""

    code = "unsupported_query"

    def __init__(self, message: str, construct: str) -> None:
        super().__init__(message)
        self.construct = construct


class QuerySyntaxError(QueryError):
    """A query does not parse; ``line`` and ``column`` (1-based) say where."""

    code = "query_syntax"

    def __init__(self, reason: str, *, line: int | None = None,
                 column: int | None = None) -> None:
        where = ":".join(str(x) for x in (line, column) if x is not None)
        super().__init__(f"{where}: {reason}" if where else reason)
        self.reason = reason
        self.line = line
        self.column = column
