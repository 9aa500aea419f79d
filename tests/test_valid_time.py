"""Valid time (docs/valid-time.md): intervals on entities and relations, on every backend and
over HTTP; hashes, diff, merge, history, archives; the narrowed views and the SQL plans they
use. The model-based test with both clocks is tests/test_valid_time_model.py."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import palimpsest
from palimpsest import wire
from palimpsest.codec import content_hash, encode
from palimpsest.errors import UnsupportedQuery
from palimpsest.types import Entity, Relation


def T(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _seed(repo: palimpsest.Repository) -> tuple[str, str]:
    """The issue's story: Alice at Acme from 2020 to 2023, at Globex since (learned in 2024),
    the end at Acme corrected in 2025. Returns the two commit ids."""
    with repo.transaction("learned in 2024", timestamp="2024-02-01") as tx:
        tx.put_entity("alice", "Person", {"name": "Alice"})
        tx.put_entity("acme", "Company")
        tx.put_entity("globex", "Company", valid_from="2010-05-01")
        tx.put_relation("alice-acme", "worksAt", "alice", "acme", {"role": "engineer"},
                        valid_from="2020-01-01", valid_to="2023-01-01")
        tx.put_relation("alice-globex", "worksAt", "alice", "globex",
                        valid_from="2023-01-01")
    learned = tx.commit
    with repo.transaction("corrected in 2025", timestamp="2025-01-15") as tx:
        tx.update_relation("alice-acme", valid_to="2023-04-01")
        tx.update_relation("alice-globex", valid_from="2023-04-01")
    assert learned is not None and tx.commit is not None
    return learned.id, tx.commit.id


def test_intervals_are_read_back_and_narrow_every_read(repo: palimpsest.Repository) -> None:
    learned, _ = _seed(repo)
    head = repo.head()
    rel = head.relation("alice-acme")
    assert rel is not None and rel.props == {"role": "engineer"}
    assert (rel.valid_from, rel.valid_to) == (T("2020-01-01"), T("2023-04-01"))
    assert head.entity("alice") == Entity("alice", "Person", {"name": "Alice"})
    # the three seed questions, in both clocks
    def employer(view: Any, when: str) -> list[str]:
        return [r.target for r in view.valid_at(when).relations(source="alice")]
    assert employer(head, "2022-06-01") == ["acme"]
    assert employer(head, "2023-02-01") == ["acme"]           # as we know it now
    assert employer(repo.at(learned), "2023-02-01") == ["globex"]  # as we knew it in 2024
    assert employer(repo.at("main@2024-06-01"), "2023-02-01") == ["globex"]
    assert employer(head, "2019-06-01") == []
    # the end is excluded, the start included
    assert employer(head, "2023-04-01") == ["globex"]
    assert employer(head, "2023-03-31T23:59:59.999999") == ["acme"]
    narrowed = head.valid_at("2021-01-01")
    assert [r.id for r in narrowed.relations()] == ["alice-acme"]
    assert narrowed.count_relations("worksAt") == 1 and head.count_relations("worksAt") == 2
    assert narrowed.relation("alice-globex") is None
    assert [e.id for e in narrowed.neighbors("alice")] == ["acme"]
    assert narrowed.count("Company") == 2  # globex exists since 2010, acme has no interval
    assert head.valid_at("2009-01-01").count("Company") == 1
    assert head.valid_at("2009-01-01").entity("globex") is None
    assert [e.id for e in head.valid_at("2009-01-01").entities()] == ["acme", "alice"]
    assert [e.id for e in narrowed.query("Company", kind="entity")] == ["acme", "globex"]
    assert narrowed.aggregate("Person", kind="entity") == {"count": 1}
    between = head.valid_between("2022-01-01", "2024-01-01")
    assert [r.id for r in between.relations()] == ["alice-acme", "alice-globex"]
    assert [r.id for r in head.valid_between("2023-05-01", "2024-01-01").relations()] == \
        ["alice-globex"]
    assert between.valid_window == (T("2022-01-01"), T("2024-01-01"))
    assert head.valid_window is None
    assert narrowed.valid_at("2024-01-01").count_relations() == 1  # narrowing again replaces


def test_bad_intervals_are_refused_and_nothing_is_written(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", valid_from="2020-01-01")
    before = repo.head().commit
    with pytest.raises(palimpsest.InvalidValue, match="must come before valid_to"):
        repo.put_entity("b", "T", valid_from="2021-01-01", valid_to="2020-01-01")
    with pytest.raises(palimpsest.InvalidValue, match="must come before valid_to"):
        repo.put_entity("b", "T", valid_from="2021-01-01", valid_to="2021-01-01")
    with pytest.raises(palimpsest.InvalidValue, match="ISO-8601"):
        repo.put_entity("b", "T", valid_from="last tuesday")
    with pytest.raises(palimpsest.InvalidValue, match="must come before valid_to"):
        repo.update_entity("a", valid_to="2019-01-01")
    with pytest.raises(palimpsest.InvalidValue, match="valid_between"):
        repo.head().valid_between("2021-01-01", "2020-01-01")
    assert repo.head().commit == before
    # "open" opens an end again; None keeps it
    repo.update_entity("a", {"x": 1})
    assert repo.head().entity("a").valid_from == T("2020-01-01")  # type: ignore[union-attr]
    repo.update_entity("a", valid_from="open", valid_to="2030-01-01")
    found = repo.head().entity("a")
    assert found is not None and (found.valid_from, found.valid_to) == (None, T("2030-01-01"))


def test_hashes_of_elements_without_an_interval_are_unchanged() -> None:
    # the formula of rows written before valid time existed (golden state hashes and the
    # checked-in old repository file pin it too: tests/test_codec.py, test_migrations.py)
    value = encode({"name": "Ada"})
    assert content_hash("e", "Person", None, None, value) == hashlib.blake2b(
        f"e\x00Person\x00\x00\x00{value}".encode(), digest_size=32).digest()
    plain = content_hash("r", "R", "a", "b", "{}")
    assert content_hash("r", "R", "a", "b", "{}", None, None) == plain
    open_end = content_hash("r", "R", "a", "b", "{}", 0, None)
    assert len({plain, open_end, content_hash("r", "R", "a", "b", "{}", None, 0),
                content_hash("r", "R", "a", "b", "{}", 0, 1)}) == 4


def test_an_interval_change_is_a_change(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1})
    plain = repo.head().commit
    repo.update_entity("a", valid_from="2020-01-01")
    dated = repo.head().commit
    assert plain is not None and dated is not None
    assert plain.state_hash != dated.state_hash
    diff = repo.diff(plain.id, dated.id)
    assert [(c.kind, c.id) for c in diff.changes] == [("modified", "a")]
    assert diff.changes[0].property_changes() == {
        "@valid": (None, ["2020-01-01T00:00:00+00:00", None])}
    # back to no interval: the state hash of the first commit again
    repo.update_entity("a", valid_from="open")
    assert repo.head().commit.state_hash == plain.state_hash  # type: ignore[union-attr]
    versions = repo.history("a")
    assert [v.value.valid_from for v in versions] == [None, T("2020-01-01"), None]
    assert versions[1].commit.timestamp >= versions[2].commit.timestamp  # both clocks


def test_merge_of_intervals(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", {"x": 1}, valid_from="2020-01-01")
    repo.put_entity("b", "T", valid_from="2020-01-01")
    repo.create_branch("other")
    repo.update_entity("a", valid_to="2021-01-01")
    repo.update_entity("b", {"y": 2})
    repo.checkout("other")
    repo.update_entity("a", valid_to="2022-01-01")
    repo.update_entity("b", valid_to="2025-01-01")
    result = repo.merge("main", into="other")
    assert result.status == "conflict"
    assert [(c.id, c.property) for c in result.conflicts] == [("a", "@valid")]
    conflict = result.conflicts[0]
    assert conflict.ours == ["2020-01-01T00:00:00+00:00", "2022-01-01T00:00:00+00:00"]
    assert conflict.theirs == ["2020-01-01T00:00:00+00:00", "2021-01-01T00:00:00+00:00"]
    done = repo.merge("main", into="other", strategy="theirs")
    assert done.status == "merged"
    view = repo.at("other")
    a, b = view.entity("a"), view.entity("b")
    assert a is not None and a.valid_to == T("2021-01-01")
    # b: the interval changed on one side, a property on the other: both kept
    assert b is not None and b.props == {"y": 2} and b.valid_to == T("2025-01-01")


def test_rollback_and_revert_restore_intervals(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", "T", valid_from="2020-01-01")
    first = repo.head().commit
    repo.update_entity("a", valid_to="2021-01-01")
    repo.revert("main")
    assert repo.head().entity("a").valid_to is None  # type: ignore[union-attr]
    repo.update_entity("a", valid_from="2000-01-01")
    assert first is not None
    repo.rollback(first.id)
    assert repo.head().commit.state_hash == first.state_hash  # type: ignore[union-attr]
    assert repo.head().entity("a").valid_from == T("2020-01-01")  # type: ignore[union-attr]


def test_wire_and_state_form() -> None:
    ent = Entity("a", "T", {"x": 1}, T("2020-01-01"), None)
    assert wire.decode(Entity, wire.encode(ent)) == ent
    assert wire.encode(ent)["valid_from"] == "2020-01-01T00:00:00+00:00"
    rel = Relation("r", "R", "a", "b", {}, None, T("2021-01-01"))
    assert wire.decode(Relation, wire.encode(rel)) == rel
    assert Entity("a", "T").to_dict() == {"type": "T", "props": {}}  # unchanged without one
    assert rel.to_dict()["valid_to"] == "2021-01-01T00:00:00+00:00"


@pytest.mark.needs_embedded("exports and imports the archive on the host")
def test_archive_round_trip_keeps_intervals(repo: palimpsest.Repository,
                                            tmp_path: Path) -> None:
    _seed(repo)
    repo.put_entity("plain", "T")
    path = tmp_path / "a.jsonl"
    repo.export(str(path))
    rows = [line for line in path.read_text().splitlines() if '"t":"row"' in line
            or '"t": "row"' in line]
    assert sum("valid_from" in line for line in rows) == 5  # only rows with an interval
    with palimpsest.import_(str(path), str(tmp_path / "copy.db")) as copy:
        assert copy.head().commit == repo.head().commit
        assert copy.fsck().problems == []
        assert [r.id for r in copy.head().valid_at("2023-02-01").relations()] == ["alice-acme"]


@pytest.mark.needs_embedded("reads the SQL plan through repo.database")
def test_valid_time_reads_use_the_same_indexes(repo: palimpsest.Repository) -> None:
    """A read narrowed to a valid time in the past runs the same index plan as the read
    without it: the visibility rule picks the versions from the index, the interval filters
    them (no scan of all versions); the type count stays index-only."""
    with repo.transaction("load") as tx:
        for i in range(200):
            tx.put_entity(f"e{i}", "Person", {"i": i}, valid_from=f"{2000 + i % 20}-01-01")
    past = repo.head().commit
    repo.put_entity("e1", "Person", valid_to="2030-01-01")
    view = repo.at(past.id).valid_at("2010-06-01")  # type: ignore[union-attr]
    db = repo.database
    seen: list[tuple[str, Any]] = []
    db.tracer = lambda sql, params: seen.append((sql, params))
    try:
        assert view.count("Person") == 110
        assert view.entity("e5") is not None and view.entity("e15") is None
    finally:
        db.tracer = None
    count_sql = next((s, p) for s, p in seen if s.startswith("SELECT count(*)"))
    point_sql = next((s, p) for s, p in seen if "r.key = ?" in s)
    if db.dialect.name == "sqlite":
        plan = " ".join(str(r[-1]) for r in db.all("EXPLAIN QUERY PLAN " + count_sql[0],
                                                   count_sql[1]))
        assert "USING COVERING INDEX rows_type" in plan, plan
        assert "SCAN r" not in plan.replace("SCAN r USING", ""), plan
        plan = " ".join(str(r[-1]) for r in db.all("EXPLAIN QUERY PLAN " + point_sql[0],
                                                   point_sql[1]))
        assert "rows_key" in plan, plan
    else:
        with db.write():  # a transaction of its own: the setting ends with it
            db.run("SET LOCAL enable_seqscan = off")
            plan = " ".join(str(r[0]) for r in db.all("EXPLAIN " + count_sql[0],
                                                      count_sql[1]))
        assert "rows_type" in plan and "Seq Scan" not in plan, plan
    # a point read is the very statement of an unnarrowed one: the interval is checked on
    # the one row it returns
    assert "valid_" not in point_sql[0].split(" FROM ")[1]


def test_server_routes_take_valid_at(repo: palimpsest.Repository) -> None:
    """Over HTTP (the remote case) and embedded, the narrowed view answers the same."""
    _seed(repo)
    head = repo.head()
    assert head.valid_at("2022-06-01").count_relations() == 1
    assert head.valid_at("2022-06-01").entity("alice") is not None
    assert head.valid_at("2009-01-01").entity("globex") is None
    assert [e.id for e in head.valid_at("2024-01-01").neighbors("alice")] == ["globex"]
    assert head.valid_between("2022-01-01", "2024-01-01").count_relations() == 2
    state = head.valid_at("2009-01-01").to_dict()
    assert sorted(state["entities"]) == ["acme", "alice"] and state["relations"] == {}


def test_json_patch_carries_interval_changes(repo: palimpsest.Repository) -> None:
    """``diff(a, b).to_json_patch()`` turns ``a``'s ``to_dict()`` into ``b``'s exactly, when
    only an interval changed too (the state form has ``valid_from`` / ``valid_to`` only for
    elements with one)."""
    import jsonpatch

    repo.put_entity("a", "T", {"x": 1})
    first = repo.head()
    repo.update_entity("a", valid_from="2020-01-01")
    repo.put_relation("r", "R", "a", "a", valid_to="2030-01-01")
    second = repo.head()
    repo.update_entity("a", valid_from="open", valid_to="2040-01-01")
    third = repo.head()
    states = [v.to_dict() for v in (first, second, third)]
    ids = [v.commit.id for v in (first, second, third)]  # type: ignore[union-attr]
    for i in range(3):
        for j in range(3):
            patch = repo.diff(ids[i], ids[j]).to_json_patch()
            assert jsonpatch.apply_patch(states[i], patch) == states[j], (i, j, patch)


def test_reads_that_do_not_honour_valid_time_refuse_a_narrowed_view(
        repo: palimpsest.Repository) -> None:
    """SPARQL, Cypher, search and materialized views answer over the whole state: on a
    narrowed view they refuse rather than answer as if narrowed."""
    repo.put_entity("a", "T", valid_from="2020-01-01")
    narrowed = repo.head().valid_at("2010-01-01")
    for call in (lambda: narrowed.sparql("SELECT ?s WHERE { ?s ?p ?o }"),
                 lambda: narrowed.cypher("MATCH (n) RETURN n"),
                 lambda: narrowed.cypher_explain("MATCH (n) RETURN n"),
                 lambda: narrowed.search("x"), lambda: narrowed.similar([1.0]),
                 lambda: narrowed.materialized("v")):
        with pytest.raises(UnsupportedQuery, match="valid time"):
            call()
