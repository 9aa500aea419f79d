"""Webhook administration routes (admins): register, list, remove, and see deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from . import auth, webhooks
from .app import Caller, get_repo

router = APIRouter(prefix="/api")


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="an absolute http:// or https:// URL")
    events: list[str] = Field(description="commit, merge, merge_request.opened, "
                              "merge_request.approved, merge_request.merged, tag")
    branch_pattern: str = Field("*", description="branches whose events are sent (globs, "
                                "comma-separated)")
    secret: str | None = Field(None, description="the HMAC secret (default: generated)")


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    branch_pattern: str
    created: datetime


class NewWebhookOut(WebhookOut):
    secret: str = Field(description="signs every delivery; shown only here")


class DeliveryOut(BaseModel):
    id: str
    hook_id: str
    event: str
    status: str
    attempts: int
    http_status: int | None
    error: str | None
    created: datetime


@router.get("/webhooks", response_model=list[WebhookOut], operation_id="list_webhooks")
def list_webhooks(request: Request, principal: Caller) -> list[dict[str, Any]]:
    """Every registered webhook (never its secret)."""
    auth.require_role(principal, "admin", "listing webhooks")
    return [h.to_dict() for h in webhooks.list_hooks(get_repo(request))]


@router.post("/webhooks", response_model=NewWebhookOut, status_code=201,
             operation_id="add_webhook")
def add_webhook(body: WebhookIn, request: Request, principal: Caller) -> dict[str, Any]:
    """Register a URL for events; the response is the only place its secret appears."""
    auth.require_role(principal, "admin", "adding webhooks")
    hook, secret = webhooks.add_hook(get_repo(request), body.url, body.events,
                                     branch_pattern=body.branch_pattern, secret=body.secret)
    return hook.to_dict() | {"secret": secret}


@router.delete("/webhooks/{hook_id}", status_code=204, operation_id="remove_webhook")
def remove_webhook(hook_id: str, request: Request, principal: Caller) -> None:
    """Unregister a webhook: nothing more is sent to it."""
    auth.require_role(principal, "admin", "removing webhooks")
    webhooks.remove_hook(get_repo(request), hook_id)


@router.get("/webhooks/{hook_id}/deliveries", response_model=list[DeliveryOut],
            operation_id="webhook_deliveries")
def webhook_deliveries(hook_id: str, request: Request, principal: Caller
                       ) -> list[dict[str, Any]]:
    """The latest deliveries of a webhook, newest first, with status and attempts."""
    auth.require_role(principal, "admin", "listing webhook deliveries")
    return [d.to_dict() for d in webhooks.deliveries(get_repo(request), hook_id)]
