"""Class mapping: built-in names, base classes, per-schema entities and mapping files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twinbridge.engines.ifc.entities import is_exportable_element, required_defaults
from twinbridge.engines.ifc.errors import MappingFileError
from twinbridge.engines.ifc.mapping import (
    ClassMapping,
    entity_meeting_rules,
    load_mapping_file,
    parse_mapping,
    read_mapping,
)

BUILT_IN = ClassMapping()


@pytest.mark.parametrize(
    ("class_name", "schema", "entity"),
    [
        ("ArchitecturalPhysical:Wall", "IFC4X3_ADD2", "IfcWall"),
        ("ArchitecturalPhysical:Door", "IFC2X3", "IfcDoor"),
        ("StructuralPhysical:Beam", "IFC4", "IfcBeam"),
        ("StructuralPhysical:Column", "IFC2X3", "IfcColumn"),
        ("ArchitecturalPhysical:Furniture", "IFC4", "IfcFurniture"),
        ("ArchitecturalPhysical:Furniture", "IFC2X3", "IfcFurnishingElement"),
        ("PlantPhysical:Pipe", "IFC4X3_ADD2", "IfcPipeSegment"),
        ("PlantPhysical:Pipe", "IFC2X3", "IfcFlowSegment"),
        ("Generic:PhysicalObject", "IFC4X3_ADD2", "IfcBuildingElementProxy"),
    ],
)
def test_built_in_names_map_per_schema(class_name: str, schema: str, entity: str) -> None:
    assert BUILT_IN.entity_for([class_name], schema) == entity


def test_every_built_in_entity_is_an_exportable_element_in_every_schema() -> None:
    from twinbridge.engines.ifc.mapping import BUILT_IN_CLASSES

    for class_name in BUILT_IN_CLASSES:
        for schema in ("IFC2X3", "IFC4", "IFC4X3_ADD2"):
            entity = BUILT_IN.entity_for([f"Domain:{class_name}"], schema)
            assert is_exportable_element(schema, entity), (class_name, schema, entity)


def test_a_subclass_inherits_the_mapping_of_its_nearest_base_class() -> None:
    chain = ["Acme:ExteriorWall", "ArchitecturalPhysical:Wall", "BisCore:PhysicalElement"]

    assert BUILT_IN.entity_for(chain, "IFC4") == "IfcWall"


def test_a_mapping_file_overrides_the_built_in_table() -> None:
    mapping = parse_mapping(
        {
            "classes": {
                "TwinbridgeTest:TestBeam": "IfcMember",
                "Wall": {"IFC2X3": "IfcWallStandardCase", "default": "IfcCurtainWall"},
            }
        }
    )

    assert mapping.entity_for(["TwinbridgeTest:TestBeam"], "IFC4") == "IfcMember"
    assert mapping.entity_for(["ArchitecturalPhysical:Wall"], "IFC2X3") == "IfcWallStandardCase"
    assert mapping.entity_for(["ArchitecturalPhysical:Wall"], "IFC4") == "IfcCurtainWall"
    assert mapping.entity_for(["ArchitecturalPhysical:Door"], "IFC4") == "IfcDoor"


def test_a_file_entry_for_a_base_class_beats_a_built_in_entry_for_the_class() -> None:
    mapping = parse_mapping({"classes": {"BisCore:PhysicalElement": "IfcMember"}})

    assert (
        mapping.entity_for(["ArchitecturalPhysical:Wall", "BisCore:PhysicalElement"], "IFC4") == "IfcMember"
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "top level must be a JSON object"),
        ({"classes": []}, '"classes" must be an object'),
        ({"classes": {}, "colours": {}}, "unknown top-level key"),
        ({"classes": {"A:B:C": "IfcWall"}}, "is not a class name"),
        ({"classes": {"Wall": 3}}, "must map to an IFC entity name"),
        ({"classes": {"Wall": "Wall"}}, "not an IFC entity name"),
        ({"classes": {"Wall": "IfcWobble"}}, "no IFC schema defines"),
        ({"classes": {"Wall": {"IFC5": "IfcWall"}}}, "unknown schema key"),
        ({"classes": {}, "version": 2}, "unsupported version"),
    ],
)
def test_invalid_mapping_documents_are_rejected_with_the_reason(document: object, message: str) -> None:
    with pytest.raises(MappingFileError, match=message):
        parse_mapping(document)


def test_check_rejects_entities_missing_from_the_target_schema() -> None:
    mapping = parse_mapping({"classes": {"Chair": "IfcFurniture"}})

    mapping.check("IFC4")
    with pytest.raises(MappingFileError, match=r'"Chair" maps to IfcFurniture.*IFC2X3'):
        mapping.check("IFC2X3")


def test_check_rejects_entities_that_are_not_elements() -> None:
    with pytest.raises(MappingFileError, match="IfcSpace"):
        parse_mapping({"classes": {"Room": "IfcSpace"}}).check("IFC4")


def test_mapping_files_that_are_not_json_give_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "mapping.json"
    broken.write_text("{not json")

    with pytest.raises(MappingFileError, match="not valid JSON"):
        load_mapping_file(broken)
    with pytest.raises(MappingFileError, match="cannot read"):
        load_mapping_file(tmp_path / "missing.json")


def test_a_mapping_file_is_loaded_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"version": 1, "classes": {"Generic:PhysicalObject": "IfcPlate"}}))

    assert load_mapping_file(path).entity_for(["Generic:PhysicalObject"], "IFC4X3_ADD2") == "IfcPlate"


def test_mandatory_enumerations_are_filled_with_notdefined() -> None:
    assert required_defaults("IFC2X3", "IfcStair") == {"ShapeType": "NOTDEFINED"}
    assert required_defaults("IFC4", "IfcWall") == {}
    assert required_defaults("IFC2X3", "IfcReinforcingBar") is None
    assert required_defaults("IFC4", "IfcElement") is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"classes": {"Wall": "IfcWall\xff"}}', "is not UTF-8 text (byte 29 "),
        (b"[" * 200_000 + b"]" * 200_000, "is nested more than 1024 levels deep"),
        (b"{not json", "is not valid JSON"),
        (b"[]", "the top level must be a JSON object"),
    ],
)
def test_mapping_content_that_cannot_be_read_is_a_mapping_file_error_naming_the_given_source(
    content: bytes, reason: str
) -> None:
    with pytest.raises(MappingFileError) as raised:
        read_mapping(content, "mapping file 'classes.json'")
    assert str(raised.value).startswith("mapping file 'classes.json'")
    assert reason in str(raised.value)


def test_a_byte_order_mark_is_accepted() -> None:
    mapping = read_mapping(b'\xef\xbb\xbf{"classes": {"Chair": "IfcFurniture"}}', "mapping file")
    assert mapping.entity_for(["Generic:Chair"], "IFC4") == "IfcFurniture"


@pytest.mark.parametrize(
    ("entity", "schema", "written"),
    [
        ("IfcWallStandardCase", "IFC2X3", "IfcWall"),
        ("IfcWallStandardCase", "IFC4X3_ADD2", "IfcWall"),
        ("IfcWallElementedCase", "IFC4", "IfcWall"),
        ("IfcSlabStandardCase", "IFC4", "IfcSlab"),
        ("IfcBeamStandardCase", "IFC4", "IfcBeam"),
        ("IfcOpeningStandardCase", "IFC4", "IfcOpeningElement"),
        ("IfcWall", "IFC4", "IfcWall"),
        ("IfcBuildingElementProxy", "IFC2X3", "IfcBuildingElementProxy"),
    ],
)
def test_standard_and_elemented_cases_are_written_as_their_supertype(
    entity: str, schema: str, written: str
) -> None:
    assert entity_meeting_rules(entity, schema) == written
