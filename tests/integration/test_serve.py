"""End to end: `twinbridge serve` as a subprocess, driven over HTTP with tokens from `twinbridge token`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import SAMPLE_IMODELS
from tests.integration.conftest import Server, start_server, stop_server

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _headers(cli: Cli, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {cli('token', '--user', user).stdout.strip()}"}


def test_request_without_a_token_gets_the_contracts_401_body(server: Server) -> None:
    response = httpx.get(f"{server.url}/itwins")
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "HeaderNotFound",
            "message": "Header Authorization was not found in the request. Access denied.",
        }
    }


def test_new_user_flow_from_the_readme(server: Server, cli: Cli) -> None:
    itwin_id = cli("itwins", "create", "Plant", "--owner", "alice").stdout.strip()
    imodel_id = cli("imodels", "import", itwin_id, str(SAMPLE_IMODELS / "Building Blocks.bim")).stdout.strip()
    headers = _headers(cli, "alice")  # minted offline; names the running server's URL as issuer

    imodel = httpx.get(f"{server.url}/imodels/{imodel_id}", headers=headers).json()["iModel"]
    assert (imodel["name"], imodel["state"], imodel["iTwinId"]) == (
        "Building Blocks",
        "initialized",
        itwin_id,
    )
    itwin = httpx.get(f"{server.url}/itwins/{itwin_id}", headers=headers).json()["iTwin"]
    assert itwin["displayName"] == "Plant"
    listed = httpx.get(f"{server.url}/imodels", params={"iTwinId": itwin_id}, headers=headers).json()
    assert listed["iModels"] == [{"id": imodel_id, "displayName": "Building Blocks"}]
    assert listed["_links"]["self"]["href"].startswith(server.url)
    # Someone who is not a member sees that it exists but may not read it.
    assert httpx.get(f"{server.url}/imodels/{imodel_id}", headers=_headers(cli, "mallory")).status_code == 403


def test_baseline_upload_over_http_refuses_a_non_imodel(server: Server, cli: Cli) -> None:
    itwin_id = cli("itwins", "create", "Plant", "--owner", "alice").stdout.strip()
    headers = _headers(cli, "alice")
    content = (SAMPLE_IMODELS.parent / "ifc" / "test.ifc").read_bytes()
    created = httpx.post(
        f"{server.url}/imodels",
        json={
            "iTwinId": itwin_id,
            "name": "Wrong",
            "creationMode": "fromBaseline",
            "baselineFile": {"size": len(content)},
        },
        headers=headers,
    ).json()["iModel"]
    assert httpx.put(created["_links"]["upload"]["href"], content=content).status_code == 201
    refused = httpx.post(created["_links"]["complete"]["href"], headers=headers)
    assert refused.status_code == 422
    assert (
        refused.json()["error"]["details"][0]["message"]
        == "The file is not an iModel: it is not an SQLite database."
    )


def test_service_client_gets_a_token_from_the_token_endpoint(server: Server, cli: Cli) -> None:
    secret = cli("clients", "create", "ci-bot").stdout.strip()
    itwin_id = cli("itwins", "create", "Plant", "--owner", "ci-bot").stdout.strip()
    token = httpx.post(
        f"{server.url}/connect/token",
        data={"grant_type": "client_credentials", "client_id": "ci-bot", "client_secret": secret},
    ).json()["access_token"]
    response = httpx.get(f"{server.url}/itwins/{itwin_id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_cli_and_server_write_at_the_same_time(server: Server, cli: Cli) -> None:
    headers = _headers(cli, "alice")

    def through_cli(index: int) -> str:
        return cli("itwins", "create", f"cli-{index}", "--owner", "alice").stdout.strip()

    def through_http(index: int) -> int:
        return httpx.post(
            f"{server.url}/itwins", json={"displayName": f"http-{index}"}, headers=headers
        ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        cli_results = list(pool.map(through_cli, range(4)))
        http_results = list(pool.map(through_http, range(12)))
    assert all(cli_results)
    assert http_results == [201] * 12
    listed = httpx.get(f"{server.url}/itwins", headers=headers).json()["iTwins"]
    assert len(listed) == 16


def test_server_writes_structured_request_logs_with_request_ids(server: Server) -> None:
    httpx.get(f"{server.url}/itwins", headers={"x-request-id": "look-for-me"})
    server.process.terminate()
    server.process.wait(timeout=15)
    lines = [line for line in server.log.read_text().splitlines() if "look-for-me" in line]
    assert lines, server.log.read_text()
    assert '"status": 401' in lines[0]
    assert '"path": "/itwins"' in lines[0]


def _group_is_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


def test_ctrl_c_lets_the_running_export_finish_and_stops_every_process_quietly(
    cli: Cli, environment: dict[str, str], tmp_path: Path
) -> None:
    itwin_id = cli("itwins", "create", "Plant", "--owner", "alice").stdout.strip()
    imodel_id = cli("imodels", "import", itwin_id, str(SAMPLE_IMODELS / "Building Blocks.bim")).stdout.strip()
    log = tmp_path / "serve.log"
    server = start_server(environment, log, process_group=True)
    headers = _headers(cli, "alice")
    connection = httpx.post(
        f"{server.url}/export/connections", json={"iModelId": imodel_id}, headers=headers
    ).json()["connection"]
    run_url = httpx.post(
        f"{server.url}/export/connections/{connection['id']}/runs",
        json={"exportType": "IFC"},
        headers=headers,
    ).headers["location"]
    deadline = time.monotonic() + 60
    while httpx.get(run_url, headers=headers).json()["run"]["state"] == "Queued":
        assert time.monotonic() < deadline, "the run was never picked up"
        time.sleep(0.05)

    os.killpg(server.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert server.process.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while not _group_is_gone(server.process.pid):
        assert time.monotonic() < deadline, "a worker or engine outlived the server"
        time.sleep(0.1)
    output = log.read_text()
    for noise in ("Traceback", "KeyboardInterrupt", "leaked"):
        assert noise not in output, output

    again = start_server(environment, tmp_path / "again.log")
    try:
        run = httpx.get(run_url.replace(server.url, again.url), headers=_headers(cli, "alice")).json()["run"]
        assert (run["state"], run["result"]) == ("Completed", "Success")  # finished before the stop
    finally:
        stop_server(again)


def test_errors_leave_the_keep_alive_connection_usable(server: Server, cli: Cli) -> None:
    headers = _headers(cli, "alice")
    json_headers = {**headers, "content-type": "application/json"}
    with httpx.Client(base_url=server.url, timeout=30) as client:

        def status_and_connection(method: str, path: str, **options: Any) -> tuple[int, object]:
            response = client.request(method, path, **options)
            return response.status_code, response.extensions["network_stream"].get_extra_info("client_addr")

        answers = [
            status_and_connection("GET", "/itwins", headers=headers),
            status_and_connection("GET", "/itwins"),
            status_and_connection("GET", "/no/such/route", headers=headers),
            status_and_connection("PATCH", "/itwins", headers=headers),
            status_and_connection("GET", "/itwins/a%00b", headers=headers),
            status_and_connection("GET", "/itwins", params={"$skip": str(2**63)}, headers=headers),
            status_and_connection("POST", "/itwins", content=b"{not json", headers=json_headers),
            status_and_connection("POST", "/itwins", content="{}".encode("utf-16"), headers=json_headers),
            status_and_connection("POST", "/itwins", content=b'{"displayName": "x"}', headers={"a": "b"}),
            status_and_connection("GET", "/itwins", headers=headers),
        ]
    assert [status for status, _ in answers] == [200, 401, 404, 405, 422, 422, 422, 422, 401, 200]
    assert len({connection for _, connection in answers}) == 1


def test_a_large_body_is_refused_by_its_length_and_one_without_a_token_is_never_buffered(
    server: Server, cli: Cli
) -> None:
    headers = {**_headers(cli, "alice"), "content-type": "application/json"}
    body = b'{"displayName": "' + b"x" * 150_000_000 + b'"}'
    resident_before = _resident_kilobytes(server)
    refused = httpx.post(f"{server.url}/itwins", content=body, headers=headers, timeout=60)
    anonymous = httpx.post(
        f"{server.url}/itwins", content=body, headers={"content-type": "application/json"}, timeout=60
    )
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "PayloadTooLarge"
    assert anonymous.status_code == 401
    assert _resident_kilobytes(server) - resident_before < 50_000


def _resident_kilobytes(server: Server) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")
