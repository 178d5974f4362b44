"""L1, Get Connections: an iModel's manifest and storage connections in one list, in-process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import EMPTY_IMODEL, SAMPLE_IFC
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.runtime import Runtime
from twinbridge.storage.service import StorageService

Headers = Callable[..., dict[str, str]]
BASE = "http://twinbridge.test"
CONNECTIONS = "/synchronization/imodels/connections"
MANIFEST = "/synchronization/imodels/manifestconnections"
STORAGE = "/synchronization/imodels/storageconnections"


@dataclass
class World:
    imodel_id: str
    other_imodel_id: str
    ifc_file_id: str


@pytest.fixture
async def world(runtime: Runtime) -> World:
    async with runtime.database.transaction() as transaction:
        itwins = ITwinService(transaction)
        itwin = await itwins.create("Plant", "alice")
        await itwins.set_member(itwin.id, "rita", "Reader")  # type: ignore[arg-type]
        imodels = IModelService(transaction, runtime.blobs)
        imported = await imodels.import_file(itwin.id, EMPTY_IMODEL, "Empty", None, caller=None)
        other = await imodels.import_file(itwin.id, EMPTY_IMODEL, "Other", None, caller=None)
        stored = await StorageService(transaction, runtime.blobs).store_file(
            itwin.id, "wall.ifc", SAMPLE_IFC / "test.ifc", "alice"
        )
        return World(imported.imodel.id, other.imodel.id, stored.id)


async def _create(
    client: httpx.AsyncClient, path: str, body: dict[str, object], headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json()["connection"])


@pytest.fixture
async def connections(client: httpx.AsyncClient, auth_headers: Headers, world: World) -> list[dict[str, Any]]:
    """A manifest, a storage and a second manifest connection of the iModel, in that order of creation, and
    one manifest connection of another iModel."""
    alice = auth_headers("alice")
    first = await _create(
        client,
        MANIFEST,
        {"iModelId": world.imodel_id, "displayName": "first", "sourceFiles": [{"sourceFileId": "a"}]},
        alice,
    )
    second = await _create(
        client,
        STORAGE,
        {
            "iModelId": world.imodel_id,
            "displayName": "second",
            "sourceFiles": [{"storageFileId": world.ifc_file_id, "connectorType": "IFC"}],
        },
        alice,
    )
    third = await _create(
        client,
        MANIFEST,
        {"iModelId": world.imodel_id, "displayName": "third", "sourceFiles": [{"sourceFileId": "b"}]},
        alice,
    )
    await _create(
        client,
        MANIFEST,
        {
            "iModelId": world.other_imodel_id,
            "displayName": "elsewhere",
            "sourceFiles": [{"sourceFileId": "c"}],
        },
        alice,
    )
    return [first, second, third]


async def test_connections_of_an_imodel_are_listed_minimal_oldest_first_whatever_their_kind(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, connections: list[dict[str, Any]]
) -> None:
    response = await client.get(
        CONNECTIONS, params={"imodelId": world.imodel_id}, headers=auth_headers("rita")
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "connections": [{"id": item["id"], "displayName": item["displayName"]} for item in connections],
        "_links": {"self": {"href": f"{BASE}{CONNECTIONS}?imodelId={world.imodel_id}&$skip=0&$top=100"}},
    }


async def test_prefer_representation_lists_whole_connections_with_the_last_run_of_their_kind(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, connections: list[dict[str, Any]]
) -> None:
    alice = auth_headers("alice")
    storage_id = connections[1]["id"]
    assert (await client.post(f"{STORAGE}/{storage_id}/run", headers=alice)).status_code == 202
    response = await client.get(
        CONNECTIONS,
        params={"imodelId": world.imodel_id},
        headers={**alice, "Prefer": "return=representation"},
    )
    listed = response.json()["connections"]
    expected = [
        (await client.get(f"{path}/{item['id']}", headers=alice)).json()["connection"]
        for path, item in zip((MANIFEST, STORAGE, MANIFEST), connections, strict=True)
    ]
    assert listed == expected
    assert listed[1]["_links"]["lastRun"]["href"].startswith(f"{BASE}{STORAGE}/{storage_id}/runs/")
    assert "lastRun" not in listed[0]["_links"]


async def test_connections_are_paged_with_top_and_skip_and_links_to_the_neighbouring_pages(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, connections: list[dict[str, Any]]
) -> None:
    query = {"imodelId": world.imodel_id, "$top": "1", "$skip": "1"}
    body = (await client.get(CONNECTIONS, params=query, headers=auth_headers("alice"))).json()
    assert [item["id"] for item in body["connections"]] == [connections[1]["id"]]
    start = f"{BASE}{CONNECTIONS}?imodelId={world.imodel_id}"
    assert body["_links"] == {
        "self": {"href": f"{start}&$skip=1&$top=1"},
        "prev": {"href": f"{start}&$skip=0&$top=1"},
        "next": {"href": f"{start}&$skip=2&$top=1"},
    }
    past_the_end = {"imodelId": world.imodel_id, "$skip": "5"}
    beyond = (await client.get(CONNECTIONS, params=past_the_end, headers=auth_headers("alice"))).json()
    assert beyond["connections"] == []


async def test_an_imodel_without_connections_lists_none(
    client: httpx.AsyncClient, auth_headers: Headers, world: World
) -> None:
    response = await client.get(
        CONNECTIONS, params={"imodelId": world.imodel_id}, headers=auth_headers("rita")
    )
    assert response.status_code == 200
    assert response.json()["connections"] == []


async def test_connections_need_an_imodel_id(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    response = await client.get(CONNECTIONS, headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "InvalidConnectionRequest",
        "message": "Cannot perform operation.",
        "details": [
            {
                "code": "MissingRequiredParameter",
                "message": "imodelId was not provided.",
                "target": "imodelId",
            }
        ],
    }


async def test_connections_of_an_unknown_imodel_are_an_invalid_imodel_id(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get(CONNECTIONS, params={"imodelId": "nope"}, headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "InvalidConnectionRequest"
    assert response.json()["error"]["details"] == [
        {"code": "InvalidValue", "message": "Provided imodelId value is not valid.", "target": "imodelId"}
    ]


async def test_connections_are_not_listed_to_a_caller_who_is_not_a_member(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, connections: list[dict[str, Any]]
) -> None:
    response = await client.get(
        CONNECTIONS, params={"imodelId": world.imodel_id}, headers=auth_headers("mallory")
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "InsufficientPermissions"


async def test_connections_need_a_token(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(CONNECTIONS, params={"imodelId": world.imodel_id})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "HeaderNotFound"
