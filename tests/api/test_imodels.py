"""The minimal iModels API: the fromBaseline flow, refusal of non-iModels, get, list, delete."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import SAMPLE_IMODELS
from twinbridge.imodels.service import IModelService
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]
BLOCKS = SAMPLE_IMODELS / "Building Blocks.bim"


@pytest.fixture
async def itwin_id(client: httpx.AsyncClient, auth_headers: Headers) -> str:
    response = await client.post("/itwins", json={"displayName": "Plant"}, headers=auth_headers("alice"))
    return str(response.json()["iTwin"]["id"])


async def _create(
    client: httpx.AsyncClient, headers: dict[str, str], itwin_id: str, size: int, name: str = "Blocks"
) -> dict:
    response = await client.post(
        "/imodels",
        json={
            "iTwinId": itwin_id,
            "name": name,
            "creationMode": "fromBaseline",
            "baselineFile": {"size": size},
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["iModel"])


async def _upload_and_complete(
    client: httpx.AsyncClient, headers: dict[str, str], imodel: dict, content: bytes
) -> httpx.Response:
    upload = await client.put(
        imodel["_links"]["upload"]["href"], content=content
    )  # no Authorization: a SAS-like URL
    assert upload.status_code == 201, upload.text
    return await client.post(imodel["_links"]["complete"]["href"], headers=headers)


def _blob_files(runtime: Runtime) -> list[Path]:
    root = runtime.settings.data_dir / "blobs"
    return [path for path in root.rglob("*") if path.is_file()]


async def test_baseline_flow_creates_an_initialized_imodel(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    content = BLOCKS.read_bytes()
    imodel = await _create(client, auth_headers("alice"), itwin_id, len(content))
    assert imodel["state"] == "notInitialized"
    completed = await _upload_and_complete(client, auth_headers("alice"), imodel, content)
    assert completed.status_code == 200
    assert completed.json()["baselineFile"]["state"] == "initialized"
    assert completed.json()["baselineFile"]["fileSize"] == len(content)
    fetched = (await client.get(f"/imodels/{imodel['id']}", headers=auth_headers("alice"))).json()["iModel"]
    assert fetched["state"] == "initialized"
    assert fetched["iTwinId"] == itwin_id
    assert "upload" not in fetched["_links"]  # the upload URL dies with the upload


async def test_file_that_is_not_an_imodel_is_refused_and_nothing_remains(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    content = (SAMPLE_IMODELS.parent / "ifc" / "test.ifc").read_bytes()
    imodel = await _create(client, auth_headers("alice"), itwin_id, len(content))
    refused = await _upload_and_complete(client, auth_headers("alice"), imodel, content)
    assert refused.status_code == 422
    assert refused.json()["error"] == {
        "code": "InvalidiModelsRequest",
        "message": "Cannot perform operation.",
        "details": [
            {
                "code": "InvalidBaselineFile",
                "message": "The file is not an iModel: it is not an SQLite database.",
                "target": "baselineFile",
            }
        ],
    }
    assert _blob_files(runtime) == []
    state = (await client.get(f"/imodels/{imodel['id']}/baselinefile", headers=auth_headers("alice"))).json()
    assert state["baselineFile"]["state"] == "waitingForFile"


async def test_refused_upload_can_be_retried_with_a_real_imodel(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    content = BLOCKS.read_bytes()
    imodel = await _create(client, auth_headers("alice"), itwin_id, len(content))
    assert (await _upload_and_complete(client, auth_headers("alice"), imodel, b"garbage")).status_code == 422
    assert (await _upload_and_complete(client, auth_headers("alice"), imodel, content)).status_code == 200


async def test_upload_larger_than_announced_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    imodel = await _create(client, auth_headers("alice"), itwin_id, 10)
    response = await client.put(imodel["_links"]["upload"]["href"], content=b"x" * 11)
    assert response.status_code == 422
    assert "larger than the baselineFile.size" in response.json()["error"]["details"][0]["message"]
    assert _blob_files(runtime) == []
    assert list((runtime.settings.data_dir / "tmp").iterdir()) == []


async def test_upload_with_a_wrong_token_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    imodel = await _create(client, auth_headers("alice"), itwin_id, 10)
    response = await client.put(f"/imodels/{imodel['id']}/baselinefile/upload?token=guess", content=b"x")
    assert response.status_code == 404


async def test_complete_without_upload_says_so(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    imodel = await _create(client, auth_headers("alice"), itwin_id, 10)
    response = await client.post(imodel["_links"]["complete"]["href"], headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["message"].startswith("No baseline file has been uploaded")


async def test_missing_fields_are_named(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    response = await client.post("/imodels", json={"name": "x"}, headers=auth_headers("alice"))
    assert response.status_code == 422
    targets = {detail["target"] for detail in response.json()["error"]["details"]}
    assert targets == {"iTwinId", "creationMode", "baselineFile"}


async def test_duplicate_name_in_an_itwin_is_a_conflict(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    await _create(client, auth_headers("alice"), itwin_id, 10)
    response = await client.post(
        "/imodels",
        json={
            "iTwinId": itwin_id,
            "name": "Blocks",
            "creationMode": "fromBaseline",
            "baselineFile": {"size": 1},
        },
        headers=auth_headers("alice"),
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "iModelExists"


async def test_readers_cannot_create_and_strangers_cannot_see(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    await client.post(
        f"/itwins/{itwin_id}/members",
        json={"subject": "rita", "role": "Reader"},
        headers=auth_headers("alice"),
    )
    body = {"iTwinId": itwin_id, "name": "X", "creationMode": "fromBaseline", "baselineFile": {"size": 1}}
    assert (await client.post("/imodels", json=body, headers=auth_headers("rita"))).status_code == 403
    imodel = await _create(client, auth_headers("alice"), itwin_id, 10)
    assert (await client.get(f"/imodels/{imodel['id']}", headers=auth_headers("rita"))).status_code == 200
    assert (await client.get(f"/imodels/{imodel['id']}", headers=auth_headers("sam"))).status_code == 403
    unknown = await client.get("/imodels/nope", headers=auth_headers("alice"))
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "code": "iModelNotFound",
        "message": "Requested iModel is not available.",
    }


async def test_list_by_itwin_is_minimal_unless_representation_is_preferred(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    for name in ("A", "B"):
        await _create(client, auth_headers("alice"), itwin_id, 10, name)
    minimal = (
        await client.get("/imodels", params={"iTwinId": itwin_id}, headers=auth_headers("alice"))
    ).json()
    assert [set(item) for item in minimal["iModels"]] == [{"id", "displayName"}] * 2
    full = await client.get(
        "/imodels",
        params={"iTwinId": itwin_id, "$top": 1},
        headers={**auth_headers("alice"), "Prefer": "return=representation"},
    )
    body = full.json()
    assert body["iModels"][0]["name"] == "A"
    assert body["_links"]["next"]["href"].endswith(f"?iTwinId={itwin_id}&$skip=1&$top=1")


async def test_list_without_itwin_id_names_the_missing_parameter(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get("/imodels", headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"code": "MissingRequiredParameter", "message": "iTwinId was not provided.", "target": "iTwinId"}
    ]


async def test_delete_removes_the_imodel_and_its_files(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    content = BLOCKS.read_bytes()
    imodel = await _create(client, auth_headers("alice"), itwin_id, len(content))
    await _upload_and_complete(client, auth_headers("alice"), imodel, content)
    assert _blob_files(runtime)
    assert (await client.delete(f"/imodels/{imodel['id']}", headers=auth_headers("alice"))).status_code == 204
    assert (await client.get(f"/imodels/{imodel['id']}", headers=auth_headers("alice"))).status_code == 404
    assert _blob_files(runtime) == []


async def test_changesets_of_a_fresh_imodel_are_empty(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    content = BLOCKS.read_bytes()
    imodel = await _create(client, auth_headers("alice"), itwin_id, len(content))
    await _upload_and_complete(client, auth_headers("alice"), imodel, content)
    response = await client.get(f"/imodels/{imodel['id']}/changesets", headers=auth_headers("alice"))
    assert response.json()["changesets"] == []


async def test_an_imodel_shows_when_its_newest_changeset_was_pushed(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    content = BLOCKS.read_bytes()
    imodel = await _create(client, auth_headers("alice"), itwin_id, len(content))
    await _upload_and_complete(client, auth_headers("alice"), imodel, content)
    path = f"/imodels/{imodel['id']}"
    baseline_only = (await client.get(path, headers=auth_headers("alice"))).json()["iModel"]
    assert baseline_only["lastChangesetPushDateTime"] is None  # the baseline is not a changeset

    for _ in range(2):  # what a synchronization run does: a new version of the whole file
        async with runtime.database.transaction() as transaction:
            await IModelService(transaction, runtime.blobs).add_version(imodel["id"], BLOCKS, "alice")
    changesets = (await client.get(f"{path}/changesets", headers=auth_headers("alice"))).json()["changesets"]
    newest = max(changesets, key=lambda changeset: changeset["index"])
    got = (await client.get(path, headers=auth_headers("alice"))).json()["iModel"]
    assert got["lastChangesetPushDateTime"] == newest["pushDateTime"]
    listed = await client.get(
        "/imodels",
        params={"iTwinId": itwin_id},
        headers={**auth_headers("alice"), "Prefer": "return=representation"},
    )
    assert listed.json()["iModels"][0]["lastChangesetPushDateTime"] == newest["pushDateTime"]
