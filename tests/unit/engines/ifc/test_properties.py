"""EC values become IFC property values of the matching type."""

from __future__ import annotations

import ifcopenshell
import pytest

from twinbridge.engines.ifc.factory import EntityFactory
from twinbridge.engines.ifc.properties import (
    BINARY,
    BOOLEAN,
    DATE_TIME,
    DOUBLE,
    INTEGER,
    LONG,
    NAVIGATION,
    POINT3D,
    PRIMITIVE,
    PRIMITIVE_ARRAY,
    STRING,
    STRUCT,
    PropertyDefinition,
    PropertyWriter,
    decode_ec_name,
)


@pytest.fixture
def writer() -> PropertyWriter:
    return PropertyWriter(EntityFactory(ifcopenshell.file(schema="IFC4")), "IFC4")


def value_of(writer: PropertyWriter, definition: PropertyDefinition, value: object) -> tuple[str, object]:
    converted = writer.convert(definition, value)
    assert converted is not None
    nominal = converted.NominalValue
    return nominal.is_a(), nominal.wrappedValue


@pytest.mark.parametrize(
    ("primitive_type", "value", "expected"),
    [
        (BOOLEAN, True, ("IfcBoolean", True)),
        (INTEGER, 42, ("IfcInteger", 42)),
        (LONG, 1_000_000_000_001, ("IfcInteger", 1_000_000_000_001)),
        (DOUBLE, 2.5, ("IfcReal", 2.5)),
        (STRING, "Steel", ("IfcLabel", "Steel")),
        (DATE_TIME, "2020-01-02T00:00:00.000", ("IfcDateTime", "2020-01-02T00:00:00.000")),
    ],
)
def test_primitive_values_get_their_ifc_type(
    writer: PropertyWriter, primitive_type: int, value: object, expected: tuple[str, object]
) -> None:
    assert value_of(writer, PropertyDefinition("P", PRIMITIVE, primitive_type), value) == expected


def test_doubles_with_a_length_quantity_are_length_measures(writer: PropertyWriter) -> None:
    definition = PropertyDefinition("Span", PRIMITIVE, DOUBLE, measure="IfcLengthMeasure")

    assert value_of(writer, definition, 3.0) == ("IfcLengthMeasure", 3.0)


def test_long_strings_are_text(writer: PropertyWriter) -> None:
    assert value_of(writer, PropertyDefinition("Notes", PRIMITIVE, STRING), "x" * 300)[0] == "IfcText"


def test_enumerations_show_the_enumerator_label(writer: PropertyWriter) -> None:
    definition = PropertyDefinition("Status", PRIMITIVE, INTEGER, enumerators={0: "Planned", 1: "Built"})

    assert value_of(writer, definition, 1) == ("IfcLabel", "Built")
    assert value_of(writer, definition, 7) == ("IfcLabel", "7")


def test_points_become_list_values(writer: PropertyWriter) -> None:
    converted = writer.convert(PropertyDefinition("Anchor", PRIMITIVE, POINT3D), {"x": 1, "y": 2, "z": 0.5})

    assert converted is not None
    assert converted.is_a("IfcPropertyListValue")
    assert [value.wrappedValue for value in converted.ListValues] == [1.0, 2.0, 0.5]


def test_primitive_arrays_become_list_values(writer: PropertyWriter) -> None:
    converted = writer.convert(PropertyDefinition("Sizes", PRIMITIVE_ARRAY, INTEGER), [1, 2, 3])

    assert converted is not None
    assert [value.wrappedValue for value in converted.ListValues] == [1, 2, 3]


def test_navigation_properties_give_the_target_id(writer: PropertyWriter) -> None:
    definition = PropertyDefinition("TypeDefinition", NAVIGATION, None)

    assert value_of(writer, definition, {"id": "0x2a", "relClassName": "X.Y"}) == ("IfcIdentifier", "0x2a")


def test_structs_are_json_text(writer: PropertyWriter) -> None:
    assert value_of(writer, PropertyDefinition("S", STRUCT, None), {"b": 1, "a": 2}) == (
        "IfcLabel",
        '{"a":2,"b":1}',
    )


def test_missing_values_and_binary_properties_are_left_out(writer: PropertyWriter) -> None:
    assert writer.convert(PropertyDefinition("P", PRIMITIVE, STRING), None) is None
    assert writer.convert(PropertyDefinition("Blob", PRIMITIVE, BINARY), {"$base64": "AA=="}) is None


def test_date_times_are_labels_in_ifc2x3() -> None:
    writer = PropertyWriter(EntityFactory(ifcopenshell.file(schema="IFC2X3")), "IFC2X3")

    assert (
        value_of(writer, PropertyDefinition("D", PRIMITIVE, DATE_TIME), "2020-01-02T00:00:00.000")[0]
        == "IfcLabel"
    )


def test_identical_properties_are_shared(writer: PropertyWriter) -> None:
    assert writer.single("Material", "IfcLabel", "Steel") == writer.single("Material", "IfcLabel", "Steel")
    assert writer.single("Material", "IfcLabel", "Steel") != writer.single("Material", "IfcLabel", "Timber")


def test_escaped_ec_names_are_decoded() -> None:
    assert (
        decode_ec_name("DgnCustomItemTypes_Building__x0020__Blocks") == "DgnCustomItemTypes_Building Blocks"
    )
