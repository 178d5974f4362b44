"""The Export API end to end: `twinbridge serve` with its worker processes, real HTTP, real IFC files.

Files downloaded from the server are opened and validated with IfcOpenShell.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import ifcopenshell
import pytest

from tests.conftest import SAMPLE_IMODELS
from tests.integration.conftest import Server, start_server, stop_server
from twinbridge.engines.ifc import validate_ifc
from twinbridge.engines.imodel.generator import generate_imodel

Cli = Callable[..., subprocess.CompletedProcess[str]]
IFC_VERSIONS = {
    "IFC4.3": "IFC4X3_ADD2",
    "IFC2x3": "IFC2X3",
    "IFC2x3 CV 2.0": "IFC2X3",
    "IFC4 RV 1.2": "IFC4",
}


def _headers(cli: Cli, user: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {cli('token', '--user', user).stdout.strip()}"}


def _imodel(cli: Cli, itwin_id: str, path: Path, name: str) -> str:
    return cli("imodels", "import", itwin_id, str(path), "--name", name).stdout.strip()


def _connection(server: Server, headers: dict[str, str], imodel_id: str) -> str:
    response = httpx.post(f"{server.url}/export/connections", json={"iModelId": imodel_id}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["connection"]["id"])


def _start_run(server: Server, headers: dict[str, str], connection_id: str, **body: Any) -> str:
    response = httpx.post(
        f"{server.url}/export/connections/{connection_id}/runs",
        json={"exportType": "IFC", **body},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    return response.headers["location"]


def _wait_for_completion(location: str, headers: dict[str, str], timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen_states = set()
    while time.monotonic() < deadline:
        run: dict[str, Any] = httpx.get(location, headers=headers).json()["run"]
        seen_states.add(run["state"])
        if run["state"] == "Completed":
            run["seenStates"] = seen_states
            return run
        time.sleep(0.25)
    raise AssertionError(f"run {location} did not complete within {timeout} s (states seen: {seen_states})")


def _output_of(run: dict[str, Any]) -> str:
    return str(run["jobs"][0]["tasks"][0]["exportOutputFileId"])


def _download(server: Server, headers: dict[str, str], file_id: str, target: Path) -> Path:
    url = f"{server.url}/storage/files/{file_id}/download"
    response = httpx.get(url, headers=headers, follow_redirects=True)
    assert response.status_code == 200
    target.write_bytes(response.content)
    return target


@pytest.fixture
def itwin_id(cli: Cli) -> str:
    return cli("itwins", "create", "Plant", "--owner", "alice").stdout.strip()


def test_every_ifc_version_exports_to_a_valid_downloadable_file(
    server: Server, cli: Cli, itwin_id: str, tmp_path: Path
) -> None:
    headers = _headers(cli)
    locations = {}
    for index, version in enumerate(IFC_VERSIONS):
        # One iModel per version: runs of different iModels execute side by side.
        imodel_id = _imodel(cli, itwin_id, SAMPLE_IMODELS / "Building Blocks.bim", f"Blocks {index}")
        connection_id = _connection(server, headers, imodel_id)
        locations[version] = _start_run(server, headers, connection_id, ifcVersion=version)
    for version, location in locations.items():
        run = _wait_for_completion(location, headers)
        assert (run["result"], run["jobs"][0]["tasks"][0]["result"]) == ("Success", "Success"), run
        assert run["endDateTime"] >= run["startDateTime"]
        path = _download(server, headers, _output_of(run), tmp_path / "out.ifc")
        model = ifcopenshell.open(str(path))
        assert model.schema_identifier == IFC_VERSIONS[version]
        assert len(model.by_type("IfcBuildingElementProxy")) == 173
        assert validate_ifc(path) == []


def test_every_sample_imodel_exports(server: Server, cli: Cli, itwin_id: str, tmp_path: Path) -> None:
    headers = _headers(cli)
    samples = sorted(SAMPLE_IMODELS.glob("*.*bim"))
    locations = [
        _start_run(server, headers, _connection(server, headers, _imodel(cli, itwin_id, sample, sample.stem)))
        for sample in samples
    ]
    for sample, location in zip(samples, locations, strict=True):
        run = _wait_for_completion(location, headers)
        assert run["result"] in {"Success", "PartialSuccess"}, (sample.name, run)
        path = _download(server, headers, _output_of(run), tmp_path / "out.ifc")
        assert validate_ifc(path) == [], sample.name


def test_truly_concurrent_creates_give_one_run(
    server: Server, cli: Cli, itwin_id: str, slow_imodel: Path
) -> None:
    headers = _headers(cli)
    # The first run must still be active when the last request arrives, however loaded the machine is.
    imodel_id = _imodel(cli, itwin_id, slow_imodel, "Slow")
    connections = [_connection(server, headers, imodel_id) for _ in range(3)]
    barrier = threading.Barrier(12)

    def create(index: int) -> httpx.Response:
        barrier.wait()
        return httpx.post(
            f"{server.url}/export/connections/{connections[index % 3]}/runs",
            json={"exportType": "IFC"},
            headers=headers,
            follow_redirects=False,
        )

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(create, range(12)))
    statuses = [response.status_code for response in responses]
    assert statuses.count(202) == 1, statuses
    assert set(statuses) <= {202, 303, 409}
    accepted = next(response for response in responses if response.status_code == 202)
    for response in responses:
        if response.status_code == 303:
            assert response.headers["location"] == accepted.headers["location"]
    _wait_for_completion(accepted.headers["location"], headers)


def test_states_move_forward_and_timestamps_are_set(server: Server, cli: Cli, itwin_id: str) -> None:
    headers = _headers(cli)
    imodel_id = _imodel(cli, itwin_id, SAMPLE_IMODELS / "Properties_60InstancesWithUrl2.ibim", "Props")
    run = _wait_for_completion(_start_run(server, headers, _connection(server, headers, imodel_id)), headers)
    assert run["seenStates"] <= {"Queued", "Executing", "Finalizing", "Completed"}
    job = run["jobs"][0]
    assert job["startDateTime"]
    assert job["endDateTime"]
    assert job["tasks"][0]["startDateTime"] <= job["tasks"][0]["endDateTime"]


def test_user_without_grant_gets_user_not_authenticated(server: Server, cli: Cli, itwin_id: str) -> None:
    cli("itwins", "add-member", itwin_id, "nora", "--role", "Contributor")
    headers = {"Authorization": f"Bearer {cli('token', '--user', 'nora', '--no-grant').stdout.strip()}"}
    imodel_id = _imodel(cli, itwin_id, SAMPLE_IMODELS / "Building Blocks.bim", "Blocks")
    run = _wait_for_completion(_start_run(server, headers, _connection(server, headers, imodel_id)), headers)
    assert run["result"] == "Error"
    assert run["error"]["errorKey"] == "UserNotAuthenticated"


class BlobSink:
    """A real HTTP server standing in for the caller's blob storage (SAS URLs accept PUT)."""

    def __init__(self) -> None:
        self.received: dict[str, bytes] = {}
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers["content-length"])
                sink.received[self.path] = self.rfile.read(length)
                assert self.headers["x-ms-blob-type"] == "BlockBlob"
                self.send_response(201)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def blob_sink() -> Iterator[BlobSink]:
    sink = BlobSink()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


@pytest.fixture
def server_reaching_loopback(environment: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    """A server whose runs may send to loopback addresses (the blob sink here); none does by default."""
    running = start_server(environment, tmp_path / "serve.log", {"TWINBRIDGE_FETCH_ALLOW_PRIVATE": "true"})
    yield running
    stop_server(running)


def test_user_blob_storage_receives_the_file_and_the_log(
    server_reaching_loopback: Server, cli: Cli, itwin_id: str, blob_sink: BlobSink, tmp_path: Path
) -> None:
    server = server_reaching_loopback
    headers = _headers(cli)
    imodel_id = _imodel(cli, itwin_id, SAMPLE_IMODELS / "Building Blocks.bim", "Blocks")
    output_options = {
        "location": "USER_BLOB_STORAGE",
        "outputSasUrl": f"{blob_sink.url}/container/out.ifc?sig=abc",
        "logsSasUrl": f"{blob_sink.url}/container/out.log?sig=abc",
    }
    connection_id = _connection(server, headers, imodel_id)
    location = _start_run(server, headers, connection_id, outputOptions=output_options)
    run = _wait_for_completion(location, headers)
    assert run["result"] == "Success", run
    (tmp_path / "received.ifc").write_bytes(blob_sink.received["/container/out.ifc?sig=abc"])
    assert validate_ifc(tmp_path / "received.ifc") == []
    assert b"elements: 173" in blob_sink.received["/container/out.log?sig=abc"]
    assert run["jobs"][0]["tasks"][0]["exportOutputFileId"]  # also kept in the server's storage


def test_user_blob_storage_on_loopback_is_refused_by_default(
    server: Server, cli: Cli, itwin_id: str, blob_sink: BlobSink
) -> None:
    headers = _headers(cli)
    imodel_id = _imodel(cli, itwin_id, SAMPLE_IMODELS / "Building Blocks.bim", "Blocks")
    output_options = {"location": "USER_BLOB_STORAGE", "outputSasUrl": f"{blob_sink.url}/c/out.ifc?sig=abc"}
    location = _start_run(
        server, headers, _connection(server, headers, imodel_id), outputOptions=output_options
    )
    run = _wait_for_completion(location, headers, timeout=30)
    error = run["jobs"][0]["tasks"][0]["error"]
    assert (run["result"], error["errorCode"], error["canUserFix"]) == ("Error", "OutputUploadRefused", True)
    assert "127.0.0.1 is a loopback address" in error["details"]
    assert blob_sink.received == {}
    listing = httpx.get(f"{server.url}/storage/?iTwinId={itwin_id}", headers=headers).json()
    assert [item for item in listing["items"] if item["type"] == "file"] == []


def test_unreachable_user_blob_storage_is_a_partial_success(
    server_reaching_loopback: Server, cli: Cli, itwin_id: str
) -> None:
    server = server_reaching_loopback
    headers = _headers(cli)
    imodel_id = _imodel(cli, itwin_id, SAMPLE_IMODELS / "Building Blocks.bim", "Blocks")
    output_options = {"location": "USER_BLOB_STORAGE", "outputSasUrl": "http://127.0.0.1:9/nowhere.ifc"}
    connection_id = _connection(server, headers, imodel_id)
    location = _start_run(server, headers, connection_id, outputOptions=output_options)
    run = _wait_for_completion(location, headers)
    task = run["jobs"][0]["tasks"][0]
    assert run["result"] == "PartialSuccess"
    assert task["error"]["errorCode"] == "OutputUploadFailed"
    assert "127.0.0.1" in task["error"]["details"]
    assert task["exportOutputFileId"]


@pytest.fixture(scope="module")
def large_imodel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("generated") / "large.bim"
    generate_imodel(path, elements=6000, models=3, categories=4, seed=7)
    return path


def test_run_over_the_time_limit_ends_timed_out_and_the_worker_recovers(
    environment: dict[str, str], cli: Cli, itwin_id: str, tmp_path: Path, slow_imodel: Path
) -> None:
    server = start_server(environment, tmp_path / "serve.log", {"TWINBRIDGE_RUN_TIMEOUT": "2"})
    try:
        headers = _headers(cli)
        slow = _imodel(cli, itwin_id, slow_imodel, "Slow")
        run = _wait_for_completion(_start_run(server, headers, _connection(server, headers, slow)), headers)
        assert run["result"] == "TimedOut"
        assert "TWINBRIDGE_RUN_TIMEOUT" in run["jobs"][0]["tasks"][0]["error"]["details"]
        # The worker that timed out was replaced; the next run completes.
        quick = _imodel(cli, itwin_id, SAMPLE_IMODELS / "213d69e0-9a83-4e3f-942d-694e94c9f905m.bim", "Empty")
        run = _wait_for_completion(_start_run(server, headers, _connection(server, headers, quick)), headers)
        assert run["result"] == "Success"
    finally:
        stop_server(server)


def test_a_worker_over_its_memory_limit_after_a_run_is_replaced_and_the_next_run_completes(
    environment: dict[str, str], cli: Cli, itwin_id: str, tmp_path: Path
) -> None:
    # One worker, and a limit every process is over: the worker is replaced after each run.
    limits = {"TWINBRIDGE_WORKERS": "1", "TWINBRIDGE_WORKER_MAX_MEMORY": "1"}
    server = start_server(environment, tmp_path / "serve.log", limits)
    try:
        headers = _headers(cli)
        empty = _imodel(cli, itwin_id, SAMPLE_IMODELS / "213d69e0-9a83-4e3f-942d-694e94c9f905m.bim", "Empty")
        runs = [
            _wait_for_completion(_start_run(server, headers, _connection(server, headers, empty)), headers)
            for _ in range(2)
        ]
        assert [run["result"] for run in runs] == ["Success", "Success"]
        assert all(_output_of(run) for run in runs)
    finally:
        stop_server(server)
    events = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    recycled = [event for event in events if event["event"] == "run_worker_recycled"]
    assert recycled
    assert all(event["resident_memory_bytes"] > 1 for event in recycled)
    finished_by = [event["worker_id"] for event in events if event["event"] == "run_finished"]
    assert len(set(finished_by)) == len(finished_by) == 2, finished_by


def test_run_interrupted_by_a_killed_server_resumes_after_restart(
    environment: dict[str, str], cli: Cli, itwin_id: str, tmp_path: Path, large_imodel: Path
) -> None:
    fast_lease = {"TWINBRIDGE_RUN_LEASE_SECONDS": "8"}
    server = start_server(environment, tmp_path / "serve.log", fast_lease)
    headers = _headers(cli)
    imodel_id = _imodel(cli, itwin_id, large_imodel, "Large")
    location = _start_run(server, headers, _connection(server, headers, imodel_id))
    deadline = time.monotonic() + 60
    while httpx.get(location, headers=headers).json()["run"]["state"] != "Executing":
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)

    restarted = start_server(environment, tmp_path / "serve-2.log", fast_lease)
    try:
        headers = _headers(cli)  # the restarted server listens on another port, hence another issuer URL
        run = _wait_for_completion(location.replace(server.url, restarted.url), headers, timeout=240)
        assert run["result"] == "Success", run
        assert run["jobs"][0]["tasks"][0]["retryAttempts"] == 1
        # One output file, whatever the killed attempt had done, and no workspace of it left.
        listing = httpx.get(f"{restarted.url}/storage/?iTwinId={itwin_id}", headers=headers).json()
        files = [item["id"] for item in listing["items"] if item["type"] == "file"]
        assert files == [_output_of(run)]
        assert list((Path(environment["TWINBRIDGE_DATA_DIR"]) / "tmp").iterdir()) == []
    finally:
        stop_server(restarted)
