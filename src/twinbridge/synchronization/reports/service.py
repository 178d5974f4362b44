"""The rules of diagnostic reports: written by a run at its end, one per task, and read by members of the
iModel's iTwin (Get Diagnostic Reports, D1). Services never commit."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from twinbridge.auth.permissions import Action, authorize
from twinbridge.db.database import Transaction
from twinbridge.db.models import SyncReport
from twinbridge.platform.errors import ErrorDetail, InvalidRequest, NotFound, invalid_value
from twinbridge.platform.time import utc_now
from twinbridge.storage.blobs import BlobStorage
from twinbridge.synchronization.reports.content import report_id, report_key
from twinbridge.synchronization.reports.repository import ReportRepository


class ReportNotFound(NotFound):
    default_code = "ReportNotFound"
    default_message = "Requested Report is not available."


def _missing(name: str) -> ErrorDetail:
    return ErrorDetail("MissingRequiredProperty", f"{name} should be provided.", name)


class ReportService:
    def __init__(self, transaction: Transaction, blobs: BlobStorage) -> None:
        self.transaction = transaction
        self.blobs = blobs
        self.repository = ReportRepository(transaction)

    async def store(self, run_id: str, task_id: str, imodel_id: str, content: dict[str, Any]) -> SyncReport:
        """Writes the task's report (replacing an earlier attempt's); the blob goes if the transaction
        fails."""
        key = report_key(run_id, task_id)
        data = json.dumps(content, ensure_ascii=False, indent=1).encode()
        await asyncio.to_thread(self.blobs.put_stream, key, io.BytesIO(data))
        self.transaction.on_rollback(lambda: self.blobs.delete(key))
        return await self.repository.save(
            SyncReport(
                id=report_id(run_id, task_id),
                run_id=run_id,
                task_id=task_id,
                imodel_id=imodel_id,
                blob_key=key,
                created_at=utc_now(),
            )
        )

    async def readable(
        self, imodel_id: str | None, run_id: str | None, task_id: str | None, caller: str
    ) -> list[SyncReport]:
        """The run's reports (or its task's); 422 naming what is missing or names nothing, 403 for a caller
        who is not a member of the iModel's iTwin."""
        named_by = (("iModelId", imodel_id), ("runId", run_id))
        missing = [_missing(name) for name, value in named_by if not value]
        if missing or imodel_id is None or run_id is None:
            raise InvalidRequest(details=missing)
        named = await self.repository.named(imodel_id, run_id, task_id or "", caller)
        if named is None:
            raise InvalidRequest(details=[invalid_value("iModelId")])
        authorize(named.role, Action.READ)
        if not named.run_exists:
            raise InvalidRequest(details=[invalid_value("runId")])
        if task_id is not None and not named.task_exists:
            raise InvalidRequest(details=[invalid_value("taskId")])
        return await self.repository.of_run(run_id, task_id)

    async def downloadable(self, report_id: str) -> SyncReport:
        report = await self.repository.get(report_id)
        if report is None or not await asyncio.to_thread(self.blobs.exists, report.blob_key):
            raise ReportNotFound()
        return report

    async def forget_connection(self, connection_id: str) -> None:
        """Deletes the blobs of a connection's reports once the transaction that deletes its runs commits."""
        keys = await self.repository.blob_keys_of_connection(connection_id)
        if keys:
            self.transaction.after_commit(lambda: self._delete(keys))

    def _delete(self, keys: list[str]) -> None:
        for key in keys:
            self.blobs.delete(key)
