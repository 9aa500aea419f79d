"""Registry of benchmarked systems, by name, imported lazily.

Lazy import matters: ``doltlite`` swaps the SQLite engine of the whole
process, so only the worker for that system may import it, and before
anything imports ``sqlite3``.
"""

from __future__ import annotations

import importlib

from benchmarks.systems.base import Handle, System, Unsupported

# name -> (module, class); order is the column order of the report.
SYSTEMS: dict[str, tuple[str, str]] = {
    "palimpsest": ("benchmarks.systems.palimpsest_system", "PalimpsestSystem"),
    "plain_sqlite": ("benchmarks.systems.plain_sqlite", "PlainSQLite"),
    "doltlite": ("benchmarks.systems.doltlite_peer", "DoltlitePeer"),
    "continuum": ("benchmarks.systems.continuum_peer", "ContinuumPeer"),
    "continuum_validity": ("benchmarks.systems.continuum_peer", "ContinuumValidityPeer"),
}
# run when no --only is given
DEFAULT_SYSTEMS: tuple[str, ...] = ("palimpsest", "plain_sqlite", "doltlite", "continuum")
# the history-at-scale sizes (tiny, medium, large): Continuum's writes are too slow there
SCALE_SYSTEMS: tuple[str, ...] = ("palimpsest", "plain_sqlite", "doltlite")


def load(name: str) -> System:
    """Instantiate the system registered under ``name``."""
    module_name, class_name = SYSTEMS[name]
    cls = getattr(importlib.import_module(module_name), class_name)
    system: System = cls()
    return system


__all__ = ["DEFAULT_SYSTEMS", "SCALE_SYSTEMS", "SYSTEMS", "Handle", "System", "Unsupported", "load"]
