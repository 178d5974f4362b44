"""The rules every run follows, Export or Synchronization.

- One active run per iModel and API: a second create answers 303 with the active run of the same API (an
  Export run and a Synchronization run of one iModel may be active together); a create that races another
  one loses on the database's unique constraint and answers 409.
- State: Queued → Executing → Finalizing → Completed; the result is Undetermined until Completed.
- Cancel (twinbridge's extension): a run no worker executes ends Completed/Canceled at once; an executing
  one is marked, and its worker stops it (runs.worker).
- Services never commit; the caller enqueues the run only after its transaction has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from twinbridge.auth.grants import GrantService
from twinbridge.db.database import IntegrityError, Parameters, Transaction
from twinbridge.db.models import Job, Run, Task
from twinbridge.platform.errors import Conflict, NotFound
from twinbridge.platform.ids import new_guid
from twinbridge.platform.paging import Page
from twinbridge.platform.time import utc_now
from twinbridge.runs.repository import Entity, RunOwner, RunRepository
from twinbridge.runs.states import CLAIMABLE_STATES, ExecutionResult, ExecutionState, RunKind
from twinbridge.runs.task_errors import canceled_on_request

if TYPE_CHECKING:
    from twinbridge.auth.tokens import Caller

# Connections' authenticationType values.
USER = "User"
SERVICE = "Service"


class RunRequestInProgress(Conflict):
    default_code = "IModelAlreadyProcessingRequest"
    default_message = "A run request is already being processed."


class ConnectionAlreadyInUse(Conflict):
    default_code = "ConnectionAlreadyInUse"
    default_message = "Connection is already being processed."


class RunNotFound(NotFound):
    default_code = "ConnectionRunNotFound"
    default_message = "Requested Connection Run is not available."


class RunAlreadyCompleted(Conflict):
    """Cancel of a run that has ended (twinbridge's extension; the envelope is the contract's 409)."""

    default_code = "RunAlreadyCompleted"
    default_message = "The run has already completed and cannot be canceled."


@dataclass(frozen=True)
class JobPlan:
    """A job to create with its tasks (one per source file, or one for an export)."""

    connector_type: str | None = None
    phase: str | None = None
    task_sources: Sequence[str | None] = field(default_factory=lambda: [None])


@dataclass(frozen=True)
class RunCreation:
    run: Run
    created: bool  # False: an active run of the iModel already existed and is returned instead


class RunService:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction
        self.repository = RunRepository(transaction)

    async def create(
        self,
        *,
        kind: RunKind,
        connection_id: str,
        imodel_id: str,
        caller: Caller,
        connection_authentication_type: str,
        options: dict[str, Any],
        jobs: Sequence[JobPlan],
    ) -> RunCreation:
        """The new run, or the iModel's active run (created False).

        A run started by a service client acts as that client, whatever the connection's type: a client has
        no user to consent, and GET …/authorizationinformation tells it it is authorized, so its runs must not
        then fail UserNotAuthenticated (docs/compatibility.md). A user's token that carries their consent
        records it here, in the run's own transaction.
        """
        active = await self.repository.active_for_imodel(imodel_id, kind.api)
        if active is not None:
            return RunCreation(active, created=False)
        authentication_type = SERVICE if caller.kind == "service" else connection_authentication_type
        if authentication_type == USER and caller.consents_to_background_runs:
            await GrantService(self.transaction).grant(caller.subject)
        requested_by = caller.subject
        run_id = new_guid()
        run = Run(
            id=run_id,
            kind=kind.value,
            connection_id=connection_id,
            imodel_id=imodel_id,
            active_imodel_id=imodel_id,
            api=kind.api,
            state=ExecutionState.QUEUED.value,
            result=ExecutionResult.UNDETERMINED.value,
            requested_by=requested_by,
            authentication_type=authentication_type,
            options=options,
            started_at=utc_now(),
            jobs=[_new_job(run_id, job_index, plan) for job_index, plan in enumerate(jobs)],
        )
        try:
            await self.repository.add(run)
        except IntegrityError:
            # Another request created the iModel's active run between our check and our insert.
            raise RunRequestInProgress() from None
        return RunCreation(run, created=True)

    async def read_connection(
        self,
        owner: RunOwner[Entity],
        parameters: Parameters,
        run_id: str | None = None,
        page: Page | None = None,
    ) -> tuple[Entity, str | None, list[Run]] | None:
        """A connection, the caller's role on its iTwin and its run `run_id` (or a page of its runs), read
        together: the request every client polls is one statement."""
        offset, limit = (page.skip, page.fetch_limit) if page else (0, 0)
        return await self.repository.read_under(owner, parameters, run_id, offset, limit)

    async def cancel(self, run: Run) -> Run:
        """Cancels a run (POST …/cancel, a twinbridge extension): one no worker executes (Queued,
        WaitingToRetry, or under a lease that expired) ends Completed/Canceled here, in this transaction;
        for one that executes the request is recorded, and its worker stops it within seconds.
        """
        now = utc_now()
        if run.state == ExecutionState.COMPLETED.value or not await self.repository.request_cancel(
            run.id, now
        ):
            raise RunAlreadyCompleted()
        current = await self.repository.get(run.id)
        assert current is not None
        lease_lost = current.lease_expires_at is not None and current.lease_expires_at < now
        if current.state in CLAIMABLE_STATES or lease_lost:
            finish(current, ExecutionResult.CANCELED, task_error=canceled_on_request())
            await self.repository.save(current)
        return current

    async def forget_connection(self, connection_id: str) -> None:
        """Deletes a connection's run history before the connection goes; refused while a run is active."""
        if await self.repository.has_active_for_connection(connection_id):
            raise ConnectionAlreadyInUse()
        await self.repository.delete_for_connection(connection_id)


def _new_job(run_id: str, ordinal: int, plan: JobPlan) -> Job:
    job_id = new_guid()
    return Job(
        id=job_id,
        run_id=run_id,
        ordinal=ordinal,
        connector_type=plan.connector_type,
        phase=plan.phase,
        state=ExecutionState.NOT_STARTED.value,
        result=ExecutionResult.UNDETERMINED.value,
        tasks=[
            Task(
                id=new_guid(),
                job_id=job_id,
                ordinal=task_index,
                state=ExecutionState.NOT_STARTED.value,
                result=ExecutionResult.UNDETERMINED.value,
                retry_attempts=0,
                source_file_id=source,
            )
            for task_index, source in enumerate(plan.task_sources)
        ],
    )


def release_for_retry(run: Run) -> None:
    """A run whose worker was lost goes back to the queue: WaitingToRetry, its retry counted on its tasks.

    The next claim counts the attempt (`attempts`); `retryAttempts` already says a retry is coming.
    """
    run.state = ExecutionState.WAITING_TO_RETRY.value
    run.worker_id = None
    run.lease_expires_at = None
    for job in run.jobs:
        if job.state == ExecutionState.COMPLETED.value:
            continue
        job.state = ExecutionState.WAITING_TO_RETRY.value
        for task in job.tasks:
            if task.state != ExecutionState.COMPLETED.value:
                task.state = ExecutionState.WAITING_TO_RETRY.value
                task.retry_attempts = run.attempts


def finish(
    run: Run,
    result: ExecutionResult,
    *,
    task_error: dict[str, Any] | None = None,
    run_error: dict[str, Any] | None = None,
    output_file_id: str | None = None,
) -> None:
    """Completes a run with every job and task still open, all with the same result."""
    now = utc_now()
    for job in run.jobs:
        job.state = ExecutionState.COMPLETED.value
        job.result = result.value
        job.started_at = job.started_at or now
        job.ended_at = now
        for task in job.tasks:
            if task.state == ExecutionState.COMPLETED.value:
                continue
            task.state = ExecutionState.COMPLETED.value
            task.result = result.value
            task.started_at = task.started_at or now
            task.ended_at = now
            task.error = task_error
            task.output_file_id = output_file_id or task.output_file_id
    complete(run, result, run_error, now)


def complete(
    run: Run, result: ExecutionResult, error: dict[str, Any] | None = None, now: datetime | None = None
) -> None:
    """Ends a run: Completed with its result, no longer active for its iModel, lease released."""
    run.state = ExecutionState.COMPLETED.value
    run.result = result.value
    run.ended_at = now or utc_now()
    run.active_imodel_id = None
    run.worker_id = None
    run.lease_expires_at = None
    if error is not None:
        run.error = error
