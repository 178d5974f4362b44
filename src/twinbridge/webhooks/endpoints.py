"""The Webhooks API: upstream's v2 subscription operations at /webhooks, and twinbridge's own
`GET /webhooks/{id}/deliveries` (what was sent, and every attempt's answer)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from twinbridge.auth.scopes import Access, ScopeRequirement
from twinbridge.dependencies import Call, authenticated
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.platform.pagination import PAGE_PARAMETERS, page_links, page_of
from twinbridge.platform.paging import split_page
from twinbridge.platform.routing import documented_parameters
from twinbridge.webhooks.schemas import WebhookCreate, WebhookUpdate, delivery_body, webhook_body
from twinbridge.webhooks.service import WebhookService

router = APIRouter(prefix="/webhooks", tags=["Webhooks"])

# Upstream's scopes: webhooks:read and webhooks:modify (itwin-platform grants both).
Reader = Annotated[Call, Depends(authenticated(ScopeRequirement("webhooks", Access.READ)))]
Writer = Annotated[Call, Depends(authenticated(ScopeRequirement("webhooks", Access.MODIFY)))]
INVALID = "InvalidWebhookRequest"


@router.post("", status_code=201)
@invalid_request_code(INVALID)
async def create_webhook(body: WebhookCreate, call: Writer) -> dict[str, Any]:
    """Creates an inactive webhook; the answer is the only one that shows its secret."""
    async with call.transaction() as transaction:
        webhook = await WebhookService(transaction).create(body, call.caller.subject)
    return {"webhook": webhook_body(webhook, with_secret=True)}


@router.get("")
@documented_parameters(*PAGE_PARAMETERS)
@invalid_request_code(INVALID)
async def list_webhooks(request: Request, call: Reader) -> dict[str, Any]:
    """The webhooks the caller created, oldest first."""
    page = page_of(request)
    async with call.transaction() as transaction:
        webhooks = await WebhookService(transaction).list_own(call.caller.subject, page)
    rows, has_next = split_page(webhooks, page)
    return {
        "webhooks": [webhook_body(webhook) for webhook in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }


@router.get("/{webhook_id}")
@invalid_request_code(INVALID)
async def get_webhook(webhook_id: str, call: Reader) -> dict[str, Any]:
    async with call.transaction() as transaction:
        webhook = await WebhookService(transaction).get(webhook_id, call.caller.subject)
    return {"webhook": webhook_body(webhook)}


@router.patch("/{webhook_id}")
@invalid_request_code(INVALID)
async def update_webhook(webhook_id: str, body: WebhookUpdate, call: Writer) -> dict[str, Any]:
    """Changes the properties given; `"active": true` starts the webhook's events."""
    async with call.transaction() as transaction:
        webhook = await WebhookService(transaction).update(webhook_id, body.changes(), call.caller.subject)
    return {"webhook": webhook_body(webhook)}


@router.delete("/{webhook_id}", status_code=204)
@invalid_request_code(INVALID)
async def delete_webhook(webhook_id: str, call: Writer) -> Response:
    async with call.transaction() as transaction:
        await WebhookService(transaction).delete(webhook_id, call.caller.subject)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries")
@documented_parameters(*PAGE_PARAMETERS)
@invalid_request_code(INVALID)
async def list_deliveries(webhook_id: str, request: Request, call: Reader) -> dict[str, Any]:
    """twinbridge's own (upstream has none): the webhook's deliveries, oldest first, each with the event
    as sent, its state (Pending, Delivered, Failed) and every attempt (start, duration, status, error)."""
    page = page_of(request)
    async with call.transaction() as transaction:
        records = await WebhookService(transaction).deliveries(webhook_id, call.caller.subject, page)
    rows, has_next = split_page(records, page)
    return {
        "deliveries": [delivery_body(record.delivery, record.attempts) for record in rows],
        "_links": page_links(call.base_url, request, page, has_next),
    }
