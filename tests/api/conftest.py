"""Fixtures of the in-process API tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from twinbridge.features import run_executors
from twinbridge.runs.worker import RunWorker
from twinbridge.runtime import Runtime


@pytest.fixture
def execute_queued_runs(runtime: Runtime) -> Callable[[], Awaitable[None]]:
    """Executes every queued run with a real worker (and engine), in this process, until none is left."""

    async def execute() -> None:
        worker = RunWorker(runtime, run_executors())
        try:
            while await worker.run_once():
                pass
        finally:
            await asyncio.to_thread(worker.context.release)

    return execute
