"""Canonical encoding, validation and hashing.

One deterministic encoding (orjson, sorted keys, finite floats, 64-bit integers) makes equal
values hash equally on every machine and backend. The state hash is an additive multiset hash
over (element, value hash) modulo 2**256, so each commit updates it in O(changes).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from .errors import InvalidKey, InvalidValue

MAX_ID_BYTES = 512
MAX_DEPTH = 64
MAX_VALUE_BYTES = 16 * 1024 * 1024
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_STATE_MOD = 2**256
_SORT = orjson.OPT_SORT_KEYS

EMPTY_STATE = bytes(32)

# Row kinds as stored in the rows table: one letter keeps rows and indexes small.
KIND_CODES = {"entity": "e", "relation": "r", "document": "d", "kv": "k"}
KIND_NAMES = {code: name for name, code in KIND_CODES.items()}
DOC_SEP = "\x1f"  # collection + DOC_SEP + key; control characters are banned in names


def check_name(value: object, what: str, *, max_bytes: int = MAX_ID_BYTES) -> str:
    """Validate an id, type, collection or key: non-empty text, bounded, no control chars."""
    if not isinstance(value, str):
        raise InvalidKey(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidKey(f"{what} must not be empty")
    if not value.isprintable():
        if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
            raise InvalidKey(f"{what} {value[:80]!r} contains a control character; remove it")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise InvalidKey(f"{what} {value[:80]!r} contains a lone surrogate, which is not "
                             "valid Unicode text")
    if len(value) * 4 > max_bytes and len(value.encode()) > max_bytes:
        raise InvalidKey(f"{what} {value[:40]!r}… is longer than {max_bytes} bytes")
    return value


def check_count(value: object, what: str) -> int:
    """A limit, offset or count: an integer from 0 to 2**63 - 1 (what SQL stores)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _INT_MAX:
        raise InvalidValue(f"{what} must be an integer from 0 to {_INT_MAX}, not "
                           f"{show_number(value)}")
    return value


def show_number(value: object) -> str:
    """``repr(value)``, but a huge integer as its size (``repr`` fails past 4,300 digits)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    return repr(value)[:100]


def _plain(item: Any) -> bool:
    """A scalar that is certainly valid (exact built-in types only; anything else, including
    subclasses and out-of-range numbers, goes through :func:`check_json`'s full checks)."""
    cls = item.__class__
    if cls is str or cls is bool or item is None:
        return True
    if cls is int:
        return bool(_INT_MIN <= item <= _INT_MAX)
    return cls is float and math.isfinite(item)


def check_json(value: Any, where: str, _depth: int = 0) -> None:
    """Raise InvalidValue unless ``value`` is a JSON value we can store exactly."""
    cls = value.__class__
    if cls is dict and _depth < MAX_DEPTH:  # the common case, without a call per scalar
        for key, item in value.items():
            if key.__class__ is not str:
                break
            if not _plain(item):
                if item.__class__ is not dict and item.__class__ is not list:
                    break  # the full checks below say what is wrong
                check_json(item, f"{where}.{key}", _depth + 1)
        else:
            return
    elif cls is list and _depth < MAX_DEPTH:
        for i, item in enumerate(value):
            if not _plain(item):
                if item.__class__ is not dict and item.__class__ is not list:
                    break
                check_json(item, f"{where}[{i}]", _depth + 1)
        else:
            return
    if _depth > MAX_DEPTH:
        raise InvalidValue(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, str | bool):
        return
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise InvalidValue(f"{where}: integer {show_number(value)} is outside the 64-bit "
                               "range; store it as a string")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValue(f"{where}: {value} is not a finite number (JSON has no NaN or "
                               "infinity)")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            check_json(item, f"{where}[{i}]", _depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidValue(f"{where}: key {key!r} is not a string")
            check_json(item, f"{where}.{key}", _depth + 1)
        return
    raise InvalidValue(f"{where}: {type(value).__name__} is not a JSON value "
                       "(use str, int, float, bool, None, list or dict)")


RESERVED_PREFIX = "@"
"""Top-level property names starting with ``@`` are palimpsest's own fields, not properties:
the field view of diffs, merges and blame (``@type``, ``@source``, ``@target``, ``@value``),
erasure tombstones (``@erased``), query fields (``@key``) and exports (``@id``)."""
RDF_PROPERTIES = frozenset({"@iri", "@types"})
"""The only ``@`` names accepted as properties: what the RDF mapping stores (docs/rdf.md)."""
DOCUMENT_RESERVED = frozenset({"@erased"})
"""Top-level document fields that would be read as palimpsest's own (an erasure tombstone)."""


def check_property_name(name: str, where: str) -> None:
    """Raise InvalidValue unless ``name`` may name an entity's or relation's property."""
    if not name:
        raise InvalidValue(f"{where}: property names must not be empty")
    if "\x00" in name:
        raise InvalidValue(f"{where}: property name {name[:80]!r} contains a NUL character; "
                           "remove it")
    if name.startswith(RESERVED_PREFIX) and name not in RDF_PROPERTIES:
        raise InvalidValue(f"{where}: property name {name[:80]!r} is reserved (names starting "
                           "with '@' are palimpsest's own fields, such as @type, @source and "
                           f"@target); rename it, e.g. to {name.lstrip('@')[:80] or 'value'!r}")


def patched(props: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``props`` with a validated ``patch`` applied: given keys set, keys given as None removed."""
    merged = dict(props)
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def check_props(props: Any, where: str) -> dict[str, Any]:
    """Validate a properties mapping and return it as a new dict: JSON values, and names that
    are non-empty, without NUL and not reserved (:func:`check_property_name`)."""
    if props is None:
        return {}
    if not isinstance(props, Mapping):
        raise InvalidValue(f"{where}: properties must be a dict, got {type(props).__name__}")
    values = dict(props)
    check_json(values, where)
    for name in values:
        check_property_name(name, where)
    return values


def check_document(value: Any, where: str) -> None:
    """Raise InvalidValue unless ``value`` can be stored as a document (a JSON value whose
    top level, if an object, has no field palimpsest reads as its own)."""
    check_json(value, where)
    if isinstance(value, dict):
        for name in DOCUMENT_RESERVED & value.keys():
            raise InvalidValue(f"{where}: top-level field {name!r} is reserved (it marks an "
                               "erased value); rename it or nest it in another object")


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of a value (no size limit): the identity of a JSON value."""
    return orjson.dumps(value, option=_SORT)


def json_equal(a: Any, b: Any) -> bool:
    """Whether two values are the same JSON value: compared as canonical JSON text, so ``1``,
    ``1.0`` and ``true`` differ, and so do ``0.0`` and ``-0.0``, at any depth (Python's ``==``
    says they are equal). Key order of objects does not matter."""
    if a is b:
        return True
    try:
        return canonical(a) == canonical(b)
    except (orjson.JSONEncodeError, TypeError):
        return type(a) is type(b) and bool(a == b)


def encode(value: Any) -> str:
    """The canonical JSON text of a validated value."""
    try:
        text = orjson.dumps(value, option=_SORT)
    except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate in a string
        raise InvalidValue(f"value cannot be stored as JSON: {exc}") from exc
    if len(text) > MAX_VALUE_BYTES:
        raise InvalidValue(f"value of {len(text)} bytes exceeds the {MAX_VALUE_BYTES}-byte limit")
    return text.decode()


def decode(text: str | bytes) -> Any:
    return orjson.loads(text)


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def content_hash(kind: str, type_: str | None, source: str | None, target: str | None,
                 value: str, valid_from: int | None = None, valid_to: int | None = None
                 ) -> bytes:
    """Hash of one stored element version: its kind letter, type, endpoints and value text,
    and its valid-time interval when it has one (``docs/valid-time.md``).

    A version without an interval hashes exactly as before valid time existed, so the hashes,
    state hashes and commit ids of existing repositories stay valid; one with an interval adds
    ``\x00@valid\x00<from>\x00<to>`` (microseconds, empty for an open end). Canonical JSON
    never holds a raw NUL, so the suffix cannot be mistaken for part of the value."""
    parts = [kind, type_ or "", source or "", target or "", value]
    if valid_from is not None or valid_to is not None:
        parts += ["@valid", "" if valid_from is None else str(valid_from),
                  "" if valid_to is None else str(valid_to)]
    return digest("\x00".join(parts).encode())


def check_interval(valid_from: datetime | str | None, valid_to: datetime | str | None,
                   what: str) -> tuple[int | None, int | None]:
    """A valid-time interval ``[valid_from, valid_to)`` as microseconds (None: an open end);
    raises InvalidValue unless ``valid_from < valid_to``."""
    lo = None if valid_from is None else to_us(valid_from)
    hi = None if valid_to is None else to_us(valid_to)
    if lo is not None and hi is not None and lo >= hi:
        raise InvalidValue(f"valid time of {what}: valid_from ({from_us(lo).isoformat()}) must "
                           f"come before valid_to ({from_us(hi).isoformat()}); the interval "
                           "is [valid_from, valid_to), None for an open end")
    return lo, hi


OPEN_END = "open"
"""What ``update_entity`` / ``update_relation`` take to open an end of an interval (None
keeps the end as it is)."""


def updated_interval(current_from: datetime | None, current_to: datetime | None,
                     valid_from: datetime | str | None, valid_to: datetime | str | None,
                     what: str) -> tuple[int | None, int | None]:
    """The interval an update leaves: each end given replaces the current one (None keeps
    it, :data:`OPEN_END` opens it), checked as :func:`check_interval`."""
    lo = current_from if valid_from is None else None if valid_from == OPEN_END else valid_from
    hi = current_to if valid_to is None else None if valid_to == OPEN_END else valid_to
    return check_interval(lo, hi, what)


def element_term(kind: str, key: str, value_hash: bytes) -> int:
    """The contribution of one visible element to the state hash."""
    return int.from_bytes(digest(b"\x00".join((kind.encode(), key.encode(), value_hash))), "big")


def state_add(state: bytes, term: int) -> bytes:
    return ((int.from_bytes(state, "big") + term) % _STATE_MOD).to_bytes(32, "big")


def state_combine(state: bytes, added: int, removed: int) -> bytes:
    total = int.from_bytes(state, "big") + added - removed
    return (total % _STATE_MOD).to_bytes(32, "big")


def commit_id(parents: list[str], state_hash: bytes, author: str, message: str, time_us: int,
              metadata: dict[str, Any]) -> str:
    """A commit's id: the hash of everything that defines it, as in git."""
    body = orjson.dumps({
        "parents": parents, "state": state_hash.hex(), "author": author, "message": message,
        "time": time_us, "metadata": metadata,
    }, option=_SORT)
    return hashlib.blake2b(body, digest_size=32).hexdigest()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def now_us() -> int:
    return (datetime.now(UTC) - _EPOCH) // _MICRO


def to_us(when: datetime | str) -> int:
    """Microseconds since the epoch; naive datetimes and strings without a zone are UTC."""
    if isinstance(when, str):
        text = when.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            when = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidValue(f"{when!r} is not an ISO-8601 time "
                               "(e.g. 2026-01-15 or 2026-01-15T10:00:00Z)") from exc
    if not isinstance(when, datetime):
        raise InvalidValue(f"expected a datetime or ISO-8601 string, got {type(when).__name__}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        time_us = (when - _EPOCH) // _MICRO
        from_us(time_us)  # in UTC it must still be a datetime (years 1 to 9999)
    except OverflowError:
        raise InvalidValue(f"{when.isoformat()} is out of range: in UTC it falls outside "
                           "the years 1 to 9999") from None
    return time_us


def from_us(time_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=time_us)
