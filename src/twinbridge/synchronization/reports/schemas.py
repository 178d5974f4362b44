"""The shapes of Get Diagnostic Reports (api-contract.md §3.10)."""

from __future__ import annotations

from typing import Any

from twinbridge.db.models import SyncReport
from twinbridge.platform.time import format_timestamp


def report_body(report: SyncReport, sas_uri: str) -> dict[str, Any]:
    """Upstream's fields; `_links.html` (the same report as a page) is twinbridge's addition."""
    return {
        "id": report.id,
        "imodelId": report.imodel_id,
        "runId": report.run_id,
        "taskId": report.task_id,
        "sasUri": sas_uri,
        "createdTimeStamp": format_timestamp(report.created_at),
        "_links": {"html": {"href": f"{sas_uri}&format=html"}},
    }
