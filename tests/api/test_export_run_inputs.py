"""Export runs and what callers give them: refused at create (422 naming the field) when it can be told
then, otherwise a run that ends Error at once with a task error the user can act on, that names their file,
not the server's paths. Requests to callers' URLs are guarded; a run keeps at most one output file."""

from __future__ import annotations

import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.export_world import World, create_connection, start_run
from tests.api.export_world import world as world  # the fixture
from tests.conftest import SAMPLE_IMODELS
from tests.file_server import FileServer
from tests.file_server import file_server as file_server  # the fixture
from twinbridge.export.execution import output_file_id
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.outbound import OutboundClient
from twinbridge.platform.time import utc_now
from twinbridge.runs.repository import RunRepository
from twinbridge.runs.states import ExecutionState
from twinbridge.runtime import Runtime
from twinbridge.storage.service import StorageService, file_key

Headers = Callable[..., dict[str, str]]
Execute = Callable[[], Awaitable[None]]
MAPPING = b'{"version": 1, "classes": {"Generic:PhysicalObject": "IfcPlate"}}'


def allow_private_addresses(runtime: Runtime, **settings: Any) -> None:
    """This process's runs may reach the loopback file server (TWINBRIDGE_FETCH_ALLOW_PRIVATE), with
    the given settings besides."""
    runtime.settings = runtime.settings.model_copy(update={"fetch_allow_private": True, **settings})
    runtime.outbound = OutboundClient.from_settings(runtime.settings)


async def run_to_end(
    client: httpx.AsyncClient, headers: dict[str, str], world: World, execute: Execute, **body: Any
) -> dict[str, Any]:
    connection = await create_connection(client, headers, world.imodel_id)
    started = await start_run(client, headers, connection["id"], **body)
    assert started.status_code == 202, started.text
    await execute()
    run: dict[str, Any] = (await client.get(started.headers["location"], headers=headers)).json()["run"]
    assert run["state"] == "Completed"
    return run


async def stored_files(
    client: httpx.AsyncClient, headers: dict[str, str], world: World
) -> list[dict[str, Any]]:
    listing = (await client.get(f"/storage/?iTwinId={world.itwin_id}", headers=headers)).json()
    return [item for item in listing["items"] if item["type"] == "file"]


def task_of(run: dict[str, Any]) -> dict[str, Any]:
    return dict(run["jobs"][0]["tasks"][0])


def nothing_left_behind(runtime: Runtime) -> None:
    """No run workspace and no output bytes remain."""
    workspaces = runtime.settings.data_dir / "tmp"
    assert not workspaces.exists() or list(workspaces.iterdir()) == []
    outputs = runtime.settings.data_dir / "blobs" / "storage" / "files"
    assert not outputs.exists() or [path.name for path in outputs.iterdir() if path.suffix == ".ifc"] == []


async def store_mapping(runtime: Runtime, world: World, tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "upload.json"
    path.write_bytes(content)
    async with runtime.database.transaction() as transaction:
        stored = await StorageService(transaction, runtime.blobs).store_file(
            world.itwin_id, "classes.json", path, "alice"
        )
    return stored.id


# At create


@pytest.mark.parametrize(
    ("body", "target", "reason"),
    [
        ({"outputOptions": {"location": "USER_BLOB_STORAGE", "outputSasUrl": "http://[::1"}},
         "outputOptions.outputSasUrl", "does not parse"),
        ({"outputOptions": {"location": "USER_BLOB_STORAGE", "outputSasUrl": "https://a.example/o",
                            "logsSasUrl": "https://xn--zz.example/log"}},
         "outputOptions.logsSasUrl", "host name is not valid"),
        ({"inputOptions": {"mappingfileBlobUrl": "https://a..example/m.json"}},
         "inputOptions.mappingfileBlobUrl", "host name is not valid"),
        ({"inputOptions": {"mappingfileBlobUrl": "file:///etc/passwd"}},
         "inputOptions.mappingfileBlobUrl", "only http and https"),
    ],
)  # fmt: skip
async def test_urls_that_cannot_be_requested_are_refused_at_create_naming_the_field(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    body: dict[str, Any],
    target: str,
    reason: str,
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    response = await start_run(client, auth_headers("alice"), connection["id"], **body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "InvalidExportConnectionRunRequest"
    [detail] = [detail for detail in error["details"] if detail["target"] == target]
    assert detail["code"] == "InvalidValue"
    assert reason in detail["message"]


async def test_an_output_folder_of_another_itwin_is_refused_at_create(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, runtime: Runtime
) -> None:
    async with runtime.database.transaction() as transaction:
        other = await ITwinService(transaction).create("Other", "alice")
        storage = StorageService(transaction, runtime.blobs)
        foreign = await storage.create_folder((await storage.root_folder(other.id)).id, "Out", None, "alice")
        own = await storage.create_folder(
            (await storage.root_folder(world.itwin_id)).id, "Out", None, "alice"
        )
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    for folder_id in (foreign.id, "no-such-folder"):
        response = await start_run(
            client, auth_headers("alice"), connection["id"], outputOptions={"folderId": folder_id}
        )
        assert response.status_code == 422
        [detail] = response.json()["error"]["details"]
        assert detail["target"] == "outputOptions.folderId"
        assert "not a folder of the iModel's iTwin" in detail["message"]
    accepted = await start_run(
        client, auth_headers("alice"), connection["id"], outputOptions={"folderId": own.id}
    )
    assert accepted.status_code == 202


# Mapping files


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"classes": {"Wall": "IfcWall\xe9"}}', "is not UTF-8 text"),
        (b"[" * 200_000 + b"]" * 200_000, "is nested more than 1024 levels deep"),
        (b'{"classes": {"Room": "IfcSpace"}}', "not a concrete IfcElement subtype"),
    ],
)
async def test_a_bad_stored_mapping_file_fails_the_run_at_once_naming_the_users_file(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
    tmp_path: Path,
    content: bytes,
    reason: str,
) -> None:
    mapping_id = await store_mapping(runtime, world, tmp_path, content)
    run = await run_to_end(
        client, auth_headers("alice"), world, execute_queued_runs, inputOptions={"mappingFileId": mapping_id}
    )
    error = task_of(run)["error"]
    assert (run["result"], error["errorCode"], error["canUserFix"]) == ("Error", "MappingFileInvalid", True)
    assert error["details"].startswith("The mapping file 'classes.json' (inputOptions.mappingFileId)")
    assert reason in error["details"]
    # What a Reader sees names no path of the server.
    path = f"/export/connections/{run['connectionId']}/runs/{run['id']}"
    seen = (await client.get(path, headers=auth_headers("rita"))).text
    for server_path in (str(runtime.settings.data_dir), "blobs", "storage/files"):
        assert server_path not in seen
    assert run["jobs"][0]["tasks"][0]["retryAttempts"] == 0  # failed at once, not retried
    nothing_left_behind(runtime)


async def test_a_bad_downloaded_mapping_file_names_its_host(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
    file_server: FileServer,
) -> None:
    allow_private_addresses(runtime)
    file_server.files["m.json"] = b'{"klasses": {}}'
    run = await run_to_end(
        client,
        auth_headers("alice"),
        world,
        execute_queued_runs,
        inputOptions={"mappingfileBlobUrl": f"{file_server.url}/m.json?sig=s3cr3t"},
    )
    error = task_of(run)["error"]
    assert error["errorCode"] == "MappingFileInvalid"
    assert error["details"] == (
        "The mapping file from 127.0.0.1 (inputOptions.mappingfileBlobUrl): unknown top-level key(s) klasses"
    )
    nothing_left_behind(runtime)


async def test_a_mapping_url_redirecting_to_loopback_is_refused(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
    file_server: FileServer,
) -> None:
    # The file server's own address is trusted, as an operator's would be; where it redirects is not.
    runtime.outbound = OutboundClient(allow_private=False, trusted_hosts=["127.0.0.1"])
    file_server.files["m.json"] = MAPPING
    port = file_server.server_address[1]
    run = await run_to_end(
        client,
        auth_headers("alice"),
        world,
        execute_queued_runs,
        inputOptions={"mappingfileBlobUrl": f"{file_server.url}/to?http://localhost:{port}/m.json"},
    )
    error = task_of(run)["error"]
    assert (error["errorCode"], error["canUserFix"]) == ("MappingFileDownloadFailed", True)
    assert "Downloading from localhost failed: " in error["details"]
    assert "is a loopback address" in error["details"]
    assert file_server.requests == [f"GET /to?http://localhost:{port}/m.json"]  # the target was never asked


async def test_a_mapping_url_on_loopback_is_refused_by_default(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
    file_server: FileServer,
) -> None:
    file_server.files["m.json"] = MAPPING
    run = await run_to_end(
        client,
        auth_headers("alice"),
        world,
        execute_queued_runs,
        inputOptions={"mappingfileBlobUrl": f"{file_server.url}/m.json"},
    )
    error = task_of(run)["error"]
    assert error["errorCode"] == "MappingFileDownloadFailed"
    assert "TWINBRIDGE_FETCH_ALLOW_PRIVATE" in error["details"]
    assert file_server.requests == []


async def test_a_trickling_mapping_source_is_cut_off_at_the_transfer_deadline(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
    file_server: FileServer,
) -> None:
    allow_private_addresses(runtime, transfer_timeout=1, transfer_min_rate=0)
    started = time.monotonic()
    run = await run_to_end(
        client,
        auth_headers("alice"),
        world,
        execute_queued_runs,
        inputOptions={"mappingfileBlobUrl": f"{file_server.url}/trickle"},
    )
    assert time.monotonic() - started < 10  # not the minute the source would take
    error = task_of(run)["error"]
    assert error["errorCode"] == "MappingFileDownloadFailed"
    assert "did not end within 1 s (TWINBRIDGE_TRANSFER_TIMEOUT)" in error["details"]
    nothing_left_behind(runtime)


# Outputs


async def test_an_output_url_on_loopback_fails_the_run_before_the_export_and_leaves_no_file(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
    file_server: FileServer,
) -> None:
    output = {"location": "USER_BLOB_STORAGE", "outputSasUrl": f"{file_server.url}/c/out.ifc?sig=s3cr3t"}
    run = await run_to_end(client, auth_headers("alice"), world, execute_queued_runs, outputOptions=output)
    task = task_of(run)
    assert (run["result"], task["error"]["errorCode"], task["error"]["canUserFix"]) == (
        "Error",
        "OutputUploadRefused",
        True,
    )
    assert task["error"]["details"].startswith(
        "outputOptions.outputSasUrl cannot be written to. Uploading to 127.0.0.1 failed: 127.0.0.1 is a "
        "loopback address"
    )
    assert "s3cr3t" not in str(run)
    assert "exportOutputFileId" not in task
    assert file_server.requests == []
    assert await stored_files(client, auth_headers("alice"), world) == []
    nothing_left_behind(runtime)


async def test_a_failing_output_url_gives_partial_success_with_the_one_stored_file(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
    file_server: FileServer,
) -> None:
    allow_private_addresses(runtime)
    file_server.put_status = 403
    output = {"location": "USER_BLOB_STORAGE", "outputSasUrl": f"{file_server.url}/c/out.ifc?sig=s3cr3t"}
    run = await run_to_end(client, auth_headers("alice"), world, execute_queued_runs, outputOptions=output)
    task = task_of(run)
    assert (run["result"], task["error"]["errorCode"]) == ("PartialSuccess", "OutputUploadFailed")
    assert "Uploading to 127.0.0.1 failed: HTTP 403" in task["error"]["details"]
    assert "s3cr3t" not in task["error"]["details"]
    files = await stored_files(client, auth_headers("alice"), world)
    assert [file["id"] for file in files] == [task["exportOutputFileId"]]


async def test_a_retried_run_stores_one_output_and_removes_what_the_killed_attempt_left(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    location = (await start_run(client, auth_headers("alice"), connection["id"])).headers["location"]
    run_id = location.rsplit("/", 1)[1]
    # A first attempt whose worker was killed: Executing under a lease nobody extends, its workspace and
    # the bytes of an output it was writing still on disk.
    async with runtime.database.transaction() as transaction:
        runs = RunRepository(transaction)
        run = await runs.get(run_id)
        assert run is not None
        run.state, run.worker_id, run.attempts = ExecutionState.EXECUTING.value, "killed-worker", 1
        run.lease_expires_at = utc_now() - timedelta(seconds=1)
        await runs.save(run)
    leftover = runtime.settings.data_dir / "tmp" / f"run-{run_id}"
    leftover.mkdir(parents=True)
    (leftover / "Blocks.ifc").write_bytes(b"half an IFC file")
    (leftover / "half.ifc").write_bytes(b"half an IFC file")
    runtime.blobs.put_file(file_key(output_file_id(run_id), "Blocks.ifc"), leftover / "half.ifc")

    await execute_queued_runs()

    run_body = (await client.get(location, headers=auth_headers("alice"))).json()["run"]
    task = task_of(run_body)
    assert (run_body["result"], task["retryAttempts"]) == ("Success", 1)
    assert task["exportOutputFileId"] == output_file_id(run_id)
    files = await stored_files(client, auth_headers("alice"), world)
    assert [file["id"] for file in files] == [task["exportOutputFileId"]]
    download = await client.get(f"/storage/files/{files[0]['id']}/download", headers=auth_headers("alice"))
    content = (await client.get(download.headers["location"])).content
    assert content.startswith(b"ISO-10303-21;")
    assert not leftover.exists()


# Disk


async def test_a_run_without_enough_free_disk_fails_at_once_and_leaves_nothing(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"min_free_disk": 2**62})
    started = time.monotonic()
    run = await run_to_end(client, auth_headers("alice"), world, execute_queued_runs)
    assert time.monotonic() - started < 10
    error = task_of(run)["error"]
    assert (run["result"], error["errorCode"], error["canUserFix"]) == ("Error", "NotEnoughDiskSpace", False)
    assert "free disk space where runs write, and needs at least" in error["details"]
    assert "TWINBRIDGE_MIN_FREE_DISK" in error["details"]
    assert str(runtime.settings.data_dir) not in error["details"]
    assert task_of(run)["retryAttempts"] == 0
    assert await stored_files(client, auth_headers("alice"), world) == []
    nothing_left_behind(runtime)


async def test_an_export_whose_output_would_not_fit_stops_after_its_first_elements_and_leaves_nothing(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The disk reports room for the source (the first guess, checked before the run writes) but not for the
    # IFC file (about 1.9 MB from a 1.5 MB iModel) and its stored copy, which the export estimates from what
    # it has written. Only the reading of free space is faked: a real disk cannot be filled safely here.
    runtime.settings = runtime.settings.model_copy(update={"min_free_disk": 0})
    source_size = (SAMPLE_IMODELS / "Building Blocks.bim").stat().st_size
    free = source_size + 1024
    monkeypatch.setattr(
        "twinbridge.platform.disk.shutil.disk_usage", lambda path: shutil._ntuple_diskusage(free * 4, 0, free)
    )

    run = await run_to_end(client, auth_headers("alice"), world, execute_queued_runs)

    error = task_of(run)["error"]
    assert (run["result"], error["errorCode"]) == ("Error", "NotEnoughDiskSpace")
    needed = int(error["details"].split("needs at least ")[1].split()[0])
    assert needed > free  # the IFC file (all written after the one chunk) for its stored copy
    assert f"has {free} bytes of free disk space" in error["details"]
    assert await stored_files(client, auth_headers("alice"), world) == []
    nothing_left_behind(runtime)
