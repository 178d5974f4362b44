"""The IFC record the connector keeps in the iModel (docs/ifc-connector.md, "The IFC record"), read back
through the engine and compared with IfcOpenShell's reading of the source file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.guid
import ifcopenshell.util.element
import ifcopenshell.util.placement
import pytest

from tests.conftest import SAMPLE_IFC
from tests.integration.engines.connectors.conftest import SyncFunction
from twinbridge.engines.connectors import synchronize_ifc
from twinbridge.engines.connectors.ifc_reader import importable_products, meshed
from twinbridge.engines.connectors.ifc_records import PRODUCT_EXCLUDED, explicit_attributes, spatial_elements
from twinbridge.engines.connectors.ifc_schema import property_name
from twinbridge.engines.ifc.records import UnitScales
from twinbridge.engines.imodel import EnginePool

IFC_FILES = sorted(SAMPLE_IFC.glob("*.ifc"))
TEST_IFC = SAMPLE_IFC / "test.ifc"  # IFC2X3, metres
LARGE_OFFSET = SAMPLE_IFC / "large_offset.ifc"  # IFC4, millimetres
WALL_WITH_WINDOW = SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc"  # IFC4, millimetres, quantities
BRIDGE = SAMPLE_IFC / "pass-ifc105-pgsuper_materialproperties.ifc"  # IFC4X3, alignment, assemblies
ROAD = SAMPLE_IFC / "pass-cls000-classification_present.ifc"  # IFC4X3, feet, alignments only
GEOREFERENCED = SAMPLE_IFC / "pass-grf003-correct_building_with_georeferencing.ifc"  # IfcMapConversion


def element_records(pool: EnginePool, path: Path) -> dict[str, dict[str, Any]]:
    """GlobalId -> the element's IFC record, as the engine gives the JSON properties back."""
    with pool.open(path) as imodel:
        rows = imodel.query_all(
            "SELECT a.Identifier globalId, e.JsonProperties json FROM bis.ExternalSourceAspect a"
            " JOIN bis.Element e ON e.ECInstanceId = a.Element.Id WHERE a.Kind = 'IfcProduct'"
        )
    return {str(row["globalId"]): json.loads(row["json"])["ifc"] for row in rows}


def file_record(pool: EnginePool, path: Path, key: str = "main") -> dict[str, Any]:
    with pool.open(path) as imodel:
        (row,) = imodel.query_all(
            "SELECT JsonProperties json FROM bis.RepositoryLink WHERE CodeValue = ?", [key]
        )
    record: dict[str, Any] = json.loads(row["json"])["ifc"]
    return record


def own_property_sets(entity: Any) -> list[Any]:
    definitions = []
    for relationship in entity.IsDefinedBy or ():
        if relationship.is_a("IfcRelDefinesByProperties"):
            definition = relationship.RelatingPropertyDefinition
            definitions += list(definition) if isinstance(definition, tuple) else [definition]
    return definitions


def set_named(record: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in record["propertySets"] if item["attributes"]["Name"] == name)


def item_named(property_set: dict[str, Any], name: str) -> dict[str, Any]:
    items = property_set["attributes"].get("HasProperties") or property_set["attributes"]["Quantities"]
    return next(item for item in items if item["attributes"]["Name"] == name)


def global_id(entity: Any) -> str | None:
    return str(entity.GlobalId) if entity is not None else None


@pytest.mark.parametrize("source", IFC_FILES, ids=[path.stem for path in IFC_FILES])
def test_every_imported_product_has_a_record_of_its_class_attributes_relations_and_sets(
    source: Path, synced: SyncFunction, engine_pool: EnginePool
) -> None:
    output, _ = synced(source)
    model = ifcopenshell.open(str(source))
    records = element_records(engine_pool, output)
    whole_file = file_record(engine_pool, output)
    schema = str(model.schema_identifier)
    products = importable_products(model)
    assert set(records) == {product.GlobalId for product in products}
    for product in products:
        record = records[product.GlobalId]
        assert record["version"] == 1
        assert record["class"] == product.is_a()
        assert set(record["attributes"]) == {
            name for name, _, _ in explicit_attributes(schema, product.is_a()) if name not in PRODUCT_EXCLUDED
        }
        assert record["attributes"]["Name"] == product.Name
        assert record["container"] == global_id(ifcopenshell.util.element.get_container(product))
        whole = ifcopenshell.util.element.get_aggregate(product) or ifcopenshell.util.element.get_nest(
            product
        )
        assert record["decomposes"] == global_id(whole)
        type_object = ifcopenshell.util.element.get_type(product)
        assert record["type"] == global_id(type_object)
        if type_object is not None:
            assert record["type"] in whole_file["types"]
        assert [item["globalId"] for item in record["propertySets"]] == [
            definition.GlobalId for definition in own_property_sets(product)
        ]
        associations = product.HasAssociations or ()
        assert len(record["classifications"]) == sum(
            association.is_a("IfcRelAssociatesClassification") for association in associations
        )
        assert (record["material"] is not None) == any(
            association.is_a("IfcRelAssociatesMaterial") for association in associations
        )
    assert whole_file["schema"] == str(model.schema_identifier).upper()
    assert [item["globalId"] for item in whole_file["spatial"]] == [
        element.GlobalId for element in spatial_elements(model)
    ]
    assert set(whole_file["types"]) == {
        type_object.GlobalId for type_object in model.by_type("IfcTypeObject")
    }
    assert whole_file["unitScales"] == pytest.approx(UnitScales.of(model).to_json())
    assert whole_file["project"]["globalId"] == model.by_type("IfcProject")[0].GlobalId


def test_a_wall_keeps_pset_wall_common_with_its_ifc_types_its_type_and_its_layer_set(
    synced: SyncFunction, engine_pool: EnginePool
) -> None:
    output, _ = synced(TEST_IFC)
    model = ifcopenshell.open(str(TEST_IFC))
    records = element_records(engine_pool, output)
    whole_file = file_record(engine_pool, output)
    wall = model.by_type("IfcWallStandardCase")[0]
    record = records[wall.GlobalId]
    source_set = next(
        definition for definition in own_property_sets(wall) if definition.Name == "Pset_WallCommon"
    )
    source_value = next(item for item in source_set.HasProperties if item.Name == "IsExternal").NominalValue
    pset = set_named(record, "Pset_WallCommon")
    assert pset["globalId"] == source_set.GlobalId
    assert pset["type"] == "IfcPropertySet"
    assert item_named(pset, "IsExternal") == {
        "type": "IfcPropertySingleValue",
        "attributes": {
            "Name": "IsExternal",
            "NominalValue": {"type": "IfcBoolean", "value": source_value.wrappedValue},
        },
    }
    type_object = ifcopenshell.util.element.get_type(wall)
    assert whole_file["types"][record["type"]]["class"] == type_object.is_a()
    assert whole_file["types"][record["type"]]["attributes"]["Name"] == type_object.Name
    usage = ifcopenshell.util.element.get_material(wall, should_inherit=False)
    assert record["material"]["type"] == usage.is_a() == "IfcMaterialLayerSetUsage"
    layers = record["material"]["attributes"]["ForLayerSet"]["attributes"]["MaterialLayers"]
    assert [layer["attributes"]["LayerThickness"] for layer in layers] == pytest.approx(
        [layer.LayerThickness for layer in usage.ForLayerSet.MaterialLayers]
    )
    assert [layer["attributes"]["Material"]["attributes"]["Name"] for layer in layers] == [
        layer.Material.Name for layer in usage.ForLayerSet.MaterialLayers
    ]
    assert record["layers"], "the wall's representation is on a presentation layer"
    assert set(record["layers"]) <= set(whole_file["layers"])


def test_the_file_record_lists_the_storeys_with_their_names_and_elevations_in_metres(
    synced: SyncFunction, engine_pool: EnginePool
) -> None:
    for source in (TEST_IFC, LARGE_OFFSET):
        output, _ = synced(source)
        model = ifcopenshell.open(str(source))
        scale = UnitScales.of(model).length
        spatial = {item["globalId"]: item for item in file_record(engine_pool, output)["spatial"]}
        storeys = model.by_type("IfcBuildingStorey")
        assert storeys
        for storey in storeys:
            item = spatial[storey.GlobalId]
            assert item["class"] == "IfcBuildingStorey"
            assert item["attributes"]["Name"] == storey.Name
            assert item["attributes"]["Elevation"] == pytest.approx(storey.Elevation * scale)
            assert item["parent"] == ifcopenshell.util.element.get_aggregate(storey).GlobalId
            matrix = ifcopenshell.util.placement.get_local_placement(storey.ObjectPlacement)
            assert item["placement"]["location"] == pytest.approx(
                [matrix[row][3] * scale for row in range(3)]
            )
        order = [item["globalId"] for item in spatial.values()]
        for item in spatial.values():
            if item["parent"] in spatial:
                assert order.index(item["parent"]) < order.index(item["globalId"]), "parents come first"


def test_measures_of_a_millimetre_file_are_in_metres_in_records_and_in_ec_properties(
    synced: SyncFunction, engine_pool: EnginePool
) -> None:
    output, _ = synced(LARGE_OFFSET)
    model = ifcopenshell.open(str(LARGE_OFFSET))
    assert UnitScales.of(model).length == 0.001
    whole_file = file_record(engine_pool, output)
    assert whole_file["unitScales"]["length"] == 0.001
    length_unit = next(
        unit
        for unit in whole_file["units"]["attributes"]["Units"]
        if unit["attributes"]["UnitType"] == "LENGTHUNIT"
    )
    assert length_unit["attributes"]["Prefix"] == "MILLI", "the units are kept as the file has them"
    records = element_records(engine_pool, output)
    checked = 0
    for wall in model.by_type("IfcWall"):
        for definition in own_property_sets(wall):
            for item in getattr(definition, "HasProperties", None) or ():
                value = getattr(item, "NominalValue", None)
                if value is not None and value.is_a() == "IfcLengthMeasure":
                    stored = item_named(set_named(records[wall.GlobalId], definition.Name), item.Name)
                    assert stored["attributes"]["NominalValue"] == {
                        "type": "IfcLengthMeasure",
                        "value": pytest.approx(value.wrappedValue * 0.001),
                    }
                    checked += 1
    assert checked > 0
    wall = next(
        wall
        for wall in model.by_type("IfcWall")
        if ifcopenshell.util.element.get_psets(wall).get("Constraints")
    )
    height = ifcopenshell.util.element.get_psets(wall)["Constraints"]["Unconnected Height"]
    with engine_pool.open(output) as imodel:
        (row,) = imodel.query_all(
            f"SELECT [{property_name('Constraints', 'Unconnected Height')}] height"
            f" FROM IfcDynamic.{wall.is_a()} WHERE GlobalId = ?",
            [wall.GlobalId],
        )
    assert row["height"] == pytest.approx(height * 0.001)


def test_quantities_of_a_millimetre_file_are_in_metres(synced: SyncFunction, engine_pool: EnginePool) -> None:
    output, _ = synced(WALL_WITH_WINDOW)
    model = ifcopenshell.open(str(WALL_WITH_WINDOW))
    scales = UnitScales.of(model)
    records = element_records(engine_pool, output)
    (wall,) = model.by_type("IfcWall")
    quantities = next(
        definition for definition in own_property_sets(wall) if definition.is_a("IfcElementQuantity")
    )
    stored_set = set_named(records[wall.GlobalId], quantities.Name)
    assert stored_set["type"] == "IfcElementQuantity"
    assert stored_set["globalId"] == quantities.GlobalId
    for quantity in quantities.Quantities:
        attribute, factor = {
            "IfcQuantityLength": ("LengthValue", scales.length),
            "IfcQuantityArea": ("AreaValue", scales.area),
            "IfcQuantityVolume": ("VolumeValue", scales.volume),
        }[quantity.is_a()]
        stored = item_named(stored_set, quantity.Name)
        assert stored["type"] == quantity.is_a()
        assert stored["attributes"][attribute] == pytest.approx(getattr(quantity, attribute) * factor)
    length = next(quantity for quantity in quantities.Quantities if quantity.is_a("IfcQuantityLength"))
    with engine_pool.open(output) as imodel:
        (row,) = imodel.query_all(
            f"SELECT [{property_name(quantities.Name, length.Name)}] quantity FROM IfcDynamic.IfcWall"
            " WHERE GlobalId = ?",
            [wall.GlobalId],
        )
    assert length.LengthValue > 100, "the file's quantities are in millimetres"
    assert row["quantity"] == pytest.approx(length.LengthValue * 0.001)


def test_an_ifc4x3_bridge_keeps_its_alignment_assemblies_and_classifications(
    synced: SyncFunction, engine_pool: EnginePool
) -> None:
    output, report = synced(BRIDGE)
    model = ifcopenshell.open(str(BRIDGE))
    records = element_records(engine_pool, output)
    whole_file = file_record(engine_pool, output)
    for class_name in ("IfcAlignment", "IfcReferent", "IfcElementAssembly", "IfcAlignmentSegment"):
        assert {entity.GlobalId for entity in model.by_type(class_name)} <= set(records), class_name
    (alignment,) = model.by_type("IfcAlignment")
    classified = assembled = 0
    for referent in model.by_type("IfcReferent"):
        assert records[referent.GlobalId]["decomposes"] == alignment.GlobalId
    for assembly in model.by_type("IfcElementAssembly"):
        record = records[assembly.GlobalId]
        references = [
            association.RelatingClassification
            for association in assembly.HasAssociations
            if association.is_a("IfcRelAssociatesClassification")
        ]
        assert len(record["classifications"]) == len(references)
        for stored, reference in zip(record["classifications"], references, strict=True):
            assert stored["type"] == "IfcClassificationReference"
            assert stored["attributes"]["Identification"] == reference.Identification
            assert (
                stored["attributes"]["ReferencedSource"]["attributes"]["Name"]
                == reference.ReferencedSource.Name
            )
            classified += 1
        parts = [part for relationship in assembly.IsDecomposedBy for part in relationship.RelatedObjects]
        for part in parts:
            assert records[part.GlobalId]["decomposes"] == assembly.GlobalId
            assembled += 1
    assert classified == 5, "five girder assemblies are classified"
    assert assembled > 0
    segment = model.by_type("IfcAlignmentSegment")[0]
    parameters = records[segment.GlobalId]["attributes"]["DesignParameters"]
    assert parameters["type"] == segment.DesignParameters.is_a()
    assert parameters["attributes"]["SegmentLength"] == pytest.approx(segment.DesignParameters.SegmentLength)
    bridge = next(item for item in whole_file["spatial"] if item["class"] == "IfcBridge")
    assert bridge["classifications"][0]["attributes"]["Identification"] == "tpfBridge_Bridge"
    (classification,) = whole_file["project"]["classifications"]
    assert classification == {
        "type": "IfcClassification",
        "attributes": {
            "Source": "TPF Bridge",
            "Edition": "2",
            "EditionDate": "2024-08-13",
            "Name": "TPFBridge (USA)",
            "Specification": "https://identifier.buildingsmart.org/uri/aashto/tpfBridge/2",
        },
    }
    (material_properties,) = model.by_type("IfcMaterialProperties")
    (stored_properties,) = whole_file["materialProperties"]
    assert stored_properties["attributes"]["Name"] == material_properties.Name
    assert (
        stored_properties["attributes"]["Material"]["attributes"]["Name"] == material_properties.Material.Name
    )
    assert [item["attributes"]["Name"] for item in stored_properties["attributes"]["Properties"]] == [
        item.Name for item in material_properties.Properties
    ]
    skipped = {item.ifc_class for item in report.files[0].skipped}
    assert skipped == {"IfcSite", "IfcBridge", "IfcBridgePart"}, (
        "only the spatial structure is not an element"
    )
    curves = {issue.global_id for issue in report.files[0].issues if issue.code == "NoGeometry"}
    assert alignment.GlobalId in curves, "the alignment's curves are not carried, and that is said"


def test_a_road_of_alignments_in_feet_keeps_its_classifications_and_segment_lengths_in_metres(
    synced: SyncFunction, engine_pool: EnginePool
) -> None:
    output, report = synced(ROAD)
    model = ifcopenshell.open(str(ROAD))
    records = element_records(engine_pool, output)
    whole_file = file_record(engine_pool, output)
    assert report.inserted == len(importable_products(model)) > 0
    assert len([record for record in records.values() if record["class"] == "IfcAlignment"]) == 14
    (annotation,) = model.by_type("IfcAnnotation")
    (reference,) = records[annotation.GlobalId]["classifications"]
    assert reference["attributes"]["Name"] == "Basic"
    assert whole_file["project"]["classifications"][0]["attributes"]["Name"] == "Civil 3D"
    assert whole_file["unitScales"]["length"] == pytest.approx(0.3048)
    segment = next(
        segment for segment in model.by_type("IfcAlignmentSegment") if segment.DesignParameters.SegmentLength
    )
    stored = records[segment.GlobalId]["attributes"]["DesignParameters"]["attributes"]
    assert stored["SegmentLength"] == pytest.approx(segment.DesignParameters.SegmentLength * 0.3048)
    assert [item["class"] for item in whole_file["spatial"]] == [
        element.is_a() for element in spatial_elements(model)
    ]


@pytest.mark.skipif(not GEOREFERENCED.exists(), reason="the georeferenced sample is not in this checkout")
def test_the_map_conversion_and_projected_crs_are_in_the_file_record(
    synced: SyncFunction, engine_pool: EnginePool
) -> None:
    output, _ = synced(GEOREFERENCED)
    model = ifcopenshell.open(str(GEOREFERENCED))
    scale = UnitScales.of(model).length
    (conversion,) = model.by_type("IfcMapConversion")
    georeference = file_record(engine_pool, output)["georeference"]
    stored = georeference["mapConversion"]
    assert stored["type"] == conversion.is_a()
    assert "SourceCRS" not in stored["attributes"]
    assert "TargetCRS" not in stored["attributes"]
    assert stored["attributes"]["Eastings"] == pytest.approx(conversion.Eastings * scale)
    assert stored["attributes"]["Northings"] == pytest.approx(conversion.Northings * scale)
    assert georeference["projectedCRS"]["type"] == "IfcProjectedCRS"
    assert georeference["projectedCRS"]["attributes"]["Name"] == conversion.TargetCRS.Name


def test_a_changed_property_set_rewrites_only_its_element(
    synced: SyncFunction, engine_pool: EnginePool, tmp_path: Path
) -> None:
    """The record is part of the checksum: a set's new GlobalId alone updates the element that owns it."""
    base, _ = synced(WALL_WITH_WINDOW)
    model = ifcopenshell.open(str(WALL_WITH_WINDOW))
    (wall,) = model.by_type("IfcWall")
    definition = own_property_sets(wall)[0]
    definition.GlobalId = ifcopenshell.guid.new()
    changed = tmp_path / "changed.ifc"
    model.write(str(changed))
    output = tmp_path / "v2.bim"
    report = synchronize_ifc([changed], base, output, engine_pool, file_keys=["main"])
    assert (report.inserted, report.updated, report.deleted, report.unchanged) == (0, 1, 0, 2)
    record = element_records(engine_pool, output)[wall.GlobalId]
    assert definition.GlobalId in [item["globalId"] for item in record["propertySets"]]


def test_products_without_geometry_keep_their_world_placement_in_their_record(
    synced: SyncFunction, engine_pool: EnginePool
) -> None:
    """Openings and annotations of the millimetre sample: an empty GeometryStream (the iModel keeps no
    placement for it), and the placement in metres in the record."""
    output, _ = synced(LARGE_OFFSET)
    model = ifcopenshell.open(str(LARGE_OFFSET))
    unmeshed = [product for product in importable_products(model) if not meshed(product)]
    assert {product.is_a() for product in unmeshed} == {"IfcOpeningElement", "IfcAnnotation"}
    with engine_pool.open(output) as imodel:
        rows = imodel.query_all(
            "SELECT a.Identifier globalId, (CASE WHEN g.GeometryStream IS NULL THEN 0 ELSE 1 END) hasGeometry"
            " FROM bis.ExternalSourceAspect a JOIN bis.GeometricElement3d g ON g.ECInstanceId = a.Element.Id"
            " WHERE a.Kind = 'IfcProduct'"
        )
    geometry = {str(row["globalId"]): row["hasGeometry"] for row in rows}
    records = element_records(engine_pool, output)
    for product in unmeshed:
        assert geometry[product.GlobalId] == 0
        matrix = ifcopenshell.util.placement.get_local_placement(product.ObjectPlacement)
        placement = records[product.GlobalId]["placement"]
        assert placement["location"] == pytest.approx([matrix[row][3] * 0.001 for row in range(3)], abs=1e-9)
        assert placement["axis"] == pytest.approx([matrix[row][2] for row in range(3)])
        assert placement["refDirection"] == pytest.approx([matrix[row][0] for row in range(3)])
    meshed_records = [records[product.GlobalId] for product in importable_products(model) if meshed(product)]
    assert all(record["placement"] is None for record in meshed_records), "the element's placement is the one"
