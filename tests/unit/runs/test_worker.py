"""A run whose executor raises ends at once, with a task error that tells what a Reader may know: not the
exception, which may name the server's paths; a full disk says so. Only a lost worker or a crashed engine
makes a run wait."""

from __future__ import annotations

import errno

from tests.unit.runs.test_claim import run_id as run_id  # the fixture: a Queued export run
from twinbridge.db.models import Run
from twinbridge.engines.imodel.errors import EngineCrashedError
from twinbridge.runs.repository import RunRepository
from twinbridge.runs.states import RunKind
from twinbridge.runs.worker import RunExecutors, RunWorker, WorkerContext
from twinbridge.runtime import Runtime


def _worker_raising(runtime: Runtime, failure: Exception) -> RunWorker:
    async def execute(context: WorkerContext, run_id: str) -> None:
        raise failure

    return RunWorker(runtime, RunExecutors(execute={RunKind.EXPORT: execute}, on_timeout={}))


async def _run(runtime: Runtime, run_id: str) -> Run:
    async with runtime.database.transaction() as transaction:
        run = await RunRepository(transaction).get(run_id)
        assert run is not None
        return run


async def test_a_run_whose_executor_raises_ends_error_at_once_without_the_exception_text(
    runtime: Runtime, run_id: str
) -> None:
    worker = _worker_raising(runtime, ValueError(f"cannot open {runtime.settings.data_dir}/blobs/x.bim"))
    assert await worker.run_once() is True
    run = await _run(runtime, run_id)
    assert (run.state, run.result, run.attempts, run.active_imodel_id) == ("Completed", "Error", 1, None)
    error = run.jobs[0].tasks[0].error
    assert error is not None
    assert (error["errorCode"], error["canUserFix"]) == ("UnexpectedError", False)
    assert f"run {run_id}" in error["details"]
    assert str(runtime.settings.data_dir) not in str(error)
    assert await worker.run_once() is False  # nothing is left to retry


async def test_a_run_stopped_by_a_full_disk_says_so(runtime: Runtime, run_id: str) -> None:
    worker = _worker_raising(runtime, OSError(errno.ENOSPC, "No space left on device"))
    await worker.run_once()
    error = (await _run(runtime, run_id)).jobs[0].tasks[0].error
    assert error is not None
    assert (error["errorCode"], error["canUserFix"]) == ("NotEnoughDiskSpace", False)
    assert "No space left on device" in error["details"]


async def test_a_failure_after_another_worker_took_the_run_leaves_the_run_to_it(
    runtime: Runtime, run_id: str
) -> None:
    async def execute(context: WorkerContext, run_id: str) -> None:
        async with runtime.database.transaction() as transaction:  # the lease went to another worker
            runs = RunRepository(transaction)
            run = await runs.get(run_id)
            assert run is not None
            run.worker_id = "another-worker"
            await runs.save(run)
        raise RuntimeError("too late")

    worker = RunWorker(runtime, RunExecutors(execute={RunKind.EXPORT: execute}, on_timeout={}))
    await worker.run_once()
    run = await _run(runtime, run_id)
    assert (run.state, run.worker_id, run.jobs[0].tasks[0].error) == ("Executing", "another-worker", None)


async def test_a_run_whose_engine_crashed_waits_to_be_retried_then_fails_after_its_attempts(
    runtime: Runtime, run_id: str
) -> None:
    worker = _worker_raising(runtime, EngineCrashedError("the engine process was killed by signal 9"))
    assert await worker.run_once() is True
    run = await _run(runtime, run_id)
    assert (run.state, run.result, run.worker_id, run.active_imodel_id) == (
        "WaitingToRetry",
        "Undetermined",
        None,
        run.imodel_id,
    )
    task = run.jobs[0].tasks[0]
    assert (task.state, task.retry_attempts, task.error) == ("WaitingToRetry", 1, None)
    for _ in range(runtime.settings.run_max_attempts - 1):  # each retry crashes again
        assert await worker.run_once() is True
    assert await worker.run_once() is False  # one attempt too many: the claim fails the run
    run = await _run(runtime, run_id)
    assert (run.state, run.result, run.attempts) == (
        "Completed",
        "Error",
        runtime.settings.run_max_attempts + 1,
    )
    error = run.jobs[0].tasks[0].error
    assert error is not None
    assert error["errorCode"] == "RunInterrupted"


async def test_a_worker_worn_out_after_a_run_stops_and_says_so(runtime: Runtime, run_id: str) -> None:
    executed: list[str] = []

    async def execute(context: WorkerContext, run_id: str) -> None:
        executed.append(run_id)

    worker = RunWorker(runtime, RunExecutors(execute={RunKind.EXPORT: execute}, on_timeout={}))
    asked: list[bool] = []

    def worn_out() -> bool:
        asked.append(True)
        return True

    # Never asked to stop: only being worn out after the run ends the loop.
    assert await worker.run_forever(lambda _timeout: False, lambda: False, worn_out) is True
    assert executed == [run_id]
    assert asked == [True]  # asked once, after the run, not while idle


async def test_a_worker_asked_to_stop_says_it_was_not_worn_out(runtime: Runtime, run_id: str) -> None:
    worker = _worker_raising(runtime, ValueError("never executed"))
    assert await worker.run_forever(lambda _timeout: False, lambda: True, lambda: True) is False
    assert (await _run(runtime, run_id)).state == "Queued"
