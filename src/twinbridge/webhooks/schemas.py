"""Bodies of the Webhooks API (upstream's v2 subscription operations), and the shapes of its responses."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from twinbridge.db.models import Webhook, WebhookAttempt, WebhookDelivery
from twinbridge.platform.openapi import given_not_null
from twinbridge.platform.outbound import MAX_URL_LENGTH, requestable_url
from twinbridge.platform.time import format_timestamp

EventType = Literal["synchronization.jobCompleted.v1", "export.runCompleted.v1"]
Scope = Literal["Account", "iTwin"]
# Upstream: "If provided, the secret must be at least 32 characters."
MIN_SECRET_LENGTH = 32


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    callback_url: str = Field(alias="callbackUrl", min_length=1, max_length=MAX_URL_LENGTH)
    scope: Scope
    # Required with the iTwin scope (the iTwin's id); not read with the Account scope.
    scope_id: str | None = Field(default=None, alias="scopeId", min_length=1, max_length=36)
    # Generated (64 hexadecimal characters) when not given.
    secret: str | None = Field(default=None, min_length=MIN_SECRET_LENGTH, max_length=255)
    event_types: list[EventType] = Field(alias="eventTypes", min_length=1)

    # An http(s) URL the server could POST to (its address is checked when an event is sent).
    _url = field_validator("callback_url")(requestable_url)


class WebhookUpdate(BaseModel):
    """PATCH: only the properties given change; none may be null."""

    model_config = ConfigDict(extra="ignore")

    active: bool | None = Field(default=None, json_schema_extra=given_not_null)
    callback_url: str | None = Field(
        default=None,
        alias="callbackUrl",
        min_length=1,
        max_length=MAX_URL_LENGTH,
        json_schema_extra=given_not_null,
    )
    secret: str | None = Field(
        default=None, min_length=MIN_SECRET_LENGTH, max_length=255, json_schema_extra=given_not_null
    )
    event_types: list[EventType] | None = Field(
        default=None, alias="eventTypes", min_length=1, json_schema_extra=given_not_null
    )

    # An http(s) URL the server could POST to (its address is checked when an event is sent).
    _url = field_validator("callback_url")(requestable_url)

    @field_validator("active", "callback_url", "secret", "event_types")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only for properties present in the body.
        if value is None:
            raise ValueError("the property cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The given properties, by the Webhook field they set."""
        return {name: getattr(self, name) for name in self.model_fields_set}


def webhook_body(webhook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    """A webhook as upstream shows it; its secret only in the answer that created it."""
    body: dict[str, Any] = {
        "id": webhook.id,
        "scope": webhook.scope,
        "scopeId": webhook.scope_id,
        "active": webhook.active,
        "callbackUrl": webhook.callback_url,
        "eventTypes": list(webhook.event_types),
        "created": format_timestamp(webhook.created_at),
        "modified": format_timestamp(webhook.modified_at),
    }
    if with_secret:
        body["secret"] = webhook.secret
    return body


def attempt_body(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "startedDateTime": format_timestamp(attempt.started_at),
        "durationMs": attempt.duration_ms,
        "status": attempt.status,
        "error": attempt.error,
    }


def delivery_body(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    """A delivery (twinbridge's own resource): the event as sent, its state and every attempt."""
    pending = delivery.state == "Pending"
    return {
        "id": delivery.id,
        "eventType": delivery.event_type,
        "runId": delivery.run_id,
        "state": delivery.state,
        "createdDateTime": format_timestamp(delivery.created_at),
        "nextAttemptDateTime": format_timestamp(delivery.next_attempt_at) if pending else None,
        "completedDateTime": format_timestamp(delivery.completed_at),
        "event": orjson.loads(delivery.body),
        "attempts": [attempt_body(attempt) for attempt in attempts],
    }
