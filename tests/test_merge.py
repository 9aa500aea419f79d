"""Branch workflows: three-way merge at property level, structural conflicts, resolution,
previews, cherry-pick, branch comparison and set-merge (combine)."""

from __future__ import annotations

import json

import pytest

import palimpsest
from palimpsest import MergeConflict, MergeResult, Resolved, wire

Repo = palimpsest.Repository


def _setup(repo: Repo) -> None:
    """main: entities a, b (a -[r]-> b), document notes/n1; branch exp from there."""
    with repo.transaction("base", author="base@example.com") as tx:
        tx.put_entity("a", "Person", {"name": "Ada", "age": 36})
        tx.put_entity("b", "Person", {"name": "Bob"})
        tx.put_relation("r", "KNOWS", "a", "b", {"since": 2000})
        tx.put_document("notes", "n1", {"title": "t", "body": "x"})
    repo.create_branch("exp")


def _count(repo: Repo) -> int:
    return len(repo.log("main", limit=None))


# -- clean three-way merges -----------------------------------------------------------------
@pytest.mark.needs_embedded("over HTTP a merge's author is the token's user")
def test_both_sides_add_different_properties_merge_cleanly(repo: Repo) -> None:
    _setup(repo)
    theirs = repo.update_entity("a", {"city": "London"}, branch="exp", author="bob@x.org",
                                message="add city")
    ours = repo.update_entity("a", {"title": "Countess"}, author="carol@x.org")
    result = repo.merge("exp", into="main", author="merger@x.org")
    assert isinstance(result, MergeResult)
    assert result.status == "merged" and result.ok and result.conflicts == []
    assert result.commit is not None and result.commit.parents == (ours.id, theirs.id)
    assert result.commit.author == "merger@x.org"
    assert result.base is not None and result.source == theirs and result.target == ours
    assert repo.head().entity("a").props == {"name": "Ada", "age": 36, "city": "London",
                                             "title": "Countess"}
    # the merged change keeps its original author and message reachable (second parent)
    log = repo.log("main", limit=None)
    assert theirs in log and ("bob@x.org", "add city") in {(c.author, c.message) for c in log}
    assert repo.resolve("main^2") == theirs


def test_same_change_on_both_sides_is_not_a_conflict(repo: Repo) -> None:
    _setup(repo)
    repo.update_entity("a", {"age": 37}, branch="exp")
    repo.update_entity("a", {"age": 37})
    result = repo.merge("exp")
    assert result.status == "merged" and result.conflicts == []
    assert repo.head().entity("a").props["age"] == 37


def test_changes_to_different_elements_and_kinds_merge(repo: Repo) -> None:
    _setup(repo)
    with repo.transaction("theirs", branch="exp") as tx:
        tx.put_entity("c", "Person", {"name": "Cy"})
        tx.put_relation("r2", "KNOWS", "b", "c")
        tx.put_document("notes", "n2", {"title": "two"})
        tx.delete_document("notes", "n1")
    repo.update_entity("b", {"name": "Bobby"})
    result = repo.merge("exp")
    assert result.status == "merged"
    view = repo.head()
    assert view.entity("c") is not None and view.relation("r2") is not None
    assert view.entity("b").props == {"name": "Bobby"}
    assert view.document("notes", "n1") is None
    assert view.document("notes", "n2").value == {"title": "two"}


def test_documents_merge_by_top_level_field(repo: Repo) -> None:
    _setup(repo)
    repo.put_document("notes", "n1", {"title": "T2", "body": "x"}, branch="exp")
    repo.put_document("notes", "n1", {"title": "t", "body": "y", "tags": ["a"]})
    assert repo.merge("exp").status == "merged"
    assert repo.head().document("notes", "n1").value == {"title": "T2", "body": "y",
                                                         "tags": ["a"]}


def test_document_field_conflict_key_names_collection(repo: Repo) -> None:
    _setup(repo)
    repo.put_document("notes", "n1", {"title": "theirs", "body": "x"}, branch="exp")
    repo.put_document("notes", "n1", {"title": "ours", "body": "x"})
    result = repo.merge("exp")
    assert result.status == "conflict"
    (conflict,) = result.conflicts
    assert conflict.element == "document" and conflict.collection == "notes"
    assert conflict.key == ("document", "notes/n1", "title")
    assert (conflict.base, conflict.ours, conflict.theirs) == ("t", "ours", "theirs")
    repo.merge("exp", resolutions={conflict.key: "theirs"})
    assert repo.head().document("notes", "n1").value == {"title": "theirs", "body": "x"}


def test_type_and_endpoint_changes_follow_the_field_rule(repo: Repo) -> None:
    _setup(repo)
    repo.put_entity("c", "Person", {})
    repo.create_branch("exp2")
    with repo.transaction("theirs", branch="exp2") as tx:
        tx.put_entity("a", "Scientist", {"name": "Ada", "age": 36})
        tx.put_relation("r", "KNOWS", "a", "c", {"since": 2000})
    with repo.transaction("ours") as tx:
        tx.put_entity("a", "Writer", {"name": "Ada", "age": 36})
        tx.put_relation("r", "LIKES", "a", "b", {"since": 2000})
    result = repo.merge("exp2")
    keys = {c.key for c in result.conflicts}
    assert keys == {("entity", "a", "@type")}
    assert repo.head().entity("a").type == "Writer"  # nothing written
    repo.merge("exp2", resolutions={("entity", "a", "@type"): "theirs"})
    view = repo.head()
    assert view.entity("a").type == "Scientist"
    rel = view.relation("r")
    assert (rel.type, rel.source, rel.target) == ("LIKES", "a", "c")


# -- conflicts and resolution -----------------------------------------------------------------
def _conflicting(repo: Repo) -> None:
    _setup(repo)
    repo.update_entity("a", {"age": 40, "city": "Paris"}, branch="exp")
    repo.update_entity("a", {"age": 50, "title": "Lady"})


def test_same_property_different_values_is_a_conflict_and_writes_nothing(repo: Repo) -> None:
    _conflicting(repo)
    head, before = repo.resolve("main"), _count(repo)
    result = repo.merge("exp")
    assert result.status == "conflict" and not result.ok and result.commit is None
    (conflict,) = result.conflicts
    assert (conflict.element, conflict.id, conflict.property) == ("entity", "a", "age")
    assert (conflict.base, conflict.ours, conflict.theirs) == (36, 50, 40)
    assert repo.resolve("main") == head and _count(repo) == before
    json.dumps(wire.encode(result))  # serialisable for the CLI and the server


@pytest.mark.parametrize(("how", "age"), [("ours", 50), ("theirs", 40)])
def test_strategy_resolves_every_conflict(repo: Repo, how: str, age: int) -> None:
    _conflicting(repo)
    result = repo.merge("exp", strategy=how)
    assert result.status == "merged" and result.conflicts == []
    assert [c.key for c in result.resolved] == [("entity", "a", "age")]
    assert repo.head().entity("a").props == {"name": "Ada", "age": age, "city": "Paris",
                                             "title": "Lady"}


@pytest.mark.parametrize(("choice", "expected"), [
    ("ours", 50), ("theirs", 40), (41, 41), (Resolved("theirs"), "theirs"), (None, None)])
def test_per_conflict_resolutions(repo: Repo, choice: object, expected: object) -> None:
    _conflicting(repo)
    result = repo.merge("exp", resolutions={("entity", "a", "age"): choice})
    assert result.status == "merged"
    props = repo.head().entity("a").props
    assert props.get("age") == expected and ("age" in props) == (expected is not None)
    assert props["city"] == "Paris" and props["title"] == "Lady"


def test_unresolved_conflicts_after_resolutions_raise_merge_conflict(repo: Repo) -> None:
    _conflicting(repo)
    repo.update_entity("b", {"name": "B1"}, branch="exp")
    repo.update_entity("b", {"name": "B2"})
    head = repo.resolve("main")
    with pytest.raises(MergeConflict) as info:
        repo.merge("exp", resolutions={("entity", "a", "age"): "ours"})
    assert [c.key for c in info.value.conflicts] == [("entity", "b", "name")]
    assert repo.resolve("main") == head
    # resolving from the listed conflicts completes the merge
    first = repo.merge("exp")
    resolutions = {c.key: "theirs" for c in first.conflicts}
    assert repo.merge("exp", resolutions=resolutions).status == "merged"
    assert repo.head().entity("b").props["name"] == "B1"


def test_bad_resolutions_are_clear_errors(repo: Repo) -> None:
    _conflicting(repo)
    with pytest.raises(palimpsest.InvalidValue, match="did not conflict"):
        repo.merge("exp", resolutions={("entity", "a", "name"): "ours"})
    with pytest.raises(palimpsest.InvalidValue, match=r"Conflict\.key"):
        repo.merge("exp", resolutions={("a", "age"): "ours"})  # type: ignore[dict-item]
    with pytest.raises(palimpsest.InvalidValue, match="strategy"):
        repo.merge("exp", strategy="mine")


def test_delete_versus_modify_is_a_whole_element_conflict(repo: Repo) -> None:
    _setup(repo)
    repo.delete_entity("b", branch="exp")
    repo.update_entity("b", {"name": "Robert"})
    result = repo.merge("exp")
    assert result.status == "conflict"
    conflict = next(c for c in result.conflicts if c.element == "entity")
    assert conflict.key == ("entity", "b", None)
    assert conflict.theirs is None and conflict.ours["props"] == {"name": "Robert"}
    assert conflict.base["props"] == {"name": "Bob"}
    with pytest.raises(palimpsest.InvalidValue, match="whole"):
        repo.merge("exp", resolutions={("entity", "b", None): {"name": "x"}})
    assert repo.merge_preview("exp", strategy="ours").status == "merged"
    repo.merge("exp", strategy="theirs")
    view = repo.head()
    assert view.entity("b") is None and view.relation("r") is None


def test_create_versus_create(repo: Repo) -> None:
    _setup(repo)
    repo.put_entity("n", "Person", {"name": "same"}, branch="exp")
    repo.put_entity("n", "Person", {"name": "same"})
    repo.put_entity("m", "Person", {"v": 1}, branch="exp")
    repo.put_entity("m", "Person", {"v": 2})
    result = repo.merge("exp")
    assert [c.key for c in result.conflicts] == [("entity", "m", None)]
    assert result.conflicts[0].base is None
    repo.merge("exp", resolutions={("entity", "m", None): "theirs"})
    assert repo.head().entity("m").props == {"v": 1}
    assert repo.head().entity("n").props == {"name": "same"}


# -- structural: never a dangling relation ------------------------------------------------------
def test_relation_to_entity_deleted_on_their_side(repo: Repo) -> None:
    _setup(repo)
    repo.delete_entity("b", branch="exp")          # also deletes r on exp
    repo.put_entity("c", "Person", {})
    repo.put_relation("r2", "KNOWS", "c", "b")     # ours links to b
    result = repo.merge("exp")
    assert result.status == "conflict"
    (conflict,) = result.conflicts
    assert conflict.key == ("relation", "r2", None)
    assert conflict.ours["target"] == "b" and conflict.theirs is None
    assert "'b'" in conflict.reason
    assert repo.head().entity("b") is not None  # nothing written, nothing cascaded
    # "ours" keeps the relation and therefore the entity it points at
    preview = repo.merge_preview("exp", strategy="ours")
    assert [(c.element, c.id, c.kind) for c in preview.diff.changes] == [
        ("relation", "r", "deleted")]
    repo.merge("exp", resolutions={("relation", "r2", None): "theirs"})
    view = repo.head()
    assert view.entity("b") is None and view.relation("r2") is None
    assert view.relation("r") is None and view.entity("c") is not None


def test_relation_their_side_added_to_entity_we_deleted(repo: Repo) -> None:
    _setup(repo)
    repo.put_entity("c", "Person", {"name": "Cy"})
    repo.create_branch("exp2")
    repo.put_relation("r3", "KNOWS", "a", "c", branch="exp2")
    repo.delete_entity("c")
    result = repo.merge("exp2")
    assert [c.key for c in result.conflicts] == [("relation", "r3", None)]
    assert repo.merge("exp2", strategy="ours").status == "merged"
    assert repo.head().relation("r3") is None and repo.head().entity("c") is None


def test_taking_their_relation_revives_its_endpoint(repo: Repo) -> None:
    _setup(repo)
    repo.put_entity("c", "Person", {"name": "Cy"})
    repo.create_branch("exp2")
    repo.put_relation("r3", "KNOWS", "a", "c", branch="exp2")
    repo.delete_entity("c")
    repo.merge("exp2", resolutions={("relation", "r3", None): "theirs"})
    view = repo.head()
    assert view.relation("r3") is not None and view.entity("c").props == {"name": "Cy"}


# -- merge base, fast-forward, up to date ----------------------------------------------------
def test_merge_after_an_earlier_merge_uses_the_new_base(repo: Repo) -> None:
    _conflicting(repo)
    repo.merge("exp", strategy="theirs")
    # exp changes age again; main leaves it: no conflict, the base moved past the first merge
    repo.update_entity("a", {"age": 41}, branch="exp")
    repo.update_entity("b", {"name": "Bee"})
    result = repo.merge("exp")
    assert result.status == "merged", result.conflicts
    assert repo.head().entity("a").props["age"] == 41
    assert result.base is not None and result.base.id == repo.resolve("main^2").parents[0]


def test_merge_back_and_forth(repo: Repo) -> None:
    _setup(repo)
    repo.update_entity("a", {"x": 1}, branch="exp")
    repo.update_entity("b", {"y": 2})
    assert repo.merge("main", into="exp").status == "merged"
    repo.update_entity("a", {"x": 3}, branch="exp")
    repo.update_entity("b", {"y": 4})
    result = repo.merge("exp", into="main")
    assert result.status == "merged", result.conflicts
    assert repo.head().entity("a").props["x"] == 3 and repo.head().entity("b").props["y"] == 4
    # and back again: exp gets main's y=4 on top of its own state
    assert repo.merge("main", into="exp").status == "fast_forward"
    assert repo.at("exp").to_dict() == repo.at("main").to_dict()


def test_fast_forward_moves_the_branch(repo: Repo) -> None:
    _setup(repo)
    base = repo.resolve("main")
    repo.update_entity("a", {"x": 1}, branch="exp")
    tip = repo.update_entity("a", {"x": 2}, branch="exp")
    preview = repo.merge_preview("exp")
    assert preview.status == "fast_forward" and preview.commit is None
    assert [(c.id, c.kind) for c in preview.diff.changes] == [("a", "modified")]
    assert repo.resolve("main") == base
    result = repo.merge("exp")
    assert result.status == "fast_forward" and result.commit == tip
    assert repo.resolve("main") == tip and repo.head().entity("a").props["x"] == 2
    assert "fast-forward" in repo.reflog("main")[0].message
    after = repo.update_entity("a", {"x": 3})  # main keeps working after the move
    assert after.parents == (tip.id,)
    assert repo.at("exp").entity("a").props["x"] == 2


def test_up_to_date(repo: Repo) -> None:
    _setup(repo)
    assert repo.merge("exp").status == "up_to_date"
    repo.update_entity("a", {"x": 1})
    before = _count(repo)
    result = repo.merge("exp")
    assert result.status == "up_to_date" and result.commit == repo.resolve("main")
    assert repo.merge("main~1").status == "up_to_date"
    assert _count(repo) == before


def test_merge_into_itself_and_unknown_refs_are_errors(repo: Repo) -> None:
    _setup(repo)
    with pytest.raises(palimpsest.InvalidValue, match="itself"):
        repo.merge("main", into="main")
    with pytest.raises(palimpsest.InvalidValue, match="itself"):
        repo.merge("HEAD")
    with pytest.raises(palimpsest.RefNotFound):
        repo.merge("nope")
    with pytest.raises(palimpsest.RefNotFound):
        repo.merge("exp", into="nope")


def test_merge_a_tag_or_commit(repo: Repo) -> None:
    _setup(repo)
    first = repo.update_entity("a", {"x": 1}, branch="exp")
    repo.update_entity("a", {"x": 2}, branch="exp")
    repo.tag("t1", first)
    repo.update_entity("b", {"y": 1})
    result = repo.merge("t1")
    assert result.status == "merged" and result.commit.parents[1] == first.id
    assert repo.head().entity("a").props["x"] == 1
    assert "t1" in result.commit.message


@pytest.mark.needs_embedded("reads the repository's commit store")
def test_criss_cross_merge_does_not_crash(repo: Repo) -> None:
    _setup(repo)
    repo.update_entity("a", {"m": 1})
    repo.update_entity("b", {"e": 1}, branch="exp")
    main_tip, exp_tip = repo.resolve("main"), repo.resolve("exp")
    repo.create_branch("m2", main_tip)
    repo.create_branch("e2", exp_tip)
    assert repo.merge("exp", into="m2").status == "merged"   # m2 = main + exp
    assert repo.merge("main", into="e2").status == "merged"  # e2 = exp + main
    repo.update_entity("a", {"m": 2}, branch="m2")
    repo.update_entity("b", {"e": 2}, branch="e2")
    bases = palimpsest.versioning.log.merge_bases(  # type: ignore[attr-defined]
        repo._commits, repo.resolve("m2"), repo.resolve("e2"))
    assert len(bases) == 2
    result = repo.merge("e2", into="m2")
    assert result.status == "merged", result.conflicts
    assert result.base == bases[0]  # the newest base
    view = repo.at("m2")
    assert view.entity("a").props["m"] == 2 and view.entity("b").props["e"] == 2


# -- preview ---------------------------------------------------------------------------------
def test_merge_preview_writes_nothing(repo: Repo) -> None:
    _conflicting(repo)
    repo.put_entity("z", "Thing", {}, branch="exp")
    head, before = repo.resolve("main"), _count(repo)
    preview = repo.merge_preview("exp")
    assert preview.status == "conflict" and preview.dry_run
    assert [c.key for c in preview.conflicts] == [("entity", "a", "age")]
    resolved = repo.merge_preview("exp", strategy="theirs")
    assert resolved.status == "merged" and resolved.commit is None
    changes = {(c.element, c.id): c for c in resolved.diff.changes}
    assert changes[("entity", "z")].kind == "created"
    assert changes[("entity", "a")].property_changes()["age"] == (50, 40)
    assert repo.resolve("main") == head and _count(repo) == before
    dry = repo.merge("exp", strategy="theirs", dry_run=True)
    assert dry.status == "merged" and repo.resolve("main") == head
    real = repo.merge("exp", strategy="theirs")
    assert [wire.encode(c) for c in repo.changes(real.commit)] == \
        [wire.encode(c) for c in resolved.diff.changes]


# -- cherry-pick -----------------------------------------------------------------------------
def test_cherry_pick_applies_only_that_commit(repo: Repo) -> None:
    _setup(repo)
    repo.update_entity("a", {"x": 1}, branch="exp")
    picked = repo.update_entity("b", {"y": 2}, branch="exp", author="bob@x.org",
                                message="set y")
    result = repo.cherry_pick(picked.id, onto="main", author="carol@x.org")
    assert result.status == "merged" and len(result.commit.parents) == 1
    assert result.commit.metadata["cherry_picked_from"] == picked.id
    assert result.commit.message.startswith("set y") and picked.id in result.commit.message
    view = repo.head()
    assert view.entity("b").props == {"name": "Bob", "y": 2}
    assert "x" not in view.entity("a").props
    version = repo.history("b")[0]
    assert version.commit == result.commit and version.origin == picked.id
    assert repo.blame("b")["y"].origin == picked.id
    assert repo.cherry_pick(picked.id).status == "up_to_date"


def test_cherry_pick_conflicts_follow_merge_rules(repo: Repo) -> None:
    _setup(repo)
    picked = repo.update_entity("a", {"age": 40, "name": "A"}, branch="exp")
    repo.update_entity("a", {"age": 50, "name": "B"})
    result = repo.cherry_pick(picked.id)
    assert result.status == "conflict"
    assert [c.key for c in result.conflicts] == [("entity", "a", "age"), ("entity", "a", "name")]
    with pytest.raises(MergeConflict) as info:
        repo.cherry_pick(picked.id, resolutions={("entity", "a", "age"): "theirs"})
    assert [c.key for c in info.value.conflicts] == [("entity", "a", "name")]
    assert repo.cherry_pick(picked.id, strategy="theirs").status == "merged"
    assert repo.head().entity("a").props == {"name": "A", "age": 40}


# -- comparison --------------------------------------------------------------------------------
def test_branches_report_ahead_and_behind(repo: Repo) -> None:
    _setup(repo)
    repo.update_entity("a", {"x": 1}, branch="exp")
    repo.update_entity("a", {"x": 2}, branch="exp")
    repo.update_entity("b", {"y": 1})
    counts = {b.name: (b.ahead, b.behind) for b in repo.branches(base="main")}
    assert counts == {"main": (0, 0), "exp": (2, 1)}
    counts = {b.name: (b.ahead, b.behind) for b in repo.branches(base="exp")}
    assert counts["main"] == (1, 2)
    repo.merge("exp")
    counts = {b.name: (b.ahead, b.behind) for b in repo.branches()}
    assert counts["exp"] == (0, 2)  # the merge commit and main's own commit


def test_diff_two_dots_and_three_dots(repo: Repo) -> None:
    _setup(repo)
    repo.update_entity("a", {"x": 1}, branch="exp")
    repo.update_entity("b", {"y": 1})
    both = {(c.id, c.kind) for c in repo.diff("main", "exp").changes}
    assert both == {("a", "modified"), ("b", "modified")}
    assert {(c.id, c.kind) for c in repo.diff("main..exp").changes} == both
    since_base = repo.diff("main...exp")
    assert [(c.id, c.kind) for c in since_base.changes] == [("a", "modified")]
    assert since_base.changes[0].property_changes() == {"x": (None, 1)}


# -- history and blame after merges --------------------------------------------------------------
def test_history_and_blame_credit_the_original_commit(repo: Repo) -> None:
    _setup(repo)
    set_city = repo.update_entity("a", {"city": "London"}, branch="exp", author="bob@x.org")
    later = repo.update_entity("a", {"lang": "en"}, branch="exp", author="dan@x.org")
    repo.update_entity("a", {"title": "Lady"}, author="carol@x.org")
    merge = repo.merge("exp").commit
    assert merge is not None
    versions = repo.history("a")
    assert versions[0].commit == merge and versions[0].origin == later.id
    blame = repo.blame("a")
    assert blame["city"].commit == merge and blame["city"].origin == set_city.id
    assert blame["lang"].origin == later.id
    assert blame["title"].commit.author == "carol@x.org" and blame["title"].origin is None
    assert blame["name"].origin is None
    assert repo.resolve(blame["city"].origin).author == "bob@x.org"


def test_blame_of_a_resolved_value_credits_the_merge(repo: Repo) -> None:
    _conflicting(repo)
    merge = repo.merge("exp", resolutions={("entity", "a", "age"): 45}).commit
    blame = repo.blame("a")["age"]
    assert blame.commit == merge and blame.origin is None


def test_revert_still_works_after_merge(repo: Repo) -> None:
    _setup(repo)
    repo.update_entity("a", {"x": 1}, branch="exp")
    repo.update_entity("b", {"y": 1})
    merge = repo.merge("exp").commit
    assert merge is not None
    repo.update_entity("b", {"z": 1})
    repo.revert(merge.id)
    assert "x" not in repo.head().entity("a").props
    assert repo.head().entity("b").props == {"name": "Bob", "y": 1, "z": 1}


# -- combine -------------------------------------------------------------------------------------
def _versions(repo: Repo) -> None:
    with repo.transaction("v1") as tx:
        tx.put_entity("a", "T", {"v": 1})
        tx.put_entity("b", "T", {"v": 1})
        tx.put_relation("ab", "R", "a", "b")
    repo.tag("v1")
    with repo.transaction("v2") as tx:
        tx.delete_entity("a")
        tx.put_entity("c", "T", {"v": 2})
        tx.put_relation("bc", "R", "b", "c")
        tx.put_document("docs", "d", {"k": 1})
    repo.tag("v2")
    repo.create_branch("out", "v1")


def test_combine_union(repo: Repo) -> None:
    _versions(repo)
    result = repo.combine(["v1", "v2"], mode="union", into="out", message="all")
    assert result.status == "merged" and result.commit.message == "all"
    assert result.commit.metadata["combine"]["refs"] == ["v1", "v2"]
    state = repo.at("out").to_dict()
    assert set(state["entities"]) == {"a", "b", "c"}
    assert set(state["relations"]) == {"ab", "bc"}
    assert state["documents"] == {"docs": {"d": {"k": 1}}}
    assert repo.combine(["v1", "v2"], into="out").status == "up_to_date"


def test_combine_intersection_keeps_no_dangling_relation(repo: Repo) -> None:
    _versions(repo)
    repo.put_entity("x", "T", {}, branch="out")  # not in either version: removed
    result = repo.combine(["v1", "v2"], mode="intersection", into="out")
    assert result.status == "merged"
    state = repo.at("out").to_dict()
    assert set(state["entities"]) == {"b"} and state["relations"] == {}
    assert state["documents"] == {}


def test_combine_reports_differing_content(repo: Repo) -> None:
    _versions(repo)
    repo.update_entity("b", {"v": 2})
    repo.tag("v3")
    result = repo.combine(["v1", "v3"], mode="union", into="out")
    assert result.status == "conflict" and result.commit is None
    (conflict,) = result.conflicts
    assert conflict.key == ("entity", "b", None)
    assert conflict.ours["props"] == {"v": 1} and conflict.theirs["props"] == {"v": 2}
    assert "'v1'" in conflict.reason and "'v3'" in conflict.reason
    repo.combine(["v1", "v3"], into="out", strategy="last")
    assert repo.at("out").entity("b").props == {"v": 2}
    repo.combine(["v3", "v1"], into="out", strategy="first")
    assert repo.at("out").entity("b").props == {"v": 2}
    repo.combine(["v1", "v3"], into="out", resolutions={("entity", "b", None): "v1"})
    assert repo.at("out").entity("b").props == {"v": 1}


def test_combine_needs_two_known_refs(repo: Repo) -> None:
    _versions(repo)
    with pytest.raises(palimpsest.InvalidValue, match="at least two"):
        repo.combine(["v1"])
    with pytest.raises(palimpsest.InvalidValue, match="at least two"):
        repo.combine("v1")  # type: ignore[arg-type]
    with pytest.raises(palimpsest.RefNotFound):
        repo.combine(["v1", "nope"])
    with pytest.raises(palimpsest.InvalidValue, match="mode"):
        repo.combine(["v1", "v2"], mode="xor")


@pytest.mark.needs_embedded("reads the repository's commit store")
def test_fast_ancestry_check_agrees_with_the_graph_walk(repo: Repo) -> None:
    from palimpsest.versioning.log import is_ancestor
    from palimpsest.versioning.merge import descends

    _setup(repo)
    repo.update_entity("a", {"x": 1}, branch="exp")
    repo.update_entity("b", {"y": 1})
    repo.merge("exp")
    repo.create_branch("ff", "exp")
    repo.update_entity("a", {"x": 2}, branch="exp")
    repo.merge("exp", into="ff")  # fast-forward: ff moves to a new line
    repo.update_entity("a", {"x": 3}, branch="ff")
    repo.rollback("main~1")
    repo.merge("ff")
    commits = {c.id: c for name in ("main", "exp", "ff") for c in repo.log(name, limit=None)}
    store = repo._commits
    for a in commits.values():
        for d in commits.values():
            assert descends(store, d, a) == is_ancestor(store, a, d), (a.message, d.message)


def test_key_value_entries_merge_too(repo: Repo) -> None:
    repo.kv.set("/a", b"1")
    repo.kv.set("/b", b"1")
    repo.create_branch("x")
    theirs = repo.kv.on("x")
    theirs.set("/a", b"2")
    theirs.set("/c", b"3")
    repo.kv.set("/b", b"4")
    assert repo.merge("x").status == "merged"
    assert [repo.kv.get(k).value for k in ("/a", "/b", "/c")] == [b"2", b"4", b"3"]
    theirs.set("/a", b"5")
    repo.kv.set("/a", b"6")
    result = repo.merge("x")
    assert [c.key for c in result.conflicts] == [("kv", "/a", "@value")]
    repo.merge("x", strategy="theirs")
    assert repo.kv.get("/a").value == b"5"


def test_merge_into_an_empty_branch_fast_forwards(repo: Repo) -> None:
    repo.create_branch("first")
    tip = repo.put_entity("a", "T", {}, branch="first")
    result = repo.merge("first", into="main")
    assert result.status == "fast_forward" and repo.resolve("main") == tip


def test_merge_metadata_is_recorded_in_the_merge_commit(repo: palimpsest.Repository) -> None:
    """``metadata=`` joins the merge commit's own ``merge`` record, on every face; a merge
    that could fast-forward writes a merge commit instead so it is not lost."""
    repo.put_entity("ada", "Person", {"name": "Ada"}, message="base")
    repo.create_branch("ff")
    repo.put_entity("bob", "Person", {"name": "Bob"}, branch="ff", message="bob")
    ff_head = repo.resolve("ff")
    before = repo.resolve("main")
    result = repo.merge("ff", into="main", metadata={"ticket": "DATA-12", "n": 1.0})
    assert result.status == "merged" and result.commit is not None
    commit = repo.commit(result.commit.id)
    assert list(commit.parents) == [before.id, ff_head.id]
    assert commit.metadata["ticket"] == "DATA-12"
    assert type(commit.metadata["n"]) is float
    assert commit.metadata["merge"]["commit"] == ff_head.id  # type: ignore[index]
    assert repo.head().to_dict() == repo.at("ff").to_dict()

    repo.create_branch("side")
    repo.update_entity("ada", {"born": 1815}, branch="side")
    repo.update_entity("bob", {"born": 1900}, branch="main")
    three = repo.merge("side", into="main", metadata={"review": ["carol"]})
    assert three.status == "merged" and three.commit is not None
    assert repo.commit(three.commit.id).metadata["review"] == ["carol"]
    assert repo.head().get_entity("ada").props["born"] == 1815

    # without metadata a fast-forward stays one
    repo.create_branch("ff2")
    repo.put_entity("cy", "Person", branch="ff2")
    assert repo.merge("ff2", into="main").status == "fast_forward"

    head = repo.resolve("main")
    repo.create_branch("bad", head.id)
    repo.put_entity("dee", "Person", branch="bad")
    for bad in ({"merge": 1}, ["not", "a", "dict"]):
        with pytest.raises(palimpsest.errors.InvalidValue):
            repo.merge("bad", into="main", metadata=bad)  # type: ignore[arg-type]
    assert repo.resolve("main").id == head.id  # nothing written
