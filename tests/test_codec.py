"""Canonical encoding and hashes: deterministic, pinned, and strict about JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palimpsest import InvalidKey, InvalidValue
from palimpsest.codec import (
    EMPTY_STATE,
    check_json,
    check_name,
    commit_id,
    content_hash,
    element_term,
    encode,
    from_us,
    state_combine,
    to_us,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) |
    st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(json_values)
def test_valid_json_values_encode_deterministically(value: object) -> None:
    check_json(value, "v")
    if isinstance(value, dict):
        reordered = dict(reversed(list(value.items())))
        assert encode(reordered) == encode(value)


def test_encoding_is_canonical_and_pinned() -> None:
    assert encode({"b": 1, "a": [True, None, 1.5, "é"]}) == '{"a":[true,null,1.5,"é"],"b":1}'
    # Golden values: if one of these changes, every stored database and archive breaks.
    assert content_hash("e", "T", None, None, '{"x":1}').hex() == \
        "3a558853a3d5f7cf4a2b2bd51430ce26f0537534a2bb3bb7c87e79a0eede5d27"
    assert commit_id([], EMPTY_STATE, "a", "m", 0, {}) == \
        "24ee08f834bf395d4b0a6c5f281d6682c7ce2d6573a5981f487845a0adcf46da"


def test_golden_commit_of_a_repository() -> None:
    import palimpsest
    repo = palimpsest.open(":memory:")
    commit = repo.put_entity("ada", "Person", {"born": 1815, "name": "Ada"}, author="a",
                             message="m", timestamp="2026-01-01T00:00:00Z")
    assert commit.state_hash == \
        "9c4bbf2964094355aad3df267ef20dc7e298b65fa4ac8e2400feceac368572d4"
    assert commit.id == "98d5908d0daff117a250c42e2c726a9053b8bd4d6a1ce473d067f1b9b3fe1e76"


def test_state_hash_is_an_order_independent_multiset_hash() -> None:
    t1 = element_term("e", "a", content_hash("e", "T", None, None, "{}"))
    t2 = element_term("e", "b", content_hash("e", "T", None, None, "{}"))
    s12 = state_combine(state_combine(EMPTY_STATE, t1, 0), t2, 0)
    s21 = state_combine(state_combine(EMPTY_STATE, t2, 0), t1, 0)
    assert s12 == s21
    assert state_combine(s12, 0, t1 + t2) == EMPTY_STATE


@pytest.mark.parametrize("bad", [float("nan"), float("-inf"), 2**63, -(2**63) - 1, {1: 2},
                                 (1, 2), b"x", set(), object()])
def test_non_json_values_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidValue):
        check_json({"v": bad}, "props")


def test_nesting_limit() -> None:
    deep: object = 1
    for _ in range(70):
        deep = [deep]
    with pytest.raises(InvalidValue, match="nested deeper"):
        check_json(deep, "v")


@pytest.mark.parametrize("name", ["", "a\nb", "\x7f", "x" * 513, "é" * 257])
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidKey):
        check_name(name, "id")


def test_unicode_names_are_fine() -> None:
    assert check_name("schema:Person", "id") == "schema:Person"
    assert check_name("名前 with space", "id")


def test_times_round_trip_in_microseconds() -> None:
    moment = datetime(1969, 7, 20, 20, 17, 40, 123456, tzinfo=UTC)
    assert from_us(to_us(moment)) == moment
    assert to_us("2026-01-15T00:00:00Z") == to_us(datetime(2026, 1, 15))
    plus2 = datetime(2026, 1, 15, 2, tzinfo=timezone(timedelta(hours=2)))
    assert to_us(plus2) == to_us("2026-01-15")
    with pytest.raises(InvalidValue):
        to_us("yesterday")


# -- check_json's fast path agrees with the plain recursive definition -----------------------

def _reference_check(value: object, where: str, depth: int = 0) -> None:
    """check_json as first written: one recursive call per value (the specification)."""
    import math

    if depth > 64:
        raise InvalidValue(f"{where}: nested deeper than 64 levels")
    if value is None or isinstance(value, str | bool):
        return
    if isinstance(value, int):
        if not -(2**63) <= value <= 2**63 - 1:
            raise InvalidValue(f"{where}: integer out of range")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValue(f"{where}: not finite")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _reference_check(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidValue(f"{where}: key {key!r} is not a string")
            _reference_check(item, f"{where}.{key}", depth + 1)
        return
    raise InvalidValue(f"{where}: not a JSON value")


class _Str(str):
    pass


_ODD = st.sampled_from([float("nan"), float("inf"), 2**63, -(2**63) - 1, 2**63 - 1, b"x",
                        (1, 2), {1, 2}, _Str("s"), True, 1.5, -(2**63)])
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3) | _ODD,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=2) | st.integers(0, 3), inner, max_size=4),
    max_leaves=20)


@given(_VALUES)
def test_check_json_fast_path_matches_the_reference(value: object) -> None:
    def outcome(check: object) -> str | None:
        try:
            check(value, "v")  # type: ignore[operator]
        except InvalidValue as exc:
            return str(exc).split(":")[0]  # where it failed
        return None

    assert outcome(check_json) == outcome(_reference_check)


@pytest.mark.parametrize("container", ["dict", "list"])
def test_check_json_depth_limit_on_the_fast_path(container: str) -> None:
    def nest(levels: int) -> object:
        deep: object = 1  # the scalar sits at depth ``levels``
        for _ in range(levels):
            deep = {"k": deep} if container == "dict" else [deep]
        return deep

    check_json(nest(64), "v")
    with pytest.raises(InvalidValue, match="deeper"):
        check_json(nest(65), "v")
