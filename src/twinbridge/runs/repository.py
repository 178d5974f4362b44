"""All SQL of runs, jobs and tasks, including the worker's claim on a run.

A run is read whole, with its jobs and their tasks (three statements, whatever the number of runs), and
written whole by `save`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from twinbridge.db.database import Transaction
from twinbridge.db.models import Job, Run, Task
from twinbridge.db.tables import Table
from twinbridge.runs.states import CLAIMABLE_STATES, RUNNING_STATES, ExecutionState

RUNS = Table("runs", Run)
JOBS = Table("run_jobs", Job)
TASKS = Table("run_tasks", Task)

_CLAIMABLE = ", ".join(f"'{state.value}'" for state in CLAIMABLE_STATES)
_RUNNING = ", ".join(f"'{state.value}'" for state in RUNNING_STATES)
# A run a worker may take: waiting for one, or executing under a lease nobody extends any more.
_TAKEABLE = f"(state IN ({_CLAIMABLE}) OR (state IN ({_RUNNING}) AND lease_expires_at < :now))"


class RunRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def _whole(self, rows: list[tuple[object, ...]]) -> list[Run]:
        """Runs from their rows, with their jobs and tasks."""
        runs = RUNS.rows(rows)
        if not runs:
            return runs
        ids = {f"run{index}": run.id for index, run in enumerate(runs)}
        placeholders = ", ".join(f":{name}" for name in ids) if len(ids) > 1 else ":run0"
        # Jobs with their tasks in one statement: each row is a job's columns, then a task's.
        rows_of_jobs = await self.transaction.all(
            f"SELECT {JOBS.select('j')}, {TASKS.select('t')} FROM run_jobs j"
            f" LEFT JOIN run_tasks t ON t.job_id = j.id WHERE j.run_id IN ({placeholders})"
            " ORDER BY j.run_id, j.ordinal, t.ordinal",
            ids,
        )
        job_width = len(JOBS.columns)
        runs_by_id = {run.id: run for run in runs}
        jobs_by_id: dict[str, Job] = {}
        for row in rows_of_jobs:
            job = jobs_by_id.get(row[0])
            if job is None:
                job = jobs_by_id[row[0]] = JOBS.row(row[:job_width])
                runs_by_id[job.run_id].jobs.append(job)
            if row[job_width] is not None:  # a job without tasks has one row of NULLs
                job.tasks.append(TASKS.row(row[job_width:]))
        return runs

    async def add(self, run: Run) -> Run:
        await self.transaction.execute(RUNS.insert_sql, RUNS.values(run))
        await self.transaction.execute_many(JOBS.insert_sql, [JOBS.values(job) for job in run.jobs])
        await self.transaction.execute_many(
            TASKS.insert_sql, [TASKS.values(task) for job in run.jobs for task in job.tasks]
        )
        return run

    async def save(self, run: Run) -> Run:
        """Writes the run, its jobs and its tasks as they are now."""
        await self.transaction.execute(RUNS.update_sql, RUNS.values(run))
        await self.transaction.execute_many(JOBS.update_sql, [JOBS.values(job) for job in run.jobs])
        await self.transaction.execute_many(
            TASKS.update_sql, [TASKS.values(task) for job in run.jobs for task in job.tasks]
        )
        return run

    async def get(self, run_id: str) -> Run | None:
        runs = await self._whole(await self.transaction.all(RUNS.get_sql, {"id": run_id}))
        return runs[0] if runs else None

    async def active_for_imodel(self, imodel_id: str) -> Run | None:
        rows = await self.transaction.all(
            f"SELECT {RUNS.select()} FROM runs WHERE active_imodel_id = :imodel_id", {"imodel_id": imodel_id}
        )
        runs = await self._whole(rows)
        return runs[0] if runs else None

    async def has_active_for_connection(self, connection_id: str) -> bool:
        found = await self.transaction.value(
            "SELECT 1 FROM runs WHERE connection_id = :connection_id AND active_imodel_id IS NOT NULL"
            " LIMIT 1",
            {"connection_id": connection_id},
        )
        return found is not None

    async def latest_id_for_connection(self, connection_id: str) -> str | None:
        run_id: str | None = await self.transaction.value(
            "SELECT id FROM runs WHERE connection_id = :connection_id"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            {"connection_id": connection_id},
        )
        return run_id

    async def latest_ids_for_connections(self, connection_ids: Sequence[str]) -> dict[str, str]:
        """The newest run id of each connection, in one query."""
        if not connection_ids:
            return {}
        ids = {f"connection{index}": connection_id for index, connection_id in enumerate(connection_ids)}
        placeholders = ", ".join(":" + name for name in ids)
        rows = await self.transaction.all(
            f"SELECT connection_id, id FROM runs WHERE connection_id IN ({placeholders})"
            " ORDER BY connection_id, created_at, id",
            ids,
        )
        return {str(connection_id): str(run_id) for connection_id, run_id in rows}

    async def list_for_connection(self, connection_id: str, offset: int, limit: int) -> list[Run]:
        rows = await self.transaction.all(
            f"SELECT {RUNS.select()} FROM runs WHERE connection_id = :connection_id"
            " ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset",
            {"connection_id": connection_id, "limit": limit, "offset": offset},
        )
        return await self._whole(rows)

    async def delete_for_connection(self, connection_id: str) -> None:
        """Deletes the connection's runs; their jobs and tasks go with them (ON DELETE CASCADE)."""
        await self.transaction.execute("DELETE FROM runs WHERE connection_id = :id", {"id": connection_id})

    async def next_claimable_id(self, now: datetime) -> str | None:
        """The oldest run waiting for a worker, or running under a lease that has expired."""
        run_id: str | None = await self.transaction.value(
            f"SELECT id FROM runs WHERE {_TAKEABLE}"
            f" ORDER BY created_at, id LIMIT 1{self.transaction.skip_locked}",
            {"now": now},
        )
        return run_id

    async def expired_leases(self, now: datetime) -> list[Run]:
        """Runs that were executing under a lease nobody extends any more: their worker is gone.

        Locked, and skipped when another sweep holds them (PostgreSQL; SQLite serializes writers anyway).
        """
        rows = await self.transaction.all(
            f"SELECT {RUNS.select()} FROM runs WHERE state IN ({_RUNNING}) AND lease_expires_at < :now"
            f" ORDER BY created_at, id{self.transaction.skip_locked}",
            {"now": now},
        )
        return await self._whole(rows)

    async def claimable_ids(self) -> list[str]:
        """Runs waiting for a worker (Queued or WaitingToRetry), oldest first."""
        rows = await self.transaction.all(
            f"SELECT id FROM runs WHERE state IN ({_CLAIMABLE}) ORDER BY created_at, id"
        )
        return [str(row[0]) for row in rows]

    async def claim(self, run_id: str, worker_id: str, now: datetime, lease_until: datetime) -> bool:
        """Takes the run for `worker_id` if nobody holds a live lease on it; True when taken."""
        changed = await self.transaction.execute(
            f"UPDATE runs SET state = :executing, worker_id = :worker_id, lease_expires_at = :lease_until,"
            f" attempts = attempts + 1 WHERE id = :id AND {_TAKEABLE}",
            {
                "executing": ExecutionState.EXECUTING.value,
                "worker_id": worker_id,
                "lease_until": lease_until,
                "id": run_id,
                "now": now,
            },
        )
        return changed > 0

    async def extend_lease(self, run_id: str, worker_id: str, lease_until: datetime) -> bool:
        changed = await self.transaction.execute(
            "UPDATE runs SET lease_expires_at = :lease_until"
            " WHERE id = :id AND worker_id = :worker_id AND active_imodel_id IS NOT NULL",
            {"lease_until": lease_until, "id": run_id, "worker_id": worker_id},
        )
        return changed > 0
