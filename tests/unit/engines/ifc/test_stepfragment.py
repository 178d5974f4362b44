"""Entities written as STEP text to a fragment read back in IfcOpenShell exactly as written."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import pytest

from twinbridge.engines.ifc.properties import PropertyWriter
from twinbridge.engines.ifc.stepfragment import StepEntityFactory, StepFragment, step_string


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("Steel", "'Steel'"),
        ("O'Neil", "'O''Neil'"),
        ("a\\b", "'a\\\\b'"),
        ("Stütze", "'St\\X2\\00FC\\X0\\tze'"),
        ("line\nbreak", "'line\\X2\\000A\\X0\\break'"),
    ],
)
def test_strings_are_escaped_as_step_wants(text: str, literal: str) -> None:
    assert step_string(text) == literal


def round_trip(tmp_path: Path, schema: str, texts: list[str]) -> ifcopenshell.file:
    """A proxy (IfcOpenShell's part) with a property set (written after it) holding one label per text."""
    file = ifcopenshell.file(schema=schema)
    owner = None
    if schema == "IFC2X3":
        owner = file.create_entity("IfcOwnerHistory", ChangeAction="NOCHANGE", CreationDate=0)
    proxy = file.create_entity(
        "IfcBuildingElementProxy", GlobalId=ifcopenshell.guid.new(), OwnerHistory=owner
    )
    file.write(str(tmp_path / "part.ifc"))
    fragment = StepFragment(tmp_path / "merged.ifc", file.get_max_id() + 1, tmp_path / "part.ifc")
    create = StepEntityFactory(fragment, schema)
    writer = PropertyWriter(create, schema)
    properties = [writer.text(f"P{index}", text) for index, text in enumerate(texts)]
    properties.append(writer.single("Length", "IfcLengthMeasure", 2.5))
    properties.append(writer.single("Count", "IfcInteger", 3))
    properties.append(writer.single("Flag", "IfcBoolean", True))
    properties.append(writer.list_value("Point", "IfcReal", [1.0, 2e-06]))
    pset = create(
        "IfcPropertySet",
        GlobalId=ifcopenshell.guid.new(),
        OwnerHistory=owner,
        Name="Set",
        HasProperties=properties,
    )
    create(
        "IfcRelDefinesByProperties",
        GlobalId=ifcopenshell.guid.new(),
        OwnerHistory=owner,
        RelatedObjects=[proxy],
        RelatingPropertyDefinition=pset,
    )
    fragment.finish()
    return ifcopenshell.open(str(tmp_path / "merged.ifc"))


@pytest.mark.parametrize("schema", ["IFC2X3", "IFC4", "IFC4X3_ADD2"])
def test_property_sets_written_as_text_read_back_with_their_values(tmp_path: Path, schema: str) -> None:
    texts = ["plain", "O'Neil \\ backslash", "Stütze 空間 😀", "x" * 300]

    file = round_trip(tmp_path, schema, texts)

    (proxy,) = file.by_type("IfcBuildingElementProxy")
    (relation,) = proxy.IsDefinedBy
    values = {
        prop.Name: prop.NominalValue if prop.is_a("IfcPropertySingleValue") else prop.ListValues
        for prop in relation.RelatingPropertyDefinition.HasProperties
    }
    assert [values[f"P{index}"].wrappedValue for index in range(len(texts))] == texts
    assert values["P3"].is_a("IfcText")
    assert (values["Length"].is_a(), values["Length"].wrappedValue) == ("IfcLengthMeasure", 2.5)
    assert (values["Count"].is_a(), values["Count"].wrappedValue) == ("IfcInteger", 3)
    assert values["Flag"].wrappedValue is True
    assert [value.wrappedValue for value in values["Point"]] == [1.0, 2e-06]
