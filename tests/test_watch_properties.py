"""Watches on random histories with branches and merges.

Commit watch: the commits delivered are exactly those reachable from the final head and not
from the start, each once, each after its parents — polled at random moments, and also when the
watch is resumed from its token (as the server's SSE stream is) at random moments.
Key-value watch: applying the events in order to a copy of the start state gives the branch's
state after every poll (merges with conflicts resolved either way included).
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest import Commit
from palimpsest.watch import CommitFollower, parse_token

BRANCHES = ["main", "b1", "b2", "b3"]
op_st = st.one_of(
    st.tuples(st.just("commit"), st.sampled_from(BRANCHES), st.integers(0, 3)),
    st.tuples(st.just("branch"), st.sampled_from(BRANCHES), st.sampled_from(BRANCHES)),
    st.tuples(st.just("merge"), st.sampled_from(BRANCHES), st.sampled_from(BRANCHES),
              st.sampled_from(["ours", "theirs"])),
    st.tuples(st.just("poll"), st.booleans()),
)


def _ancestors(repo: palimpsest.Repository, head: Commit | None) -> set[str]:
    if head is None:
        return set()
    return {c.id for c in repo.log(head.id, limit=None)}


def _run(repo: palimpsest.Repository, ops: list[tuple[Any, ...]], step: Any) -> None:
    """Apply the ops; ``step()`` after each poll op (and at the end)."""
    n = 0
    for op in ops:
        kind = op[0]
        if kind == "commit":
            _, branch, key = op
            if not repo._refs.has_branch(branch):
                continue
            n += 1
            repo.kv.on(branch).set(f"/k/{key}", f"{branch}-{n}".encode())
        elif kind == "branch":
            _, name, source = op
            if repo._refs.has_branch(name) or not repo._refs.has_branch(source):
                continue
            repo.create_branch(name, from_=source)
        elif kind == "merge":
            _, source, target, strategy = op
            if source == target or not (repo._refs.has_branch(source) and
                                        repo._refs.has_branch(target)):
                continue
            if repo._refs.branch_head(source) is None:
                continue
            repo.merge(source, into=target, strategy=strategy)
        else:
            step(op[1])
    step(True)


@settings(max_examples=int(os.environ.get("PALIMPSEST_HYPOTHESIS_EXAMPLES", "60")),
          deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_st, max_size=30), start_empty=st.booleans(),
       prefix=st.lists(st.tuples(st.just("commit"), st.just("main"), st.integers(0, 3)),
                       max_size=3))
def test_commit_watch_delivers_each_reachable_commit_once(
        ops: list[tuple[Any, ...]], start_empty: bool, prefix: list[tuple[Any, ...]]) -> None:
    repo = palimpsest.open(":memory:")
    _run(repo, prefix, lambda _: None)
    start = repo._refs.branch_head("main")
    watch = repo.watch("main", since=0 if start_empty else None)
    resumed: list[Commit] = []
    token = "0" if start_empty or start is None else str(start.seq)

    def step(reconnect: bool) -> None:
        nonlocal token
        # the SSE way: a new follower from the last token, delivering one commit at a time
        follower = CommitFollower(repo._commits, repo._refs, "main",
                                  parse_token(repo._commits, token))
        for commit in follower.new_commits()[:None if reconnect else 1]:
            follower.delivered(commit)
            resumed.append(commit)
            token = follower.token()

    delivered: list[Commit] = []

    def poll(reconnect: bool) -> None:
        delivered.extend(watch.poll())
        step(reconnect)

    _run(repo, ops, poll)
    while True:  # drain the resumed follower
        before = len(resumed)
        step(True)
        if len(resumed) == before:
            break
    watch.close()
    expected = _ancestors(repo, repo._refs.branch_head("main")) - (
        set() if start_empty else _ancestors(repo, start))
    for got in (delivered, resumed):
        ids = [c.id for c in got]
        assert len(ids) == len(set(ids)), "a commit was delivered twice"
        assert set(ids) == expected
        position = {cid: i for i, cid in enumerate(ids)}
        for commit in got:
            for parent in commit.parents:
                if parent in position:
                    assert position[parent] < position[commit.id], "a child before its parent"
    repo.close()


@settings(max_examples=int(os.environ.get("PALIMPSEST_HYPOTHESIS_EXAMPLES", "60")),
          deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_st, max_size=30))
def test_kv_watch_events_replay_the_branch_state(ops: list[tuple[Any, ...]]) -> None:
    repo = palimpsest.open(":memory:")
    repo.kv.set("/k/0", b"start")
    mirror = {e.key: e.value for e in repo.kv.list("/k/")}
    watch = repo.kv.watch("/k/*")
    seen: list[str] = []

    def poll(_: bool) -> None:
        for event in watch.poll():
            seen.append(event.commit.id)
            if event.type == "deleted":
                mirror.pop(event.key)
            else:
                assert (event.type == "created") == (event.key not in mirror), event
                mirror[event.key] = event.value  # type: ignore[assignment]
        assert mirror == {e.key: e.value for e in repo.kv.list("/k/")}

    _run(repo, ops, poll)
    assert set(seen) <= _ancestors(repo, repo._refs.branch_head("main"))
    watch.close()
    repo.close()
