"""Review in the web UI through the TestClient: diff summaries, filters and paging (checked
against the diff itself), word diffs and folds, conflicts resolved in a form, branches created
and deleted, and merge requests through the HTTP API and the pages."""

from __future__ import annotations

import html
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest.server.auth import protect_branch
from palimpsest.server.merge_requests import CheckResult, checks_of, register_check
from palimpsest.server.ui_diff import DiffFilter, page_of, review_order, word_diff
from palimpsest.types import Change, Entity, Relation

from .conftest import Server
from .test_ui import csrf, login

ANCHOR = re.compile(r'<article class="change (\w+)" id="change-(\d+)"')


def seed_many(repo: palimpsest.Repository) -> None:
    """130 changes between v1 and main: 40 created, 60 modified, 30 deleted, of 3 types."""
    with repo.transaction("base") as tx:
        for i in range(90):
            tx.put_entity(f"e{i:03}", type=("Class", "Property", "Enum")[i % 3],
                          props={"n": i, "text": "the quick brown fox jumps over the lazy dog"})
    repo.tag("v1")
    with repo.transaction("big change") as tx:
        for i in range(60):
            tx.update_entity(f"e{i:03}", {"n": -i, "text": "the quick red fox jumps over "
                                          "the sleepy dog"})
        for i in range(60, 90):
            tx.delete_entity(f"e{i:03}")
        for i in range(40):
            tx.put_entity(f"new{i:02}", type="Class", props={"big": "x" * 500})


def walk(server: Server, path: str, params: dict[str, Any]) -> list[tuple[str, int]]:
    """Every change a diff page leads to, following its next-page links."""
    seen: list[tuple[str, int]] = []
    url: str | None = path
    query: dict[str, Any] | None = params
    while url:
        text = server.client.get(url, params=query).text
        seen += [(kind, int(i)) for kind, i in ANCHOR.findall(text)]
        found = re.search(r'<a href="([^"]+)" class="next-page"', text)
        url, query = (html.unescape(found.group(1)), None) if found else (None, None)
    return seen


def test_summary_filters_and_paging_reach_every_change(server: Server) -> None:
    seed_many(server.repo)
    login(server)
    text = server.client.get("/ui/compare", params={"a": "v1", "b": "main"}).text
    assert "Summary <small>130 changes</small>" in text
    assert "Changes: 1–50 of 130" in text
    row = re.search(r'<tr class="type-row" data-element="entity" data-type="Class">.*?</tr>',
                    text, re.S)
    assert row and "+40" in row.group(0) and "−10" in row.group(0) and "~20" in row.group(0)
    seen = walk(server, "/ui/compare", {"a": "v1", "b": "main"})
    assert [i for _, i in seen] == list(range(130))  # each once, numbered in order
    kinds = [k for k, _ in seen]
    assert kinds == ["modified"] * 60 + ["created"] * 40 + ["deleted"] * 30  # modified first
    deleted = walk(server, "/ui/compare", {"a": "v1", "b": "main", "kind": "deleted",
                                           "per": 7})
    assert len(deleted) == 30 and {k for k, _ in deleted} == {"deleted"}
    found = server.client.get("/ui/compare", params={"a": "v1", "b": "main", "q": "NEW0"}).text
    assert "Changes: 1–10 of 10" in found and "(filtered from 130)" in found
    enum = server.client.get("/ui/compare", params={"a": "v1", "b": "main", "type": "Enum",
                                                    "kind": "modified"}).text
    assert "Changes: 1–20 of 20" in enum
    # the last change of a page links to the first of the next page
    assert re.search(r'href="/ui/compare\?[^"]*offset=50[^"]*#change-50" class="next"', text)
    last = server.client.get("/ui/compare", params={"a": "v1", "b": "main", "offset": 999})
    assert "Changes: 101–130 of 130" in last.text


def test_word_diff_and_folded_values(server: Server) -> None:
    seed_many(server.repo)
    login(server)
    text = server.client.get("/ui/commit/main", params={"q": "e001"}).text
    assert "<del>brown</del><ins>red</ins>" in text.replace("<del>brown </del>", "<del>brown</del>")
    assert '<summary>1 unchanged property</summary>' in text  # @type, folded away
    created = server.client.get("/ui/commit/main", params={"q": "new01"}).text
    assert '<details class="fold">' in created and "(502 characters)" in created


def test_word_diff_rebuilds_both_sides() -> None:
    old, new = "a b  c d e", "a x c d\ne f"
    parts = word_diff(old, new)
    assert "".join(t for op, t in parts if op != "ins") == old
    assert "".join(t for op, t in parts if op != "del") == new


changes_st = st.lists(st.builds(
    lambda kind, el, ty, n: Change(kind, el, f"id{n}",
                                   None if kind == "created" else _value(el, ty, n),
                                   None if kind == "deleted" else _value(el, ty, n)),
    st.sampled_from(["created", "modified", "deleted"]), st.sampled_from(["entity", "relation"]),
    st.sampled_from(["A", "B", "C"]), st.integers(0, 10_000)), max_size=60,
    unique_by=lambda c: c.id)


def _value(element: str, type: str, n: int) -> Any:
    if element == "entity":
        return Entity(f"id{n}", type, {})
    return Relation(f"id{n}", type, "a", "b", {})


@given(changes_st, st.sampled_from(["", "created", "modified", "deleted"]),
       st.sampled_from(["", "A", "B"]), st.sampled_from(["", "1", "id2"]),
       st.integers(1, 9))
@settings(max_examples=150, deadline=None)
def test_pages_partition_the_filtered_diff(changes: list[Change], kind: str, type: str,
                                           q: str, per: int) -> None:
    filt = DiffFilter(kind=kind, type=type, q=q)
    expected = sorted((c for c in changes if (not kind or c.kind == kind) and
                       (not type or (c.new or c.old).type == type) and q in c.id),
                      key=review_order)
    got: list[Change] = []
    offset = 0
    while True:
        page = page_of(changes, filt, offset, per)
        assert page.matched == len(expected) and page.summary.total == len(changes)
        got += page.changes
        offset += per
        if offset >= page.matched:
            break
    assert got == expected
    by_kind = {k: sum(1 for c in changes if c.kind == k) for k in ("created", "modified",
                                                                   "deleted")}
    totals = [page_of(changes, DiffFilter(), 0, 1).summary.by_element.get(e)
              for e in ("entity", "relation")]
    assert sum(t.created for t in totals if t) == by_kind["created"]
    assert sum(t.deleted for t in totals if t) == by_kind["deleted"]


def conflicting(server: Server) -> None:
    repo = server.repo
    repo.put_entity("ada", "Person", {"name": "Ada", "born": 1815}, message="base")
    repo.create_branch("topic")
    repo.update_entity("ada", {"name": "Theirs"}, branch="topic")
    repo.put_entity("bob", "Person", {"name": "Bob"}, branch="topic")
    repo.update_entity("ada", {"name": "Ours"})


def test_merge_preview_shows_changes_next_to_conflicts_and_resolves_them(server: Server
                                                                         ) -> None:
    conflicting(server)
    login(server, "admin")
    page = server.client.get("/ui/merge", params={"source": "topic", "into": "main"}).text
    assert "1 conflict" in page and 'name="choice-0"' in page
    assert "No changes" not in page and "bob" in page  # the incoming change shows too
    key = re.search(r'name="key-0" value="([^"]+)"', page)
    assert key
    form = {"csrf": csrf(server), "source": "topic", "into": "main",
            "key-0": html.unescape(key.group(1)), "choice-0": "edit", "value-0": "{bad json"}
    bad = server.client.post("/ui/merge", data=form)
    assert bad.status_code == 422 and "not valid JSON" in bad.text
    assert server.repo.head().entity("bob") is None  # nothing merged
    done = server.client.post("/ui/merge", data={**form, "value-0": '"Ada Byron"'})
    assert done.status_code == 200 and "Merge topic into main" in done.text
    head = server.repo.head()
    assert head.entity("ada").props["name"] == "Ada Byron"
    assert head.entity("bob") is not None


def test_branches_created_and_deleted(server: Server) -> None:
    repo = server.repo
    repo.put_entity("ada", "Person", {"name": "Ada"})
    protect_branch(repo, "release/*")
    repo.create_branch("release/1")
    login(server)
    made = server.client.post("/ui/branches", data={"csrf": csrf(server), "name": "exp",
                                                    "start": "main"})
    assert made.status_code == 200 and "Created branch <b>exp</b>" in made.text
    assert "exp" in {b.name for b in repo.branches(None)}
    confirm = server.client.get("/ui/branches/delete", params={"name": "exp"})
    assert "Delete branch exp?" in confirm.text
    refused = server.client.get("/ui/branches/delete", params={"name": "release/1"})
    assert refused.status_code == 403 and "is protected and cannot be deleted" in refused.text
    posted = server.client.post("/ui/branches/delete", data={"csrf": csrf(server),
                                                             "name": "release/1"})
    assert posted.status_code == 403 and "release/1" in {b.name for b in repo.branches(None)}
    gone = server.client.post("/ui/branches/delete", data={"csrf": csrf(server),
                                                           "name": "exp"})
    assert "Deleted branch <b>exp</b>" in gone.text
    assert "exp" not in {b.name for b in repo.branches(None)}
    login(server, "reader")
    assert server.client.post("/ui/branches", data={"csrf": csrf(server), "name": "x"}
                              ).status_code == 403


def test_merge_requests_through_the_api(server: Server) -> None:
    conflicting(server)
    c, repo = server.client, server.repo
    protect_branch(repo, "main", mergers=["bob"])
    assert c.put("/api/merge-rules/main", json={"approvals": 1},
                 headers=server.h("writer")).status_code == 403
    assert c.put("/api/merge-rules/main", json={"approvals": 1},
                 headers=server.h("admin")).status_code == 204
    assert c.post("/api/merge-requests", headers=server.h("reader"), json={
        "source": "topic", "target": "main", "title": "t"}).status_code == 403
    assert c.post("/api/merge-requests", headers=server.h("writer"), json={
        "source": "nope", "target": "main", "title": "t"}).status_code == 404
    made = c.post("/api/merge-requests", headers=server.h("writer"), json={
        "source": "topic", "target": "main", "title": "Rename Ada", "description": "why"})
    assert made.status_code == 201 and made.json()["number"] == 1
    shown = c.get("/api/merge-requests/1", headers=server.h("reader")).json()
    assert shown["status"] == "conflict" and shown["conflicts"][0]["property"] == "name"
    assert shown["required_approvals"] == 1
    assert c.post("/api/merge-requests/1/approve", json={}, headers=server.h("writer")
                  ).status_code == 403  # its author
    body = {"resolutions": [{"element": "entity", "id": "ada", "property": "name",
                             "value": "theirs"}]}
    blocked = c.post("/api/merge-requests/1/merge", json=body, headers=server.h("writer"))
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "merge_blocked"
    assert "approval" in blocked.json()["error"]["message"]
    assert c.post("/api/merge-requests/1/comments", json={"body": "looks good"},
                  headers=server.h("reader")).status_code == 200
    assert c.post("/api/merge-requests/1/approve", json={}, headers=server.h("admin")
                  ).json()["approvals"] == ["alice"]
    checks = checks_of(c.app.state)  # type: ignore[attr-defined]
    register_check(checks, "no-bob", lambda ctx: "bob is not welcome" if any(
        ch.id == "bob" for ch in (ctx.preview.diff.changes if ctx.preview.diff else []))
        else None)
    ran = c.post("/api/merge-requests/1/checks", json=body, headers=server.h("reader")).json()
    assert {r["name"]: r["ok"] for r in ran} == {"conflicts": True, "fsck": True,
                                                 "no-bob": False}
    failing = c.post("/api/merge-requests/1/merge", json=body, headers=server.h("writer"))
    assert failing.status_code == 403 and "bob is not welcome" in failing.text
    register_check(checks, "no-bob", lambda ctx: CheckResult("no-bob", True, "fine"))
    assert c.post("/api/merge-requests/1/merge", json={}, headers=server.h("writer")
                  ).status_code == 403  # the conflict is not resolved
    assert c.post("/api/merge-requests/1/merge", json=body, headers=server.h("feature")
                  ).status_code == 403  # no write access to main
    merged = c.post("/api/merge-requests/1/merge", json=body, headers=server.h("writer"))
    assert merged.status_code == 200, merged.text
    assert merged.json()["merge_request"]["state"] == "merged"
    head = repo.log()[0]
    assert head.message.startswith("Merge request #1: Rename Ada") and head.author == "bob"
    assert repo.head().entity("ada").props["name"] == "Theirs"
    listed = c.get("/api/merge-requests", params={"state": "merged"},
                   headers=server.h("reader")).json()
    assert [r["number"] for r in listed] == [1] and listed[0]["merge_commit"] == head.id
    assert head.metadata["merge_request"] == 1 and head.metadata["approved_by"] == ["alice"]
    assert "fsck" in head.metadata["checks"]  # type: ignore[operator]
    assert c.get("/api/merge-requests", params={"state": "x"},
                 headers=server.h("reader")).status_code == 422


def test_merge_request_pages(server: Server) -> None:
    conflicting(server)
    server.repo.update_entity("ada", {"name": "Theirs"})  # no conflict left
    login(server)
    form = server.client.get("/ui/mr/new", params={"source": "topic", "target": "main"}).text
    assert '<option value="topic" selected>' in form
    made = server.client.post("/ui/mr", data={"csrf": csrf(server), "source": "topic",
                                              "target": "main", "title": "Add Bob",
                                              "description": "<b>please</b>"})
    assert made.status_code == 200 and "Add Bob" in made.text
    assert "&lt;b&gt;please&lt;/b&gt;" in made.text and "bob" in made.text
    assert "Approve" not in made.text  # its author
    checks = server.client.get("/ui/mr/1", params={"checks": 1}).text
    assert "✓ passed" in checks and "✗ failed" not in checks
    login(server, "admin")
    server.client.post("/ui/mr/1/approve", data={"csrf": csrf(server), "body": "ok"})
    page = server.client.post("/ui/mr/1/merge", data={"csrf": csrf(server)}).text
    assert 'id="mr-state">merged<' in page
    assert server.repo.head().entity("bob") is not None
    head = server.repo.log()[0]
    assert len(head.parents) == 2 and head.metadata["merge_request"] == 1
    commit_page = server.client.get(f"/ui/commit/{head.id}").text
    assert re.search(r'<a class="mr-link" href="/ui/mr/1">#1</a>', commit_page)
    assert "approved by alice" in commit_page
    assert '<a class="mr-badge" href="/ui/mr/1">MR #1</a>' in server.client.get("/ui/log").text
    assert "Add Bob" in server.client.get("/ui/mr", params={"state": "merged"}).text
    assert server.client.get("/ui/mr/99").status_code == 404


@pytest.mark.slow
def test_every_change_of_schemaorg_9_is_reachable(server: Server) -> None:
    """Release 8.0 → 9.0 (15,168 changes): walking the commit page's pages reaches each
    change once, and each summary filter selects what it counts."""
    root = Path(__file__).resolve().parents[2]
    data = root.parent / "shared" / "data" / "schemaorg"
    if not (data / "manifest.json").exists():
        pytest.skip("the schema.org data set (shared/data/schemaorg) is not next to this "
                    "checkout")
    spec = importlib.util.spec_from_file_location("schemaorg_history",
                                                  root / "examples" / "schemaorg_history.py")
    assert spec is not None and spec.loader is not None
    example = sys.modules.setdefault("schemaorg_history", importlib.util.module_from_spec(spec))
    if not hasattr(example, "build"):
        spec.loader.exec_module(example)
    example.build(server.repo, data, ["8.0", "9.0"])
    expected = server.repo.changes("9.0")
    assert len(expected) == 15_168
    login(server)
    seen = walk(server, "/ui/commit/9.0", {"per": 1000})
    assert [i for _, i in seen] == list(range(len(expected)))
    text = server.client.get("/ui/commit/9.0").text
    links = re.findall(r'<a class="(?:plus|minus|tilde)" href="([^"]+)">[+−~](\d+)</a>', text)
    assert links
    for href, count in links[:6]:
        shown = server.client.get(html.unescape(href)).text
        assert f"of {count}<" in shown or f"of {count} " in shown



def test_merge_request_storage_on_every_backend(repo_url: str) -> None:
    """The tables are created when missing and hold requests and reviews, on SQLite and
    PostgreSQL alike; numbers count up from 1."""
    from palimpsest.server import merge_requests as mr
    from palimpsest.server.auth import Principal

    bob, alice = Principal("bob", "writer"), Principal("alice", "admin")
    with palimpsest.open(repo_url) as repo:
        repo.put_entity("a", "T", {"v": 1})
        repo.create_branch("topic")
        repo.update_entity("a", {"v": 2}, branch="topic")
        first = mr.create(repo, bob, source="topic", target="main", title=" One ")
        second = mr.create(repo, bob, source="main", target="topic", title="Two")
        assert (first.number, second.number, first.title) == (1, 2, "One")
        with pytest.raises(palimpsest.errors.InvalidValue):
            mr.create(repo, bob, source="topic", target="topic", title="x")
        mr.comment(repo, alice, 1, "fine")
        mr.set_rule(repo, "ma*", 1)
        assert mr.required_approvals(repo, "main") == 1
        with pytest.raises(mr.MergeBlocked):
            mr.merge(repo, bob, 1, mr.Checks())
        mr.approve(repo, alice, 1)
        done, result = mr.merge(repo, bob, 1, mr.Checks())
        # it could fast-forward, but a merge commit records the request
        assert done.state == "merged" and result.status == "merged"
        assert result.commit is not None and result.commit.metadata["merge_request"] == 1
        assert done.merge_commit == result.commit.id == repo.resolve("main").id
        assert repo.head().entity("a").props["v"] == 2
        assert [r.number for r in mr.list_requests(repo, "open")] == [2]
        assert mr.close(repo, bob, 2).state == "closed"
        assert [r.kind for r in mr.get(repo, 1).reviews] == ["comment", "approval"]


def test_favicon(server: Server) -> None:
    icon = server.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.text.startswith("<svg")
    login(server)
    assert 'rel="icon" href="/ui/static/favicon.svg"' in server.client.get("/ui/log").text


def test_merge_requests_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from palimpsest.cli import app
    from palimpsest.server import merge_requests as mr

    path = tmp_path / "cli.db"
    with palimpsest.open(str(path)) as repo:
        repo.put_entity("ada", "Person", {"name": "Ada"})
        repo.create_branch("feature")
        repo.update_entity("ada", {"name": "Ada Lovelace"}, branch="feature")
        mr.set_rule(repo, "main", 1)
    monkeypatch.setenv("PALIMPSEST_REPO", str(path))
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result.stdout

    assert "opened merge request #1" in run("mr", "create", "feature", "main", "-t", "Rename",
                                            "--author", "bob")
    shown = json.loads(run("mr", "show", "1", "--json"))
    assert shown["status"] == "fast_forward" and shown["required_approvals"] == 1
    run("mr", "merge", "1", code=3)  # no approval yet
    run("mr", "approve", "1", "--author", "bob", code=1)  # its author
    run("mr", "approve", "1", "--author", "alice", "--comment", "ok")
    assert "merged as" in run("mr", "merge", "1")  # a merge commit, not a fast forward
    listed = json.loads(run("mr", "list", "--state", "merged", "--json"))
    assert [r["number"] for r in listed] == [1] and listed[0]["approvals"] == ["alice"]
    with palimpsest.open(str(path)) as repo:
        assert repo.head().entity("ada").props["name"] == "Ada Lovelace"


def test_bad_merge_request_input_is_refused_with_422(server: Server) -> None:
    server.repo.put_entity("a", "T", {})
    server.repo.create_branch("topic")
    w, a = server.h("writer"), server.h("admin")
    for body in ({"source": "topic", "target": "main", "title": "   "},
                 {"source": "topic", "target": "main", "title": "nul \u0000"},
                 {"source": "topic", "target": "main", "title": "t", "description": "\u0000"}):
        answer = server.client.post("/api/merge-requests", json=body, headers=w)
        assert answer.status_code == 422, (body, answer.text)
    assert server.client.put("/api/merge-rules/a%01b", json={"approvals": 1},
                             headers=a).status_code == 422
    assert server.client.get("/api/merge-requests/7", headers=w).status_code == 404


def seed_mixed(repo: palimpsest.Repository) -> None:
    """A root commit and a second one changing entities, relations, documents and kv."""
    with repo.transaction("root") as tx:
        for i in range(12):
            tx.put_entity(f"p{i:02}", type=("Person", "Place")[i % 2], props={"i": i})
        tx.put_relation("k1", "KNOWS", "p00", "p02")
        tx.put_document("notes", "n1", {"text": "one"})
    repo.kv.set("/cfg/a", b"1")
    with repo.transaction("second") as tx:
        for i in range(0, 12, 3):
            tx.update_entity(f"p{i:02}", {"i": -i})
        tx.delete_entity("p01")
        tx.put_relation("k2", "LIVES_IN", "p02", "p03")
        tx.put_relation("k1", "KNOWS", "p00", "p04")
        tx.put_document("notes", "n1", {"text": "two"})
        tx.put_document("books", "b1", {"title": "t"})


def test_summary_counted_in_sql_equals_the_diff(repo_url: str) -> None:
    """The UI's summary, counted in SQL without reading values, equals the summary of the
    diff's decoded changes, for a root commit, a commit and a range (both backends)."""
    from palimpsest.server.ui_diff import count_diff, summarize

    with palimpsest.open(repo_url) as repo:
        seed_mixed(repo)
        log = repo.log()
        root, head = log[-1], log[0]
        for a, b in [(None, root), (root, head), (None, head), (head, root)]:
            expected = summarize(list(read_diff_of(repo, a, b)))
            assert count_diff(repo, a, b) == expected, (a, b)


def read_diff_of(repo: palimpsest.Repository, a: Any, b: Any) -> list[Change]:
    from palimpsest.server.ui_diff import read_diff
    return list(read_diff(repo, a, b).changes)


@pytest.mark.parametrize("per", [1, 7, 50])
def test_big_diff_pages_read_only_their_page(server: Server, monkeypatch: pytest.MonkeyPatch,
                                             per: int) -> None:
    """A diff above FULL_READ is never read whole: a full diff fails, each page decodes at
    most its own changes, and walking the pages (all, or one element kind) reaches every
    change once, in diff order; the summary still counts every change by type."""
    from palimpsest.server import ui_diff
    from palimpsest.versioning import diff as diff_module

    seed_many(server.repo)
    seed_mixed(server.repo)
    expected = list(server.repo.diff("v1", "main").changes)
    monkeypatch.setattr(ui_diff, "FULL_READ", 10)
    ui_diff.clear_cache()
    decoded = [0]
    original = diff_module._change

    def counting(*args: Any) -> Change:
        decoded[-1] += 1
        return original(*args)

    def no_full_diff(*args: Any, limit: int | None = None, **kw: Any) -> Any:
        assert limit is not None, "the UI read a whole diff"
        return diff_module.compute(*args, limit=limit, **kw)

    monkeypatch.setattr(diff_module, "_change", counting)
    monkeypatch.setattr(ui_diff, "compute_diff", no_full_diff)
    real_diff = server.repo.diff
    monkeypatch.setattr(server.repo, "diff", lambda *a, **kw: no_full_diff(None) if
                        kw.get("limit") is None else real_diff(*a, **kw))
    login(server)
    text = server.client.get("/ui/compare", params={"a": "v1", "b": "main"}).text
    assert decoded == [ui_diff.PER_PAGE]  # the first screen decodes its page, nothing more
    assert f"Summary <small>{len(expected)} changes</small>" in text
    assert "by element and id" in text
    row = re.search(r'<tr class="type-row" data-element="entity" data-type="Class">.*?</tr>',
                    text, re.S)
    assert row and "+40" in row.group(0) and "−10" in row.group(0) and "~20" in row.group(0)

    seen: list[tuple[str, int]] = []
    url: str | None = "/ui/compare"
    query: dict[str, Any] | None = {"a": "v1", "b": "main", "per": per}
    while url:
        decoded.append(0)
        page = server.client.get(url, params=query).text
        assert decoded[-1] <= per
        seen += [(kind, int(i)) for kind, i in ANCHOR.findall(page)]
        found = re.search(r'<a href="([^"]+)" class="next-page"', page)
        url, query = (html.unescape(found.group(1)), None) if found else (None, None)
    assert [i for _, i in seen] == list(range(len(expected)))
    assert [k for k, _ in seen] == [c.kind for c in expected]

    relations = [c for c in expected if c.element == "relation"]
    decoded.append(0)
    jump = server.client.get("/ui/compare", params={"a": "v1", "b": "main", "per": per,
                                                    "element": "relation",
                                                    "offset": len(relations) - 1}).text
    assert decoded[-1] <= per
    assert f"of {len(relations)}" in jump
    assert relations[-1].id in jump
