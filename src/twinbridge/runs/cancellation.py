"""Cancelling an executing run, the worker's side (POST …/runs/{runId}/cancel is twinbridge's extension:
upstream has no way to stop a run).

The API records the request on the run (`cancel_requested_at`); the worker executing it polls that column
every CANCEL_POLL_SECONDS (one indexed read) and then cancels the executor's task and stops the engine work.
That work runs in a thread, which nothing can stop from outside: the worker kills the engine processes and
its pool refuses to start new ones until the run has ended, so the thread's next engine call fails at once
and the thread ends. The executor waits for it (`in_thread`) before its workspace is removed, so nothing
half-written outlives the run. Writing a run's results (its output file, its new iModel version) happens in
one transaction that checks the request itself; the worker does not cancel it midway (`finalizing`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

CANCEL_POLL_SECONDS = 1.0
Result = TypeVar("Result")


@dataclass
class Cancellation:
    """Whether the run the worker executes now was canceled, and whether it may be interrupted."""

    requested: bool = False
    _finalizing: bool = False

    def reset(self) -> None:
        self.requested = False
        self._finalizing = False

    @contextlib.contextmanager
    def finalizing(self) -> Iterator[None]:
        """While the executor writes the run's results in one transaction (which checks for a request to
        cancel itself): a cancel is not acted on midway, where blobs could be written without their rows."""
        self._finalizing = True
        try:
            yield
        finally:
            self._finalizing = False

    async def in_thread(self, function: Callable[..., Result], *arguments: Any) -> Result:
        """`asyncio.to_thread`, except that a canceled run waits for its thread to end (its engine is killed,
        so that is soon): the caller then removes the files the thread was writing. A run that timed out
        does not wait: its process is ended instead (runs.embedded)."""
        work = asyncio.ensure_future(asyncio.to_thread(function, *arguments))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            if self.requested:
                await asyncio.wait({work})
                if not work.cancelled():
                    work.exception()  # the engine call the cancel made fail: expected, not logged
            raise

    async def watch(
        self,
        is_requested: Callable[[], Awaitable[bool]],
        executing: asyncio.Future[Any],
        stop_engine_work: Callable[[], None],
    ) -> None:
        """Polls for a request to cancel; then cancels the executor and stops its engine work, in this order
        (so that the executor sees the cancel, not the failing engine call)."""
        while True:
            await asyncio.sleep(CANCEL_POLL_SECONDS)
            # The flag is read after the query: nothing runs between that read and the cancel below.
            if await is_requested() and not self._finalizing:
                break
        self.requested = True
        executing.cancel()
        await asyncio.to_thread(stop_engine_work)
