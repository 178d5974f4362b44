"""Sends the recorded deliveries of webhook events: signed, at least once, retried with backoff.

The loop runs in every API process (`twinbridge serve`, embedded or scale-out; started by the app's
lifespan through twinbridge.features): deliveries are rows, so whichever process runs a run, any API
process sends its events. A sender claims a due delivery for the length of one attempt (several API nodes
never send one at the same time; a sender that dies leaves a claim that expires), POSTs the body through
the guarded outbound client, and records the attempt: its start, duration, status or error.

- 2xx: Delivered. Anything else, or no answer: tried again after TWINBRIDGE_WEBHOOK_RETRY_BASE * 2^(n-1)
  seconds, until TWINBRIDGE_WEBHOOK_MAX_ATTEMPTS attempts have failed (then Failed).
- A callback the outbound guard refuses (a loopback or private address without
  TWINBRIDGE_FETCH_ALLOW_PRIVATE) is Failed at once: trying again would be refused again.
- Signature: `Signature: sha256=<hex HMAC-SHA256 of the body with the webhook's secret>`, as upstream.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from datetime import timedelta

import structlog

from twinbridge.db.models import WebhookAttempt
from twinbridge.platform.outbound import OutboundError, OutboundRefused
from twinbridge.platform.time import utc_now
from twinbridge.runtime import Runtime
from twinbridge.webhooks.repository import DELIVERED, FAILED, WebhookRepository

logger = structlog.get_logger(__name__)

SIGNATURE_HEADER = "Signature"
# Deliveries one pass sends side by side.
BATCH = 16
# A claim lasts the attempt's timeout and this margin.
CLAIM_MARGIN_SECONDS = 30


def signature(secret: str, body: bytes) -> str:
    """The Signature header's value: `sha256=` and the hex HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings

    def retry_delay(self, failed_attempts: int) -> timedelta:
        return timedelta(seconds=self.settings.webhook_retry_base * 2 ** (failed_attempts - 1))

    async def send_due(self) -> int:
        """Makes one attempt of each due delivery (at most BATCH); how many were attempted."""
        async with self.runtime.database.transaction(write=False) as transaction:
            due = await WebhookRepository(transaction).due_delivery_ids(utc_now(), BATCH)
        sent = await asyncio.gather(*(self.attempt(delivery_id) for delivery_id in due))
        return sum(sent)

    async def attempt(self, delivery_id: str) -> bool:
        """One attempt of a due delivery, recorded; False when another sender holds it or it is gone."""
        now = utc_now()
        claim = timedelta(seconds=self.settings.webhook_timeout + CLAIM_MARGIN_SECONDS)
        async with self.runtime.database.transaction() as transaction:
            repository = WebhookRepository(transaction)
            if not await repository.claim_delivery(delivery_id, now, now + claim):
                return False
            delivery = await repository.get_delivery(delivery_id)
            webhook = await repository.get(delivery.webhook_id) if delivery else None
        if delivery is None or webhook is None:
            return False
        body = delivery.body.encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: signature(webhook.secret, body),
            "user-agent": "twinbridge-webhooks",
        }
        started_at = utc_now()
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        refused = False
        try:
            status = await self.runtime.outbound.post(
                webhook.callback_url, body, headers, seconds=self.settings.webhook_timeout
            )
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except OutboundRefused as failure:
            error, refused = str(failure), True
        except OutboundError as failure:
            error = str(failure)
        duration_ms = round((time.monotonic() - started) * 1000)
        async with self.runtime.database.transaction() as transaction:
            repository = WebhookRepository(transaction)
            current = await repository.get_delivery(delivery_id)
            if current is None:  # its webhook was deleted meanwhile
                return True
            current.attempts += 1
            await repository.add_attempt(
                WebhookAttempt(
                    delivery_id=delivery_id,
                    number=current.attempts,
                    started_at=started_at,
                    duration_ms=duration_ms,
                    status=status,
                    error=error,
                )
            )
            current.claimed_until = None
            if error is None:
                current.state, current.completed_at = DELIVERED, utc_now()
            elif refused or current.attempts >= self.settings.webhook_max_attempts:
                current.state, current.completed_at = FAILED, utc_now()
            else:
                current.next_attempt_at = utc_now() + self.retry_delay(current.attempts)
            await repository.update_delivery(current)
        logger.info(
            "webhook_delivery_attempt",
            delivery_id=delivery_id,
            webhook_id=webhook.id,
            attempt=current.attempts,
            status=status,
            error=error,
            state=current.state,
        )
        return True

    async def run_forever(self) -> None:
        """Sends due deliveries until cancelled; a failing pass is logged and the loop goes on."""
        while True:
            try:
                attempted = await self.send_due()
            except Exception:
                logger.exception("webhook_delivery_loop_error")
                attempted = 0
            if attempted < BATCH:
                await asyncio.sleep(self.settings.webhook_poll_interval)
