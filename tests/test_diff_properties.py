"""Differential tests of diffs against a brute-force model, on random histories.

A history of random commits on two branches, with merges, deletions (cascading to relations),
documents, key-value entries and rollbacks to far-back commits. For random pairs of its
commits, the diff must equal the difference of the two whole states (``View.to_dict()``, read
through the scans, not the change sets) compared as canonical JSON (``1``, ``1.0`` and
``true`` differ); its pages, concatenated, must equal it; ``diff_stats`` and ``Diff.stats``
must count it; and its RFC 6902 patch must turn one state into the other.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import jsonpatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest.codec import canonical
from palimpsest.types import CommitStats

IDS = ["a", "b", "c", "d"]
values = st.one_of(st.integers(0, 2), st.sampled_from(["p", 1.0, True, False, 0.0, -0.0, [1],
                                                      {"n": 1.0}, {"n": 1}]))
op_st = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(IDS), st.sampled_from(["x", "y"]), values),
    st.tuples(st.just("put"), st.sampled_from(IDS), st.sampled_from(["T", "U"])),
    st.tuples(st.just("delete"), st.sampled_from(IDS)),
    st.tuples(st.just("relate"), st.sampled_from(IDS), st.sampled_from(IDS), values),
    st.tuples(st.just("unrelate"), st.sampled_from(IDS), st.sampled_from(IDS)),
    st.tuples(st.just("doc"), st.sampled_from(["c1", "c2"]), st.sampled_from(["k1", "k2"]),
              values),
    st.tuples(st.just("undoc"), st.sampled_from(["c1", "c2"]), st.sampled_from(["k1", "k2"])),
    st.tuples(st.just("kv"), st.sampled_from(["/k1", "/k2"]), st.binary(max_size=2)),
    st.tuples(st.just("merge"), st.sampled_from(["main", "side"])),
    st.tuples(st.just("rollback"), st.integers(0, 1000)),
)
step_st = st.tuples(st.sampled_from(["main", "side"]), st.lists(op_st, min_size=1, max_size=3))
SETTINGS = settings(max_examples=int(os.environ.get("PALIMPSEST_HYPOTHESIS_EXAMPLES", "40")),
                    deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _commit(repo: palimpsest.Repository, branch: str, ops: list[Any]) -> str | None:
    with repo.transaction("step", branch=branch) as tx:
        for kind, *args in ops:
            if kind == "set" and tx.entity(args[0]) is not None:
                tx.update_entity(args[0], {args[1]: args[2]})
            elif kind == "put":
                tx.put_entity(args[0], args[1], {"x": 0})
            elif kind == "delete" and tx.entity(args[0]) is not None:
                tx.delete_entity(args[0])
            elif kind == "relate" and tx.entity(args[0]) and tx.entity(args[1]):
                tx.put_relation(f"{args[0]}-{args[1]}", "R", args[0], args[1], {"w": args[2]})
            elif kind == "unrelate" and tx.relation(f"{args[0]}-{args[1]}") is not None:
                tx.delete_relation(f"{args[0]}-{args[1]}")
            elif kind == "doc":
                tx.put_document(args[0], args[1], {"f": args[2]} if args[2] != 2 else args[2])
            elif kind == "undoc" and tx.document(args[0], args[1]) is not None:
                tx.delete_document(args[0], args[1])
            elif kind == "kv":
                tx.kv.set(args[0], args[1])
    return tx.commit.id if tx.commit is not None else None


def _history(steps: list[tuple[str, list[Any]]]) -> tuple[palimpsest.Repository, list[str]]:
    repo = palimpsest.open(":memory:")
    commits = [repo.put_entity("a", "T", {"x": 0}).id]
    repo.create_branch("side")
    for branch, ops in steps:
        special = [op for op in ops if op[0] in ("merge", "rollback")]
        plain = [op for op in ops if op[0] not in ("merge", "rollback")]
        if plain:
            made = _commit(repo, branch, plain)
            if made is not None:
                commits.append(made)
        for op in special:
            if op[0] == "merge":
                other = "side" if op[1] == "main" else "main"
                result = repo.merge(other, into=op[1], strategy="theirs")
                if result.commit is not None:
                    commits.append(result.commit.id)
            else:
                target = commits[op[1] % len(commits)]
                commits.append(repo.rollback(target, branch=branch).id)
    return repo, list(dict.fromkeys(commits))


def _elements(state: dict[str, Any]) -> dict[tuple[str, str | None, str], Any]:
    """Every element of a state (``View.to_dict()`` plus each kv entry's version, which
    setting the same bytes again changes) as canonical JSON, by (element, collection, id)."""
    out: dict[tuple[str, str | None, str], Any] = {}
    for ident, value in state["entities"].items():
        out[("entity", None, ident)] = canonical(value)
    for ident, value in state["relations"].items():
        out[("relation", None, ident)] = canonical(value)
    for collection, docs in state["documents"].items():
        for key, value in docs.items():
            out[("document", collection, key)] = canonical(value)
    for key, value in state["kv"].items():
        out[("kv", None, key)] = (canonical(value), state["kv_versions"][key])
    return out


def _state(repo: palimpsest.Repository, commit: str) -> dict[str, Any]:
    view = repo.at(commit)
    return {**view.to_dict(), "kv_versions": {e.key: e.version for e in view.kv.list()}}


def _change_json(element: str, value: Any) -> str | None:
    if value is None:
        return None
    if element == "kv":
        return canonical(base64.b64encode(value).decode())
    if element == "document":
        return canonical(value.value)
    return canonical(value.to_dict())


def _expected(old: dict[str, Any], new: dict[str, Any]
              ) -> list[tuple[str, str | None, str, str, str | None, str | None]]:
    a, b = _elements(old), _elements(new)
    out = []
    for ident in a.keys() | b.keys():
        before, after = a.get(ident), b.get(ident)
        if before == after:
            continue
        kind = "created" if before is None else "deleted" if after is None else "modified"
        shown = [v[0] if isinstance(v, tuple) else v for v in (before, after)]
        out.append((ident[0], ident[1], ident[2], kind, *shown))
    order = {"entity": 0, "relation": 1, "document": 2, "kv": 3}
    return sorted(out, key=lambda c: (order[c[0]], c[1] or "", c[2]))


def _plain(changes: Any) -> list[tuple[str, str | None, str, str, str | None, str | None]]:
    return [(c.element, c.collection, c.id, c.kind, _change_json(c.element, c.old),
             _change_json(c.element, c.new)) for c in changes]


def _counts(expected: list[Any]) -> CommitStats:
    counts: dict[str, int] = {}
    for element, _, _, kind, _, _ in expected:
        group = {"entity": "entities", "relation": "relations", "document": "documents"}
        name = "kv_changed" if element == "kv" else f"{group[element]}_{kind}"
        counts[name] = counts.get(name, 0) + 1
    return CommitStats(**counts)


@SETTINGS
@given(steps=st.lists(step_st, min_size=1, max_size=12), data=st.data())
def test_diff_equals_the_difference_of_the_states(steps: list[Any], data: st.DataObject
                                                  ) -> None:
    repo, commits = _history(steps)
    states = {c: _state(repo, c) for c in commits}
    for _ in range(4):
        a = data.draw(st.sampled_from(commits))
        b = data.draw(st.sampled_from(commits))
        expected = _expected(states[a], states[b])
        diff = repo.diff(a, b)
        assert _plain(diff.changes) == expected
        assert len(diff) == len(expected)
        assert diff.stats == _counts(expected) == repo.diff_stats(a, b)
        patched = jsonpatch.apply_patch(repo.at(a).to_dict(), diff.to_json_patch())
        assert canonical(patched) == canonical(repo.at(b).to_dict())
        # pages of any size, concatenated, are the diff; the last has no cursor
        limit = data.draw(st.integers(1, 4))
        pages, after = [], None
        for _ in range(len(expected) + 1):
            page = repo.diff(a, b, limit=limit, after=after)
            assert len(page.changes) <= limit
            pages += _plain(page.changes)
            after = page.next
            if after is None:
                break
        assert pages == expected
