"""Values are compared as JSON, never as Python: ``1``, ``1.0`` and ``true`` are different
values, and so are ``0.0`` and ``-0.0``, at any depth. Reserved ``@`` names are not
properties. A state's ``to_dict()`` and a diff's JSON Patch agree exactly."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest

import palimpsest
from palimpsest.codec import canonical, encode, json_equal
from palimpsest.errors import InvalidValue, RevertConflict
from palimpsest.versioning.elements import PUT, Write

# (before, after) pairs Python's == calls equal
TYPE_ONLY = [(1, True), (1, 1.0), (True, 1.0), (0, False), (0.0, -0.0), (0, -0.0),
             ([1], [True]), ({"a": 1}, {"a": 1.0}), ({"a": [0.0]}, {"a": [-0.0]}),
             ([{"b": [1]}], [{"b": [True]}])]


@pytest.mark.parametrize(("a", "b"), TYPE_ONLY)
def test_json_equal_tells_types_apart(a: Any, b: Any) -> None:
    assert a == b  # what Python says
    assert not json_equal(a, b) and not json_equal(b, a)
    assert json_equal(a, a) and json_equal({"x": 1, "y": b}, {"y": b, "x": 1})


@pytest.mark.parametrize(("a", "b"), TYPE_ONLY)
def test_diff_and_patch_see_type_only_changes(repo: palimpsest.Repository, a: Any,
                                              b: Any) -> None:
    first = repo.put_entity("e", "T", {"x": a, "keep": 1})
    second = repo.put_entity("e", "T", {"x": b, "keep": 1})
    diff = repo.diff(first.id, second.id)
    assert [c.kind for c in diff] == ["modified"]
    changes = diff.changes[0].property_changes()
    assert list(changes) == ["x"]
    assert canonical(list(changes["x"])) == canonical([a, b])
    patch = diff.to_json_patch()
    assert patch == [{"op": "replace", "path": "/entities/e/props/x", "value": b}]
    _assert_patch_exact(repo, first.id, second.id)
    _assert_patch_exact(repo, second.id, first.id)


def test_relation_and_document_type_only_changes(repo: palimpsest.Repository) -> None:
    with repo.transaction("v1") as tx:
        tx.put_entity("a", "T")
        tx.put_relation("r", "R", "a", "a", {"w": 1})
        tx.put_document("docs", "d", {"n": [0.0]})
        tx.put_document("docs", "s", 1)
    with repo.transaction("v2") as tx:
        tx.put_relation("r", "R", "a", "a", {"w": 1.0})
        tx.put_document("docs", "d", {"n": [-0.0]})
        tx.put_document("docs", "s", True)
    diff = repo.diff("main~1", "main")
    assert [(c.element, c.id) for c in diff] == [("relation", "r"), ("document", "d"),
                                                  ("document", "s")]
    assert [list(c.property_changes()) for c in diff] == [["w"], ["n"], ["@value"]]
    _assert_patch_exact(repo, "main~1", "main")


def test_writing_a_type_only_change_is_not_a_no_op(repo: palimpsest.Repository) -> None:
    repo.put_entity("e", "T", {"x": 1})
    commit = repo.put_entity("e", "T", {"x": 1.0})
    assert commit.stats.entities_modified == 1
    assert encode(repo.head().get_entity("e").props) == '{"x":1.0}'


@pytest.mark.parametrize(("a", "b"), TYPE_ONLY)
def test_merge_keeps_their_type_only_change(repo: palimpsest.Repository, a: Any,
                                            b: Any) -> None:
    """Their side changes x's type only, ours changes another property: both survive."""
    repo.put_entity("e", "T", {"x": a, "y": 0})
    repo.create_branch("theirs")
    repo.update_entity("e", {"x": b}, branch="theirs")
    repo.update_entity("e", {"y": 1})
    result = repo.merge("theirs")
    assert result.status == "merged"
    assert encode(repo.head().get_entity("e").props) == encode({"x": b, "y": 1})


def test_merge_conflicts_on_different_type_only_changes(repo: palimpsest.Repository) -> None:
    repo.put_entity("e", "T", {"x": 1})
    repo.create_branch("theirs")
    repo.update_entity("e", {"x": True}, branch="theirs")
    repo.update_entity("e", {"x": 1.0})
    result = repo.merge("theirs")
    assert result.status == "conflict"
    [conflict] = result.conflicts
    assert conflict.property == "x"
    assert encode([conflict.base, conflict.ours, conflict.theirs]) == "[1,1.0,true]"
    # the same type-only change on both sides is no conflict
    repo.update_entity("e", {"x": True})
    assert repo.merge("theirs").status == "merged"
    assert encode(repo.head().get_entity("e").props) == '{"x":true}'


def test_revert_and_cherry_pick_of_a_type_only_change(repo: palimpsest.Repository) -> None:
    repo.put_entity("e", "T", {"x": 1, "y": 0})
    change = repo.update_entity("e", {"x": True})
    repo.update_entity("e", {"y": 1})  # a later change to the same entity
    repo.revert(change.id)
    assert encode(repo.head().get_entity("e").props) == '{"x":1,"y":1}'
    repo.create_branch("other", "main~3")
    repo.update_entity("e", {"y": 2}, branch="other")
    assert repo.cherry_pick(change.id, onto="other").status == "merged"
    assert encode(repo.at("other").get_entity("e").props) == '{"x":true,"y":2}'
    # reverting a commit whose type-only change was changed again later conflicts
    again = repo.update_entity("e", {"x": 1.0})
    repo.update_entity("e", {"x": 2})
    with pytest.raises(RevertConflict):
        repo.revert(again.id)


def test_blame_credits_a_type_only_change(repo: palimpsest.Repository) -> None:
    repo.put_entity("e", "T", {"x": 1})
    change = repo.update_entity("e", {"x": True})
    assert repo.blame("e")["x"].commit.id == change.id


def test_documents_never_confuse_an_object_with_a_scalar(repo: palimpsest.Repository) -> None:
    """An object holding an ``@value`` key is not the scalar it holds, in diffs and merges."""
    repo.put_document("docs", "d", 5)
    repo.put_document("docs", "d", {"@value": 5})
    [change] = repo.diff("main~1", "main").changes
    assert change.property_changes() == {"@value": (5, {"@value": 5})}
    repo.put_document("docs", "d", {"@value": 1, "x": 1, "y": 1})
    repo.create_branch("theirs")
    repo.put_document("docs", "d", {"@value": 1, "x": 1}, branch="theirs")
    repo.put_document("docs", "d", {"@value": 1, "y": 1})
    assert repo.merge("theirs").status == "merged"
    assert repo.head().document("docs", "d").value == {"@value": 1}  # type: ignore[union-attr]
    # an object on one side and a scalar on the other clash as whole values
    repo.put_document("docs", "d", 7, branch="theirs")
    repo.put_document("docs", "d", {"@value": 1, "z": 1})
    result = repo.merge("theirs")
    assert [(c.property, c.ours, c.theirs) for c in result.conflicts] == [
        ("@value", {"@value": 1, "z": 1}, 7)]


# -- reserved names ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["@type", "@source", "@target", "@id", "@value", "@erased",
                                  "@key", "@anything", "", "a\x00b"])
def test_reserved_and_invalid_property_names_are_refused(repo: palimpsest.Repository,
                                                         name: str) -> None:
    repo.put_entity("a", "T")
    repo.put_relation("r", "R", "a", "a")
    attempts = [
        lambda tx: tx.put_entity("b", "T", {name: 1}),
        lambda tx: tx.update_entity("a", {name: 1}),
        lambda tx: tx.put_relation("s", "R", "a", "a", {name: 1}),
        lambda tx: tx.update_relation("r", {name: 1}),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidValue) as caught, repo.transaction("x") as tx:
            attempt(tx)
        message = str(caught.value)
        assert ("reserved" in message and "rename it" in message) or \
            "empty" in message or "NUL" in message
    assert len(repo.log()) == 2  # nothing written


def test_allowed_names(repo: palimpsest.Repository) -> None:
    """``@`` names are free below the top level, RDF's @iri/@types are properties, and
    documents keep JSON-LD keywords (only ``@erased`` is refused at their top level)."""
    repo.put_entity("a", "T", {"@iri": "https://example.org/a", "@types": ["T", "U"],
                               "lit": {"@value": "x", "@language": "en"}, "a@b": 1})
    repo.put_document("ld", "a", {"@context": "https://schema.org", "@id": "a", "@type": "T"})
    with pytest.raises(InvalidValue, match="reserved"):
        repo.put_document("ld", "b", {"@erased": {}})
    repo.put_document("ld", "c", {"nested": {"@erased": 1}})


def test_field_merge_keeps_rdf_properties(repo: palimpsest.Repository) -> None:
    """A field-level merge rebuilds properties from every field but @type/@source/@target:
    RDF's @iri and @types survive it (they used to be dropped with every @ name)."""
    repo.put_entity("a", "T", {"@iri": "https://example.org/a", "@types": ["T", "U"], "x": 0})
    repo.create_branch("theirs")
    repo.update_entity("a", {"x": 1}, branch="theirs")
    repo.update_entity("a", {"y": 1})
    assert repo.merge("theirs").status == "merged"
    assert _props(repo.head().entity("a")) == {
        "@iri": "https://example.org/a", "@types": ["T", "U"], "x": 1, "y": 1}


@pytest.mark.needs_embedded("writes raw rows (Transaction.write_raw)")
def test_type_change_is_a_field_change_even_next_to_legacy_names(
        repo: palimpsest.Repository) -> None:
    """A row written before names were checked may hold an ``@type`` property: the real type
    still wins in the field view, so a type change always shows."""
    with repo.transaction("legacy") as tx:
        tx.write_raw(Write("e", "a", PUT, "T", value=encode({"@type": "fake", "x": 1})))
    repo.update_entity("a", type="U")
    [change] = repo.diff("main~1", "main").changes
    assert change.property_changes() == {"@type": ("T", "U")}


# -- whole-state documents and patches ------------------------------------------------------
def test_to_dict_holds_kv_and_patches_cover_it(repo: palimpsest.Repository) -> None:
    first = repo.put_entity("a", "T")
    repo.kv.set("/config/x", b"\x00\xff")
    repo.kv.set("/a~b", b"1")
    state = repo.head().to_dict()
    assert state["kv"] == {"/config/x": "AP8=", "/a~b": "MQ=="}
    assert repo.at(first.id).to_dict()["kv"] == {}
    repo.kv.delete("/a~b")
    repo.kv.set("/config/x", b"2")
    for a, b in [(first.id, "main"), ("main", first.id), ("main~1", "main")]:
        _assert_patch_exact(repo, a, b)


def _assert_patch_exact(repo: palimpsest.Repository, a: str, b: str) -> None:
    """Applying ``diff(a, b)``'s JSON Patch to ``a``'s state gives ``b``'s, byte for byte."""
    patched = jsonpatch.apply_patch(repo.at(a).to_dict(), repo.diff(a, b).to_json_patch())
    assert canonical(patched) == canonical(repo.at(b).to_dict())


@pytest.mark.needs_embedded("writes raw rows (Transaction.write_raw)")
def test_updates_keep_properties_stored_before_the_name_rule(
        repo: palimpsest.Repository) -> None:
    """Rows written before names were checked stay readable and updatable: only the patch is
    checked, and the old name can be removed by replacing the element."""
    with repo.transaction("legacy") as tx:
        tx.write_raw(Write("e", "a", PUT, "T", value=encode({"@old": 1})))
        tx.write_raw(Write("r", "r", PUT, "R", "a", "a", encode({"@old": 1})))
    repo.update_entity("a", {"x": 1})
    with repo.transaction("update") as tx:
        tx.update_relation("r", {"x": 1})
    view = repo.head()
    assert view.get_entity("a").props == {"@old": 1, "x": 1}
    assert view.relation("r").props == {"@old": 1, "x": 1}  # type: ignore[union-attr]
    repo.put_entity("a", "T", {"x": 1})
    assert _props(repo.head().entity("a")) == {"x": 1}


def _props(element: Any) -> Any:
    assert element is not None
    return element.props


def test_an_update_keeps_stored_nulls_it_does_not_name(repo: palimpsest.Repository) -> None:
    """A patch removes only the properties it gives as None; a null stored by put stays."""
    repo.put_entity("a", "T", {"x": None, "y": 1})
    repo.put_relation("r", "L", "a", "a", {"w": None, "v": 1})
    with repo.transaction() as tx:
        tx.update_entity("a", {"y": 2})
        tx.update_relation("r", {})
    assert _props(repo.head().entity("a")) == {"x": None, "y": 2}
    assert _props(repo.head().relation("r")) == {"w": None, "v": 1}
    repo.update_entity("a", {"x": None})
    assert _props(repo.head().entity("a")) == {"y": 2}
