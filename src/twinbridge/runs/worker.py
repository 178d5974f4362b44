"""A worker claims runs from the database and executes them, one at a time, under a lease.

The lease is extended by a heartbeat while the run executes; if the worker dies, the lease expires and
another worker (or this one after a restart) claims the run again. A run that outlives
TWINBRIDGE_RUN_TIMEOUT ends TimedOut, and the worker process exits so that nothing of the run lingers. A
run whose executor raises ends Error at once (NotEnoughDiskSpace for a full disk, UnexpectedError
otherwise), except when its engine crashed: like a lost worker, that is the infrastructure's failure, so the
run goes back to WaitingToRetry (bounded by TWINBRIDGE_RUN_MAX_ATTEMPTS) on a fresh engine.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog

from twinbridge.config import Settings
from twinbridge.platform.disk import is_disk_full
from twinbridge.platform.time import utc_now
from twinbridge.runs.cancellation import Cancellation
from twinbridge.runs.repository import RunRepository
from twinbridge.runs.service import finish, release_for_retry
from twinbridge.runs.states import ExecutionResult, ExecutionState, RunKind
from twinbridge.runs.task_errors import (
    canceled_on_request,
    not_enough_disk_space,
    task_error,
    unexpected_failure,
)
from twinbridge.runtime import Runtime

if TYPE_CHECKING:
    from twinbridge.engines.imodel import EnginePool

logger = structlog.get_logger(__name__)

IDLE_POLL_SECONDS = 1.0


@dataclass
class WorkerContext:
    """What an executor needs: the process's runtime, its engine, and who it is."""

    runtime: Runtime
    worker_id: str
    _engine_pool: EnginePool | None = field(default=None, repr=False)
    # Whether the run executing now was canceled (POST …/cancel); runs.cancellation.
    cancellation: Cancellation = field(default_factory=Cancellation)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def engine_pool(self) -> EnginePool:
        """The process's engine: one, as a worker process executes one run at a time; warmed once and used
        by every run of the process."""
        if self._engine_pool is None:
            from twinbridge.engines.imodel import EnginePool  # engines load only in processes that run

            self._engine_pool = EnginePool.from_settings(self.settings.model_copy(update={"workers": 1}))
        return self._engine_pool

    def warm_up(self) -> None:
        """Starts and warms the engine before the worker takes a run: no run pays for the warm-up.

        Not with TWINBRIDGE_SCRIPTED_RUNS_ONLY: scripted runs need no engine, and the server starts at once.
        """
        if not self.settings.scripted_runs_only:
            self.engine_pool().start()

    def stop_engine_work(self) -> None:
        """A canceled run: its engine processes are killed now, and none starts until `resume_engine`."""
        if self._engine_pool is not None:
            self._engine_pool.interrupt()

    def resume_engine(self) -> None:
        """After a canceled run has ended: a fresh engine, warmed before the next run."""
        if self._engine_pool is not None:
            self._engine_pool.resume()
            self.warm_up()

    def release(self) -> None:
        if self._engine_pool is not None:
            self._engine_pool.close()
            self._engine_pool = None


Executor = Callable[[WorkerContext, str], Awaitable[None]]
TimeoutHandler = Callable[[WorkerContext, str], Awaitable[None]]


@dataclass(frozen=True)
class RunExecutors:
    """How each kind of run is executed, and what ends one that outlived the time limit.

    Features provide them (twinbridge.features); the run machinery never imports a feature.
    """

    execute: dict[RunKind, Executor]
    on_timeout: dict[RunKind, TimeoutHandler]


# A module-level function returning the executors: it travels by name to the processes that run them.
ExecutorsFactory = Callable[[], RunExecutors]


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RunWorker:
    def __init__(self, runtime: Runtime, executors: RunExecutors, worker_id: str | None = None) -> None:
        self.context = WorkerContext(runtime=runtime, worker_id=worker_id or new_worker_id())
        self.executors = executors

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.context.settings.run_lease_seconds)

    async def claim_next(self) -> tuple[str, RunKind] | None:
        """Claims the next run; a run interrupted too often (crashes, restarts) is failed instead."""
        while True:
            now = utc_now()
            async with self.context.runtime.database.transaction() as transaction:
                repository = RunRepository(transaction)
                run_id = await repository.next_claimable_id(now)
                if run_id is None:
                    return None
                if not await repository.claim(run_id, self.context.worker_id, now, now + self.lease):
                    continue
                claimed = await self._admit(repository, run_id)
                if claimed is not None:
                    return claimed

    async def claim(self, run_id: str) -> tuple[str, RunKind] | None:
        """Claims one given run (a queue message names it) under the same rules as `claim_next`.

        None when the run is not to be executed here: it is Completed, another worker holds a live lease on
        it (so a message delivered twice never executes a run twice), it no longer exists, or it was
        interrupted too often and has just been failed.
        """
        now = utc_now()
        async with self.context.runtime.database.transaction() as transaction:
            repository = RunRepository(transaction)
            if not await repository.claim(run_id, self.context.worker_id, now, now + self.lease):
                return None
            return await self._admit(repository, run_id)

    async def _admit(self, repository: RunRepository, run_id: str) -> tuple[str, RunKind] | None:
        """After a successful claim: the run to execute, or None when it has been failed for its attempts."""
        run = await repository.get(run_id)
        assert run is not None
        if run.cancel_requested_at is not None:  # canceled while its worker was lost
            finish(run, ExecutionResult.CANCELED, task_error=canceled_on_request())
            await repository.save(run)
            return None
        if run.attempts <= self.context.settings.run_max_attempts:
            return run.id, RunKind(run.kind)
        finish(run, ExecutionResult.ERROR, task_error=_interrupted_too_often(run.attempts - 1))
        await repository.save(run)
        return None

    async def _heartbeat(self, run_id: str) -> None:
        while True:
            await asyncio.sleep(self.context.settings.run_lease_seconds / 4)
            async with self.context.runtime.database.transaction() as transaction:
                lease_until = utc_now() + self.lease
                if not await RunRepository(transaction).extend_lease(
                    run_id, self.context.worker_id, lease_until
                ):
                    return

    async def execute(self, run_id: str, kind: RunKind) -> bool:
        """Executes one claimed run; False when it timed out (the caller must then stop this process)."""
        heartbeat = asyncio.create_task(self._heartbeat(run_id))
        log = logger.bind(run_id=run_id, kind=kind.value, worker_id=self.context.worker_id)
        log.info("run_started")
        cancellation = self.context.cancellation
        cancellation.reset()
        executing = asyncio.ensure_future(self.executors.execute[kind](self.context, run_id))
        watch = cancellation.watch(
            lambda: self.cancel_requested(run_id), executing, self.context.stop_engine_work
        )
        watcher = asyncio.create_task(watch)
        try:
            await asyncio.wait_for(executing, timeout=self.context.settings.run_timeout)
        except asyncio.CancelledError:
            if not cancellation.requested:
                raise  # the worker itself is being stopped
            log.info("run_canceled")
            await self._end_canceled(run_id)
        except TimeoutError:
            log.warning("run_timed_out", timeout=self.context.settings.run_timeout)
            await self.executors.on_timeout[kind](self.context, run_id)
            return False
        except Exception as failure:
            if _is_engine_crash(failure):
                log.warning("run_engine_crashed", error=str(failure))
                await self._retry_later(run_id)
            else:
                log.exception("run_failed")
                await self._fail(run_id, failure)
        finally:
            heartbeat.cancel()
            watcher.cancel()
            if cancellation.requested:
                await asyncio.to_thread(self.context.resume_engine)
        log.info("run_finished")
        return True

    async def cancel_requested(self, run_id: str) -> bool:
        """Whether a caller asked to cancel the run (POST …/cancel); the watcher of `execute` polls this."""
        async with self.context.runtime.database.transaction(write=False) as transaction:
            return await RunRepository(transaction).cancel_requested(run_id)

    async def _end_canceled(self, run_id: str) -> None:
        """Ends a canceled run Completed/Canceled, unless it ended meanwhile or another worker holds it."""
        async with self.context.runtime.database.transaction() as transaction:
            repository = RunRepository(transaction)
            run = await repository.get(run_id)
            if run is None or run.worker_id != self.context.worker_id:
                return
            finish(run, ExecutionResult.CANCELED, task_error=canceled_on_request())
            await repository.save(run)

    async def _fail(self, run_id: str, failure: Exception) -> None:
        """Ends the run its executor gave up on with a task error, unless another worker holds it now."""
        async with self.context.runtime.database.transaction() as transaction:
            repository = RunRepository(transaction)
            run = await repository.get(run_id)
            if run is None or run.worker_id != self.context.worker_id:
                return
            error = (
                not_enough_disk_space(failure, phase="orchestration")
                if is_disk_full(failure)
                else unexpected_failure(run_id)
            )
            finish(run, ExecutionResult.ERROR, task_error=error)
            await repository.save(run)

    async def _retry_later(self, run_id: str) -> None:
        """Puts a run whose engine crashed back in the queue (WaitingToRetry), as for a lost worker; the next
        claim counts the attempt and fails the run once it has had TWINBRIDGE_RUN_MAX_ATTEMPTS."""
        async with self.context.runtime.database.transaction() as transaction:
            repository = RunRepository(transaction)
            run = await repository.get(run_id)
            if run is None or run.worker_id != self.context.worker_id:
                return
            release_for_retry(run)
            await repository.save(run)

    async def run_once(self) -> bool:
        """Claims and executes one run if there is one; True when a run was executed."""
        claimed = await self.claim_next()
        if claimed is None:
            return False
        if not await self.execute(*claimed):
            raise RunTimedOut(claimed[0])
        return True

    async def run_given(self, run_id: str) -> bool:
        """Claims and executes the given run (a queue message names it); True when it was executed here."""
        claimed = await self.claim(run_id)
        if claimed is None:
            return False
        if not await self.execute(*claimed):
            raise RunTimedOut(run_id)
        return True

    async def lease_remaining(self, run_id: str) -> float | None:
        """Seconds until the lease on an unfinished run expires; None when the run is Completed or gone."""
        async with self.context.runtime.database.transaction(write=False) as transaction:
            run = await RunRepository(transaction).get(run_id)
            if run is None or run.state == ExecutionState.COMPLETED.value:
                return None
            if run.lease_expires_at is None:
                return 0.0
            return max((run.lease_expires_at - utc_now()).total_seconds(), 0.0)

    async def run_forever(
        self,
        wake: Callable[[float], bool],
        should_stop: Callable[[], bool],
        worn_out: Callable[[], bool] | None = None,
    ) -> bool:
        """Executes runs until `should_stop`; returns True when it stopped because `worn_out` said so after a
        run (its process is then to be replaced), False otherwise."""
        while not should_stop():
            try:
                executed = await self.run_once()
            except RunTimedOut:
                raise
            except Exception:  # a broken run must not stop the worker; the run's own handler recorded it
                logger.exception("worker_loop_error", worker_id=self.context.worker_id)
                executed = False
            if executed and worn_out is not None and worn_out():
                return True
            if not executed:
                await asyncio.to_thread(wake, IDLE_POLL_SECONDS)
        return False


def _is_engine_crash(failure: BaseException) -> bool:
    """Whether an executor failed because its engine process died (engines/imodel EngineCrashedError)."""
    from twinbridge.engines.imodel.errors import EngineCrashedError  # loaded only where runs execute

    return isinstance(failure, EngineCrashedError)


def _interrupted_too_often(attempts: int) -> dict[str, Any]:
    return task_error(
        code="RunInterrupted",
        message="The run was interrupted too many times.",
        details=f"The run was started {attempts} times and each attempt was interrupted (a worker stopped "
        "or the server restarted before it finished); it will not be tried again. Start a new run.",
        description_key="RunInterrupted",
        description="The run could not be completed.",
        can_user_fix=False,
        phase="orchestration",
    )


class RunTimedOut(Exception):
    """Raised out of the worker loop so that the process ends and its stuck work with it."""
