"""Manifest runs and what callers give them: URLs that cannot be requested and names that cannot name a file
are refused at create (422 naming the field); a file's name is never a path on the server; a slow source and
a full disk end the run at once with a clear task error, and the iModel keeps its version."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import EMPTY_IMODEL, SAMPLE_IFC
from tests.file_server import FileServer
from tests.file_server import file_server as file_server  # the fixture
from twinbridge.auth.grants import GrantService
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.outbound import OutboundClient
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]
Execute = Callable[[], Awaitable[None]]
MANIFEST = "/synchronization/imodels/manifestconnections"


@dataclass
class Connection:
    imodel_id: str
    id: str


@pytest.fixture
async def connection(client: httpx.AsyncClient, auth_headers: Headers, runtime: Runtime) -> Connection:
    """alice's manifest connection mapping document `doc-1` to an empty iModel."""
    async with runtime.database.transaction() as transaction:
        itwin = await ITwinService(transaction).create("Plant", "alice")
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, EMPTY_IMODEL, "Empty", None, caller=None
        )
        await GrantService(transaction).grant("alice")
    body = {"iModelId": imported.imodel.id, "sourceFiles": [{"sourceFileId": "doc-1"}]}
    response = await client.post(MANIFEST, json=body, headers=auth_headers("alice"))
    assert response.status_code == 201, response.text
    return Connection(imported.imodel.id, response.json()["connection"]["id"])


def _file(url: str, name: str = "wall.ifc", **extra: Any) -> dict[str, Any]:
    return {"id": "doc-1", "name": name, "url": url, "connectorType": "IFC", **extra}


async def _run(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    connection: Connection,
    execute: Execute,
    file: dict[str, Any],
) -> dict[str, Any]:
    response = await client.post(
        f"{MANIFEST}/{connection.id}/runs", json={"sourceFiles": [file]}, headers=headers
    )
    assert response.status_code == 202, response.text
    await execute()
    run: dict[str, Any] = (await client.get(response.headers["location"], headers=headers)).json()["run"]
    assert run["state"] == "Completed"
    return run


async def _changesets(
    client: httpx.AsyncClient, headers: dict[str, str], connection: Connection
) -> list[Any]:
    response = await client.get(f"/imodels/{connection.imodel_id}/changesets", headers=headers)
    return list(response.json()["changesets"])


@pytest.mark.parametrize(
    ("file", "target", "reason"),
    [
        (_file("http://[::1"), "sourceFiles[0].url", "does not parse"),
        (_file("https://xn--zz.example/wall.ifc"), "sourceFiles[0].url", "host name is not valid"),
        (_file("https://bad label.example/wall.ifc"), "sourceFiles[0].url", "host name is not valid"),
        (_file("https://files.example/wall.ifc", name="."), "sourceFiles[0].name", "'.' is not a file name"),
        (_file("https://files.example/w.ifc", name=".."), "sourceFiles[0].name", "'..' is not a file name"),
        (_file("https://files.example/w.ifc", name="w" * 300), "sourceFiles[0].name", "longer than 255"),
        (_file("https://files.example/w.ifc", name="w\x1f.ifc"), "sourceFiles[0].name", "control character"),
        (_file("https://files.example/w.ifc", children=[_file("http://[::1", id="ref")]),
         "sourceFiles[0].children[0].url", "does not parse"),
    ],
)  # fmt: skip
async def test_urls_and_names_that_cannot_be_used_are_refused_at_create_naming_the_field(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    connection: Connection,
    file: dict[str, Any],
    target: str,
    reason: str,
) -> None:
    response = await client.post(
        f"{MANIFEST}/{connection.id}/runs", json={"sourceFiles": [file]}, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "InvalidManifestConnectionRunRequest"
    [detail] = error["details"]
    assert (detail["code"], detail["target"]) == ("InvalidValue", target)
    assert reason in detail["message"]


async def test_a_name_with_path_parts_names_a_file_in_the_runs_workspace_only(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    connection: Connection,
    runtime: Runtime,
    execute_queued_runs: Execute,
    file_server: FileServer,
) -> None:
    runtime.outbound = OutboundClient(allow_private=True)
    file_server.files["wall.ifc"] = (SAMPLE_IFC / "test.ifc").read_bytes()
    escaping = "../../../../" + "é" * 120 + ".ifc"  # outside the workspace, and 256 bytes long
    run = await _run(
        client,
        auth_headers("alice"),
        connection,
        execute_queued_runs,
        _file(f"{file_server.url}/wall.ifc", name=escaping),
    )
    task = run["jobs"][0]["tasks"][0]
    assert (run["result"], task["result"]) == ("Success", "Success"), run
    assert task["details"]["elements"]["inserted"] > 0
    assert len(await _changesets(client, auth_headers("alice"), connection)) == 1
    assert not (runtime.settings.data_dir.parent / ("é" * 120 + ".ifc")).exists()
    assert list((runtime.settings.data_dir / "tmp").iterdir()) == []


async def test_a_trickling_source_fails_its_task_at_the_transfer_deadline(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    connection: Connection,
    runtime: Runtime,
    execute_queued_runs: Execute,
    file_server: FileServer,
) -> None:
    settings = runtime.settings.model_copy(
        update={"fetch_allow_private": True, "transfer_timeout": 1, "transfer_min_rate": 0}
    )
    runtime.outbound = OutboundClient.from_settings(settings)
    started = time.monotonic()
    run = await _run(
        client,
        auth_headers("alice"),
        connection,
        execute_queued_runs,
        _file(f"{file_server.url}/trickle?sig=s"),
    )
    assert time.monotonic() - started < 10
    error = run["jobs"][0]["tasks"][0]["error"]
    assert (run["result"], error["errorCode"], error["canUserFix"]) == (
        "Error",
        "SourceFileDownloadFailed",
        True,
    )
    assert error["details"] == (
        "Downloading from 127.0.0.1 failed: the transfer did not end within 1 s (TWINBRIDGE_TRANSFER_TIMEOUT)"
    )
    assert await _changesets(client, auth_headers("alice"), connection) == []


async def test_a_run_without_enough_free_disk_fails_at_once_and_keeps_the_version(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    connection: Connection,
    runtime: Runtime,
    execute_queued_runs: Execute,
    file_server: FileServer,
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"min_free_disk": 2**62})
    file_server.files["wall.ifc"] = (SAMPLE_IFC / "test.ifc").read_bytes()
    run = await _run(
        client, auth_headers("alice"), connection, execute_queued_runs, _file(f"{file_server.url}/wall.ifc")
    )
    task = run["jobs"][0]["tasks"][0]
    assert (run["result"], task["error"]["errorCode"], task["retryAttempts"]) == (
        "Error",
        "NotEnoughDiskSpace",
        0,
    )
    assert "TWINBRIDGE_MIN_FREE_DISK" in task["error"]["details"]
    assert file_server.requests == []  # nothing was fetched
    assert await _changesets(client, auth_headers("alice"), connection) == []
    assert list((runtime.settings.data_dir / "tmp").iterdir()) == []
