"""The worker's side of cancelling a run: the watcher, and engine work in a thread that a cancel waits for."""

from __future__ import annotations

import asyncio
import threading

import pytest

from twinbridge.runs import cancellation as cancellation_module
from twinbridge.runs.cancellation import Cancellation


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cancellation_module, "CANCEL_POLL_SECONDS", 0.01)


async def test_a_canceled_run_waits_for_its_thread_to_end_before_the_cancel_goes_on() -> None:
    cancellation = Cancellation()
    release = threading.Event()
    ended: list[str] = []

    def engine_work() -> None:
        release.wait(5)
        ended.append("thread")

    async def executor() -> None:
        try:
            await cancellation.in_thread(engine_work)
        finally:
            ended.append("executor")

    executing = asyncio.ensure_future(executor())
    await asyncio.sleep(0.05)
    cancellation.requested = True
    executing.cancel()
    await asyncio.sleep(0.05)
    assert not executing.done()  # still waiting for the thread, whose files are not to be removed yet
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await executing
    assert ended == ["thread", "executor"]


async def test_a_run_that_times_out_does_not_wait_for_its_thread() -> None:
    cancellation = Cancellation()
    release = threading.Event()
    executing = asyncio.ensure_future(cancellation.in_thread(release.wait, 5))
    await asyncio.sleep(0.05)
    executing.cancel()  # as asyncio.wait_for does at the time limit; no cancel was requested
    with pytest.raises(asyncio.CancelledError):
        await executing
    release.set()


async def test_the_watcher_cancels_the_executor_then_stops_the_engine_work() -> None:
    cancellation = Cancellation()
    requested = asyncio.Event()
    order: list[str] = []
    executing = asyncio.ensure_future(asyncio.sleep(10))

    async def is_requested() -> bool:
        return requested.is_set()

    def stop_engine_work() -> None:
        order.append(
            f"engine stopped, executor cancelled: {executing.cancelled() or executing.cancelling() > 0}"
        )

    watcher = asyncio.ensure_future(cancellation.watch(is_requested, executing, stop_engine_work))
    await asyncio.sleep(0.05)
    assert not cancellation.requested
    requested.set()
    await watcher
    assert cancellation.requested
    assert order == ["engine stopped, executor cancelled: True"]
    with pytest.raises(asyncio.CancelledError):
        await executing


async def test_the_watcher_waits_while_the_run_writes_its_results() -> None:
    cancellation = Cancellation()
    executing = asyncio.ensure_future(asyncio.sleep(10))

    async def is_requested() -> bool:
        return True

    with cancellation.finalizing():
        watcher = asyncio.ensure_future(cancellation.watch(is_requested, executing, lambda: None))
        await asyncio.sleep(0.05)
        assert not executing.cancelled()
        assert not cancellation.requested
    await watcher
    assert cancellation.requested
    with pytest.raises(asyncio.CancelledError):
        await executing
