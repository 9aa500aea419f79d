"""Commit times stay sane: an explicit timestamp far in the future is refused (it would clamp
every later commit, since commit times never decrease), the allowed skew is configurable, and
archive imports keep the recorded times of historical commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import palimpsest
from palimpsest import InvalidValue


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def test_a_timestamp_beyond_the_skew_is_refused_and_nothing_written(
        repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T")
    before = repo.log()
    with pytest.raises(InvalidValue, match=r"in the future.*max_clock_skew"):
        repo.put_entity("b", "T", timestamp=_iso(timedelta(days=2)))
    with pytest.raises(InvalidValue, match="1 day in the future"), \
            repo.transaction("later", timestamp="2999-01-01") as tx:
        tx.put_entity("c", "T")
    assert repo.log() == before and repo.head().entity("b") is None
    # later commits are not held back: they get the current time
    commit = repo.put_entity("d", "T")
    assert abs(commit.timestamp - datetime.now(UTC)) < timedelta(minutes=5)


def test_a_timestamp_within_the_skew_is_kept(repo: palimpsest.Repository) -> None:
    when = datetime.now(UTC) + timedelta(hours=3)
    commit = repo.put_entity("a", "T", timestamp=when)
    assert commit.timestamp == when
    past = repo.put_entity("b", "T", timestamp=_iso(timedelta(hours=4)))
    assert past.timestamp > commit.timestamp


def test_the_skew_is_configurable(tmp_path: Path) -> None:
    wide = palimpsest.open(tmp_path / "wide.db", max_clock_skew=timedelta(days=30))
    wide.put_entity("a", "T", timestamp=_iso(timedelta(days=10)))
    wide.close()
    strict = palimpsest.open(tmp_path / "strict.db", max_clock_skew=timedelta(0))
    with pytest.raises(InvalidValue, match="future"):
        strict.put_entity("a", "T", timestamp=_iso(timedelta(minutes=1)))
    strict.put_entity("a", "T", timestamp="2020-01-01")
    strict.close()
    for bad in (timedelta(seconds=-1), 3600, "1d"):
        with pytest.raises(InvalidValue, match="max_clock_skew"):
            palimpsest.open(":memory:", max_clock_skew=bad)  # type: ignore[arg-type]


def test_archive_imports_keep_historical_times(tmp_path: Path) -> None:
    """The check is for new commits only: an import inserts the recorded commits (and their
    times) as they are, so their ids stay identical."""
    source = palimpsest.open(tmp_path / "source.db")
    source.put_entity("a", "T", timestamp="2001-01-01")
    ahead = source.put_entity("b", "T", timestamp=_iso(timedelta(hours=20)))
    source.export(tmp_path / "a.jsonl")
    source.close()
    copy = palimpsest.import_(tmp_path / "a.jsonl")
    assert copy.log()[0].timestamp == ahead.timestamp
    assert copy.log()[0].id == ahead.id
    copy.close()
