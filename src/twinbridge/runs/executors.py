"""Which function executes which kind of run. Imported lazily so that API processes never load engines."""

from __future__ import annotations

from twinbridge.runs.states import RunKind
from twinbridge.runs.worker import Executor, TimeoutHandler


def executors() -> tuple[dict[RunKind, Executor], dict[RunKind, TimeoutHandler]]:
    from twinbridge.export.execution import execute_export_run, time_out_export_run

    return {RunKind.EXPORT: execute_export_run}, {RunKind.EXPORT: time_out_export_run}
