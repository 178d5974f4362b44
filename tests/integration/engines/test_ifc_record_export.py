"""Export of the IFC record (docs/ifc-connector.md, "The IFC record"; docs/ifc-export.md): elements and the
file's structure come back with their classes, GlobalIds, attributes, property and quantity sets, units,
types, materials, classifications, groups, layers, openings, aggregates and georeferencing, in every IFC
version, valid with express rules; what a schema cannot hold is named in the summary.

The iModel is written with the connector's engine ops, records as the connector writes them: a millimetre
IFC4 file with a site, building and two storeys (one empty), georeferencing, a wall type with a layer set, a
system and a layer; a second file (IFC4X3, same units) with a bridge; one native element without a record.
Values in the records are SI, as the connector stores them.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.guid
import ifcopenshell.util.element
import ifcopenshell.util.unit
import pytest

from twinbridge.engines.connectors.writer import SnapshotWriter
from twinbridge.engines.ifc import IFC_VERSIONS, ExportSummary, export_imodel_to_ifc, validate_ifc
from twinbridge.engines.imodel import EnginePool

MILLIMETRE_UNITS = {
    "type": "IfcUnitAssignment",
    "attributes": {
        "Units": [
            {
                "type": "IfcSIUnit",
                "attributes": {"UnitType": "LENGTHUNIT", "Prefix": "MILLI", "Name": "METRE"},
            },
            {"type": "IfcSIUnit", "attributes": {"UnitType": "AREAUNIT", "Name": "SQUARE_METRE"}},
            {"type": "IfcSIUnit", "attributes": {"UnitType": "VOLUMEUNIT", "Name": "CUBIC_METRE"}},
            {"type": "IfcSIUnit", "attributes": {"UnitType": "PLANEANGLEUNIT", "Name": "RADIAN"}},
        ]
    },
}
UNIT_SCALES = {"length": 0.001, "area": 1.0, "volume": 1.0, "planeAngle": 1.0}


def global_id(name: str) -> str:
    """A fixed GlobalId per name, so the tests can name what they look for."""
    return str(ifcopenshell.guid.compress(uuid.uuid5(uuid.NAMESPACE_URL, name).hex))


def federation_guid(gid: str) -> str:
    return str(uuid.UUID(ifcopenshell.guid.expand(gid)))


PROJECT = global_id("project")
SITE = global_id("site")
BUILDING = global_id("building")
LEVEL_1 = global_id("level 1")
LEVEL_2 = global_id("level 2")
WALL = global_id("wall")
PLAIN_WALL = global_id("plain wall")
OPENING = global_id("opening")
DOOR = global_id("door")
ASSEMBLY = global_id("assembly")
PART = global_id("part")
GRID = global_id("grid")
WALL_TYPE = global_id("wall type")
SYSTEM = global_id("system")
WALL_PSET = global_id("wall pset")
WALL_QUANTITIES = global_id("wall quantities")
TYPE_PSET = global_id("type pset")
BRIDGE_SITE = global_id("bridge site")
BRIDGE = global_id("bridge")
BRIDGE_PART = global_id("bridge part")
GIRDER = global_id("girder")

LAYER_SET = {
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
        "LayerSetName": "Concrete 200",
    },
}
LAYER_SET_USAGE = {
    "type": "IfcMaterialLayerSetUsage",
    "attributes": {
        "ForLayerSet": LAYER_SET,
        "LayerSetDirection": "AXIS2",
        "DirectionSense": "POSITIVE",
        "OffsetFromReferenceLine": -0.1,
    },
}
CLASSIFICATION_REFERENCE = {
    "type": "IfcClassificationReference",
    "attributes": {
        "Identification": "21.22",
        "Name": "Exterior walls",
        "ReferencedSource": {
            "type": "IfcClassification",
            "attributes": {"Name": "NL-SfB", "Source": "BIM Loket"},
        },
    },
}


def _file_record() -> dict[str, Any]:
    return {
        "version": 1,
        "schema": "IFC4",
        "units": MILLIMETRE_UNITS,
        "unitScales": UNIT_SCALES,
        "project": {
            "globalId": PROJECT,
            "class": "IfcProject",
            "attributes": {"Name": "Round trip", "Phase": "design"},
        },
        "spatial": [
            {
                "globalId": SITE,
                "class": "IfcSite",
                "parent": PROJECT,
                "attributes": {
                    "Name": "Terrain",
                    "RefLatitude": [52, 22, 8, 0],
                    "RefLongitude": [4, 53, 0, 0],
                    "RefElevation": 1.5,
                },
                "placement": {"location": [0.0, 0.0, 0.0]},
                "propertySets": [],
            },
            {
                "globalId": BUILDING,
                "class": "IfcBuilding",
                "parent": SITE,
                "attributes": {"Name": "Office", "CompositionType": "ELEMENT"},
                "placement": {"location": [0.0, 0.0, 0.0]},
                "propertySets": [
                    {
                        "globalId": global_id("building pset"),
                        "type": "IfcPropertySet",
                        "attributes": {
                            "Name": "Pset_BuildingCommon",
                            "HasProperties": [
                                {
                                    "type": "IfcPropertySingleValue",
                                    "attributes": {
                                        "Name": "NumberOfStoreys",
                                        "NominalValue": {"type": "IfcInteger", "value": 2},
                                    },
                                }
                            ],
                        },
                    }
                ],
            },
            {
                "globalId": LEVEL_1,
                "class": "IfcBuildingStorey",
                "parent": BUILDING,
                "attributes": {"Name": "Level 1", "Elevation": 3.0, "CompositionType": "ELEMENT"},
                "placement": {"location": [0.0, 0.0, 3.0]},
                "propertySets": [],
            },
            {
                "globalId": LEVEL_2,
                "class": "IfcBuildingStorey",
                "parent": BUILDING,
                "attributes": {"Name": "Level 2", "Elevation": 6.0, "CompositionType": "ELEMENT"},
                "placement": {"location": [0.0, 0.0, 6.0]},
                "propertySets": [],
            },
        ],
        "context": {"trueNorth": [0.5, 0.8660254037844386], "precision": 1e-05},
        "georeference": {
            "mapConversion": {
                "type": "IfcMapConversion",
                "attributes": {
                    "Eastings": 120000.0,
                    "Northings": 487000.0,
                    "OrthogonalHeight": 2.5,
                    "XAxisAbscissa": 0.8660254037844386,
                    "XAxisOrdinate": 0.5,
                    "Scale": 1.0,
                },
            },
            "projectedCRS": {
                "type": "IfcProjectedCRS",
                "attributes": {
                    "Name": "EPSG:28992",
                    "Description": "Amersfoort / RD New",
                    "GeodeticDatum": "EPSG:4289",
                },
            },
        },
        "types": {
            WALL_TYPE: {
                "class": "IfcWallType",
                "attributes": {"Name": "Basic Wall:Concrete 200", "PredefinedType": "STANDARD"},
                "propertySets": [
                    {
                        "globalId": TYPE_PSET,
                        "type": "IfcPropertySet",
                        "attributes": {
                            "Name": "Pset_WallCommon",
                            "HasProperties": [
                                {
                                    "type": "IfcPropertySingleValue",
                                    "attributes": {
                                        "Name": "Reference",
                                        "NominalValue": {"type": "IfcIdentifier", "value": "CW200"},
                                    },
                                }
                            ],
                        },
                    }
                ],
                "material": LAYER_SET,
            }
        },
        "groups": {SYSTEM: {"class": "IfcSystem", "attributes": {"Name": "Facade"}, "propertySets": []}},
        "layers": {
            "A-WALL": {
                "type": "IfcPresentationLayerAssignment",
                "attributes": {"Name": "A-WALL", "Identifier": "A-WALL-01"},
            }
        },
    }


def _bridge_record() -> dict[str, Any]:
    return {
        "version": 1,
        "schema": "IFC4X3_ADD2",
        "units": MILLIMETRE_UNITS,
        "unitScales": UNIT_SCALES,
        "project": {
            "globalId": global_id("bridge project"),
            "class": "IfcProject",
            "attributes": {"Name": "Bridge"},
        },
        "spatial": [
            {
                "globalId": BRIDGE_SITE,
                "class": "IfcSite",
                "parent": global_id("bridge project"),
                "attributes": {"Name": "Bridge site"},
                "placement": {"location": [100.0, 0.0, 0.0]},
            },
            {
                "globalId": BRIDGE,
                "class": "IfcBridge",
                "parent": BRIDGE_SITE,
                "attributes": {"Name": "Viaduct", "PredefinedType": "GIRDER"},
                "placement": {
                    "location": [100.0, 0.0, 0.0],
                    "axis": [0.0, 0.0, 1.0],
                    "refDirection": [0.0, 1.0, 0.0],
                },
            },
            {
                "globalId": BRIDGE_PART,
                "class": "IfcBridgePart",
                "parent": BRIDGE,
                "attributes": {
                    "Name": "Superstructure",
                    "UsageType": "LONGITUDINAL",
                    "PredefinedType": "SUPERSTRUCTURE",
                },
                "placement": {
                    "location": [100.0, 0.0, 5.0],
                    "axis": [0.0, 0.0, 1.0],
                    "refDirection": [0.0, 1.0, 0.0],
                },
            },
        ],
        "context": {"trueNorth": [0.0, 1.0], "precision": 1e-05},
        "georeference": None,
        "types": {},
        "groups": {},
        "layers": {},
    }


def _wall_record() -> dict[str, Any]:
    return {
        "version": 1,
        "class": "IfcWallStandardCase",
        "globalId": WALL,
        "attributes": {
            "Name": "Basic Wall:Concrete 200:166070",
            "Description": "outer wall",
            "ObjectType": "Basic Wall:Concrete 200",
            "Tag": "166070",
            "PredefinedType": "STANDARD",
        },
        "container": LEVEL_1,
        "decomposes": None,
        "type": WALL_TYPE,
        "propertySets": [
            {
                "globalId": WALL_PSET,
                "type": "IfcPropertySet",
                "attributes": {
                    "Name": "Pset_WallCommon",
                    "HasProperties": [
                        {
                            "type": "IfcPropertySingleValue",
                            "attributes": {
                                "Name": "IsExternal",
                                "NominalValue": {"type": "IfcBoolean", "value": True},
                            },
                        },
                        {
                            "type": "IfcPropertySingleValue",
                            "attributes": {
                                "Name": "Width",
                                "NominalValue": {"type": "IfcPositiveLengthMeasure", "value": 0.2},
                            },
                        },
                        {
                            "type": "IfcPropertySingleValue",
                            "attributes": {
                                "Name": "ThermalTransmittance",
                                "NominalValue": {"type": "IfcThermalTransmittanceMeasure", "value": 0.35},
                            },
                        },
                    ],
                },
            },
            {
                "globalId": WALL_QUANTITIES,
                "type": "IfcElementQuantity",
                "attributes": {
                    "Name": "Qto_WallBaseQuantities",
                    "Quantities": [
                        {"type": "IfcQuantityLength", "attributes": {"Name": "Length", "LengthValue": 5}},
                        {"type": "IfcQuantityArea", "attributes": {"Name": "NetSideArea", "AreaValue": 15.0}},
                        {
                            "type": "IfcQuantityVolume",
                            "attributes": {"Name": "NetVolume", "VolumeValue": 3.0},
                        },
                    ],
                },
            },
        ],
        "material": LAYER_SET_USAGE,
        "classifications": [CLASSIFICATION_REFERENCE],
        "groups": [SYSTEM],
        "layers": ["A-WALL"],
    }


def _element(
    record: dict[str, Any],
    model: str,
    category: str,
    scope: str,
    origin: list[float],
    mesh: bool = True,
    angles: dict[str, float] | None = None,
) -> dict[str, Any]:
    box = {
        "indexedMesh": {
            "point": [
                [0, 0, 0],
                [5, 0, 0],
                [5, 0.2, 0],
                [0, 0.2, 0],
                [0, 0, 3],
                [5, 0, 3],
                [5, 0.2, 3],
                [0, 0.2, 3],
            ],
            "pointIndex": [1, 2, 3, 0, 1, 3, 4, 0, 5, 6, 7, 0, 5, 7, 8, 0, 1, 2, 6, 0, 1, 6, 5, 0],
        }
    }
    return {
        "classFullName": "Generic:PhysicalObject",
        "model": model,
        "category": category,
        "userLabel": (record.get("attributes") or {}).get("Name"),
        "origin": origin,
        "angles": angles or {},
        "geom": [box] if mesh else None,
        "federationGuid": federation_guid(record["globalId"]),
        "props": {"jsonProperties": {"ifc": record}},
        "aspect": {
            "scope": scope,
            "identifier": record["globalId"],
            "kind": "IfcProduct",
            "version": "ifc-1",
            "checksum": record["globalId"],
        },
    }


def build_recorded_imodel(path: Path, pool: EnginePool) -> dict[str, str]:
    """Writes the iModel; returns element GlobalId -> element id."""

    def record(gid: str, ifc_class: str, attributes: dict[str, Any], **links: Any) -> dict[str, Any]:
        return {
            "version": 1,
            "class": ifc_class,
            "globalId": gid,
            "attributes": attributes,
            "container": None,
            "decomposes": None,
            "type": None,
            "propertySets": [],
            "material": None,
            "classifications": [],
            "groups": [],
            "layers": [],
            **links,
        }

    with pool.engine() as engine:
        writer = SnapshotWriter(engine)
        writer.create(path, root_subject="Recorded")
        try:
            model = writer.ensure_model("main: Level 1")
            bridge_model = writer.ensure_model("bridge: Superstructure")
            native_model = writer.ensure_model("Native")
            category = writer.ensure_category("IfcWall", "#808080")
            link = writer.ensure_repository_link("main", "office.ifc", ifc_record=_file_record())
            bridge_link = writer.ensure_repository_link("bridge", "bridge.ifc", ifc_record=_bridge_record())
            specs = [
                _element(_wall_record(), model, category, link, [1.0, 2.0, 3.0]),
                _element(
                    record(
                        PLAIN_WALL,
                        "IfcWallStandardCase",
                        {"Name": "Plain wall", "PredefinedType": "STANDARD"},
                        container=LEVEL_1,
                    ),
                    model,
                    category,
                    link,
                    [1.0, 6.0, 3.0],
                    angles={"yaw": 90.0},
                ),
                _element(
                    record(
                        OPENING,
                        "IfcOpeningElement",
                        {"Name": "Opening", "PredefinedType": "OPENING"},
                        voids=WALL,
                        # Without geometry the iModel keeps no placement; the record does (world, SI).
                        placement={"location": [2.0, 2.5, 3.0]},
                    ),
                    model,
                    category,
                    link,
                    [2.0, 2.0, 3.0],
                    mesh=False,
                ),
                _element(
                    record(
                        DOOR,
                        "IfcDoor",
                        {"Name": "Door", "OverallHeight": 2.1, "OverallWidth": 0.9},
                        container=LEVEL_1,
                        fills=OPENING,
                    ),
                    model,
                    category,
                    link,
                    [2.0, 2.0, 3.0],
                ),
                _element(
                    record(
                        ASSEMBLY,
                        "IfcElementAssembly",
                        {"Name": "Truss", "PredefinedType": "TRUSS", "AssemblyPlace": "FACTORY"},
                        container=LEVEL_1,
                    ),
                    model,
                    category,
                    link,
                    [0.0, 0.0, 3.0],
                    mesh=False,
                ),
                _element(
                    record(PART, "IfcBeam", {"Name": "Chord", "PredefinedType": "BEAM"}, decomposes=ASSEMBLY),
                    model,
                    category,
                    link,
                    [0.0, 0.0, 5.0],
                ),
                _element(
                    record(
                        GRID,
                        "IfcGrid",
                        {
                            "Name": "Grid",
                            "UAxes": [
                                {
                                    "type": "IfcGridAxis",
                                    "attributes": {
                                        "AxisTag": "A",
                                        "SameSense": True,
                                        "AxisCurve": {
                                            "type": "IfcPolyline",
                                            "attributes": {
                                                "Points": [
                                                    {
                                                        "type": "IfcCartesianPoint",
                                                        "attributes": {"Coordinates": [0.0, 0.0]},
                                                    },
                                                    {
                                                        "type": "IfcCartesianPoint",
                                                        "attributes": {"Coordinates": [10.0, 0.0]},
                                                    },
                                                ]
                                            },
                                        },
                                    },
                                }
                            ],
                            "VAxes": [
                                {
                                    "type": "IfcGridAxis",
                                    "attributes": {
                                        "AxisTag": "1",
                                        "SameSense": True,
                                        "AxisCurve": {
                                            "type": "IfcPolyline",
                                            "attributes": {
                                                "Points": [
                                                    {
                                                        "type": "IfcCartesianPoint",
                                                        "attributes": {"Coordinates": [0.0, 0.0]},
                                                    },
                                                    {
                                                        "type": "IfcCartesianPoint",
                                                        "attributes": {"Coordinates": [0.0, 10.0]},
                                                    },
                                                ]
                                            },
                                        },
                                    },
                                }
                            ],
                        },
                        container=LEVEL_1,
                    ),
                    model,
                    category,
                    link,
                    [0.0, 0.0, 3.0],
                    mesh=False,
                ),
                _element(
                    record(
                        GIRDER,
                        "IfcBeam",
                        {"Name": "Girder", "PredefinedType": "GIRDER_SEGMENT"},
                        container=BRIDGE_PART,
                    ),
                    bridge_model,
                    category,
                    bridge_link,
                    [100.0, 0.0, 5.0],
                ),
                {
                    "classFullName": "Generic:PhysicalObject",
                    "model": native_model,
                    "category": category,
                    "userLabel": "native box",
                    "origin": [10.0, 0.0, 0.0],
                    "geom": _element(_wall_record(), model, category, link, [0, 0, 0])["geom"],
                },
            ]
            ids = writer.upsert_elements(specs)
            writer.save("recorded")
        finally:
            writer.close()
    keys = [WALL, PLAIN_WALL, OPENING, DOOR, ASSEMBLY, PART, GRID, GIRDER, "native"]
    return dict(zip(keys, ids, strict=True))


Exported = dict[str, tuple[Path, ExportSummary, list[dict[str, Any]]]]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, engine_pool: EnginePool) -> Exported:
    """Per IFC version: the exported file, its summary and its express-rule errors."""
    directory = tmp_path_factory.mktemp("recorded")
    imodel = directory / "recorded.bim"
    build_recorded_imodel(imodel, engine_pool)
    results: Exported = {}
    for version in IFC_VERSIONS:
        path = directory / f"{version.replace(' ', '_')}.ifc"
        summary = export_imodel_to_ifc(imodel, path, ifc_version=version, pool=engine_pool)
        results[version] = (path, summary, validate_ifc(path, express_rules=True))
    return results


def opened(exported: Exported, version: str) -> ifcopenshell.file:
    return ifcopenshell.open(str(exported[version][0]))


def property_values(model: ifcopenshell.file, product: Any) -> dict[str, dict[str, Any]]:
    """Set name -> property name -> (IFC value type, value), of the product's own sets."""
    result: dict[str, dict[str, Any]] = {}
    for relation in model.by_type("IfcRelDefinesByProperties"):
        if product not in relation.RelatedObjects:
            continue
        definition = relation.RelatingPropertyDefinition
        values: dict[str, Any] = {}
        for item in (
            getattr(definition, "HasProperties", None) or getattr(definition, "Quantities", None) or []
        ):
            if item.is_a("IfcPropertySingleValue"):
                values[item.Name] = (item.NominalValue.is_a(), item.NominalValue.wrappedValue)
            else:
                values[item.Name] = (item.is_a(), item[3])
        result[definition.Name] = values
    return result


@pytest.mark.parametrize("version", list(IFC_VERSIONS))
def test_a_recorded_imodel_exports_to_a_file_that_meets_the_express_rules(
    exported: Exported, version: str
) -> None:
    assert exported[version][2] == []


@pytest.mark.parametrize("version", ["IFC4.3", "IFC4 RV 1.2", "IFC2x3"])
def test_recorded_elements_keep_their_class_global_id_and_attributes(
    exported: Exported, version: str
) -> None:
    model = opened(exported, version)

    wall = model.by_guid(WALL)
    assert wall.is_a() == "IfcWallStandardCase"  # its layer set usage meets the standard case's rules
    assert (wall.Name, wall.Description, wall.ObjectType, wall.Tag) == (
        "Basic Wall:Concrete 200:166070",
        "outer wall",
        "Basic Wall:Concrete 200",
        "166070",
    )
    if version != "IFC2x3":
        assert wall.PredefinedType == "STANDARD"
    door = model.by_guid(DOOR)
    assert (door.is_a(), door.Name, door.OverallHeight, door.OverallWidth) == (
        "IfcDoor",
        "Door",
        2100.0,
        900.0,
    )


def test_a_standard_case_without_its_material_usage_is_written_as_its_supertype_and_named(
    exported: Exported,
) -> None:
    path, summary, _ = exported["IFC4 RV 1.2"]
    model = ifcopenshell.open(str(path))

    assert model.by_guid(PLAIN_WALL).is_a() == "IfcWall"
    assert "0x19: IfcWallStandardCase written as IfcWall" in summary.entity_substitutions


@pytest.mark.parametrize("version", ["IFC4.3", "IFC2x3"])
def test_property_and_quantity_sets_keep_their_names_global_ids_types_and_the_files_units(
    exported: Exported, version: str
) -> None:
    model = opened(exported, version)
    wall = model.by_guid(WALL)

    sets = property_values(model, wall)

    assert sets == {
        "Pset_WallCommon": {
            "IsExternal": ("IfcBoolean", True),
            "Width": ("IfcPositiveLengthMeasure", pytest.approx(200.0)),
            "ThermalTransmittance": ("IfcThermalTransmittanceMeasure", 0.35),
        },
        "Qto_WallBaseQuantities": {
            "Length": ("IfcQuantityLength", pytest.approx(5000.0)),
            "NetSideArea": ("IfcQuantityArea", 15.0),
            "NetVolume": ("IfcQuantityVolume", 3.0),
        },
    }
    assert model.by_guid(WALL_PSET).Name == "Pset_WallCommon"
    assert model.by_guid(WALL_QUANTITIES).Name == "Qto_WallBaseQuantities"


def test_a_native_element_keeps_its_identity_set_and_its_own_storey(exported: Exported) -> None:
    model = opened(exported, "IFC4.3")

    native = next(
        product for product in model.by_type("IfcBuildingElementProxy") if product.Name == "native box"
    )

    assert "iModelElement" in property_values(model, native)
    assert ifcopenshell.util.element.get_container(native).Name == "Native"


@pytest.mark.parametrize("version", ["IFC4.3", "IFC2x3"])
def test_the_spatial_structure_comes_from_the_file_records(exported: Exported, version: str) -> None:
    model = opened(exported, version)

    project = model.by_type("IfcProject")[0]
    assert (project.GlobalId, project.Name, project.Phase) == (PROJECT, "Round trip", "design")
    site = model.by_guid(SITE)
    assert (site.Name, site.RefLatitude, site.RefLongitude, site.RefElevation) == (
        "Terrain",
        (52, 22, 8, 0),
        (4, 53, 0, 0),
        pytest.approx(1500.0),
    )
    assert ifcopenshell.util.element.get_aggregate(site) == project
    assert ifcopenshell.util.element.get_aggregate(model.by_guid(BUILDING)) == site
    storeys = {model.by_guid(gid).Name: model.by_guid(gid) for gid in (LEVEL_1, LEVEL_2)}
    assert {name: storey.Elevation for name, storey in storeys.items()} == {
        "Level 1": 3000.0,
        "Level 2": 6000.0,
    }
    assert ifcopenshell.util.element.get_decomposition(storeys["Level 2"]) == set()  # empty, still written
    wall = model.by_guid(WALL)
    assert ifcopenshell.util.element.get_container(wall) == storeys["Level 1"]
    assert wall.ObjectPlacement.PlacementRelTo == storeys["Level 1"].ObjectPlacement
    assert wall.ObjectPlacement.RelativePlacement.Location.Coordinates == pytest.approx((1000.0, 2000.0, 0.0))


def test_units_are_the_files_and_geometry_is_scaled_to_them(exported: Exported) -> None:
    model = opened(exported, "IFC4.3")

    assert ifcopenshell.util.unit.calculate_unit_scale(model) == pytest.approx(0.001)
    wall = model.by_guid(WALL)
    points = wall.Representation.Representations[0].Items[0].Coordinates.CoordList
    assert max(point[0] for point in points) == pytest.approx(5000.0)
    assert max(point[2] for point in points) == pytest.approx(3000.0)


@pytest.mark.parametrize("version", ["IFC4 RV 1.2", "IFC2x3"])
def test_types_materials_classifications_groups_and_layers_are_written(
    exported: Exported, version: str
) -> None:
    model = opened(exported, version)
    wall = model.by_guid(WALL)

    wall_type = ifcopenshell.util.element.get_type(wall)
    assert (wall_type.GlobalId, wall_type.is_a(), wall_type.Name) == (
        WALL_TYPE,
        "IfcWallType",
        "Basic Wall:Concrete 200",
    )
    assert [pset.Name for pset in wall_type.HasPropertySets] == ["Pset_WallCommon"]
    usage = ifcopenshell.util.element.get_material(wall, should_skip_usage=False)
    assert usage.is_a("IfcMaterialLayerSetUsage")
    assert usage.OffsetFromReferenceLine == pytest.approx(-100.0)
    layer = usage.ForLayerSet.MaterialLayers[0]
    assert (layer.Material.Name, layer.LayerThickness) == ("Concrete", pytest.approx(200.0))
    assert ifcopenshell.util.element.get_material(wall_type).is_a("IfcMaterialLayerSet")
    [classified] = [
        relation
        for relation in model.by_type("IfcRelAssociatesClassification")
        if wall in relation.RelatedObjects
    ]
    reference = classified.RelatingClassification
    identification = reference.Identification if version != "IFC2x3" else reference.ItemReference
    assert (identification, reference.Name, reference.ReferencedSource.Name) == (
        "21.22",
        "Exterior walls",
        "NL-SfB",
    )
    [grouped] = [
        relation for relation in model.by_type("IfcRelAssignsToGroup") if wall in relation.RelatedObjects
    ]
    assert (grouped.RelatingGroup.GlobalId, grouped.RelatingGroup.Name) == (SYSTEM, "Facade")
    [layer_assignment] = model.by_type("IfcPresentationLayerAssignment")
    assert layer_assignment.Name == "A-WALL"
    assert list(layer_assignment.AssignedItems) == list(wall.Representation.Representations)


@pytest.mark.parametrize("version", ["IFC4.3", "IFC2x3"])
def test_openings_fillings_and_aggregates_are_written_without_geometry_where_they_had_none(
    exported: Exported, version: str
) -> None:
    model = opened(exported, version)
    wall, opening, door = (model.by_guid(gid) for gid in (WALL, OPENING, DOOR))

    assert opening.is_a() == "IfcOpeningElement"
    assert opening.Representation is None
    assert opening.ObjectPlacement.PlacementRelTo is None  # not contained: placed in the world
    assert opening.ObjectPlacement.RelativePlacement.Location.Coordinates == pytest.approx(
        (2000.0, 2500.0, 3000.0)
    )
    assert [relation.RelatedOpeningElement for relation in wall.HasOpenings] == [opening]
    assert [relation.RelatedBuildingElement for relation in opening.HasFillings] == [door]
    assembly = model.by_guid(ASSEMBLY)
    assert (assembly.is_a(), assembly.Representation) == ("IfcElementAssembly", None)
    assert ifcopenshell.util.element.get_aggregate(model.by_guid(PART)) == assembly
    grid = model.by_guid(GRID)
    assert grid.is_a() == "IfcGrid"
    assert [axis.AxisTag for axis in grid.UAxes] == ["A"]
    assert grid.UAxes[0].AxisCurve.Points[1].Coordinates == pytest.approx((10000.0, 0.0))


def test_georeferencing_is_a_map_conversion_on_the_context_from_ifc4(exported: Exported) -> None:
    model = opened(exported, "IFC4 RV 1.2")

    [conversion] = model.by_type("IfcMapConversion")
    assert conversion.SourceCRS == model.by_type("IfcProject")[0].RepresentationContexts[0]
    assert (conversion.Eastings, conversion.Northings, conversion.OrthogonalHeight) == pytest.approx(
        (120000000.0, 487000000.0, 2500.0)
    )
    assert (conversion.XAxisAbscissa, conversion.XAxisOrdinate) == pytest.approx((0.8660254037844386, 0.5))
    assert (conversion.TargetCRS.Name, conversion.TargetCRS.GeodeticDatum) == ("EPSG:28992", "EPSG:4289")
    context = model.by_type("IfcGeometricRepresentationContext", include_subtypes=False)[0]
    assert context.TrueNorth.DirectionRatios == pytest.approx((0.5, 0.8660254037844386))


def test_georeferencing_is_a_pair_of_site_property_sets_in_ifc2x3(exported: Exported) -> None:
    model = opened(exported, "IFC2x3")

    sets = property_values(model, model.by_guid(SITE))

    assert sets["ePSet_MapConversion"]["Eastings"] == ("IfcLengthMeasure", pytest.approx(120000000.0))
    assert sets["ePSet_ProjectedCRS"]["Name"] == ("IfcLabel", "EPSG:28992")


def test_ifc43_facilities_keep_their_class_in_ifc43(exported: Exported) -> None:
    model = opened(exported, "IFC4.3")

    assert (model.by_guid(BRIDGE).is_a(), model.by_guid(BRIDGE_PART).is_a()) == ("IfcBridge", "IfcBridgePart")
    girder = model.by_guid(GIRDER)
    assert ifcopenshell.util.element.get_container(girder) == model.by_guid(BRIDGE_PART)
    assert girder.PredefinedType == "GIRDER_SEGMENT"


@pytest.mark.parametrize("version", ["IFC4 RV 1.2", "IFC2x3"])
def test_ifc43_facilities_become_a_building_and_storey_in_older_schemas_and_are_named(
    exported: Exported, version: str
) -> None:
    path, summary, _ = exported[version]
    model = ifcopenshell.open(str(path))

    assert (model.by_guid(BRIDGE).is_a(), model.by_guid(BRIDGE_PART).is_a()) == (
        "IfcBuilding",
        "IfcBuildingStorey",
    )
    assert f"{BRIDGE}: IfcBridge written as IfcBuilding" in summary.entity_substitutions
    assert f"{BRIDGE_PART}: IfcBridgePart written as IfcBuildingStorey" in summary.entity_substitutions
    schema = "IFC4" if version == "IFC4 RV 1.2" else "IFC2X3"
    assert f"{BRIDGE}: IfcBuilding.PredefinedType is not in {schema}; left out" in summary.not_carried
    # The girder stays in the bridge part, placed in its frame (turned by 90 degrees about Z).
    girder = model.by_guid(GIRDER)
    assert ifcopenshell.util.element.get_container(girder) == model.by_guid(BRIDGE_PART)
    relative = girder.ObjectPlacement.RelativePlacement
    assert relative.RefDirection.DirectionRatios == pytest.approx((0.0, -1.0, 0.0))
