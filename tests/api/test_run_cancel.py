"""POST …/runs/{runId}/cancel on Export runs and on manifest and storage connection runs (twinbridge's
extension: upstream has no way to stop a run), in-process. Cancelling an executing run is exercised with
the real engine in tests/integration/test_run_cancel_e2e.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE_IMODELS
from twinbridge.auth.grants import GrantService
from twinbridge.features import run_executors
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.runs.worker import RunWorker
from twinbridge.runtime import Runtime
from twinbridge.storage.service import StorageService

Headers = Callable[..., dict[str, str]]
BASE = "http://twinbridge.test"
MANIFEST = "/synchronization/imodels/manifestconnections"
STORAGE = "/synchronization/imodels/storageconnections"
KINDS = ["export", "manifest", "storage"]


@dataclass
class StartedRun:
    """A run just created (Queued), with the URL of its cancel operation."""

    location: str
    start: Callable[[], Awaitable[httpx.Response]]

    @property
    def cancel_url(self) -> str:
        return self.location + "/cancel"


@pytest.fixture
async def world(runtime: Runtime, tmp_path: Path) -> tuple[str, str]:
    """alice owns an iTwin with an iModel and a stored drawing; rita is a Reader there."""
    async with runtime.database.transaction() as transaction:
        itwins = ITwinService(transaction)
        itwin = await itwins.create("Plant", "alice")
        await itwins.set_member(itwin.id, "rita", "Reader")  # type: ignore[arg-type]
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, SAMPLE_IMODELS / "Building Blocks.bim", "Blocks", None, caller=None
        )
        drawing = tmp_path / "plan.dwg"
        drawing.write_bytes(b"AC1032 not really a drawing")
        stored = await StorageService(transaction, runtime.blobs).store_file(
            itwin.id, "plan.dwg", drawing, "alice"
        )
        await GrantService(transaction).grant("alice")
        return imported.imodel.id, stored.id


async def _start(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, world: tuple[str, str]
) -> StartedRun:
    imodel_id, drawing_id = world
    body: dict[str, Any] | None = None
    if kind == "export":
        created = await client.post("/export/connections", json={"iModelId": imodel_id}, headers=headers)
        url, body = f"/export/connections/{created.json()['connection']['id']}/runs", {"exportType": "IFC"}
    elif kind == "manifest":
        connection = {"iModelId": imodel_id, "sourceFiles": [{"sourceFileId": "doc"}]}
        created = await client.post(MANIFEST, json=connection, headers=headers)
        url = f"{MANIFEST}/{created.json()['connection']['id']}/runs"
        file = {
            "id": "doc",
            "name": "doc.ifc",
            "url": "https://files.example/doc.ifc",
            "connectorType": "IFC",
        }
        body = {"sourceFiles": [file]}
    else:
        connection = {
            "iModelId": imodel_id,
            "sourceFiles": [{"storageFileId": drawing_id, "connectorType": "DWG"}],
        }
        created = await client.post(STORAGE, json=connection, headers=headers)
        url = f"{STORAGE}/{created.json()['connection']['id']}/run"
    assert created.status_code == 201, created.text

    async def start() -> httpx.Response:
        return await client.post(url, json=body, headers=headers)

    response = await start()
    assert response.status_code == 202, response.text
    return StartedRun(response.headers["location"], start)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_queued_run_is_canceled_at_once_with_every_job_and_task(
    client: httpx.AsyncClient, auth_headers: Headers, world: tuple[str, str], kind: str
) -> None:
    alice = auth_headers("alice")
    started = await _start(client, alice, kind, world)
    response = await client.post(started.cancel_url, headers=alice)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == started.location
    answered = response.json()["run"]
    run = (await client.get(started.location, headers=alice)).json()["run"]
    assert answered == run
    assert (run["state"], run["result"]) == ("Completed", "Canceled")
    assert run["endDateTime"] is not None
    for job in run["jobs"]:
        assert (job["state"], job["result"]) == ("Completed", "Canceled")
        assert job["startDateTime"] is not None
        assert job["endDateTime"] is not None
        for task in job["tasks"]:
            assert (task["state"], task["result"]) == ("Completed", "Canceled")
            assert task["endDateTime"] is not None
            assert task["error"]["errorCode"] == "RunCanceled"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_canceled_run_is_not_executed_and_frees_the_imodel_for_a_new_run(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: tuple[str, str],
    kind: str,
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    alice = auth_headers("alice")
    started = await _start(client, alice, kind, world)
    await client.post(started.cancel_url, headers=alice)
    await execute_queued_runs()
    run = (await client.get(started.location, headers=alice)).json()["run"]
    assert (run["state"], run["result"]) == ("Completed", "Canceled")
    again = await started.start()
    assert again.status_code == 202  # not 303: the canceled run is no longer the iModel's active run
    assert again.headers["location"] != started.location


@pytest.mark.parametrize("kind", KINDS)
async def test_cancelling_a_completed_run_is_a_conflict(
    client: httpx.AsyncClient, auth_headers: Headers, world: tuple[str, str], kind: str
) -> None:
    alice = auth_headers("alice")
    started = await _start(client, alice, kind, world)
    await client.post(started.cancel_url, headers=alice)
    response = await client.post(started.cancel_url, headers=alice)
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "RunAlreadyCompleted",
            "message": "The run has already completed and cannot be canceled.",
        }
    }


async def test_cancelling_a_run_that_ended_in_error_is_a_conflict_and_keeps_its_result(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: tuple[str, str],
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    alice = auth_headers("alice")
    started = await _start(client, alice, "storage", world)  # a DWG file: no connector, the run ends Error
    await execute_queued_runs()
    assert (await client.post(started.cancel_url, headers=alice)).status_code == 409
    run = (await client.get(started.location, headers=alice)).json()["run"]
    assert (run["state"], run["result"]) == ("Completed", "Error")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_reader_cannot_cancel_a_run(
    client: httpx.AsyncClient, auth_headers: Headers, world: tuple[str, str], kind: str
) -> None:
    started = await _start(client, auth_headers("alice"), kind, world)
    response = await client.post(started.cancel_url, headers=auth_headers("rita"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "InsufficientPermissions"
    run = (await client.get(started.location, headers=auth_headers("rita"))).json()["run"]
    assert (run["state"], run["result"]) == ("Queued", "Undetermined")


@pytest.mark.parametrize("kind", KINDS)
async def test_cancelling_an_unknown_run_is_a_404(
    client: httpx.AsyncClient, auth_headers: Headers, world: tuple[str, str], kind: str
) -> None:
    alice = auth_headers("alice")
    started = await _start(client, alice, kind, world)
    unknown = started.location.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000/cancel"
    response = await client.post(unknown, headers=alice)
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "ConnectionRunNotFound",
        "message": "Requested Connection Run is not available.",
    }


async def test_an_executing_run_is_answered_as_it_is_and_marked_for_its_worker(
    client: httpx.AsyncClient, auth_headers: Headers, world: tuple[str, str], runtime: Runtime
) -> None:
    """The worker that holds the run stops it (see the integration test); the answer shows it executing."""
    alice = auth_headers("alice")
    started = await _start(client, alice, "export", world)
    worker = RunWorker(runtime, run_executors())
    assert await worker.claim_next() is not None  # the run is Executing under the worker's lease
    response = await client.post(started.cancel_url, headers=alice)
    assert response.status_code == 202
    assert (response.json()["run"]["state"], response.json()["run"]["result"]) == (
        "Executing",
        "Undetermined",
    )
    assert await worker.cancel_requested(started.location.rsplit("/", 1)[1])


async def test_the_cancel_operation_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for runs in (
        "/export/connections/{connection_id}/runs",
        f"{MANIFEST}/{{connection_id}}/runs",
        f"{STORAGE}/{{connection_id}}/runs",
    ):
        operation = paths[runs + "/{run_id}/cancel"]["post"]
        assert "twinbridge's extension" in operation["description"]
        assert {"202", "403", "404", "409"} <= set(operation["responses"])
