"""The embedded mode's run workers: processes of their own, so that an export never stalls API requests.

`serve` starts TWINBRIDGE_WORKERS processes; each executes one run at a time and keeps its engine warm
between runs. A process that dies (a crash, or a run that timed out) is replaced.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING, Any

import structlog

from twinbridge.config import Settings

if TYPE_CHECKING:
    from twinbridge.runs.worker import ExecutorsFactory

logger = structlog.get_logger(__name__)

TIMED_OUT_EXIT_CODE = 3
# A worker that ends after a run because its memory grew over TWINBRIDGE_WORKER_MAX_MEMORY.
RECYCLED_EXIT_CODE = 4
SUPERVISE_SECONDS = 1.0
PARENT_CHECK_SECONDS = 0.5
WORKER_NICENESS = 10


def worker_process_main(
    settings_values: dict[str, Any], executors: ExecutorsFactory, wake: Event, stop: Event
) -> None:
    """Entry point of a worker process."""
    from twinbridge.platform.observability import configure_logging
    from twinbridge.runs.worker import RunTimedOut, RunWorker
    from twinbridge.runtime import Runtime

    configure_logging()
    settings = Settings(**settings_values)
    _exit_with_parent()
    # Exports are long and CPU-bound, API requests short: the workers (and the engines they start, which
    # inherit it) yield the CPU to the API process.
    os.nice(WORKER_NICENESS)

    def wait(timeout: float) -> bool:
        woken = wake.wait(timeout)
        wake.clear()
        return woken

    def worn_out() -> bool:
        resident = resident_memory_bytes()
        if settings.worker_max_memory and resident > settings.worker_max_memory:
            logger.info(
                "run_worker_recycled",
                resident_memory_bytes=resident,
                worker_max_memory=settings.worker_max_memory,
            )
            return True
        return False

    async def main() -> bool:
        runtime = Runtime.create(settings)
        worker = RunWorker(runtime, executors())
        try:
            await asyncio.to_thread(worker.context.warm_up)
            return await worker.run_forever(wait, stop.is_set, worn_out)
        finally:
            await asyncio.to_thread(worker.context.release)
            await runtime.aclose()

    try:
        if asyncio.run(main()):
            sys.exit(RECYCLED_EXIT_CODE)  # the supervisor starts a fresh worker
    except RunTimedOut:
        # The timed-out run's thread cannot be stopped from outside; ending the process ends it (and its
        # engine, whose stdin closes). The supervisor starts a fresh worker.
        os._exit(TIMED_OUT_EXIT_CODE)
    except KeyboardInterrupt:
        pass


def resident_memory_bytes() -> int:
    """The process's resident memory now (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _exit_with_parent() -> None:
    """A worker must not outlive its server (even one killed with -9): it would hold runs nobody sees."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class EmbeddedWorkers:
    def __init__(self, settings: Settings, executors: ExecutorsFactory, count: int | None = None) -> None:
        self.settings = settings
        self.executors = executors
        self.count = count or settings.workers
        self.context = multiprocessing.get_context("spawn")
        self.wake = self.context.Event()
        self.stop_event = self.context.Event()
        self.processes: list[SpawnProcess] = []
        self.supervisor: threading.Thread | None = None
        self.stopping = threading.Event()

    def _spawn(self) -> SpawnProcess:
        """Starts a worker with SIGINT blocked (the mask survives fork and exec).

        A Ctrl-C in the terminal goes to every process of its group; the server alone should take it and
        stop its workers through the stop event, between runs, rather than have each one interrupted in the
        middle of whatever it was importing or writing, with a traceback on the user's screen.
        """
        process = self.context.Process(
            target=worker_process_main,
            args=(self.settings.model_dump(), self.executors, self.wake, self.stop_event),
            name="twinbridge-run-worker",
            daemon=True,
        )
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        return process

    def start(self) -> None:
        self.processes = [self._spawn() for _ in range(self.count)]
        self.supervisor = threading.Thread(target=self._supervise, name="run-worker-supervisor", daemon=True)
        self.supervisor.start()

    def _supervise(self) -> None:
        while not self.stopping.wait(SUPERVISE_SECONDS):
            for index, process in enumerate(self.processes):
                if not process.is_alive() and not self.stopping.is_set():
                    if process.exitcode == RECYCLED_EXIT_CODE:
                        logger.info("run_worker_replaced", reason="memory", pid=process.pid)
                    else:
                        logger.warning("run_worker_replaced", exit_code=process.exitcode, pid=process.pid)
                    self.processes[index] = self._spawn()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.stop_event.set()
        self.wake.set()
        for process in self.processes:
            process.join(timeout)
            if process.is_alive():
                process.terminate()
                process.join(5)
