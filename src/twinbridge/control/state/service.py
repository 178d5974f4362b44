"""The rules of reset and snapshots: what is wiped, saved and put back, and when that is refused.

Everything happens in the caller's one transaction, blobs included, while it keeps every other writer out:
a reader sees the old state or the new one, and a failure leaves the database as it was. A run that a
worker holds (executing, scripted or on hold) makes reset, saving and restoring refuse with 409: its worker
would go on writing into a world that is no longer its own. Queued runs are wiped or saved like any row.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from twinbridge.control.state import rows
from twinbridge.control.state.repository import StateRepository, TableShape
from twinbridge.db.database import IntegrityError, Transaction
from twinbridge.db.models.control_snapshot import ControlSnapshot
from twinbridge.platform.errors import Conflict, ErrorDetail, NotFound
from twinbridge.platform.time import utc_now
from twinbridge.storage.blobs import BlobNotFound, BlobStorage


class SnapshotNotFound(NotFound):
    default_code = "SnapshotNotFound"
    default_message = "Requested snapshot is not available."


class SnapshotAlreadyExists(Conflict):
    default_code = "SnapshotAlreadyExists"
    default_message = "A snapshot with this name already exists; delete it first or choose another name."


class RunsInProgress(Conflict):
    default_code = "RunsInProgress"


class SnapshotUnusable(Conflict):
    default_code = "SnapshotUnusable"


@dataclass(frozen=True)
class SnapshotSummary:
    name: str
    created_at: datetime
    # Rows per table (tables without rows left out), and the blobs saved with them.
    tables: dict[str, int]
    blobs: int
    blob_bytes: int

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    @classmethod
    def of(cls, name: str, created_at: datetime, summary: dict[str, Any]) -> SnapshotSummary:
        return cls(
            name, created_at, dict(summary["tables"]), int(summary["blobs"]), int(summary["blobBytes"])
        )


class StateService:
    def __init__(self, transaction: Transaction, blobs: BlobStorage, data_dir: Path) -> None:
        self.transaction = transaction
        self.repository = StateRepository(transaction)
        self.blobs = blobs
        self.data_dir = data_dir

    async def _quiet_tables(self) -> list[TableShape]:
        """The state's tables, locked against other writers; RunsInProgress while a worker holds a run."""
        tables = await self.repository.tables()
        await self.repository.lock(tables)
        held = await self.repository.runs_held_by_workers(utc_now())
        if held:
            raise RunsInProgress(
                f"{len(held)} run(s) are being executed by a worker. Wait until they complete, cancel them,"
                " or release their holds, then try again.",
                details=[
                    ErrorDetail("RunInProgress", f"Run {run_id} is in progress.", run_id) for run_id in held
                ],
            )
        return tables

    async def reset(self) -> None:
        """Wipes every table of the state and every blob; the server is then as new (KEPT_TABLES stay)."""
        tables = await self._quiet_tables()
        await self.repository.delete_all(tables)
        await asyncio.to_thread(self.blobs.delete_all)
        self.transaction.after_commit(lambda: forget_local_copies(self.data_dir))

    async def create_snapshot(self, name: str) -> SnapshotSummary:
        tables = await self._quiet_tables()
        if await self.repository.snapshot_exists(name):
            raise SnapshotAlreadyExists(target="name")
        contents = {table.name: (table, await self.repository.read(table)) for table in tables}
        totals = await asyncio.to_thread(self.blobs.save_snapshot, name)
        self.transaction.on_rollback(lambda: self.blobs.delete_snapshot(name))
        summary = SnapshotSummary(
            name=name,
            created_at=utc_now(),
            tables={table: len(found) for table, (_, found) in contents.items() if found},
            blobs=totals.count,
            blob_bytes=totals.size,
        )
        snapshot = ControlSnapshot(
            name=name,
            created_at=summary.created_at,
            revision=await self.repository.revision(),
            summary={"tables": summary.tables, "blobs": summary.blobs, "blobBytes": summary.blob_bytes},
            rows=rows.encode(contents),
        )
        try:
            await self.repository.add_snapshot(snapshot)
        except IntegrityError as duplicate:
            raise SnapshotAlreadyExists(target="name") from duplicate
        return summary

    async def list_snapshots(self) -> list[SnapshotSummary]:
        return [SnapshotSummary.of(*found) for found in await self.repository.snapshot_summaries()]

    async def restore_snapshot(self, name: str) -> None:
        """Puts back the rows and the blobs the snapshot saved, and nothing else."""
        snapshot = await self.repository.snapshot(name)
        if snapshot is None:
            raise SnapshotNotFound(target="name")
        revision = await self.repository.revision()
        if snapshot.revision != revision:
            raise SnapshotUnusable(
                f"The snapshot was taken at schema revision {snapshot.revision}; the database is now at"
                f" {revision}. Take it again.",
                target="name",
            )
        tables = await self._quiet_tables()
        saved = rows.decode(snapshot.rows)
        await self.repository.delete_all(tables)
        for table in tables:
            restored = rows.table_rows(saved, table)
            if restored:
                await self.repository.insert(table, restored)
                await self.repository.restart_sequences(table)
        try:
            await asyncio.to_thread(self.blobs.restore_snapshot, name)
        except BlobNotFound as missing:
            raise SnapshotUnusable("The snapshot's stored files are missing.", target="name") from missing

    async def delete_snapshot(self, name: str) -> None:
        if not await self.repository.delete_snapshot(name):
            raise SnapshotNotFound(target="name")
        self.transaction.after_commit(lambda: self.blobs.delete_snapshot(name))


def forget_local_copies(data_dir: Path) -> None:
    """What the data dir keeps of a wiped world: workspaces left by interrupted runs and local copies of
    remote blobs. (The engines' caches are per engine process and hold nothing of an iModel.)"""
    for workspace in (data_dir / "tmp").glob("run-*"):
        shutil.rmtree(workspace, ignore_errors=True)
    shutil.rmtree(data_dir / "blob-cache", ignore_errors=True)
