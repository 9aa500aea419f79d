"""Provenance per fact (docs/provenance.md): where each element version came from.

Checked on every backend (the ``repo`` fixture: SQLite in memory and in a file, PostgreSQL,
and the HTTP client) against dict models: the provenance of every live element after random
writes, reverts and rollbacks; each side's provenance after a merge; retract-by-source. Each
hypothesis example works in its own namespace of ids and sources inside the test's repository.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest import InvalidValue
from palimpsest.codec import canonical

SETTINGS = settings(max_examples=int(os.environ.get("PALIMPSEST_HYPOTHESIS_EXAMPLES", "25")),
                    deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                          HealthCheck.function_scoped_fixture])
_names = itertools.count()
IDS = ["a", "b", "c", "d"]
SOURCES = [None, "s1", "s2", "s3"]
values = st.sampled_from([0, 1, 1.0, True, "x", [1], {"n": 1}])


def _space() -> str:
    return f"n{next(_names)}-"


def _prov(ns: str, source: str | None) -> dict[str, Any] | None:
    return None if source is None else {"source": ns + source, "extractor": "test"}


def current_provenance(repo: palimpsest.Repository, id: str, ref: str | None = None
                       ) -> dict[str, Any] | None:
    versions = repo.history(id, ref=ref, relations="none")
    return versions[0].provenance if versions else None


def test_writes_record_provenance_beside_the_value(repo: palimpsest.Repository) -> None:
    first = repo.put_entity("ada", "Person", {"name": "Ada"},
                            provenance={"source": "doc-17", "span": [120, 180],
                                        "confidence": 0.83})
    with repo.transaction("extract") as tx:
        with tx.provenance(source="doc-18", extractor="model-x"):
            tx.put_entity("bob", "Person", {"name": "Bob"})
            tx.update_entity("ada", {"born": 1815}, provenance={"span": [1, 9]})
            tx.put_relation("ada-knows-bob", "KNOWS", "ada", "bob")
        tx.put_document("notes", "n1", {"text": "hi"}, provenance={"source": "doc-19"})
    view = repo.head()
    assert view.get_entity("ada").props == {"name": "Ada", "born": 1815}  # not mixed in
    history = repo.history("ada", relations="none")
    assert [v.provenance for v in history] == [
        {"source": "doc-18", "extractor": "model-x", "span": [1, 9]},
        {"source": "doc-17", "span": [120, 180], "confidence": 0.83}]
    blame = repo.blame("ada", relations="none")
    assert blame["name"].provenance == {"source": "doc-17", "span": [120, 180],
                                        "confidence": 0.83}
    assert blame["born"].provenance["source"] == "doc-18"
    changes = {c.id: c.provenance for c in repo.changes(repo.head().commit.id)}
    assert changes == {"ada": {"source": "doc-18", "extractor": "model-x", "span": [1, 9]},
                       "bob": {"source": "doc-18", "extractor": "model-x"},
                       "ada-knows-bob": {"source": "doc-18", "extractor": "model-x"},
                       "n1": {"source": "doc-19"}}
    diff = repo.diff(first.id, "main")
    assert {c.id: (c.provenance or {}).get("source") for c in diff.changes} == {
        "ada": "doc-18", "bob": "doc-18", "ada-knows-bob": "doc-18", "n1": "doc-19"}
    assert [e.id for e in view.entities(source="doc-18")] == ["ada", "bob"]
    assert [e.id for e in view.entities(source="doc-17")] == []
    assert [e.id for e in view.entities(type="Person", source="doc-18", limit=1)] == ["ada"]


def test_provenance_is_not_part_of_the_value(repo: palimpsest.Repository) -> None:
    """The same value from another source is a new version (history and retract see it) but
    not a change of the state: same state hash, empty diff, no stats."""
    first = repo.put_entity("x", "T", {"v": 1}, provenance={"source": "s1"})
    again = repo.put_entity("x", "T", {"v": 1}, provenance={"source": "s1"})
    other = repo.put_entity("x", "T", {"v": 1}, provenance={"source": "s2"})
    assert again.state_hash == first.state_hash == other.state_hash
    assert len(repo.history("x")) == 2  # the same record again writes nothing
    assert current_provenance(repo, "x") == {"source": "s2"}
    assert list(repo.diff(first.id, other.id).changes) == []
    assert other.stats.entities_modified == 0
    assert repo.retract("s1").stats.entities_deleted == 0
    assert repo.retract("s2").stats.entities_deleted == 1


def test_bad_provenance_is_refused(repo: palimpsest.Repository) -> None:
    for bad in ({}, {"source": 3}, {"source": ""}, ["doc"], {"source": "s", "x": float("nan")}):
        with pytest.raises(InvalidValue):
            repo.put_entity("x", "T", {}, provenance=bad)  # type: ignore[arg-type]
    assert repo.head().entity("x") is None


# -- a linear history with reverts and rollbacks ---------------------------------------------
ops = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from(IDS), values, st.sampled_from(SOURCES)),
    st.tuples(st.just("update"), st.sampled_from(IDS), values, st.sampled_from(SOURCES)),
    st.tuples(st.just("delete"), st.sampled_from(IDS), st.sampled_from(SOURCES)),
    st.tuples(st.just("revert"), st.integers(0, 20)),
    st.tuples(st.just("rollback"), st.integers(0, 20)),
), min_size=1, max_size=12)

Model = dict[str, tuple[str, str | None]]  # id -> (canonical props, canonical provenance)


def _key(props: Any, prov: dict[str, Any] | None) -> tuple[str, str | None]:
    return canonical(props), None if prov is None else canonical(prov)


@SETTINGS
@given(steps=ops)
def test_provenance_survives_writes_reverts_and_rollbacks(repo: palimpsest.Repository,
                                                          steps: list[Any]) -> None:
    ns = _space()
    branch = ns + "main"
    repo.create_branch(branch, from_=None)
    model: Model = {}
    states: list[tuple[str, Model]] = []  # (commit id, model) after each commit
    for step in steps:
        kind = step[0]
        if kind in ("put", "update", "delete"):
            ident, prov = ns + step[1], _prov(ns, step[-1])
            if kind == "put":
                commit = repo.put_entity(ident, "T", {"v": step[2]}, branch=branch,
                                         provenance=prov)
                model[ident] = _key({"v": step[2]}, prov)
            elif ident not in model:
                continue
            elif kind == "update":
                commit = repo.update_entity(ident, {"w": step[2]}, branch=branch,
                                            provenance=prov)
                props = repo.at(commit.id).get_entity(ident).props
                model[ident] = _key(props, prov)
            else:
                commit = repo.delete_entity(ident, branch=branch, provenance=prov)
                del model[ident]
        elif not states:
            continue
        elif kind == "rollback":
            target, snapshot = states[step[1] % len(states)]
            commit = repo.rollback(target, branch=branch)
            model = dict(snapshot)
        else:
            target, _ = states[step[1] % len(states)]
            index = step[1] % len(states)
            before = states[index - 1][1] if index else {}
            after = states[index][1]
            try:
                commit = repo.revert(target, branch=branch)
            except palimpsest.MergeConflict:
                continue  # later commits changed the same properties: nothing written
            for ident in set(before) | set(after):
                old, new = before.get(ident), after.get(ident)
                if (old and old[0]) == (new and new[0]):
                    continue  # a provenance-only change is no change to revert
                if ident in before:
                    model[ident] = before[ident]
                else:
                    model.pop(ident, None)
            # a value the revert merged field by field has no single source
            for ident, (props, _) in list(model.items()):
                stored = repo.at(commit.id).entity(ident)
                if stored is not None and canonical(stored.props) != props:
                    model[ident] = (canonical(stored.props), None)
        states.append((commit.id, dict(model)))
        view = repo.at(commit.id)
        seen = {e.id: canonical(e.props) for e in view.entities(type="T")
                if e.id.startswith(ns)}
        assert seen == {k: v[0] for k, v in model.items()}
        for ident, (_, prov) in model.items():
            got = current_provenance(repo, ident, commit.id)
            assert (None if got is None else canonical(got)) == prov, (ident, step)


# -- merge keeps each side's provenance -----------------------------------------------------
side_ops = st.lists(st.tuples(st.sampled_from([0, 1]), values, st.sampled_from(SOURCES[1:])),
                    max_size=4)


@SETTINGS
@given(base=side_ops, left=side_ops, right=side_ops)
def test_merge_keeps_each_sides_provenance(repo: palimpsest.Repository, base: list[Any],
                                           left: list[Any], right: list[Any]) -> None:
    ns = _space()
    main, side = ns + "main", ns + "side"
    repo.create_branch(main, from_=None)
    expected: dict[str, dict[str, Any] | None] = {}

    def write(branch: str, prefix: str, items: list[Any]) -> None:
        for slot, value, source in items:
            ident = f"{ns}{prefix}{slot}"
            repo.put_entity(ident, "T", {"v": value}, branch=branch,
                            provenance=_prov(ns, source))
            if current_provenance(repo, ident, branch) is not None:
                expected[ident] = current_provenance(repo, ident, branch)

    repo.put_entity(ns + "root", "T", {}, branch=main)
    write(main, "base", base)
    repo.create_branch(side, from_=main)
    write(main, "left", left)   # the two sides touch different elements: no conflict
    write(side, "right", right)
    result = repo.merge(side, into=main)
    assert result.status in ("merged", "fast_forward", "up_to_date")
    for ident, prov in expected.items():
        assert current_provenance(repo, ident, main) == prov, ident


# -- retract-by-source against a model --------------------------------------------------------
facts = st.lists(st.one_of(
    st.tuples(st.just("e"), st.sampled_from(IDS), st.sampled_from(SOURCES)),
    st.tuples(st.just("r"), st.sampled_from(IDS), st.sampled_from(IDS),
              st.sampled_from(SOURCES)),
    st.tuples(st.just("d"), st.sampled_from(IDS), st.sampled_from(SOURCES)),
), max_size=14)


@SETTINGS
@given(writes=facts, retracted=st.sampled_from(SOURCES[1:]))
def test_retract_equals_a_model(repo: palimpsest.Repository, writes: list[Any],
                                retracted: str) -> None:
    ns = _space()
    branch = ns + "main"
    repo.create_branch(branch, from_=None)
    entities: dict[str, str | None] = {}
    relations: dict[str, tuple[str, str, str | None]] = {}
    documents: dict[str, str | None] = {}
    with repo.transaction("facts", branch=branch) as tx:
        for item in writes:
            source = item[-1]
            if item[0] == "e":
                tx.put_entity(ns + item[1], "T", {}, provenance=_prov(ns, source))
                entities[ns + item[1]] = source
            elif item[0] == "d":
                tx.put_document(ns + "docs", item[1], {"k": 1}, provenance=_prov(ns, source))
                documents[item[1]] = source
            elif ns + item[1] in entities and ns + item[2] in entities:
                rid = f"{ns}{item[1]}-{item[2]}"
                tx.put_relation(rid, "R", ns + item[1], ns + item[2],
                                provenance=_prov(ns, source))
                relations[rid] = (ns + item[1], ns + item[2], source)
    repo.retract(ns + retracted, branch=branch)
    gone = {k for k, s in entities.items() if s == retracted}
    want_entities = sorted(set(entities) - gone)
    want_relations = sorted(k for k, (a, b, s) in relations.items()
                            if s != retracted and a not in gone and b not in gone)
    want_documents = sorted(k for k, s in documents.items() if s != retracted)
    view = repo.at(branch)
    assert sorted(e.id for e in view.entities(type="T") if e.id.startswith(ns)) == \
        want_entities
    assert sorted(r.id for r in view.relations(type="R") if r.id.startswith(ns)) == \
        want_relations
    assert sorted(d.key for d in view.documents(ns + "docs")) == want_documents
    assert not list(view.entities(source=ns + retracted))


# -- erasure, archives, copies: embedded maintenance -------------------------------------------
@pytest.mark.needs_embedded("erase_source and export run on the repository's host")
def test_erase_source_blanks_exactly_that_sources_values(repo: palimpsest.Repository,
                                                         tmp_path: Path) -> None:
    one = repo.put_entity("p", "Person", {"name": "Pat"}, provenance={"source": "leak"})
    repo.update_entity("p", {"age": 3}, provenance={"source": "registry"})
    repo.put_entity("q", "Person", {"name": "Quinn"}, provenance={"source": "registry"})
    before = repo.head().commit
    made = repo.erase_source("leak", reason="personal data from a leaked file")
    assert [(e.key, e.rows) for e in made] == [("p", 1)]
    assert "@erased" in repo.at(one.id).get_entity("p").props
    assert repo.head().get_entity("p").props == {"name": "Pat", "age": 3}
    assert repo.head().commit.state_hash == before.state_hash
    assert repo.fsck().ok
    with pytest.raises(palimpsest.NotFound):
        repo.erase_source("leak", reason="again")


@pytest.mark.needs_embedded("archives and copies are written on the repository's host")
def test_archive_and_copy_keep_provenance(repo: palimpsest.Repository, tmp_path: Path) -> None:
    repo.put_entity("a", "T", {"v": 1}, provenance={"source": "s1", "confidence": 0.5})
    repo.put_entity("b", "T", {"v": 2})
    repo.put_entity("a", "T", {"v": 1}, provenance={"source": "s2"})
    repo.put_entity("c", "T", {}, valid_from="2020-01-01T00:00:00Z",
                    provenance={"source": "s3"})  # both beside the value
    archive = tmp_path / "a.jsonl"
    repo.export(str(archive))
    loaded = palimpsest.import_(str(archive), str(tmp_path / "b.db"))
    want = [v.provenance for v in repo.history("a")]
    assert want == [{"source": "s2"}, {"source": "s1", "confidence": 0.5}]
    assert [v.provenance for v in loaded.history("a")] == want
    again = tmp_path / "b.jsonl"
    loaded.export(str(again))
    assert again.read_bytes() == archive.read_bytes()
    repo.copy_to(str(tmp_path / "c.db"))
    copied = palimpsest.open(str(tmp_path / "c.db"))
    assert [v.provenance for v in copied.history("a")] == want
    both = [(v.provenance, v.value) for v in repo.history("c")]
    assert both[0][0] == {"source": "s3"} and both[0][1].valid_from is not None
    assert [(v.provenance, v.value) for v in loaded.history("c")] == both
    assert [(v.provenance, v.value) for v in copied.history("c")] == both
    assert copied.fsck().ok
    loaded.close()
    copied.close()


def test_archive_without_provenance_has_no_provenance_field(tmp_path: Path) -> None:
    repo = palimpsest.open(":memory:")
    repo.put_entity("a", "T", {"v": 1})
    repo.export(str(tmp_path / "a.jsonl"))
    assert b"provenance" not in (tmp_path / "a.jsonl").read_bytes()
