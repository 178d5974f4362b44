"""Scripted runs over real HTTP with `twinbridge serve` (control API, issue 15): an engine crash under a real
run, and a server in scripted-runs-only mode, which starts no engine at all."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ifcopenshell
import pytest

from tests.conftest import SAMPLE_IMODELS
from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_export_e2e import _connection, _download, _start_run, _wait_for_completion

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _alice(cli: Cli) -> tuple[dict[str, str], str]:
    """alice's token, and the id of the Building Blocks iModel of an iTwin she owns."""
    itwin_id = cli("itwins", "create", "Plant", "--owner", "alice").stdout.strip()
    imodel_id = cli("imodels", "import", itwin_id, str(SAMPLE_IMODELS / "Building Blocks.bim")).stdout.strip()
    return {"Authorization": f"Bearer {cli('token', '--user', 'alice').stdout.strip()}"}, imodel_id


def _wait_until_held(server: Server, run_id: str, state: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holds = httpx.get(f"{server.url}/_twinbridge/holds").json()["holds"]
        if any(hold["runId"] == run_id and hold["state"] == state for hold in holds):
            return
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} was never held in {state}:\n{server.log.read_text()[-3000:]}")


def _descendants(pid: int) -> list[str]:
    """The command lines of every process below `pid`."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        for child in frontier:
            with contextlib.suppress(OSError):
                found.append(
                    (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
    return found


@pytest.fixture
def control_server(environment: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        environment, tmp_path / "serve.log", {"TWINBRIDGE_CONTROL_API": "1", "TWINBRIDGE_WORKERS": "1"}
    )
    yield running
    stop_server(running)


def test_an_engine_crash_puts_the_run_back_to_waiting_to_retry_and_a_fresh_engine_completes_it(
    control_server: Server, cli: Cli, tmp_path: Path
) -> None:
    server = control_server
    headers, imodel_id = _alice(cli)
    connection_id = _connection(server, headers, imodel_id)
    rule = httpx.post(
        f"{server.url}/_twinbridge/scripts",
        json={"connectionId": connection_id, "engineFault": "crash", "holdRetry": True, "count": 1},
    )
    assert rule.status_code == 201, rule.text
    location = _start_run(server, headers, connection_id)
    run_id = location.rsplit("/", 1)[1]

    _wait_until_held(server, run_id, "WaitingToRetry")
    waiting: dict[str, Any] = httpx.get(location, headers=headers).json()["run"]
    assert (waiting["state"], waiting["result"]) == ("WaitingToRetry", "Undetermined")
    task = waiting["jobs"][0]["tasks"][0]
    assert (task["state"], task["retryAttempts"]) == ("WaitingToRetry", 1)
    assert "run_engine_crashed" in server.log.read_text()
    assert httpx.post(f"{server.url}/_twinbridge/holds/{run_id}/release").status_code == 204

    run = _wait_for_completion(location, headers)
    assert run["result"] == "Success"
    task = run["jobs"][0]["tasks"][0]
    assert (task["result"], task["retryAttempts"]) == ("Success", 1)
    output = _download(server, headers, task["exportOutputFileId"], tmp_path / "retried.ifc")
    assert ifcopenshell.open(str(output)).by_type("IfcProduct")  # the real export's elements


def test_a_server_in_scripted_runs_only_mode_runs_exports_without_ever_starting_an_engine(
    environment: dict[str, str], cli: Cli, tmp_path: Path
) -> None:
    server = start_server(environment, tmp_path / "serve.log", {"TWINBRIDGE_SCRIPTED_RUNS_ONLY": "1"})
    try:
        headers, imodel_id = _alice(cli)
        location = _start_run(server, headers, _connection(server, headers, imodel_id))
        run = _wait_for_completion(location, headers, timeout=60)
        assert run["result"] == "Success"
        output = _download(
            server, headers, run["jobs"][0]["tasks"][0]["exportOutputFileId"], tmp_path / "o.ifc"
        )
        assert ifcopenshell.open(str(output)).by_type("IfcProject")
        engines = [command for command in _descendants(server.process.pid) if "engine.js" in command]
        assert engines == []
    finally:
        stop_server(server)
