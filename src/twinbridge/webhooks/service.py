"""The rules of webhooks (upstream's Webhooks API v2, for the events twinbridge sends).

- A webhook belongs to the caller who created it: only they get, list, update or delete it (upstream lists
  "the webhooks created by the calling user"); anyone else gets 404.
- iTwin scope: `scopeId` names an iTwin on which the caller is Contributor or Owner (upstream asks for its
  webhooks_maintainer permission); an iTwin that does not exist is a 422 naming scopeId, a member without
  such a role gets 403. Account scope: events of every iTwin the creator is a member of (twinbridge has no
  accounts); its scopeId is the creator.
- Created inactive, as upstream's: no event is recorded for it until an update sets `active` true.
- The secret, if given, has at least 32 characters; otherwise 64 hexadecimal characters are generated.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from twinbridge.auth.permissions import Action, authorize
from twinbridge.db.database import Transaction
from twinbridge.db.models import Webhook, WebhookAttempt, WebhookDelivery
from twinbridge.itwins.repository import ITwinRepository
from twinbridge.platform.errors import InvalidRequest, NotFound, invalid_value, missing_property
from twinbridge.platform.ids import new_guid
from twinbridge.platform.paging import Page
from twinbridge.platform.time import utc_now
from twinbridge.webhooks.repository import ITWIN_SCOPE, WebhookRepository
from twinbridge.webhooks.schemas import WebhookCreate

# The Webhook fields a PATCH may set.
_UPDATABLE = frozenset({"active", "callback_url", "secret", "event_types"})


class WebhookNotFound(NotFound):
    default_code = "WebhookNotFound"
    default_message = "Requested webhook is not available."


@dataclass(frozen=True)
class DeliveryRecord:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class WebhookService:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction
        self.webhooks = WebhookRepository(transaction)

    async def create(self, body: WebhookCreate, caller: str) -> Webhook:
        if body.scope == ITWIN_SCOPE:
            if body.scope_id is None:
                raise InvalidRequest(details=[missing_property("scopeId")])
            found = await ITwinRepository(self.transaction).get_with_role(body.scope_id, caller)
            if found is None:
                raise InvalidRequest(details=[invalid_value("scopeId")])
            authorize(found[1], Action.MODIFY)
            scope_id = body.scope_id
        else:
            scope_id = caller
        webhook = Webhook(
            id=new_guid(),
            scope=body.scope,
            scope_id=scope_id,
            callback_url=body.callback_url,
            secret=body.secret or secrets.token_hex(32),
            event_types=_distinct(list(body.event_types)),
            active=False,
            created_by=caller,
        )
        await self.webhooks.add(webhook)
        return webhook

    async def get(self, webhook_id: str, caller: str) -> Webhook:
        webhook = await self.webhooks.get(webhook_id)
        if webhook is None or webhook.created_by != caller:
            raise WebhookNotFound()
        return webhook

    async def list_own(self, caller: str, page: Page) -> list[Webhook]:
        """The webhooks the caller created, oldest first."""
        return await self.webhooks.list_created_by(caller, page.skip, page.fetch_limit)

    async def update(self, webhook_id: str, changes: dict[str, Any], caller: str) -> Webhook:
        webhook = await self.get(webhook_id, caller)
        for name, value in changes.items():
            if name in _UPDATABLE:
                setattr(webhook, name, _distinct(value) if name == "event_types" else value)
        webhook.modified_at = utc_now()
        await self.webhooks.update(webhook)
        return webhook

    async def delete(self, webhook_id: str, caller: str) -> None:
        """Deletes the webhook with its deliveries: pending ones are not sent any more."""
        await self.webhooks.delete(await self.get(webhook_id, caller))

    async def deliveries(self, webhook_id: str, caller: str, page: Page) -> list[DeliveryRecord]:
        """The webhook's deliveries, oldest first, each with its attempts (twinbridge's own operation)."""
        await self.get(webhook_id, caller)
        deliveries = await self.webhooks.list_deliveries(webhook_id, page.skip, page.fetch_limit)
        attempts = await self.webhooks.attempts_of([delivery.id for delivery in deliveries])
        by_delivery: dict[str, list[WebhookAttempt]] = {}
        for attempt in attempts:
            by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
        return [DeliveryRecord(delivery, by_delivery.get(delivery.id, [])) for delivery in deliveries]
