"""Which function executes which kind of run. Imported lazily so that API processes never load engines."""

from __future__ import annotations

from twinbridge.runs.states import RunKind
from twinbridge.runs.worker import Executor, TimeoutHandler, WorkerContext


def executors() -> tuple[dict[RunKind, Executor], dict[RunKind, TimeoutHandler]]:
    from twinbridge.export.execution import execute_export_run, time_out_export_run
    from twinbridge.synchronization.execution import execute_synchronization_run, time_out_synchronization_run

    return (
        {
            RunKind.EXPORT: execute_export_run,
            RunKind.MANIFEST: execute_synchronization_run,
            RunKind.STORAGE: execute_synchronization_run,
        },
        {
            RunKind.EXPORT: time_out_export_run,
            RunKind.MANIFEST: time_out_synchronization_run,
            RunKind.STORAGE: time_out_synchronization_run,
        },
    )


def warm_up(context: WorkerContext) -> None:
    """Starts and warms the worker's engine before it takes a run: no run pays for the warm-up."""
    from twinbridge.export.execution import engine_pool

    engine_pool(context).start()


def release(context: WorkerContext) -> None:
    pool = context.resources.pop("engine_pool", None)
    if pool is not None:
        pool.close()
