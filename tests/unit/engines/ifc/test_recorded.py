from __future__ import annotations

from typing import Any

from twinbridge.engines.ifc.recorded import _merged_by_name


def _set(global_id: str | None, name: str, *properties: str, kind: str = "IfcPropertySet") -> dict[str, Any]:
    members = "HasProperties" if kind == "IfcPropertySet" else "Quantities"
    return {
        "globalId": global_id,
        "type": kind,
        "attributes": {
            "Name": name,
            members: [{"type": "IfcPropertySingleValue", "attributes": {"Name": p}} for p in properties],
        },
    }


def _names(record: dict[str, Any], members: str = "HasProperties") -> list[str]:
    return [member["attributes"]["Name"] for member in record["attributes"][members]]


def test_sets_of_one_name_become_one_set_with_the_properties_of_both_and_are_named() -> None:
    element_set = _set("0a", "Dimensions", "Width", "Height")
    type_set = _set("0b", "Dimensions", "Height", "Length")
    notes: list[str] = []

    wall_common = _set("0c", "Pset_WallCommon", "IsExternal")

    merged = _merged_by_name([element_set, type_set, wall_common], notes.append)

    assert [record["attributes"]["Name"] for record in merged] == ["Dimensions", "Pset_WallCommon"]
    assert _names(merged[0]) == ["Width", "Height", "Length"]
    assert merged[0]["globalId"] is None  # a merged set is a set of its own
    assert merged[1]["globalId"] == "0c"
    assert notes == [
        "the property sets named Dimensions are merged into one, which has a GlobalId of its own"
    ]


def test_a_merge_leaves_the_recorded_sets_as_they_were() -> None:
    element_set = _set("0a", "Dimensions", "Width")
    _merged_by_name([element_set, _set("0b", "Dimensions", "Length")], lambda note: None)

    assert element_set["globalId"] == "0a"
    assert _names(element_set) == ["Width"]


def test_sets_of_one_name_but_another_kind_are_not_merged() -> None:
    properties = _set("0a", "Dimensions", "Width")
    quantities = _set("0b", "Dimensions", "Length", kind="IfcElementQuantity")
    notes: list[str] = []

    merged = _merged_by_name([properties, quantities], notes.append)

    assert merged == [properties, quantities]
    assert notes == []


def test_a_property_of_both_sets_with_another_value_keeps_the_first_and_is_named() -> None:
    first = _set("0a", "Other", "Category")
    second = _set("0b", "Other", "Category")
    category = second["attributes"]["HasProperties"][0]["attributes"]
    category["NominalValue"] = {"type": "IfcLabel", "value": "x"}
    notes: list[str] = []

    [merged] = _merged_by_name([first, second], notes.append)

    assert merged["attributes"]["HasProperties"] == first["attributes"]["HasProperties"]
    assert notes[1] == "Other.Category: a second value in another set of the name; left out"
