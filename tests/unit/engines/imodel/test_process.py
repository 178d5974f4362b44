"""Engine processes are forked from one long-lived spawner thread (so that their death signal follows the
Python process, not the thread that asked for an engine)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from twinbridge.engines.imodel import process


def test_engines_are_spawned_from_one_thread_whoever_asks() -> None:
    seen: list[str] = []

    def ask() -> None:
        seen.append(process._spawner().submit(lambda: threading.current_thread().name).result())

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(seen)) == 1
    assert seen[0].startswith("engine-spawner")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_spawner_thread_of_its_own() -> None:
    process._spawner().submit(lambda: None).result()  # the parent's spawner thread exists

    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            answered = process._spawner().submit(lambda: 42).result(timeout=10) == 42
        except BaseException:
            answered = False
        sys.stdout.flush()
        os._exit(0 if answered else 1)
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_the_death_signal_call_is_found_on_linux() -> None:
    assert process._PRCTL is not None
