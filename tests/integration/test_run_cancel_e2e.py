"""Cancelling executing runs end to end (twinbridge's extension): `twinbridge serve` with one worker process
and its real engine, real HTTP. The run ends Completed/Canceled while its work would still go on for a long
time, keeps nothing (no output file, no new iModel version, no workspace), and the worker then executes the
next run as usual."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ifcopenshell
import ifcopenshell.guid
import pytest

from tests.conftest import EMPTY_IMODEL, SAMPLE_IFC
from tests.integration.conftest import Server, start_server, stop_server
from twinbridge.export.execution import output_file_id

Cli = Callable[..., subprocess.CompletedProcess[str]]
STORAGE = "/synchronization/imodels/storageconnections"


@pytest.fixture
def one_worker(environment: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    """One worker process: the run after a canceled one is executed by the same worker."""
    running = start_server(environment, tmp_path / "serve.log", {"TWINBRIDGE_WORKERS": "1"})
    yield running
    stop_server(running)


@pytest.fixture
def headers(cli: Cli, one_worker: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {cli('token', '--user', 'alice').stdout.strip()}"}


@pytest.fixture
def itwin_id(cli: Cli) -> str:
    return cli("itwins", "create", "Plant", "--owner", "alice").stdout.strip()


def _many_products_ifc(path: Path, count: int) -> Path:
    """An IFC file of `count` round posts, each a swept solid to mesh: reading it takes many seconds."""
    model = ifcopenshell.file(schema="IFC4")
    new = model.create_entity
    world = new("IfcAxis2Placement3D", Location=new("IfcCartesianPoint", Coordinates=(0.0, 0.0, 0.0)))
    context = new(
        "IfcGeometricRepresentationContext",
        ContextType="Model",
        CoordinateSpaceDimension=3,
        Precision=1e-5,
        WorldCoordinateSystem=world,
    )
    body = new(
        "IfcGeometricRepresentationSubContext",
        ContextIdentifier="Body",
        ContextType="Model",
        ParentContext=context,
        TargetView="MODEL_VIEW",
    )
    units = new("IfcUnitAssignment", Units=[new("IfcSIUnit", UnitType="LENGTHUNIT", Name="METRE")])
    project = new(
        "IfcProject",
        GlobalId=ifcopenshell.guid.new(),
        Name="Posts",
        RepresentationContexts=[context],
        UnitsInContext=units,
    )
    site_placement = new("IfcLocalPlacement", RelativePlacement=world)
    site = new("IfcSite", GlobalId=ifcopenshell.guid.new(), Name="Site", ObjectPlacement=site_placement)
    storey_placement = new("IfcLocalPlacement", PlacementRelTo=site_placement, RelativePlacement=world)
    storey = new(
        "IfcBuildingStorey",
        GlobalId=ifcopenshell.guid.new(),
        Name="Level 0",
        ObjectPlacement=storey_placement,
    )
    new("IfcRelAggregates", GlobalId=ifcopenshell.guid.new(), RelatingObject=project, RelatedObjects=[site])
    new("IfcRelAggregates", GlobalId=ifcopenshell.guid.new(), RelatingObject=site, RelatedObjects=[storey])
    up = new("IfcDirection", DirectionRatios=(0.0, 0.0, 1.0))
    posts = []
    for index in range(count):
        corner = new("IfcCartesianPoint", Coordinates=(2.0 * (index % 100), 2.0 * (index // 100), 0.0))
        placement = new(
            "IfcLocalPlacement",
            PlacementRelTo=storey_placement,
            RelativePlacement=new("IfcAxis2Placement3D", Location=corner),
        )
        profile = new("IfcCircleProfileDef", ProfileType="AREA", Radius=0.4 + (index % 7) * 0.05)
        solid = new(
            "IfcExtrudedAreaSolid",
            SweptArea=profile,
            Position=world,
            ExtrudedDirection=up,
            Depth=1.0 + index % 5,
        )
        shape = new(
            "IfcShapeRepresentation",
            ContextOfItems=body,
            RepresentationIdentifier="Body",
            RepresentationType="SweptSolid",
            Items=[solid],
        )
        posts.append(
            new(
                "IfcBuildingElementProxy",
                GlobalId=ifcopenshell.guid.new(),
                Name=f"Post {index}",
                ObjectPlacement=placement,
                Representation=new("IfcProductDefinitionShape", Representations=[shape]),
            )
        )
    new(
        "IfcRelContainedInSpatialStructure",
        GlobalId=ifcopenshell.guid.new(),
        RelatingStructure=storey,
        RelatedElements=posts,
    )
    model.write(str(path))
    return path


def _wait(location: str, headers: dict[str, str], until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Polls the run until `until` holds; the limit is far above what the test needs, not a measurement."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run: dict[str, Any] = httpx.get(location, headers=headers).json()["run"]
        if until(run):
            return run
        time.sleep(0.2)
    raise AssertionError(f"{location}: the run did not get there (last seen {run['state']})")


def _completed(run: dict[str, Any]) -> bool:
    return bool(run["state"] == "Completed")


def _cancel_while_executing(location: str, headers: dict[str, str]) -> dict[str, Any]:
    """Waits until the worker executes the run and is into its engine work, cancels it, and returns the run
    as it ended."""
    _wait(location, headers, lambda run: run["state"] == "Executing")
    time.sleep(3)  # into the engine work: opening the iModel, meshing
    response = httpx.post(f"{location}/cancel", headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["run"]["state"] == "Executing"
    return _wait(location, headers, _completed)


def _assert_canceled(run: dict[str, Any]) -> None:
    assert (run["state"], run["result"]) == ("Completed", "Canceled"), run
    for job in run["jobs"]:
        assert (job["state"], job["result"]) == ("Completed", "Canceled")
        for task in job["tasks"]:
            assert (task["state"], task["result"]) == ("Completed", "Canceled")
            assert task["endDateTime"] is not None
            assert task["error"]["errorCode"] == "RunCanceled"


def _import(cli: Cli, itwin_id: str, path: Path, name: str) -> str:
    return cli("imodels", "import", itwin_id, str(path), "--name", name).stdout.strip()


def test_an_executing_export_is_canceled_keeps_no_file_and_the_worker_goes_on(
    one_worker: Server,
    cli: Cli,
    headers: dict[str, str],
    itwin_id: str,
    slow_imodel: Path,
    environment: dict[str, str],
) -> None:
    slow = _import(cli, itwin_id, slow_imodel, "Slow")
    connection = httpx.post(f"{one_worker.url}/export/connections", json={"iModelId": slow}, headers=headers)
    runs = f"{one_worker.url}/export/connections/{connection.json()['connection']['id']}/runs"
    location = httpx.post(runs, json={"exportType": "IFC"}, headers=headers).headers["location"]

    run = _cancel_while_executing(location, headers)

    _assert_canceled(run)
    assert run["jobs"][0]["tasks"][0].get("exportOutputFileId") is None
    run_id = location.rsplit("/", 1)[1]
    stored = httpx.get(f"{one_worker.url}/storage/files/{output_file_id(run_id)}", headers=headers)
    assert stored.status_code == 404
    data_dir = Path(environment["TWINBRIDGE_DATA_DIR"])
    assert not (data_dir / "tmp" / f"run-{run_id}").exists()
    assert not [path for path in (data_dir / "blobs").rglob("*") if output_file_id(run_id) in path.name]

    # The same worker executes the next run, on a fresh engine.
    empty = _import(cli, itwin_id, EMPTY_IMODEL, "Empty")
    other = httpx.post(f"{one_worker.url}/export/connections", json={"iModelId": empty}, headers=headers)
    other_runs = f"{one_worker.url}/export/connections/{other.json()['connection']['id']}/runs"
    next_run = _wait(
        httpx.post(other_runs, json={"exportType": "IFC"}, headers=headers).headers["location"],
        headers,
        _completed,
    )
    assert next_run["result"] == "Success", next_run
    again = httpx.post(runs, json={"exportType": "IFC"}, headers=headers, follow_redirects=False)
    assert again.status_code == 202  # the canceled run is no longer the iModel's active run


def _upload(server: Server, headers: dict[str, str], itwin_id: str, path: Path) -> str:
    """The public Storage API's flow: create the file, PUT its bytes, complete it."""
    root = httpx.get(f"{server.url}/storage/", params={"iTwinId": itwin_id}, headers=headers).json()
    created = httpx.post(
        f"{root['_links']['folder']['href']}/files", json={"displayName": path.name}, headers=headers
    )
    links = created.json()["_links"]
    upload = httpx.put(
        links["uploadUrl"]["href"], content=path.read_bytes(), headers={"x-ms-blob-type": "BlockBlob"}
    )
    assert upload.status_code == 201
    return str(httpx.post(links["completeUrl"]["href"], headers=headers).json()["file"]["id"])


def test_an_executing_synchronization_is_canceled_writes_no_version_and_the_worker_goes_on(
    one_worker: Server, cli: Cli, headers: dict[str, str], itwin_id: str, tmp_path: Path
) -> None:
    imodel_id = _import(cli, itwin_id, EMPTY_IMODEL, "Target")
    posts = _upload(one_worker, headers, itwin_id, _many_products_ifc(tmp_path / "posts.ifc", 1500))
    body = {"iModelId": imodel_id, "sourceFiles": [{"storageFileId": posts, "connectorType": "IFC"}]}
    connection = httpx.post(f"{one_worker.url}{STORAGE}", json=body, headers=headers).json()["connection"]
    run_url = f"{one_worker.url}{STORAGE}/{connection['id']}/run"
    location = httpx.post(run_url, headers=headers).headers["location"]

    run = _cancel_while_executing(location, headers)

    _assert_canceled(run)
    changesets = f"{one_worker.url}/imodels/{imodel_id}/changesets"
    assert httpx.get(changesets, headers=headers).json()["changesets"] == []

    # The same worker synchronizes the next file as usual: one new version.
    wall = _upload(one_worker, headers, itwin_id, SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc")
    source_files = f"{one_worker.url}{STORAGE}/{connection['id']}/sourcefiles"
    mapped = httpx.get(source_files, headers=headers).json()["sourceFiles"][0]
    replaced = httpx.put(
        f"{source_files}/{mapped['id']}",
        json={"storageFileId": wall, "connectorType": "IFC"},
        headers=headers,
    )
    assert replaced.status_code == 200, replaced.text
    next_run = _wait(httpx.post(run_url, headers=headers).headers["location"], headers, _completed)
    assert next_run["result"] in ("Success", "PartialSuccess"), next_run
    assert len(httpx.get(changesets, headers=headers).json()["changesets"]) == 1
