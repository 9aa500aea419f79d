"""Browser tests: Playwright driving Debian's chromium against a real server.

Skipped (with the reason) when playwright or /usr/bin/chromium is missing, unless
``PALIMPSEST_TEST_BROWSER=1`` (CI), which turns the skip into a failure. With
``PALIMPSEST_SCREENSHOTS=1`` the main pages are saved to ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import palimpsest
from palimpsest.server.auth import create_token, protect_branch

from .live import running_server

CHROMIUM = Path(os.environ.get("PALIMPSEST_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("PALIMPSEST_TEST_BROWSER") == "1"
SCREENSHOTS = os.environ.get("PALIMPSEST_SCREENSHOTS") == "1"
SHOTS_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
EVIL = "<script>window.__pwned = 1; alert('pwned')</script>"


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    if not CHROMIUM.exists():
        return f"no chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


REASON = _unavailable()
if REASON and REQUIRED:
    raise RuntimeError(f"PALIMPSEST_TEST_BROWSER=1 but {REASON}")
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def seed(path: Path) -> dict[str, str]:
    """A small API knowledge graph with a few weeks of history."""
    day = datetime.now(UTC) - timedelta(days=20)
    with palimpsest.open(str(path)) as repo:
        tokens = {"admin": create_token(repo, "alice", "admin"),
                  "writer": create_token(repo, "bob", "writer")}
        with repo.transaction("Import the accounts service", author="alice",
                              timestamp=day) as tx:
            tx.put_entity("accounts", type="Service", props={"owner": "team-id", "tier": 1})
            tx.put_entity("User", type="Schema", props={"fields": ["id", "name", "email"]})
            tx.put_entity("GET /users", type="Endpoint",
                          props={"path": "/users", "method": "GET", "auth": "token",
                                 "description": "List users"})
            tx.put_entity("POST /users", type="Endpoint",
                          props={"path": "/users", "method": "POST", "auth": "token"})
            tx.put_relation("get-users-returns", type="RETURNS", source="GET /users",
                            target="User")
            tx.put_relation("post-users-accepts", type="ACCEPTS", source="POST /users",
                            target="User")
            tx.put_relation("get-users-part", type="PART_OF", source="GET /users",
                            target="accounts")
            tx.put_relation("post-users-part", type="PART_OF", source="POST /users",
                            target="accounts")
        repo.tag("v1.0", "main", message="first release", author="alice")
        with repo.transaction("Document pagination and rate limits", author="bob",
                              timestamp=day + timedelta(days=3)) as tx:
            tx.update_entity("GET /users", {"description": "List users, 50 per page",
                                            "rate_limit": 100, "auth": "oauth2"})
            tx.put_entity("Page", type="Schema", props={"fields": ["items", "next"]})
            tx.put_relation("get-users-pages", type="RETURNS", source="GET /users",
                            target="Page")
        with repo.transaction("Retire the legacy export", author="alice",
                              timestamp=day + timedelta(days=6)) as tx:
            tx.put_entity("GET /export", type="Endpoint", props={
                "path": "/export", "description": EVIL, "deprecated": True})
            tx.put_relation("export-part", type="PART_OF", source="GET /export",
                            target="accounts")
        with repo.transaction("Tighten User schema", author="bob",
                              timestamp=day + timedelta(days=9)) as tx:
            tx.update_entity("User", {"fields": ["id", "name", "email", "created_at"],
                                      "required": ["id", "email"]})
            tx.update_entity("POST /users", {"auth": "oauth2"})
        repo.create_branch("feature/search", author="bob")
        with repo.transaction("Add user search", author="bob", branch="feature/search",
                              timestamp=day + timedelta(days=10)) as tx:
            tx.put_entity("GET /users/search", type="Endpoint",
                          props={"path": "/users/search", "method": "GET", "auth": "oauth2"})
            tx.put_relation("search-returns", type="RETURNS", source="GET /users/search",
                            target="Page")
            tx.put_relation("search-part", type="PART_OF", source="GET /users/search",
                            target="accounts")
        with repo.transaction("Raise the rate limit", author="alice",
                              timestamp=day + timedelta(days=12)) as tx:
            tx.update_entity("GET /users", {"rate_limit": 500})
        protect_branch(repo, "release/*")
    return tokens


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    path = tmp_path_factory.mktemp("browser") / "ui.db"
    tokens = seed(path)
    with running_server(path) as url:
        yield url, tokens


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, site: tuple[str, dict[str, str]]) -> Iterator[Any]:
    url, tokens = site
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto("/ui/log")
    assert "/ui/login" in pg.url
    shot(pg, "login")
    pg.fill("#token", tokens["writer"])
    pg.click("button[type=submit]")
    pg.wait_for_url(re.compile(r".*/ui/log$"))
    yield pg
    context.close()


def shot(page: Any, name: str, full: bool = True) -> None:
    if SCREENSHOTS:
        SHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS_DIR / f"{name}.png"), full_page=full)


def test_login_and_history(page: Any, site: tuple[str, dict[str, str]]) -> None:
    rows = page.locator("table.log tbody tr")
    assert rows.count() == 5
    assert rows.nth(0).locator("td.msg").inner_text().startswith("Raise the rate limit")
    assert "v1.0" in rows.nth(4).inner_text()
    assert "days ago" in rows.nth(0).locator("td.when").inner_text()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["palimpsest_token"]["httpOnly"] is True
    assert page.evaluate("document.cookie").find("palimpsest_token") == -1
    shot(page, "history")
    page.fill("input[name=q]", "schema")
    page.click("form.filters button[type=submit]")
    assert page.locator("table.log tbody tr").count() == 1


def test_commit_detail_highlights_changes(page: Any) -> None:
    page.click("text=Document pagination and rate limits")
    page.wait_for_selector("article.change")
    changed = page.locator("article.change.modified tr.changed", has_text="description")
    assert "50 per page" in changed.inner_text()
    colour = changed.locator("td.after").evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(230, 246, 234)"  # the 'added' green of the stylesheet
    added = page.locator("article.change.modified tr.added").first
    assert "rate_limit" in added.inner_text()
    arrows = page.locator(".arrow").all_inner_texts()
    assert any("GET /users" in a and "—[RETURNS]→" in a and "Page" in a for a in arrows)
    shot(page, "commit")


def test_compare_two_versions(page: Any) -> None:
    page.goto("/ui/compare?a=v1.0&b=main")
    page.wait_for_selector("#change-0")
    users = page.locator("article.change.modified", has_text="GET /users").first
    row = users.locator("tr.changed", has_text="auth")
    assert row.count() == 1
    assert '"oauth2"' in row.locator("td.after").inner_text()
    assert '"token"' in row.locator("td.before").inner_text()
    shot(page, "compare")
    page.keyboard.press("n")
    page.keyboard.press("n")
    # page.url follows same-document navigations asynchronously: wait for it (5 s at most)
    page.wait_for_url("**#change-1", timeout=5000)
    page.click("#change-1 a.next")
    page.wait_for_url("**#change-2", timeout=5000)


def test_entity_history_and_neighborhood(page: Any) -> None:
    page.goto("/ui/entity/GET%20%2Fusers")
    assert page.locator("svg.neighborhood .node").count() == 4
    versions = page.locator("section.versions article.change")
    relations = page.locator("section.versions article.change .badge.relation")
    assert versions.count() - relations.count() == 3  # its own versions, and its relations'
    assert relations.count() >= 1 and page.locator("table.relation-facts tr").count() >= 2
    shot(page, "entity")
    page.goto("/ui/branches")
    assert "feature/search" in page.locator("table.branches").inner_text()
    shot(page, "branches")
    page.click("text=merge preview")
    page.wait_for_selector("h1")
    assert "GET /users/search" in page.content()
    shot(page, "merge-preview")


def test_stored_script_does_not_run(page: Any) -> None:
    for path in ("/ui/entity/GET%20%2Fexport", "/ui/log", "/ui/compare?a=v1.0&b=main"):
        page.goto(path)
        page.wait_for_load_state("load")
        assert page.evaluate("window.__pwned === undefined"), path
    page.goto("/ui/entity/GET%20%2Fexport")
    assert EVIL in page.locator("table.props").inner_text()
    assert page.dialogs == []


def test_restore_a_version(page: Any) -> None:
    rows = page.locator("table.log tbody tr")
    before = rows.count()
    target = rows.nth(2)
    target_id = target.locator("a.sha").get_attribute("title")
    target.locator("text=Restore").click()
    page.wait_for_selector("#confirm-restore")
    assert "Restore this version?" in page.inner_text("h1")
    shot(page, "restore")
    page.click("#confirm-restore")
    page.wait_for_selector("p.notice")
    assert "Restored" in page.inner_text("p.notice")
    assert target_id[:10] in page.inner_text("p.notice")
    page.click("text=History")
    assert page.locator("table.log tbody tr").count() == before + 1
    assert page.locator("table.log tbody tr").nth(0).locator("td.author").inner_text() == "bob"
