"""Claiming a given run (what a queue message does), on SQLite and PostgreSQL: the lease decides."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from tests.conftest import SAMPLE_IMODELS
from twinbridge.db.models import Job, Run, Task
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.time import utc_now
from twinbridge.runs.celery_app import create_celery_app, requeue_expired_runs, requeue_waiting_runs
from twinbridge.runs.repository import RunRepository
from twinbridge.runs.states import ExecutionResult, ExecutionState, RunKind
from twinbridge.runs.worker import RunExecutors, RunWorker
from twinbridge.runtime import Runtime


@pytest.fixture
async def run_id(runtime: Runtime) -> str:
    """A Queued export run of a fresh iModel."""
    async with runtime.database.transaction() as transaction:
        itwin = await ITwinService(transaction).create("Plant", "alice")
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, SAMPLE_IMODELS / "Building Blocks.bim", "Blocks", None, caller=None
        )
        run_id, job_id = str(uuid.uuid4()), str(uuid.uuid4())
        run = Run(
            id=run_id,
            kind=RunKind.EXPORT.value,
            connection_id="connection",
            imodel_id=imported.imodel.id,
            active_imodel_id=imported.imodel.id,
            state=ExecutionState.QUEUED.value,
            result=ExecutionResult.UNDETERMINED.value,
            requested_by="alice",
            authentication_type="User",
            jobs=[
                Job(
                    id=job_id,
                    run_id=run_id,
                    ordinal=0,
                    state=ExecutionState.NOT_STARTED.value,
                    result=ExecutionResult.UNDETERMINED.value,
                    tasks=[
                        Task(
                            id=str(uuid.uuid4()),
                            job_id=job_id,
                            ordinal=0,
                            state=ExecutionState.NOT_STARTED.value,
                            result=ExecutionResult.UNDETERMINED.value,
                            retry_attempts=0,
                        )
                    ],
                )
            ],
        )
        await RunRepository(transaction).add(run)
        return run.id


def _worker(runtime: Runtime) -> RunWorker:
    # Claims need no executors; nothing is executed here.
    return RunWorker(runtime, RunExecutors(execute={}, on_timeout={}))


async def _run(runtime: Runtime, run_id: str) -> Run:
    async with runtime.database.transaction() as transaction:
        run = await RunRepository(transaction).get(run_id)
        assert run is not None
        return run


async def _set(runtime: Runtime, run_id: str, **values: object) -> None:
    async with runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        assert run is not None
        for name, value in values.items():
            setattr(run, name, value)
        await runs.save(run)


async def test_queued_run_is_claimed_by_the_first_message_only(runtime: Runtime, run_id: str) -> None:
    first, second = _worker(runtime), _worker(runtime)
    assert await first.claim(run_id) == (run_id, RunKind.EXPORT)
    assert await second.claim(run_id) is None  # the lease of the first is live
    run = await _run(runtime, run_id)
    assert (run.state, run.worker_id, run.attempts) == ("Executing", first.context.worker_id, 1)
    remaining = await second.lease_remaining(run_id)
    assert remaining is not None
    assert 0 < remaining <= runtime.settings.run_lease_seconds


async def test_run_whose_lease_expired_is_claimed_again(runtime: Runtime, run_id: str) -> None:
    assert await _worker(runtime).claim(run_id) is not None
    await _set(runtime, run_id, lease_expires_at=utc_now() - timedelta(seconds=1))
    assert await _worker(runtime).lease_remaining(run_id) == 0.0
    async with runtime.database.transaction() as transaction:
        assert [run.id for run in await RunRepository(transaction).expired_leases(utc_now())] == [run_id]
    assert await _worker(runtime).claim(run_id) == (run_id, RunKind.EXPORT)
    assert (await _run(runtime, run_id)).attempts == 2


async def test_sweep_puts_a_run_of_a_lost_worker_back_in_the_queue_once(
    runtime: Runtime, run_id: str
) -> None:
    assert await _worker(runtime).claim(run_id) is not None
    await _set(runtime, run_id, lease_expires_at=utc_now() - timedelta(seconds=1))
    settings = runtime.settings.model_copy(update={"broker_url": "memory://"})
    celery = create_celery_app(settings)
    try:
        # asyncio.run inside: called from a thread, as the worker's timer calls it.
        assert await asyncio.to_thread(requeue_expired_runs, settings, celery) == [run_id]
        run = await _run(runtime, run_id)
        task = run.jobs[0].tasks[0]
        assert (run.state, run.worker_id, run.lease_expires_at) == ("WaitingToRetry", None, None)
        assert (task.state, task.retry_attempts) == ("WaitingToRetry", 1)
        # Released: the next sweep has nothing to send, and the message claims it as a retry.
        assert await asyncio.to_thread(requeue_expired_runs, settings, celery) == []
        assert await asyncio.to_thread(requeue_waiting_runs, settings, celery) == [run_id]
    finally:
        celery.close()
    assert await _worker(runtime).claim(run_id) == (run_id, RunKind.EXPORT)
    assert (await _run(runtime, run_id)).attempts == 2


async def test_completed_run_is_not_claimed(runtime: Runtime, run_id: str) -> None:
    await _set(runtime, run_id, state=ExecutionState.COMPLETED.value, active_imodel_id=None)
    worker = _worker(runtime)
    assert await worker.claim(run_id) is None
    assert await worker.lease_remaining(run_id) is None
    assert (await _run(runtime, run_id)).attempts == 0


async def test_unknown_run_is_not_claimed(runtime: Runtime) -> None:
    worker = _worker(runtime)
    assert await worker.claim(str(uuid.uuid4())) is None
    assert await worker.lease_remaining(str(uuid.uuid4())) is None


async def test_run_interrupted_too_often_is_failed_instead_of_claimed(runtime: Runtime, run_id: str) -> None:
    await _set(
        runtime,
        run_id,
        state=ExecutionState.EXECUTING.value,
        attempts=runtime.settings.run_max_attempts,
        lease_expires_at=utc_now() - timedelta(seconds=1),
    )
    assert await _worker(runtime).claim(run_id) is None
    run = await _run(runtime, run_id)
    assert (run.state, run.result, run.active_imodel_id) == ("Completed", "Error", None)
