"""Record values (engines/connectors/ifc_records.py): IFC values as JSON, measures converted to SI."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import ifcopenshell.guid
import pytest

from tests.conftest import SAMPLE_IFC
from twinbridge.engines.connectors.ifc_records import InverseIndex, RecordBuilder
from twinbridge.engines.ifc.records import UnitScales

MILLIMETRES = UnitScales(length=0.001, area=1e-06, volume=1e-09, plane_angle=0.017453292519943295)


def test_typed_values_of_length_measures_are_converted_and_keep_their_type() -> None:
    model = ifcopenshell.file(schema="IFC4")
    builder = RecordBuilder(model, MILLIMETRES)
    assert builder.value(model.createIfcLengthMeasure(1500.0)) == {"type": "IfcLengthMeasure", "value": 1.5}
    assert builder.value(model.createIfcPlaneAngleMeasure(90.0))["value"] == 1.5707963267948966
    assert builder.value(model.createIfcLabel("x")) == {"type": "IfcLabel", "value": "x"}
    assert builder.value(model.createIfcCountMeasure(3)) == {"type": "IfcCountMeasure", "value": 3}


def test_entity_attributes_declared_as_measures_are_converted_and_unset_ones_left_out() -> None:
    model = ifcopenshell.file(schema="IFC4")
    material = model.createIfcMaterial("Concrete")
    layer = model.createIfcMaterialLayer(material, 200.0, None)
    layer_set = model.createIfcMaterialLayerSet([layer], "Wall 200", None)
    assert RecordBuilder(model, MILLIMETRES).value(layer_set) == {
        "type": "IfcMaterialLayerSet",
        "attributes": {
            "MaterialLayers": [
                {
                    "type": "IfcMaterialLayer",
                    "attributes": {
                        "Material": {"type": "IfcMaterial", "attributes": {"Name": "Concrete"}},
                        "LayerThickness": 0.2,
                    },
                }
            ],
            "LayerSetName": "Wall 200",
        },
    }


def test_an_ifc_root_inside_a_value_is_its_global_id() -> None:
    model = ifcopenshell.file(schema="IFC4")
    wall_type = model.createIfcWallType(ifcopenshell.guid.new(), None, "T")
    assert RecordBuilder(model).value(wall_type) == wall_type.GlobalId


def test_a_value_without_json_form_is_null_with_a_value_left_out_issue_naming_the_product() -> None:
    builder = RecordBuilder(ifcopenshell.file(schema="IFC4"))
    assert builder.value(float("nan"), owner="2O2Fr$t4X7Zf8NOew3FLOH", where="Pset.Width") is None
    assert [(issue.code, issue.global_id) for issue in builder.issues] == [
        ("ValueLeftOut", "2O2Fr$t4X7Zf8NOew3FLOH")
    ]
    assert "Pset.Width" in builder.issues[0].message


def test_the_map_conversion_property_sets_of_an_ifc2x3_site_are_its_georeference() -> None:
    model = ifcopenshell.open(str(SAMPLE_IFC / "test.ifc"))
    (site,) = model.by_type("IfcSite")
    owner = site.OwnerHistory
    eastings = model.createIfcPropertySingleValue(
        "Eastings", None, model.createIfcLengthMeasure(2500.0), None
    )
    crs_name = model.createIfcPropertySingleValue("Name", None, model.createIfcLabel("EPSG:25832"), None)
    conversion = model.createIfcPropertySet(
        ifcopenshell.guid.new(), owner, "ePSet_MapConversion", None, [eastings]
    )
    crs = model.createIfcPropertySet(ifcopenshell.guid.new(), owner, "ePSet_ProjectedCRS", None, [crs_name])
    model.createIfcRelDefinesByProperties(ifcopenshell.guid.new(), owner, None, None, [site], conversion)
    model.createIfcRelDefinesByProperties(ifcopenshell.guid.new(), owner, None, None, [site], crs)
    georeference = RecordBuilder(model, MILLIMETRES).file("IFC2X3")["georeference"]
    assert georeference["mapConversion"]["globalId"] == conversion.GlobalId
    (stored,) = georeference["mapConversion"]["attributes"]["HasProperties"]
    assert stored["attributes"]["NominalValue"] == {"type": "IfcLengthMeasure", "value": 2.5}
    assert georeference["projectedCRS"]["attributes"]["Name"] == "ePSet_ProjectedCRS"


def test_a_file_without_georeferencing_has_none() -> None:
    model = ifcopenshell.open(str(SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc"))
    assert RecordBuilder(model).file("IFC4")["georeference"] is None


@pytest.mark.parametrize("path", sorted(SAMPLE_IFC.glob("*.ifc")), ids=lambda path: path.stem)
def test_the_inverse_index_gives_each_inverse_attribute_as_ifcopenshell_does(path: Path) -> None:
    model = ifcopenshell.open(str(path))
    index = InverseIndex(model)
    compared = 0
    for entity in model.by_type("IfcObjectDefinition"):
        found = index.of(entity)
        declaration = index.schema.declaration_by_name(entity.is_a())
        for inverse in declaration.as_entity().all_inverse_attributes():
            name = inverse.name()
            expected = [relationship.id() for relationship in getattr(entity, name) or ()]
            assert [relationship.id() for relationship in found.get(name, [])] == expected, (entity, name)
            compared += len(expected)
    assert compared > 0
