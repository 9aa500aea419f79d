"""Administration routes: tokens, branch protection, fsck (admins), and whoami (anyone)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from . import auth, schemas
from .app import Caller, forget_tokens, get_repo

router = APIRouter(prefix="/api")


@router.get("/whoami", response_model=schemas.PrincipalOut, operation_id="whoami")
def whoami(principal: Caller) -> dict[str, Any]:
    """The user, role and branch pattern of the token used."""
    return principal.to_dict()


@router.get("/tokens", response_model=list[schemas.TokenOut], operation_id="list_tokens")
def list_tokens(request: Request, principal: Caller) -> list[dict[str, Any]]:
    """Every token (never its secret), active and revoked."""
    auth.require_role(principal, "admin", "listing tokens")
    return [t.to_dict() for t in auth.list_tokens(get_repo(request))]


@router.post("/tokens", response_model=schemas.NewTokenOut, status_code=201,
             operation_id="create_token")
def create_token(body: schemas.TokenIn, request: Request, principal: Caller) -> dict[str, Any]:
    """Create a token; the response is the only place its secret ever appears."""
    auth.require_role(principal, "admin", "creating tokens")
    repo = get_repo(request)
    token = auth.create_token(repo, body.user, body.role, body.branch_pattern,
                              expires=body.expires)
    token_id = token[len(auth.TOKEN_PREFIX):].split("_", 1)[0]
    info = next(t for t in auth.list_tokens(repo) if t.id == token_id)
    return info.to_dict() | {"token": token}


@router.delete("/tokens/{token_id}", status_code=204, operation_id="revoke_token")
def revoke_token(token_id: str, request: Request, principal: Caller) -> None:
    """Revoke a token at once."""
    auth.require_role(principal, "admin", "revoking tokens")
    auth.revoke_token(get_repo(request), token_id)
    forget_tokens(request)


@router.get("/protection", response_model=list[schemas.ProtectionOut],
            operation_id="protections")
def protections(request: Request, principal: Caller) -> list[dict[str, Any]]:
    """Protection rules: matching branches change only through merges."""
    return [p.to_dict() for p in auth.protections(get_repo(request).database)]


@router.put("/protection/{pattern:path}", response_model=schemas.ProtectionOut,
            operation_id="protect_branch")
def protect_branch(pattern: str, body: schemas.ProtectionIn, request: Request,
                   principal: Caller) -> dict[str, Any]:
    """Protect branches matching ``pattern`` (admins); ``mergers`` may merge into them."""
    auth.require_role(principal, "admin", "protecting branches")
    return auth.protect_branch(get_repo(request), pattern, mergers=body.mergers).to_dict()


@router.delete("/protection/{pattern:path}", status_code=204, operation_id="unprotect_branch")
def unprotect_branch(pattern: str, request: Request, principal: Caller) -> None:
    auth.require_role(principal, "admin", "unprotecting branches")
    auth.unprotect_branch(get_repo(request), pattern)


@router.post("/fsck", operation_id="fsck")
def fsck(request: Request, principal: Caller, last: int | None = None) -> dict[str, Any]:
    """Verify hashes, commit ids, state hashes and refs (admins)."""
    auth.require_role(principal, "admin", "fsck")
    return get_repo(request).fsck(last=last).to_dict()
