"""The HTTP plumbing the remote classes share: errors rebuilt from the server's
``error.code``, path quoting, and the wire forms of refs, filters, orderings, commit options
and merge resolutions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from .. import errors, wire
from ..codec import check_interval
from ..errors import InvalidValue, PalimpsestError
from ..query.filters import parse_order, to_filter
from ..types import (
    JSON,
    Commit,
    Conflict,
    Violation,
)
from ..versioning import provenance as prov
from ..versioning.merge import MergeResult
from ..versioning.threeway import Resolved

Ref = str | datetime | Commit


def _codes() -> dict[str, type[PalimpsestError]]:
    found: dict[str, type[PalimpsestError]] = {}
    stack: list[type[PalimpsestError]] = [PalimpsestError]
    while stack:
        cls = stack.pop()
        if cls.__module__ == errors.__name__:
            found.setdefault(cls.code, cls)
        stack.extend(cls.__subclasses__())
    return found


def _p(part: str) -> str:
    return quote(part, safe="")


def _ref(ref: Ref | None) -> str | None:
    if ref is None:
        return None
    if isinstance(ref, Commit):
        return ref.id
    if isinstance(ref, datetime):
        return ref.isoformat()
    return ref


def error_from(status: int, body: Any) -> PalimpsestError:
    """The palimpsest error a server response stands for."""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        return PalimpsestError(f"HTTP {status}: {str(body)[:200]}")
    code, message = str(detail.get("code", "error")), str(detail.get("message", ""))
    cls = _codes().get(code)
    if cls is not None and issubclass(cls, errors.MergeConflict):
        return cls(message, [wire.decode(Conflict, c) for c in detail.get("conflicts", [])])
    if cls is not None and issubclass(cls, errors.VersionConflict):
        return cls(message, key=detail.get("key"), expected=detail.get("expected"),
                   found=detail.get("found"))
    if cls is not None and issubclass(cls, errors.SchemaViolation):
        return cls(message, [wire.decode(Violation, v) for v in detail.get("violations", [])])
    if cls is errors.AmbiguousRef:
        return errors.AmbiguousRef(message, detail.get("candidates", []))
    if cls is errors.UnsupportedQuery:
        return errors.UnsupportedQuery(message, str(detail.get("construct", "")))
    if cls is errors.QuerySyntaxError:
        return errors.QuerySyntaxError(str(detail.get("reason", message)),
                                       line=detail.get("line"), column=detail.get("column"))
    if cls is not None:
        return cls(message)
    if status in (400, 413, 422):
        return InvalidValue(f"{message} ({code})")
    return PalimpsestError(f"{message} ({code}, HTTP {status})")


# -- the client ------------------------------------------------------------------------------
def _options(message: str | None, author: str | None,
             metadata: Mapping[str, JSON] | None, timestamp: datetime | str | None,
             branch: str | None, provenance: Mapping[str, JSON] | None = None
             ) -> dict[str, Any]:
    out: dict[str, Any] = {"message": message, "author": author, "branch": branch,
                           "metadata": dict(metadata) if metadata is not None else None,
                           "timestamp": timestamp.isoformat() if isinstance(
                               timestamp, datetime) else timestamp}
    return _with({k: v for k, v in out.items() if v is not None}, provenance)


def _with(body: dict[str, Any], provenance: Mapping[str, JSON] | None) -> dict[str, Any]:
    """``body`` with a checked ``provenance`` record (docs/provenance.md), when one is given."""
    if prov.check(provenance) is not None:
        assert provenance is not None
        body["provenance"] = dict(provenance)
    return body


def _resolutions(given: Mapping[tuple[str, str, str | None], JSON] | None
                 ) -> list[dict[str, Any]] | None:
    if not given:
        return None
    out = []
    for key, value in given.items():
        if not (isinstance(key, tuple) and len(key) == 3):
            raise InvalidValue(f"resolution keys are (element, id, property) tuples as in "
                               f"Conflict.key, e.g. ('entity', 'users', 'name'); got {key!r}")
        element, ident, prop = key
        literal = isinstance(value, Resolved) or value not in ("ours", "theirs")
        out.append({"element": element, "id": ident, "property": prop, "literal": literal,
                    "value": value.value if isinstance(value, Resolved) else value})
    return out


def _settled(call: Callable[[], Any], resolving: bool, dry_run: bool = False) -> MergeResult:
    """A merge's result: as in the embedded API, conflicts (the server's 409) are a value,
    ``status == "conflict"``, unless ``strategy`` / ``resolutions`` were meant to settle them
    (then MergeConflict is raised)."""
    try:
        return wire.decode(MergeResult, call())
    except errors.MergeConflict as conflict:
        if resolving or type(conflict) is not errors.MergeConflict:
            raise
        return MergeResult("conflict", None, list(conflict.conflicts), dry_run=dry_run)


def _where(where: Any) -> dict[str, Any] | None:
    """A filter in its wire form (``Filter.to_dict()``)."""
    found = to_filter(where)
    return None if found is None else found.to_dict()


def _order(order_by: Any) -> list[list[str]] | None:
    return [[name, "desc" if desc else "asc"] for name, desc in parse_order(order_by)] \
        if order_by is not None else None



def when_text(when: datetime | str | None) -> str | None:
    """A valid-time end as the server reads it: ISO text (naive datetimes are UTC), strings
    (``"open"`` included) as given, None as None."""
    if isinstance(when, datetime):
        return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).isoformat()
    return when


def interval_body(valid_from: datetime | str | None, valid_to: datetime | str | None,
                  what: str | None) -> dict[str, Any]:
    """The ``valid_from`` / ``valid_to`` fields of a write (none without an interval), checked
    first when ``what`` names the element (a put; an update's ends are checked where the
    current interval is known)."""
    if what is not None:
        check_interval(valid_from, valid_to, what)
    if valid_from is None and valid_to is None:
        return {}
    return {"valid_from": when_text(valid_from), "valid_to": when_text(valid_to)}
