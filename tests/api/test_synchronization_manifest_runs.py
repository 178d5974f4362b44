"""What a manifest run does with its files: `action: "unmap"` takes one file's elements out of the iModel,
and a run without `sourceFiles` synchronizes every source file of the connection again; runs executed by a
real worker and engine, in-process, from files a local HTTP server hands out."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import EMPTY_IMODEL, SAMPLE_IFC, SAMPLE_IMODELS
from tests.file_server import FileServer
from tests.file_server import file_server as file_server  # the fixture
from twinbridge.auth.grants import GrantService
from twinbridge.engines.imodel import EnginePool
from twinbridge.imodels.repository import IModelRepository
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.platform.outbound import OutboundClient
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]
Execute = Callable[[], Awaitable[None]]
MANIFEST = "/synchronization/imodels/manifestconnections"
HOUSE = SAMPLE_IFC / "test.ifc"
WALL = SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc"


@dataclass
class Connection:
    imodel_id: str
    id: str
    files: FileServer

    def file(self, document: str, **extra: Any) -> dict[str, Any]:
        body = {"id": document, "name": f"{document}.ifc", "url": f"{self.files.url}/{document}.ifc"}
        return {**body, "connectorType": "IFC", **extra}


@pytest.fixture
async def connection(
    client: httpx.AsyncClient, auth_headers: Headers, runtime: Runtime, file_server: FileServer
) -> Connection:
    """alice's manifest connection mapping documents `house` and `wall` to an empty iModel."""
    return await _connection_to(EMPTY_IMODEL, client, auth_headers, runtime, file_server)


async def _connection_to(
    baseline: Path,
    client: httpx.AsyncClient,
    auth_headers: Headers,
    runtime: Runtime,
    file_server: FileServer,
) -> Connection:
    """alice's manifest connection of documents `house` and `wall` to an iModel imported from `baseline`."""
    runtime.outbound = OutboundClient(allow_private=True)
    file_server.files["house.ifc"] = HOUSE.read_bytes()
    file_server.files["wall.ifc"] = WALL.read_bytes()
    async with runtime.database.transaction() as transaction:
        itwin = await ITwinService(transaction).create("Plant", "alice")
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, baseline, "Baseline", None, caller=None
        )
        await GrantService(transaction).grant("alice")
    body = {
        "iModelId": imported.imodel.id,
        "sourceFiles": [{"sourceFileId": "house"}, {"sourceFileId": "wall"}],
    }
    response = await client.post(MANIFEST, json=body, headers=auth_headers("alice"))
    assert response.status_code == 201, response.text
    return Connection(imported.imodel.id, response.json()["connection"]["id"], file_server)


async def _run(
    client: httpx.AsyncClient, headers: dict[str, str], connection: Connection, execute: Execute, body: Any
) -> dict[str, Any]:
    response = await client.post(f"{MANIFEST}/{connection.id}/runs", json=body, headers=headers)
    assert response.status_code == 202, response.text
    await execute()
    run: dict[str, Any] = (await client.get(response.headers["location"], headers=headers)).json()["run"]
    assert run["state"] == "Completed"
    return run


def _details(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["sourceFileId"]: task["details"] for job in run["jobs"] for task in job["tasks"]}


async def _latest_version_rows(runtime: Runtime, imodel_id: str, ecsql: str) -> list[dict[str, Any]]:
    """The rows of an ECSQL query on the iModel's latest version."""
    async with runtime.database.transaction() as transaction:
        latest = await IModelRepository(transaction).latest_version(imodel_id)
    assert latest is not None
    path = await asyncio.to_thread(runtime.blobs.local_path, latest.blob_key)

    def read() -> list[dict[str, Any]]:
        with EnginePool(1) as pool, pool.open(path) as imodel:
            return list(imodel.query_all(ecsql))

    return await asyncio.to_thread(read)


async def _provenance(runtime: Runtime, imodel_id: str) -> dict[str, set[tuple[str, str]]]:
    """The latest version's IFC elements by file key: (GlobalId, element id) pairs."""
    rows = await _latest_version_rows(
        runtime,
        imodel_id,
        "SELECT l.CodeValue file, a.Identifier globalId, a.Element.Id elementId"
        " FROM bis.ExternalSourceAspect a JOIN bis.RepositoryLink l ON l.ECInstanceId = a.Scope.Id"
        " WHERE a.Kind = 'IfcProduct'",
    )
    found: dict[str, set[tuple[str, str]]] = {}
    for row in rows:
        found.setdefault(row["file"], set()).add((row["globalId"], row["elementId"]))
    return found


async def test_unmapping_a_file_deletes_its_elements_and_leaves_the_other_files_elements_alone(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    connection: Connection,
    runtime: Runtime,
    execute_queued_runs: Execute,
) -> None:
    alice = auth_headers("alice")
    body = {"sourceFiles": [connection.file("house"), connection.file("wall")]}
    first = await _run(client, alice, connection, execute_queued_runs, body)
    assert first["result"] == "Success", first
    before = await _provenance(runtime, connection.imodel_id)
    house_elements = _details(first)["house"]["elements"]["inserted"]
    # two file keys; the wall file holds a wall, its window and the window's opening
    assert [len(before[key]) for key in sorted(before)] == [house_elements, 3]

    # The file to unmap needs no URL: nothing is fetched for it.
    unmap = {"id": "house", "action": "unmap", "connectorType": "IFC"}
    second = await _run(
        client, alice, connection, execute_queued_runs, {"sourceFiles": [unmap, connection.file("wall")]}
    )
    assert second["result"] == "Success", second
    details = _details(second)
    assert details["house"]["elements"] == {
        "products": 0,
        "inserted": 0,
        "updated": 0,
        "deleted": house_elements,
        "unchanged": 0,
    }
    assert (
        details["house"]["synchronizationReport"]["message"]
        == f"The file was unmapped: {house_elements} deleted."
    )
    assert details["wall"]["elements"]["unchanged"] == 3
    after = await _provenance(runtime, connection.imodel_id)
    wall_key = next(key for key, elements in before.items() if len(elements) == 3)
    assert after == {wall_key: before[wall_key]}  # the same elements, with the same ids
    assert connection.files.requests.count("GET /house.ifc") == 1
    changesets = (await client.get(f"/imodels/{connection.imodel_id}/changesets", headers=alice)).json()
    assert [changeset["index"] for changeset in changesets["changesets"]] == [1, 2]


async def test_a_run_without_source_files_synchronizes_every_file_of_the_connection_from_its_last_url(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    connection: Connection,
    execute_queued_runs: Execute,
) -> None:
    alice = auth_headers("alice")
    refused = await client.post(f"{MANIFEST}/{connection.id}/runs", json={}, headers=alice)
    assert refused.status_code == 422
    [detail] = refused.json()["error"]["details"]
    assert detail["target"] == "sourceFiles"
    assert "'house' has not been synchronized with a URL yet" in detail["message"]

    body = {"sourceFiles": [connection.file("house"), connection.file("wall")]}
    await _run(client, alice, connection, execute_queued_runs, body)
    again = await _run(client, alice, connection, execute_queued_runs, {})
    assert again["result"] == "Success", again
    assert sorted(_details(again)) == ["house", "wall"]
    assert connection.files.requests.count("GET /house.ifc") == 2
    assert connection.files.requests.count("GET /wall.ifc") == 2


async def test_an_action_other_than_bridge_or_unmap_is_refused_naming_it(
    client: httpx.AsyncClient, auth_headers: Headers, connection: Connection
) -> None:
    body = {
        "sourceFiles": [connection.file("house", action="delete"), {"id": "wall", "connectorType": "IFC"}]
    }
    response = await client.post(f"{MANIFEST}/{connection.id}/runs", json=body, headers=auth_headers("alice"))
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [(detail["code"], detail["target"]) for detail in details] == [
        ("InvalidValue", "sourceFiles[0].action"),
        ("MissingRequiredProperty", "sourceFiles[1].url"),
    ]


async def _documents_of_elements(runtime: Runtime, imodel_id: str) -> dict[str, list[Any]]:
    """Per file key, the document properties each of its elements reaches through its provenance's scope
    (the file's RepositoryLink), deduplicated."""
    rows = await _latest_version_rows(
        runtime,
        imodel_id,
        "SELECT l.CodeValue file, l.JsonProperties document FROM bis.ExternalSourceAspect a"
        " JOIN bis.RepositoryLink l ON l.ECInstanceId = a.Scope.Id WHERE a.Kind = 'IfcProduct'",
    )
    found: dict[str, list[Any]] = {}
    for row in rows:
        document = json.loads(row["document"]).get("documentAttribute") if row.get("document") else None
        if document not in found.setdefault(row["file"], []):
            found[row["file"]].append(document)
    return found


async def _report_of(
    client: httpx.AsyncClient, headers: dict[str, str], imodel_id: str, run: dict[str, Any]
) -> Any:
    reports = await client.get(
        "/synchronization/reports", params={"imodelId": imodel_id, "runId": run["id"]}, headers=headers
    )
    assert reports.status_code == 200, reports.text
    contents = [(await client.get(report["sasUri"])).json() for report in reports.json()["reports"]]
    return {content["file"]["sourceFileId"]: content for content in contents}


async def test_a_files_document_attribute_goes_on_its_repository_link_which_its_elements_reach(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    connection: Connection,
    runtime: Runtime,
    execute_queued_runs: Execute,
) -> None:
    alice = auth_headers("alice")
    schema_url = "https://documents.example/documentAttributeSchema.json"
    document = {
        "className": "ProjectwiseDynamic:PWDocumentLink",
        "properties": {"Revision": "R01", "Suitability": "S01", "Pages": 3, "Approved": True},
    }
    body = {
        "documentAttributeSchemaUrl": schema_url,
        "sourceFiles": [connection.file("house", documentAttribute=document), connection.file("wall")],
    }
    first = await _run(client, alice, connection, execute_queued_runs, body)
    assert first["result"] == "Success", first
    wall_key = next(key for key in await _provenance(runtime, connection.imodel_id) if key != "house")
    assert await _documents_of_elements(runtime, connection.imodel_id) == {
        "house": [{**document, "schemaUrl": schema_url}],
        wall_key: [None],
    }
    reports = await _report_of(client, alice, connection.imodel_id, first)
    assert reports["house"]["file"]["documentAttribute"] == document
    assert reports["house"]["file"]["documentAttributeSchemaUrl"] == schema_url
    assert reports["wall"]["file"]["documentAttribute"] is None

    # A run without sourceFiles keeps what the last one gave; a new revision changes only the link.
    again = await _run(client, alice, connection, execute_queued_runs, {})
    assert again["result"] == "Success"
    revised = {**document, "properties": {**document["properties"], "Revision": "R02"}}
    body["sourceFiles"] = [connection.file("house", documentAttribute=revised), connection.file("wall")]
    body.pop("documentAttributeSchemaUrl")
    third = await _run(client, alice, connection, execute_queued_runs, body)
    assert third["result"] == "Success"
    assert _details(third)["house"]["elements"]["updated"] == 0  # the elements themselves did not change
    assert (await _documents_of_elements(runtime, connection.imodel_id))["house"] == [revised]
    changesets = (await client.get(f"/imodels/{connection.imodel_id}/changesets", headers=alice)).json()
    assert len(changesets["changesets"]) == 2  # the run without sourceFiles changed nothing


async def test_a_document_attribute_that_is_not_an_object_of_values_is_refused_naming_the_field(
    client: httpx.AsyncClient, auth_headers: Headers, connection: Connection
) -> None:
    body = {
        "documentAttributeSchemaUrl": "ftp://documents.example/schema.json",
        "sourceFiles": [
            connection.file("house", documentAttribute={"properties": {"Revision": {"nested": 1}}}),
            connection.file("wall", documentAttribute={"className": "", "properties": ["R01"]}),
        ],
    }
    response = await client.post(f"{MANIFEST}/{connection.id}/runs", json=body, headers=auth_headers("alice"))
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [(detail["code"], detail["target"]) for detail in details] == [
        ("InvalidValue", "documentAttributeSchemaUrl"),
        ("MissingRequiredProperty", "sourceFiles[0].documentAttribute.className"),
        ("InvalidValue", "sourceFiles[0].documentAttribute.properties.Revision"),
        ("InvalidValue", "sourceFiles[1].documentAttribute.className"),
        ("InvalidValue", "sourceFiles[1].documentAttribute.properties"),
    ]
    assert "not a string, number, boolean or null" in details[2]["message"]


async def test_an_imodel_with_older_schemas_is_upgraded_before_the_connector_writes_to_it(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    runtime: Runtime,
    file_server: FileServer,
    execute_queued_runs: Execute,
) -> None:
    """CompatibilityTestSeed.bim has ECDb profile 4.0.0.0 and BisCore 1.0.0: without an upgrade the engine
    refuses the connector's schema (EC 3.2 needs a newer profile)."""
    seed = SAMPLE_IMODELS / "CompatibilityTestSeed.bim"
    connection = await _connection_to(seed, client, auth_headers, runtime, file_server)
    alice = auth_headers("alice")
    house_only = {"sourceFiles": [connection.file("house")]}
    run = await _run(client, alice, connection, execute_queued_runs, house_only)
    assert run["result"] == "Success", run
    assert _details(run)["house"]["elements"]["inserted"] > 0
    [report] = (await _report_of(client, alice, connection.imodel_id, run)).values()
    assert report["schemaUpgrade"] == {"before": "UpgradeRecommended", "after": "UpToDate"}
    assert len((await _provenance(runtime, connection.imodel_id))["house"]) > 0

    # The new version is up to date: the next run upgrades nothing.
    again = await _run(client, alice, connection, execute_queued_runs, house_only)
    [report] = (await _report_of(client, alice, connection.imodel_id, again)).values()
    assert report["schemaUpgrade"] is None


async def test_an_imodel_the_engine_cannot_upgrade_fails_its_tasks_with_what_the_user_can_do(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    runtime: Runtime,
    file_server: FileServer,
    execute_queued_runs: Execute,
    tmp_path: Path,
) -> None:
    broken = tmp_path / "future.bim"
    shutil.copyfile(EMPTY_IMODEL, broken)
    with sqlite3.connect(broken) as database:  # a profile version no engine knows
        database.execute(
            'UPDATE be_Prop SET StrData = \'{"major":4,"minor":0,"sub1":99,"sub2":0}\''
            " WHERE Namespace = 'ec_Db' AND Name = 'SchemaVersion'"
        )
    connection = await _connection_to(broken, client, auth_headers, runtime, file_server)
    alice = auth_headers("alice")
    house_only = {"sourceFiles": [connection.file("house")]}
    run = await _run(client, alice, connection, execute_queued_runs, house_only)
    assert run["result"] == "Error"
    [task] = [task for job in run["jobs"] for task in job["tasks"]]
    assert task["error"]["errorCode"] == "SchemaUpgradeFailed"
    assert task["error"]["canUserFix"] is True
    assert "The profile of the Db is invalid" in task["error"]["details"]
    assert "StandaloneDb.upgradeStandaloneSchemas" in task["error"]["details"]
    changesets = (await client.get(f"/imodels/{connection.imodel_id}/changesets", headers=alice)).json()
    assert changesets["changesets"] == []
