"""The events webhooks receive, and the outbox that records them when a run completes.

- `synchronization.jobCompleted.v1`: upstream's event of a completed synchronization run, with upstream's
  envelope (content, eventType, enqueuedDateTime, iTwinId, messageId, webhookId) and content
  (synchronizationId, iModelId, connectionId, result).
- `export.runCompleted.v1`: twinbridge's own (upstream's Export API has no event), in the same envelope.

`record_run_completion` is registered as a run completion hook (twinbridge.features): it writes one
delivery per active webhook the event concerns, in the transaction that completes the run.
"""

from __future__ import annotations

from typing import Any

import orjson

from twinbridge.db.database import Transaction
from twinbridge.db.models import Run, Webhook, WebhookDelivery
from twinbridge.platform.ids import new_guid
from twinbridge.platform.time import format_timestamp, utc_now
from twinbridge.runs.states import RunKind
from twinbridge.webhooks.repository import PENDING, WebhookRepository

SYNCHRONIZATION_COMPLETED = "synchronization.jobCompleted.v1"
EXPORT_COMPLETED = "export.runCompleted.v1"  # twinbridge's own: upstream has no Export event
EVENT_TYPES = (SYNCHRONIZATION_COMPLETED, EXPORT_COMPLETED)


def _result(result: str) -> str:
    """The run's result as upstream's event spells it ("success"): its first letter in lower case."""
    return result[:1].lower() + result[1:]


def event_type_of(run: Run) -> str:
    return EXPORT_COMPLETED if RunKind(run.kind) is RunKind.EXPORT else SYNCHRONIZATION_COMPLETED


def event_content(run: Run) -> dict[str, Any]:
    if RunKind(run.kind) is not RunKind.EXPORT:
        return {
            "synchronizationId": run.id,
            "iModelId": run.imodel_id,
            "connectionId": run.connection_id,
            "result": _result(run.result),
        }
    output_ids = [task.output_file_id for job in run.jobs for task in job.tasks if task.output_file_id]
    return {
        "runId": run.id,
        "iModelId": run.imodel_id,
        "connectionId": run.connection_id,
        "result": _result(run.result),
        "exportOutputFileId": output_ids[0] if output_ids else None,
    }


def event_body(webhook: Webhook, delivery_id: str, event_type: str, itwin_id: str, run: Run) -> str:
    """The exact text POSTed (and signed): the same for every attempt of the delivery."""
    body = {
        "content": event_content(run),
        "eventType": event_type,
        "enqueuedDateTime": format_timestamp(utc_now()),
        "iTwinId": itwin_id,
        "messageId": delivery_id,
        "webhookId": webhook.id,
    }
    return orjson.dumps(body).decode()


async def record_run_completion(transaction: Transaction, run: Run) -> None:
    """The outbox: a Pending delivery for each active webhook subscribed to the run's event."""
    repository = WebhookRepository(transaction)
    itwin_id = await repository.itwin_of_imodel(run.imodel_id)
    if itwin_id is None:
        return
    event_type = event_type_of(run)
    webhooks = await repository.active_for_itwin(itwin_id)
    for webhook in webhooks:
        if event_type not in webhook.event_types:
            continue
        delivery_id = new_guid()
        await repository.add_delivery(
            WebhookDelivery(
                id=delivery_id,
                webhook_id=webhook.id,
                event_type=event_type,
                run_id=run.id,
                body=event_body(webhook, delivery_id, event_type, itwin_id, run),
                state=PENDING,
            )
        )
