"""Web UI pages for reviewing and landing changes: the merge preview with conflicts resolved
in the browser, branches created and deleted, and merge requests (open, discuss, approve,
check, merge). Server-rendered like :mod:`.ui`, whose helpers (rendering, login, CSRF) it
uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import Forbidden, InvalidValue, MergeConflict, PalimpsestError
from ..repository import Repository
from ..types import Conflict, MergeResult
from ..versioning.threeway import Resolved
from . import auth
from . import merge_requests as mr
from .app import get_repo
from .ui import check_csrf, diff_context, diff_filter, render, user
from .ui_diff import MAX_PER_PAGE, PER_PAGE, DiffFilter, page_of

router = APIRouter(prefix="/ui", include_in_schema=False)
STALE_DAYS = 90


def _redirect(url: str) -> Response:
    response = RedirectResponse(url, 303)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- merge preview and conflict resolution ---------------------------------------------------
class Resolution:
    """One conflict with the choice made for it in the form (ours, theirs, or an edit)."""

    def __init__(self, index: int, conflict: Conflict, choice: str = "",
                 text: str | None = None, error: str = "") -> None:
        self.index = index
        self.conflict = conflict
        self.choice = choice
        self.text = text if text is not None else _pretty(conflict.theirs)
        self.error = error

    @property
    def key_json(self) -> str:
        return orjson.dumps(list(self.conflict.key)).decode()


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode()


def parse_resolutions(form: dict[str, str], conflicts: list[Conflict]
                      ) -> tuple[dict[tuple[str, str, str | None], Any], list[Resolution]]:
    """The form's choice for each conflict: ``ours``/``theirs``, or an edited JSON value
    (validated: an error is kept on its conflict, not raised)."""
    out: dict[tuple[str, str, str | None], Any] = {}
    rows = []
    # the form names each conflict by its key, so a conflict list that changed since the
    # page was shown (the branches moved) never takes another conflict's choice
    fields = {value: name[4:] for name, value in form.items() if name.startswith("key-")}
    for i, conflict in enumerate(conflicts):
        index = fields.get(orjson.dumps(list(conflict.key)).decode())
        choice = form.get(f"choice-{index}", "") if index is not None else ""
        text = form.get(f"value-{index}") if index is not None else None
        row = Resolution(i, conflict, choice, text)
        if choice in ("ours", "theirs"):
            out[conflict.key] = choice
        elif choice == "edit":
            try:
                out[conflict.key] = Resolved(orjson.loads((text or "").encode()))
            except orjson.JSONDecodeError as exc:
                row.error = f"not valid JSON: {exc}"
        rows.append(row)
    return out, rows


def merge_context(repo: Repository, source: str, into: str, filt: DiffFilter, offset: int,
                  per: int, base: str, fixed: dict[str, str],
                  resolutions: dict[tuple[str, str, str | None], Any] | None = None
                  ) -> tuple[MergeResult, dict[str, Any]]:
    """The preview of merging ``source`` into ``into`` and the page of changes ``into``
    would receive. With conflicts left, the changes shown are those of a merge taking their
    side of each conflict, so they always show next to the conflicts."""
    plain = repo.merge_preview(source, into=into)
    result = plain
    if resolutions:
        try:
            result = repo.merge_preview(source, into=into, resolutions=resolutions)
        except PalimpsestError:  # resolutions that no longer fit: show the plain preview
            result = plain
    shown = result
    if result.status == "conflict":
        shown = repo.merge_preview(source, into=into, strategy="theirs")
    changes = shown.diff.changes if shown.diff is not None else []
    page = page_of(changes, filt, offset, min(max(per, 1), MAX_PER_PAGE),
                   a=shown.target, b=shown.source)
    return plain, {"status": result.status, **diff_context(page, base, fixed, filt)}


@router.get("/merge", response_class=HTMLResponse)
def merge_page(request: Request, source: str, into: str | None = None, element: str = "",
               kind: str = "", type: str = "", q: str = "", offset: int = 0,
               per: int = PER_PAGE) -> Response:
    principal = user(request)
    repo = get_repo(request)
    target = into or repo.current_branch
    filt = diff_filter(element, kind, type, q)
    plain, context = merge_context(repo, source, target, filt, offset, per, "/ui/merge",
                                   {"source": source, "into": target})
    return render(request, "merge.html", source=source, into=target,
                  conflicts=[Resolution(i, c) for i, c in enumerate(plain.conflicts)],
                  can_merge=auth.may_merge(repo.database, principal, target),
                  action="/ui/merge", **context)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/merge", response_class=HTMLResponse)
async def merge_action(request: Request) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_merge_action, request, form)


def _merge_action(request: Request, form: dict[str, str]) -> Response:
    check_csrf(request, form.get("csrf", ""))
    principal = user(request)
    repo = get_repo(request)
    source, into = form.get("source", ""), form.get("into", "")
    auth.require_merge(repo.database, principal, into)
    plain = repo.merge_preview(source, into=into)
    resolutions, rows = parse_resolutions(form, plain.conflicts)
    problem = _unresolved(rows)
    if problem is None:
        try:
            result = repo.merge(source, into=into, author=principal.user,
                                resolutions=resolutions or None)
        except (MergeConflict, InvalidValue) as exc:
            problem = str(exc)
        else:
            if result.status != "conflict" and result.commit is not None:
                return _redirect(f"/ui/commit/{result.commit.id}?branch={_quote(into)}")
            problem = "conflicts are left; choose a value for each"
    filt = DiffFilter()
    _, context = merge_context(repo, source, into, filt, 0, PER_PAGE, "/ui/merge",
                               {"source": source, "into": into}, resolutions)
    return render(request, "merge.html", 422, source=source, into=into, conflicts=rows,
                  can_merge=True, action="/ui/merge", problem=problem, **context)


def _unresolved(rows: list[Resolution]) -> str | None:
    bad = [r for r in rows if r.error]
    if bad:
        return "; ".join(f"conflict {r.index + 1}: {r.error}" for r in bad)
    missing = [r for r in rows if r.choice not in ("ours", "theirs", "edit")]
    if missing:
        return f"choose ours, theirs or an edited value for {len(missing)} conflict(s)"
    return None


# -- branches --------------------------------------------------------------------------------
@router.get("/branches", response_class=HTMLResponse)
def branches_page(request: Request, base: str = "main", stale_days: int = STALE_DAYS,
                  created: str = "", deleted: str = "") -> Response:
    principal = user(request)
    repo = get_repo(request)
    found = repo.branches(base if base else None)
    protected = {b.name for b in found if auth.protection_for(repo.database, b.name)}
    cutoff = datetime.now(UTC) - timedelta(days=max(stale_days, 0))
    stale = {b.name for b in found if b.head is not None and b.head.timestamp < cutoff}
    return render(request, "branches.html", branches=found, base=base, protected=protected,
                  stale=stale, stale_days=stale_days, created=created, deleted=deleted,
                  can_merge={b.name: auth.may_merge(repo.database, principal, b.name)
                             for b in found},
                  can_write=principal.at_least("writer"),
                  open_requests={(r.source, r.target): r.number
                                 for r in mr.list_requests(repo, "open")},
                  now=datetime.now(UTC))


@router.post("/branches", response_class=HTMLResponse)
def create_branch(request: Request, name: str = Form(""), start: str = Form(""),
                  csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    principal = user(request)
    repo = get_repo(request)
    name = name.strip()
    auth.require_create_branch(repo.database, principal, name)
    repo.create_branch(name, start.strip() or None, author=principal.user)
    return _redirect(f"/ui/branches?created={_quote(name)}")


def _quote(value: str) -> str:
    return quote(value, safe="")


def _require_delete(repo: Repository, principal: auth.Principal, name: str) -> None:
    if auth.protection_for(repo.database, name) is not None:
        raise Forbidden(f"branch {name!r} is protected and cannot be deleted here; an admin "
                        "must remove its protection first")
    if name == repo.current_branch:
        raise Forbidden(f"branch {name!r} is the repository's current branch; make another "
                        "branch current before deleting it")
    if not principal.is_admin and not principal.can_write(name):
        raise Forbidden(f"{principal.user} may not delete branch {name!r} (writers delete "
                        "only branches they may write)")


@router.get("/branches/delete", response_class=HTMLResponse)
def delete_branch_form(request: Request, name: str) -> Response:
    principal = user(request)
    repo = get_repo(request)
    _require_delete(repo, principal, name)
    branch = next((b for b in repo.branches(None) if b.name == name), None)
    if branch is None:
        raise InvalidValue(f"no branch {name!r}")
    return render(request, "branch_delete.html", branch=branch, now=datetime.now(UTC))


@router.post("/branches/delete", response_class=HTMLResponse)
def delete_branch(request: Request, name: str = Form(""), csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    principal = user(request)
    repo = get_repo(request)
    _require_delete(repo, principal, name)
    repo.delete_branch(name, author=principal.user)
    return _redirect(f"/ui/branches?deleted={_quote(name)}")


# -- merge requests --------------------------------------------------------------------------
@router.get("/mr", response_class=HTMLResponse)
def mr_list(request: Request, state: str = "open") -> Response:
    principal = user(request)
    repo = get_repo(request)
    shown = mr.list_requests(repo, state if state in mr.STATES else None)
    return render(request, "mr_list.html", requests=shown, state=state,
                  can_open=principal.at_least("writer"), now=datetime.now(UTC))


@router.get("/mr/new", response_class=HTMLResponse)
def mr_new(request: Request, source: str = "", target: str = "") -> Response:
    principal = user(request)
    auth.require_role(principal, "writer", "opening a merge request")
    repo = get_repo(request)
    return render(request, "mr_new.html", names=[b.name for b in repo.branches(None)],
                  source=source, target=target or repo.current_branch, title="",
                  description="", problem=None)


@router.post("/mr", response_class=HTMLResponse)
def mr_create(request: Request, source: str = Form(""), target: str = Form(""),
              title: str = Form(""), description: str = Form(""),
              csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    principal = user(request)
    repo = get_repo(request)
    try:
        created = mr.create(repo, principal, source=source, target=target, title=title,
                            description=description)
    except InvalidValue as exc:
        return render(request, "mr_new.html", 422, names=[b.name for b in repo.branches(None)],
                      source=source, target=target, title=title, description=description,
                      problem=str(exc))
    return _redirect(f"/ui/mr/{created.number}")


@router.get("/mr/{number}", response_class=HTMLResponse)
def mr_page(number: int, request: Request, element: str = "", kind: str = "",
            type: str = "", q: str = "", offset: int = 0, per: int = PER_PAGE,
            checks: int = 0) -> Response:
    principal = user(request)
    repo = get_repo(request)
    found = mr.get(repo, number)
    return _mr_render(request, principal, repo, found, diff_filter(element, kind, type, q),
                      offset, per, run=bool(checks))


def _mr_render(request: Request, principal: auth.Principal, repo: Repository,
               found: mr.MergeRequest, filt: DiffFilter, offset: int, per: int, *,
               run: bool = False, rows: list[Resolution] | None = None,
               resolutions: dict[tuple[str, str, str | None], Any] | None = None,
               problem: str | None = None, results: list[mr.CheckResult] | None = None,
               status: int = 200) -> Response:
    context: dict[str, Any] = {}
    conflicts: list[Resolution] = []
    if found.state == "open":
        try:
            plain, context = merge_context(repo, found.source, found.target, filt, offset, per,
                                           f"/ui/mr/{found.number}", {}, resolutions)
            conflicts = rows if rows is not None else \
                [Resolution(i, c) for i, c in enumerate(plain.conflicts)]
        except PalimpsestError as exc:  # a branch deleted since
            problem = problem or str(exc)
    if run and results is None and found.state == "open" and not problem:
        results = mr.run_checks(repo, found, mr.checks_of(request.app.state), resolutions)
    needed = mr.required_approvals(repo, found.target)
    return render(request, "mr.html", status, mr=found, conflicts=conflicts, problem=problem,
                  checks=results, needed=needed, action=f"/ui/mr/{found.number}/merge",
                  can_merge=found.state == "open" and
                  auth.may_merge(repo.database, principal, found.target),
                  can_approve=found.state == "open" and principal.at_least("writer") and
                  principal.user != found.author and principal.user not in found.approvals,
                  can_close=found.state == "open" and
                  (principal.user == found.author or principal.is_admin),
                  source=found.source, into=found.target, now=datetime.now(UTC), **context)


@router.post("/mr/{number}/comment", response_class=HTMLResponse)
def mr_comment(number: int, request: Request, body: str = Form(""),
               csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    mr.comment(get_repo(request), user(request), number, body)
    return _redirect(f"/ui/mr/{number}#discussion")


@router.post("/mr/{number}/approve", response_class=HTMLResponse)
def mr_approve(number: int, request: Request, body: str = Form(""),
               csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    mr.approve(get_repo(request), user(request), number, body)
    return _redirect(f"/ui/mr/{number}#discussion")


@router.post("/mr/{number}/close", response_class=HTMLResponse)
def mr_close(number: int, request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    mr.close(get_repo(request), user(request), number)
    return _redirect(f"/ui/mr/{number}")


@router.post("/mr/{number}/merge", response_class=HTMLResponse)
async def mr_merge(number: int, request: Request) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_mr_merge, number, request, form)


def _mr_merge(number: int, request: Request, form: dict[str, str]) -> Response:
    check_csrf(request, form.get("csrf", ""))
    principal = user(request)
    repo = get_repo(request)
    found = mr.get(repo, number)
    plain = mr.preview(repo, found)
    resolutions, rows = parse_resolutions(form, plain.conflicts)
    problem = _unresolved(rows)
    results = None
    if problem is None:
        try:
            merged, _ = mr.merge(repo, principal, number, mr.checks_of(request.app.state),
                                 resolutions=resolutions or None)
        except (mr.MergeBlocked, MergeConflict, InvalidValue) as exc:
            problem = str(exc)
            if isinstance(exc, mr.MergeBlocked):
                results = mr.run_checks(repo, found, mr.checks_of(request.app.state), resolutions or None)
        else:
            return _redirect(f"/ui/mr/{merged.number}")
    return _mr_render(request, principal, repo, found, DiffFilter(), 0, PER_PAGE, rows=rows,
                      resolutions=resolutions or None, problem=problem, results=results,
                      status=422 if problem else 200)


def install(app: FastAPI, checks: mr.Checks | None = None) -> None:
    """Add the review pages to ``app`` (before :func:`.ui.install`'s routes, so this
    module's branches page is the one served), with the merge request checks to run."""
    app.state.merge_checks = checks or mr.Checks()
    mr.ensure_tables(app.state.repo.database)
    app.include_router(router)
