"""The OpenAPI document is served and pinned by a snapshot.

After an intended API change, regenerate the snapshot with
``PALIMPSEST_UPDATE_SNAPSHOTS=1 pytest tests/server/test_openapi.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .conftest import Server

SNAPSHOT = Path(__file__).with_name("openapi.json")


def test_openapi_matches_snapshot(server: Server) -> None:
    served = server.client.get("/openapi.json")
    assert served.status_code == 200
    document = served.json()
    text = json.dumps(document, indent=1, sort_keys=True) + "\n"
    if os.environ.get("PALIMPSEST_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), "no snapshot: run with PALIMPSEST_UPDATE_SNAPSHOTS=1"
    assert text == SNAPSHOT.read_text(), (
        "the HTTP API changed; if intended, regenerate tests/server/openapi.json with "
        "PALIMPSEST_UPDATE_SNAPSHOTS=1 and review the diff")


def test_every_api_route_has_an_operation_id_named_after_python(server: Server) -> None:
    document = server.client.get("/openapi.json").json()
    ids = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    for name in ("transaction", "put_entity", "entity", "entities", "log", "changes",
                 "history", "blame", "diff", "rollback", "revert", "branches", "create_branch",
                 "tag", "tags", "merge", "merge_preview", "cherry_pick", "watch", "kv_get",
                 "kv_set", "kv_delete", "kv_list", "kv_transaction", "kv_watch", "query"):
        assert name in ids, name
    assert not any(p.startswith("/ui") for p in document["paths"])
