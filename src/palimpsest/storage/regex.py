"""The regular-expression dialect of the ``matches`` filter: RE2.

RE2 (``google-re2``) runs in time linear in the text, whatever the pattern: no backtracking, so
a pattern like ``^(a+)+$`` cannot freeze a query. Its syntax is Python's ``re`` without
backreferences (``\\1``) and lookaround (``(?=``, ``(?!``, ``(?<=``, ``(?<!``); ``\\d``, ``\\w``,
``\\s`` and ``\\b`` are ASCII-only. Every pattern is checked here, for every backend, so an
unsupported one is the same :class:`~palimpsest.errors.QueryError` on SQLite and PostgreSQL.

SQLite evaluates patterns with RE2 (:func:`search`, registered as ``REGEXP``). PostgreSQL uses
its own engine (``~``, POSIX advanced regular expressions); :func:`to_postgres` rewrites the
RE2 spellings that differ there (``\\b``, ``\\B``, ``\\z``, named groups, leading flags) so both
backends answer alike for the common syntax; the query deadline (``statement_timeout``) bounds
the rest.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

from ..errors import QueryError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors become QueryError, not lines on stderr
_OPTIONS.max_mem = 32 << 20  # a compiled pattern may use up to 32 MB


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 pattern; raises QueryError when RE2 does not accept it."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise QueryError(f"invalid regular expression {pattern!r}: {detail} (patterns use RE2 "
                         "syntax: no backreferences or lookaround)") from None
    except (TypeError, ValueError) as exc:
        raise QueryError(f"invalid regular expression {pattern!r}: {exc}") from None


def check(pattern: str) -> None:
    """Raise QueryError when ``pattern`` is not a valid RE2 pattern."""
    compile_pattern(pattern)


def search(pattern: str | None, value: object) -> int | None:
    """SQLite's ``x REGEXP y`` calls ``regexp(y, x)``: 1 when RE2 finds a match in ``x``."""
    if pattern is None or not isinstance(value, str):
        return None
    return 1 if compile_pattern(pattern).search(value) else 0


_LEADING_FLAGS = re.compile(r"^\(\?([imsU]+)\)")


def to_postgres(pattern: str) -> str:
    """The RE2 ``pattern`` in PostgreSQL's advanced regular expression syntax.

    Leading flags become ARE embedded options (``(?m)``: ``^``/``$`` match at lines) and ``.``
    becomes ``[^\\n]`` unless ``(?s)``, as in RE2; ``\\b``/``\\B`` become ``\\y``/``\\Y``,
    ``\\z`` becomes ``\\Z``, and ``(?P<name>`` a plain group. Inline flag groups elsewhere in
    the pattern (``(?i:...)``) are not supported by PostgreSQL and are refused there.
    """
    flags = ""
    match = _LEADING_FLAGS.match(pattern)
    if match:
        flags = match.group(1)
        pattern = pattern[match.end():]
    dotnl = "s" in flags
    # 's': '.' and [^...] match newlines, anchors only at the ends; 'w': anchors at lines too
    mode = "w" if "m" in flags else "s"
    out: list[str] = ["(?", "i" if "i" in flags else "", mode, ")"]
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if not in_class and nxt in "bBz":
                out.append({"b": "\\y", "B": "\\Y", "z": "\\Z"}[nxt])
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            # a ']' (after an optional '^') right at the start of a class is a literal
            if i < len(pattern) and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                out.append("]")
                i += 1
            continue
        elif ch == "." and not dotnl:
            out.append("[^\\n]")
            i += 1
            continue
        elif pattern.startswith("(?P<", i):
            end = pattern.find(">", i)
            if end != -1:
                out.append("(")
                i = end + 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


__all__ = ["check", "compile_pattern", "search", "to_postgres"]
