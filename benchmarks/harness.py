"""Drive one system through the workload and measure every figure.

Runs inside a worker process (see ``benchmarks.worker``). Figures are
latencies in nanoseconds (p50/p95 over many samples, after a warm-up),
a rate, or a byte count. Each query figure also yields a *check*: a sum over
the answers to its first samples, which must agree between systems that
answer the same question, so a fast wrong answer does not go unnoticed.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import math
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks.systems import Handle, System, Unsupported, load
from benchmarks.systems.base import dir_bytes
from benchmarks.workload import (
    AUTHOR,
    COMMIT_INTERVAL,
    CommitSpec,
    CreateEntity,
    Entity,
    Props,
    Size,
    Workload,
    commit_time,
    generate,
)

CHECKED_SAMPLES = 20  # answers summed into a figure's check; never cut by the time budget
# the same for figures that change the state (rollbacks, merges): always at least this many
MIN_STATE_SAMPLES = 3
DIFF_DISTANCE = 100
ROLLBACK_DEPTH = 100

Figure = dict[str, Any]


class _Query(NamedTuple):
    """A read figure: how to draw arguments, the call, and how to fold its answer."""

    key: str
    draw: Callable[[random.Random], tuple[Any, ...]]
    op: Callable[..., Any]
    summarize: Callable[[Any], int]


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_figure(samples_ns: Sequence[int]) -> Figure:
    """p50/p95/mean/max of latency samples, in nanoseconds."""
    s = sorted(samples_ns)
    return {
        "p50": percentile(s, 50),
        "p95": percentile(s, 95),
        "mean": sum(s) // len(s),
        "max": s[-1],
        "n": len(s),
    }


def _log(system: str, message: str) -> None:
    print(f"[{system}] {message}", file=sys.stderr, flush=True)


class Run:
    """One system's pass over the workload; collects figures and checks."""

    def __init__(self, system: System, workload: Workload, seed: int, path: Path) -> None:
        self.system = system
        self.path = path
        self.wl = workload
        self.size: Size = workload.size
        self.seed = seed
        self.figures: dict[str, Figure] = {}
        self.checks: dict[str, int] = {}
        self.handles: list[Handle] = []

    # -- helpers ---------------------------------------------------------------

    def _guard(self, key: str, body: Callable[[], None]) -> None:
        """Run one figure; record n/a or the error instead of aborting the run."""
        try:
            body()
        except Unsupported as e:
            self.figures[key] = {"unsupported": str(e) or "unsupported"}
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            self.figures[key] = {"error": f"{type(e).__name__}: {e}"}
            _log(self.system.name, f"{key}: FAILED ({type(e).__name__}: {e})")

    def _sample(
        self,
        key: str,
        draw: Callable[[random.Random], tuple[Any, ...]],
        op: Callable[..., Any],
        summarize: Callable[[Any], int],
    ) -> None:
        """Time ``op(*draw(rng))`` for many draws; the first draws also feed the check."""
        rng = random.Random(f"{self.seed}:{key}")
        warm_rng = random.Random(f"{self.seed}:{key}:warm-up")
        n = self.size.samples
        args = [draw(rng) for _ in range(n)]
        warm_until = time.perf_counter_ns() + int(self.size.budget_s * 1e9 / 5)
        for i in range(max(5, n // 10)):  # warm-up: 10% of the samples, within 1/5 of the budget
            op(*draw(warm_rng))
            if i >= 2 and time.perf_counter_ns() > warm_until:
                break
        gc.collect()
        gc.disable()
        times: list[int] = []
        check = 0
        deadline = time.perf_counter_ns() + int(self.size.budget_s * 1e9)
        clock = time.perf_counter_ns
        try:
            for i, a in enumerate(args):
                t0 = clock()
                result = op(*a)
                t1 = clock()
                times.append(t1 - t0)
                if i < CHECKED_SAMPLES:
                    check += summarize(result)
                elif t1 > deadline:
                    break
        finally:
            gc.enable()
        self.figures[key] = latency_figure(times)
        self.checks[key] = check
        f = self.figures[key]
        _log(
            self.system.name,
            f"{key}: p50 {f['p50'] / 1e6:.3f} ms, p95 {f['p95'] / 1e6:.3f} ms, n={f['n']}",
        )

    def _optional(self, method: str) -> Callable[..., Any]:
        """A method only some systems have (the history-at-scale figures); n/a otherwise."""
        fn = getattr(self.system, method, None)
        if fn is not None:
            return fn  # type: ignore[no-any-return]

        def unsupported(*_: Any) -> Any:
            raise Unsupported(f"no {method}")

        return unsupported

    def _past(self, rng: random.Random) -> Handle:
        return self.handles[rng.randrange(len(self.handles))]

    # -- phases ----------------------------------------------------------------

    def load(self) -> None:
        """Bulk import, then the C commits; storage is measured around the commits."""
        wl, name = self.wl, self.system.name
        elements = len(wl.entities) + len(wl.relations)
        gc.collect()
        t0 = time.perf_counter_ns()
        h0 = self.system.bulk_import(wl.entities, wl.relations)
        dt = time.perf_counter_ns() - t0
        self.handles = [h0]
        self.figures["import"] = {
            "value": elements / (dt / 1e9),
            "seconds": dt / 1e9,
            "elements": elements,
        }
        _log(name, f"import: {elements} elements in {dt / 1e9:.2f} s")

        size0: int | None = None
        with contextlib.suppress(Unsupported):
            size0 = self.system.storage_bytes()

        times: list[int] = []
        clock = time.perf_counter_ns
        gc.collect()
        t_all = clock()
        for spec in wl.commits:
            t0 = clock()
            h = self.system.commit(spec)
            times.append(clock() - t0)
            self.handles.append(h)
        all_s = (clock() - t_all) / 1e9
        _log(name, f"commits: {len(times)} in {all_s:.2f} s")
        warm = min(len(times) // 10, 100)
        self.figures["commit"] = {**latency_figure(times[warm:]), "seconds": all_s}

        if size0 is not None:
            unchecked = dir_bytes(self.path)  # with the WAL as the commits left it
            size1 = self.system.storage_bytes()
            self.figures["storage"] = {
                "value": (size1 - size0) / len(wl.commits),
                "after_import": size0,
                "after_commits": size1,
                "before_checkpoint": unchecked,
            }
            gc_state = getattr(self.system, "gc", "")
            if gc_state:
                self.figures["storage"]["gc"] = gc_state
            _log(name, f"storage: {size0} B after import, {size1} B after commits")
        else:
            self.figures["storage"] = {"unsupported": "no storage figure"}

    def queries(self) -> None:
        """Read figures at random past commits; they do not change the state."""
        s, wl = self.system, self.wl
        ids = wl.base_ids
        types = sorted({e.type for e in wl.entities})
        index = {h: i for i, h in enumerate(self.handles)}
        span_s = int(COMMIT_INTERVAL.total_seconds()) * (len(wl.commits) + 1)
        dist = min(DIFF_DISTANCE, len(wl.commits))

        def at_entity(r: random.Random) -> tuple[Handle, str]:
            return self._past(r), r.choice(ids)

        def at_type(r: random.Random) -> tuple[Handle, str]:
            return self._past(r), r.choice(types)

        def entity(r: random.Random) -> tuple[str]:
            return (r.choice(ids),)

        def moment(r: random.Random) -> tuple[datetime]:
            return (commit_time(-1) + timedelta(seconds=r.randrange(span_s)),)

        def pair(r: random.Random) -> tuple[Handle, Handle]:
            k = r.randrange(len(self.handles) - dist)
            return self.handles[k], self.handles[k + dist]

        def random_pair(r: random.Random) -> tuple[Handle, Handle]:
            a, b = sorted(r.sample(range(len(self.handles)), 2))
            return self.handles[a], self.handles[b]

        def props_size(p: Props | None) -> int:
            return 0 if p is None else 1 + len(p)

        plan: list[_Query] = [
            _Query("read_at", at_entity, s.read_entity_at, props_size),
            _Query("time_resolve", moment, s.time_resolve, lambda h: index.get(h, -(10**6))),
            _Query("history", entity, s.history, len),
            _Query("neighbors2", at_entity, s.neighbors2_at, len),
            _Query("count_type", at_type, s.count_type_at, int),
            _Query("diff", pair, s.diff, int),
            # history at scale (issue 14); n/a for systems without these methods
            _Query("read_head", entity, self._optional("read_entity_head"), props_size),
            _Query("neighbors2_head", entity, self._optional("neighbors2_head"), len),
            _Query("count_type_head", lambda r: (r.choice(types),),
                   self._optional("count_type_head"), int),
            _Query("diff_random", random_pair, s.diff, int),
            _Query("diff_stats", pair, self._optional("diff_stats"), int),
            _Query("diff_stats_random", random_pair, self._optional("diff_stats"), int),
            _Query("diff_page", random_pair, self._optional("diff_page"), int),
            _Query("blame", entity, self._optional("blame"), int),
        ]
        for q in plan:
            self._guard(q.key, functools.partial(self._sample, q.key, q.draw, q.op, q.summarize))

    def branches(self) -> None:
        """Create many branches at the head (names never repeat)."""
        counter = itertools.count()

        def name(_: random.Random) -> tuple[str]:
            return (f"bench-{next(counter)}",)

        self._guard(
            "branch",
            functools.partial(self._sample, "branch", name, self.system.create_branch, lambda _: 0),
        )

    def rollbacks(self) -> None:
        """Roll the branch back: one commit at a time, 100 at a time, to random commits.

        Each sample makes the branch's state that of an earlier commit of the workload
        (``rollback_to``); the check sums a count at the head after each, so systems must
        land on the same states. Systems without ``rollback_to`` roll back by depth.
        """
        if getattr(self.system, "rollback_to", None) is None:
            self._rollbacks_by_depth()
            return
        last = len(self.handles) - 1
        pos = [last]
        counter = self._optional("count_type_head")
        types = sorted({e.type for e in self.wl.entities})

        def step(depth: int) -> Callable[[random.Random], int]:
            def target(_: random.Random) -> int:
                pos[0] = max(0, pos[0] - depth)
                return pos[0]

            return target

        def anywhere(r: random.Random) -> int:
            return r.randrange(last)

        plans: list[tuple[str, Callable[[random.Random], int], int]] = [
            ("rollback_1", step(1), max(self.size.rollbacks, min(50, self.size.samples))),
            ("rollback", step(ROLLBACK_DEPTH), self.size.rollbacks),
            ("rollback_random", anywhere, self.size.rollbacks),
        ]
        for key, target, count in plans:

            def body(key: str = key, target: Callable[[random.Random], int] = target,
                     count: int = count) -> None:
                rng = random.Random(f"{self.seed}:{key}")
                pos[0] = last  # rollback_to sets a state, wherever the branch stands
                times: list[int] = []
                check = 0
                deadline = time.perf_counter_ns() + int(self.size.budget_s * 1e9)
                for i in range(count):
                    handle = self.handles[target(rng)]
                    gc.collect()
                    t0 = time.perf_counter_ns()
                    self.system.rollback_to(handle)  # type: ignore[attr-defined]
                    t1 = time.perf_counter_ns()
                    times.append(t1 - t0)
                    if i < MIN_STATE_SAMPLES:
                        with contextlib.suppress(Unsupported):
                            check += counter(types[i % len(types)])
                    if t1 > deadline and len(times) >= MIN_STATE_SAMPLES:
                        break
                self.figures[key] = latency_figure(times)
                self.checks[key] = check
                f = self.figures[key]
                _log(self.system.name, f"{key}: p50 {f['p50'] / 1e6:.3f} ms, "
                     f"p95 {f['p95'] / 1e6:.3f} ms, n={f['n']}")

            self._guard(key, body)
        # back to the last workload commit (untimed), so what follows starts from one state
        with contextlib.suppress(Exception):
            self.system.rollback_to(self.handles[last])  # type: ignore[attr-defined]

    def _rollbacks_by_depth(self) -> None:
        """Roll back the last 100 commits, a few times in a row (this moves the head)."""

        def body() -> None:
            times: list[int] = []
            deadline = time.perf_counter_ns() + int(self.size.budget_s * 1e9)
            for _ in range(self.size.rollbacks):
                gc.collect()
                t0 = time.perf_counter_ns()
                self.system.rollback(ROLLBACK_DEPTH)
                t1 = time.perf_counter_ns()
                times.append(t1 - t0)
                if t1 > deadline:
                    break
            self.figures["rollback"] = latency_figure(times)
            _log(self.system.name, f"rollback: p50 {self.figures['rollback']['p50'] / 1e6:.3f} ms")

        self._guard("rollback", body)

    def merges(self) -> None:
        """Merge a small branch: 3 new entities on the branch, 1 on main meanwhile, so
        every merge is a three-way merge; only the merge is timed."""
        commit_on = self._optional("commit_on")
        merge = self._optional("merge")
        counter = self._optional("count_type_head")

        def spec(tag: str, n: int) -> CommitSpec:
            made = tuple(
                CreateEntity(Entity(f"{tag}-{j}", "Person", {"name": f"{tag} {j}", "rank": j}))
                for j in range(n)
            )
            # wall-clock time: merge commits are stamped now, and time may not go backwards
            return CommitSpec(0, datetime.now(UTC), tag, AUTHOR, made)

        def body() -> None:
            times: list[int] = []
            check = 0
            count = max(self.size.rollbacks, min(30, self.size.samples))
            deadline = time.perf_counter_ns() + int(self.size.budget_s * 1e9)
            for i in range(count):
                name = f"small-{i}"
                self.system.create_branch(name)
                commit_on(name, spec(f"b{i}", 3))
                self.system.commit(spec(f"m{i}", 1))
                gc.collect()
                t0 = time.perf_counter_ns()
                merge(name)
                t1 = time.perf_counter_ns()
                times.append(t1 - t0)
                if i < MIN_STATE_SAMPLES:
                    with contextlib.suppress(Unsupported):
                        check += counter("Person")
                if t1 > deadline and len(times) >= MIN_STATE_SAMPLES:
                    break
            self.figures["merge"] = latency_figure(times)
            self.checks["merge"] = check
            f = self.figures["merge"]
            _log(self.system.name, f"merge: p50 {f['p50'] / 1e6:.3f} ms, n={f['n']}")

        self._guard("merge", body)


def run(name: str, size: Size, seed: int) -> dict[str, Any]:
    """Run every figure for system ``name``; returns a JSON-ready result."""
    t_gen = time.perf_counter()
    gc.disable()  # millions of small objects: collections would dominate generation
    wl = generate(size, seed)
    gc.enable()
    gc.freeze()  # keep the workload out of every later collection
    _log(
        name,
        f"workload: {len(wl.entities)} entities, {len(wl.relations)} relations, "
        f"{len(wl.commits)} commits (generated in {time.perf_counter() - t_gen:.2f} s)",
    )
    system = load(name)
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        system.setup(Path(tmp))
        r = Run(system, wl, seed, Path(tmp))
        try:
            r.load()
            r.queries()
            r.branches()
            r.rollbacks()
            r.merges()
        finally:
            system.close()
    return {"figures": r.figures, "checks": r.checks}
