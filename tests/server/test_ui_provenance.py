"""The web UI shows where facts came from: on the entity page (per property, per version)
and in comparisons."""

from __future__ import annotations

from fastapi.testclient import TestClient

import palimpsest
from palimpsest.server import create_app


def test_entity_page_and_compare_show_provenance() -> None:
    repo = palimpsest.open(":memory:")
    first = repo.put_entity("bob", "Person", {"name": "Bob"})
    repo.put_entity("ada", "Person", {"name": "Ada"},
                    provenance={"source": "doc-17", "extractor": "model-x", "confidence": 0.83})
    repo.update_entity("ada", {"born": 1815}, provenance={"source": "doc-18"})
    client = TestClient(create_app(repo, no_auth=True))
    page = client.get("/ui/entity/ada").text
    assert page.count('class="provenance"') == 5  # name, @type, born; and the two versions
    assert "from <strong>doc-17</strong> · model-x · 0.83" in page
    assert "from <strong>doc-18</strong>" in page
    assert "title='provenance: {" in page  # JSON in a single-quoted attribute
    compare = client.get("/ui/compare", params={"a": first.id, "b": "main"}).text
    assert "from <strong>doc-18</strong>" in compare
    assert "doc-17" not in client.get("/ui/entity/bob").text
