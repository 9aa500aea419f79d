"""The key-value / read-cache benchmark stays runnable (tiny size); timings are not asserted."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_kv_runs_at_tiny_size() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import bench_kv
    finally:
        sys.path.remove(str(ROOT))
    rows = bench_kv.run("tiny")
    names = [name for name, _, _ in rows]
    assert any(name.startswith("kv.set commits/s") for name in names)
    assert any(name.startswith("kv.set_many") for name in names)
    assert sum(name.startswith("group commit") for name in names) == 3
    assert any(name.startswith("view.entity") for name in names)
    assert all(value for _, value, _ in rows)
