"""Benchmark suite for palimpsest and its peers (issue 2: core).

Run it with ``python -m benchmarks``. Each system runs in its own subprocess
(``benchmarks.worker``) because Doltlite replaces the SQLite engine of the
whole interpreter it is imported into. This package must therefore not
import ``sqlite3`` at import time.
"""
