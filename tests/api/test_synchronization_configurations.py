"""Synchronization configurations (C1-C12) at the iTwin, iModel and connection scopes, in-process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import EMPTY_IMODEL
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]
CONFIGURATIONS = "/synchronization/configurations"
MANIFEST = "/synchronization/imodels/manifestconnections"
ITWIN_DEFAULTS = {
    "uploadDgnRealityData": True,
    "convertDgnTerrainModels": False,
    "squashIntermediateRevisions": False,
    "skipRvtReprojection": False,
    "convertDgnHyperModelingSections": True,
    "allowRevitIgnoreGcs": False,
}
IMODEL_DEFAULTS = {
    **ITWIN_DEFAULTS,
    "clampZExtent": False,
    "overrideRvtReprojectionDistance": 0,
    "ignoreIfcGlobalIds": False,
    "enableFileNamePolicy": False,
}
CONNECTION_DEFAULTS = {
    **IMODEL_DEFAULTS,
    "reclassifyDgnElements": False,
    "ignoreDgnAttachments": False,
    "enableSheetsAndDrawings": False,
    "enableC3dGraphsIn2dModel": False,
    "enableSheetIndex": False,
    "filterBySheetIndex": False,
}


@dataclass
class World:
    itwin_id: str
    imodel_id: str
    connection_id: str

    def path(self, scope: str) -> str:
        ids = {"itwins": self.itwin_id, "imodels": self.imodel_id, "connections": self.connection_id}
        return f"{CONFIGURATIONS}/{scope}/{ids[scope]}"


@pytest.fixture
async def world(runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers) -> World:
    async with runtime.database.transaction() as transaction:
        itwins = ITwinService(transaction)
        itwin = await itwins.create("Plant", "alice")
        await itwins.set_member(itwin.id, "rita", "Reader")  # type: ignore[arg-type]
        await itwins.set_member(itwin.id, "carl", "Contributor")  # type: ignore[arg-type]
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, EMPTY_IMODEL, "Empty", None, caller=None
        )
    body = {"iModelId": imported.imodel.id, "sourceFiles": [{"sourceFileId": "doc"}]}
    created = await client.post(MANIFEST, json=body, headers=auth_headers("alice"))
    assert created.status_code == 201, created.text
    return World(itwin.id, imported.imodel.id, created.json()["connection"]["id"])


# Create, get, patch and delete at each scope


@pytest.mark.parametrize(
    ("scope", "flags", "defaults"),
    [
        ("itwins", {"uploadDgnRealityData": False, "convertDgnTerrainModels": True}, ITWIN_DEFAULTS),
        ("imodels", {"clampZExtent": True, "overrideRvtReprojectionDistance": 250.5}, IMODEL_DEFAULTS),
        ("connections", {"reclassifyDgnElements": False, "ignoreDgnAttachments": True}, CONNECTION_DEFAULTS),
    ],
)
async def test_a_configuration_is_created_with_its_settings_and_the_flags_in_effect(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    scope: str,
    flags: dict[str, object],
    defaults: dict[str, object],
) -> None:
    created = await client.post(world.path(scope), json=flags, headers=auth_headers("carl"))
    assert created.status_code == 201, created.text
    scope_id = world.path(scope).rsplit("/", 1)[1]
    expected = {
        "configuration": {"scopeId": scope_id, "settings": flags, "resolvedSettings": {**defaults, **flags}}
    }
    assert created.json() == expected
    fetched = await client.get(world.path(scope), headers=auth_headers("rita"))
    assert fetched.status_code == 200
    assert fetched.json() == expected
    assert list(fetched.json()["configuration"]["resolvedSettings"]) == list(defaults)


@pytest.mark.parametrize("scope", ["itwins", "imodels", "connections"])
async def test_a_second_configuration_of_a_scope_is_a_conflict(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, scope: str
) -> None:
    assert (await client.post(world.path(scope), json={}, headers=auth_headers("alice"))).status_code == 201
    again = await client.post(
        world.path(scope), json={"uploadDgnRealityData": False}, headers=auth_headers("alice")
    )
    assert again.status_code == 409
    assert again.json() == {
        "error": {"code": "ConfigurationAlreadyExists", "message": "A configuration already exists."}
    }


@pytest.mark.parametrize("scope", ["itwins", "imodels", "connections"])
async def test_patch_sets_the_flags_it_names_unsets_those_sent_as_null_and_keeps_the_rest(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, scope: str
) -> None:
    alice = auth_headers("alice")
    first = {"uploadDgnRealityData": False, "skipRvtReprojection": True}
    assert (await client.post(world.path(scope), json=first, headers=alice)).status_code == 201
    patched = await client.patch(
        world.path(scope), json={"skipRvtReprojection": None, "convertDgnTerrainModels": True}, headers=alice
    )
    assert patched.status_code == 200, patched.text
    configuration = patched.json()["configuration"]
    assert configuration["settings"] == {"uploadDgnRealityData": False, "convertDgnTerrainModels": True}
    assert configuration["resolvedSettings"]["skipRvtReprojection"] is False
    assert (await client.get(world.path(scope), headers=alice)).json()["configuration"] == configuration


@pytest.mark.parametrize("scope", ["itwins", "imodels", "connections"])
async def test_a_deleted_configuration_is_gone(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, scope: str
) -> None:
    alice = auth_headers("alice")
    assert (
        await client.post(world.path(scope), json={"convertDgnTerrainModels": True}, headers=alice)
    ).status_code == 201
    deleted = await client.delete(world.path(scope), headers=auth_headers("carl"))
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(world.path(scope), headers=alice)).status_code == 404
    assert (await client.post(world.path(scope), json={}, headers=alice)).status_code == 201


# Resolution: connection over iModel over iTwin over the defaults


async def test_lower_scopes_override_higher_ones_in_the_resolved_settings(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    await client.post(
        world.path("itwins"), json={"uploadDgnRealityData": False, "skipRvtReprojection": True}, headers=alice
    )
    await client.post(
        world.path("imodels"), json={"skipRvtReprojection": False, "ignoreIfcGlobalIds": True}, headers=alice
    )
    connection = await client.post(
        world.path("connections"), json={"ignoreIfcGlobalIds": False, "enableSheetIndex": True}, headers=alice
    )
    assert connection.json()["configuration"]["settings"] == {
        "ignoreIfcGlobalIds": False,
        "enableSheetIndex": True,
    }
    assert connection.json()["configuration"]["resolvedSettings"] == {
        **CONNECTION_DEFAULTS,
        "uploadDgnRealityData": False,
        "skipRvtReprojection": False,
        "ignoreIfcGlobalIds": False,
        "enableSheetIndex": True,
    }
    imodel = (await client.get(world.path("imodels"), headers=alice)).json()["configuration"]
    assert imodel["resolvedSettings"] == {
        **IMODEL_DEFAULTS,
        "uploadDgnRealityData": False,
        "ignoreIfcGlobalIds": True,
    }


async def test_a_higher_scope_changed_later_shows_in_a_lower_scopes_resolved_settings(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    await client.post(world.path("connections"), json={}, headers=alice)
    await client.post(world.path("imodels"), json={"clampZExtent": True}, headers=alice)
    resolved = (await client.get(world.path("connections"), headers=alice)).json()["configuration"]
    assert resolved["settings"] == {}
    assert resolved["resolvedSettings"]["clampZExtent"] is True


# Errors


async def test_a_scope_without_a_configuration_is_the_documented_404(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method,
            world.path("imodels"),
            json={} if method == "PATCH" else None,
            headers=auth_headers("alice"),
        )
        assert response.status_code == 404, method
        assert response.json() == {
            "error": {"code": "ConfigurationNotFound", "message": "Requested Configuration is not available."}
        }


@pytest.mark.parametrize(
    ("scope", "parameter"), [("itwins", "itwinid"), ("imodels", "imodelid"), ("connections", "connectionid")]
)
async def test_an_unknown_scope_id_is_an_invalid_configuration_request_naming_it(
    client: httpx.AsyncClient, auth_headers: Headers, scope: str, parameter: str
) -> None:
    for method in ("POST", "GET", "PATCH", "DELETE"):
        response = await client.request(
            method,
            f"{CONFIGURATIONS}/{scope}/nope",
            json={} if method in {"POST", "PATCH"} else None,
            headers=auth_headers("alice"),
        )
        assert response.status_code == 422, method
        assert response.json()["error"] == {
            "code": "InvalidConfigurationRequest",
            "message": "Cannot perform operation.",
            "details": [
                {
                    "code": "InvalidValue",
                    "message": f"Provided {parameter} value is not valid.",
                    "target": parameter,
                }
            ],
        }


async def test_a_flag_of_the_wrong_type_is_a_422_naming_it(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    response = await client.post(
        world.path("imodels"),
        json={"clampZExtent": "yes", "overrideRvtReprojectionDistance": -5},
        headers=auth_headers("alice"),
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "InvalidConfigurationRequest"
    assert [(detail["code"], detail["target"]) for detail in error["details"]] == [
        ("InvalidValue", "clampZExtent"),
        ("InvalidValue", "overrideRvtReprojectionDistance"),
    ]
    assert (await client.get(world.path("imodels"), headers=auth_headers("alice"))).status_code == 404


async def test_an_unknown_flag_is_a_422_naming_it(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    response = await client.post(
        world.path("itwins"), json={"clampZextent": True}, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    [detail] = response.json()["error"]["details"]
    assert (detail["code"], detail["target"]) == ("InvalidValue", "clampZextent")


async def test_a_flag_of_a_lower_scope_cannot_be_set_at_a_higher_one(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    response = await client.post(
        world.path("itwins"),
        json={"clampZExtent": True, "ignoreDgnAttachments": True},
        headers=auth_headers("alice"),
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {
            "code": "InvalidValue",
            "message": "clampZExtent cannot be set at the iTwin scope: it belongs to the iModel scope.",
            "target": "clampZExtent",
        },
        {
            "code": "InvalidValue",
            "message": "ignoreDgnAttachments cannot be set at the iTwin scope: it belongs to the connection"
            " scope.",
            "target": "ignoreDgnAttachments",
        },
    ]
    await client.post(world.path("imodels"), json={}, headers=auth_headers("alice"))
    patched = await client.patch(
        world.path("imodels"), json={"enableSheetIndex": True}, headers=auth_headers("alice")
    )
    assert patched.status_code == 422
    assert patched.json()["error"]["details"][0]["target"] == "enableSheetIndex"


async def test_a_configuration_needs_a_json_object_body(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    missing = await client.post(world.path("imodels"), headers=auth_headers("alice"))
    assert missing.status_code == 422
    assert missing.json()["error"]["details"] == [
        {"code": "MissingRequestBody", "message": "Request body was not provided."}
    ]
    listed = await client.patch(world.path("imodels"), json=[True], headers=auth_headers("alice"))
    assert listed.status_code == 422
    assert listed.json()["error"]["code"] == "InvalidConfigurationRequest"


async def test_a_reader_reads_configurations_but_cannot_change_them(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    await client.post(world.path("imodels"), json={"clampZExtent": True}, headers=auth_headers("alice"))
    rita = auth_headers("rita")
    assert (await client.get(world.path("imodels"), headers=rita)).status_code == 200
    for method, scope in (("POST", "itwins"), ("PATCH", "imodels"), ("DELETE", "imodels")):
        response = await client.request(
            method, world.path(scope), json={} if method != "DELETE" else None, headers=rita
        )
        assert response.status_code == 403, method
        assert response.json()["error"]["code"] == "InsufficientPermissions"


async def test_a_caller_who_is_not_a_member_cannot_read_a_configuration(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    await client.post(world.path("connections"), json={}, headers=auth_headers("alice"))
    response = await client.get(world.path("connections"), headers=auth_headers("mallory"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "InsufficientPermissions"


async def test_configurations_need_a_token(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(world.path("itwins"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "HeaderNotFound"


# Deleting what a configuration belongs to


async def test_deleting_a_connection_removes_its_configuration(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    await client.post(world.path("connections"), json={"enableSheetIndex": True}, headers=alice)
    assert (await client.delete(f"{MANIFEST}/{world.connection_id}", headers=alice)).status_code == 204
    assert await _configuration_count(runtime) == 0


async def test_deleting_an_imodel_removes_its_configuration_and_its_connections_ones(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    await client.post(world.path("itwins"), json={}, headers=alice)
    await client.post(world.path("imodels"), json={"clampZExtent": True}, headers=alice)
    await client.post(world.path("connections"), json={}, headers=alice)
    assert (await client.delete(f"/imodels/{world.imodel_id}", headers=alice)).status_code == 204
    assert await _configuration_count(runtime) == 1  # the iTwin's
    assert (await client.get(world.path("itwins"), headers=alice)).status_code == 200


async def test_deleting_an_itwin_removes_its_configuration(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    alice = auth_headers("alice")
    await client.post(world.path("itwins"), json={"squashIntermediateRevisions": True}, headers=alice)
    assert (await client.delete(f"/imodels/{world.imodel_id}", headers=alice)).status_code == 204
    deleted = await client.delete(f"/itwins/{world.itwin_id}", headers=alice)
    assert deleted.status_code == 204, deleted.text
    assert await _configuration_count(runtime) == 0


async def _configuration_count(runtime: Runtime) -> int:
    async with runtime.database.transaction() as transaction:
        return int(await transaction.value("SELECT count(*) FROM sync_configurations"))
