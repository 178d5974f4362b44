"""The view of a journal entry."""

from __future__ import annotations

from typing import Any

from twinbridge.control.journal.service import JournalEntry


def entry_view(entry: JournalEntry, bodies: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "sequence": entry.sequence,
        "timestamp": entry.timestamp,
        "method": entry.method,
        "path": entry.path,
        "query": entry.query,
        "operationId": entry.operation_id,
        "status": entry.status,
        "errorCode": entry.error_code,
        "caller": entry.caller,
        "durationMs": entry.duration_ms,
        "faultIds": entry.fault_ids,
        "answeredByFault": entry.answered_by_fault,
    }
    if bodies:
        for name, body in (("request", entry.request_body), ("response", entry.response_body)):
            view[f"{name}Body"] = body.value() if body is not None else None
            view[f"{name}BodyTruncated"] = body.truncated if body is not None else False
    return view
