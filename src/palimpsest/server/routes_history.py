"""Routes for history and refs: log, changes, history, blame, diff (JSON and JSON Patch),
rollback, revert, branches, tags, reflog, and merge when the repository supports it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from .. import wire
from ..errors import Forbidden, MergeConflict
from ..types import Branch, MergeResult
from ..versioning.threeway import Resolved
from . import auth, schemas, webhooks
from .app import Caller, RefParam, get_repo

router = APIRouter(prefix="/api")
RelationsParam = Annotated[Literal["out", "in", "both", "none"], Query(
    description="which relations of an entity count as its facts: out (it is their source), "
                "in (their target), both, none")]


@router.get("/log", response_model=list[schemas.CommitOut], operation_id="log")
def log(request: Request, principal: Caller, ref: RefParam = None,
        limit: int = Query(50, ge=1, le=10_000), author: str | None = None,
        since: str | None = None, until: str | None = None,
        touching: str | None = Query(None, description="an entity or relation id"),
        first_parent: bool = False, relations: RelationsParam = "out") -> list[dict[str, Any]]:
    """Commits reachable from ``ref``, newest first, optionally filtered; ``touching`` an
    entity also matches changes to its ``relations``."""
    commits = get_repo(request).log(ref, limit, author=author, since=since, until=until,
                                    touching=touching, first_parent=first_parent,
                                    relations=relations)
    return [wire.encode(c) for c in commits]


@router.get("/commits/{ref:path}", response_model=schemas.CommitOut, operation_id="commit")
def commit(ref: str, request: Request, principal: Caller) -> dict[str, Any]:
    """The commit a ref names (branch, tag, id or prefix, ``REF~N``, time)."""
    return wire.encode(get_repo(request).resolve(ref))


@router.get("/changes/{ref:path}", response_model=list[schemas.ChangeOut],
            operation_id="changes")
def changes(ref: str, request: Request, principal: Caller) -> list[dict[str, Any]]:
    """Every element one commit changed, with old and new values."""
    return [wire.encode(c) for c in get_repo(request).changes(ref)]


@router.get("/history/{id:path}", response_model=list[schemas.VersionOut],
            operation_id="history")
def history(id: str, request: Request, principal: Caller, ref: RefParam = None,
            element: Literal["entity", "relation", "document", "kv"] | None = None,
            collection: str | None = Query(None, description="for a document: its collection "
                                                             "(``id`` is then the key)"),
            limit: int | None = Query(None, ge=1),
            relations: RelationsParam = "out") -> list[dict[str, Any]]:
    """Every version of one element along ``ref``'s history, newest first; an entity's
    includes the versions of its ``relations``, each marked by ``element`` and ``id``."""
    target: str | tuple[str, str] = (collection, id) if collection else id
    versions = get_repo(request).history(target, ref, element=element, limit=limit,
                                         relations=relations)
    return [wire.encode(v) for v in versions]


@router.get("/blame/{id:path}", response_model=dict[str, schemas.BlameOut],
            operation_id="blame")
def blame(id: str, request: Request, principal: Caller, ref: RefParam = None,
          element: Literal["entity", "relation", "document"] | None = None,
          collection: str | None = None, relations: RelationsParam = "out") -> dict[str, Any]:
    """For each property of the element's current value, the commit that set it; for an
    entity also each current relation fact (key ``"@relation <id>"``)."""
    target: str | tuple[str, str] = (collection, id) if collection else id
    found = get_repo(request).blame(target, ref, element=element, relations=relations)
    return {name: wire.encode(b) for name, b in found.items()}


@router.get("/diff", operation_id="diff", responses={200: {"model": schemas.DiffOut}})
def diff(request: Request, principal: Caller,
         a: str = Query(description="the old ref, or 'A..B' / 'A...B' (from the merge base)"),
         b: str | None = None,
         format: Literal["json", "json-patch"] = "json",
         limit: int | None = Query(None, ge=1, le=100_000, description=(
             "one page of at most this many changes; 'next' in the answer is the 'after' of "
             "the following page (null on the last page)")),
         after: str | None = Query(None, description="the 'next' of the previous page")) -> Any:
    """What changed from ``a`` to ``b`` (default: the current head); ``format=json-patch``
    gives RFC 6902 operations turning ``a``'s state into ``b``'s (of the page, with
    ``limit``). Page with commit ids (``from`` / ``to`` of the first page) so that every page
    diffs the same two states."""
    result = get_repo(request).diff(a, b, limit=limit, after=after)
    if format == "json-patch":
        return result.to_json_patch()
    return wire.encode(result)


@router.get("/diff/stats", operation_id="diff_stats", response_model=dict[str, int])
def diff_stats(request: Request, principal: Caller,
               a: str = Query(description="the old ref, or 'A..B' / 'A...B'"),
               b: str | None = None) -> Any:
    """How many elements were created, modified and deleted from ``a`` to ``b``, counted
    without reading any value (quick for any two commits)."""
    return wire.encode(get_repo(request).diff_stats(a, b))


@router.get("/merge-base", response_model=schemas.CommitOut | None, operation_id="merge_base")
def merge_base(request: Request, principal: Caller, a: str, b: str) -> dict[str, Any] | None:
    found = get_repo(request).merge_base(a, b)
    return wire.encode(found) if found else None


# -- restore ---------------------------------------------------------------------------------
@router.post("/rollback", response_model=schemas.CommitOut, operation_id="rollback")
def rollback(body: schemas.RollbackIn, request: Request, principal: Caller) -> dict[str, Any]:
    """A new commit on ``branch`` whose state equals ``ref``'s (history is kept)."""
    repo = get_repo(request)
    branch = body.branch or repo.current_branch
    auth.require_rollback(repo.database, principal, branch)
    return wire.encode(repo.rollback(body.ref, message=body.message, author=principal.user,
                                     branch=branch))


@router.post("/revert", response_model=schemas.CommitOut, operation_id="revert")
def revert(body: schemas.RevertIn, request: Request, principal: Caller) -> dict[str, Any]:
    """A new commit undoing one commit; 409 with the conflicts when later commits changed the
    same properties."""
    repo = get_repo(request)
    branch = body.branch or repo.current_branch
    auth.require_commit(repo.database, principal, branch, what="reverting")
    return wire.encode(repo.revert(body.commit, message=body.message, author=principal.user,
                                   branch=branch))


# -- branches and tags -----------------------------------------------------------------------
def branches_json(request: Request, base: str | None) -> list[dict[str, Any]]:
    repo = get_repo(request)
    found: list[Branch] = repo.branches(base)
    return [branch_json(repo, b) for b in found]


def branch_json(repo: Any, branch: Branch) -> dict[str, Any]:
    protected = auth.protection_for(repo.database, branch.name) is not None
    return {**wire.encode(branch), "protected": protected}


@router.get("/branches", response_model=list[schemas.BranchOut], operation_id="branches")
def branches(request: Request, principal: Caller,
             base: str | None = Query("main", description="count ahead/behind against it")
             ) -> list[dict[str, Any]]:
    """All branches with their heads, protection, and commits ahead / behind ``base``."""
    return branches_json(request, base)


@router.post("/branches", response_model=schemas.BranchOut, status_code=201,
             operation_id="create_branch")
def create_branch(body: schemas.CreateBranchIn, request: Request,
                  principal: Caller) -> dict[str, Any]:
    """A new branch at ``from`` (default: the current head). Needs write access to the new
    branch's name (or admin); under a protected pattern, admin."""
    repo = get_repo(request)
    auth.require_create_branch(repo.database, principal, body.name)
    branch = repo.create_branch(body.name, body.from_, author=principal.user)
    return branch_json(repo, branch)


@router.delete("/branches/{name:path}", status_code=204, operation_id="delete_branch")
def delete_branch(name: str, request: Request, principal: Caller) -> None:
    """Delete a branch (admins; writers for unprotected branches they may write)."""
    repo = get_repo(request)
    protected = auth.protection_for(repo.database, name) is not None
    if not principal.is_admin and (protected or not principal.can_write(name)):
        raise Forbidden(f"{principal.user} may not delete branch {name!r}")
    repo.delete_branch(name, author=principal.user)


@router.post("/checkout", operation_id="checkout")
def checkout(body: schemas.CheckoutIn, request: Request, principal: Caller) -> dict[str, str]:
    """Make ``name`` the repository's current branch (the default for every caller): admins."""
    auth.require_role(principal, "admin", "changing the current branch")
    get_repo(request).checkout(body.name)
    return {"current_branch": body.name}


@router.get("/tags", response_model=list[schemas.TagOut], operation_id="tags")
def tags(request: Request, principal: Caller) -> list[dict[str, Any]]:
    return [wire.encode(t) for t in get_repo(request).tags()]


@router.post("/tags", response_model=schemas.TagOut, status_code=201, operation_id="tag")
def tag(body: schemas.TagIn, request: Request, principal: Caller) -> dict[str, Any]:
    """Name a commit (writers; moving an existing tag with ``force``, or a name matching a
    protected branch pattern, needs admin)."""
    auth.require_tag(get_repo(request).database, principal, body.name, force=body.force)
    repo = get_repo(request)
    encoded = wire.encode(repo.tag(body.name, body.ref, message=body.message,
                                   author=principal.user, force=body.force))
    webhooks.emit(repo, "tag", encoded)
    return encoded


@router.delete("/tags/{name:path}", status_code=204, operation_id="delete_tag")
def delete_tag(name: str, request: Request, principal: Caller) -> None:
    auth.require_role(principal, "admin", "deleting a tag")
    get_repo(request).delete_tag(name, author=principal.user)


@router.get("/reflog", operation_id="reflog")
def reflog(request: Request, principal: Caller, name: str | None = None,
           limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
    """Movements of a branch or tag, newest first."""
    return [wire.encode(e) for e in get_repo(request).reflog(name, limit)]


# -- merge and cherry-pick ------------------------------------------------------------------
def resolutions(items: list[schemas.ResolutionIn] | None
                ) -> dict[tuple[str, str, str | None], Any] | None:
    """``[{element, id, property, value}]`` → ``{(element, id, property): value}``; a value of
    ``"ours"``/``"theirs"`` picks a side, ``{"value": X}`` with ``literal`` sets X."""
    if not items:
        return None
    return {(r.element, r.id, r.property): Resolved(r.value) if r.literal else r.value
            for r in items}


def _conflict_error(result: MergeResult, what: str) -> MergeConflict:
    return MergeConflict(f"{what} conflicts on {len(result.conflicts)} value(s); nothing was "
                         "committed (resolve with strategy or resolutions)", result.conflicts)


@router.post("/merge", response_model=schemas.MergeOut, operation_id="merge",
             responses={409: {"model": schemas.ErrorOut}})
def merge(body: schemas.MergeIn, request: Request, principal: Caller) -> dict[str, Any]:
    """Merge ``source`` into branch ``into`` (default: the current branch). Conflicts: 409
    with ``error.conflicts``; nothing is committed. ``dry_run``: what the merge would do
    (the changes in ``changes``), committing nothing."""
    repo = get_repo(request)
    into = body.into or repo.current_branch
    auth.require_merge(repo.database, principal, into)
    result = repo.merge(body.source, into=into, message=body.message, author=principal.user,
                        strategy=body.strategy, resolutions=resolutions(body.resolutions),
                        dry_run=body.dry_run, metadata=body.metadata)
    if result.status == "conflict" and not body.dry_run:
        raise _conflict_error(result, f"merging {body.source!r} into {into!r}")
    return wire.encode(result)


@router.get("/merge-preview", response_model=schemas.MergeOut, operation_id="merge_preview")
def merge_preview(request: Request, principal: Caller, source: str,
                  into: str | None = None) -> dict[str, Any]:
    """What merging ``source`` into ``into`` would do (status, conflicts, the changes ``into``
    would see), committing nothing."""
    repo = get_repo(request)
    return wire.encode(repo.merge_preview(source, into=into or repo.current_branch))


@router.post("/cherry-pick", response_model=schemas.MergeOut, operation_id="cherry_pick",
             responses={409: {"model": schemas.ErrorOut}})
def cherry_pick(body: schemas.CherryPickIn, request: Request,
                principal: Caller) -> dict[str, Any]:
    """Apply what one commit changed to branch ``onto`` as a new commit (a direct commit:
    refused on protected branches)."""
    repo = get_repo(request)
    onto = body.onto or repo.current_branch
    auth.require_commit(repo.database, principal, onto, what="cherry-picking")
    result = repo.cherry_pick(body.commit, onto=onto, message=body.message,
                              author=principal.user, strategy=body.strategy,
                              resolutions=resolutions(body.resolutions))
    if result.status == "conflict":
        raise _conflict_error(result, f"cherry-picking {body.commit!r} onto {onto!r}")
    return wire.encode(result)
