"""Import and export: graph snapshots (JSON, JSON Lines, CSV, RDF, NetworkX), the full
history archive, and versioned import (one commit per release that records only what changed).

>>> import palimpsest
>>> from palimpsest.io import Snapshot, import_graph
>>> repo = palimpsest.open(":memory:")
>>> v1 = Snapshot({"ada": ("Person", {"born": 1815}), "bob": ("Person", {})})
>>> import_graph(repo, v1, message="release 1").stats.entities_created
2
>>> v2 = Snapshot({"ada": ("Person", {"born": 1815, "died": 1852})})
>>> stats = import_graph(repo, v2, message="release 2").stats
>>> (stats.entities_modified, stats.entities_deleted)
(1, 1)

RDF and NetworkX support import their libraries only when used.
"""

from __future__ import annotations

from .files import (
    FORMATS,
    ExportResult,
    detect_format,
    export_files,
    import_files,
    read_snapshot,
    render,
)
from .networkx import from_networkx, to_networkx
from .snapshot import ImportResult, Snapshot, as_snapshot, import_graph, snapshot_of

__all__ = [
    "FORMATS", "ExportResult", "ImportResult", "Snapshot", "as_snapshot", "detect_format",
    "export_files", "from_networkx", "import_files", "import_graph", "read_snapshot", "render",
    "snapshot_of", "to_networkx",
]
