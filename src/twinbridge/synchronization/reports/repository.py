"""All SQL of synchronization diagnostic reports."""

from __future__ import annotations

from dataclasses import dataclass

from twinbridge.db.database import Transaction
from twinbridge.db.models import SyncReport
from twinbridge.db.tables import Table
from twinbridge.itwins.repository import role_of_subject

REPORTS = Table("sync_reports", SyncReport)
SYNCHRONIZATION_API = "synchronization"

# The iModel, the caller's role on its iTwin, whether the run is a synchronization run of the iModel and
# whether the task is one of the run's: what a request names, checked in one statement.
_NAMED = (
    f"SELECT {role_of_subject('i')},"
    " (SELECT COUNT(*) FROM runs r WHERE r.id = :run_id AND r.imodel_id = i.id AND r.api = :api),"
    " (SELECT COUNT(*) FROM run_tasks t JOIN run_jobs j ON j.id = t.job_id"
    "  WHERE t.id = :task_id AND j.run_id = :run_id)"
    " FROM imodels i WHERE i.id = :imodel_id"
)
_OF_RUN = (
    f"SELECT {REPORTS.select('s')} FROM sync_reports s"
    " JOIN run_tasks t ON t.id = s.task_id JOIN run_jobs j ON j.id = t.job_id"
    " WHERE s.run_id = :run_id AND (:task_id = '' OR s.task_id = :task_id)"
    " ORDER BY j.ordinal, t.ordinal"
)


@dataclass(frozen=True, slots=True)
class NamedByRequest:
    role: str | None
    run_exists: bool
    task_exists: bool


class ReportRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def save(self, report: SyncReport) -> SyncReport:
        """Inserts the report, or replaces the one of the same task (a retried run's)."""
        await self.transaction.execute(REPORTS.upsert_sql, REPORTS.values(report))
        return report

    async def named(self, imodel_id: str, run_id: str, task_id: str, subject: str) -> NamedByRequest | None:
        """None when there is no iModel `imodel_id`."""
        row = await self.transaction.one(
            _NAMED,
            {
                "imodel_id": imodel_id,
                "run_id": run_id,
                "task_id": task_id,
                "subject": subject,
                "api": SYNCHRONIZATION_API,
            },
        )
        if row is None:
            return None
        return NamedByRequest(row[0], bool(row[1]), bool(row[2]))

    async def of_run(self, run_id: str, task_id: str | None) -> list[SyncReport]:
        """The run's reports (or its task's), in the order of its jobs and tasks."""
        rows = await self.transaction.all(_OF_RUN, {"run_id": run_id, "task_id": task_id or ""})
        return REPORTS.rows(rows)

    async def get(self, report_id: str) -> SyncReport | None:
        row = await self.transaction.one(REPORTS.get_sql, {"id": report_id})
        return REPORTS.row(row) if row is not None else None

    async def blob_keys_of_imodel(self, imodel_id: str) -> list[str]:
        rows = await self.transaction.all(
            "SELECT blob_key FROM sync_reports WHERE imodel_id = :imodel_id", {"imodel_id": imodel_id}
        )
        return [str(row[0]) for row in rows]

    async def blob_keys_of_connection(self, connection_id: str) -> list[str]:
        rows = await self.transaction.all(
            "SELECT s.blob_key FROM sync_reports s JOIN runs r ON r.id = s.run_id"
            " WHERE r.connection_id = :connection_id",
            {"connection_id": connection_id},
        )
        return [str(row[0]) for row in rows]


async def report_blob_keys_of_imodel(transaction: Transaction, imodel_id: str) -> list[str]:
    """The diagnostic reports' blobs, which go with their iModel (registered in `twinbridge.features`)."""
    return await ReportRepository(transaction).blob_keys_of_imodel(imodel_id)
