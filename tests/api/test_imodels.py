"""The iModels API: creating iModels (empty, or from a baseline file uploaded whole or in blocks), reading,
updating, listing with filters, deleting."""

from __future__ import annotations

import base64
import hashlib
import math
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.api.imodel_world import (
    BLOCKS,
    SEED,
    Headers,
    add_versions,
    blob_files,
    imodel_from_baseline,
    new_itwin,
    start_baseline,
    upload_and_complete,
)
from twinbridge.engines.imodel import EnginePool
from twinbridge.runtime import Runtime

needs_engine = pytest.mark.skipif(shutil.which("node") is None, reason="the iModel engine needs node on PATH")
BRUSSELS = {
    "southWest": {"latitude": 50.8, "longitude": 4.3},
    "northEast": {"latitude": 50.9, "longitude": 4.4},
}
EARTH_RADIUS = 6_371_000.0


@pytest.fixture
async def itwin_id(client: httpx.AsyncClient, auth_headers: Headers) -> str:
    return await new_itwin(client, auth_headers("alice"))


def _with(href: str, **params: str) -> str:
    """The URL with more query parameters, as the Azure SDK appends them to a SAS URL."""
    return f"{href}&{urlencode(params)}"


async def _download(client: httpx.AsyncClient, href: str, **headers: str) -> httpx.Response:
    response = await client.get(href, headers=headers)  # no Authorization: the URL is signed
    assert response.status_code in (200, 206), response.text
    return response


# ---- createFromBaseline


async def test_baseline_flow_without_creation_mode_creates_an_initialized_imodel(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    content = BLOCKS.read_bytes()
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, len(content), description="Plant")
    assert imodel["state"] == "notInitialized"
    assert imodel["description"] == "Plant"
    completed = await upload_and_complete(client, auth_headers("alice"), imodel, content)
    assert completed.status_code == 200
    assert completed.json()["baselineFile"]["state"] == "initialized"
    assert completed.json()["baselineFile"]["fileSize"] == len(content)
    fetched = (await client.get(f"/imodels/{imodel['id']}", headers=auth_headers("alice"))).json()["iModel"]
    assert fetched["state"] == "initialized"
    assert fetched["iTwinId"] == itwin_id
    assert "upload" not in fetched["_links"]  # the upload URL dies with the upload
    assert fetched["_links"]["namedVersions"]["href"].endswith(f"/imodels/{imodel['id']}/namedversions")


async def test_upload_link_is_an_azure_link_whose_path_names_an_account_a_container_and_a_blob(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 10, creationMode="fromBaseline")
    upload = imodel["_links"]["upload"]
    assert upload["storageType"] == "azure"
    # @azure/storage-blob reads /{account}/{container}/{blob} from a localhost or IP URL.
    assert len([part for part in urlsplit(upload["href"]).path.split("/") if part]) >= 3
    assert imodel["_links"]["complete"]["href"].endswith(f"/imodels/{imodel['id']}/baselinefile/complete")


async def test_baseline_file_is_waiting_for_its_file_then_initialized_with_a_download_of_it(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    content = BLOCKS.read_bytes()
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, len(content))
    path = f"/imodels/{imodel['id']}/baselinefile"
    waiting = (await client.get(path, headers=auth_headers("alice"))).json()["baselineFile"]
    assert waiting["state"] == "waitingForFile"
    assert waiting["fileSize"] == len(content)
    assert waiting["_links"]["download"] is None
    await upload_and_complete(client, auth_headers("alice"), imodel, content)
    ready = (await client.get(path, headers=auth_headers("alice"))).json()["baselineFile"]
    assert ready["state"] == "initialized"
    assert ready["_links"]["download"]["storageType"] == "azure"
    assert (await _download(client, ready["_links"]["download"]["href"])).content == content


async def test_file_sent_in_blocks_with_a_block_list_becomes_the_baseline_and_the_blocks_go(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    content = BLOCKS.read_bytes()
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, len(content))
    href = imodel["_links"]["upload"]["href"]
    third = len(content) // 3
    parts = [content[:third], content[third : 2 * third], content[2 * third :]]
    # Block ids as @azure/storage-blob makes them: base64 of equally long strings.
    ids = [base64.b64encode(f"block-{index:05d}".encode()).decode() for index in range(3)]
    for index in (2, 0, 1):  # blocks arrive in any order (the SDK sends five at once)
        put = await client.put(_with(href, comp="block", blockid=ids[index]), content=parts[index])
        assert put.status_code == 201, put.text
    block_list = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><BlockList>'
        + "".join(f"<Latest>{block_id}</Latest>" for block_id in ids)
        + "</BlockList>"
    )
    committed = await client.put(
        _with(href, comp="blocklist"), content=block_list, headers={"Content-Type": "application/xml"}
    )
    assert committed.status_code == 201, committed.text
    completed = await client.post(
        imodel["_links"]["complete"]["href"], json={}, headers=auth_headers("alice")
    )
    assert completed.status_code == 200, completed.text
    download = completed.json()["baselineFile"]["_links"]["download"]["href"]
    assert (await _download(client, download)).content == content
    assert [path.name for path in blob_files(runtime)] == ["000000.bim"]  # the version only


async def test_block_list_naming_a_block_that_was_never_put_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 100)
    href = imodel["_links"]["upload"]["href"]
    assert (await client.put(_with(href, comp="block", blockid="QQ=="), content=b"x")).status_code == 201
    refused = await client.put(
        _with(href, comp="blocklist"),
        content="<BlockList><Latest>QQ==</Latest><Latest>Qg==</Latest></BlockList>",
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == [
        {
            "code": "InvalidBlockList",
            "message": "The block list names blocks that were not uploaded: Qg==.",
            "target": "comp",
        }
    ]
    not_xml = await client.put(_with(href, comp="blocklist"), content="QQ==")
    assert not_xml.status_code == 422
    assert not_xml.json()["error"]["details"][0]["code"] == "InvalidBlockList"


async def test_blocks_that_add_up_to_more_than_the_announced_size_are_refused(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 10)
    href = imodel["_links"]["upload"]["href"]
    for block_id in ("QQ==", "Qg=="):
        assert (
            await client.put(_with(href, comp="block", blockid=block_id), content=b"123456")
        ).status_code == 201
    refused = await client.put(
        _with(href, comp="blocklist"),
        content="<BlockList><Latest>QQ==</Latest><Latest>Qg==</Latest></BlockList>",
    )
    assert refused.status_code == 422
    assert "larger than the baselineFile.size (10 bytes)" in refused.json()["error"]["details"][0]["message"]
    deleted = await client.delete(f"/imodels/{imodel['id']}", headers=auth_headers("alice"))
    assert deleted.status_code == 204
    assert blob_files(runtime) == []  # the blocks went with the iModel


async def test_upload_with_an_unknown_comp_or_a_block_without_id_names_the_parameter(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 10)
    href = imodel["_links"]["upload"]["href"]
    unknown = await client.put(_with(href, comp="appendblock"), content=b"x")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["target"] == "comp"
    no_id = await client.put(_with(href, comp="block"), content=b"x")
    assert no_id.status_code == 422
    assert no_id.json()["error"]["details"] == [
        {"code": "MissingRequiredParameter", "message": "blockid was not provided.", "target": "blockid"}
    ]


async def test_file_that_is_not_an_imodel_is_refused_and_nothing_remains(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    content = (BLOCKS.parent.parent / "ifc" / "test.ifc").read_bytes()
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, len(content))
    refused = await upload_and_complete(client, auth_headers("alice"), imodel, content)
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
    assert blob_files(runtime) == []
    state = (await client.get(f"/imodels/{imodel['id']}/baselinefile", headers=auth_headers("alice"))).json()
    assert state["baselineFile"]["state"] == "waitingForFile"


async def test_refused_upload_can_be_retried_with_a_real_imodel(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    content = BLOCKS.read_bytes()
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, len(content))
    assert (await upload_and_complete(client, auth_headers("alice"), imodel, b"garbage")).status_code == 422
    assert (await upload_and_complete(client, auth_headers("alice"), imodel, content)).status_code == 200


async def test_upload_larger_than_announced_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 10)
    response = await client.put(imodel["_links"]["upload"]["href"], content=b"x" * 11)
    assert response.status_code == 422
    assert "larger than the baselineFile.size" in response.json()["error"]["details"][0]["message"]
    assert blob_files(runtime) == []
    assert list((runtime.settings.data_dir / "tmp").glob("*")) == []


async def test_upload_with_a_wrong_token_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 10)
    response = await client.put(f"/imodels/{imodel['id']}/baselinefile/upload?token=guess", content=b"x")
    assert response.status_code == 404


async def test_only_the_create_response_shows_the_upload_url_and_the_database_keeps_its_hash(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    await client.post(
        f"/itwins/{itwin_id}/members",
        json={"subject": "rita", "role": "Reader"},
        headers=auth_headers("alice"),
    )
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 10)
    secret = parse_qs(urlsplit(imodel["_links"]["upload"]["href"]).query)["token"][0]
    for reader in ("rita", "alice"):  # a Reader, and even the owner, read no secret back
        fetched = await client.get(f"/imodels/{imodel['id']}", headers=auth_headers(reader))
        assert fetched.status_code == 200
        assert set(fetched.json()["iModel"]["_links"]) == {"creator", "changesets", "namedVersions"}
        assert secret not in fetched.text
    listed = await client.get(
        "/imodels",
        params={"iTwinId": itwin_id},
        headers=auth_headers("rita") | {"Prefer": "return=representation"},
    )
    assert secret not in listed.text
    patched = await client.patch(
        f"/imodels/{imodel['id']}", json={"name": "Y"}, headers=auth_headers("alice")
    )
    assert secret not in patched.text
    async with runtime.database.transaction(write=False) as transaction:
        stored = await transaction.value(
            "SELECT baseline_upload_token_hash FROM imodels WHERE id = :id", {"id": imodel["id"]}
        )
    assert stored == hashlib.sha256(secret.encode()).hexdigest()


async def test_a_reader_cannot_upload_a_baseline_the_owner_then_completes(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    await client.post(
        f"/itwins/{itwin_id}/members",
        json={"subject": "rita", "role": "Reader"},
        headers=auth_headers("alice"),
    )
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, len(BLOCKS.read_bytes()))
    seen = (await client.get(f"/imodels/{imodel['id']}", headers=auth_headers("rita"))).json()["iModel"]
    assert "upload" not in seen["_links"]
    # What the Reader could try: the upload path with the digest the database holds, or a guess.
    async with runtime.database.transaction(write=False) as transaction:
        digest = await transaction.value(
            "SELECT baseline_upload_token_hash FROM imodels WHERE id = :id", {"id": imodel["id"]}
        )
    for token in (digest, "guess"):
        put = await client.put(
            f"/imodels/{imodel['id']}/baselinefile/upload?token={token}", content=BLOCKS.read_bytes()
        )
        assert put.status_code == 404
    assert blob_files(runtime) == []
    completed = await client.post(imodel["_links"]["complete"]["href"], headers=auth_headers("alice"))
    assert completed.status_code == 422
    assert completed.json()["error"]["details"][0]["message"].startswith("No baseline file has been uploaded")


async def test_complete_without_upload_says_so(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 10)
    response = await client.post(imodel["_links"]["complete"]["href"], headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["message"].startswith("No baseline file has been uploaded")


# ---- request errors


async def test_missing_fields_are_named(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    response = await client.post("/imodels", json={"description": "x"}, headers=auth_headers("alice"))
    assert response.status_code == 422
    assert {detail["target"] for detail in response.json()["error"]["details"]} == {"iTwinId", "name"}


@pytest.mark.parametrize(
    ("properties", "target"),
    [
        ({"creationMode": "fromBaseline"}, "baselineFile"),
        ({"creationMode": "empty", "baselineFile": {"size": 10}}, "baselineFile"),
        ({"creationMode": "fromiModelVersion"}, "creationMode"),
        ({"template": {"iModelId": "x"}}, "template"),
        (
            {"baselineFile": {"size": 10}, "geographicCoordinateSystem": {"horizontalCRSId": "EPSG:3857"}},
            "geographicCoordinateSystem",
        ),
        ({"containersEnabled": 2}, "containersEnabled"),
        ({"creationMode": "copy"}, "creationMode"),
        (
            {
                "extent": {
                    "southWest": {"latitude": 91, "longitude": 0},
                    "northEast": {"latitude": 1, "longitude": 1},
                }
            },
            "extent.southWest.latitude",
        ),
        (
            {
                "extent": {
                    "southWest": {"latitude": 2, "longitude": 0},
                    "northEast": {"latitude": 1, "longitude": 1},
                }
            },
            "extent",
        ),
        ({"name": "   "}, "name"),
    ],
)
async def test_create_that_cannot_be_honoured_is_refused_naming_the_property(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, properties: dict[str, Any], target: str
) -> None:
    response = await client.post(
        "/imodels", json={"iTwinId": itwin_id, "name": "X", **properties}, headers=auth_headers("alice")
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidiModelsRequest"
    assert [detail["target"] for detail in error["details"]] == [target]
    listed = await client.get("/imodels", params={"iTwinId": itwin_id}, headers=auth_headers("alice"))
    assert listed.json()["iModels"] == []


async def test_duplicate_name_in_an_itwin_is_a_conflict(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    await start_baseline(client, auth_headers("alice"), itwin_id, 10)
    response = await client.post(
        "/imodels",
        json={"iTwinId": itwin_id, "name": "Blocks", "baselineFile": {"size": 1}},
        headers=auth_headers("alice"),
    )
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "iModelExists",
        "message": "iModel with the same name already exists within the iTwin.",
    }


async def test_readers_cannot_create_and_strangers_cannot_see(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    await client.post(
        f"/itwins/{itwin_id}/members",
        json={"subject": "rita", "role": "Reader"},
        headers=auth_headers("alice"),
    )
    body = {"iTwinId": itwin_id, "name": "X", "baselineFile": {"size": 1}}
    assert (await client.post("/imodels", json=body, headers=auth_headers("rita"))).status_code == 403
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 10)
    assert (await client.get(f"/imodels/{imodel['id']}", headers=auth_headers("rita"))).status_code == 200
    assert (await client.get(f"/imodels/{imodel['id']}", headers=auth_headers("sam"))).status_code == 403
    patch = await client.patch(f"/imodels/{imodel['id']}", json={"name": "Y"}, headers=auth_headers("rita"))
    assert patch.status_code == 403
    unknown = await client.get("/imodels/nope", headers=auth_headers("alice"))
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "code": "iModelNotFound",
        "message": "Requested iModel is not available.",
    }


# ---- createEmpty


def _centre_in_degrees(ecef_location: dict[str, Any]) -> tuple[float, float]:
    origin = ecef_location["cartographicOrigin"]
    return math.degrees(origin["latitude"]), math.degrees(origin["longitude"])


@needs_engine
async def test_imodel_created_without_a_baseline_is_an_initialized_empty_imodel_placed_on_its_extent(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime, tmp_path: Path
) -> None:
    response = await client.post(
        "/imodels",
        json={"iTwinId": itwin_id, "name": "Empty", "description": "Nothing yet", "extent": BRUSSELS},
        headers=auth_headers("alice"),
    )
    assert response.status_code == 201, response.text
    imodel = response.json()["iModel"]
    assert imodel["state"] == "initialized"  # the client then returns it without polling
    assert (imodel["name"], imodel["description"], imodel["extent"]) == ("Empty", "Nothing yet", BRUSSELS)
    assert imodel["geographicCoordinateSystem"] is None
    assert "upload" not in imodel["_links"]
    path = f"/imodels/{imodel['id']}"
    assert (await client.get(path, headers=auth_headers("alice"))).json()["iModel"]["extent"] == BRUSSELS
    operation = await client.get(f"{path}/operations/create", headers=auth_headers("alice"))
    assert operation.json() == {
        "createOperation": {"state": "successful", "clonedFrom": None, "forkedFrom": None}
    }
    assert (await client.get(f"{path}/changesets", headers=auth_headers("alice"))).json()["changesets"] == []

    checkpoint = (await client.get(f"{path}/changesets/0/checkpoint", headers=auth_headers("alice"))).json()
    file = tmp_path / "empty.bim"
    file.write_bytes(
        (await _download(client, checkpoint["checkpoint"]["_links"]["download"]["href"])).content
    )
    assert checkpoint["checkpoint"]["size"] == file.stat().st_size
    with EnginePool(1) as pool, pool.open(file) as opened:
        info = opened.info
    assert info["iModelId"] == imodel["id"]
    assert info["name"] == "Empty"  # the root subject
    assert info["isGeoLocated"] is True
    latitude, longitude = _centre_in_degrees(info["ecefLocation"])
    assert latitude == pytest.approx(50.85, abs=1e-9)
    assert longitude == pytest.approx(4.35, abs=1e-9)
    extents = info["projectExtents"]
    # 0.1 degree of latitude and of longitude at 50.85 degrees north, in metres, around the centre.
    north_south = math.radians(0.1) * EARTH_RADIUS
    east_west = north_south * math.cos(math.radians(50.85))
    assert extents["high"][1] - extents["low"][1] == pytest.approx(north_south, rel=0.01)
    assert extents["high"][0] - extents["low"][0] == pytest.approx(east_west, rel=0.01)
    assert extents["low"][0] == pytest.approx(-extents["high"][0], rel=0.01)


@needs_engine
async def test_empty_imodel_with_a_coordinate_system_the_engine_cannot_apply_is_refused_and_leaves_nothing(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    response = await client.post(
        "/imodels",
        json={
            "iTwinId": itwin_id,
            "name": "Mercator",
            "creationMode": "empty",
            "geographicCoordinateSystem": {"horizontalCRSId": "EPSG:3857"},
        },
        headers=auth_headers("alice"),
    )
    assert response.status_code == 422, response.text
    [detail] = response.json()["error"]["details"]
    assert detail["code"] == "InvalidValue"
    assert detail["target"] == "geographicCoordinateSystem.horizontalCRSId"
    assert '"EPSG:3857"' in detail["message"]
    listed = await client.get("/imodels", params={"iTwinId": itwin_id}, headers=auth_headers("alice"))
    assert listed.json()["iModels"] == []
    assert blob_files(runtime) == []
    assert list((runtime.settings.data_dir / "tmp").iterdir()) == []


async def test_empty_imodel_without_an_engine_to_make_it_is_a_503_that_says_why_and_leaves_nothing(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    itwin_id: str,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")  # no node: the engine cannot start
    response = await client.post(
        "/imodels", json={"iTwinId": itwin_id, "name": "Empty"}, headers=auth_headers("alice")
    )
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "ServiceUnavailable"
    assert "node is not on PATH" in error["message"]
    listed = await client.get("/imodels", params={"iTwinId": itwin_id}, headers=auth_headers("alice"))
    assert listed.json()["iModels"] == []
    assert list((runtime.settings.data_dir / "tmp").iterdir()) == []


# ---- update


async def test_patch_changes_the_given_properties_and_keeps_the_others(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 10, description="First")
    path = f"/imodels/{imodel['id']}"
    renamed = await client.patch(
        path, json={"name": "Renamed", "extent": BRUSSELS}, headers=auth_headers("alice")
    )
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()["iModel"]
    assert (body["name"], body["displayName"], body["description"], body["extent"]) == (
        "Renamed",
        "Renamed",
        "First",
        BRUSSELS,
    )
    cleared = await client.patch(
        path, json={"description": None, "extent": None}, headers=auth_headers("alice")
    )
    assert cleared.status_code == 200
    fetched = (await client.get(path, headers=auth_headers("alice"))).json()["iModel"]
    assert (fetched["name"], fetched["description"], fetched["extent"]) == ("Renamed", None, None)


async def test_patch_to_a_name_another_imodel_of_the_itwin_has_is_a_conflict(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    await start_baseline(client, auth_headers("alice"), itwin_id, 10, name="Taken")
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 10, name="Mine")
    path = f"/imodels/{imodel['id']}"
    conflict = await client.patch(path, json={"name": "Taken"}, headers=auth_headers("alice"))
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "iModelExists"
    same = await client.patch(path, json={"name": "Mine"}, headers=auth_headers("alice"))
    assert same.status_code == 200


@pytest.mark.parametrize(
    ("body", "code", "target"),
    [
        ({}, "MissingRequiredProperty", None),
        ({"name": None}, "InvalidValue", "name"),
        ({"name": ""}, "InvalidValue", "name"),
        ({"extent": {"southWest": {"latitude": 0}}}, "MissingRequiredProperty", "extent.southWest.longitude"),
    ],
)
async def test_patch_with_nothing_to_change_or_a_bad_value_is_refused(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    itwin_id: str,
    body: dict[str, Any],
    code: str,
    target: str | None,
) -> None:
    imodel = await start_baseline(client, auth_headers("alice"), itwin_id, 10)
    response = await client.patch(f"/imodels/{imodel['id']}", json=body, headers=auth_headers("alice"))
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert [(detail["code"], detail.get("target")) for detail in details][:1] == [(code, target)]


# ---- lists


async def _names(client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any]) -> list[str]:
    response = await client.get(
        "/imodels", params=params, headers={**headers, "Prefer": "return=representation"}
    )
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["iModels"]]


async def test_list_is_minimal_unless_representation_is_preferred(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    for name in ("A", "B"):
        await start_baseline(client, auth_headers("alice"), itwin_id, 10, name)
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


async def test_list_filters_by_exact_name_by_text_in_name_or_description_and_by_state(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    headers = auth_headers("alice")
    await imodel_from_baseline(client, headers, itwin_id, name="North Bridge", description="Steel deck")
    await start_baseline(client, headers, itwin_id, 10, name="South Bridge")
    await start_baseline(client, headers, itwin_id, 10, name="Tunnel", description="Under the BRIDGE road")
    await start_baseline(client, headers, itwin_id, 10, name="Depot_1", description="100% done")
    base = {"iTwinId": itwin_id}
    assert await _names(client, headers, {**base, "name": "South Bridge"}) == ["South Bridge"]
    assert await _names(client, headers, {**base, "name": "south bridge"}) == []
    assert await _names(client, headers, {**base, "$search": "bridge"}) == [
        "North Bridge",
        "South Bridge",
        "Tunnel",
    ]
    assert await _names(client, headers, {**base, "$search": "STEEL"}) == ["North Bridge"]
    # LIKE's wildcards are plain characters in a search.
    assert await _names(client, headers, {**base, "$search": "%"}) == ["Depot_1"]
    assert await _names(client, headers, {**base, "$search": "t_1"}) == ["Depot_1"]
    assert await _names(client, headers, {**base, "state": "initialized"}) == ["North Bridge"]
    assert await _names(client, headers, {**base, "state": "notInitialized", "$search": "bridge"}) == [
        "South Bridge",
        "Tunnel",
    ]


async def test_list_orders_by_name_or_creation_time_either_way(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    headers = auth_headers("alice")
    for name in ("beta", "Alpha", "gamma"):
        await start_baseline(client, headers, itwin_id, 10, name)
    base = {"iTwinId": itwin_id}
    assert await _names(client, headers, base) == ["beta", "Alpha", "gamma"]  # oldest first
    assert await _names(client, headers, {**base, "$orderBy": "name"}) == ["Alpha", "beta", "gamma"]
    assert await _names(client, headers, {**base, "$orderBy": "name desc"}) == ["gamma", "beta", "Alpha"]
    assert await _names(client, headers, {**base, "$orderBy": "createdDateTime desc"}) == [
        "gamma",
        "Alpha",
        "beta",
    ]
    assert await _names(client, headers, {**base, "$orderBy": "name desc", "$top": 1, "$skip": 1}) == ["beta"]
    page = await client.get("/imodels", params={**base, "$orderBy": "name desc", "$top": 1}, headers=headers)
    assert page.json()["_links"]["next"]["href"].endswith(
        f"?iTwinId={itwin_id}&$orderBy=name+desc&$skip=1&$top=1"
    )


async def test_list_parameter_names_are_read_in_any_case(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    headers = auth_headers("alice")
    for name in ("Bridge A", "Bridge B", "Tunnel"):
        await start_baseline(client, headers, itwin_id, 10, name)
    params = {"itwinid": itwin_id, "$SEARCH": "bridge", "$orderby": "NAME desc", "STATE": "notinitialized"}
    assert await _names(client, headers, params) == ["Bridge B", "Bridge A"]


@pytest.mark.parametrize(
    ("params", "target"),
    [
        ({"$continuationToken": "abc"}, "$continuationToken"),
        ({"$orderBy": "size"}, "$orderBy"),
        ({"$orderBy": "name sideways"}, "$orderBy"),
        ({"state": "archived"}, "state"),
    ],
)
async def test_list_filter_that_cannot_be_honoured_is_refused_naming_it(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, params: dict[str, str], target: str
) -> None:
    response = await client.get(
        "/imodels", params={"iTwinId": itwin_id, **params}, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "InvalidiModelsRequest"
    assert [detail["target"] for detail in response.json()["error"]["details"]] == [target]


async def test_list_without_itwin_id_names_the_missing_parameter(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get("/imodels", headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"code": "MissingRequiredParameter", "message": "iTwinId was not provided.", "target": "iTwinId"}
    ]


# ---- delete, and what a read carries


async def test_delete_removes_the_imodel_its_named_versions_and_its_files(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    imodel = await imodel_from_baseline(client, auth_headers("alice"), itwin_id)
    await add_versions(runtime, imodel["id"], [SEED])
    created = await client.post(
        f"/imodels/{imodel['id']}/namedversions", json={"name": "v1"}, headers=auth_headers("alice")
    )
    assert created.status_code == 201
    assert len(blob_files(runtime)) == 2
    assert (await client.delete(f"/imodels/{imodel['id']}", headers=auth_headers("alice"))).status_code == 204
    assert (await client.get(f"/imodels/{imodel['id']}", headers=auth_headers("alice"))).status_code == 404
    assert blob_files(runtime) == []
    async with runtime.database.transaction(write=False) as transaction:
        assert await transaction.value("SELECT COUNT(*) FROM named_versions") == 0


async def test_imodel_shows_when_its_newest_changeset_was_pushed(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    imodel = await imodel_from_baseline(client, auth_headers("alice"), itwin_id)
    assert imodel["lastChangesetPushDateTime"] is None  # the baseline is not a changeset
    path = f"/imodels/{imodel['id']}"
    await add_versions(runtime, imodel["id"], [BLOCKS, BLOCKS])
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
