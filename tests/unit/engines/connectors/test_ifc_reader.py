"""Reading IFC files: which products are imported, their containers and meshes, and bad input."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell.api.root
import ifcopenshell.geom
import ifcopenshell.util.element
import numpy as np
import pytest

from tests.conftest import SAMPLES
from twinbridge.engines.connectors import SourceFileError, ifc_reader, synchronize_ifc
from twinbridge.engines.connectors.ifc_reader import (
    container_of,
    importable_products,
    open_ifc,
    placement_angles,
    read_ifc,
)
from twinbridge.engines.connectors.ifc_schema import ec_type_of, property_name
from twinbridge.engines.ifc.placement import placement_matrix, rotation_matrix
from twinbridge.engines.imodel import EnginePool

WALL_WITH_WINDOW = SAMPLES / "ifc" / "pass-sps005-250612_wall_with_window.ifc"
NO_STOREYS = SAMPLES / "ifc" / "acad2010_objects.ifc"


def test_a_wall_with_a_window_gives_two_coloured_meshes_in_their_storeys_and_the_opening_none() -> None:
    source = read_ifc(WALL_WITH_WINDOW, threads=1)
    assert source.schema == "IFC4"
    assert sorted(record.ifc_class for record in source.products) == [
        "IfcOpeningElement",
        "IfcWall",
        "IfcWindow",
    ]
    opening = next(record for record in source.products if record.ifc_class == "IfcOpeningElement")
    assert not opening.meshed
    assert opening.mesh == []
    assert opening.container in ("Level 0", "Level 1"), (
        "an opening goes to the storey of the element it voids"
    )
    for record in source.products:
        if record is opening:
            continue
        assert record.container in ("Level 0", "Level 1")
        assert record.mesh
        assert all(len(part.triangles) and len(part.points) for part in record.mesh)
        assert all(
            part.triangles.min() >= 0 and part.triangles.max() < len(part.points) for part in record.mesh
        )
    wall = next(record for record in source.products if record.ifc_class == "IfcWall")
    assert wall.name == "Basic Wall:Wall-Fnd_440Blk:313185"
    assert "Pset_WallCommon" in wall.properties
    assert source.issues == []


def world_points(model: ifcopenshell.file, product: object) -> np.ndarray:
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    shape = ifcopenshell.geom.create_shape(settings, product)
    return np.asarray(shape.geometry.verts, dtype=float).reshape(-1, 3)


def test_an_openings_shape_is_kept_in_its_record_where_ifcopenshell_puts_it_and_not_in_its_element() -> None:
    source = read_ifc(WALL_WITH_WINDOW, threads=1)
    opening = next(record for record in source.products if record.ifc_class == "IfcOpeningElement")
    assert opening.mesh == [], "the element draws nothing: its host is cut already"
    assert opening.ifc is not None
    shape, placement = opening.ifc["shape"], opening.ifc["placement"]
    points = np.asarray(shape["points"], dtype=float)
    assert len(shape["triangles"]) >= 12
    assert np.asarray(shape["triangles"]).max() < len(points)
    frame = placement_matrix(placement["location"], placement["axis"], placement["refDirection"])
    recorded_world = points @ frame[:3, :3].T + frame[:3, 3]
    model = open_ifc(WALL_WITH_WINDOW)
    expected = world_points(model, model.by_guid(opening.global_id))
    assert np.allclose(recorded_world.min(axis=0), expected.min(axis=0), atol=1e-6)
    assert np.allclose(recorded_world.max(axis=0), expected.max(axis=0), atol=1e-6)


def test_curves_of_a_product_without_geometry_are_kept_in_its_record_as_nested_values() -> None:
    source = read_ifc(SAMPLES / "ifc" / "pass-ifc105-pgsuper_materialproperties.ifc", threads=1)
    alignment = next(record for record in source.products if record.ifc_class == "IfcAlignment")
    assert alignment.mesh == []
    assert alignment.ifc is not None
    (representation,) = alignment.ifc["representation"]["attributes"]["Representations"]
    assert representation["attributes"]["RepresentationIdentifier"] == "Axis"
    assert [item["type"] for item in representation["attributes"]["Items"]] == ["IfcGradientCurve"]
    assert representation["attributes"]["ContextOfItems"]["attributes"]["ContextIdentifier"] == "Axis"
    assert ("NoGeometry", alignment.global_id) in {(issue.code, issue.global_id) for issue in source.issues}


def test_a_spaces_shape_and_type_are_kept_in_the_file_records_spatial_structure() -> None:
    source = read_ifc(NO_STOREYS, threads=1)
    spaces = [entry for entry in source.record["spatial"] if entry["class"] == "IfcSpace"]
    assert len(spaces) == 4
    model = open_ifc(NO_STOREYS)
    for entry in spaces:
        space = model.by_guid(entry["globalId"])
        space_type = ifcopenshell.util.element.get_type(space)
        assert space_type is not None
        assert entry["type"] == space_type.GlobalId
        frame = placement_matrix(
            entry["placement"]["location"], entry["placement"]["axis"], entry["placement"]["refDirection"]
        )
        points = np.asarray(entry["shape"]["points"], dtype=float) @ frame[:3, :3].T + frame[:3, 3]
        expected = world_points(model, space)
        assert np.allclose(points.min(axis=0), expected.min(axis=0), atol=1e-6)
        assert np.allclose(points.max(axis=0), expected.max(axis=0), atol=1e-6)


def test_products_outside_storeys_belong_to_their_building() -> None:
    model = open_ifc(NO_STOREYS)
    products = importable_products(model)
    (building,) = model.by_type("IfcBuilding")
    assert {container_of(product) for product in products} == {(building.Name, building.GlobalId)}
    assert "IfcOpeningElement" in {product.is_a() for product in products}
    assert "IfcSpace" not in {product.is_a() for product in products}


def test_spatial_elements_are_skipped_without_an_issue_and_ports_with_one(tmp_path: Path) -> None:
    """The spatial structure is kept in the file's record; a port is carried nowhere, so it is an issue."""
    model = open_ifc(WALL_WITH_WINDOW)
    port = ifcopenshell.api.root.create_entity(model, ifc_class="IfcDistributionPort")
    path = tmp_path / "with_port.ifc"
    model.write(str(path))
    source = read_ifc(path, threads=1)
    by_class = {item.ifc_class: item for item in source.skipped}
    assert set(by_class) == {"IfcSite", "IfcBuilding", "IfcBuildingStorey", "IfcDistributionPort"}
    assert "IFC record" in by_class["IfcBuilding"].reason
    assert [(issue.code, issue.global_id) for issue in source.issues] == [("NotImported", port.GlobalId)]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"hello, this is not IFC\n", "not an IFC file"),
        (
            b"ISO-10303-21;\nHEADER;\nFILE_SCHEMA(('CIS2'));\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n",
            "unsupported schema CIS2",
        ),
        (b"ISO-10303-21;\nHEADER;\nthis is broken", "cannot parse"),
    ],
)
def test_bad_input_raises_an_error_naming_the_file_and_the_problem(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "bad.ifc"
    path.write_bytes(content)
    with pytest.raises(SourceFileError) as caught:
        open_ifc(path)
    assert str(path) in str(caught.value)
    assert problem in caught.value.problem


def test_a_missing_file_is_reported_as_missing(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="does not exist"):
        open_ifc(tmp_path / "nothing.ifc")
    with pytest.raises(SourceFileError, match="not a regular file"):
        open_ifc(tmp_path)


def test_an_unsupported_schema_is_named(tmp_path: Path) -> None:
    path = tmp_path / "old.ifc"
    path.write_text(
        WALL_WITH_WINDOW.read_text().replace("FILE_SCHEMA(('IFC4'))", "FILE_SCHEMA(('IFC2X2_FINAL'))")
    )
    with pytest.raises(SourceFileError) as caught:
        open_ifc(path)
    assert caught.value.problem.startswith("unsupported schema IFC2X2_FINAL")


def test_a_bad_file_stops_the_sync_before_any_output_or_engine(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ifc"
    bad.write_text("not IFC")
    output = tmp_path / "out.bim"
    pool = EnginePool(1)  # never started: reading the files comes first
    with pytest.raises(SourceFileError, match=r"bad\.ifc"):
        synchronize_ifc([WALL_WITH_WINDOW, bad], None, output, pool)
    assert not output.exists()
    assert pool.peak_memory_bytes() == 0
    pool.close()


@pytest.mark.parametrize(
    "angles", [(0.0, 0.0, 0.0), (90.0, 0.0, 0.0), (-30.0, 20.0, 170.0), (45.0, 90.0, 0.0), (10.0, -90.0, 0.0)]
)
def test_placement_rotations_become_the_yaw_pitch_and_roll_that_rebuild_them(
    angles: tuple[float, float, float],
) -> None:
    rotation = rotation_matrix(*angles)
    found = placement_angles(rotation.tolist())
    assert found is not None
    assert rotation_matrix(*found) == pytest.approx(rotation, abs=1e-9)


def test_a_mirrored_placement_has_no_yaw_pitch_and_roll() -> None:
    mirrored = rotation_matrix(30.0, 0.0, 0.0) @ np.diag([1.0, 1.0, -1.0])
    assert placement_angles(mirrored.tolist()) is None
    assert placement_angles((np.eye(3) * 2.0).tolist()) is None


def _given(records: list[ifc_reader.IfcProductRecord]) -> list[tuple[object, ...]]:
    """What reading a file gives of each product, meshes as bytes."""
    return [
        (
            record.global_id,
            record.properties,
            record.origin,
            record.angles,
            [(part.color, part.points.tobytes(), part.triangles.tobytes()) for part in record.mesh],
            record.ifc,
        )
        for record in records
    ]


def _read_whole(path: Path) -> list[tuple[object, ...]]:
    return _given(read_ifc(path, threads=1).products)


def test_products_meshed_a_few_per_geometry_iterator_get_what_one_iterator_for_all_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = SAMPLES / "ifc" / "test.ifc"
    one_iterator = _read_whole(path)
    monkeypatch.setattr(ifc_reader, "PRODUCTS_PER_ITERATOR", 7)
    assert _read_whole(path) == one_iterator
    assert sum(1 for product in one_iterator if product[4]) > 7 * 5, "several iterators meshed the file"


def test_property_values_are_read_with_each_batch_and_their_types_known_before() -> None:
    source = ifc_reader.read_products(WALL_WITH_WINDOW)
    assert all(record.properties == {} for record in source.products), "no value held before its batch"
    wall_types = source.property_types["IfcWall"]
    assert wall_types, "the types of the wall's properties are known before its values are read"
    made = []
    for batch in source.batches(size=1):
        for record in batch:
            read = {
                property_name(set_name, name): ec_type_of(value)
                for set_name, values in record.properties.items()
                for name, value in values.items()
            }
            assert read.items() <= source.property_types[record.ifc_class].items()
            made.append(record)
    assert all(record.properties == {} for record in source.products), "the batches are copies"
    wall = next(record for record in made if record.ifc_class == "IfcWall")
    assert "Pset_WallCommon" in wall.properties
    assert {property_name("Pset_WallCommon", name) for name in wall.properties["Pset_WallCommon"]} <= set(
        wall_types
    )


def test_a_file_read_a_few_products_per_reading_process_gives_what_one_process_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = SAMPLES / "ifc" / "test.ifc"
    one_process = read_ifc(path, threads=1)
    monkeypatch.setattr(ifc_reader, "PRODUCTS_PER_READER", 9)
    several = read_ifc(path, threads=1)
    assert len(one_process.products) > 9 * 5, "several processes read the file"
    assert _given(several.products) == _given(one_process.products)
    assert several.issues == one_process.issues
    assert several.property_types == one_process.property_types
    assert several.record == one_process.record


def test_a_global_id_repeated_in_a_later_reading_process_is_left_out_with_an_issue(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = ifcopenshell.open(str(WALL_WITH_WINDOW))
    products = importable_products(model)
    products[-1].GlobalId = products[0].GlobalId
    path = tmp_path / "duplicate.ifc"
    model.write(str(path))
    monkeypatch.setattr(ifc_reader, "PRODUCTS_PER_READER", 1)  # each product read by a process of its own
    source = ifc_reader.read_products(path)
    assert [record.global_id for record in source.products].count(products[0].GlobalId) == 1
    assert len(source.products) == len(products) - 1
    (duplicate,) = [issue for issue in source.issues if issue.code == "DuplicateGlobalId"]
    assert duplicate.global_id == products[0].GlobalId
    assert f"#{products[-1].id()}" in duplicate.message
    every = ifc_reader.read_products(path, unique_global_ids=False)
    assert len(every.products) == len(products)


def test_a_file_meshed_with_several_threads_gives_what_one_thread_gives() -> None:
    path = SAMPLES / "ifc" / "test.ifc"
    one_thread = _read_whole(path)
    several = read_ifc(path, threads=2)  # the file parsed whole: lazy loading is not safe with threads
    assert _given(several.products) == one_thread
