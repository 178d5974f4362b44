"""All SQL of webhooks, their deliveries and the attempts of each delivery."""

from __future__ import annotations

from datetime import datetime

from twinbridge.db.database import Transaction
from twinbridge.db.models import Webhook, WebhookAttempt, WebhookDelivery
from twinbridge.db.tables import Table

WEBHOOKS = Table("webhooks", Webhook)
DELIVERIES = Table("webhook_deliveries", WebhookDelivery)
ATTEMPTS = Table("webhook_delivery_attempts", WebhookAttempt, key=("delivery_id", "number"))

ITWIN_SCOPE = "iTwin"
ACCOUNT_SCOPE = "Account"
# A delivery's states: waiting for its next attempt, answered 2xx, or out of attempts.
PENDING = "Pending"
DELIVERED = "Delivered"
FAILED = "Failed"

# The webhooks an event of an iTwin goes to: those of the iTwin, and the Account webhooks of its members.
_ACTIVE_FOR_ITWIN = (
    f"SELECT {WEBHOOKS.select('w')} FROM webhooks w WHERE w.active = :active AND ("
    f"(w.scope = '{ITWIN_SCOPE}' AND w.scope_id = :itwin_id) OR (w.scope = '{ACCOUNT_SCOPE}' AND EXISTS ("
    "SELECT 1 FROM itwin_members m WHERE m.itwin_id = :itwin_id AND m.subject = w.created_by)))"
    " ORDER BY w.created_at, w.id"
)
_DUE = "state = :pending AND next_attempt_at <= :now AND (claimed_until IS NULL OR claimed_until < :now)"


def _webhook(webhook: Webhook) -> Webhook:
    webhook.active = bool(webhook.active)  # SQLite answers 0 or 1
    return webhook


class WebhookRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add(self, webhook: Webhook) -> None:
        await self.transaction.execute(WEBHOOKS.insert_sql, WEBHOOKS.values(webhook))

    async def update(self, webhook: Webhook) -> None:
        await self.transaction.execute(WEBHOOKS.update_sql, WEBHOOKS.values(webhook))

    async def delete(self, webhook: Webhook) -> None:
        """Deletes the webhook; its deliveries and their attempts go with it (ON DELETE CASCADE)."""
        await self.transaction.execute(WEBHOOKS.delete_sql, {"id": webhook.id})

    async def get(self, webhook_id: str) -> Webhook | None:
        row = await self.transaction.one(WEBHOOKS.get_sql, {"id": webhook_id})
        return _webhook(WEBHOOKS.row(row)) if row else None

    async def list_created_by(self, subject: str, offset: int, limit: int) -> list[Webhook]:
        rows = await self.transaction.all(
            f"SELECT {WEBHOOKS.select()} FROM webhooks WHERE created_by = :subject"
            " ORDER BY created_at, id LIMIT :limit OFFSET :offset",
            {"subject": subject, "limit": limit, "offset": offset},
        )
        return [_webhook(webhook) for webhook in WEBHOOKS.rows(rows)]

    async def itwin_of_imodel(self, imodel_id: str) -> str | None:
        itwin_id: str | None = await self.transaction.value(
            "SELECT itwin_id FROM imodels WHERE id = :id", {"id": imodel_id}
        )
        return itwin_id

    async def active_for_itwin(self, itwin_id: str) -> list[Webhook]:
        rows = await self.transaction.all(_ACTIVE_FOR_ITWIN, {"active": True, "itwin_id": itwin_id})
        return [_webhook(webhook) for webhook in WEBHOOKS.rows(rows)]

    async def add_delivery(self, delivery: WebhookDelivery) -> None:
        await self.transaction.execute(DELIVERIES.insert_sql, DELIVERIES.values(delivery))

    async def update_delivery(self, delivery: WebhookDelivery) -> None:
        await self.transaction.execute(DELIVERIES.update_sql, DELIVERIES.values(delivery))

    async def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        row = await self.transaction.one(DELIVERIES.get_sql, {"id": delivery_id})
        return DELIVERIES.row(row) if row else None

    async def due_delivery_ids(self, now: datetime, limit: int) -> list[str]:
        """Pending deliveries whose next attempt is due and which no live sender has claimed, oldest first."""
        rows = await self.transaction.all(
            f"SELECT id FROM webhook_deliveries WHERE {_DUE} ORDER BY next_attempt_at, id LIMIT :limit",
            {"pending": PENDING, "now": now, "limit": limit},
        )
        return [str(row[0]) for row in rows]

    async def claim_delivery(self, delivery_id: str, now: datetime, until: datetime) -> bool:
        """Takes a due delivery for one sender until `until`; False when another sender has it."""
        changed = await self.transaction.execute(
            f"UPDATE webhook_deliveries SET claimed_until = :until WHERE id = :id AND {_DUE}",
            {"until": until, "id": delivery_id, "pending": PENDING, "now": now},
        )
        return changed > 0

    async def add_attempt(self, attempt: WebhookAttempt) -> None:
        await self.transaction.execute(ATTEMPTS.insert_sql, ATTEMPTS.values(attempt))

    async def list_deliveries(self, webhook_id: str, offset: int, limit: int) -> list[WebhookDelivery]:
        rows = await self.transaction.all(
            f"SELECT {DELIVERIES.select()} FROM webhook_deliveries WHERE webhook_id = :webhook_id"
            " ORDER BY created_at, id LIMIT :limit OFFSET :offset",
            {"webhook_id": webhook_id, "limit": limit, "offset": offset},
        )
        return DELIVERIES.rows(rows)

    async def attempts_of(self, delivery_ids: list[str]) -> list[WebhookAttempt]:
        if not delivery_ids:
            return []
        names = {f"d{index}": delivery_id for index, delivery_id in enumerate(delivery_ids)}
        rows = await self.transaction.all(
            f"SELECT {ATTEMPTS.select()} FROM webhook_delivery_attempts"
            f" WHERE delivery_id IN ({', '.join(':' + name for name in names)}) ORDER BY delivery_id, number",
            names,
        )
        return ATTEMPTS.rows(rows)
