"""Review in a real browser (Playwright, Debian's chromium): a big commit's summary, filters,
search and pages; a conflict resolved with an edited value; a branch created and deleted
(a protected one refused); merge requests opened, checked, approved and merged, one blocked
by a check. Skipped like test_browser.py unless ``PALIMPSEST_TEST_BROWSER=1``."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import palimpsest
from palimpsest.server import create_app
from palimpsest.server.auth import create_token, protect_branch
from palimpsest.server.merge_requests import CheckContext, checks_of, register_check, set_rule

from .live import free_port
from .test_browser import ARGS, CHROMIUM, REASON, shot

pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")
LONG = ("Entities that have a somewhat fixed, physical extension; the description is long "
        "enough to fold when it grows. ") * 4


def no_forbidden(ctx: CheckContext) -> str | None:
    """A user check: no incoming entity may carry ``forbidden: true``."""
    changes = ctx.preview.diff.changes if ctx.preview.diff is not None else []
    bad = [c.id for c in changes if c.new is not None and
           getattr(c.new, "props", {}).get("forbidden") is True]
    return f"forbidden entities: {', '.join(bad)}" if bad else None


def seed(path: Path) -> dict[str, str]:
    with palimpsest.open(str(path)) as repo:
        tokens = {"admin": create_token(repo, "alice", "admin"),
                  "writer": create_token(repo, "bob", "writer")}
        with repo.transaction("Base vocabulary", author="alice") as tx:
            for i in range(100):
                tx.put_entity(f"schema:T{i:03}", type=("Class", "Property")[i % 2],
                              props={"label": f"T{i}", "comment": LONG if i < 5 else "short"})
        with repo.transaction("Release 2", author="alice") as tx:
            for i in range(0, 100, 2):
                tx.update_entity(f"schema:T{i:03}", {"label": f"Thing {i}"})
            tx.update_entity("schema:T001", {"comment": LONG.replace("physical", "spatial")})
            for i in range(100, 140):
                tx.put_entity(f"schema:T{i:03}", type="Class", props={"label": f"New {i}"})
            for i in range(90, 100):
                tx.delete_entity(f"schema:T{i:03}")
            tx.put_relation("r1", type="SUBCLASS_OF", source="schema:T100",
                            target="schema:T000")
        repo.create_branch("topic", author="bob")
        repo.update_entity("schema:T000", {"label": "Theirs"}, branch="topic", author="bob")
        repo.put_entity("schema:Extra", "Class", {"label": "Extra"}, branch="topic",
                        author="bob")
        repo.update_entity("schema:T000", {"label": "Ours"}, author="alice")
        repo.create_branch("good", "topic~2", author="bob")
        repo.put_entity("schema:Good", "Class", {"label": "fine"}, branch="good", author="bob")
        repo.create_branch("bad", "topic~2", author="bob")
        repo.put_entity("schema:Bad", "Class", {"forbidden": True}, branch="bad",
                        author="bob")
        protect_branch(repo, "release/*")
        repo.create_branch("release/1", author="alice")
        repo.create_branch("graph", author="alice")
        with repo.transaction("A hub with long names", author="alice", branch="graph") as tx:
            tx.put_entity("hub", type="CreativeWorkSeries",
                          props={"name": "The Hitchhiker's Guide to the Galaxy"})
            for i in range(12):
                tx.put_entity(f"n{i}", type=("Person", "Organization", "Place")[i % 3],
                              props={"name": f"Neighbour number {i} with a long name"})
                tx.put_relation(f"r{i}", type=("AUTHORED_BY", "PUBLISHED_BY")[i % 2],
                                source="hub", target=f"n{i}")
    return tokens


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    import uvicorn

    path = tmp_path_factory.mktemp("review") / "review.db"
    tokens = seed(path)
    repo = palimpsest.open(str(path))
    app = create_app(repo)
    register_check(checks_of(app.state), "no-forbidden", no_forbidden)
    set_rule(repo, "main", 1)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(400):
        if server.started:
            break
        time.sleep(0.025)
    else:
        raise AssertionError("the server did not start in 10 s")
    yield f"http://127.0.0.1:{port}", tokens
    server.should_exit = True
    thread.join(10)
    repo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()


def open_as(browser: Any, url: str, token: str) -> Any:
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/ui/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/ui/log$"))
    return page


@pytest.fixture
def page(browser: Any, site: tuple[str, dict[str, str]]) -> Iterator[Any]:
    pg = open_as(browser, site[0], site[1]["writer"])
    yield pg
    pg.context.close()


@pytest.fixture
def admin(browser: Any, site: tuple[str, dict[str, str]]) -> Iterator[Any]:
    pg = open_as(browser, site[0], site[1]["admin"])
    yield pg
    pg.context.close()


def count_text(page: Any) -> str:
    text: str = page.inner_text(".change-nav .count")
    return text


def test_summary_filters_search_and_pages(page: Any) -> None:
    page.goto("/ui/log?branch=main")
    page.locator("table.log tbody tr", has_text="Release 2").locator("a.view-changes").click()
    page.wait_for_selector(".diff-summary")
    assert count_text(page).startswith("Changes: 1–50 of 97")
    row = page.locator("tr.type-row[data-type='Class']")
    assert "+40" in row.inner_text() and "−5" in row.inner_text()
    shot(page, "commit-summary", full=False)
    # modified first: the first change on the page is a modification
    assert page.locator("article.change").first.get_attribute("class") == "change modified"
    # a count is a filter
    row.locator("a.minus").click()
    page.wait_for_selector("article.change")
    assert count_text(page).startswith("Changes: 1–5 of 5")
    kinds = page.locator("article.change .badge").all_inner_texts()
    assert [k.lower() for k in kinds] == ["deleted"] * 5
    page.click("a.clear")
    # search by id
    page.fill("input[name=q]", "T12")
    page.click("form.diff-search button[type=submit]")
    page.wait_for_selector("article.change")
    assert count_text(page).startswith("Changes: 1–10 of 10")
    page.fill("input[name=q]", "")
    page.click("form.diff-search button[type=submit]")
    page.wait_for_selector("article.change")
    # every change reachable: walk the pages by their next links
    seen = 0
    while True:
        seen += page.locator("article.change").count()
        nxt = page.locator(".change-nav a.next-page")
        if nxt.count() == 0:
            break
        nxt.click()
        page.wait_for_load_state("load")
    assert seen == 97
    # keyboard: n on the last change of the first page goes on to the next page
    page.goto(page.url.split("?")[0] + "#change-49")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r".*offset=50.*#change-50$"), timeout=5000)
    assert page.locator("#change-50").is_visible()


def test_fold_and_word_diff(page: Any) -> None:
    page.goto("/ui/log?branch=main")
    page.locator("table.log tbody tr", has_text="Release 2").locator("a.view-changes").click()
    page.fill("input[name=q]", "T001")
    page.click("form.diff-search button[type=submit]")
    words = page.locator("code.words")
    assert words.locator("del").first.inner_text().strip() == "physical"
    assert words.locator("ins").first.inner_text().strip() == "spatial"
    page.goto("/ui/log?branch=main")
    page.locator("table.log tbody tr", has_text="Base vocabulary").locator(
        "a.view-changes").click()
    page.fill("input[name=q]", "T002")
    page.click("form.diff-search button[type=submit]")
    fold = page.locator("details.fold").first
    assert fold.get_attribute("open") is None
    assert "characters" in fold.locator("summary").inner_text()
    fold.locator("summary").click()
    assert fold.get_attribute("open") is not None
    assert "fold when it grows" in fold.inner_text()


def test_history_actions(page: Any) -> None:
    page.goto("/ui/log?branch=main&q=release")
    row = page.locator("table.log tbody tr").first  # not the head: a filtered list
    assert row.locator("a.restore").count() == 1
    assert row.locator("a.view-changes").count() == 1
    row.locator("a.compare").click()
    page.wait_for_selector(".diff-summary")
    assert "Summary" in page.inner_text(".diff-summary h2")


def test_conflict_resolved_with_an_edited_value(admin: Any) -> None:
    page = admin
    page.goto("/ui/branches")
    page.locator("tr[data-branch='topic'] a.merge").click()
    page.wait_for_selector("fieldset.conflict")
    assert "1 conflict" in page.inner_text("#resolve h2")
    assert "schema:Extra" in page.inner_text("section.changes")  # changes next to conflicts
    shot(page, "merge-conflict")
    page.check("input[name=choice-0][value=edit]")
    page.fill("textarea[name=value-0]", "{not json")
    page.click("#merge-resolved")
    page.wait_for_selector("fieldset.conflict.invalid")
    assert "not valid JSON" in page.inner_text("fieldset.conflict .error")
    page.check("input[name=choice-0][value=edit]")
    page.fill("textarea[name=value-0]", '"Resolved label"')
    page.click("#merge-resolved")
    page.wait_for_url(re.compile(r".*/ui/commit/.*"))
    assert "Merge topic into main" in page.inner_text("h1")
    page.goto("/ui/entity/schema%3AT000")
    assert '"Resolved label"' in page.inner_text("table.props")


def test_branch_created_and_deleted(page: Any) -> None:
    page.goto("/ui/branches")
    page.fill("#create-branch input[name=name]", "exp/try")
    page.fill("#create-branch input[name=start]", "main~1")
    page.click("#create-branch button[type=submit]")
    page.wait_for_selector("p.notice")
    assert "Created branch exp/try" in page.inner_text("p.notice")
    shot(page, "branches-created")
    page.locator("tr[data-branch='exp/try'] a.delete").click()
    page.wait_for_selector("#confirm-delete")
    assert "Delete branch exp/try?" in page.inner_text("h1")
    page.click("#confirm-delete")
    page.wait_for_selector("p.notice")
    assert "Deleted branch exp/try" in page.inner_text("p.notice")
    assert page.locator("tr[data-branch='exp/try']").count() == 0
    page.locator("tr[data-branch='release/1'] a.delete").click()
    assert "is protected and cannot be deleted" in page.inner_text("p.error")


def open_request(page: Any, source: str, title: str) -> str:
    page.goto("/ui/mr")
    page.click("text=New merge request")
    page.select_option("#source", source)
    page.select_option("#target", "main")
    page.fill("#title", title)
    page.fill("#description", f"Adds what {source} has.")
    page.click("#open-mr")
    page.wait_for_selector("#mr-state")
    return str(page.url)


def test_merge_requests_blocked_and_merged(page: Any, admin: Any) -> None:
    bad = open_request(page, "bad", "Add a bad entity")
    good = open_request(page, "good", "Add a good entity")
    assert page.locator("#approve").count() == 0  # no approving one's own request
    page.goto(bad)
    page.click("#run-checks")
    page.wait_for_selector("table.check-results")
    results = page.inner_text("table.check-results")
    assert "no-forbidden" in results and "✗ failed" in results
    assert "forbidden entities: schema:Bad" in results
    for url in (bad, good):
        admin.goto(url)
        admin.fill(".comment-form textarea", "Reviewed.")
        admin.click("#comment")
        admin.wait_for_selector("article.review.comment")
        admin.click("#approve")
        admin.wait_for_selector("article.review.approval")
        assert "1 of 1 required" in admin.inner_text("#approvals")
    page.goto(bad)
    page.click("#merge-mr")
    page.wait_for_selector("#problem")
    assert "checks failed" in page.inner_text("#problem")
    assert page.inner_text("#mr-state").lower() == "open"
    page.goto(good)
    shot(page, "merge-request")
    page.click("#merge-mr")
    page.wait_for_selector("#mr-state")
    assert page.inner_text("#mr-state").lower() == "merged"
    page.click("dd a.sha")
    assert "Merge request #" in page.inner_text("h1") and "Add a good entity" in \
        page.inner_text("h1")
    number = good.rstrip("/").rsplit("/", 1)[1]
    assert page.inner_text("a.mr-link") == f"#{number}"  # the merge commit records it
    page.goto("/ui/log")
    assert page.locator(f"a.mr-badge[href='/ui/mr/{number}']").count() == 1
    page.goto("/ui/mr?state=merged")
    assert "Add a good entity" in page.inner_text("table.requests")


def test_neighborhood_labels_are_whole_and_do_not_overlap(page: Any) -> None:
    """The entity page's graph names each neighbor (its name, wrapped, and its type) and each
    edge (its relation type); no two node labels overlap, none is cut short."""
    page.goto("/ui/entity/hub?ref=graph")
    svg = page.locator("svg.neighborhood")
    assert svg.locator(".node").count() == 13
    lines = page.evaluate("""() => [...document.querySelectorAll('svg.neighborhood text.label')]
        .map(t => [...t.querySelectorAll('tspan')].map(s => s.textContent))""")
    names = {" ".join(spans[:-1]) for spans in lines}
    assert {f"Neighbour number {i} with a long name" for i in range(12)} < names
    assert "The Hitchhiker's Guide to the Galaxy" in names
    types = {spans[-1] for spans in lines}
    assert types == {"Person", "Organization", "Place", "CreativeWorkSeries"}
    assert {svg.locator("text.rel-type").nth(i).text_content()
            for i in range(12)} == {"AUTHORED_BY", "PUBLISHED_BY"}
    boxes = page.evaluate("""() => [...document.querySelectorAll('svg.neighborhood text.label')]
        .map(t => { const b = t.getBBox(); return [b.x, b.y, b.width, b.height]; })""")
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1:]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, \
                (boxes[i], (x2, y2, w2, h2))
    width, height = page.evaluate("""() => { const v = document.querySelector(
        'svg.neighborhood').viewBox.baseVal; return [v.width, v.height]; }""")
    for x, y, w, h in boxes:
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, (x, y, w, h)
    shot(page, "entity-neighborhood")
