"""HTTP API of merge requests (:mod:`.merge_requests`): open, list, show, comment, approve,
check, merge, close; and the per-branch approval rules (admins)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from .. import wire
from . import auth
from . import merge_requests as mr
from .app import Caller, get_repo
from .routes_history import resolutions as parse_resolutions
from .schemas import ErrorOut, ResolutionIn

router = APIRouter(prefix="/api", tags=["merge requests"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MergeRequestIn(_In):
    source: str = Field(max_length=1000)
    target: str = Field(max_length=1000)
    title: str = Field(max_length=mr.MAX_TITLE)
    description: str = Field("", max_length=mr.MAX_TEXT)


class ReviewIn(_In):
    body: str = Field("", max_length=mr.MAX_TEXT)


class MergeRequestMergeIn(_In):
    strategy: Literal["ours", "theirs"] | None = None
    resolutions: list[ResolutionIn] | None = Field(None, max_length=10_000)
    message: str | None = Field(None, max_length=mr.MAX_TEXT)


class MergeRuleIn(_In):
    approvals: int = Field(ge=0, le=100)


class ReviewOut(BaseModel):
    kind: str
    author: str
    body: str
    created: str


class MergeRequestOut(BaseModel):
    number: int
    title: str
    description: str
    source: str
    target: str
    author: str
    state: str
    created: str
    updated: str
    merge_commit: str | None
    approvals: list[str]
    reviews: list[ReviewOut]


class MergeRequestDetailOut(MergeRequestOut):
    required_approvals: int
    status: str | None = Field(None, description="what merging would do now (open requests)")
    conflicts: list[dict[str, Any]] = []


class CheckOut(BaseModel):
    name: str
    ok: bool
    message: str


class MergeRequestMergedOut(BaseModel):
    merge_request: MergeRequestOut
    result: dict[str, Any]


_ERRORS: dict[int | str, dict[str, Any]] = {403: {"model": ErrorOut}, 404: {"model": ErrorOut},
                                            409: {"model": ErrorOut}}


@router.get("/merge-requests", response_model=list[MergeRequestOut],
            operation_id="list_merge_requests")
def list_merge_requests(request: Request, principal: Caller,
                        state: Literal["open", "merged", "closed"] | None = None
                        ) -> list[dict[str, object]]:
    """Merge requests, newest first (``state``: open, merged or closed; default all)."""
    return [r.to_dict() for r in mr.list_requests(get_repo(request), state)]


@router.post("/merge-requests", response_model=MergeRequestOut, status_code=201,
             operation_id="create_merge_request", responses=_ERRORS)
def create_merge_request(body: MergeRequestIn, request: Request, principal: Caller
                         ) -> dict[str, object]:
    """Open a merge request from branch ``source`` into branch ``target`` (writers)."""
    return mr.create(get_repo(request), principal, source=body.source, target=body.target,
                     title=body.title, description=body.description).to_dict()


@router.get("/merge-requests/{number}", response_model=MergeRequestDetailOut,
            operation_id="merge_request", responses=_ERRORS)
def merge_request(number: int, request: Request, principal: Caller) -> dict[str, object]:
    """One merge request with its discussion, the approvals its target needs, and (while
    open) what merging would do now: ``status`` and ``conflicts``."""
    repo = get_repo(request)
    found = mr.get(repo, number)
    out: dict[str, object] = {**found.to_dict(),
                              "required_approvals": mr.required_approvals(repo, found.target),
                              "status": None, "conflicts": []}
    if found.state == "open":
        preview = mr.preview(repo, found)
        out.update(status=preview.status, conflicts=mr.conflict_dicts(preview.conflicts))
    return out


@router.post("/merge-requests/{number}/comments", response_model=MergeRequestOut,
             operation_id="comment_merge_request", responses=_ERRORS)
def comment_merge_request(number: int, body: ReviewIn, request: Request,
                          principal: Caller) -> dict[str, object]:
    return mr.comment(get_repo(request), principal, number, body.body).to_dict()


@router.post("/merge-requests/{number}/approve", response_model=MergeRequestOut,
             operation_id="approve_merge_request", responses=_ERRORS)
def approve_merge_request(number: int, body: ReviewIn, request: Request,
                          principal: Caller) -> dict[str, object]:
    """Approve (writers and admins other than its author), with an optional comment."""
    return mr.approve(get_repo(request), principal, number, body.body).to_dict()


@router.post("/merge-requests/{number}/checks", response_model=list[CheckOut],
             operation_id="check_merge_request", responses=_ERRORS)
def check_merge_request(number: int, body: MergeRequestMergeIn, request: Request,
                        principal: Caller) -> list[dict[str, object]]:
    """Run the checks on what merging (with these resolutions) would land; nothing is
    written."""
    repo = get_repo(request)
    found = mr.get(repo, number)
    results = mr.run_checks(repo, found, mr.checks_of(request.app.state),
                            parse_resolutions(body.resolutions), body.strategy)
    return [c.to_dict() for c in results]


@router.post("/merge-requests/{number}/merge", response_model=MergeRequestMergedOut,
             operation_id="merge_merge_request", responses=_ERRORS)
def merge_merge_request(number: int, body: MergeRequestMergeIn, request: Request,
                        principal: Caller) -> dict[str, object]:
    """Merge it: the caller may merge into the target (protection), the target's approvals
    are there, every check passes (else 403 ``merge_blocked``), no conflict is left (else 409
    ``merge_conflict``)."""
    merged, result = mr.merge(get_repo(request), principal, number, mr.checks_of(request.app.state),
                              resolutions=parse_resolutions(body.resolutions),
                              strategy=body.strategy, message=body.message)
    return {"merge_request": merged.to_dict(), "result": wire.encode(result)}


@router.post("/merge-requests/{number}/close", response_model=MergeRequestOut,
             operation_id="close_merge_request", responses=_ERRORS)
def close_merge_request(number: int, request: Request, principal: Caller
                        ) -> dict[str, object]:
    """Close without merging (its author or an admin)."""
    return mr.close(get_repo(request), principal, number).to_dict()


@router.put("/merge-rules/{pattern:path}", status_code=204, operation_id="set_merge_rule",
            responses=_ERRORS)
def set_merge_rule(pattern: str, body: MergeRuleIn, request: Request,
                   principal: Caller) -> None:
    """Merges of merge requests into branches matching ``pattern`` need ``approvals``
    approvals (admins; 0 removes the rule)."""
    auth.require_role(principal, "admin", "setting merge rules")
    mr.set_rule(get_repo(request), pattern, body.approvals)
