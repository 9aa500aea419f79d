"""Property: full-text and similarity search at any commit, on any branch, return exactly
what a brute-force scan of that state (``view.entities``) returns, on every backend. The
reference is written here from docs/search.md (tokens, phrases, prefixes, distances),
independently of palimpsest's own search code. Examples share one repository per backend,
each in its own entity type; the index is declared before or after the history (the commit
hook or the backfill)."""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest

pytest.importorskip("numpy")

WORDS = ["ada", "lovelace", "analytical", "Engine", "engines", "note", "notes", "café",
         "CAFÉ", "x1"]
KEYS = [f"k{i}" for i in range(6)]

texts = st.lists(st.sampled_from(WORDS), max_size=5).flatmap(
    lambda ws: st.sampled_from([" ", ", ", "-", "_"]).map(lambda sep: sep.join(ws)))
props = st.fixed_dictionaries({}, optional={
    "title": texts, "body": st.one_of(texts, st.lists(texts, max_size=2), st.integers(0, 2)),
    "n": st.integers(0, 2),
    "vec": st.one_of(st.none(), st.lists(st.integers(-3, 3), min_size=4, max_size=4)),
})
# (branch 0 = main, 1 = side), key, new props or None (delete)
steps = st.lists(st.tuples(st.integers(0, 1), st.sampled_from(KEYS),
                           st.one_of(st.none(), props)), min_size=1, max_size=4)
histories = st.lists(steps, min_size=1, max_size=5)
queries = st.lists(st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(["ana*", "no*", "ENG*", "caf*", '"ada lovelace"', '"analytical engine"',
                     '"note ada"*', "x*"])), min_size=1, max_size=3).map(" ".join)

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# -- the reference ---------------------------------------------------------------------------
def tokens(text: str) -> list[str]:
    return [t.casefold() for t in re.findall(r"[^\W_]+", text)]


def field_tokens(value: Any) -> list[str]:
    if isinstance(value, str):
        return tokens(value)
    if isinstance(value, list):
        return [t for item in value for t in field_tokens(item)]
    return []


def phrases(query: str) -> list[tuple[list[str], bool]]:
    out = []
    for quoted, star, word in re.findall(r'"([^"]*)"(\*?)|(\S+)', query):
        found = tokens(quoted or word)
        if found:
            out.append((found, bool(star) or word.endswith("*")))
    return out


def occurs(phrase: tuple[list[str], bool], field: list[str]) -> bool:
    words, prefix = phrase
    n = len(words)
    for i in range(len(field) - n + 1):
        window = field[i:i + n]
        if window[:-1] == words[:-1] and (window[-1] == words[-1] or (
                prefix and window[-1].startswith(words[-1]))):
            return True
    return False


def text_matches(state: dict[str, dict[str, Any]], query: str) -> set[str]:
    wanted = phrases(query)
    return {key for key, p in state.items()
            if all(any(occurs(ph, field_tokens(p.get(f))) for f in ("title", "body"))
                   for ph in wanted)}


def distance(a: list[float], b: list[float], metric: str) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    if metric == "dot":
        return -dot
    if metric == "l2":
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 1.0 - (dot / norm if norm else 0.0)


# -- building --------------------------------------------------------------------------------
_names = itertools.count()


@pytest.fixture
def admin(repo: palimpsest.Repository, backend: str, repo_url: str) -> Any:
    """A handle that may declare indexes (the remote case: the server's file, opened here)."""
    if backend != "remote":
        yield repo
        return
    local = palimpsest.open(repo_url)
    yield local
    local.close()


def build(repo: Any, admin: Any, history: list[list[tuple[int, str, Any]]], metric: str,
          declare_first: bool) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """Write the history on main and a side branch; (type, [(commit id, state at it)])."""
    name = f"Doc{next(_names)}"
    branch = f"side-{name}"
    repo.put_entity(f"{name}-marker", name, {})  # the type exists on both branches
    repo.create_branch(branch)

    def declare() -> None:
        admin.create_text_index(name, fields=["title", "body"], kind="entity")
        admin.create_vector_index(name, "vec", dimensions=4, metric=metric, kind="entity")

    if declare_first:
        declare()
    states: list[dict[str, Any]] = [{}, {}]
    commits = []
    for ops in history:
        for side in (0, 1):
            mine = [(key, p) for s, key, p in ops if s == side]
            if not mine:
                continue
            with repo.transaction("step", branch=None if side == 0 else branch) as tx:
                for key, p in mine:
                    if p is None:
                        if key in states[side]:
                            tx.delete_entity(key)
                            del states[side][key]
                    else:
                        tx.put_entity(key, name, p)
                        states[side][key] = p
            if tx.commit is not None:
                commits.append((tx.commit.id, dict(states[side])))
    if not declare_first:
        declare()
    return name, commits


# -- properties ------------------------------------------------------------------------------
@SETTINGS
@given(history=histories, query=queries, pick=st.integers(0, 100),
       declare_first=st.booleans(), where=st.one_of(st.none(), st.integers(0, 2)))
def test_search_equals_brute_force(repo: Any, admin: Any, history: Any, query: str,
                                   pick: int, declare_first: bool, where: int | None) -> None:
    name, commits = build(repo, admin, history, "cosine", declare_first)
    if not commits:
        return
    commit_id, state = commits[pick % len(commits)]
    view = repo.at(commit_id)
    # the reference reads the state through the view, not through the model above
    seen = {e.id: e.props for e in view.entities(name) if not e.id.endswith("-marker")}
    assert seen == state
    expected = text_matches(seen, query)
    if where is not None:
        expected = {k for k in expected if seen[k].get("n") == where}
    hits = view.search(query, type=name, limit=None,
                       where=None if where is None else {"n": where})
    assert {h.element.id for h in hits} == expected
    assert all(h.element.props == seen[h.element.id] for h in hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(h.highlights and all("<mark>" in t for t in h.highlights.values())
               for h in hits)
    if expected:
        page = view.search(query, type=name, limit=1, offset=len(expected) - 1,
                           where=None if where is None else {"n": where})
        assert [h.element.id for h in page] == [hits[-1].element.id]


@SETTINGS
@given(history=histories, pick=st.integers(0, 100), declare_first=st.booleans(),
       metric=st.sampled_from(["cosine", "l2", "dot"]), k=st.integers(0, 7),
       query=st.lists(st.integers(-3, 3), min_size=4, max_size=4),
       where=st.one_of(st.none(), st.integers(0, 2)))
def test_similar_equals_brute_force(repo: Any, admin: Any, history: Any, pick: int,
                                    declare_first: bool, metric: str, k: int,
                                    query: list[int], where: int | None) -> None:
    name, commits = build(repo, admin, history, metric, declare_first)
    if not commits:
        return
    commit_id, _ = commits[pick % len(commits)]
    view = repo.at(commit_id)
    seen = {e.id: e.props for e in view.entities(name)
            if e.props.get("vec") is not None and (where is None or e.props.get("n") == where)}
    expected = sorted((round(distance(p["vec"], query, metric), 9), key)
                      for key, p in seen.items())[:k]
    hits = view.similar(query, k, type=name, where=None if where is None else {"n": where})
    assert [(round(h.distance, 9), h.element.id) for h in hits] == expected
    assert all(h.element.props == seen[h.element.id] for h in hits)
