"""Get Diagnostic Reports (D1): every synchronization run writes a report per task, kept with the run, listed
with a signed download URL; runs are executed by a real worker and engine, in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ifcopenshell
import pytest

from tests.conftest import EMPTY_IMODEL, SAMPLE_IFC
from twinbridge.auth.grants import GrantService
from twinbridge.engines.connectors.ifc_reader import SPATIAL_REASON, importable_products, skipped_products
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.runtime import Runtime
from twinbridge.storage.service import StorageService
from twinbridge.synchronization.reports.content import report_key

Headers = Callable[..., dict[str, str]]
Execute = Callable[[], Awaitable[None]]
REPORTS = "/synchronization/reports"
STORAGE = "/synchronization/imodels/storageconnections"
HOUSE = SAMPLE_IFC / "test.ifc"
WALL = SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc"


@pytest.fixture(scope="module")
def house_with_a_repeated_global_id(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """test.ifc whose second product has the GlobalId of its first (which the connector names)."""
    model = ifcopenshell.open(str(HOUSE))
    first, second = importable_products(model)[:2]
    second.GlobalId = first.GlobalId
    path = tmp_path_factory.mktemp("repeated") / "house.ifc"
    model.write(str(path))
    return path, str(first.GlobalId)


@dataclass
class World:
    imodel_id: str
    house_id: str
    wall_id: str
    repeated_global_id: str


@pytest.fixture
async def world(runtime: Runtime, house_with_a_repeated_global_id: tuple[Path, str]) -> World:
    house, repeated = house_with_a_repeated_global_id
    async with runtime.database.transaction() as transaction:
        itwin = await ITwinService(transaction).create("Plant", "alice")
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, EMPTY_IMODEL, "Target", None, caller=None
        )
        storage = StorageService(transaction, runtime.blobs)
        house_file = await storage.store_file(itwin.id, "house.ifc", house, "alice")
        wall_file = await storage.store_file(itwin.id, "wall.ifc", WALL, "alice")
        await GrantService(transaction).grant("alice")
        return World(imported.imodel.id, house_file.id, wall_file.id, repeated)


async def _connection(client: httpx.AsyncClient, headers: dict[str, str], world: World, *files: str) -> str:
    body = {
        "iModelId": world.imodel_id,
        "sourceFiles": [{"storageFileId": file, "connectorType": "IFC"} for file in files],
    }
    response = await client.post(STORAGE, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["connection"]["id"])


async def _run(
    client: httpx.AsyncClient, headers: dict[str, str], connection_id: str, execute: Execute | None
) -> dict[str, Any]:
    created = await client.post(f"{STORAGE}/{connection_id}/run", headers=headers)
    assert created.status_code == 202, created.text
    if execute is not None:
        await execute()
    run: dict[str, Any] = (await client.get(created.headers["location"], headers=headers)).json()["run"]
    return run


def _task_ids(run: dict[str, Any]) -> list[str]:
    return [task["id"] for job in run["jobs"] for task in job["tasks"]]


async def _reports(client: httpx.AsyncClient, headers: dict[str, str], **query: str) -> list[dict[str, Any]]:
    response = await client.get(REPORTS, params=query, headers=headers)
    assert response.status_code == 200, response.text
    reports: list[dict[str, Any]] = response.json()["reports"]
    return reports


async def test_a_run_writes_a_report_per_task_listing_what_it_did_with_its_file(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    connection_id = await _connection(client, alice, world, world.house_id, world.wall_id)
    run = await _run(client, alice, connection_id, execute_queued_runs)
    assert run["result"] == "PartialSuccess", run
    house_task, wall_task = _task_ids(run)

    reports = await _reports(client, alice, imodelId=world.imodel_id, runId=run["id"])
    assert [(report["runId"], report["taskId"], report["imodelId"]) for report in reports] == [
        (run["id"], house_task, world.imodel_id),
        (run["id"], wall_task, world.imodel_id),
    ]
    assert all(report["createdTimeStamp"].endswith("Z") for report in reports)
    downloaded = await client.get(reports[0]["sasUri"])  # the URL authorizes, like a SAS URL
    assert downloaded.status_code == 200, downloaded.text
    report = downloaded.json()

    house = ifcopenshell.open(str(HOUSE))
    products = len(importable_products(house)) - 1  # the repeated GlobalId's second product is left out
    assert report["file"] == {
        "storageFileId": world.house_id,
        "name": "house.ifc",
        "connectorType": "IFC",
        "schema": "IFC2X3",
    }
    assert report["result"] == "PartialSuccess"
    assert report["elements"] == {
        "products": products,
        "inserted": products,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
    }
    assert report["message"] == f"{products} inserted, 0 updated, 0 deleted, 0 unchanged, 1 warning"
    [warning] = report["warnings"]
    assert warning["code"] == "DuplicateGlobalId"
    assert warning["globalId"] == world.repeated_global_id
    skipped = {(item["ifcClass"], item["globalId"]) for item in report["skipped"]}
    assert skipped == {(item.ifc_class, item.global_id) for item in skipped_products(house)}
    assert ("IfcBuildingStorey", SPATIAL_REASON) in {
        (item["ifcClass"], item["reason"]) for item in report["skipped"]
    }
    assert report["version"] == {
        "written": True,
        "changesetIndex": 1,
        "message": "The run wrote version 1 of the iModel (changeset 1).",
    }
    assert set(report["timings"]) == {
        "preprocessor",
        "masterFile",
        "readingFile",
        "writingVersion",
        "finalizing",
    }
    assert all(seconds >= 0 for seconds in report["timings"].values())

    wall = (await client.get(reports[1]["sasUri"])).json()
    assert wall["result"] == "Success"
    assert wall["elements"]["inserted"] == 3  # the wall, its window and the window's opening
    assert wall["warnings"] == []

    page = await client.get(reports[0]["_links"]["html"]["href"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "house.ifc" in page.text
    assert world.repeated_global_id in page.text
    assert "IfcBuildingStorey" in page.text


async def test_task_id_selects_the_report_of_one_task(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    connection_id = await _connection(client, alice, world, world.wall_id)
    run = await _run(client, alice, connection_id, execute_queued_runs)
    [task_id] = _task_ids(run)
    reports = await _reports(client, alice, imodelId=world.imodel_id, runId=run["id"], taskId=task_id)
    assert [report["taskId"] for report in reports] == [task_id]
    # Query names are matched in any case, as upstream's are.
    again = await client.get(f"{REPORTS}?iModelId={world.imodel_id}&RUNID={run['id']}", headers=alice)
    assert [report["taskId"] for report in again.json()["reports"]] == [task_id]


async def test_a_run_that_has_not_executed_has_no_reports_yet(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    connection_id = await _connection(client, alice, world, world.wall_id)
    run = await _run(client, alice, connection_id, None)
    assert await _reports(client, alice, imodelId=world.imodel_id, runId=run["id"]) == []


async def test_reports_request_errors_are_upstreams(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, runtime: Runtime
) -> None:
    alice = auth_headers("alice")
    connection_id = await _connection(client, alice, world, world.wall_id)
    run = await _run(client, alice, connection_id, None)

    async def error(query: str, headers: dict[str, str] = alice) -> tuple[int, dict[str, Any]]:
        response = await client.get(f"{REPORTS}{query}", headers=headers)
        return response.status_code, response.json()["error"]

    status, body = await error("")
    assert status == 422
    assert body["code"] == "InvalidBadgersRequest"
    assert body["message"] == "Cannot perform operation."
    assert body["details"] == [
        {"code": "MissingRequiredProperty", "message": "iModelId should be provided.", "target": "iModelId"},
        {"code": "MissingRequiredProperty", "message": "runId should be provided.", "target": "runId"},
    ]
    assert await error(f"?imodelId=nope&runId={run['id']}") == (
        422,
        {
            "code": "InvalidBadgersRequest",
            "message": "Cannot perform operation.",
            "details": [
                {
                    "code": "InvalidValue",
                    "message": "Provided iModelId value is not valid.",
                    "target": "iModelId",
                }
            ],
        },
    )
    status, body = await error(f"?imodelId={world.imodel_id}&runId=nope")
    assert (status, body["details"]) == (
        422,
        [{"code": "InvalidValue", "message": "Provided runId value is not valid.", "target": "runId"}],
    )
    status, body = await error(f"?imodelId={world.imodel_id}&runId={run['id']}&taskId=nope")
    assert (status, body["details"]) == (
        422,
        [{"code": "InvalidValue", "message": "Provided taskId value is not valid.", "target": "taskId"}],
    )
    status, body = await error(f"?imodelId={world.imodel_id}&runId={run['id']}", auth_headers("mallory"))
    assert (status, body["code"]) == (403, "InsufficientPermissions")
    response = await client.get(f"{REPORTS}?imodelId={world.imodel_id}&runId={run['id']}")
    assert response.status_code == 401
    # A run of another iModel is not one of this iModel's.
    async with runtime.database.transaction() as transaction:
        other_itwin = await ITwinService(transaction).create("Other", "alice")
        other = await IModelService(transaction, runtime.blobs).import_file(
            other_itwin.id, EMPTY_IMODEL, "Other", None, caller=None
        )
    status, body = await error(f"?imodelId={other.imodel.id}&runId={run['id']}")
    assert (status, body["details"][0]["target"]) == (422, "runId")


async def test_a_report_url_is_signed_and_goes_with_its_run(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
) -> None:
    alice = auth_headers("alice")
    connection_id = await _connection(client, alice, world, world.wall_id)
    run = await _run(client, alice, connection_id, execute_queued_runs)
    [report] = await _reports(client, alice, imodelId=world.imodel_id, runId=run["id"])
    forged = report["sasUri"].rsplit("signature=", 1)[0] + "signature=forged"
    refused = await client.get(forged)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "AuthenticationFailed")
    key = report_key(run["id"], report["taskId"])
    assert await asyncio.to_thread(runtime.blobs.exists, key)

    assert (await client.delete(f"{STORAGE}/{connection_id}", headers=alice)).status_code == 204
    gone = await client.get(report["sasUri"])
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "ReportNotFound")
    assert not await asyncio.to_thread(runtime.blobs.exists, key)


async def test_deleting_the_imodel_deletes_its_runs_reports(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
) -> None:
    alice = auth_headers("alice")
    connection_id = await _connection(client, alice, world, world.wall_id)
    run = await _run(client, alice, connection_id, execute_queued_runs)
    [report] = await _reports(client, alice, imodelId=world.imodel_id, runId=run["id"])
    key = report_key(run["id"], report["taskId"])
    assert await asyncio.to_thread(runtime.blobs.exists, key)
    assert (await client.delete(f"/imodels/{world.imodel_id}", headers=alice)).status_code == 204
    assert (await client.get(report["sasUri"])).status_code == 404
    assert not await asyncio.to_thread(runtime.blobs.exists, key)


async def test_a_rerun_in_which_nothing_changed_writes_no_version_and_its_report_says_so(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    connection_id = await _connection(client, alice, world, world.wall_id)
    first = await _run(client, alice, connection_id, execute_queued_runs)
    assert first["result"] == "Success", first
    again = await _run(client, alice, connection_id, execute_queued_runs)
    assert (again["state"], again["result"]) == ("Completed", "Success"), again
    [task] = [task for job in again["jobs"] for task in job["tasks"]]
    assert task["details"]["elements"] == {
        "products": 3,  # the wall, its window and the window's opening
        "inserted": 0,
        "updated": 0,
        "deleted": 0,
        "unchanged": 3,
    }
    changesets = (await client.get(f"/imodels/{world.imodel_id}/changesets", headers=alice)).json()
    assert [changeset["index"] for changeset in changesets["changesets"]] == [1]
    [report] = await _reports(client, alice, imodelId=world.imodel_id, runId=again["id"])
    content = (await client.get(report["sasUri"])).json()
    assert content["result"] == "Success"
    assert content["version"] == {
        "written": False,
        "changesetIndex": None,
        "message": "Nothing changed: the run wrote no new version, the iModel is as it was.",
    }
