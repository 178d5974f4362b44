"""Scripted runs and holds (control API, issue 15): the runs a rule matches follow its path, as a client
sees it through the normal run operations."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import ifcopenshell
import pytest

from tests.api.export_world import World, create_connection, start_run
from tests.api.export_world import world as world  # the fixture
from tests.conftest import SAMPLES
from twinbridge.app import create_app
from twinbridge.config import Settings
from twinbridge.features import run_executors
from twinbridge.runs.worker import RunWorker
from twinbridge.runtime import Runtime
from twinbridge.storage.service import StorageService

Headers = Callable[..., dict[str, str]]
Execute = Callable[[], Awaitable[None]]
SCRIPTS = "/_twinbridge/scripts"
TASK_ERROR_FIELDS = {
    "errorCode",
    "message",
    "details",
    "bridgeExitCode",
    "system",
    "phase",
    "category",
    "descriptionKey",
    "description",
    "kbArticleLink",
    "canUserFix",
}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(control_api=True)


async def _script(client: httpx.AsyncClient, **rule: Any) -> dict[str, Any]:
    response = await client.post(SCRIPTS, json=rule)
    assert response.status_code == 201, response.text
    return dict(response.json()["script"])


async def _run(client: httpx.AsyncClient, headers: dict[str, str], connection_id: str) -> str:
    """Starts a run of the connection; its URL."""
    response = await start_run(client, headers, connection_id)
    assert response.status_code == 202, response.text
    return str(response.headers["location"])


async def _get(client: httpx.AsyncClient, headers: dict[str, str], location: str) -> dict[str, Any]:
    response = await client.get(location, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["run"])


async def _download(client: httpx.AsyncClient, headers: dict[str, str], file_id: str) -> bytes:
    link = await client.get(f"/storage/files/{file_id}/download", headers=headers)
    assert link.status_code == 302, link.text
    return (await client.get(link.headers["location"])).content


async def _wait_until_held(client: httpx.AsyncClient, run_id: str, state: str) -> None:
    for _ in range(400):
        holds = (await client.get("/_twinbridge/holds")).json()["holds"]
        if any(hold["runId"] == run_id and hold["state"] == state for hold in holds):
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"run {run_id} was never held in {state}")


async def test_a_held_run_shows_each_state_of_its_script_until_released_then_succeeds_with_an_ifc_file(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    execute_queued_runs: Execute,
    tmp_path: Path,
) -> None:
    alice = auth_headers("alice")
    connection = await create_connection(client, alice, world.imodel_id)
    await _script(
        client,
        connectionId=connection["id"],
        steps=[
            {"state": "Queued", "hold": True},
            {"state": "Executing", "hold": True},
            {"state": "Finalizing", "durationMs": 10},
        ],
        result="Success",
    )
    location = await _run(client, alice, connection["id"])
    run_id = location.rsplit("/", 1)[1]
    worker = asyncio.ensure_future(execute_queued_runs())

    await _wait_until_held(client, run_id, "Queued")
    queued = await _get(client, alice, location)
    assert (queued["state"], queued["result"]) == ("Queued", "Undetermined")
    assert queued["jobs"][0]["tasks"][0]["state"] == "NotStarted"
    again = await start_run(client, alice, connection["id"])  # an active run: 303 to it
    assert again.status_code == 303
    assert again.headers["location"] == location
    assert (await client.post(f"/_twinbridge/holds/{run_id}/release")).status_code == 204

    await _wait_until_held(client, run_id, "Executing")
    executing = await _get(client, alice, location)
    assert (executing["state"], executing["result"]) == ("Executing", "Undetermined")
    task = executing["jobs"][0]["tasks"][0]
    assert (task["state"], task["retryAttempts"]) == ("Executing", 0)
    assert task["startDateTime"] is not None
    assert (await client.post(f"/_twinbridge/holds/{run_id}/release")).status_code == 204
    await worker

    completed = await _get(client, alice, location)
    assert (completed["state"], completed["result"]) == ("Completed", "Success")
    task = completed["jobs"][0]["tasks"][0]
    assert (task["state"], task["result"]) == ("Completed", "Success")
    assert "error" not in completed
    assert "error" not in task
    output = tmp_path / "output.ifc"
    output.write_bytes(await _download(client, alice, task["exportOutputFileId"]))
    assert ifcopenshell.open(str(output)).by_type("IfcProject")[0].Name == "Blocks"
    assert (await client.post(f"/_twinbridge/holds/{run_id}/release")).json()["error"][
        "code"
    ] == "HoldNotFound"


async def test_a_scripted_synchronization_run_shows_its_phase_and_ends_with_a_synchronization_report(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
) -> None:
    alice = auth_headers("alice")
    async with runtime.database.transaction() as transaction:
        stored = await StorageService(transaction, runtime.blobs).store_file(
            world.itwin_id, "wall.ifc", SAMPLES / "ifc" / "test.ifc", "alice"
        )
    created = await client.post(
        "/synchronization/imodels/storageconnections",
        json={
            "iModelId": world.imodel_id,
            "sourceFiles": [{"storageFileId": stored.id, "connectorType": "IFC"}],
        },
        headers=alice,
    )
    connection_id = created.json()["connection"]["id"]
    await _script(
        client,
        connectionId=connection_id,
        steps=[{"state": "Executing", "phase": "MasterFile", "hold": True}],
        result="PartialSuccess",
    )
    location = (
        await client.post(f"/synchronization/imodels/storageconnections/{connection_id}/run", headers=alice)
    ).headers["location"]
    run_id = location.rsplit("/", 1)[1]
    worker = asyncio.ensure_future(execute_queued_runs())
    await _wait_until_held(client, run_id, "Executing")
    executing = await _get(client, alice, location)
    assert (executing["state"], executing["phase"]) == ("Executing", "MasterFile")
    assert (await client.post(f"/_twinbridge/holds/{run_id}/release")).status_code == 204
    await worker

    run = await _get(client, alice, location)
    assert (run["state"], run["result"]) == ("Completed", "PartialSuccess")
    task = run["jobs"][0]["tasks"][0]
    assert task["storageFileId"] == stored.id
    assert task["details"]["synchronizationReport"]["suggestedAction"] == "Warning"
    assert task["details"]["synchronizationReport"]["totalWarningsCount"] == 1
    changesets = await client.get(f"/imodels/{world.imodel_id}/changesets", headers=alice)
    assert changesets.json()["changesets"] == []  # a scripted run writes no version


async def test_partial_success_carries_the_task_error_of_the_rule_in_the_contracts_shape(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    connection = await create_connection(client, alice, world.imodel_id)
    await _script(
        client,
        connectionId=connection["id"],
        steps=[],
        result="PartialSuccess",
        taskError={"errorCode": "GeometryFallback", "details": "2 elements were exported as boxes."},
    )
    location = await _run(client, alice, connection["id"])
    await execute_queued_runs()

    run = await _get(client, alice, location)
    assert (run["state"], run["result"]) == ("Completed", "PartialSuccess")
    task = run["jobs"][0]["tasks"][0]
    assert task["result"] == "PartialSuccess"
    assert set(task["error"]) == TASK_ERROR_FIELDS
    assert task["error"]["errorCode"] == "GeometryFallback"
    assert task["error"]["details"] == "2 elements were exported as boxes."
    assert task["exportOutputFileId"]  # a partial success still has its output


async def test_a_run_error_user_not_authenticated_ends_the_run_as_a_real_one_does(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    connection = await create_connection(client, alice, world.imodel_id)
    await _script(
        client,
        iModelId=world.imodel_id,
        steps=[],
        result="Error",
        runError={"errorKey": "UserNotAuthenticated"},
    )
    location = await _run(client, alice, connection["id"])
    await execute_queued_runs()

    run = await _get(client, alice, location)
    assert (run["state"], run["result"]) == ("Completed", "Error")
    assert run["error"] == {"errorKey": "UserNotAuthenticated", "description": "User is not authenticated."}
    task = run["jobs"][0]["tasks"][0]
    assert task["error"]["errorCode"] == "UserNotAuthenticated"
    assert "exportOutputFileId" not in task


async def test_timed_out_runs_get_the_servers_time_out_error(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    connection = await create_connection(client, alice, world.imodel_id)
    await _script(client, steps=[{"state": "Executing", "durationMs": 1}], result="TimedOut")
    location = await _run(client, alice, connection["id"])
    await execute_queued_runs()

    run = await _get(client, alice, location)
    assert run["result"] == "TimedOut"
    assert run["jobs"][0]["tasks"][0]["error"]["errorCode"] == "RunTimedOut"


async def test_the_output_file_of_the_rule_is_what_the_export_task_downloads(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    connection = await create_connection(client, alice, world.imodel_id)
    content = b"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n"
    rule = await _script(
        client,
        connectionId=connection["id"],
        outputFile={"content": base64.b64encode(content).decode(), "fileName": "chosen.ifc"},
    )
    assert rule["outputFile"] == {"fileName": "chosen.ifc", "size": len(content)}
    location = await _run(client, alice, connection["id"])
    await execute_queued_runs()

    task = (await _get(client, alice, location))["jobs"][0]["tasks"][0]
    assert task["result"] == "Success"
    assert await _download(client, alice, task["exportOutputFileId"]) == content
    stored = (await client.get(f"/storage/files/{task['exportOutputFileId']}", headers=alice)).json()
    assert stored["file"]["displayName"] == "chosen.ifc"


async def test_a_rule_with_a_count_applies_to_that_many_runs_then_the_older_rule_wins_again(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    connection = await create_connection(client, alice, world.imodel_id)
    every_run = await _script(client, steps=[], result="Success")
    once = await _script(client, connectionId=connection["id"], count=1, steps=[], result="Error")
    listed = (await client.get(SCRIPTS)).json()["scripts"]
    assert [rule["id"] for rule in listed] == [once["id"], every_run["id"]]  # newest first
    assert listed[0]["count"] == 1

    results = []
    for _ in range(2):
        location = await _run(client, alice, connection["id"])
        await execute_queued_runs()
        results.append((await _get(client, alice, location))["result"])
    assert results == ["Error", "Success"]
    assert [rule["id"] for rule in (await client.get(SCRIPTS)).json()["scripts"]] == [every_run["id"]]


async def test_rules_are_deleted_one_by_one_or_all_together(client: httpx.AsyncClient) -> None:
    first = await _script(client, result="Success")
    await _script(client, result="Error")
    assert (await client.delete(f"{SCRIPTS}/{first['id']}")).status_code == 204
    missing = await client.delete(f"{SCRIPTS}/{first['id']}")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "ScriptNotFound")
    assert len((await client.get(SCRIPTS)).json()["scripts"]) == 1
    assert (await client.delete(SCRIPTS)).status_code == 204
    assert (await client.get(SCRIPTS)).json() == {"scripts": []}


@pytest.mark.parametrize(
    ("rule", "target"),
    [
        ({"connectionId": "a", "iModelId": "b"}, "iModelId"),
        ({"steps": [{"state": "Completed"}]}, "steps[0].state"),
        ({"steps": [{"state": "Executing", "durationMs": -1}]}, "steps[0].durationMs"),
        ({"result": "Undetermined"}, "result"),
        ({"taskError": {"message": "no code"}}, "taskError.errorCode"),
        ({"runError": {"description": "no key"}}, "runError.errorKey"),
        ({"outputFile": {"content": "not base64!"}}, "outputFile.content"),
        ({"outputFile": {}}, "outputFile"),
        ({"outputFile": {"fileId": "no-such-file"}}, "outputFile.fileId"),
        ({"engineFault": "crash", "result": "Error"}, "engineFault"),
        ({"engineFault": "melt"}, "engineFault"),
        ({"count": 0}, "count"),
        ({"stepz": []}, "stepz"),
        ({"holdRetry": True}, "holdRetry"),
    ],
)
async def test_a_bad_rule_is_a_422_naming_its_field(
    client: httpx.AsyncClient, rule: dict[str, Any], target: str
) -> None:
    response = await client.post(SCRIPTS, json=rule)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidScriptRequest"
    assert [detail["target"] for detail in error["details"]] == [target]


async def test_release_of_a_run_that_is_not_held_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/_twinbridge/holds/no-such-run/release")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "HoldNotFound")


async def test_the_control_api_is_not_there_when_disabled(
    runtime: Runtime, make_settings: Callable[..., Settings]
) -> None:
    disabled = Runtime.create(make_settings(control_api=False))
    try:
        transport = httpx.ASGITransport(app=create_app(disabled.settings, disabled))
        async with httpx.AsyncClient(transport=transport, base_url=disabled.settings.base_url) as client:
            for method, path in [
                ("POST", SCRIPTS),
                ("GET", SCRIPTS),
                ("DELETE", SCRIPTS),
                ("GET", "/_twinbridge/holds"),
                ("POST", "/_twinbridge/holds/x/release"),
            ]:
                response = await client.request(method, path, json={})
                assert response.status_code == 404, (method, path)
    finally:
        await disabled.aclose()


async def test_with_scripted_runs_only_a_run_without_rule_succeeds_and_no_engine_starts(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    make_settings: Callable[..., Settings],
    runtime: Runtime,
    tmp_path: Path,
) -> None:
    alice = auth_headers("alice")
    connection = await create_connection(client, alice, world.imodel_id)
    location = await _run(client, alice, connection["id"])
    scripted = Runtime.create(make_settings(scripted_runs_only=True))
    worker = RunWorker(scripted, run_executors())
    try:
        worker.context.warm_up()
        assert await worker.run_once()
        assert worker.context._engine_pool is None  # neither the warm-up nor the run started an engine
    finally:
        worker.context.release()
        await scripted.aclose()

    run = await _get(client, alice, location)
    assert (run["state"], run["result"]) == ("Completed", "Success")
    output = tmp_path / "default.ifc"
    output.write_bytes(await _download(client, alice, run["jobs"][0]["tasks"][0]["exportOutputFileId"]))
    assert ifcopenshell.open(str(output)).schema == "IFC4X3"  # the run's ifcVersion, IFC4.3 by default


async def test_a_held_run_can_be_cancelled_and_ends_canceled(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    connection = await create_connection(client, alice, world.imodel_id)
    await _script(client, steps=[{"state": "Executing", "hold": True}], result="Success")
    location = await _run(client, alice, connection["id"])
    run_id = location.rsplit("/", 1)[1]
    worker = asyncio.ensure_future(execute_queued_runs())
    await _wait_until_held(client, run_id, "Executing")
    assert (await client.post(f"{location}/cancel", headers=alice)).status_code == 202
    await worker

    run = await _get(client, alice, location)
    assert (run["state"], run["result"]) == ("Completed", "Canceled")
    assert "exportOutputFileId" not in run["jobs"][0]["tasks"][0]


async def test_engine_faults_are_refused_where_runs_are_only_scripted(
    runtime: Runtime, make_settings: Callable[..., Settings]
) -> None:
    scripted = Runtime.create(make_settings(control_api=True, scripted_runs_only=True))
    try:
        transport = httpx.ASGITransport(app=create_app(scripted.settings, scripted))
        async with httpx.AsyncClient(transport=transport, base_url=scripted.settings.base_url) as client:
            response = await client.post(SCRIPTS, json={"engineFault": "crash"})
    finally:
        await scripted.aclose()
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["target"] == "engineFault"
