"""Executing a scripted run in a worker: the rule's states, one after the other, then its result.

A scripted run writes its run, job and task rows as a real run of its API does (twinbridge.export.execution,
twinbridge.synchronization.execution): the same states and timestamps, visible through the normal GET run
operations while it progresses, and the same shapes at the end (an export's output file in storage, a
synchronization task's `details.synchronizationReport`). What it does not do: write a new iModel version,
PUT to outputSasUrl, or write a synchronization diagnostic report (docs/compatibility.md).

Each step is written only while the run is still this worker's: a run cancelled or taken over meanwhile is
left alone. A held step waits, polling the database, until POST /_twinbridge/holds/{runId}/release.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import structlog

from twinbridge.control.scripts.output import write_minimal_ifc
from twinbridge.control.scripts.repository import ScriptRepository
from twinbridge.control.scripts.service import ScriptService
from twinbridge.db.models import Run
from twinbridge.platform.time import utc_now
from twinbridge.runs.repository import RunRepository
from twinbridge.runs.service import finish
from twinbridge.runs.states import ExecutionResult, ExecutionState, JobPhase, RunKind
from twinbridge.runs.task_errors import USER_NOT_AUTHENTICATED, run_timed_out, task_error
from twinbridge.runs.worker import Executor, WorkerContext
from twinbridge.runs.workspace import run_workspace

logger = structlog.get_logger(__name__)

HOLD_POLL_SECONDS = 0.05
# Steps in which the run's jobs and tasks have not started yet (as when the run was created).
_NOT_STARTED_YET = {
    ExecutionState.NOT_STARTED.value,
    ExecutionState.IDLE.value,
    ExecutionState.QUEUED.value,
    ExecutionState.WAITING_TO_EXECUTE.value,
}


def with_scripts(real: Executor) -> Executor:
    """`real`, unless the run follows a script: a matching rule's, or the default one of
    TWINBRIDGE_SCRIPTED_RUNS_ONLY. An engine-fault rule runs `real` with the engine crashing under it once."""

    async def execute(context: WorkerContext, run_id: str) -> None:
        settings = context.settings
        if not (settings.control_api or settings.scripted_runs_only):
            await real(context, run_id)
            return
        async with context.runtime.database.transaction() as transaction:
            run = await RunRepository(transaction).get(run_id)
            if run is None:
                return
            chosen = await ScriptService(transaction).script_for(
                run, scripted_runs_only=settings.scripted_runs_only
            )
        if chosen is None:
            await real(context, run_id)
            return
        scripted, chosen_now = chosen
        if scripted.engine_fault is None:
            await play(context, run_id, scripted.script or {})
        elif chosen_now:  # an engine fault strikes the attempt that chose it, not its retries
            logger.warning("engine_crash_injected", run_id=run_id, rule_id=scripted.rule_id)
            context.engine_pool().crash_next_acquired()
            try:
                await real(context, run_id)
            finally:  # a run that ended before it took an engine leaves no crash to the next run
                context.engine_pool().crash_next_acquired(False)
        elif not (scripted.script or {}).get("holdRetry") or await _held_for_retry(context, run_id):
            await real(context, run_id)

    return execute


async def _held_for_retry(context: WorkerContext, run_id: str) -> bool:
    """Shows the run waiting to be retried, as the worker left it, until the test releases it; False when
    it stopped being ours meanwhile."""
    step = {"state": ExecutionState.WAITING_TO_RETRY.value, "hold": True, "phase": None}
    return await _enter(context, run_id, step) and await _wait_for_release(context, run_id)


async def play(context: WorkerContext, run_id: str, script: dict[str, Any]) -> None:
    """The script's steps, then its result."""
    for step in script["steps"]:
        if not await _enter(context, run_id, step):
            return
        if step["hold"]:
            if not await _wait_for_release(context, run_id):
                return
        else:
            await asyncio.sleep(step["durationMs"] / 1000)
    await _complete(context, run_id, script)


async def _enter(context: WorkerContext, run_id: str, step: dict[str, Any]) -> bool:
    """Shows the step's state on the run, its jobs and tasks; False when the run is no longer ours."""
    async with context.runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        if not _ours(context, run):
            return False
        assert run is not None
        _show(run, step)
        await runs.save(run)
        if step["hold"]:
            await ScriptRepository(transaction).hold(run_id, step["state"])
        return True


def _ours(context: WorkerContext, run: Run | None) -> bool:
    return (
        run is not None and run.worker_id == context.worker_id and run.state != ExecutionState.COMPLETED.value
    )


def _show(run: Run, step: dict[str, Any]) -> None:
    """The step's state as a real run shows it: jobs and tasks not started while the run waits to execute,
    executing (with their start times and retry count) from Executing on; Finalizing is the run's alone."""
    state = step["state"]
    now = utc_now()
    run.state = state
    if step.get("phase"):
        run.phase = step["phase"]
    elif run.kind != RunKind.EXPORT.value and state not in _NOT_STARTED_YET and run.phase is None:
        run.phase = JobPhase.PREPROCESSOR.value
    for job in run.jobs:
        if job.state == ExecutionState.COMPLETED.value:
            continue
        if state in _NOT_STARTED_YET:
            job.state = ExecutionState.NOT_STARTED.value
        elif state == ExecutionState.WAITING_TO_RETRY.value:
            job.state = state
        else:
            job.state = ExecutionState.EXECUTING.value
            job.started_at = job.started_at or now
        for task in job.tasks:
            task.state = job.state
            if job.state == ExecutionState.EXECUTING.value:
                task.started_at = task.started_at or now
                task.retry_attempts = max(run.attempts - 1, 0)
            elif state == ExecutionState.WAITING_TO_RETRY.value:
                task.retry_attempts = max(task.retry_attempts, 1)  # as a real run's: a retry is coming


async def _wait_for_release(context: WorkerContext, run_id: str) -> bool:
    """Until the test releases the run; False when it stopped being ours meanwhile (cancelled, taken over)."""
    while True:
        await asyncio.sleep(HOLD_POLL_SECONDS)
        async with context.runtime.database.transaction(write=False) as transaction:
            run = await RunRepository(transaction).get(run_id)
            if not _ours(context, run):
                return False
            if await ScriptRepository(transaction).held_state(run_id) is None:
                return True


def _default_task_error(run: Run, result: ExecutionResult, run_timeout: int) -> dict[str, Any] | None:
    """The task error a real run ends with for `result`, when the rule gives none."""
    export = run.kind == RunKind.EXPORT.value
    if result is ExecutionResult.TIMED_OUT:
        return run_timed_out(run_timeout, "export" if export else "synchronization")
    if result is ExecutionResult.PARTIAL_SUCCESS and export:
        return task_error(
            code="GeometryFallback",
            message="Some elements were exported with their bounding box.",
            details="1 element(s) could not be tessellated and were exported as boxes: 0x20000000001",
            description_key="GeometryFallback",
            description="Some geometry was simplified.",
            can_user_fix=False,
        )
    if result is ExecutionResult.ERROR:
        return task_error(
            code="EngineFailed" if export else "ConnectorFailed",
            message="Failed to export your file." if export else "Failed to process the file.",
            details="The run failed (a scripted run of the control API).",
            description_key="FailedToExport" if export else "FailedToSynchronize",
            description="Failed to export your file." if export else "Failed to process the file.",
            can_user_fix=False,
            phase="export_file" if export else "master_file",
        )
    return None


def _user_not_authenticated(run: Run) -> dict[str, Any]:
    return task_error(
        code="UserNotAuthenticated",
        message="User is not authenticated.",
        details=f"User '{run.requested_by}' has not authorized background runs.",
        description_key="UserNotAuthenticated",
        description="User is not authenticated.",
        can_user_fix=True,
        phase="authorization",
    )


def _synchronization_details(result: ExecutionResult, error: dict[str, Any] | None) -> dict[str, Any]:
    """A synchronization task's details as a real run writes them (upstream's synchronizationReport)."""
    errors = 1 if result is ExecutionResult.ERROR else 0
    warnings = 1 if result is ExecutionResult.PARTIAL_SUCCESS else 0
    message = error["details"] if error else ""
    return {
        "synchronizationReport": {
            "suggestedAction": "Error" if errors else ("Warning" if warnings else "None"),
            "message": message,
            "totalErrorsCount": errors,
            "totalWarningsCount": warnings,
            "totalOtherIssuesCount": 0,
        }
    }


async def _complete(context: WorkerContext, run_id: str, script: dict[str, Any]) -> None:
    """Ends the run with the script's result, errors and (exports) output file, in one transaction."""
    result = ExecutionResult(script["result"])
    async with context.runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        if not _ours(context, run):
            return
        assert run is not None
        run_error = script.get("runError")
        error = script.get("taskError")
        if error is None and run_error and run_error.get("errorKey") == USER_NOT_AUTHENTICATED["errorKey"]:
            error = _user_not_authenticated(run)
        if error is None:
            error = _default_task_error(run, result, context.settings.run_timeout)
        output_file_id = None
        if run.kind == RunKind.EXPORT.value:
            output = script.get("outputFile")
            if output is not None or result in (ExecutionResult.SUCCESS, ExecutionResult.PARTIAL_SUCCESS):
                output_file_id = await _store_output(context, transaction, run, output)
        else:
            for job in run.jobs:
                for task in job.tasks:
                    if task.state != ExecutionState.COMPLETED.value:
                        task.details = _synchronization_details(result, error)
        finish(run, result, task_error=error, run_error=run_error, output_file_id=output_file_id)
        await runs.save(run)


async def _store_output(
    context: WorkerContext, transaction: Any, run: Run, output: dict[str, Any] | None
) -> str:
    """The export's output in storage, under the id a real run's output has: the rule's content, a stored
    file the rule names (its id is the output's), or a small IFC file of the run's version."""
    from twinbridge.export.execution import output_file_id, output_name
    from twinbridge.imodels.repository import IModelRepository
    from twinbridge.storage.service import StorageService

    if output is not None and output.get("fileId"):
        return str(output["fileId"])
    imodel = await IModelRepository(transaction).get(run.imodel_id)
    assert imodel is not None
    name = (output or {}).get("fileName") or output_name(imodel.name)
    with run_workspace(context.settings, run.id) as directory:
        path = directory / "output"
        if output is not None:
            await asyncio.to_thread(path.write_bytes, base64.b64decode(output["content"]))
        else:
            await asyncio.to_thread(write_minimal_ifc, path, run.options.get("ifcVersion"), imodel.name)
        stored = await StorageService(transaction, context.runtime.blobs).store_file(
            imodel.itwin_id,
            name,
            path,
            run.requested_by,
            description=f"IFC export of iModel {imodel.name} (scripted run)",
            file_id=output_file_id(run.id),
        )
    return stored.id
