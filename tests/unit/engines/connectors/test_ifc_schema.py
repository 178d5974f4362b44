"""The dynamic schema: EC names, property types and the XML that the engine imports."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from twinbridge.engines.connectors.ifc_schema import (
    DynamicSchema,
    convert,
    ec_type_of,
    encode_ec_name,
    merge_types,
    property_name,
)
from twinbridge.engines.ifc.properties import decode_ec_name


@pytest.mark.parametrize(
    "text", ["Pset_WallCommon.IsExternal", "Identity Data.Assembly Code", "3D.Größe (m²)", "a:b/c"]
)
def test_encoded_names_are_ec_identifiers_that_the_exporter_decodes_back(text: str) -> None:
    name = encode_ec_name(text)
    assert name.replace("_", "a").isalnum()
    assert not name[0].isdigit()
    assert decode_ec_name(name) == text


def test_a_pset_property_name_joins_set_and_property_with_a_dot() -> None:
    assert property_name("Pset_WallCommon", "LoadBearing") == "Pset_WallCommon__x002E__LoadBearing"


def test_value_types_merge_to_double_for_numbers_and_to_string_otherwise() -> None:
    assert [ec_type_of(value) for value in (True, 3, 2.5, "x", 2**40)] == [
        "boolean",
        "int",
        "double",
        "string",
        "double",
    ]
    assert merge_types("int", "double") == "double"
    assert merge_types("boolean", "int") == "string"
    assert merge_types("string", "string") == "string"


def test_values_are_converted_to_the_type_a_property_already_has() -> None:
    assert convert(True, "string") == "true"
    assert convert(3, "double") == 3.0
    assert convert(3.0, "int") == 3
    assert convert(3.5, "int") is None
    assert convert("yes", "boolean") is None
    assert convert(1, "boolean") is None


def test_an_existing_property_keeps_its_type_and_spelling_whatever_the_letter_case() -> None:
    schema = DynamicSchema.from_rows(
        4,
        [
            {"className": "IfcWall"},
            {"className": "IfcWall", "propertyName": "Pset__x002E__Width", "primitiveType": 1025},
        ],
    )
    assert schema.property_for("IfcWall", "pset__x002E__width", "string") == ("Pset__x002E__Width", "double")
    assert not schema.changed
    assert schema.property_for("IfcWall", "Pset__x002E__Height", "int") == ("Pset__x002E__Height", "int")
    assert schema.changed


def test_the_schema_xml_declares_every_class_under_the_abstract_product_class() -> None:
    schema = DynamicSchema(version_minor=2)
    schema.property_for("IfcWall", property_name("Pset_WallCommon", "IsExternal"), "boolean")
    schema.add_class("IfcWindow")
    root = ElementTree.fromstring(schema.to_xml())
    namespace = "{http://www.bentley.com/schemas/Bentley.ECXML.3.2}"
    assert root.get("version") == "01.00.02"
    classes = {element.get("typeName"): element for element in root.iter(f"{namespace}ECEntityClass")}
    assert set(classes) == {"IfcProduct", "IfcWall", "IfcWindow"}
    assert classes["IfcProduct"].get("modifier") == "Abstract"
    wall = classes["IfcWall"]
    assert wall.findtext(f"{namespace}BaseClass") == "IfcProduct"
    (prop,) = wall.iter(f"{namespace}ECProperty")
    assert prop.get("typeName") == "boolean"
    assert prop.get("displayLabel") == "Pset_WallCommon.IsExternal"
