"""The scale-out queue: Celery over a broker (Redis, RabbitMQ) carries "execute run X" to `twinbridge worker`.

The database stays the source of truth. A task claims its run through the same lease as the embedded
workers (RunWorker.claim), so a message delivered twice, or one redelivered while its run still executes,
never executes the run twice, and a message for a Completed run does nothing.

Messages are acknowledged late and rejected (requeued) when the worker process executing them is lost,
each process reserving one message at a time: a crash mid-run loses nothing, the message comes back and the
run is claimed again once its lease has expired (retryAttempts goes up, up to TWINBRIDGE_RUN_MAX_ATTEMPTS).

How runs whose lease expired are picked up again in this mode:
- a message that finds its run executing under another worker's live lease is sent again to arrive when
  that lease would expire (then the run is claimed again if its worker died, or the message waits again),
  so a duplicate that arrives mid-run keeps watching the run instead of being lost;
- a worker process killed mid-run: its worker's main process requeues the message at once
  (task_reject_on_worker_lost), which then waits for the lease as above;
- a whole worker (machine) lost: every `twinbridge worker` sweeps the database once per lease period and
  sends a message for each run whose lease expired (requeue_expired_runs); the broker would redeliver the
  lost worker's unacknowledged messages too, but only after the visibility timeout (Redis; set to
  TWINBRIDGE_RUN_TIMEOUT plus two leases so that a live run is not redelivered) or when the connection
  drops (RabbitMQ);
- in any case, a `twinbridge worker` with TWINBRIDGE_QUEUE=inprocess (the database claim loop) executes
  every claimable run, expired leases included, without any message.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
from celery import Celery, bootsteps
from celery.signals import worker_process_init, worker_process_shutdown

from twinbridge.config import Settings
from twinbridge.runs.queue import RunQueue

if TYPE_CHECKING:
    from twinbridge.db.database import Transaction
    from twinbridge.runs.worker import ExecutorsFactory

logger = structlog.get_logger(__name__)

EXECUTE_RUN_TASK = "twinbridge.execute_run"
RUN_QUEUE_NAME = "twinbridge.runs"
# A new worker process warms its engine (about 15 s of CPU, more on a loaded machine) before it reports
# ready to Celery; Celery's default of 4 s would have it killed and restarted forever.
PROCESS_START_TIMEOUT_SECONDS = 300.0
TIMED_OUT_EXIT_CODE = 3
# A message that watches another worker's run looks again this long after the lease would have expired.
LEASE_MARGIN_SECONDS = 1.0
# Sending "execute run X" from the API: a few quick tries, then the request goes on (see enqueue).
ENQUEUE_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.0, "interval_step": 0.2, "interval_max": 0.5}
BROKER_CONNECTION_TIMEOUT_SECONDS = 2.0


def create_celery_app(settings: Settings, executors: ExecutorsFactory | None = None) -> Celery:
    """The Celery app; `executors` only in worker processes (an API node only sends messages)."""
    if not settings.broker_url:
        raise ValueError(
            "TWINBRIDGE_QUEUE=celery needs TWINBRIDGE_BROKER_URL (e.g. redis://127.0.0.1:6379/0)"
        )
    celery = Celery("twinbridge", broker=settings.broker_url, set_as_current=False)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=RUN_QUEUE_NAME,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_proc_alive_timeout=PROCESS_START_TIMEOUT_SECONDS,
        # A pool process over TWINBRIDGE_WORKER_MAX_MEMORY after a task is replaced (Celery counts KiB), as
        # the embedded workers are: IfcOpenShell keeps memory of the files a process has closed.
        worker_max_memory_per_child=settings.worker_max_memory // 1024 or None,
        # The process's structured logging stays in charge of the root logger.
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=BROKER_CONNECTION_TIMEOUT_SECONDS,
        broker_transport_options={
            "visibility_timeout": settings.run_timeout + 2 * settings.run_lease_seconds
        },
    )

    @celery.task(name=EXECUTE_RUN_TASK)
    def execute_run(run_id: str) -> bool:
        """Claims run X through its lease and executes it; True when it was executed by this message."""
        if executors is None:
            raise RuntimeError("this Celery app only sends messages; a worker needs its executors")
        worker = process_worker(settings, executors)
        if worker.execute(run_id):
            if worker.lease_remaining(run_id) is not None:
                # Executed but still active: its engine crashed and it waits to be retried (WaitingToRetry).
                celery.send_task(EXECUTE_RUN_TASK, args=[run_id], queue=RUN_QUEUE_NAME)
            return True
        remaining = worker.lease_remaining(run_id)
        if remaining is not None:
            # The run is executing under another worker's lease. This message comes back when that lease
            # would expire: if the worker has died meanwhile, the run is claimed again; if it is still
            # alive (its heartbeat extends the lease), the message waits again; once the run is Completed,
            # the message is dropped.
            celery.send_task(
                EXECUTE_RUN_TASK,
                args=[run_id],
                queue=RUN_QUEUE_NAME,
                countdown=remaining + LEASE_MARGIN_SECONDS,
            )
        return False

    return celery


class CeleryRunQueue(RunQueue):
    """The API side: sends "execute run X"; called after the transaction that created the run committed."""

    def __init__(self, settings: Settings) -> None:
        self.celery = create_celery_app(settings)

    def enqueue(self, run_id: str) -> None:
        # Called on the event loop's thread: a broker that does not answer must not hold the API for long.
        try:
            self.celery.send_task(
                EXECUTE_RUN_TASK, args=[run_id], queue=RUN_QUEUE_NAME, retry_policy=ENQUEUE_RETRY_POLICY
            )
        except Exception as failure:  # kombu's errors vary by transport; the run is safe in the database
            logger.error(
                "run_enqueue_failed",
                run_id=run_id,
                error=str(failure),
                consequence="the run stays Queued until an API node or a worker starts again and sends it",
            )


class ProcessWorker:
    """One Celery worker process's runtime, run worker, engine and event loop, kept from task to task."""

    def __init__(self, settings: Settings, executors: ExecutorsFactory) -> None:
        from twinbridge.runs.worker import RunWorker
        from twinbridge.runtime import Runtime

        # Tasks are synchronous; every task of this process runs on this one loop, to which the database
        # connections of the runtime belong.
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.runtime = Runtime.create(settings)
        self.worker = RunWorker(self.runtime, executors())

    def warm_up(self) -> None:
        self.worker.context.warm_up()

    def execute(self, run_id: str) -> bool:
        from twinbridge.runs.worker import RunTimedOut

        try:
            return self.loop.run_until_complete(self.worker.run_given(run_id))
        except RunTimedOut:
            # The timed-out run's thread cannot be stopped from outside; ending the process ends it and its
            # engine. The message is requeued (worker lost) and then finds the run Completed (TimedOut).
            logger.warning("worker_process_exits_after_timeout", run_id=run_id)
            os._exit(TIMED_OUT_EXIT_CODE)

    def lease_remaining(self, run_id: str) -> float | None:
        return self.loop.run_until_complete(self.worker.lease_remaining(run_id))

    def close(self) -> None:
        self.worker.context.release()
        self.loop.run_until_complete(self.runtime.aclose())
        self.loop.close()


_process_worker: ProcessWorker | None = None


def process_worker(settings: Settings, executors: ExecutorsFactory) -> ProcessWorker:
    """This process's worker, built on first use (the solo pool sends no worker_process_init)."""
    global _process_worker
    if _process_worker is None:
        _process_worker = ProcessWorker(settings, executors)
    return _process_worker


def requeue_expired_runs(settings: Settings, celery: Celery) -> list[str]:
    """Puts every run whose lease expired (its worker died) back in the queue; their run ids.

    Each goes to WaitingToRetry in the database before its message is sent, so the next sweep (of this or
    any other worker) does not send it again.
    """
    from twinbridge.platform.time import utc_now
    from twinbridge.runs.repository import RunRepository
    from twinbridge.runs.service import release_for_retry

    async def release(transaction: Transaction) -> list[str]:
        repository = RunRepository(transaction)
        runs = await repository.expired_leases(utc_now())
        for run in runs:
            release_for_retry(run)
            await repository.save(run)
        return [run.id for run in runs]

    run_ids = asyncio.run(_in_transaction(settings, release))
    _send_all(celery, run_ids)
    if run_ids:
        logger.warning("expired_runs_requeued", run_ids=run_ids)
    return run_ids


def requeue_waiting_runs(settings: Settings, celery: Celery) -> list[str]:
    """Sends "execute run X" for every run waiting for a worker; their run ids.

    An API node does it when it starts: a run whose message could not be sent (the broker was away when the
    run was created) is not left waiting for ever. A run whose message is in the broker gets a second one,
    which finds it executing or Completed and does nothing.
    """
    from twinbridge.runs.repository import RunRepository

    async def waiting(transaction: Transaction) -> list[str]:
        return await RunRepository(transaction).claimable_ids()

    run_ids = asyncio.run(_in_transaction(settings, waiting))
    _send_all(celery, run_ids)
    if run_ids:
        logger.info("waiting_runs_requeued", run_ids=run_ids)
    return run_ids


async def _in_transaction(
    settings: Settings, work: Callable[[Transaction], Awaitable[list[str]]]
) -> list[str]:
    """`work` in one committed transaction, on a database connection of its own, closed at once.

    A worker's main process forks its pool processes and must not hold database connections when it does.
    """
    from twinbridge.db.database import open_database

    database = open_database(settings)
    try:
        async with database.transaction() as transaction:
            return await work(transaction)
    finally:
        await database.close()


def _send_all(celery: Celery, run_ids: list[str]) -> None:
    for run_id in run_ids:
        celery.send_task(EXECUTE_RUN_TASK, args=[run_id], queue=RUN_QUEUE_NAME)


def _expired_lease_sweep(settings: Settings, celery: Celery) -> type[bootsteps.StartStopStep]:
    """A step of the worker's main process: every lease period, runs whose worker died get a new message.

    Without it, a run whose whole worker was lost (machine gone, kill -9 of the main process) would wait for
    the broker's visibility timeout (Redis: over an hour) before its message is delivered again.
    """

    def sweep() -> None:
        try:
            requeue_expired_runs(settings, celery)
        except Exception:  # the database may be away for a while; the next sweep tries again
            logger.exception("expired_run_sweep_failed")

    class ExpiredLeaseSweep(bootsteps.StartStopStep):
        requires = ("celery.worker.components:Timer",)

        def start(self, worker: Any) -> None:
            sweep()
            try:
                requeue_waiting_runs(settings, celery)
            except Exception:
                logger.exception("waiting_run_requeue_failed")
            self.timer_reference = worker.timer.call_repeatedly(
                settings.run_lease_seconds, sweep, priority=10
            )

        def stop(self, worker: Any) -> None:
            reference = getattr(self, "timer_reference", None)
            if reference is not None:
                reference.cancel()

    return ExpiredLeaseSweep


def run_celery_worker(settings: Settings, executors: ExecutorsFactory, log_level: str = "info") -> None:
    """`twinbridge worker` with TWINBRIDGE_QUEUE=celery: TWINBRIDGE_WORKERS processes, one run each."""
    celery = create_celery_app(settings, executors)

    def start_process(**_: Any) -> None:
        # Each process warms its engine once, before it takes its first message: no run pays for it.
        worker = process_worker(settings, executors)
        worker.warm_up()
        # Celery says "ready" before its processes are: this says when one can take a run at full speed.
        logger.info("worker_process_ready", worker_id=worker.worker.context.worker_id)

    def stop_process(**_: Any) -> None:
        global _process_worker
        if _process_worker is not None:
            _process_worker.close()
            _process_worker = None

    celery.steps["worker"].add(_expired_lease_sweep(settings, celery))
    worker_process_init.connect(start_process, weak=False)
    worker_process_shutdown.connect(stop_process, weak=False)
    celery.worker_main(
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={settings.workers}",
            f"--queues={RUN_QUEUE_NAME}",
            f"--loglevel={log_level.upper()}",
            # Several workers may run on one machine; Celery wants distinct node names.
            f"--hostname=twinbridge-{os.getpid()}@{socket.gethostname()}",
            # Workers need not know about each other: the database coordinates them.
            "--without-gossip",
            "--without-mingle",
        ]
    )
