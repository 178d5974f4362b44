"""Webhook subscriptions, the deliveries of their events, and every attempt to send one.

A delivery is written in the transaction that completes a run (an outbox), so that an event is never lost
and never sent for a run that did not complete; a delivery loop sends it later, at least once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class Webhook:
    """A subscription: events of `event_types` in its scope are POSTed to `callback_url`, signed with
    `secret`, while it is active (it is created inactive, as upstream's are)."""

    id: str
    scope: str  # "iTwin" or "Account"
    # The iTwin of an iTwin webhook; the creator's subject for an Account webhook.
    scope_id: str
    callback_url: str
    secret: str
    event_types: list[str]
    active: bool
    created_by: str
    created_at: datetime = field(default_factory=utc_now)
    modified_at: datetime = field(default_factory=utc_now)


@dataclass(slots=True)
class WebhookDelivery:
    """One event for one webhook: the exact body sent (signed as is), and where its sending stands."""

    id: str  # also the event's messageId
    webhook_id: str
    event_type: str
    run_id: str
    body: str
    state: str  # Pending, Delivered or Failed
    attempts: int = 0
    next_attempt_at: datetime = field(default_factory=utc_now)
    # A sender's claim on the delivery; an expired claim (a sender that died) makes it due again.
    claimed_until: datetime | None = None
    created_at: datetime = field(default_factory=utc_now)
    completed_at: datetime | None = None


@dataclass(slots=True)
class WebhookAttempt:
    """One POST of a delivery: when, how long it took, and the answer (a status, or why there was none)."""

    delivery_id: str
    number: int
    started_at: datetime
    duration_ms: int
    status: int | None = None
    error: str | None = None
