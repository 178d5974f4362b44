"""IFC record values made into entities of a target schema (restore.py); recorded.py's class choices."""

from __future__ import annotations

import ifcopenshell
import numpy as np
import pytest

from twinbridge.engines.ifc.factory import EntityFactory
from twinbridge.engines.ifc.placement import element_matrix, placement_matrix, relative_axes
from twinbridge.engines.ifc.recorded import common_units, product_entity, spatial_entity
from twinbridge.engines.ifc.records import UnitScales
from twinbridge.engines.ifc.restore import RecordRestorer

MILLIMETRES = UnitScales(length=0.001)
LAYER_SET_USAGE = {
    "type": "IfcMaterialLayerSetUsage",
    "attributes": {
        "ForLayerSet": {
            "type": "IfcMaterialLayerSet",
            "attributes": {
                "MaterialLayers": [
                    {
                        "type": "IfcMaterialLayer",
                        "attributes": {
                            "Material": {"type": "IfcMaterial", "attributes": {"Name": "Brick"}},
                            "LayerThickness": 0.1,
                        },
                    }
                ]
            },
        },
        "LayerSetDirection": "AXIS2",
        "DirectionSense": "POSITIVE",
        "OffsetFromReferenceLine": 0,
    },
}


def restorer(schema: str, scales: UnitScales = MILLIMETRES) -> tuple[ifcopenshell.file, RecordRestorer]:
    model = ifcopenshell.file(schema=schema)
    return model, RecordRestorer(EntityFactory(model), schema, scales)


def test_measures_come_back_from_si_in_the_files_units_once() -> None:
    _, restore = restorer("IFC4")

    usage = restore.entity(LAYER_SET_USAGE, "0x1")

    assert usage.ForLayerSet.MaterialLayers[0].LayerThickness == pytest.approx(100.0)
    assert usage.OffsetFromReferenceLine == 0.0  # an integer JSON number into a REAL attribute
    value = restore.typed({"type": "IfcPositiveLengthMeasure", "value": 0.25}, "0x1", "Width")
    assert (value.is_a(), value.wrappedValue) == ("IfcPositiveLengthMeasure", pytest.approx(250.0))


def test_attributes_and_values_the_target_schema_lacks_are_left_out_and_named() -> None:
    _, restore = restorer("IFC2X3")

    attributes = restore.attributes(
        "IfcWall", {"Name": "W", "PredefinedType": "STANDARD", "GlobalId": "x", "Tag": "7"}, "0x2a"
    )

    assert attributes == {"Name": "W", "Tag": "7"}
    assert restore.problems == ["0x2a: IfcWall.PredefinedType is not in IFC2X3; left out"]


def test_an_enumeration_value_the_schema_lacks_becomes_notdefined_and_is_named() -> None:
    _, restore = restorer("IFC4")

    attributes = restore.attributes("IfcBeam", {"PredefinedType": "GIRDER_SEGMENT"}, "0x3")

    assert attributes == {"PredefinedType": "NOTDEFINED"}
    assert restore.problems == [
        "0x3: IfcBeam.PredefinedType = GIRDER_SEGMENT is not a value of IfcBeamTypeEnum in IFC4"
    ]


def test_an_ifc2x3_layer_of_no_thickness_is_left_out_and_its_set_with_it() -> None:
    _, restore = restorer("IFC2X3", UnitScales())
    usage = {**LAYER_SET_USAGE}
    layer_set = usage["attributes"]["ForLayerSet"]  # type: ignore[index]
    layer_set["attributes"]["MaterialLayers"][0]["attributes"]["LayerThickness"] = 0.0

    assert restore.entity(usage, "0x4") is None
    assert (
        "0x4: IfcMaterialLayer.LayerThickness = 0.0 is not positive, as IfcPositiveLengthMeasure must be; "
        "left out" in restore.problems
    )


def test_an_ifc4_classification_hierarchy_keeps_its_top_classification_as_ifc2x3s_source() -> None:
    _, restore = restorer("IFC2X3")
    top = {
        "type": "IfcClassification",
        "attributes": {"Name": "Uniclass", "Source": "NBS", "Edition": "2015"},
    }
    middle = {"type": "IfcClassificationReference", "attributes": {"Name": "Walls", "ReferencedSource": top}}
    leaf = {
        "type": "IfcClassificationReference",
        "attributes": {"Identification": "Ss_25", "Name": "Wall systems", "ReferencedSource": middle},
    }

    reference = restore.entity(leaf, "0x5")

    assert (reference.ItemReference, reference.ReferencedSource.Name) == ("Ss_25", "Uniclass")


def test_identical_nested_entities_are_shared_but_material_layers_never_are() -> None:
    model, restore = restorer("IFC4")
    material = {"type": "IfcMaterial", "attributes": {"Name": "Brick"}}
    layer = {"type": "IfcMaterialLayer", "attributes": {"Material": material, "LayerThickness": 0.1}}

    first = restore.entity(
        {"type": "IfcMaterialLayerSet", "attributes": {"MaterialLayers": [layer], "LayerSetName": "A"}}, "0x6"
    )
    second = restore.entity(
        {"type": "IfcMaterialLayerSet", "attributes": {"MaterialLayers": [layer], "LayerSetName": "B"}}, "0x7"
    )

    assert first.MaterialLayers[0] != second.MaterialLayers[0]
    assert first.MaterialLayers[0].Material == second.MaterialLayers[0].Material
    assert len(model.by_type("IfcMaterial")) == 1


@pytest.mark.parametrize(
    ("schema", "recorded", "written"),
    [
        ("IFC4X3_ADD2", "IfcBridge", "IfcBridge"),
        ("IFC4", "IfcBridge", "IfcBuilding"),
        ("IFC2X3", "IfcRoad", "IfcBuilding"),
        ("IFC4", "IfcBridgePart", "IfcBuildingStorey"),
        ("IFC2X3", "IfcSpace", "IfcSpace"),
        ("IFC2X3", "IfcSpatialZone", "IfcSpace"),
    ],
)
def test_spatial_classes_a_schema_lacks_become_its_nearest_spatial_structure_element(
    schema: str, recorded: str, written: str
) -> None:
    assert spatial_entity(schema, recorded) == written


@pytest.mark.parametrize(
    ("schema", "recorded", "material", "written"),
    [
        ("IFC4", "IfcWallStandardCase", LAYER_SET_USAGE, "IfcWallStandardCase"),
        ("IFC2X3", "IfcWallStandardCase", LAYER_SET_USAGE, "IfcWallStandardCase"),
        ("IFC4", "IfcWallStandardCase", None, "IfcWall"),
        ("IFC4", "IfcBeamStandardCase", LAYER_SET_USAGE, "IfcBeam"),
        ("IFC4X3_ADD2", "IfcAlignment", None, "IfcAlignment"),
        ("IFC4", "IfcAlignment", None, "IfcBuildingElementProxy"),
        ("IFC2X3", "IfcGrid", None, "IfcGrid"),
        ("IFC2X3", "IfcPipeSegment", None, "IfcFlowSegment"),
    ],
)
def test_recorded_products_get_the_nearest_class_the_schema_can_hold_validly(
    schema: str, recorded: str, material: object, written: str
) -> None:
    assert product_entity(schema, recorded, material) == written


def test_files_with_one_unit_assignment_give_it_and_files_with_two_give_si() -> None:
    millimetres = {"type": "IfcUnitAssignment", "attributes": {"Units": ["mm"]}}
    metres = {"type": "IfcUnitAssignment", "attributes": {"Units": ["m"]}}
    scales = {"length": 0.001}

    assert common_units([{"units": millimetres, "unitScales": scales}] * 2) == (millimetres, MILLIMETRES)
    assert common_units([{"units": millimetres, "unitScales": scales}, {"units": metres}]) == (
        None,
        UnitScales(),
    )


def test_an_element_is_placed_relative_to_its_container_in_the_files_length_unit() -> None:
    storey = placement_matrix([10.0, 0.0, 3.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    element = element_matrix((10.0, 2.0, 3.0), 90.0, 0.0, 0.0)

    location, directions = relative_axes(storey, element, 0.001)

    assert location == pytest.approx((2000.0, 0.0, 0.0))
    assert directions is None  # both turned by 90 degrees about Z
    assert np.allclose(storey @ placement_matrix(np.array(location) * 0.001), element)


def test_an_ifc4_constituent_set_is_an_ifc2x3_material_list_of_its_materials_and_named() -> None:
    _, restore = restorer("IFC2X3")
    glass = {"type": "IfcMaterial", "attributes": {"Name": "Glass"}}
    frame = {"type": "IfcMaterial", "attributes": {"Name": "Wood"}}
    constituents = [
        {"type": "IfcMaterialConstituent", "attributes": {"Name": "Pane", "Material": glass}},
        {"type": "IfcMaterialConstituent", "attributes": {"Name": "Frame", "Material": frame}},
        {"type": "IfcMaterialConstituent", "attributes": {"Name": "Sash", "Material": frame}},
    ]

    written = restore.entity(
        {"type": "IfcMaterialConstituentSet", "attributes": {"MaterialConstituents": constituents}}, "0x8"
    )

    assert (written.is_a(), [material.Name for material in written.Materials]) == (
        "IfcMaterialList",
        ["Glass", "Wood"],
    )
    assert restore.problems == ["0x8: IfcMaterialConstituentSet written as IfcMaterialList of its materials"]
