"""All SQL of runs, jobs and tasks, including the worker's claim on a run.

A run is read whole, with its jobs and their tasks (one statement, whatever the number of runs), and
written whole by `save`. `latest_run_id_of` is the column other features' reads add for a connection's
newest run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from twinbridge.db.database import Parameters, Row, Transaction
from twinbridge.db.models import Job, Run, Task
from twinbridge.db.tables import Table
from twinbridge.runs.completion import has_completion_hooks, run_completed
from twinbridge.runs.states import CLAIMABLE_STATES, RUNNING_STATES, ExecutionState

RUNS = Table("runs", Run)
JOBS = Table("run_jobs", Job)
TASKS = Table("run_tasks", Task)
Entity = TypeVar("Entity")

_CLAIMABLE = ", ".join(f"'{state.value}'" for state in CLAIMABLE_STATES)
_RUNNING = ", ".join(f"'{state.value}'" for state in RUNNING_STATES)
# A run a worker may take: waiting for one (and held by none: a scripted run may show Queued or
# WaitingToRetry under a worker's lease, control/scripts), or executing under a lease nobody extends any more.
_TAKEABLE = (
    f"((state IN ({_CLAIMABLE}) AND (worker_id IS NULL OR lease_expires_at < :now))"
    f" OR (state IN ({_RUNNING}) AND lease_expires_at < :now))"
)


def latest_run_id_of(alias: str) -> str:
    """A column: the id of the newest run of the connection row `alias`, so that a connection comes with
    its `lastRun` link in the statement that reads it."""
    return (
        f"(SELECT lr.id FROM runs lr WHERE lr.connection_id = {alias}.id"
        " ORDER BY lr.created_at DESC, lr.id DESC LIMIT 1)"
    )


@dataclass(frozen=True)
class RunOwner(Generic[Entity]):
    """A feature's connection table, read (alias `t`) with its runs by `RunRepository.read_under`.

    `role_column` is the caller's role on the connection's iTwin; `condition` finds the connection.
    """

    table: Table[Entity]
    role_column: str
    condition: str = "t.id = :connection_id"


_STATEMENTS: dict[tuple[RunOwner[Any] | None, str | None, str, str], str] = {}


class RunRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def _read(
        self, condition: str, parameters: Parameters, order: str = "r.created_at, r.id", tail: str = ""
    ) -> list[Run]:
        """Whole runs chosen by `condition` and `order` (written against alias `r`); `tail` follows the
        ORDER BY of the runs (a LIMIT, or a locking clause)."""
        read = await self._read_whole(None, condition, parameters, order, tail)
        return read[1] if read else []

    async def read_under(
        self, owner: RunOwner[Entity], parameters: Parameters, run_id: str | None, offset: int, limit: int
    ) -> tuple[Entity, str | None, list[Run]] | None:
        """A connection, the caller's role on its iTwin and its runs (the one `run_id` names, or a page of
        newest first) in one statement; None when there is no such connection."""
        if run_id is not None:
            parameters = {**parameters, "run_id": run_id}
            read = await self._read_whole(owner, "r.id = :run_id", parameters, "r.created_at, r.id", "")
        else:
            parameters = {**parameters, "offset": offset, "limit": limit}
            read = await self._read_whole(
                owner, None, parameters, "r.created_at DESC, r.id DESC", " LIMIT :limit OFFSET :offset"
            )
        if read is None:
            return None
        row, runs = read
        width = len(owner.table.columns)
        return owner.table.row(row[:width]), row[width], runs

    async def _read_whole(
        self,
        owner: RunOwner[Any] | None,
        condition: str | None,
        parameters: Parameters,
        order: str,
        tail: str,
    ) -> tuple[Row, list[Run]] | None:
        """One statement: each row is the owner's columns (if any), a run's, a job's, then a task's; a run
        without jobs or a job without tasks has NULLs in their place, as has an owner without runs."""
        key = (owner, condition, order, tail)
        sql = _STATEMENTS.get(key)
        if sql is None:
            # Under an owner, only its runs; the owner's condition names :connection_id.
            conditions = [part for part in (owner and "r.connection_id = :connection_id", condition) if part]
            chosen = (
                f"SELECT {RUNS.select('r')} FROM runs r WHERE {' AND '.join(conditions)}"
                f" ORDER BY {order}{tail}"
            )
            if owner is None:
                head, source, where = "", f"({chosen}) r", ""
            else:
                head = f"{owner.table.select('t')}, {owner.role_column}, "
                source = f"{owner.table.name} t LEFT JOIN ({chosen}) r ON r.connection_id = t.id"
                where = f" WHERE {owner.condition}"
            sql = _STATEMENTS[key] = (
                f"SELECT {head}{RUNS.select('r')}, {JOBS.select('rj')}, {TASKS.select('rt')} FROM {source}"
                " LEFT JOIN run_jobs rj ON rj.run_id = r.id LEFT JOIN run_tasks rt ON rt.job_id = rj.id"
                f"{where} ORDER BY {order}, rj.ordinal, rt.ordinal"
            )
        rows = await self.transaction.all(sql, parameters)
        if not rows:
            return None
        start = len(owner.table.columns) + 1 if owner else 0
        job_start = start + len(RUNS.columns)
        task_start = job_start + len(JOBS.columns)
        runs: list[Run] = []
        run: Run | None = None
        job: Job | None = None
        for row in rows:
            if row[start] is None:  # an owner without runs
                continue
            if run is None or run.id != row[start]:
                run = RUNS.row(row[start:job_start])
                runs.append(run)
                job = None
            if row[job_start] is None:
                continue
            if job is None or job.id != row[job_start]:
                job = JOBS.row(row[job_start:task_start])
                run.jobs.append(job)
            if row[task_start] is not None:
                job.tasks.append(TASKS.row(row[task_start:]))
        return rows[0], runs

    async def add(self, run: Run) -> Run:
        await self.transaction.execute(RUNS.insert_sql, RUNS.values(run))
        await self.transaction.execute_many(JOBS.insert_sql, [JOBS.values(job) for job in run.jobs])
        await self.transaction.execute_many(
            TASKS.insert_sql, [TASKS.values(task) for job in run.jobs for task in job.tasks]
        )
        return run

    async def save(self, run: Run) -> Run:
        """Writes the run, its jobs and its tasks as they are now; a run this write completes calls the
        completion hooks in the same transaction (runs/completion.py)."""
        completes = run.state == ExecutionState.COMPLETED.value and await self._completes(run.id)
        await self.transaction.execute(RUNS.update_sql, RUNS.values(run))
        await self.transaction.execute_many(JOBS.update_sql, [JOBS.values(job) for job in run.jobs])
        await self.transaction.execute_many(
            TASKS.update_sql, [TASKS.values(task) for job in run.jobs for task in job.tasks]
        )
        if completes:
            await run_completed(self.transaction, run)
        return run

    async def _completes(self, run_id: str) -> bool:
        """Whether the stored run is not Completed yet (asked only when there is a hook to call)."""
        if not has_completion_hooks():
            return False
        stored = await self.transaction.value("SELECT state FROM runs WHERE id = :id", {"id": run_id})
        return stored is not None and stored != ExecutionState.COMPLETED.value

    async def get(self, run_id: str) -> Run | None:
        runs = await self._read("r.id = :id", {"id": run_id})
        return runs[0] if runs else None

    async def active_for_imodel(self, imodel_id: str, api: str) -> Run | None:
        """The iModel's active run of one API (an Export and a Synchronization run may run together)."""
        runs = await self._read(
            "r.active_imodel_id = :imodel_id AND r.api = :api", {"imodel_id": imodel_id, "api": api}
        )
        return runs[0] if runs else None

    async def has_active_for_connection(self, connection_id: str) -> bool:
        found = await self.transaction.value(
            "SELECT 1 FROM runs WHERE connection_id = :connection_id AND active_imodel_id IS NOT NULL"
            " LIMIT 1",
            {"connection_id": connection_id},
        )
        return found is not None

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
        return await self._read(
            f"r.state IN ({_RUNNING}) AND r.lease_expires_at < :now",
            {"now": now},
            tail=self.transaction.skip_locked,
        )

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

    async def request_cancel(self, run_id: str, now: datetime) -> bool:
        """Records a cancel request on an active run (its row stays locked to the end of the transaction,
        so no worker claims it meanwhile); False when the run is Completed already."""
        changed = await self.transaction.execute(
            "UPDATE runs SET cancel_requested_at = COALESCE(cancel_requested_at, :now)"
            " WHERE id = :id AND active_imodel_id IS NOT NULL",
            {"now": now, "id": run_id},
        )
        return changed > 0

    async def cancel_requested(self, run_id: str) -> bool:
        """Whether a caller asked to cancel the run (the worker executing it polls this)."""
        found = await self.transaction.value(
            "SELECT 1 FROM runs WHERE id = :id AND cancel_requested_at IS NOT NULL", {"id": run_id}
        )
        return found is not None

    async def extend_lease(self, run_id: str, worker_id: str, lease_until: datetime) -> bool:
        changed = await self.transaction.execute(
            "UPDATE runs SET lease_expires_at = :lease_until"
            " WHERE id = :id AND worker_id = :worker_id AND active_imodel_id IS NOT NULL",
            {"lease_until": lease_until, "id": run_id, "worker_id": worker_id},
        )
        return changed > 0
