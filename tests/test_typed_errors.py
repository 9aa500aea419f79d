"""Bad input to the Python API raises a PalimpsestError subclass, never a bare ValueError,
OverflowError or RecursionError (issue 12, point 4): huge numbers in refs, limits, offsets and
counts; times out of range; and a fuzz of ref resolution (``repo.at(text)``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest import PalimpsestError

HUGE = 10**5000  # int() and repr() refuse more than 4,300 digits
OVER = 2**63  # one past what SQL integers hold


@pytest.mark.needs_embedded("includes fsck; the client pages entities() itself "
                             "and does not refuse limits past 64 bits")
def test_counts_beyond_64_bits_are_typed_errors(repo: palimpsest.Repository) -> None:
    repo.put_entity("e", "T", {"n": 1})
    repo.put_document("docs", "d", {"a": 1})
    repo.kv.set("/k", b"v")
    view = repo.head()
    calls: list[Callable[[], Any]] = []
    for n in (OVER, 10**30, HUGE):
        calls += [
            lambda n=n: list(view.entities(limit=n)),
            lambda n=n: list(view.entities(offset=n)),
            lambda n=n: list(view.entities(type="T", where={"n": 1}, limit=n)),
            lambda n=n: list(view.documents("docs", limit=n)),
            lambda n=n: list(view.documents("docs", offset=n)),
            lambda n=n: view.query("docs", limit=n),
            lambda n=n: view.query("docs", offset=n),
            lambda n=n: repo.kv.list("/", limit=n),
            lambda n=n: repo.reflog("main", limit=n),
            lambda n=n: repo.fsck(last=n),
        ]
    for call in calls:  # InvalidValue, or QueryError for queries
        with pytest.raises((palimpsest.InvalidValue, palimpsest.QueryError),
                           match=r"2\*\*63 - 1|9223372036854775807"):
            call()
    for bad in (-1, True, "3", 1.5):
        with pytest.raises(palimpsest.InvalidValue):
            list(view.documents("docs", limit=bad))  # type: ignore[arg-type]
    assert [e.id for e in view.entities(limit=OVER - 1, offset=0)] == ["e"]
    assert list(view.entities(offset=OVER - 1)) == []


def test_huge_integers_in_values_are_typed_errors(repo: palimpsest.Repository) -> None:
    for bad in (HUGE, -HUGE, 2**64):
        with pytest.raises(palimpsest.InvalidValue, match="64-bit"):
            repo.put_entity("e", "T", {"n": bad})
        with pytest.raises(palimpsest.InvalidValue):
            repo.put_document("docs", "d", [bad])
    assert repo.log() == []


@pytest.mark.needs_embedded("uses repo.database")
def test_the_sql_layer_turns_overflow_into_a_typed_error(repo: palimpsest.Repository) -> None:
    """The last line of defence: an integer no check caught still never escapes as
    OverflowError (SQLite) or a driver error (PostgreSQL)."""
    with pytest.raises(palimpsest.InvalidValue, match=r"out of range|outside"):
        repo.database.one("SELECT 1 LIMIT ?", (HUGE,))
    with pytest.raises(palimpsest.InvalidValue):
        repo.database.all("SELECT seq FROM commits WHERE seq > ? LIMIT ?", (0, OVER))


# -- fuzzing ref resolution --------------------------------------------------------------------
BASES = ["main", "HEAD", "side", "v1", "e0", "", "@", "deadbeef", "0" * 64, "2024-01-02",
         "2024-01-02T00:00:00+23:59", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00",
         "main@2024-01-02", "main@", "\ud800", "\x00", "é", "١", "²", "main\n"]
digits = st.one_of(st.integers(0, 25).map(lambda n: "9" * n), st.integers(4290, 6000).map(
    lambda n: "1" * n), st.text("0123456789١²", max_size=6))
step = st.tuples(st.sampled_from(["~", "^", "@", "..", "...", ":", "{", "-"]), digits).map(
    "".join)
ref_text = st.one_of(
    st.builds(lambda base, steps: base + "".join(steps), st.sampled_from(BASES),
              st.lists(step, max_size=4)),
    st.text(st.characters(exclude_categories=[]), max_size=30),
    st.text("0123456789abcdef~^@-:TZ+. ", max_size=70),
)


@pytest.fixture(scope="module")
def seeded() -> Any:
    repo = palimpsest.open(":memory:", author="fuzz@example.com")
    first = repo.put_entity("e0", "T", {"n": 0}, timestamp="2024-01-01T00:00:00Z")
    repo.put_entity("e1", "T", {"n": 1}, timestamp="2024-01-02T00:00:00Z")
    repo.tag("v1")
    repo.create_branch("side", first.id)
    repo.put_entity("e2", "T", {"n": 2}, branch="side", timestamp="2024-01-03T00:00:00Z")
    yield repo
    repo.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ref_text)
def test_fuzz_ref_resolution(seeded: palimpsest.Repository, text: str) -> None:
    for read in (lambda: seeded.at(text).to_dict(), lambda: seeded.resolve(text),
                 lambda: seeded.log(text, limit=3), lambda: seeded.diff(text)):
        with contextlib.suppress(PalimpsestError):  # anything else fails the test
            read()
