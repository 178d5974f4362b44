"""All SQL of runs, jobs and tasks, including the worker's claim on a run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from twinbridge.db.models import Run
from twinbridge.runs.states import CLAIMABLE_STATES, RUNNING_STATES, ExecutionState


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, run: Run) -> Run:
        self.session.add(run)
        await self.session.flush()
        return run

    async def get(self, run_id: str) -> Run | None:
        return await self.session.get(Run, run_id)

    async def active_for_imodel(self, imodel_id: str) -> Run | None:
        return await self.session.scalar(select(Run).where(Run.active_imodel_id == imodel_id))

    async def has_active_for_connection(self, connection_id: str) -> bool:
        statement = select(Run.id).where(
            Run.connection_id == connection_id, Run.active_imodel_id.is_not(None)
        )
        return await self.session.scalar(statement.limit(1)) is not None

    async def latest_id_for_connection(self, connection_id: str) -> str | None:
        statement = (
            select(Run.id)
            .where(Run.connection_id == connection_id)
            .order_by(Run.created_at.desc(), Run.id.desc())
            .limit(1)
        )
        return await self.session.scalar(statement)

    async def latest_ids_for_connections(self, connection_ids: list[str]) -> dict[str, str]:
        """The newest run id of each connection, in one query."""
        if not connection_ids:
            return {}
        statement = (
            select(Run.connection_id, Run.id, Run.created_at)
            .where(Run.connection_id.in_(connection_ids))
            .order_by(Run.connection_id, Run.created_at, Run.id)
        )
        latest: dict[str, str] = {}
        for connection_id, run_id, _ in await self.session.execute(statement):
            latest[connection_id] = run_id
        return latest

    async def list_for_connection(self, connection_id: str, offset: int, limit: int) -> list[Run]:
        statement = (
            select(Run)
            .where(Run.connection_id == connection_id)
            .order_by(Run.created_at.desc(), Run.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def delete_for_connection(self, connection_id: str) -> None:
        for run in (await self.session.scalars(select(Run).where(Run.connection_id == connection_id))).all():
            await self.session.delete(run)
        await self.session.flush()

    async def next_claimable_id(self, now: datetime) -> str | None:
        """The oldest run waiting for a worker, or running under a lease that has expired."""
        statement = (
            select(Run.id)
            .where(
                or_(
                    Run.state.in_([state.value for state in CLAIMABLE_STATES]),
                    (Run.state.in_([state.value for state in RUNNING_STATES])) & (Run.lease_expires_at < now),
                )
            )
            .order_by(Run.created_at, Run.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return await self.session.scalar(statement)

    async def expired_leases(self, now: datetime) -> list[Run]:
        """Runs that were executing under a lease nobody extends any more: their worker is gone.

        Locked, and skipped when another sweep holds them (PostgreSQL; SQLite serializes writers anyway).
        """
        statement = (
            select(Run)
            .where(Run.state.in_([state.value for state in RUNNING_STATES]), Run.lease_expires_at < now)
            .order_by(Run.created_at, Run.id)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.scalars(statement)).all())

    async def claimable_ids(self) -> list[str]:
        """Runs waiting for a worker (Queued or WaitingToRetry), oldest first."""
        statement = (
            select(Run.id)
            .where(Run.state.in_([state.value for state in CLAIMABLE_STATES]))
            .order_by(Run.created_at, Run.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def claim(self, run_id: str, worker_id: str, now: datetime, lease_until: datetime) -> bool:
        """Takes the run for `worker_id` if nobody holds a live lease on it; True when taken."""
        statement = (
            update(Run)
            .where(
                Run.id == run_id,
                or_(
                    Run.state.in_([state.value for state in CLAIMABLE_STATES]),
                    (Run.state.in_([state.value for state in RUNNING_STATES])) & (Run.lease_expires_at < now),
                ),
            )
            .values(
                state=ExecutionState.EXECUTING.value,
                worker_id=worker_id,
                lease_expires_at=lease_until,
                attempts=Run.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def extend_lease(self, run_id: str, worker_id: str, lease_until: datetime) -> bool:
        statement = (
            update(Run)
            .where(Run.id == run_id, Run.worker_id == worker_id, Run.active_imodel_id.is_not(None))
            .values(lease_expires_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]
