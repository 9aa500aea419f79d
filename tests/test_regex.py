"""The ``matches`` filter: RE2 on every backend, linear time, typed errors for what RE2 refuses,
and the same answers on SQLite and PostgreSQL for the common syntax."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import palimpsest
from palimpsest import F, QueryError, QueryTimeout
from palimpsest.storage.regex import to_postgres


def _query_in_thread(fn: Any, limit: float) -> tuple[bool, Any]:
    """Run ``fn`` in a daemon thread; (finished within ``limit`` s, its result or error)."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # the caller inspects it
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    return (not thread.is_alive()), (box[0] if box else None)


@pytest.mark.needs_embedded("bounds the query with the embedded database's deadline")
def test_a_pathological_pattern_cannot_outlive_the_deadline(repo: palimpsest.Repository) -> None:
    with repo.transaction() as tx:
        for i in range(50):
            tx.put_document("docs", f"d{i}", {"s": "a" * (30 + i) + "b"})
        tx.put_document("docs", "ok", {"s": "aaaa"})
    view = repo.head()

    def query() -> Any:
        with repo.database.deadline(3):
            return [d.key for d in view.query("docs", F("s").matches("^(a+)+$"))]

    started = time.monotonic()
    finished, result = _query_in_thread(query, 15)
    assert finished, "a backtracking regex froze the query past its deadline"
    assert time.monotonic() - started < 10  # generous: the deadline is 3 s
    if isinstance(result, BaseException):
        assert isinstance(result, QueryTimeout), result  # PostgreSQL may stop it instead
    else:
        assert result == ["ok"]


@pytest.mark.parametrize("pattern, why", [
    (r"(a)\1", "invalid escape"),
    (r"(?=a)b", "perl operator"),
    (r"(?<!a)b", "perl operator"),
    ("(unclosed", "missing"),
])
def test_patterns_re2_refuses_are_query_errors(repo: palimpsest.Repository, pattern: str,
                                               why: str) -> None:
    repo.put_document("docs", "a", {"s": "x"})
    with pytest.raises(QueryError, match="RE2") as caught:
        repo.head().query("docs", F("s").matches(pattern))
    assert why in str(caught.value)
    with pytest.raises(QueryError, match="invalid regular expression"):
        repo.head().query("docs", {"s": {"matches": pattern}})


TEXTS = {
    "word": "the foo bar", "glued": "thefoobar", "upper": "Eve", "lower": "eve",
    "lines": "first\nsecond", "digits": "abc 123", "named": "xay", "tail": "the end\n",
}


@pytest.mark.parametrize("pattern, expected", [
    (r"\bfoo\b", ["word"]),
    (r"\Bfoo\B", ["glued"]),
    ("(?i)^e", ["lower", "upper"]),
    ("^e", ["lower"]),
    ("t.s", []),                      # '.' does not match a newline...
    ("(?s)t.s", ["lines"]),           # ...unless (?s)
    ("^second", []),                  # '^' is the start of the text...
    ("(?m)^second$", ["lines"]),      # ...or of a line with (?m)
    (r"\d{3}$", ["digits"]),
    (r"x(?P<mid>a)y", ["named"]),
    (r"end\z", []),                   # \z: the very end (the text ends with a newline)
    (r"[\]b]", ["digits", "glued", "word"]),
    ("[^a-z ]", ["digits", "lines", "tail", "upper"]),
])
def test_the_same_answers_on_every_backend(repo: palimpsest.Repository, pattern: str,
                                           expected: list[str]) -> None:
    with repo.transaction() as tx:
        for key, text in TEXTS.items():
            tx.put_document("texts", key, {"t": text})
    found = repo.head().query("texts", F("t").matches(pattern))
    assert sorted(d.key for d in found) == expected


def test_postgres_spelling() -> None:
    assert to_postgres(r"\bfoo\b") == r"(?s)\yfoo\y"
    assert to_postgres(r"(?i)[\b.]x\z.") == r"(?is)[\b.]x\Z[^\n]"
    assert to_postgres("(?sm)a.b") == "(?w)a.b"
    assert to_postgres("(?m)a.b") == r"(?w)a[^\n]b"
    assert to_postgres(r"(?P<n>a)(?:b)\.") == r"(?s)(a)(?:b)\."
    assert to_postgres("[]b]") == "(?s)[]b]"


@pytest.mark.needs_embedded("asks repo.database which backend answers")
def test_flags_inside_a_pattern_are_re2_only(repo: palimpsest.Repository) -> None:
    """A documented difference: PostgreSQL takes flags only at the start of a pattern; there
    a flag group further in is a QueryError (never a raw driver error)."""
    repo.put_document("texts", "x", {"t": "aB"})
    view = repo.head()
    if repo.database.dialect.name == "postgresql":
        with pytest.raises(QueryError, match="regular expression"):
            view.query("texts", F("t").matches("a(?i:b)"))
    else:
        assert [d.key for d in view.query("texts", F("t").matches("a(?i:b)"))] == ["x"]
