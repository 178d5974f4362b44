"""BackgroundWrites: a SnapshotWriter's writes in order on a thread of their own (with a stand-in writer)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, cast

import pytest

from twinbridge.engines.connectors.writer import BackgroundWrites, SnapshotWriter


class RecordingWriter:
    """Records the calls BackgroundWrites makes; `fail_on` makes that upsert raise."""

    def __init__(self, fail_on: int | None = None, gate: threading.Event | None = None) -> None:
        self.calls: list[tuple[str, list[Any]]] = []
        self.threads: set[str] = set()
        self.fail_on = fail_on
        self.gate = gate
        self.started = threading.Event()  # set when the first upsert begins

    def upsert_elements(self, specs: Sequence[dict[str, Any]]) -> list[str]:
        self.started.set()
        if self.gate is not None:
            self.gate.wait(5)
        self.threads.add(threading.current_thread().name)
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise RuntimeError("the engine refused the batch")
        self.calls.append(("upsert", list(specs)))
        return [str(spec["n"]) for spec in specs]

    def delete_elements(self, ids: Sequence[str]) -> None:
        self.threads.add(threading.current_thread().name)
        self.calls.append(("delete", list(ids)))


def writes_of(writer: RecordingWriter) -> BackgroundWrites:
    return BackgroundWrites(cast(SnapshotWriter, writer))


def test_upserts_and_deletes_reach_the_writer_in_order_on_another_thread() -> None:
    writer = RecordingWriter()
    writes = writes_of(writer)
    writes.upsert([{"n": 1}, {"n": 2}])
    writes.delete(["0x10"])
    writes.upsert([{"n": 3}])
    writes.finish()
    assert writer.calls == [("upsert", [{"n": 1}, {"n": 2}]), ("delete", ["0x10"]), ("upsert", [{"n": 3}])]
    assert writer.threads == {"snapshot-writes"}


def test_a_failed_write_is_raised_by_finish_and_the_writes_after_it_are_dropped() -> None:
    writer = RecordingWriter(fail_on=1)
    writes = writes_of(writer)
    writes.upsert([{"n": 1}])
    writes.upsert([{"n": 2}])
    writes.upsert([{"n": 3}])
    with pytest.raises(RuntimeError, match="refused"):
        writes.finish()
    assert writer.calls == [("upsert", [{"n": 1}])]


def test_a_failed_write_is_raised_by_the_next_submission() -> None:
    writer = RecordingWriter(fail_on=0)
    writes = writes_of(writer)
    writes.upsert([{"n": 1}])
    for _ in range(100):  # until the thread has met the failure
        if writes._failure is not None:
            break
        writes._thread.join(0.05)
    with pytest.raises(RuntimeError, match="refused"):
        writes.upsert([{"n": 2}])
    writes.abandon()
    assert writer.calls == []


def test_abandon_drops_the_queued_writes_and_waits_for_the_one_in_progress() -> None:
    gate = threading.Event()
    writer = RecordingWriter(gate=gate)
    writes = writes_of(writer)
    writes.upsert([{"n": 1}])
    assert writer.started.wait(5), "the first write is in progress, held by the gate"
    writes.upsert([{"n": 2}])
    threading.Timer(0.2, gate.set).start()
    writes.abandon()
    assert writer.calls == [("upsert", [{"n": 1}])]
    assert not writes._thread.is_alive()
