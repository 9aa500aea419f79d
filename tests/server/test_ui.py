"""The web UI through the TestClient: login, CSRF, escaping, pages, restore."""

from __future__ import annotations

import re

from palimpsest.server.app import CSRF_COOKIE, TOKEN_COOKIE

from .conftest import Server


def form_csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, "no CSRF field in the page"
    return found.group(1)


def login(server: Server, who: str = "writer") -> None:
    page = server.client.get("/ui/login")
    assert page.status_code == 200 and server.client.cookies.get(CSRF_COOKIE)
    csrf = form_csrf(page.text)
    done = server.client.post("/ui/login", data={"token": server.tokens[who], "csrf": csrf,
                                                 "next": "/ui/branches"},
                              follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/ui/branches"
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


def csrf(server: Server) -> str:
    """The CSRF token the UI's forms carry in the client's current session."""
    return form_csrf(server.client.get("/ui/login").text)


def test_pages_need_login(seeded: Server) -> None:
    response = seeded.client.get("/ui/log?branch=main", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=%2Fui%2Flog%3Fbranch%3Dmain"
    assert seeded.client.get("/", follow_redirects=False).headers["location"] == "/ui/log"


def test_login_checks_token_and_csrf(seeded: Server) -> None:
    c = seeded.client
    c.get("/ui/login")
    no_csrf = c.post("/ui/login", data={"token": seeded.tokens["reader"], "csrf": "x" * 40})
    assert no_csrf.status_code == 403 and TOKEN_COOKIE not in c.cookies
    bad = c.post("/ui/login", data={"token": "pal_bad_token", "csrf": csrf(seeded)})
    assert bad.status_code == 401 and "not valid" in bad.text
    evil = c.post("/ui/login", data={"token": seeded.tokens["reader"], "csrf": csrf(seeded),
                                     "next": "//evil.example/"}, follow_redirects=False)
    assert evil.headers["location"] == "/ui/log"  # no open redirect
    out = c.post("/ui/logout", data={"csrf": csrf(seeded)}, follow_redirects=False)
    assert out.status_code == 303 and TOKEN_COOKIE not in c.cookies


def test_history_page(seeded: Server) -> None:
    login(seeded)
    seeded.client.post("/api/tags", json={"name": "v1", "ref": "main~1"},
                       headers=seeded.h("writer"))
    page = seeded.client.get("/ui/log")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    text = page.text
    for expected in ("Rename ada", "Add bob", "Put entity ada", "bob", "+2", "~1", "just now",
                     'class="tag">v1<', "Restore"):
        assert expected in text, expected
    found = seeded.client.get("/ui/log", params={"q": "RENAME"}).text
    assert "Rename ada" in found and "Add bob" not in found
    assert "No commits match" in seeded.client.get("/ui/log", params={"q": "zzz"}).text
    future = seeded.client.get("/ui/log", params={"since": "2999-01-01"}).text
    assert "No commits match" in future
    today = seeded.client.get("/ui/log", params={"until": "2999-01-01"}).text
    assert "Rename ada" in today


def test_history_paging(server: Server) -> None:
    login(server)
    for i in range(35):
        server.repo.put_entity(f"e{i}", type="T", message=f"commit number {i}")
    first = server.client.get("/ui/log").text
    assert "commit number 34" in first and "commit number 4<" not in first
    assert "Older →" in first
    second = server.client.get("/ui/log", params={"page": 2}).text
    assert "commit number 4<" in second and "Newer" in second and "Older" not in second


def test_commit_page_side_by_side(seeded: Server) -> None:
    login(seeded)
    head = seeded.repo.resolve("main~1")
    text = seeded.client.get(f"/ui/commit/{head.id}").text
    assert head.id in text
    assert re.search(r"ada</a> <span class=\"rel\">—\[KNOWS\]→</span> <a[^>]*>bob", text)
    rename = seeded.client.get("/ui/commit/main").text
    row = re.search(r'<tr class="changed">.*?</tr>', rename, re.S)
    assert row and "&#34;Ada&#34;" in row.group(0) and "&#34;Ada Lovelace&#34;" in row.group(0)


def test_compare_page_with_navigation(seeded: Server) -> None:
    login(seeded)
    text = seeded.client.get("/ui/compare", params={"a": "main~2", "b": "main"}).text
    assert 'id="change-0"' in text and 'id="change-2"' in text
    assert 'href="#change-1" class="next"' in text and 'href="#change-0" class="prev"' in text
    assert "3 changes" in text
    assert seeded.client.get("/ui/compare").status_code == 200
    missing = seeded.client.get("/ui/compare", params={"a": "nope"})
    assert missing.status_code == 404 and "nope" in missing.text


def test_entity_page_history_and_graph(seeded: Server) -> None:
    login(seeded)
    text = seeded.client.get("/ui/entity/ada").text
    assert "<svg" in text and ">bob<" in text and "KNOWS" in text
    assert text.count('class="change ') == 3  # two versions of ada, one of its relation k1
    assert 'class="badge relation"' in text and 'href="/ui/entity/k1"' in text
    assert "<h3>Relations" in text  # the relation fact and the commit that made it
    alone = seeded.client.get("/ui/entity/ada", params={"relations": "none"}).text
    assert alone.count('class="change ') == 2 and 'class="badge relation"' not in alone
    incoming = seeded.client.get("/ui/entity/bob", params={"relations": "in"}).text
    assert incoming.count('class="change ') == 2 and 'href="/ui/entity/k1"' in incoming
    assert seeded.client.get("/ui/entity/ada", params={"relations": "x"}).status_code == 422
    old = seeded.client.get("/ui/entity/ada", params={"ref": "main~2"}).text
    assert "&#34;Ada&#34;" in old and "<svg" in old
    assert seeded.client.get("/ui/entity/ghost").status_code == 404
    relation = seeded.client.get("/ui/entity/k1")
    assert relation.status_code == 200 and "KNOWS" in relation.text


def test_branches_and_merge_pages(seeded: Server) -> None:
    login(seeded, "admin")
    seeded.repo.create_branch("topic")
    seeded.repo.update_entity("ada", {"name": "Theirs"}, branch="topic")
    seeded.repo.update_entity("ada", {"name": "Ours"})
    text = seeded.client.get("/ui/branches").text
    assert "topic" in text and "merge preview" in text
    preview = seeded.client.get("/ui/merge", params={"source": "topic", "into": "main"}).text
    assert "1 conflict" in preview and "&#34;Theirs&#34;" in preview
    assert "Merge now" not in preview
    seeded.repo.update_entity("ada", {"name": "Theirs"})
    clean = seeded.client.get("/ui/merge", params={"source": "topic", "into": "main"}).text
    assert "Merge now" in clean
    done = seeded.client.post("/ui/merge", data={"source": "topic", "into": "main",
                                                 "csrf": csrf(seeded)})
    assert done.status_code == 200 and "Merge topic into main" in done.text
    assert seeded.repo.log()[0].author == "alice"


def test_restore_with_confirmation(seeded: Server) -> None:
    login(seeded)
    target = seeded.repo.resolve("main~2")
    confirm = seeded.client.get(f"/ui/restore/{target.id}", params={"branch": "main"})
    assert confirm.status_code == 200 and "Restore this version?" in confirm.text
    before = len(seeded.repo.log())
    refused = seeded.client.post(f"/ui/restore/{target.id}", data={"branch": "main",
                                                                    "csrf": "wrong" * 10})
    assert refused.status_code == 403 and len(seeded.repo.log()) == before
    done = seeded.client.post(f"/ui/restore/{target.id}",
                              data={"branch": "main", "csrf": csrf(seeded), "message": ""})
    assert done.status_code == 200 and "Restored" in done.text
    head = seeded.repo.log()[0]
    assert head.metadata["rollback_to"] == target.id and head.author == "bob"
    assert seeded.repo.head().entity("bob") is None


def test_readers_cannot_restore(seeded: Server) -> None:
    login(seeded, "reader")
    assert "Restore" not in seeded.client.get("/ui/log").text
    target = seeded.repo.resolve("main~1")
    assert seeded.client.get(f"/ui/restore/{target.id}").status_code == 403
    posted = seeded.client.post(f"/ui/restore/{target.id}",
                                data={"branch": "main", "csrf": csrf(seeded)})
    assert posted.status_code == 403 and len(seeded.repo.log()) == 3


def test_stored_markup_is_escaped(server: Server) -> None:
    login(server)
    evil = "<script>alert('x')</script>"
    server.repo.put_entity("x", type="T", props={evil: evil}, message=evil)
    for path in ("/ui/log", "/ui/commit/main", "/ui/entity/x",
                 "/ui/compare?a=main&b=main"):
        text = server.client.get(path).text
        assert "<script>alert" not in text, path
    assert "&lt;script&gt;" in server.client.get("/ui/entity/x").text


def test_api_reads_accept_the_login_cookie(seeded: Server) -> None:
    login(seeded)
    assert seeded.client.get("/api/diff", params={"a": "main~1", "format": "json-patch"}
                             ).status_code == 200
    refused = seeded.client.put("/api/entities/c", json={"type": "T"})  # writes need a header
    assert refused.status_code == 401


def test_type_and_type_only_changes_show_in_diffs(seeded: Server) -> None:
    """An entity's type change is a row of its own (``@type``), and so is a change of a
    value's JSON type only (1 -> true), on the commit and the compare pages."""
    login(seeded)
    repo = seeded.repo
    before = repo.put_entity("ada", "Person", {"name": "Ada Lovelace", "n": 1})
    repo.put_entity("ada", "Mathematician", {"name": "Ada Lovelace", "n": True})
    for page in (seeded.client.get("/ui/commit/main").text,
                 seeded.client.get("/ui/compare", params={"a": before.id, "b": "main"}).text):
        rows = {re.search(r'<th scope="row"[^>]*>([^<]*)<', row).group(1): row  # type: ignore[union-attr]
                for row in re.findall(r'<tr class="changed">.*?</tr>', page, re.S)}
        assert set(rows) == {"@type", "n"}, rows
        assert "&#34;Person&#34;" in rows["@type"] and "&#34;Mathematician&#34;" in rows["@type"]
        assert "<code>1</code>" in rows["n"] and "<code>true</code>" in rows["n"]


def test_search_page_at_a_ref(seeded: Server) -> None:
    login(seeded)
    seeded.repo.create_text_index("Person", fields=["name"])
    text = seeded.client.get("/ui/search", params={"q": "lovelace"}).text
    assert "1 result" in text and "Ada <mark>Lovelace</mark>" in text
    past = seeded.client.get("/ui/search", params={"q": "lovelace", "ref": "main~1"}).text
    assert "0 results" in past
    seeded.repo.put_entity("eve", "Person", {"name": "<script>x</script> Lovelace"})
    escaped = seeded.client.get("/ui/search", params={"q": "lovelace"}).text
    assert "<script>x" not in escaped and "&lt;script&gt;" in escaped
    assert seeded.client.get("/ui/search").status_code == 200


def test_entity_page_shows_and_filters_valid_time(seeded: Server) -> None:
    """docs/valid-time.md: the entity page shows an interval and narrows to a valid time."""
    w, c = seeded.h("writer"), seeded.client
    assert c.post("/api/transaction", headers=w, json={"message": "Dates", "ops": [
        {"op": "update_entity", "id": "bob", "valid_from": "1990-01-01"},
        {"op": "put_relation", "id": "k1", "type": "KNOWS", "source": "ada", "target": "bob",
         "valid_from": "2000-01-01", "valid_to": "2010-01-01"},
    ]}).status_code == 200
    login(seeded)
    text = c.get("/ui/entity/bob").text
    assert "valid from <time>1990-01-01T00:00:00+00:00</time>" in text
    assert "@valid" in text  # the interval change in the history, as a field
    assert 'name="valid_at"' in text
    then = c.get("/ui/entity/ada", params={"valid_at": "2005-01-01"}).text
    assert then.count('<g class="node') == 2 and "any valid time" in then
    later = c.get("/ui/entity/ada", params={"valid_at": "2015-01-01"}).text
    assert later.count('<g class="node') == 1  # the relation no longer held: no neighbor
    before = c.get("/ui/entity/bob", params={"valid_at": "1980-01-01"}).text
    assert "or not valid at 1980-01-01" in before
    assert c.get("/ui/entity/bob", params={"valid_at": "soon"}).status_code == 422
    # the read routes take valid_at too, and answer 422 to a malformed one
    r = seeded.h("reader")
    assert c.get("/api/relations", params={"valid_at": "2005-01-01"},
                 headers=r).json()[0]["valid_to"] == "2010-01-01T00:00:00+00:00"
    assert c.get("/api/relations", params={"valid_at": "2015-01-01"}, headers=r).json() == []
    assert c.get("/api/count", params={"valid_between": "2011-01-01/2012-01-01",
                                       "element": "relation"}, headers=r).json() == {"count": 0}
    assert c.get("/api/entities/bob", params={"valid_at": "1980-01-01"},
                 headers=r).status_code == 404
    assert c.get("/api/count", params={"valid_at": "x"}, headers=r).status_code == 422
    assert c.get("/api/count", params={"valid_between": "2011-01-01"},
                 headers=r).status_code == 422
