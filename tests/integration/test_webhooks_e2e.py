"""Webhooks end to end: `twinbridge serve` runs a real export, records the event in the transaction that
completes the run, and its API process sends it over real HTTP to a receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import EMPTY_IMODEL
from tests.file_server import FileServer
from tests.file_server import file_server as file_server  # the fixture
from tests.integration.conftest import Server, start_server, stop_server

Cli = Callable[..., subprocess.CompletedProcess[str]]
SECRET = "0123456789abcdef" * 4
# One worker warms one engine; retries come after 0.2 s, 0.4 s, …
SERVE_ENV = {"TWINBRIDGE_WORKERS": "1", "TWINBRIDGE_WEBHOOK_RETRY_BASE": "0.2"}


@pytest.fixture
def private_server(environment: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        environment, tmp_path / "serve.log", {**SERVE_ENV, "TWINBRIDGE_FETCH_ALLOW_PRIVATE": "true"}
    )
    yield running
    stop_server(running)


@pytest.fixture
def guarded_server(environment: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    running = start_server(environment, tmp_path / "serve.log", SERVE_ENV)
    yield running
    stop_server(running)


def _wait_for(check: Callable[[], Any], what: str, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def _subscribed_export_run(server: Server, cli: Cli, callback_url: str) -> tuple[dict[str, str], str, str]:
    """An active webhook of alice's iTwin for export events, then an export run of the empty sample to
    completion; the headers, the webhook's id and the run's id."""
    headers = {"Authorization": f"Bearer {cli('token', '--user', 'alice').stdout.strip()}"}
    itwin_id = cli("itwins", "create", "Plant", "--owner", "alice").stdout.strip()
    imodel_id = cli("imodels", "import", itwin_id, str(EMPTY_IMODEL), "--name", "Empty").stdout.strip()
    created = httpx.post(
        f"{server.url}/webhooks",
        json={
            "callbackUrl": callback_url,
            "scope": "iTwin",
            "scopeId": itwin_id,
            "secret": SECRET,
            "eventTypes": ["export.runCompleted.v1"],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    webhook_id = created.json()["webhook"]["id"]
    activated = httpx.patch(f"{server.url}/webhooks/{webhook_id}", json={"active": True}, headers=headers)
    assert activated.json()["webhook"]["active"] is True
    connection = httpx.post(f"{server.url}/export/connections", json={"iModelId": imodel_id}, headers=headers)
    started = httpx.post(
        f"{server.url}/export/connections/{connection.json()['connection']['id']}/runs",
        json={"exportType": "IFC"},
        headers=headers,
    )
    assert started.status_code == 202, started.text
    location = started.headers["location"]

    def completed() -> dict[str, Any] | None:
        run: dict[str, Any] = httpx.get(location, headers=headers).json()["run"]
        return run if run["state"] == "Completed" else None

    run = _wait_for(completed, "the export run's completion")
    return headers, webhook_id, str(run["id"])


def _settled_delivery(server: Server, headers: dict[str, str], webhook_id: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        deliveries = httpx.get(f"{server.url}/webhooks/{webhook_id}/deliveries", headers=headers).json()
        found = deliveries["deliveries"]
        return found[0] if found and found[0]["state"] != "Pending" else None

    delivery: dict[str, Any] = _wait_for(settled, "the delivery", timeout=30)
    return delivery


def test_a_completed_run_sends_a_signed_event_retried_after_a_500(
    private_server: Server, cli: Cli, file_server: FileServer
) -> None:
    file_server.post_statuses = [500]
    headers, webhook_id, run_id = _subscribed_export_run(private_server, cli, f"{file_server.url}/hooks")

    delivery = _settled_delivery(private_server, headers, webhook_id)
    assert delivery["state"] == "Delivered"
    assert [attempt["status"] for attempt in delivery["attempts"]] == [500, 200]
    assert len(file_server.posts) == 2
    post = file_server.posts[-1]
    assert post.path == "/hooks"
    assert post.body == file_server.posts[0].body
    expected = "sha256=" + hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(post.headers["signature"], expected)
    event = json.loads(post.body)
    assert event["eventType"] == "export.runCompleted.v1"
    assert event["webhookId"] == webhook_id
    assert event["content"]["runId"] == run_id
    assert event["content"]["result"] == "success"
    assert event["content"]["exportOutputFileId"]
    assert event == delivery["event"]


def test_a_loopback_callback_is_refused_without_allow_private_and_recorded(
    guarded_server: Server, cli: Cli, file_server: FileServer
) -> None:
    headers, webhook_id, _ = _subscribed_export_run(guarded_server, cli, f"{file_server.url}/hooks")

    delivery = _settled_delivery(guarded_server, headers, webhook_id)
    assert delivery["state"] == "Failed"
    [attempt] = delivery["attempts"]
    assert attempt["status"] is None
    assert "TWINBRIDGE_FETCH_ALLOW_PRIVATE" in attempt["error"]
    assert file_server.posts == []
