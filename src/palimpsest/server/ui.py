"""The web UI: server-rendered pages for history, commits, comparisons, entity histories,
branches and restores. No build step, no JavaScript framework, nothing fetched at run time.

Authentication uses the API tokens: the login form stores the token in an HttpOnly,
SameSite=Lax cookie (Secure over HTTPS and on loopback hosts). Every form carries a CSRF token
bound to the login session (an HMAC of a nonce cookie renewed at each login and of the login
cookie), so a token from one session is refused in any other. Jinja2 autoescaping escapes all
output, and a strict Content-Security-Policy forbids inline scripts besides.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader

from .. import __version__
from ..errors import Forbidden, NotFound, PalimpsestError, Unauthorized
from ..repository import Repository
from ..types import Commit
from ..view import View
from . import auth
from .app import CSRF_COOKIE, TOKEN_COOKIE, get_config, get_repo, is_loopback, principal_for
from .auth import Principal
from .ui_diff import (
    ELEMENT_LABELS,
    MAX_PER_PAGE,
    PER_PAGE,
    DiffFilter,
    DiffLinks,
    DiffPage,
    diff_page,
    field_rows,
    page_views,
)

HERE = Path(__file__).resolve().parent
LOG_PER_PAGE = 30
CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

router = APIRouter(prefix="/ui", include_in_schema=False)
env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                  trim_blocks=True, lstrip_blocks=True)


class LoginRequired(Exception):
    """Raised by pages when no valid token cookie was sent."""


def _url(path: str, **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return path + ("?" + query if query else "")


def _q(value: str) -> str:
    return quote(value, safe="")


env.globals.update(url=_url, q=_q, version=__version__)
env.filters["q"] = _q


# -- helpers ---------------------------------------------------------------------------------
def _secure(request: Request) -> bool:
    configured = get_config(request).secure_cookies
    if configured is not None:
        return configured
    return request.url.scheme == "https" or is_loopback(request.url.hostname or "")


def _principal(request: Request) -> Principal:
    try:
        return principal_for(request, request.cookies.get(TOKEN_COOKIE))
    except Unauthorized as exc:
        raise LoginRequired() from exc


def _nonce(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie (a random nonce, renewed at each login and logout); True
    when it is new and must be set."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) >= 32:
        return existing, False
    cached: str | None = getattr(request.state, "csrf_nonce", None)
    if cached is None:
        cached = request.state.csrf_nonce = secrets.token_urlsafe(32)
    return cached, True


def csrf_token(request: Request, nonce: str, session: str | None = None) -> str:
    """The CSRF token of a login session: an HMAC, under the server's secret, of the CSRF
    cookie's nonce and of the login cookie (``session``, default the request's). A token from
    another session (another login, another user, another browser) does not verify, even when
    the attacker can also plant the CSRF cookie."""
    if session is None:
        session = request.cookies.get(TOKEN_COOKIE) or ""
    message = nonce.encode() + b"\x00" + hashlib.sha256(session.encode()).digest()
    return hmac.new(get_config(request).csrf_secret, message, hashlib.sha256).hexdigest()


def check_csrf(request: Request, submitted: str) -> None:
    nonce = request.cookies.get(CSRF_COOKIE) or ""
    if not nonce or not hmac.compare_digest(csrf_token(request, nonce), submitted):
        raise Forbidden("the form's CSRF token is missing or stale; reload the page and retry")


def _set_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="strict",
                        secure=_secure(request), path="/ui")


def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    nonce, new = _nonce(request)
    token = csrf_token(request, nonce)
    repo = get_repo(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    context.update(request=request, csrf=token, principal=principal,
                   auth_on=not get_config(request).no_auth, current_branch=repo.current_branch,
                   has_merge=True)
    response = HTMLResponse(env.get_template(name).render(context), status_code)
    if new:
        _set_nonce(request, response, nonce)
    return _headers(response)


def error_page(request: Request, error: PalimpsestError, status: int) -> Response:
    if isinstance(error, Unauthorized):
        return login_redirect(request)
    return render(request, "error.html", status, error=error, status=status)


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _headers(RedirectResponse(_url("/ui/login", next=target), 303))


def user(request: Request) -> Principal:
    principal = _principal(request)
    request.state.principal = principal
    return principal


def humanize(when: datetime, now: datetime | None = None) -> str:
    """'3 minutes ago', 'in 2 days' — the relative time shown beside absolute times."""
    now = now or datetime.now(UTC)
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("year", 31_536_000), ("month", 2_592_000), ("day", 86_400),
                       ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


env.filters["json"] = _json
env.filters["ago"] = humanize
env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M:%S UTC")


# -- neighborhood picture --------------------------------------------------------------------
NAME_PROPS = ("name", "label", "title", "rdfs:label", "schema:name")
"""The properties whose (string) value names an entity in the neighborhood picture."""
LINE_CHARS = 18
MAX_LINES = 3


def wrap(text: str, width: int = LINE_CHARS, lines: int = MAX_LINES) -> list[str]:
    """``text`` in at most ``lines`` lines of about ``width`` characters, broken at spaces
    (or inside a long word); only what still does not fit ends in an ellipsis."""
    out: list[str] = []
    rest = text.strip()
    while rest and len(out) < lines:
        if len(rest) <= width:
            out.append(rest)
            rest = ""
            break
        cut = rest.rfind(" ", 0, width + 1)
        cut = cut if cut > width // 3 else width
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        out[-1] = out[-1][:width - 1] + "…"
    return out or [""]


def display_name(entity: Any) -> str:
    """An entity's name for a picture: its first string name-like property, else its id."""
    props = getattr(entity, "props", None) or {}
    for key in NAME_PROPS:
        value = props.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return str(getattr(entity, "id", ""))


@dataclass
class Node:
    id: str
    type: str
    x: float
    y: float
    center: bool = False
    lx: float = 0.0
    ly: float = 0.0
    anchor: str = "middle"
    name: str = ""

    @property
    def lines(self) -> list[str]:
        """The label: the entity's name (its id when unnamed), wrapped, never cut short
        under :data:`MAX_LINES` lines."""
        return wrap(self.name or self.id)

    @property
    def type_line(self) -> str:
        return wrap(self.type, 24, 1)[0]


@dataclass
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    lx: float
    ly: float
    full: str = ""
    angle: float = 0.0


def neighborhood(view: View, id: str, limit: int = 12) -> dict[str, Any] | None:
    """A radial layout of an entity and its direct neighbors for an inline SVG: each node
    labelled with its name (wrapped) and type outside its circle, pointing away from the
    center; with more than six neighbors every other one sits on an outer ring, so labels of
    adjacent neighbors do not overlap; relation types along the edges."""
    center = view.entity(id)
    if center is None:
        return None
    width, height, node_r = 820, 560, 24
    rels = [r for r in view.relations(source=id)] + [r for r in view.relations(target=id)]
    others: list[str] = []
    for rel in rels:
        other = rel.target if rel.source == id else rel.source
        if other != id and other not in others:
            others.append(other)
    hidden = max(len(others) - limit, 0)
    others = others[:limit]
    cx, cy = width / 2, height / 2
    nodes = {id: Node(id, center.type, cx, cy, True, cx, cy + node_r + 16,
                      name=display_name(center))}
    for i, other in enumerate(others):
        angle = 2 * math.pi * i / max(len(others), 1) - math.pi / 2
        radius = 190 if len(others) > 6 and i % 2 else 125
        found = view.entity(other)
        cos, sin = math.cos(angle), math.sin(angle)
        x, y = cx + radius * cos * 1.25, cy + radius * sin
        node = Node(other, found.type if found else "?", x, y, False, name=display_name(found)
                    if found else other)
        # the label sits outside the circle, away from the center, clear of the edges
        lines = len(node.lines) + 1
        node.lx = x + (node_r + 6) * cos
        node.ly = y + (node_r + 8) * sin + 4 - (lines - 1) * 14 * (sin < -0.3) \
            - (lines - 1) * 7 * (abs(sin) <= 0.3)
        node.anchor = "start" if cos > 0.3 else "end" if cos < -0.3 else "middle"
        nodes[other] = node
    labels: dict[tuple[str, str], list[str]] = {}
    for rel in rels:
        if rel.source in nodes and rel.target in nodes and rel.source != rel.target:
            labels.setdefault((rel.source, rel.target), []).append(rel.type)
    edges = []
    for (a, b), types in labels.items():
        na, nb = nodes[a], nodes[b]
        dx, dy = nb.x - na.x, nb.y - na.y
        length = math.hypot(dx, dy) or 1
        ux, uy = dx / length, dy / length
        text = ", ".join(sorted(set(types)))
        angle = math.degrees(math.atan2(dy, dx))
        if angle > 90 or angle < -90:
            angle += 180  # keep the text upright
        edges.append(Edge(na.x + ux * node_r, na.y + uy * node_r, nb.x - ux * (node_r + 6),
                          nb.y - uy * (node_r + 6), wrap(text, 26, 1)[0],
                          na.x + dx * 0.45, na.y + dy * 0.45 - 4, text, angle))
    return {"width": width, "height": height, "r": node_r, "nodes": list(nodes.values()),
            "edges": edges, "hidden": hidden}


# -- pages -----------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return RedirectResponse("/ui/log", 303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/ui/log") -> Response:
    return render(request, "login.html", next=_safe_next(next), failed=False)


def _safe_next(target: str) -> str:
    """Only local UI paths (no open redirects)."""
    return target if target.startswith("/ui") and "//" not in target and "\\" not in target \
        else "/ui/log"


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, token: str = Form(""), csrf: str = Form(""),
          next: str = Form("/ui/log")) -> Response:
    check_csrf(request, csrf)
    try:
        auth.authenticate(get_repo(request).database, token.strip())
    except Unauthorized:
        return render(request, "login.html", 401, next=_safe_next(next), failed=True)
    response = RedirectResponse(_safe_next(next), 303)
    response.set_cookie(TOKEN_COOKIE, token.strip(), httponly=True, samesite="lax",
                        secure=_secure(request), path="/", max_age=30 * 86_400)
    _set_nonce(request, response, secrets.token_urlsafe(32))  # a new session, new CSRF tokens
    return _headers(response)


@router.post("/logout", response_class=HTMLResponse)
def logout(request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse("/ui/login", 303)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    _set_nonce(request, response, secrets.token_urlsafe(32))
    return _headers(response)


def _tags_by_commit(repo: Repository) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for tag in repo.tags():
        out.setdefault(tag.commit.id, []).append(tag.name)
    return out


@router.get("/log", response_class=HTMLResponse)
def history_page(request: Request, branch: str | None = None, page: int = 1, q: str = "",
                 since: str = "", until: str = "") -> Response:
    principal = user(request)
    repo = get_repo(request)
    name = branch or repo.current_branch
    page = max(page, 1)
    text = q.strip().lower()
    until_bound = until + "T23:59:59.999999" if len(until) == 10 else until
    wanted = None if text else page * LOG_PER_PAGE + 1
    commits = repo.log(name, wanted, since=since or None, until=until_bound or None)
    if text:
        commits = [c for c in commits if text in c.message.lower() or text in c.author.lower()]
    shown = commits[(page - 1) * LOG_PER_PAGE: page * LOG_PER_PAGE]
    head = repo.log(name, 1)
    return render(request, "history.html", branch=name, commits=shown, page=page,
                  head_id=head[0].id if head else None,
                  has_next=len(commits) > page * LOG_PER_PAGE, q=q, since=since, until=until,
                  tags=_tags_by_commit(repo), branches=[b.name for b in repo.branches(None)],
                  can_restore=auth.may_rollback(repo.database, principal, name),
                  now=datetime.now(UTC))


def diff_context(page: DiffPage, base: str, fixed: dict[str, str], filt: DiffFilter
                 ) -> dict[str, Any]:
    """What the ``m.diff`` macro needs for one page of a diff."""
    return {"page": page, "views": page_views(page), "labels": ELEMENT_LABELS,
            "links": DiffLinks(base, {k: v for k, v in fixed.items() if v}, filt, page)}


def diff_filter(element: str, kind: str, type: str, q: str) -> DiffFilter:
    return DiffFilter(element.strip(), kind.strip(), type.strip(), q.strip())


@router.get("/commit/{ref:path}", response_class=HTMLResponse)
def commit_page(ref: str, request: Request, branch: str | None = None, element: str = "",
                kind: str = "", type: str = "", q: str = "", offset: int = 0,
                per: int = PER_PAGE) -> Response:
    principal = user(request)
    repo = get_repo(request)
    commit = repo.resolve(ref)
    name = branch or repo.current_branch
    filt = diff_filter(element, kind, type, q)
    page = diff_page(repo, None, commit.id, filt, offset, min(max(per, 1), MAX_PER_PAGE))
    return render(request, "commit.html", commit=commit,
                  tags=_tags_by_commit(repo).get(commit.id, []), branch=name,
                  can_restore=auth.may_rollback(repo.database, principal, name),
                  now=datetime.now(UTC),
                  **diff_context(page, f"/ui/commit/{commit.id}", {"branch": branch or ""},
                                 filt))


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, a: str = "", b: str = "", element: str = "",
                 kind: str = "", type: str = "", q: str = "", offset: int = 0,
                 per: int = PER_PAGE) -> Response:
    user(request)
    repo = get_repo(request)
    context: dict[str, Any] = {"a": a, "b": b}
    if a:
        filt = diff_filter(element, kind, type, q)
        page = diff_page(repo, a, b or None, filt, offset, min(max(per, 1), MAX_PER_PAGE))
        context.update(from_commit=page.a, to_commit=page.b,
                       **diff_context(page, "/ui/compare", {"a": a, "b": b}, filt))
    context["refs"] = [x.name for x in repo.branches(None)] + [t.name for t in repo.tags()]
    return render(request, "compare.html", **context)


_MARKED = re.compile("<mark>(.*?)</mark>", re.S)


def marked_pieces(text: str) -> list[tuple[str, bool]]:
    """A highlight as (text, marked) pieces, so the template escapes the text itself."""
    pieces = _MARKED.split(text)
    return [(piece, i % 2 == 1) for i, piece in enumerate(pieces) if piece]


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, q: str = "", ref: str = "", type: str = "") -> Response:
    """Full-text search at the selected ref (docs/search.md)."""
    user(request)
    repo = get_repo(request)
    view = repo.at(ref or None)
    hits = []
    if q.strip():
        for hit in view.search(q, type=type or None, limit=50):
            hits.append((hit, [(name, marked_pieces(text))
                               for name, text in hit.highlights.items()]))
    return render(request, "search.html", q=q, ref=ref or None, type=type or None, view=view,
                  hits=hits, types=sorted({i.type for i in repo.text_indexes()}),
                  refs=[x.name for x in repo.branches(None)] + [t.name for t in repo.tags()])


@router.get("/sparql", response_class=HTMLResponse)
def sparql_page(request: Request, query: str = "", ref: str = "") -> Response:
    """Run a SPARQL query at a ref and show a table; IRIs link to their entity pages."""
    from .ui_sparql import answer_table

    user(request)
    repo = get_repo(request)
    context = answer_table(repo, query, ref or None, get_config(request).max_query_seconds)
    context["refs"] = [x.name for x in repo.branches(None)] + [t.name for t in repo.tags()]
    return render(request, "sparql.html", query=query, ref=ref, **context)


@router.get("/cypher", response_class=HTMLResponse)
def cypher_page(request: Request, query: str = "", ref: str = "") -> Response:
    """Run an openCypher query at a ref and show a table; nodes link to their entity pages."""
    from .ui_cypher import answer_table

    user(request)
    repo = get_repo(request)
    context = answer_table(repo, query, ref or None, get_config(request).max_query_seconds)
    context["refs"] = [x.name for x in repo.branches(None)] + [t.name for t in repo.tags()]
    return render(request, "cypher.html", query=query, ref=ref, **context)


@router.get("/entity/{id:path}", response_class=HTMLResponse)
def entity_page(id: str, request: Request, ref: str | None = None,
                relations: Literal["out", "in", "both", "none"] = "out",
                valid_at: str = "") -> Response:
    user(request)
    repo = get_repo(request)
    view = repo.at(ref)
    if valid_at.strip():  # valid time: the entity, its relations and neighbors then
        view = view.valid_at(valid_at.strip())
    current = view.entity(id)
    versions = (repo.history(id, ref, relations=relations) if view.commit is not None
                else [])
    if current is None and not versions:
        raise NotFound(f"no entity or relation {id!r} in the history of "
                       f"{ref or repo.current_branch!r}")
    rows = []
    previous: dict[tuple[Any, Any], Any] = {}  # each element's value in its older version
    for version in reversed(versions):
        new = None if version.kind == "deleted" else version.value
        old = previous.get((version.element, version.id))
        edge = new or old  # a relation version's ends (the deleted one's, for a deletion)
        rows.append((version, field_rows(old, new),
                     edge if version.element == "relation" and version.id != id else None))
        previous[(version.element, version.id)] = new
    rows.reverse()
    blame = repo.blame(id, ref, relations=relations) if current is not None else {}
    return render(request, "entity.html", id=id, ref=ref, view=view, entity=current,
                  relation=view.relation(id) if current is None else None,
                  versions=rows, blame=blame, graph=neighborhood(view, id),
                  facts=[b for _, b in sorted(blame.items()) if b.relation],
                  relations=relations,
                  fields=field_rows(current, current) if current is not None else [],
                  valid_at=valid_at.strip() or None, now=datetime.now(UTC))


@router.get("/restore/{ref:path}", response_class=HTMLResponse)
def restore_form(ref: str, request: Request, branch: str | None = None) -> Response:
    principal = user(request)
    repo = get_repo(request)
    commit = repo.resolve(ref)
    name = branch or repo.current_branch
    auth.require_rollback(repo.database, principal, name)
    diff = repo.diff(name, commit)
    return render(request, "restore.html", commit=commit, branch=name, stats=diff.stats,
                  total=len(diff.changes), now=datetime.now(UTC))


@router.post("/restore/{ref:path}", response_class=HTMLResponse)
def restore(ref: str, request: Request, branch: str = Form(), csrf: str = Form(""),
            message: str = Form("")) -> Response:
    check_csrf(request, csrf)
    principal = user(request)
    repo = get_repo(request)
    auth.require_rollback(repo.database, principal, branch)
    commit: Commit = repo.rollback(ref, message=message.strip() or None, author=principal.user,
                                   branch=branch)
    return _headers(RedirectResponse(f"/ui/commit/{commit.id}?branch={_q(branch)}&restored=1",
                                     303))


def install(app: FastAPI) -> None:
    """Add the UI routes, its static files and the login redirect to ``app``."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(request)

    @app.get("/favicon.ico", include_in_schema=False)
    def _favicon() -> Response:
        return RedirectResponse("/ui/static/favicon.svg", 301)

    @app.get("/", include_in_schema=False)
    def _root() -> Response:
        return RedirectResponse("/ui/log", 303)
