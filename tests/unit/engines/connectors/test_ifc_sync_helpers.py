"""Identity, geometry and naming rules of the IFC connector that do not need the engine."""

from __future__ import annotations

import uuid
from pathlib import Path

import ifcopenshell.guid
import numpy as np
import pytest

from twinbridge.engines.connectors.ifc_reader import IfcProductRecord, IfcSource, MeshPart
from twinbridge.engines.connectors.ifc_sync import (
    _geometry_stream,
    _model_names,
    federation_guid,
    js_name,
    product_identifiers,
)
from twinbridge.engines.ifc.identity import element_global_id
from twinbridge.engines.ifc.mapping import ClassMapping

IMODEL_GUID = ifcopenshell.guid.expand(ifcopenshell.guid.new())


@pytest.mark.parametrize(
    "global_id", ["2idC0G3ezCdhA9WVjWemc$", "0000000000000000000000", "3zzzzzzzzzzzzzzzzzzzzz"]
)
def test_the_federation_guid_gives_the_exporter_the_same_global_id_back(global_id: str) -> None:
    guid = federation_guid(global_id)
    assert guid is not None
    assert element_global_id(guid, 0x20000000001, uuid.UUID(IMODEL_GUID)) == global_id


def test_a_malformed_global_id_has_no_federation_guid() -> None:
    assert federation_guid("not a guid") is None


def test_a_mesh_becomes_an_appearance_and_a_one_based_indexed_mesh_per_colour() -> None:
    red = MeshPart(
        (255, 0, 0), 0.0, np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([[0, 1, 2]])
    )
    glass = MeshPart(
        (0, 0, 255), 0.5, np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), np.array([[2, 1, 0]])
    )
    stream = _geometry_stream([red, glass])
    assert stream[1]["indexedMesh"]["point"] == [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert stream[0] == {"appearance": {"color": 0x0000FF}}
    assert stream[1]["indexedMesh"]["pointIndex"] == [1, 2, 3, 0]
    assert stream[2] == {"appearance": {"color": 0xFF0000, "transparency": 0.5}}
    assert stream[3]["indexedMesh"]["pointIndex"] == [3, 2, 1, 0]
    assert _geometry_stream([]) == []


def test_models_are_named_after_file_key_and_storey_and_duplicate_storey_names_get_their_global_id() -> None:
    def record(container: str, key: str) -> IfcProductRecord:
        return IfcProductRecord("g", "IfcWall", None, container, key, {}, {})

    source = IfcSource(
        Path("x.ifc"),
        "IFC4",
        [record("Level 1", "A"), record("Level 2", "B"), record("Level 2", "C"), record("", "")],
        [],
    )
    assert _model_names(source, "main") == {
        "": "main",
        "A": "main: Level 1",
        "B": "main: Level 2 (B)",
        "C": "main: Level 2 (C)",
    }


def test_without_global_ids_duplicate_storey_names_are_told_apart_by_their_order() -> None:
    def record(container: str, key: str) -> IfcProductRecord:
        return IfcProductRecord("g", "IfcWall", None, container, key, {}, {})

    source = IfcSource(Path("x.ifc"), "IFC4", [record("Level 2", "C"), record("Level 2", "B")], [])
    assert _model_names(source, "main", by_global_id=False) == {
        "": "main",
        "C": "main: Level 2 (1)",
        "B": "main: Level 2 (2)",
    }


def test_without_global_ids_a_product_is_identified_by_class_storey_tag_or_name_and_occurrence() -> None:
    def record(ifc_class: str, name: str | None, tag: str | None, global_id: str = "g") -> IfcProductRecord:
        attributes = {"Tag": tag} if tag else {}
        return IfcProductRecord(global_id, ifc_class, name, "Level 1", "L1", {}, attributes)

    records = [
        record("IfcDoor", "Door:80x210", "166070"),
        record("IfcDoor", "Door:80x210", "166071"),
        record("IfcWall", "Basic wall", None),
        record("IfcWall", "Basic wall", None, global_id="g"),  # the same GlobalId again
        record("IfcSlab", None, None),
    ]
    assert product_identifiers(records) == [
        "IfcDoor/Level 1/166070/1",
        "IfcDoor/Level 1/166071/1",
        "IfcWall/Level 1/Basic wall/1",
        "IfcWall/Level 1/Basic wall/2",
        "IfcSlab/Level 1//1",
    ]


def test_js_names_lower_the_first_letter_only() -> None:
    assert js_name("Pset_WallCommon__x002E__IsExternal") == "pset_WallCommon__x002E__IsExternal"
    assert js_name("GlobalId") == "globalId"


@pytest.mark.parametrize("schema", ["IFC2X3", "IFC4", "IFC4X3_ADD2"])
def test_without_a_mapping_file_each_synchronized_class_exports_as_its_ifc_entity(schema: str) -> None:
    mapping = ClassMapping()
    chain = ["IfcDynamic:IfcWindow", "IfcDynamic:IfcProduct", "BisCore:PhysicalElement"]
    assert mapping.entity_for(chain, schema) == "IfcWindow"
    assert mapping.entity_for(["IfcDynamic:IfcWallStandardCase"], schema) == "IfcWallStandardCase"


def test_a_mapping_file_entry_wins_over_the_synchronized_class() -> None:
    mapping = ClassMapping({"IfcDynamic:IfcWindow": {"default": "IfcDoor"}})
    assert mapping.entity_for(["IfcDynamic:IfcWindow"], "IFC4") == "IfcDoor"
