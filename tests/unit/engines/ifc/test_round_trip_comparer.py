"""The round-trip comparer (tests/integration/engines/round_trip.py) on tiny files made with IfcOpenShell."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.project
import ifcopenshell.api.pset
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.unit
import ifcopenshell.guid
import ifcopenshell.ifcopenshell_wrapper
import pytest

from tests.integration.engines.round_trip import FAMILY_SCHEMAS, SCHEMA_CLASS_EQUIVALENTS, Difference, compare

WALL_ID = ifcopenshell.guid.compress("0f0e0d0c0b0a09080706050403020100")
STOREY_ID = ifcopenshell.guid.compress("00112233445566778899aabbccddeeff")
# Fixed GlobalIds for the project, site and building, so two files made apart describe the same objects.
SPATIAL_IDS = [ifcopenshell.guid.compress(f"{digit}" * 32) for digit in "123"]


def one_wall_file(
    path: Path,
    *,
    millimetres: bool = False,
    name: str = "Wall 1",
    with_pset: bool = True,
    schema: str = "IFC4",
    wall_class: str = "IfcWall",
) -> Path:
    """A project with one storey and one wall placed at x = 1 m, 4 m long, with a pset and a quantity set."""
    scale = 1000.0 if millimetres else 1.0
    model = ifcopenshell.api.project.create_file(version=schema)
    project = ifcopenshell.api.root.create_entity(model, ifc_class="IfcProject", name="Project")
    length = ifcopenshell.api.unit.add_si_unit(
        model, unit_type="LENGTHUNIT", prefix="MILLI" if millimetres else None
    )
    area = ifcopenshell.api.unit.add_si_unit(model, unit_type="AREAUNIT")
    ifcopenshell.api.unit.assign_unit(model, units=[length, area])
    context = ifcopenshell.api.context.add_context(model, context_type="Model")
    body = ifcopenshell.api.context.add_context(
        model, context_type="Model", context_identifier="Body", target_view="MODEL_VIEW", parent=context
    )
    site = ifcopenshell.api.root.create_entity(model, ifc_class="IfcSite", name="Site")
    building = ifcopenshell.api.root.create_entity(model, ifc_class="IfcBuilding", name="Building")
    storey = ifcopenshell.api.root.create_entity(model, ifc_class="IfcBuildingStorey", name="Level 0")
    storey.GlobalId = STOREY_ID
    for entity, global_id in zip((project, site, building), SPATIAL_IDS, strict=True):
        entity.GlobalId = global_id
    storey.Elevation = 3.0 * scale
    ifcopenshell.api.aggregate.assign_object(model, relating_object=project, products=[site])
    ifcopenshell.api.aggregate.assign_object(model, relating_object=site, products=[building])
    ifcopenshell.api.aggregate.assign_object(model, relating_object=building, products=[storey])

    wall = ifcopenshell.api.root.create_entity(model, ifc_class=wall_class, name=name)
    wall.GlobalId = WALL_ID
    matrix = [[1.0, 0.0, 0.0, 1.0 * scale], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    ifcopenshell.api.geometry.edit_object_placement(model, product=wall, matrix=matrix, is_si=False)
    representation = ifcopenshell.api.geometry.add_wall_representation(
        model, context=body, length=4.0, height=3.0, thickness=0.2
    )
    ifcopenshell.api.geometry.assign_representation(model, product=wall, representation=representation)
    ifcopenshell.api.spatial.assign_container(model, relating_structure=storey, products=[wall])
    if with_pset:
        pset = ifcopenshell.api.pset.add_pset(model, product=wall, name="Pset_WallCommon")
        pset.HasProperties = [
            model.createIfcPropertySingleValue("IsExternal", None, model.createIfcBoolean(True), None),
            model.createIfcPropertySingleValue(
                "Width", None, model.createIfcLengthMeasure(0.2 * scale), None
            ),
        ]
    quantities = ifcopenshell.api.pset.add_qto(model, product=wall, name="Qto_WallBaseQuantities")
    quantities.Quantities = [
        model.createIfcQuantityLength("Length", None, None, 4.0 * scale),
        model.createIfcQuantityArea("NetSideArea", None, None, 12.0),
    ]
    model.write(str(path))
    return path


def test_a_file_compared_with_itself_has_no_difference(tmp_path: Path) -> None:
    source = one_wall_file(tmp_path / "source.ifc")

    assert compare(source, source) == []


def test_a_changed_name_is_a_name_difference_of_that_product(tmp_path: Path) -> None:
    source = one_wall_file(tmp_path / "source.ifc")
    exported = one_wall_file(tmp_path / "exported.ifc", name="Wall 2")

    assert compare(source, exported) == [Difference("Name", WALL_ID, "'Wall 1' -> 'Wall 2'")]


def test_a_missing_property_set_is_named(tmp_path: Path) -> None:
    source = one_wall_file(tmp_path / "source.ifc")
    exported = one_wall_file(tmp_path / "exported.ifc", with_pset=False)

    assert compare(source, exported) == [
        Difference("property_sets", WALL_ID, "missing set 'Pset_WallCommon'")
    ]


def test_millimetres_and_metres_of_the_same_sizes_are_equal_in_si(tmp_path: Path) -> None:
    """Placement, elevation, a length property and quantity, shape: 1000 mm is 1 m; only the unit differs."""
    source = one_wall_file(tmp_path / "source.ifc", millimetres=True)
    exported = one_wall_file(tmp_path / "exported.ifc")

    assert compare(source, exported) == [Difference("units", "LENGTHUNIT", "'MILLIMETRE' -> 'METRE'")]


def test_a_length_changed_by_a_millimetre_is_a_difference(tmp_path: Path) -> None:
    source = one_wall_file(tmp_path / "source.ifc")
    model = ifcopenshell.open(str(one_wall_file(tmp_path / "exported.ifc")))
    (quantity,) = [item for item in model.by_type("IfcQuantityLength") if item.Name == "Length"]
    quantity.LengthValue = 4.001
    model.write(str(tmp_path / "exported.ifc"))

    (difference,) = compare(source, tmp_path / "exported.ifc")

    assert (difference.aspect, difference.key) == ("quantity_sets", WALL_ID)
    assert difference.detail.startswith("Qto_WallBaseQuantities.Length: ('IfcQuantityLength', 4.0)")


def test_a_standard_case_written_as_its_supertype_in_the_same_schema_is_a_class_difference(
    tmp_path: Path,
) -> None:
    source = one_wall_file(tmp_path / "source.ifc", wall_class="IfcWallStandardCase")
    exported = one_wall_file(tmp_path / "exported.ifc")

    assert compare(source, exported) == [Difference("class", WALL_ID, "IfcWallStandardCase -> IfcWall")]


def test_a_standard_case_ifc4x3_does_not_have_is_its_supertype_there(tmp_path: Path) -> None:
    source = one_wall_file(tmp_path / "source.ifc", wall_class="IfcBeamStandardCase")
    exported = one_wall_file(tmp_path / "exported.ifc", schema="IFC4X3", wall_class="IfcBeam")

    assert compare(source, exported) == []


def test_a_wall_standard_case_stays_one_in_ifc4x3_which_still_has_the_class(tmp_path: Path) -> None:
    source = one_wall_file(tmp_path / "source.ifc", wall_class="IfcWallStandardCase")
    exported = one_wall_file(tmp_path / "exported.ifc", schema="IFC4X3")

    assert compare(source, exported) == [Difference("class", WALL_ID, "IfcWallStandardCase -> IfcWall")]


@pytest.mark.parametrize(("source_schema", "target_schema"), sorted(SCHEMA_CLASS_EQUIVALENTS))
def test_the_class_table_maps_only_classes_the_target_schema_lacks_to_classes_it_has(
    source_schema: str, target_schema: str
) -> None:
    def declared(schema: str, name: str) -> bool:
        try:
            ifcopenshell.ifcopenshell_wrapper.schema_by_name(FAMILY_SCHEMAS[schema]).declaration_by_name(name)
        except RuntimeError:
            return False
        return True

    table = SCHEMA_CLASS_EQUIVALENTS[source_schema, target_schema]

    assert [name for name in table if not declared(source_schema, name)] == []
    assert [name for name in table if declared(target_schema, name)] == []
    assert [name for name in table.values() if not declared(target_schema, name)] == []


def add_same_named_sets(path: Path, order: tuple[str, str]) -> Path:
    """Two property sets named 'Dimensions' on the wall (as Revit writes an element's and its type's)."""
    model = ifcopenshell.open(str(path))
    wall = model.by_guid(WALL_ID)
    values = {"Width": 0.2, "Length": 4.0}
    for name in order:
        value = model.createIfcPropertySingleValue(
            name, None, model.createIfcLengthMeasure(values[name]), None
        )
        pset = model.createIfcPropertySet(ifcopenshell.guid.new(), None, "Dimensions", None, [value])
        model.createIfcRelDefinesByProperties(ifcopenshell.guid.new(), None, None, None, [wall], pset)
    model.write(str(path))
    return path


def test_property_sets_of_the_same_name_are_compared_as_one_whatever_their_order(tmp_path: Path) -> None:
    source = add_same_named_sets(one_wall_file(tmp_path / "source.ifc"), ("Width", "Length"))
    exported = add_same_named_sets(one_wall_file(tmp_path / "exported.ifc"), ("Length", "Width"))

    assert compare(source, exported) == []


def test_a_property_lost_from_the_second_set_of_a_name_is_named_and_a_repeated_value_is_one(
    tmp_path: Path,
) -> None:
    source = add_same_named_sets(one_wall_file(tmp_path / "source.ifc"), ("Width", "Length"))
    exported = add_same_named_sets(one_wall_file(tmp_path / "exported.ifc"), ("Width", "Width"))

    assert compare(source, exported) == [Difference("property_sets", WALL_ID, "Dimensions.Length: missing")]
