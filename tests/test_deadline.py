"""Query time limits: a query past its deadline stops with QueryTimeout, nothing else."""

from __future__ import annotations

import pytest

import palimpsest
from palimpsest import F, QueryTimeout

pytestmark = pytest.mark.needs_embedded(
    "query deadlines are set on the embedded database")


def test_a_query_past_its_deadline_stops(repo: palimpsest.Repository) -> None:
    with repo.transaction() as tx:
        for i in range(300):
            tx.put_document("docs", f"d{i}", {"n": i, "text": "x" * 50})
    view = repo.head()
    with pytest.raises(QueryTimeout, match="limit"), repo.database.deadline(0):
        if repo.database.dialect.name == "postgresql":
            repo.database.one("SELECT pg_sleep(1)")
        else:
            view.query("docs", F("text").matches("x+"), order_by="-n")
    # without a deadline (or a generous one) the same query answers
    with repo.database.deadline(60):
        assert len(view.query("docs", F("n") >= 0)) == 300
    assert len(view.query("docs", F("text").matches("x+"))) == 300
