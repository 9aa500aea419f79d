"""Turn the per-system results into the printed tables (plain text).

Table 1 gives each system's figures beside the issue's target. Table 2
gives palimpsest's cost divided by each other system's (time or bytes, so
below 1 means palimpsest is cheaper), the commit ratio to the plain SQLite
floor, and whether palimpsest meets each target. Then the answer checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

OURS = "palimpsest"
FLOOR = "plain_sqlite"
MS = 1_000_000  # ns per ms


@dataclass(frozen=True, slots=True)
class FigureSpec:
    """One row: where its numbers live, how to show them, and the issue's target."""

    key: str
    label: str
    kind: str  # "latency" (ns samples), "rate" (per second) or "bytes"
    target: float | None  # ns for latency (on p95), elements/s for rate (minimum), bytes (maximum)
    target_text: str


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "import", "bulk import of the base graph, elements/s", "rate", 100_000, ">= 100,000"
    ),
    FigureSpec("commit", "one commit of 5 mutations, ms p50 / p95", "latency", 1 * MS, "p95 <= 1"),
    FigureSpec(
        "read_at", "view at a past commit + read one entity", "latency", 0.1 * MS, "p95 <= 0.1"
    ),
    FigureSpec(
        "time_resolve", "resolve a timestamp to a commit", "latency", 0.1 * MS, "p95 <= 0.1"
    ),
    FigureSpec("history", "history of one entity", "latency", 1 * MS, "p95 <= 1"),
    FigureSpec("neighbors2", "neighbors depth 2 at a past commit", "latency", 2 * MS, "p95 <= 2"),
    FigureSpec("count_type", "count one type at a past commit", "latency", 20 * MS, "p95 <= 20"),
    FigureSpec("diff", "diff of two commits 100 apart", "latency", 10 * MS, "p95 <= 10"),
    FigureSpec("branch", "create a branch", "latency", 1 * MS, "p95 <= 1"),
    FigureSpec("rollback", "rollback of the last 100 commits", "latency", 20 * MS, "p95 <= 20"),
    FigureSpec("storage", "storage per commit of 5 mutations, bytes", "bytes", 2048, "<= 2,048"),
    # history at scale (issue 14): no targets yet
    FigureSpec("read_head", "read one entity at the head", "latency", None, ""),
    FigureSpec("neighbors2_head", "neighbors depth 2 at the head", "latency", None, ""),
    FigureSpec("count_type_head", "count one type at the head", "latency", None, ""),
    FigureSpec("diff_random", "diff of two random commits", "latency", None, ""),
    FigureSpec("diff_stats", "diff stats only, commits 100 apart", "latency", None, ""),
    FigureSpec("diff_stats_random", "diff stats only, two random commits", "latency", None, ""),
    FigureSpec("diff_page", "first page (100 changes) of a random diff", "latency", None, ""),
    FigureSpec("blame", "blame of one entity", "latency", None, ""),
    FigureSpec("rollback_1", "rollback of 1 commit", "latency", None, ""),
    FigureSpec("rollback_random", "rollback to a random past commit", "latency", None, ""),
    FigureSpec("merge", "merge a small branch (3 + 1 commits)", "latency", None, ""),
)
FLOOR_TARGET = 3.0


def _ms(ns: float) -> str:
    v = ns / MS
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    if v >= 0.1:
        return f"{v:.3f}"
    return f"{v:.4f}"


def _figure(result: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """The figure if it was measured; None for n/a, error, or a system that did not run."""
    if not result or "figures" not in result:
        return None
    fig = result["figures"].get(key)
    if not fig or "unsupported" in fig or "error" in fig:
        return None
    return dict(fig)


def _cell(result: dict[str, Any] | None, spec: FigureSpec) -> str:
    if result is None:
        return "-"
    if "error" in result:
        return "error"
    fig = result.get("figures", {}).get(spec.key)
    if fig is None or "unsupported" in fig:
        return "n/a"
    if "error" in fig:
        return "error"
    if spec.kind == "latency":
        return f"{_ms(fig['p50'])} / {_ms(fig['p95'])}"
    if spec.kind == "rate":
        return f"{fig['value']:,.0f}"
    return f"{fig['value']:,.0f}"


def _cost(fig: dict[str, Any], spec: FigureSpec) -> float:
    """The number ratios divide: time (p95, or seconds per element) or bytes."""
    if spec.kind == "latency":
        return float(fig["p95"])
    if spec.kind == "rate":
        return 1.0 / float(fig["value"])
    return float(fig["value"])


def _ratio(a: float, b: float) -> str:
    if b <= 0:
        return "n/a"
    r = a / b
    return f"{r:.3g}x"


def _meets(fig: dict[str, Any], spec: FigureSpec) -> bool | None:
    if spec.target is None:
        return None
    if spec.kind == "latency":
        return float(fig["p95"]) <= spec.target
    if spec.kind == "rate":
        return float(fig["value"]) >= spec.target
    return float(fig["value"]) <= spec.target


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def render(meta: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    """The full text report for one run."""
    systems = list(results)
    others = [s for s in systems if s != OURS]
    ours = results.get(OURS)
    out: list[str] = []
    out.append(
        f"palimpsest benchmarks, size {meta['size']}: N={meta['entities']:,} entities, "
        f"{meta['relations']:,} relations, C={meta['commits']:,} commits of 5 mutations, "
        f"seed {meta['seed']}"
    )
    out.append(f"{meta['platform']}; latencies in ms, p50 / p95 over n samples")
    engines = ", ".join(f"{s}: SQLite {r.get('engine', '?')}" for s, r in results.items())
    out.append(f"engines: {engines}")
    out.extend(_load_warning(meta, results))
    out.append("")

    rows = [
        [spec.label, spec.target_text, *(_cell(results[s], spec) for s in systems)]
        for spec in FIGURES
    ]
    out.append(_table(["figure", "target", *systems], rows))
    out.append("")

    if ours is not None:
        out.extend(_ratios(results, others))
    out.extend(_checks(results))
    out.extend(_problems(results))
    return "\n".join(out)


def _floor_row(
    mine: dict[str, Any] | None, floor: dict[str, Any] | None, others: list[str]
) -> list[str]:
    """The commit latency over the plain SQLite floor's (target: at most 3x)."""
    row = ["  commit vs plain SQLite floor, p50 / p95", *("" for _ in others)]
    if mine is None or floor is None:
        return [*row, f"<= {FLOOR_TARGET:g}", "n/a"]
    p50, p95 = mine["p50"] / floor["p50"], mine["p95"] / floor["p95"]
    row[1 + others.index(FLOOR)] = f"{p50:.2f}x / {p95:.2f}x"
    return [*row, f"<= {FLOOR_TARGET:g}", "ok" if p95 <= FLOOR_TARGET else "MISSED"]


def _ratios(results: dict[str, dict[str, Any]], others: list[str]) -> list[str]:
    """Table 2: palimpsest's cost over each other system's, and the targets."""
    ours = results.get(OURS)
    rows = []
    for spec in FIGURES:
        mine = _figure(ours, spec.key)
        row = [spec.label.split(",")[0]]
        for s in others:
            theirs = _figure(results[s], spec.key)
            row.append(
                "n/a"
                if mine is None or theirs is None
                else _ratio(_cost(mine, spec), _cost(theirs, spec))
            )
        row.append(spec.target_text)
        met = None if mine is None else _meets(mine, spec)
        row.append("" if spec.target is None else "n/a" if met is None else "ok" if met else "MISSED")
        rows.append(row)
        if spec.key == "commit" and FLOOR in others:
            rows.append(_floor_row(mine, _figure(results[FLOOR], "commit"), others))
    header = [
        "palimpsest cost / other system's",
        *(f"/ {s}" for s in others),
        "target",
        "palimpsest",
    ]
    return [
        _table(header, rows),
        "(costs: p95 time, time per imported element, bytes per commit; below 1x = palimpsest cheaper)",
        "",
    ]


def _load_warning(meta: dict[str, Any], results: dict[str, dict[str, Any]]) -> list[str]:
    """Latencies mean little on a busy machine: say so when other work competed for the CPU."""
    loads = [x for r in results.values() for x in r.get("load", [])]
    limit = max(1.5, 0.75 * int(meta.get("cpus", 1)))
    if not loads or max(loads) <= limit:
        return []
    return [
        f"WARNING: the machine was busy (1-minute load average up to {max(loads):.1f} on "
        f"{meta.get('cpus')} CPUs); figures are unreliable, rerun on a quiet machine"
    ]


def _checks(results: dict[str, dict[str, Any]]) -> list[str]:
    """Compare the answer checks between systems; a mismatch means someone answered wrongly."""
    keys = sorted({k for r in results.values() for k in r.get("checks", {})} - {"branch"})
    agree, lines = 0, []
    for key in keys:
        values = {s: r["checks"][key] for s, r in results.items() if key in r.get("checks", {})}
        if len(set(values.values())) <= 1:
            agree += 1
        else:
            shown = ", ".join(f"{s}={v}" for s, v in values.items())
            lines.append(f"  MISMATCH {key}: {shown}")
    if not keys:
        return []
    return [
        f"answer checks: {agree} of {len(keys)} agree between the systems that answer them",
        *lines,
    ]


def _problems(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for s, r in results.items():
        if "error" in r:
            lines.append(f"{s}: did not run: {r['error']}")
        for key, fig in r.get("figures", {}).items():
            if "error" in fig:
                lines.append(f"{s}: {key} failed: {fig['error']}")
    return ["", "problems:", *(f"  {x}" for x in lines)] if lines else []


def print_figures(rows: Sequence[tuple[str, str, str]]) -> None:
    """Print (figure, value, target) rows as an aligned table (the area benchmarks)."""
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>{vwidth}}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>{vwidth}}  {target}")


def render_scale(by_size: dict[str, dict[str, dict[str, Any]]], peer: str = "doltlite") -> str:
    """History at scale: each figure's p50 / p95 at every size that ran, palimpsest over
    ``peer`` (p95) at each size, and the largest size over the smallest (p95) per system."""
    sizes = list(by_size)
    header = ["figure"]
    for size in sizes:
        header += [f"{OURS} {size}", f"{peer} {size}", f"÷ {peer}"]
    if len(sizes) > 1:
        header += [f"{OURS} {sizes[-1]}÷{sizes[0]}", f"{peer} {sizes[-1]}÷{sizes[0]}"]
    rows = []
    for spec in FIGURES:
        row = [spec.label]
        costs: dict[str, list[float | None]] = {OURS: [], peer: []}
        for size in sizes:
            results = by_size[size]
            for system in (OURS, peer):
                row.append(_cell(results.get(system), spec) if system in results else "-")
                fig = _figure(results.get(system), spec.key)
                costs[system].append(None if fig is None else _cost(fig, spec))
            mine, theirs = costs[OURS][-1], costs[peer][-1]
            row.append("n/a" if mine is None or theirs is None else _ratio(mine, theirs))
        if len(sizes) > 1:
            for system in (OURS, peer):
                first, last = costs[system][0], costs[system][-1]
                row.append("n/a" if first is None or last is None else _ratio(last, first))
        rows.append(row)
    build = ["build: bulk import + all commits, s"]
    spent: dict[str, list[float | None]] = {OURS: [], peer: []}
    for size in sizes:
        for system in (OURS, peer):
            imp = _figure(by_size[size].get(system), "import")
            com = _figure(by_size[size].get(system), "commit")
            t = None if imp is None or com is None or "seconds" not in com else (
                float(imp["seconds"]) + float(com["seconds"]))
            spent[system].append(t)
            build.append("-" if t is None else f"{t:,.1f}")
        mine, theirs = spent[OURS][-1], spent[peer][-1]
        build.append("n/a" if mine is None or theirs is None else _ratio(mine, theirs))
    if len(sizes) > 1:
        for system in (OURS, peer):
            first, last = spent[system][0], spent[system][-1]
            build.append("n/a" if first is None or last is None else _ratio(last, first))
    rows.insert(0, build)
    return "\n".join([
        f"history at scale: p50 / p95 in ms per size (rates in elements/s, storage in bytes "
        f"per commit); ratios on p95, time per element or bytes; sizes: {', '.join(sizes)}",
        _table(header, rows),
    ])
