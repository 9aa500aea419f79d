"""Property: the query engine (SQL through the visibility rule) returns exactly what a plain
Python evaluation of the same filter, order and page returns on the state at a random past
commit, and aggregations agree with a Python fold, on every backend. The reference below is
written from the rules in docs/query.md, independently of palimpsest.query. Examples share one
repository per backend, each in its own collection."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest import Agg, Filter

MISSING = object()
FIELDS = ["a", "b", "s", "n.x", "tags"]
KEYS = [f"k{i}" for i in range(8)]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0, 1e3]),
    st.text(alphabet="abAB é", max_size=3),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3))
documents = st.fixed_dictionaries({}, optional={
    "a": values, "b": values, "s": st.text(alphabet="abcAé", max_size=4), "tags": values,
    "n": st.one_of(scalars, st.fixed_dictionaries({}, optional={"x": values})),
})
operations = st.lists(st.tuples(st.sampled_from(KEYS), st.one_of(st.none(), documents)),
                      min_size=1, max_size=5)
histories = st.lists(operations, min_size=1, max_size=5)


def _atom(field: str) -> st.SearchStrategy[Filter]:
    orderable = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 2.0]),
                          st.text(alphabet="abAé", max_size=2))
    return st.one_of(
        st.builds(Filter.eq, st.just(field), scalars),
        st.builds(Filter.ne, st.just(field), scalars),
        st.builds(Filter.gt, st.just(field), orderable),
        st.builds(Filter.gte, st.just(field), orderable),
        st.builds(Filter.lt, st.just(field), orderable),
        st.builds(Filter.lte, st.just(field), orderable),
        st.builds(Filter.contains, st.just(field), scalars),
        st.builds(Filter.exists, st.just(field), st.booleans()),
        st.builds(Filter.matches, st.just(field), st.sampled_from(["^a", "b$", "A|é", "."])),
        st.builds(Filter.in_, st.just(field), st.lists(scalars, max_size=3)),
    )


atoms = st.one_of(*[_atom(f) for f in [*FIELDS, "@key"]])
filters = st.recursive(atoms, lambda inner: st.one_of(
    st.builds(lambda xs: Filter.and_(*xs), st.lists(inner, max_size=3)),
    st.builds(lambda xs: Filter.or_(*xs), st.lists(inner, max_size=3)),
    st.builds(Filter.not_, inner),
), max_leaves=6)
orders = st.lists(st.tuples(st.sampled_from([*FIELDS, "@key"]), st.booleans()), max_size=2)


# -- the reference ---------------------------------------------------------------------------
def category(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def get(doc: Any, key: str, field: str) -> Any:
    if field == "@key":
        return key
    for part in field.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return MISSING
        doc = doc[part]
    return doc


def same(x: Any, v: Any) -> bool:
    return x is not MISSING and category(x) == category(v) and (
        category(v) in ("null", "true", "false") or x == v)


def holds(f: Filter, doc: Any, key: str) -> bool:
    if f.op == "and":
        return all(holds(g, doc, key) for g in f.filters)
    if f.op == "or":
        return any(holds(g, doc, key) for g in f.filters)
    if f.op == "not":
        return not holds(f.filters[0], doc, key)
    x, v = get(doc, key, f.field), f.value
    if f.op == "eq":
        return same(x, v)
    if f.op == "ne":
        return not same(x, v)
    if f.op == "in":
        return any(same(x, w) for w in v)
    if f.op == "exists":
        return (x is not MISSING) == v
    if f.op == "matches":
        return isinstance(x, str) and re.search(v, x) is not None
    if f.op == "contains":
        return (isinstance(x, str) and isinstance(v, str) and v in x) or \
            (isinstance(x, list) and any(same(e, v) for e in x))
    if x is MISSING or category(x) != category(v):
        return False
    return {"gt": x > v, "gte": x >= v, "lt": x < v, "lte": x <= v}[f.op]  # type: ignore[no-any-return]


RANK = {"null": 1, "false": 2, "true": 3, "number": 4, "string": 5, "array": 6, "object": 6}


def sort_value(doc: Any, key: str, field: str) -> tuple[int, Any]:
    x = get(doc, key, field)
    if x is MISSING:
        return (0, 0)
    cat = category(x)
    return (RANK[cat], x if cat in ("number", "string") else 0)


def reference(state: dict[str, Any], f: Filter, order: list[tuple[str, bool]],
              limit: int | None, offset: int) -> list[str]:
    keys = sorted(k for k, doc in state.items() if holds(f, doc, k))
    for field, desc in reversed(order):
        keys.sort(key=lambda k, fld=field: sort_value(state[k], k, fld), reverse=desc)
    end = None if limit is None else offset + limit
    return keys[offset:end]


_names = itertools.count()


def build(repo: palimpsest.Repository, history: list[list[tuple[str, Any]]]
          ) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """Write the history into a new collection; (its name, [(commit id, state)])."""
    name = f"docs{next(_names)}"
    state: dict[str, Any] = {}
    commits = []
    for ops in history:
        with repo.transaction("step") as tx:
            for key, doc in ops:
                if doc is None:
                    if key in state:
                        tx.delete_document(name, key)
                        del state[key]
                else:
                    tx.put_document(name, key, doc)
                    state[key] = doc
        assert tx.commit is not None
        commits.append((tx.commit.id, dict(state)))
    repo.put_document(name, "zz-marker", {})  # the collection always exists
    return name, commits


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("indexed", [False, True])
@SETTINGS
@given(history=histories, f=filters, order=orders, page=st.tuples(
    st.one_of(st.none(), st.integers(0, 4)), st.integers(0, 3)), pick=st.integers(0, 100))
@pytest.mark.needs_embedded("a remote transaction without writes sends nothing (no empty commit)")
def test_query_equals_python(repo: palimpsest.Repository, indexed: bool,
                             history: list[list[tuple[str, Any]]], f: Filter,
                             order: list[tuple[str, bool]],
                             page: tuple[int | None, int], pick: int) -> None:
    name, commits = build(repo, history)
    if indexed:
        for field in FIELDS:
            repo.create_index(collection=name, field=field)
    commit_id, state = commits[pick % len(commits)]
    limit, offset = page
    got = repo.at(commit_id).query(name, f, order_by=[(n, "desc" if d else "asc")
                                                      for n, d in order],
                                   limit=limit, offset=offset)
    assert [d.key for d in got] == reference(state, f, order, limit, offset)
    assert all(d.value == state[d.key] for d in got)


@SETTINGS
@given(history=histories, f=filters, pick=st.integers(0, 100),
       group=st.sampled_from(["a", "s", "n.x"]), field=st.sampled_from(["a", "b", "n.x"]))
@pytest.mark.needs_embedded("a remote transaction without writes sends nothing (no empty commit)")
def test_aggregates_equal_python(repo: palimpsest.Repository,
                                 history: list[list[tuple[str, Any]]], f: Filter, pick: int,
                                 group: str, field: str) -> None:
    name, commits = build(repo, history)
    commit_id, state = commits[pick % len(commits)]
    got = repo.at(commit_id).aggregate(
        name, {"n": Agg.count(), "c": Agg.count(field), "total": Agg.sum(field),
                 "lo": Agg.min(field), "hi": Agg.max(field)}, where=f, group_by=group)
    groups: dict[Any, list[str]] = {}
    for key in sorted(k for k, d in state.items() if holds(f, d, k)):
        g = get(state[key], key, group)
        g = None if g is MISSING else g
        marker = (category(g), repr(g) if category(g) in ("array", "object") else g)
        groups.setdefault(marker, []).append(key)
    assert len(got) == len(groups)
    by_marker = {}
    for row in got:
        g = row[group]
        by_marker[(category(g), repr(g) if category(g) in ("array", "object") else g)] = row
    for marker, keys in groups.items():
        row = by_marker[marker]
        vals = [get(state[k], k, field) for k in keys]
        present = [v for v in vals if v is not MISSING]
        numbers = [v for v in present if category(v) == "number"]
        strings = [v for v in present if category(v) == "string"]
        assert row["n"] == len(keys)
        assert row["c"] == sum(1 for v in present if v is not None)
        assert row["total"] == pytest.approx(sum(numbers))
        assert row["lo"] == (min(numbers) if numbers else min(strings) if strings else None)
        assert row["hi"] == (max(strings) if strings else max(numbers) if numbers else None)
