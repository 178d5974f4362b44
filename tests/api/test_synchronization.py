"""The Synchronization API's connection, source-file, run and authorization operations, in-process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE_IMODELS, SAMPLES
from twinbridge.auth.grants import GrantService
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.runtime import Runtime
from twinbridge.storage.service import StorageService

Headers = Callable[..., dict[str, str]]
BASE = "http://twinbridge.test"
MANIFEST = "/synchronization/imodels/manifestconnections"
STORAGE = "/synchronization/imodels/storageconnections"


@dataclass
class World:
    itwin_id: str
    imodel_id: str
    ifc_file_id: str
    dwg_file_id: str


@pytest.fixture
async def world(runtime: Runtime, tmp_path: Any) -> World:
    async with runtime.database.transaction() as transaction:
        itwins = ITwinService(transaction)
        itwin = await itwins.create("Plant", "alice")
        await itwins.set_member(itwin.id, "rita", "Reader")  # type: ignore[arg-type]
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, SAMPLE_IMODELS / "213d69e0-9a83-4e3f-942d-694e94c9f905m.bim", "Empty", None, caller=None
        )
        storage = StorageService(transaction, runtime.blobs)
        ifc = await storage.store_file(itwin.id, "wall.ifc", SAMPLES / "ifc" / "test.ifc", "alice")
        dwg_path = tmp_path / "plan.dwg"
        dwg_path.write_bytes(b"AC1032 not really a drawing")
        dwg = await storage.store_file(itwin.id, "plan.dwg", dwg_path, "alice")
        await GrantService(transaction).grant("alice")
        return World(itwin.id, imported.imodel.id, ifc.id, dwg.id)


async def _manifest(client: httpx.AsyncClient, headers: dict[str, str], world: World, *ids: str) -> dict:
    body = {
        "iModelId": world.imodel_id,
        "displayName": "m",
        "sourceFiles": [{"sourceFileId": i} for i in ids],
    }
    response = await client.post(MANIFEST, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json()["connection"])


async def _storage(
    client: httpx.AsyncClient, headers: dict[str, str], world: World, *files: tuple[str, str]
) -> dict:
    body = {
        "iModelId": world.imodel_id,
        "sourceFiles": [{"storageFileId": file_id, "connectorType": kind} for file_id, kind in files],
    }
    response = await client.post(STORAGE, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json()["connection"])


# Manifest connections (M1-M5)


async def test_manifest_connection_is_created_with_an_opaque_id_and_links(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _manifest(client, auth_headers("alice"), world, "doc-1")
    assert len(connection["id"]) == 43  # base64url, like the cloud's ids
    assert connection["authenticationType"] == "User"
    assert connection["_links"]["iModel"]["href"] == f"{BASE}/imodels/{world.imodel_id}"
    fetched = await client.get(f"{MANIFEST}/{connection['id']}", headers=auth_headers("rita"))
    assert fetched.json()["connection"] == connection


async def test_manifest_connection_needs_source_files(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    response = await client.post(MANIFEST, json={"iModelId": world.imodel_id}, headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "InvalidManifestConnectionRequest"
    assert response.json()["error"]["details"][0]["target"] == "sourceFiles"


async def test_a_file_maps_into_an_imodel_only_once(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    await _manifest(client, auth_headers("alice"), world, "doc-1")
    body = {"iModelId": world.imodel_id, "sourceFiles": [{"sourceFileId": "doc-1"}]}
    response = await client.post(MANIFEST, json=body, headers=auth_headers("alice"))
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "FileMappingToTheIModelAlreadyExists",
        "message": "The SourceFile is already mapped to the iModel.",
    }


async def test_unknown_manifest_connection_is_the_documented_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get(f"{MANIFEST}/nope", headers=auth_headers("alice"))
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "ManifestConnectionNotFound",
        "message": "Requested ManifestConnection is not available.",
    }


async def test_list_is_minimal_by_default_and_full_on_request(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    created = await _manifest(client, auth_headers("alice"), world, "doc-1")
    params = {"imodelId": world.imodel_id}
    minimal = (await client.get(MANIFEST, params=params, headers=auth_headers("alice"))).json()
    assert minimal["connections"] == [{"id": created["id"], "displayName": "m"}]
    assert (
        minimal["_links"]["self"]["href"] == f"{BASE}{MANIFEST}?imodelId={world.imodel_id}&$skip=0&$top=100"
    )
    headers = {**auth_headers("alice"), "Prefer": "return=representation"}
    full = (await client.get(MANIFEST, params=params, headers=headers)).json()
    assert full["connections"] == [created]


async def test_update_changes_only_name_and_authentication(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _manifest(client, auth_headers("alice"), world, "doc-1")
    response = await client.put(
        f"{MANIFEST}/{connection['id']}",
        json={"displayName": "renamed", "authenticationType": "Service", "iModelId": "ignored"},
        headers=auth_headers("alice"),
    )
    assert response.status_code == 200
    updated = response.json()["connection"]
    assert (updated["displayName"], updated["authenticationType"], updated["iModelId"]) == (
        "renamed",
        "Service",
        world.imodel_id,
    )


async def test_delete_removes_the_connection_and_frees_its_files(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _manifest(client, auth_headers("alice"), world, "doc-1")
    assert (
        await client.delete(f"{MANIFEST}/{connection['id']}", headers=auth_headers("alice"))
    ).status_code == 204
    assert (
        await client.get(f"{MANIFEST}/{connection['id']}", headers=auth_headers("alice"))
    ).status_code == 404
    await _manifest(client, auth_headers("alice"), world, "doc-1")  # the mapping is free again


async def test_readers_cannot_change_connections(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _manifest(client, auth_headers("alice"), world, "doc-1")
    assert (
        await client.delete(f"{MANIFEST}/{connection['id']}", headers=auth_headers("rita"))
    ).status_code == 403
    body = {"iModelId": world.imodel_id, "sourceFiles": [{"sourceFileId": "x"}]}
    assert (await client.post(MANIFEST, json=body, headers=auth_headers("rita"))).status_code == 403


async def test_camel_case_paths_of_older_clients_are_routed(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _manifest(client, auth_headers("alice"), world, "doc-1")
    response = await client.get(
        f"/synchronization/imodels/manifestConnections/{connection['id']}/sourceFiles",
        headers=auth_headers("alice"),
    )
    assert response.status_code == 200


# Manifest source files (MF1-MF5)


async def test_manifest_source_files_can_be_added_read_updated_and_removed(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _manifest(client, auth_headers("alice"), world, "doc-1")
    files = f"{MANIFEST}/{connection['id']}/sourcefiles"
    added = await client.post(files, json={"sourceFileId": "doc-2"}, headers=auth_headers("alice"))
    assert added.status_code == 201
    source_file = added.json()["sourceFile"]
    assert set(source_file) == {"id", "sourceFileId"}
    listed = (await client.get(files, headers=auth_headers("alice"))).json()["sourceFiles"]
    assert [item["sourceFileId"] for item in listed] == ["doc-1", "doc-2"]
    updated = await client.put(
        f"{files}/{source_file['id']}", json={"sourceFileId": "doc-3"}, headers=auth_headers("alice")
    )
    assert updated.json()["sourceFile"] == {"id": source_file["id"], "sourceFileId": "doc-3"}
    assert (
        await client.delete(f"{files}/{source_file['id']}", headers=auth_headers("alice"))
    ).status_code == 204
    missing = await client.get(f"{files}/{source_file['id']}", headers=auth_headers("alice"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ManifestConnectionSourceFileNotFound"


async def test_adding_an_already_mapped_source_file_is_a_conflict(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _manifest(client, auth_headers("alice"), world, "doc-1")
    response = await client.post(
        f"{MANIFEST}/{connection['id']}/sourcefiles",
        json={"sourceFileId": "doc-1"},
        headers=auth_headers("alice"),
    )
    assert response.status_code == 409


async def test_malformed_source_file_body_gives_the_contract_detail(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _manifest(client, auth_headers("alice"), world, "doc-1")
    response = await client.post(
        f"{MANIFEST}/{connection['id']}/sourcefiles",
        content=b"{oops",
        headers={**auth_headers("alice"), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "InvalidManifestConnectionSourceFileRequest",
        "message": "Cannot perform operation.",
        "details": [{"code": "InvalidRequestBody", "message": "Error parsing JSON, malformed JSON."}],
    }


# Storage connections and their source files (S1-S5, SF1-SF5)


async def test_storage_connection_maps_stored_files_with_their_names(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _storage(client, auth_headers("alice"), world, (world.ifc_file_id, "IFC"))
    files = (
        await client.get(f"{STORAGE}/{connection['id']}/sourcefiles", headers=auth_headers("alice"))
    ).json()
    assert files["sourceFiles"] == [
        {
            "id": files["sourceFiles"][0]["id"],
            "storageFileId": world.ifc_file_id,
            "lastKnownFileName": "wall.ifc",
            "_links": {"file": {"href": f"{BASE}/storage/files/{world.ifc_file_id}"}},
        }
    ]
    headers = {**auth_headers("alice"), "Prefer": "return=representation"}
    full = (await client.get(f"{STORAGE}/{connection['id']}/sourcefiles", headers=headers)).json()
    assert full["sourceFiles"][0]["connectorType"] == "IFC"


async def test_storage_connection_refuses_unknown_files_and_connector_types(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    unknown = {
        "iModelId": world.imodel_id,
        "sourceFiles": [{"storageFileId": "nope", "connectorType": "IFC"}],
    }
    response = await client.post(STORAGE, json=unknown, headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0] == {
        "code": "InvalidValue",
        "message": "Provided storageFileId value is not valid.",
        "target": "sourceFiles[0].storageFileId",
    }
    wrong_type = {
        "iModelId": world.imodel_id,
        "sourceFiles": [{"storageFileId": world.ifc_file_id, "connectorType": "PDF"}],
    }
    response = await client.post(STORAGE, json=wrong_type, headers=auth_headers("alice"))
    assert response.json()["error"]["details"][0]["target"] == "sourceFiles[0].connectorType"


async def test_unknown_storage_connection_is_a_404(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    response = await client.get(f"{STORAGE}/nope", headers=auth_headers("alice"))
    assert response.json()["error"]["code"] == "StorageConnectionNotFound"


async def test_storage_source_file_update_changes_file_and_connector(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _storage(client, auth_headers("alice"), world, (world.ifc_file_id, "IFC"))
    files = f"{STORAGE}/{connection['id']}/sourcefiles"
    source_file = (await client.get(files, headers=auth_headers("alice"))).json()["sourceFiles"][0]
    response = await client.put(
        f"{files}/{source_file['id']}",
        json={"storageFileId": world.dwg_file_id, "connectorType": "DWG"},
        headers=auth_headers("alice"),
    )
    body = response.json()["sourceFile"]
    assert (body["storageFileId"], body["connectorType"], body["lastKnownFileName"]) == (
        world.dwg_file_id,
        "DWG",
        "plan.dwg",
    )


# Runs (M6-M8, S6-S8)


async def test_storage_run_uses_the_singular_path_and_answers_202(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _storage(client, auth_headers("alice"), world, (world.dwg_file_id, "DWG"))
    assert (
        await client.post(f"{STORAGE}/{connection['id']}/runs", headers=auth_headers("alice"))
    ).status_code == 405
    response = await client.post(f"{STORAGE}/{connection['id']}/run", headers=auth_headers("alice"))
    assert response.status_code == 202
    assert response.headers["location"].startswith(f"{BASE}{STORAGE}/{connection['id']}/runs/")
    run = (await client.get(response.headers["location"], headers=auth_headers("alice"))).json()["run"]
    assert (run["state"], run["result"]) == ("Queued", "Undetermined")
    assert run["jobs"][0]["connectorType"] == "DWG"
    assert run["jobs"][0]["tasks"][0]["storageFileId"] == world.dwg_file_id


async def test_an_export_run_is_not_held_up_by_a_synchronization_run_of_the_imodel(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    """One active run per iModel per API: a 303 never points a client at a run of the other API."""
    storage = await _storage(client, auth_headers("alice"), world, (world.dwg_file_id, "DWG"))
    synchronizing = await client.post(f"{STORAGE}/{storage['id']}/run", headers=auth_headers("alice"))
    export = await client.post(
        "/export/connections", json={"iModelId": world.imodel_id}, headers=auth_headers("alice")
    )
    runs = f"/export/connections/{export.json()['connection']['id']}/runs"
    exporting = await client.post(runs, json={"exportType": "IFC"}, headers=auth_headers("alice"))
    assert (synchronizing.status_code, exporting.status_code) == (202, 202)
    assert exporting.headers["location"].startswith(f"{BASE}/export/connections/")

    again = await client.post(runs, json={"exportType": "IFC"}, headers=auth_headers("alice"))
    assert again.status_code == 303
    assert again.headers["location"] == exporting.headers["location"]
    resynchronizing = await client.post(f"{STORAGE}/{storage['id']}/run", headers=auth_headers("alice"))
    assert resynchronizing.status_code == 303
    assert resynchronizing.headers["location"] == synchronizing.headers["location"]


async def test_run_of_a_format_without_connector_ends_in_error_saying_so(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    connection = await _storage(client, auth_headers("alice"), world, (world.dwg_file_id, "DWG"))
    location = (
        await client.post(f"{STORAGE}/{connection['id']}/run", headers=auth_headers("alice"))
    ).headers["location"]
    await execute_queued_runs()
    run = (await client.get(location, headers=auth_headers("alice"))).json()["run"]
    assert (run["state"], run["result"]) == ("Completed", "Error")
    task = run["jobs"][0]["tasks"][0]
    assert task["error"]["errorCode"] == "ConnectorNotAvailable"
    assert "no connector for connectorType DWG" in task["error"]["details"]
    assert task["error"]["canUserFix"] is False
    assert task["details"]["synchronizationReport"]["totalErrorsCount"] == 1
    versions = (
        await client.get(f"/imodels/{world.imodel_id}/changesets", headers=auth_headers("alice"))
    ).json()
    assert versions["changesets"] == []  # a failed run writes no version


async def test_manifest_run_needs_mapped_files_with_urls_and_types(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _manifest(client, auth_headers("alice"), world, "doc-1")
    body = {"sourceFiles": [{"id": "other", "url": "ftp://x/y.ifc"}]}
    response = await client.post(
        f"{MANIFEST}/{connection['id']}/runs", json=body, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    targets = {detail["target"] for detail in response.json()["error"]["details"]}
    assert targets == {"sourceFiles[0].id", "sourceFiles[0].connectorType", "sourceFiles[0].url"}
    assert response.json()["error"]["code"] == "InvalidManifestConnectionRunRequest"


async def test_manifest_run_download_failure_names_the_host_and_status(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    connection = await _manifest(client, auth_headers("alice"), world, "doc-1")
    body = {
        "sourceFiles": [
            {"id": "doc-1", "name": "a.ifc", "url": "http://127.0.0.1:9/a.ifc", "connectorType": "IFC"}
        ]
    }
    location = (
        await client.post(f"{MANIFEST}/{connection['id']}/runs", json=body, headers=auth_headers("alice"))
    ).headers["location"]
    await execute_queued_runs()
    run = (await client.get(location, headers=auth_headers("alice"))).json()["run"]
    error = run["jobs"][0]["tasks"][0]["error"]
    assert run["result"] == "Error"
    assert error["errorCode"] == "SourceFileDownloadFailed"
    assert "127.0.0.1" in error["details"]
    assert "TWINBRIDGE_FETCH_ALLOW_PRIVATE" in error["details"]  # loopback is refused by default


async def test_runs_list_is_minimal_by_default(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    connection = await _storage(client, auth_headers("alice"), world, (world.dwg_file_id, "DWG"))
    location = (
        await client.post(f"{STORAGE}/{connection['id']}/run", headers=auth_headers("alice"))
    ).headers["location"]
    runs = (await client.get(f"{STORAGE}/{connection['id']}/runs", headers=auth_headers("rita"))).json()[
        "runs"
    ]
    assert runs == [{"id": location.rsplit("/", 1)[1], "state": "Queued", "result": "Undetermined"}]
    last = (await client.get(f"{STORAGE}/{connection['id']}", headers=auth_headers("rita"))).json()
    assert last["connection"]["_links"]["lastRun"]["href"] == location


# A1


async def test_authorization_information_has_an_optional_redirect_url(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    path = "/synchronization/imodels/connections/authorizationinformation"
    response = await client.get(path, headers=auth_headers("zoe"))
    assert response.json()["authorizationInformation"]["isUserAuthorized"] is False
    invalid = await client.get(path, params={"redirectUrl": "nope"}, headers=auth_headers("zoe"))
    assert invalid.json()["error"]["details"] == [
        {"code": "InvalidValue", "message": "redirectUrl should be a valid URL.", "target": "redirectUrl"}
    ]


async def test_failed_ifc_run_leaves_the_current_version_unchanged(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    tmp_path: Any,
    execute_queued_runs: Callable[[], Awaitable[None]],
) -> None:
    bogus = tmp_path / "broken.ifc"
    bogus.write_text("this is not an IFC file")
    async with runtime.database.transaction() as transaction:
        stored = await StorageService(transaction, runtime.blobs).store_file(
            world.itwin_id, "broken.ifc", bogus, "alice"
        )
    connection = await _storage(client, auth_headers("alice"), world, (stored.id, "IFC"))
    before = (await client.get(f"/imodels/{world.imodel_id}", headers=auth_headers("alice"))).json()
    location = (
        await client.post(f"{STORAGE}/{connection['id']}/run", headers=auth_headers("alice"))
    ).headers["location"]
    await execute_queued_runs()
    run = (await client.get(location, headers=auth_headers("alice"))).json()["run"]
    error = run["jobs"][0]["tasks"][0]["error"]
    assert run["result"] == "Error"
    assert error["errorCode"] == "ConnectorFailed"
    assert "broken.ifc" in error["details"]
    changesets = (
        await client.get(f"/imodels/{world.imodel_id}/changesets", headers=auth_headers("alice"))
    ).json()
    assert changesets["changesets"] == []
    after = (await client.get(f"/imodels/{world.imodel_id}", headers=auth_headers("alice"))).json()
    assert after == before
