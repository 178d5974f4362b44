"""Engine processes never outlive the Python process that owns them, even when it is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

# The owner opens a pool, starts an export and reads it slowly, so that the engine is mid-operation (faceting
# or blocked on a full pipe) when the owner dies; it also queues many more exports straight on the engine's
# stdin, so that an engine that finished its work for a dead owner would stay busy for minutes (as the
# orphans seen in production did). It prints the engine's pid once the first meshes have arrived.
OWNER = textwrap.dedent(
    """
    import json, sys, time
    from twinbridge.engines.imodel import EnginePool, process

    if sys.argv[2] == "engine-only":
        process._PRCTL = None  # leave it to engine.js alone: parent watch, stdin and stdout checks
    with EnginePool(1) as pool, pool.open(sys.argv[1]) as imodel:
        rows = imodel.query("SELECT ECInstanceId id FROM bis.GeometricElement3d")
        ids = [int(row["id"], 16) for row in rows]
        for graphics in imodel.export_graphics(ids, chunk_size=1):
            backlog = json.dumps({"id": 10**6, "op": "exportGraphics", "handle": imodel.handle})
            imodel.engine._process.stdin.write((backlog + "\\n").encode() * 1000)
            imodel.engine._process.stdin.flush()
            print(imodel.engine.pid, flush=True)
            time.sleep(600)
    """
)


def process_exists(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status  # a zombie has exited; it only waits for its new parent to reap it


def wait_until_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not process_exists(pid):
            return True
        time.sleep(0.1)
    return not process_exists(pid)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
@pytest.mark.parametrize("guard", ["all", "engine-only"])
def test_the_engine_exits_soon_after_its_owner_is_killed_mid_export(
    generated_imodel: Path, guard: str
) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(generated_imodel), guard],
        stdout=subprocess.PIPE,
        text=True,
    )
    engine_pid = None
    try:
        assert owner.stdout is not None
        engine_pid = int(owner.stdout.readline())
        assert process_exists(engine_pid)
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)

        assert wait_until_gone(engine_pid, 5.0), f"engine {engine_pid} outlived its owner"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if engine_pid is not None and process_exists(engine_pid):
            os.kill(engine_pid, signal.SIGKILL)
