"""Schemas versioned with the data and enforced on every commit (docs/schemas.md).

Runs on every repository fixture case (SQLite in memory and file, PostgreSQL, remote). The
property test checks the whole rule: a random commit under random schemas lands exactly when
a brute-force validation of the whole resulting state passes, and a refused one leaves the
branch where it was."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import palimpsest
from palimpsest import IntegrityError, InvalidValue, NotFound, SchemaViolation

PERSON = {"type": "object", "required": ["name"],
          "properties": {"name": {"type": "string"}, "born": {"type": "integer"}}}


def _rules(error: SchemaViolation) -> set[tuple[str, str, str]]:
    return {(v.id, v.path, v.rule) for v in error.violations}


def test_a_write_breaking_the_schema_is_refused_with_paths_and_rules(
        repo: palimpsest.Repository) -> None:
    repo.set_schema("Person", PERSON)
    head = repo.resolve("main")
    with pytest.raises(SchemaViolation) as caught:
        repo.put_entity("ada", "Person", {"born": "1815"})
    assert _rules(caught.value) == {("ada", "", "required"), ("ada", "/born", "type")}
    assert isinstance(caught.value, IntegrityError)
    assert repo.resolve("main") == head
    assert repo.head().entity("ada") is None
    repo.put_entity("ada", "Person", {"name": "Ada", "born": 1815})
    repo.put_entity("lon", "City", {"anything": True})  # no schema for City


def test_a_transaction_is_refused_whole(repo: palimpsest.Repository) -> None:
    repo.set_schema("Person", PERSON)
    head = repo.resolve("main")
    with pytest.raises(SchemaViolation), repo.transaction("two") as tx:
        tx.put_entity("ada", "Person", {"name": "Ada"})
        tx.put_entity("bob", "Person", {"name": 7})
    assert repo.resolve("main") == head
    assert repo.head().entity("ada") is None


def test_a_schema_the_data_breaks_is_refused(repo: palimpsest.Repository) -> None:
    repo.put_entity("ada", "Person", {"name": "Ada"})
    repo.put_entity("bob", "Person", {})
    with pytest.raises(SchemaViolation) as caught:
        repo.set_schema("Person", PERSON)
    assert _rules(caught.value) == {("bob", "", "required")}
    assert repo.schema("Person") is None
    repo.put_entity("bob", "Person", {"name": "Bob"})
    repo.set_schema("Person", PERSON)
    assert repo.schema("Person") == palimpsest.Schema("entity", "Person", PERSON)


def test_bad_schemas_are_invalid_values(repo: palimpsest.Repository) -> None:
    with pytest.raises(InvalidValue):
        repo.set_schema("Person", {"type": "no-such-type"})
    with pytest.raises(InvalidValue):
        repo.set_schema("Person", kind="table")
    with pytest.raises(InvalidValue):
        repo.set_schema("Person", max_per_source=1)  # a relation rule on an entity type
    with pytest.raises(NotFound):
        repo.drop_schema("Person")


def test_direct_writes_to_the_schema_collection_are_checked(
        repo: palimpsest.Repository) -> None:
    repo.put_entity("bob", "Person", {})
    head = repo.resolve("main")
    with pytest.raises(InvalidValue):  # not a schema document
        repo.put_document("_schemas", "entity/Person", {"kind": "entity"})
    with pytest.raises(InvalidValue):  # the key must name its target
        repo.put_document("_schemas", "entity/Other",
                          {"kind": "entity", "target": "Person", "json_schema": None})
    with pytest.raises(SchemaViolation):  # a well-formed one is checked like set_schema
        repo.put_document("_schemas", "entity/Person",
                          {"kind": "entity", "target": "Person", "json_schema": PERSON})
    assert repo.resolve("main") == head
    with repo.transaction("data and schema together") as tx:
        tx.put_entity("bob", "Person", {"name": "Bob"})
        tx.put_document("_schemas", "entity/Person",
                        {"kind": "entity", "target": "Person", "json_schema": PERSON})
    assert repo.schema("Person") == palimpsest.Schema("entity", "Person", PERSON)


def test_relation_endpoint_types_and_cardinality(repo: palimpsest.Repository) -> None:
    repo.put_entity("ada", "Person", {})
    repo.put_entity("lon", "City", {})
    repo.put_entity("par", "City", {})
    repo.set_schema("bornIn", kind="relation", source_types=["Person"], target_types=["City"],
                    max_per_source=1)
    repo.put_relation("b1", "bornIn", "ada", "lon")
    with pytest.raises(SchemaViolation) as caught:
        repo.put_relation("b2", "bornIn", "ada", "par")
    assert _rules(caught.value) == {("b2", "/@source", "max_per_source")}
    with pytest.raises(SchemaViolation) as caught:
        repo.put_relation("b3", "bornIn", "lon", "ada")
    assert _rules(caught.value) == {("b3", "/@source", "source_types"),
                                    ("b3", "/@target", "target_types")}
    with pytest.raises(SchemaViolation) as caught:  # retyping an endpoint is checked too
        repo.update_entity("lon", type="Person")
    assert _rules(caught.value) == {("b1", "/@target", "target_types")}
    with repo.transaction("move") as tx:  # replacing the one bornIn in one commit is fine
        tx.delete_relation("b1")
        tx.put_relation("b2", "bornIn", "ada", "par")
    assert [r.id for r in repo.head().relations(source="ada")] == ["b2"]


def test_uniqueness_within_a_type(repo: palimpsest.Repository) -> None:
    repo.set_schema("Person", unique=["email"])
    repo.put_entity("ada", "Person", {"email": "a@x"})
    repo.put_entity("acct", "Account", {"email": "a@x"})  # another type
    with pytest.raises(SchemaViolation) as caught:
        repo.put_entity("bob", "Person", {"email": "a@x"})
    assert _rules(caught.value) == {("bob", "/email", "unique")}
    repo.put_entity("bob", "Person", {"email": 1})
    repo.put_entity("cy", "Person", {"email": 1.0})  # values are exact: 1 and 1.0 differ
    with repo.transaction("swap") as tx:
        tx.put_entity("ada", "Person", {"email": "b@x"})
        tx.put_entity("dee", "Person", {"email": "a@x"})


def test_document_collections(repo: palimpsest.Repository) -> None:
    repo.set_schema("config", {"type": "object", "additionalProperties": {"type": "integer"}},
                    kind="collection")
    repo.put_document("config", "limits", {"max": 3})
    with pytest.raises(SchemaViolation) as caught:
        repo.put_document("config", "bad", {"max": "3"})
    assert [(v.element, v.collection, v.id, v.path) for v in caught.value.violations] == [
        ("document", "config", "bad", "/max")]
    assert [s.target for s in repo.schemas()] == ["config"]


def test_schemas_are_versioned_with_the_data(repo: palimpsest.Repository) -> None:
    repo.put_entity("ada", "Person", {"name": "Ada"})
    before = repo.resolve("main")
    repo.set_schema("Person", PERSON)
    assert repo.schemas(before) == []
    assert repo.schema("Person", ref=before) is None
    changes = repo.diff(before, "main").changes
    assert [(c.element, c.collection, c.id) for c in changes] == [
        ("document", "_schemas", "entity/Person")]
    repo.drop_schema("Person")
    assert repo.schemas() == []
    repo.put_entity("bob", "Person", {})  # no schema any more
    repo.rollback(before)  # the state and its schemas go back together


def test_merge_checks_the_merged_state_and_previews_violations(
        repo: palimpsest.Repository) -> None:
    repo.put_entity("ada", "Person", {"name": "Ada"})
    repo.create_branch("loose")
    repo.put_entity("bob", "Person", {}, branch="loose")
    repo.set_schema("Person", PERSON)  # main: the schema; loose: data it does not allow
    preview = repo.merge_preview("loose", into="main")
    assert [(v.id, v.rule) for v in preview.violations] == [("bob", "required")]
    head = repo.resolve("main")
    with pytest.raises(SchemaViolation):
        repo.merge("loose", into="main")
    assert repo.resolve("main") == head
    repo.put_entity("bob", "Person", {"name": "Bob"}, branch="loose")
    assert repo.merge_preview("loose", into="main").violations == []
    assert repo.merge("loose", into="main").status == "merged"


def test_cherry_pick_and_revert_are_checked(repo: palimpsest.Repository) -> None:
    repo.put_entity("bob", "Person", {})
    repo.create_branch("side")
    loose = repo.put_entity("cy", "Person", {}, branch="side")
    fixed = repo.put_entity("bob", "Person", {"name": "Bob"})
    repo.set_schema("Person", PERSON)
    head = repo.resolve("main")
    with pytest.raises(SchemaViolation):
        repo.cherry_pick(loose.id, onto="main")
    assert repo.resolve("main") == head
    with pytest.raises(SchemaViolation):  # reverting the fix would bring back {} for bob
        repo.revert(fixed.id)
    assert repo.head().entity("bob") == palimpsest.Entity("bob", "Person", {"name": "Bob"})


# -- the property: a commit lands iff the whole resulting state is valid --------------------
IDS = ["a", "b", "c"]
ENTITY_SCHEMAS = [None, PERSON, {"properties": {"born": {"type": "integer", "minimum": 0}}}]
PROPS = st.dictionaries(st.sampled_from(["name", "born"]),
                        st.sampled_from(["x", "y", 1, 1.0, True, -1]), max_size=2)
SCHEMA_OPS = st.one_of(
    st.tuples(st.just("person"), st.sampled_from(range(len(ENTITY_SCHEMAS))),
              st.sampled_from([[], ["name"]])),
    st.tuples(st.just("bornIn"), st.sampled_from([None, ["Person"]]),
              st.sampled_from([None, ["City"]]), st.sampled_from([None, 0, 1])),
    st.tuples(st.just("drop"), st.sampled_from(["Person", "bornIn"])))
DATA_OPS = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(IDS), st.sampled_from(["Person", "City"]), PROPS),
    st.tuples(st.just("rel"), st.sampled_from(["r1", "r2"]), st.sampled_from(IDS),
              st.sampled_from(IDS)),
    st.tuples(st.just("del"), st.sampled_from(IDS)))
COMMITS = st.lists(st.one_of(SCHEMA_OPS, st.lists(DATA_OPS, min_size=1, max_size=3)),
                   min_size=1, max_size=8)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _valid(entities: dict[str, tuple[str, dict[str, Any]]],
           relations: dict[str, tuple[str, str]], rules: dict[str, dict[str, Any]]) -> bool:
    """Brute force: every element of the state against every rule."""
    person = rules.get("Person")
    if person is not None:
        people = {k: p for k, (t, p) in entities.items() if t == "Person"}
        if person["json_schema"] is not None and not all(
                Draft202012Validator(person["json_schema"]).is_valid(p)
                for p in people.values()):
            return False
        for prop in person["unique"]:
            held = [_canon(p[prop]) for p in people.values() if prop in p]
            if len(held) != len(set(held)):
                return False
    born = rules.get("bornIn")
    if born is not None:
        for source, target in relations.values():
            if born["sources"] is not None and entities[source][0] not in born["sources"]:
                return False
            if born["targets"] is not None and entities[target][0] not in born["targets"]:
                return False
        per_source = [s for s, _ in relations.values()]
        if born["max"] is not None and any(per_source.count(s) > born["max"]
                                           for s in per_source):
            return False
    return True


_run = itertools.count()


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(commits=COMMITS)
def test_a_commit_lands_iff_the_resulting_state_is_valid(
        repo: palimpsest.Repository, commits: list[Any]) -> None:
    branch = f"run{next(_run)}"
    if repo.head().commit is None:
        repo.put_entity("seed", "Seed", {})  # a commit to branch from
    repo.create_branch(branch, "main")
    entities: dict[str, tuple[str, dict[str, Any]]] = {}
    relations: dict[str, tuple[str, str]] = {}
    rules: dict[str, dict[str, Any]] = {}
    for step in commits:
        new_e, new_r, new_rules = dict(entities), dict(relations), dict(rules)
        head = repo.resolve(branch)
        try:
            if isinstance(step, tuple):
                if step[0] == "person":
                    schema, unique = ENTITY_SCHEMAS[step[1]], step[2]
                    new_rules["Person"] = {"json_schema": schema, "unique": unique}
                    repo.set_schema("Person", schema, unique=unique, branch=branch)
                elif step[0] == "bornIn":
                    _, sources, targets, limit = step
                    new_rules["bornIn"] = {"sources": sources, "targets": targets,
                                           "max": limit}
                    repo.set_schema("bornIn", kind="relation", source_types=sources,
                                    target_types=targets, max_per_source=limit,
                                    branch=branch)
                else:
                    if step[1] not in new_rules:
                        continue
                    del new_rules[step[1]]
                    repo.drop_schema(step[1], kind="entity" if step[1] == "Person"
                                     else "relation", branch=branch)
            else:
                with repo.transaction("data", branch=branch) as tx:
                    for op in step:
                        if op[0] == "put":
                            new_e[op[1]] = (op[2], op[3])
                            tx.put_entity(op[1], op[2], op[3])
                        elif op[0] == "rel":
                            if op[2] not in new_e or op[3] not in new_e:
                                raise _Skip
                            new_r[op[1]] = (op[2], op[3])
                            tx.put_relation(op[1], "bornIn", op[2], op[3])
                        elif op[1] in new_e:
                            del new_e[op[1]]
                            new_r = {k: v for k, v in new_r.items() if op[1] not in v}
                            tx.delete_entity(op[1])
        except _Skip:
            assert repo.resolve(branch) == head
            continue
        except SchemaViolation as refused:
            assert not _valid(new_e, new_r, new_rules), refused.violations
            assert refused.violations
            assert repo.resolve(branch) == head  # nothing written
            continue
        assert _valid(new_e, new_r, new_rules), (new_e, new_r, new_rules)
        entities, relations, rules = new_e, new_r, new_rules
    view = repo.at(branch)
    assert {e.id: (e.type, e.props) for e in view.entities() if e.type != "Seed"} == entities
    assert {r.id: (r.source, r.target) for r in view.relations()} == relations
    assert {s.target for s in repo.schemas(branch)} == set(rules)


class _Skip(Exception):
    """A relation to an entity the model does not hold: not a schema question."""


def test_the_docs_example_prints_what_it_says(capsys: pytest.CaptureFixture[str]) -> None:
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / "schemas.md").read_text()
    match = re.search(r"```python\n(.*?)```", text, re.S)
    assert match is not None
    exec(compile(match.group(1), "docs/schemas.md", "exec"), {})
    expected = [line[2:] for line in match.group(1).splitlines() if line.startswith("# bob")]
    assert capsys.readouterr().out.splitlines() == expected
