"""Configurations change what synchronization runs do: runs executed by a real worker and engine, in-process.

ignoreIfcGlobalIds keeps elements whose GlobalIds were renewed (and a connection's configuration overrides
its iModel's), clampZExtent bounds the new version's project extents, enableFileNamePolicy lets a file keep
its elements across connections and refuses two files of one name in a run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ifcopenshell
import ifcopenshell.guid
import pytest

from tests.conftest import EMPTY_IMODEL, SAMPLE_IFC
from twinbridge.auth.grants import GrantService
from twinbridge.engines.connectors.ifc_reader import importable_products
from twinbridge.engines.imodel import EnginePool
from twinbridge.imodels.repository import IModelRepository
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.runtime import Runtime
from twinbridge.storage.service import StorageService

Headers = Callable[..., dict[str, str]]
Execute = Callable[[], Awaitable[None]]
CONFIGURATIONS = "/synchronization/configurations"
STORAGE = "/synchronization/imodels/storageconnections"
SOURCE = SAMPLE_IFC / "test.ifc"
PRODUCTS = len(importable_products(ifcopenshell.open(str(SOURCE))))


@pytest.fixture(scope="module")
def renewed_global_ids(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test.ifc exported again by a tool that makes new GlobalIds every time."""
    model = ifcopenshell.open(str(SOURCE))
    for entity in model.by_type("IfcRoot"):
        entity.GlobalId = ifcopenshell.guid.new()
    path = tmp_path_factory.mktemp("renewed") / "test.ifc"
    model.write(str(path))
    return path


@pytest.fixture(scope="module")
def tower(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test.ifc with its products stacked 250 m apart, up to 23 km high."""
    model = ifcopenshell.open(str(SOURCE))
    for index, product in enumerate(importable_products(model)):
        placement = product.ObjectPlacement.RelativePlacement
        x, y, z = placement.Location.Coordinates
        product.ObjectPlacement.RelativePlacement = model.createIfcAxis2Placement3D(
            model.createIfcCartesianPoint((x, y, z + index * 250.0)), placement.Axis, placement.RefDirection
        )
    path = tmp_path_factory.mktemp("tower") / "tower.ifc"
    model.write(str(path))
    return path


@dataclass
class World:
    imodel_id: str
    files: dict[str, str]  # storage file id by what it holds


@pytest.fixture
async def world(runtime: Runtime, renewed_global_ids: Path, tower: Path) -> World:
    async with runtime.database.transaction() as transaction:
        itwin = await ITwinService(transaction).create("Plant", "alice")
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, EMPTY_IMODEL, "Target", None, caller=None
        )
        storage = StorageService(transaction, runtime.blobs)
        files = {}
        for label, path in (
            ("original", SOURCE),
            ("copy", SOURCE),
            ("renewed", renewed_global_ids),
            ("tower", tower),
        ):
            files[label] = (await storage.store_file(itwin.id, "test.ifc", path, "alice")).id
        await GrantService(transaction).grant("alice")
        return World(imported.imodel.id, files)


async def _configure(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, flags: dict[str, Any]
) -> None:
    response = await client.post(f"{CONFIGURATIONS}/{path}", json=flags, headers=headers)
    assert response.status_code == 201, response.text


async def _connection(client: httpx.AsyncClient, headers: dict[str, str], world: World, *files: str) -> str:
    body = {
        "iModelId": world.imodel_id,
        "sourceFiles": [{"storageFileId": world.files[file], "connectorType": "IFC"} for file in files],
    }
    response = await client.post(STORAGE, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["connection"]["id"])


async def _run(
    client: httpx.AsyncClient, headers: dict[str, str], connection_id: str, execute: Execute
) -> dict[str, Any]:
    created = await client.post(f"{STORAGE}/{connection_id}/run", headers=headers)
    assert created.status_code == 202, created.text
    await execute()
    run: dict[str, Any] = (await client.get(created.headers["location"], headers=headers)).json()["run"]
    assert run["state"] == "Completed"
    return run


async def _replace_file(
    client: httpx.AsyncClient, headers: dict[str, str], connection_id: str, storage_file_id: str
) -> None:
    """SF4: the connection's one mapping now maps another storage file (the mapping, and so its key, stay)."""
    listed = await client.get(f"{STORAGE}/{connection_id}/sourcefiles", headers=headers)
    [mapping] = listed.json()["sourceFiles"]
    replaced = await client.put(
        f"{STORAGE}/{connection_id}/sourcefiles/{mapping['id']}",
        json={"storageFileId": storage_file_id, "connectorType": "IFC"},
        headers=headers,
    )
    assert replaced.status_code == 200, replaced.text


def _elements(run: dict[str, Any]) -> list[dict[str, int]]:
    return [task["details"]["elements"] for job in run["jobs"] for task in job["tasks"]]


def _counts(inserted: int = 0, updated: int = 0, deleted: int = 0, unchanged: int = 0) -> dict[str, int]:
    return {
        "products": PRODUCTS,
        "inserted": inserted,
        "updated": updated,
        "deleted": deleted,
        "unchanged": unchanged,
    }


async def test_ignoring_global_ids_renewed_global_ids_update_the_elements_instead_of_replacing_them(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    await _configure(client, alice, f"imodels/{world.imodel_id}", {"ignoreIfcGlobalIds": True})
    connection_id = await _connection(client, alice, world, "original")
    first = await _run(client, alice, connection_id, execute_queued_runs)
    assert _elements(first) == [_counts(inserted=PRODUCTS)]
    await _replace_file(client, alice, connection_id, world.files["renewed"])
    second = await _run(client, alice, connection_id, execute_queued_runs)
    assert second["result"] == "Success", second
    assert _elements(second) == [_counts(updated=PRODUCTS)]


async def test_a_connection_configuration_overrides_its_imodels_in_a_run(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    await _configure(client, alice, f"imodels/{world.imodel_id}", {"ignoreIfcGlobalIds": True})
    connection_id = await _connection(client, alice, world, "original")
    await _configure(client, alice, f"connections/{connection_id}", {"ignoreIfcGlobalIds": False})
    await _run(client, alice, connection_id, execute_queued_runs)
    await _replace_file(client, alice, connection_id, world.files["renewed"])
    second = await _run(client, alice, connection_id, execute_queued_runs)
    assert _elements(second) == [_counts(inserted=PRODUCTS, deleted=PRODUCTS)]  # keyed on GlobalIds


async def test_clamped_z_extent_bounds_the_project_extents_of_the_version_a_run_writes(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    execute_queued_runs: Execute,
) -> None:
    alice = auth_headers("alice")
    await _configure(client, alice, f"imodels/{world.imodel_id}", {"clampZExtent": True})
    connection_id = await _connection(client, alice, world, "tower")
    run = await _run(client, alice, connection_id, execute_queued_runs)
    assert run["result"] == "Success", run
    async with runtime.database.transaction() as transaction:
        latest = await IModelRepository(transaction).latest_version(world.imodel_id)
    assert latest is not None
    path = await asyncio.to_thread(runtime.blobs.local_path, latest.blob_key)

    def project_extents() -> dict[str, list[float]]:
        with EnginePool(1) as pool, pool.open(path) as imodel:
            extents: dict[str, list[float]] = imodel.info["projectExtents"]
        return extents

    extents = await asyncio.to_thread(project_extents)
    assert extents["high"][2] == 8849.0
    assert 0 < extents["low"][2] < 8849.0  # the bottom of the tower, as it is


async def test_with_the_file_name_policy_a_file_keeps_its_elements_in_another_connection(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    await _configure(client, alice, f"imodels/{world.imodel_id}", {"enableFileNamePolicy": True})
    first = await _connection(client, alice, world, "original")
    assert _elements(await _run(client, alice, first, execute_queued_runs)) == [_counts(inserted=PRODUCTS)]
    assert (await client.delete(f"{STORAGE}/{first}", headers=alice)).status_code == 204
    second = await _connection(client, alice, world, "copy")  # another storage file named test.ifc
    run = await _run(client, alice, second, execute_queued_runs)
    assert _elements(run) == [_counts(unchanged=PRODUCTS)]


async def test_with_the_file_name_policy_two_files_of_one_name_in_a_run_are_refused(
    client: httpx.AsyncClient, auth_headers: Headers, world: World, execute_queued_runs: Execute
) -> None:
    alice = auth_headers("alice")
    await _configure(client, alice, f"imodels/{world.imodel_id}", {"enableFileNamePolicy": True})
    connection_id = await _connection(client, alice, world, "original", "copy")
    run = await _run(client, alice, connection_id, execute_queued_runs)
    assert run["result"] == "Error"
    errors = [task["error"] for job in run["jobs"] for task in job["tasks"]]
    assert [error["errorCode"] for error in errors] == ["FileNameNotUnique", "FileNameNotUnique"]
    assert "2 files of this run are named 'test.ifc'" in errors[0]["details"]
    changesets = (await client.get(f"/imodels/{world.imodel_id}/changesets", headers=alice)).json()
    assert changesets["changesets"] == []
