"""Faults of the control API as a client sees them over real HTTP, from `twinbridge serve` (uvicorn)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Server, start_server, stop_server

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def control_server(environment: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        environment,
        tmp_path / "serve.log",
        {"TWINBRIDGE_CONTROL_API": "1", "TWINBRIDGE_WORKERS": "1", "TWINBRIDGE_SCRIPTED_RUNS_ONLY": "1"},
    )
    yield running
    stop_server(running)


def test_a_dropped_connection_and_a_429_with_retry_after_reach_the_client(
    control_server: Server, cli: Cli
) -> None:
    url = control_server.url
    headers = {"Authorization": f"Bearer {cli('token', '--user', 'alice').stdout.strip()}"}
    drop = httpx.post(
        f"{url}/_twinbridge/faults",
        json={"operationId": "list_itwins_itwins_get", "action": "drop", "count": 1},
    ).json()["fault"]
    throttle = httpx.post(
        f"{url}/_twinbridge/faults",
        json={
            "method": "POST",
            "path": "/itwins",
            "action": "status",
            "status": 429,
            "retryAfter": 2,
            "count": 1,
        },
    ).json()["fault"]

    with httpx.Client() as client:
        # The server closes the connection without writing a byte of an answer.
        with pytest.raises(httpx.RemoteProtocolError, match="Server disconnected without sending a response"):
            client.get(f"{url}/itwins", headers=headers)
        throttled = client.post(f"{url}/itwins", json={"displayName": "Plant"}, headers=headers)
        created = client.post(f"{url}/itwins", json={"displayName": "Plant"}, headers=headers)
        listed = client.get(f"{url}/itwins", headers=headers)

    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "2"
    assert throttled.json() == {
        "error": {
            "code": "TooManyRequests",
            "message": "More requests were received than the subscription rate-limit allows.",
        }
    }
    assert created.status_code == 201
    assert [item["displayName"] for item in listed.json()["iTwins"]] == ["Plant"]
    journal = httpx.get(f"{url}/_twinbridge/journal", params={"path": "/itwins"}).json()["entries"]
    assert [
        (entry["method"], entry["status"], entry["errorCode"], entry["faultIds"], entry["answeredByFault"])
        for entry in journal
    ] == [
        ("GET", 200, None, [], False),
        ("POST", 201, None, [], False),
        ("POST", 429, "TooManyRequests", [throttle["id"]], True),
        ("GET", None, None, [drop["id"]], True),
    ]
    assert httpx.get(f"{url}/_twinbridge/faults").json() == {"faults": []}
