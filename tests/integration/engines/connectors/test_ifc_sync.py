"""IFC -> iModel synchronization on every sample IFC file, checked by exporting back to IFC."""

from __future__ import annotations

import hashlib
import multiprocessing
import shutil
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.api.geometry
import ifcopenshell.api.root
import ifcopenshell.geom
import ifcopenshell.guid
import ifcopenshell.util.element
import ifcopenshell.util.placement
import numpy as np
import pytest

from tests.conftest import SAMPLES
from tests.integration.engines.connectors.conftest import SyncFunction
from twinbridge.engines.connectors import synchronize_ifc
from twinbridge.engines.connectors.ifc_reader import importable_products, meshed
from twinbridge.engines.ifc import export_imodel_to_ifc
from twinbridge.engines.ifc.mapping import entity_meeting_rules
from twinbridge.engines.ifc.placement import local_to_world
from twinbridge.engines.imodel import EnginePool

SAMPLE_IFC = SAMPLES / "ifc"
IFC_FILES = sorted(SAMPLE_IFC.glob("*.ifc"))


def provenance(pool: EnginePool, path: Path) -> dict[str, dict[str, Any]]:
    """GlobalId -> element id, FederationGuid, class and label of the IFC elements of an iModel."""
    with pool.open(path) as imodel:
        rows = imodel.query_all(
            "SELECT a.Identifier globalId, e.ECInstanceId id, e.FederationGuid guid, e.UserLabel label,"
            " ec_classname(e.ECClassId, 's:c') className, g.Origin origin,"
            " g.Yaw yaw, g.Pitch pitch, g.Roll roll"
            " FROM bis.ExternalSourceAspect a JOIN bis.Element e ON e.ECInstanceId = a.Element.Id"
            " JOIN bis.GeometricElement3d g ON g.ECInstanceId = e.ECInstanceId WHERE a.Kind = 'IfcProduct'"
        )
    result = {str(row["globalId"]): row for row in rows}
    assert len(result) == len(rows), "one element per GlobalId"
    return result


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("source", IFC_FILES, ids=[path.stem for path in IFC_FILES])
def test_every_sample_synchronizes_into_an_empty_imodel_with_one_element_per_product(
    source: Path, synced: SyncFunction, engine_pool: EnginePool
) -> None:
    output, report = synced(source)
    expected = {product.GlobalId: product for product in importable_products(ifcopenshell.open(str(source)))}
    assert (report.inserted, report.updated, report.deleted, report.unchanged) == (len(expected), 0, 0, 0)
    assert report.files[0].products == len(expected)
    assert report.files[0].file_key == "main"
    elements = provenance(engine_pool, output)
    assert set(elements) == set(expected)
    for global_id, row in elements.items():
        assert row["guid"] == str(ifcopenshell.guid.expand(global_id)) or row["guid"].replace("-", "") == (
            ifcopenshell.guid.expand(global_id)
        )
        assert row["className"] == f"IfcDynamic:{expected[global_id].is_a()}"
        assert row.get("label") == (expected[global_id].Name or None)


@pytest.mark.parametrize("source", IFC_FILES, ids=[path.stem for path in IFC_FILES])
def test_exporting_a_synchronized_imodel_gives_back_the_products_with_their_global_ids(
    source: Path, synced: SyncFunction, engine_pool: EnginePool, tmp_path: Path
) -> None:
    output, _ = synced(source)
    exported = tmp_path / "roundtrip.ifc"
    export_imodel_to_ifc(output, exported, ifc_version="IFC4.3", pool=engine_pool)
    # A standard case (IfcWallStandardCase) comes back as itself, or as its supertype when the exporter cannot
    # meet its rules (no material layer set usage).
    original = {
        product.GlobalId: {product.is_a(), entity_meeting_rules(product.is_a(), "IFC4X3_ADD2")}
        for product in importable_products(ifcopenshell.open(str(source)))
        if product.is_a("IfcElement")
    }
    back = {
        product.GlobalId: product.is_a() for product in ifcopenshell.open(str(exported)).by_type("IfcElement")
    }
    assert set(back) == set(original)
    assert all(back[global_id] in classes for global_id, classes in original.items())


def test_products_keep_their_world_position_and_property_sets(
    synced: SyncFunction, engine_pool: EnginePool, tmp_path: Path
) -> None:
    """The far-from-origin sample: origins are the IFC placements, psets come back under their names."""
    source = SAMPLE_IFC / "large_offset.ifc"
    output, _ = synced(source)
    model = ifcopenshell.open(str(source))
    elements = provenance(engine_pool, output)
    for product in filter(meshed, importable_products(model)):
        matrix = ifcopenshell.util.placement.get_local_placement(product.ObjectPlacement)
        origin = elements[product.GlobalId]["origin"]
        scale = 0.001  # the file is in millimetres
        assert origin["x"] == pytest.approx(matrix[0][3] * scale, abs=1e-5)
        assert origin["y"] == pytest.approx(matrix[1][3] * scale, abs=1e-5)
        assert abs(origin["x"]) > 100_000
    exported = tmp_path / "large.ifc"
    export_imodel_to_ifc(output, exported, ifc_version="IFC4.3", pool=engine_pool)
    back = ifcopenshell.open(str(exported))
    wall = next(product for product in back.by_type("IfcWall"))
    source_wall = model.by_guid(wall.GlobalId)
    assert set(ifcopenshell.util.element.get_psets(source_wall)) <= set(
        ifcopenshell.util.element.get_psets(wall)
    )


@pytest.mark.parametrize("name", ["pass-sps005-250612_wall_with_window.ifc", "large_offset.ifc", "test.ifc"])
def test_element_meshes_lie_where_ifcopenshell_puts_the_products_in_world_coordinates(
    name: str, synced: SyncFunction, engine_pool: EnginePool
) -> None:
    """Placement (origin and yaw/pitch/roll) applied to the element's local mesh gives the IFC world mesh."""
    source = SAMPLE_IFC / name
    output, _ = synced(source)
    elements = provenance(engine_pool, output)
    world: dict[str, Any] = {}
    with engine_pool.open(output) as imodel:
        by_id = {int(row["id"], 16): global_id for global_id, row in elements.items()}
        for graphics in imodel.export_graphics(list(by_id), frame="local"):
            row = elements[by_id[graphics.element_id]]
            origin = (row["origin"]["x"], row["origin"]["y"], row["origin"]["z"])
            points = np.concatenate([record.positions for record in graphics.records])
            world[by_id[graphics.element_id]] = local_to_world(
                origin, row.get("yaw", 0.0), row.get("pitch", 0.0), row.get("roll", 0.0), points
            )
    model = ifcopenshell.open(str(source))
    expected: dict[str, Any] = {}
    iterator = ifcopenshell.geom.iterator(
        ifcopenshell.geom.settings(),
        model,
        multiprocessing.cpu_count(),
        include=list(filter(meshed, importable_products(model))),
    )
    assert iterator.initialize()
    while True:
        shape = iterator.get()
        matrix = np.array(shape.transformation.matrix).reshape(4, 4).T  # IfcOpenShell's is column-major
        local = np.array(shape.geometry.verts).reshape(-1, 3)
        expected[shape.guid] = local @ matrix[:3, :3].T + matrix[:3, 3]
        if not iterator.next():
            break
    assert set(expected) == set(world)
    rotated = 0
    for global_id, verts in expected.items():
        assert world[global_id].min(axis=0) == pytest.approx(verts.min(axis=0), abs=1e-4)
        assert world[global_id].max(axis=0) == pytest.approx(verts.max(axis=0), abs=1e-4)
        rotated += bool(elements[global_id].get("yaw"))
    assert rotated > 0, "the samples have rotated placements"


def test_resynchronizing_an_unchanged_file_leaves_every_element_alone(
    synced: SyncFunction, engine_pool: EnginePool, tmp_path: Path
) -> None:
    source = SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc"
    base, first = synced(source)
    base_hash = sha1(base)
    output = tmp_path / "again.bim"
    report = synchronize_ifc([source], base, output, engine_pool, file_keys=["main"])
    assert (report.inserted, report.updated, report.deleted, report.unchanged) == (0, 0, 0, first.inserted)
    assert first.changed
    assert not report.changed  # nothing written: the caller need not keep the output
    assert {key: row["id"] for key, row in provenance(engine_pool, output).items()} == {
        key: row["id"] for key, row in provenance(engine_pool, base).items()
    }
    assert sha1(base) == base_hash


def test_resynchronizing_a_modified_file_updates_inserts_and_deletes_by_global_id(
    synced: SyncFunction, engine_pool: EnginePool, tmp_path: Path
) -> None:
    source = SAMPLE_IFC / "large_offset.ifc"
    base, _ = synced(source)
    base_hash = sha1(base)
    before = provenance(engine_pool, base)
    model = ifcopenshell.open(str(source))
    total = len(importable_products(model))
    # Meshed products no opening or filling relates to: changing them changes no other product's record.
    products = [
        product
        for product in importable_products(model)
        if meshed(product) and not product.HasOpenings and not product.FillsVoids
    ]
    referenced = {
        placement.PlacementRelTo.id()
        for placement in model.by_type("IfcLocalPlacement")
        if placement.PlacementRelTo
    }
    names = [product.Name for product in products]
    unique = [product for product in products if names.count(product.Name) == 1]
    movable = [product for product in unique if product.ObjectPlacement.id() not in referenced]
    moved = movable[0]
    renamed, deleted, copied = [product for product in unique if product is not moved][:3]
    renamed.Name = "renamed by the test"
    moved_gid, renamed_gid, deleted_gid = moved.GlobalId, renamed.GlobalId, deleted.GlobalId
    matrix = ifcopenshell.util.placement.get_local_placement(moved.ObjectPlacement)
    matrix[0][3] += 2500.0  # millimetres
    ifcopenshell.api.geometry.edit_object_placement(model, product=moved, matrix=matrix, is_si=False)
    ifcopenshell.api.root.remove_product(model, product=deleted)
    added = ifcopenshell.api.root.copy_class(model, product=copied)
    added.Name = "added by the test"
    added.Representation = ifcopenshell.util.element.copy_deep(model, copied.Representation)
    changed = tmp_path / "changed.ifc"
    model.write(str(changed))

    output = tmp_path / "v2.bim"
    report = synchronize_ifc([changed], base, output, engine_pool, file_keys=["main"])

    assert (report.inserted, report.updated, report.deleted, report.unchanged) == (1, 2, 1, total - 3)
    after = provenance(engine_pool, output)
    assert set(after) == (set(before) - {deleted_gid}) | {added.GlobalId}
    for global_id in set(before) - {deleted_gid}:
        assert after[global_id]["id"] == before[global_id]["id"], (
            "updated and unchanged elements keep their id"
        )
    assert after[renamed_gid]["label"] == "renamed by the test"
    assert after[moved_gid]["origin"]["x"] == pytest.approx(before[moved_gid]["origin"]["x"] + 2.5, abs=1e-6)
    assert sha1(base) == base_hash, "the base version is never edited"


def test_two_files_synchronize_side_by_side_and_a_file_missing_from_a_later_sync_is_kept(
    synced: SyncFunction, engine_pool: EnginePool, tmp_path: Path
) -> None:
    wall = SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc"
    offset = SAMPLE_IFC / "large_offset.ifc"
    first = tmp_path / "both.bim"
    report = synchronize_ifc([wall, offset], None, first, engine_pool, file_keys=["wall", "offset"])
    assert [file.file_key for file in report.files] == ["wall", "offset"]
    total = report.inserted
    second = tmp_path / "wall-only.bim"
    again = synchronize_ifc([wall], first, second, engine_pool, file_keys=["wall"])
    assert again.unchanged == report.files[0].inserted
    assert again.deleted == 0
    assert len(provenance(engine_pool, second)) == total


def test_an_empty_base_file_counts_as_no_base(engine_pool: EnginePool, tmp_path: Path) -> None:
    seed = tmp_path / "seed.bim"
    seed.touch()
    output = tmp_path / "out.bim"
    source = SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc"
    report = synchronize_ifc([source], seed, output, engine_pool)
    assert report.inserted == 3  # the wall, the window and the window's opening
    assert report.files[0].file_key == source.name
    shutil.copyfile(output, tmp_path / "copy.bim")
    assert len(provenance(engine_pool, tmp_path / "copy.bim")) == 3


def test_two_products_that_swap_names_are_both_updated_in_place(
    synced: SyncFunction, engine_pool: EnginePool, tmp_path: Path
) -> None:
    """Codes are unique per model, so a swap needs the old codes released before the new ones are set."""
    source = SAMPLE_IFC / "large_offset.ifc"
    base, _ = synced(source)
    before = provenance(engine_pool, base)
    model = ifcopenshell.open(str(source))
    products = list(filter(meshed, importable_products(model)))
    names = [product.Name for product in products]
    by_storey: dict[Any, list[Any]] = {}
    for product in products:
        if product.Name and names.count(product.Name) == 1:
            by_storey.setdefault(ifcopenshell.util.element.get_container(product), []).append(product)
    first, second = next(group for group in by_storey.values() if len(group) >= 2)[:2]
    first.Name, second.Name = second.Name, first.Name
    changed = tmp_path / "swapped.ifc"
    model.write(str(changed))
    report = synchronize_ifc([changed], base, tmp_path / "swapped.bim", engine_pool, file_keys=["main"])
    assert (report.updated, report.inserted, report.deleted) == (2, 0, 0)
    after = provenance(engine_pool, tmp_path / "swapped.bim")
    assert after[first.GlobalId]["id"] == before[first.GlobalId]["id"]
    assert after[first.GlobalId]["label"] == before[second.GlobalId]["label"]
