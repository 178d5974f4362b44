"""iModel -> IFC on generated iModels and on every sample, in every IFC version, validated by IfcOpenShell."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import cast

import ifcopenshell
import ifcopenshell.guid
import ifcopenshell.util.element
import ifcopenshell.util.placement
import numpy as np
import pytest

from tests.conftest import SAMPLE_IMODELS
from tests.integration.engines.conftest import ExportFunction
from tests.integration.engines.helpers import GENERATED_ELEMENTS, geometric_element_count
from twinbridge.engines.ifc import (
    IFC_VERSIONS,
    IfcExportError,
    MappingFileError,
    SourceIModelError,
    UnknownModelError,
    export_imodel_to_ifc,
    exporter,
    validate_ifc,
)
from twinbridge.engines.ifc.placement import rotation_matrix
from twinbridge.engines.imodel import EnginePool

VERSIONS = list(IFC_VERSIONS)
SAMPLES = sorted(path for path in SAMPLE_IMODELS.iterdir() if path.suffix in (".bim", ".ibim"))
BUILDING_BLOCKS = SAMPLE_IMODELS / "Building Blocks.bim"
PROPERTIES_SAMPLE = SAMPLE_IMODELS / "Properties_60InstancesWithUrl2.ibim"
EMPTY_SAMPLE = SAMPLE_IMODELS / "213d69e0-9a83-4e3f-942d-694e94c9f905m.bim"
DRAWINGS_SAMPLE = SAMPLE_IMODELS / "CompatibilityTestSeed.bim"


def products(model: ifcopenshell.file) -> list[ifcopenshell.entity_instance]:
    """The exported elements (keep `model` referenced while using them: entities do not keep their file)."""
    return list(model.by_type("IfcElement"))


def identity(product: ifcopenshell.entity_instance) -> dict[str, object]:
    return ifcopenshell.util.element.get_psets(product)["iModelElement"]


@pytest.mark.parametrize("ifc_version", VERSIONS)
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem[:24])
def test_every_sample_exports_to_a_valid_file_with_every_3d_element_once(
    exported: ExportFunction, sample: Path, ifc_version: str
) -> None:
    path, summary = exported(sample, ifc_version)

    assert validate_ifc(path) == []
    model = ifcopenshell.open(str(path))
    assert model.schema_identifier == IFC_VERSIONS[ifc_version].schema
    assert model.header.file_description.description == (IFC_VERSIONS[ifc_version].file_description,)
    elements = products(model)
    assert len(elements) == geometric_element_count(sample) == summary.elements
    assert len({identity(element)["ElementId"] for element in elements}) == len(elements)
    assert len({element.GlobalId for element in model.by_type("IfcRoot")}) == len(model.by_type("IfcRoot"))
    assert (
        len(model.by_type("IfcProject"))
        == len(model.by_type("IfcSite"))
        == len(model.by_type("IfcBuilding"))
        == 1
    )


@pytest.mark.parametrize("ifc_version", VERSIONS)
def test_generated_imodels_export_to_valid_files_with_geometry_for_every_element(
    exported: ExportFunction, generated_imodel: Path, ifc_version: str
) -> None:
    path, summary = exported(generated_imodel, ifc_version)

    assert validate_ifc(path) == []
    model = ifcopenshell.open(str(path))
    elements = products(model)
    assert len(elements) == GENERATED_ELEMENTS
    assert summary.elements_with_geometry == GENERATED_ELEMENTS
    assert all(element.Representation is not None for element in elements)
    assert {storey.Name for storey in model.by_type("IfcBuildingStorey")} == {"Model 1", "Model 2", "Model 3"}
    body_type = "Tessellation" if IFC_VERSIONS[ifc_version].tessellation else "SurfaceModel"
    assert {rep.RepresentationType for rep in model.by_type("IfcShapeRepresentation")} == {body_type}
    if IFC_VERSIONS[ifc_version].owner_history:
        assert all(root.OwnerHistory is not None for root in model.by_type("IfcRoot"))


def test_brep_parts_become_real_meshes_not_boxes(exported: ExportFunction) -> None:
    path, summary = exported(BUILDING_BLOCKS, "IFC4.3")

    model = ifcopenshell.open(str(path))
    face_sets = model.by_type("IfcTriangulatedFaceSet")
    triangles = sum(len(face_set.CoordIndex) for face_set in face_sets)
    assert summary.elements == 173
    assert summary.bounding_box_fallbacks == 0
    assert triangles == summary.triangles
    assert triangles / summary.elements > 100


def test_the_empty_imodel_gives_a_valid_file_without_elements(exported: ExportFunction) -> None:
    path, summary = exported(EMPTY_SAMPLE, "IFC4.3")

    model = ifcopenshell.open(str(path))
    assert summary.elements == 0
    assert products(model) == []
    assert len(model.by_type("IfcBuildingStorey")) == 0
    assert model.by_type("IfcProject")[0].Name == "Empty Test iModel"


def test_drawings_and_sheets_are_not_exported(exported: ExportFunction) -> None:
    path, _ = exported(DRAWINGS_SAMPLE, "IFC4.3")

    model = ifcopenshell.open(str(path))
    storeys = {storey.Name for storey in model.by_type("IfcBuildingStorey")}
    assert storeys == {"Physical"}
    assert len(products(model)) == 6


def test_global_ids_are_the_federation_guids(exported: ExportFunction, generated_imodel: Path) -> None:
    path, _ = exported(generated_imodel, "IFC4.3")
    with sqlite3.connect(f"file:{generated_imodel}?immutable=1", uri=True) as database:
        guids = {
            f"0x{element_id:x}": uuid.UUID(bytes=guid)
            for element_id, guid in database.execute(
                "SELECT Id, FederationGuid FROM bis_Element WHERE FederationGuid IS NOT NULL"
            )
        }

    model = ifcopenshell.open(str(path))
    for element in products(model):
        assert (
            uuid.UUID(ifcopenshell.guid.expand(element.GlobalId))
            == guids[str(identity(element)["ElementId"])]
        )


def test_exporting_twice_gives_the_same_global_ids(
    exported: ExportFunction, engine_pool: EnginePool, tmp_path: Path
) -> None:
    first, _ = exported(PROPERTIES_SAMPLE, "IFC4.3")
    second = tmp_path / "again.ifc"
    export_imodel_to_ifc(PROPERTIES_SAMPLE, second, pool=engine_pool)

    def ids(path: Path) -> list[str]:
        return sorted(root.GlobalId for root in ifcopenshell.open(str(path)).by_type("IfcRoot"))

    assert ids(first) == ids(second)


def test_placements_carry_the_element_origin_and_angles(exported: ExportFunction) -> None:
    path, _ = exported(BUILDING_BLOCKS, "IFC4.3")
    model = ifcopenshell.open(str(path))
    with sqlite3.connect(f"file:{BUILDING_BLOCKS}?immutable=1", uri=True) as database:
        placements = {
            row[0]: row[1:]
            for row in database.execute(
                "SELECT ElementId, Origin_X, Origin_Y, Origin_Z, Yaw, Pitch, Roll FROM bis_GeometricElement3d"
            )
        }

    for element in products(model):
        x, y, z, yaw, pitch, roll = placements[int(str(identity(element)["ElementId"]), 16)]
        matrix = ifcopenshell.util.placement.get_local_placement(element.ObjectPlacement)
        np.testing.assert_allclose(matrix[:3, 3], [x, y, z], atol=1e-6)
        np.testing.assert_allclose(
            matrix[:3, :3], rotation_matrix(yaw or 0, pitch or 0, roll or 0), atol=1e-9
        )


def test_class_properties_become_a_typed_property_set_named_after_the_class(
    exported: ExportFunction, generated_imodel: Path
) -> None:
    path, _ = exported(generated_imodel, "IFC4.3")
    model = ifcopenshell.open(str(path))
    beam = next(element for element in products(model) if element.ObjectType == "TwinbridgeTest:TestBeam")

    definitions = {
        rel.RelatingPropertyDefinition.Name: rel.RelatingPropertyDefinition for rel in beam.IsDefinedBy
    }
    values = {
        prop.Name: prop.NominalValue.is_a() if prop.is_a("IfcPropertySingleValue") else prop.is_a()
        for prop in definitions["TwinbridgeTest.TestBeam"].HasProperties
    }
    assert values == {
        "Span": "IfcLengthMeasure",
        "Material": "IfcLabel",
        "Mass": "IfcReal",
        "Count": "IfcInteger",
        "Serial": "IfcInteger",
        "IsLoadBearing": "IfcBoolean",
        "InstalledOn": "IfcDateTime",
        "Anchor": "IfcPropertyListValue",
        "Status": "IfcLabel",
        "Length": "IfcLengthMeasure",
    }
    assert ifcopenshell.util.element.get_psets(beam)["TwinbridgeTest.TestBeam"]["Status"] in {
        "Planned",
        "Built",
        "Demolished",
    }
    assert set(identity(beam)) >= {"ElementId", "ClassName", "Category", "Model", "CodeValue", "Geometry"}
    assert identity(beam)["Geometry"] == "Mesh"


def test_custom_schema_properties_are_exported(exported: ExportFunction) -> None:
    path, _ = exported(PROPERTIES_SAMPLE, "IFC4 RV 1.2")
    model = ifcopenshell.open(str(path))

    test_objects = [
        element for element in products(model) if element.ObjectType == "PCJ_TestSchema:TestClass"
    ]
    assert len(test_objects) == 60
    properties = ifcopenshell.util.element.get_psets(test_objects[0])["PCJ_TestSchema.TestClass"]
    assert properties["String_Property_1"] == "Argentina"
    assert properties["Integer_3"] == 123456789
    assert properties["Boolean_Property"] is True
    assert len(set(properties) - {"id"}) == 15


def test_colours_become_surface_styles(exported: ExportFunction, generated_imodel: Path) -> None:
    path, _ = exported(generated_imodel, "IFC4.3")
    model = ifcopenshell.open(str(path))

    colours = {
        (
            round(style.SurfaceColour.Red * 255),
            round(style.SurfaceColour.Green * 255),
            round(style.SurfaceColour.Blue * 255),
        )
        for style in model.by_type("IfcSurfaceStyleShading")
    }
    # The four category colours of the generator's palette and the second colour of two-colour elements.
    assert {
        (0xC0, 0x39, 0x2B),
        (0x29, 0x80, 0xB9),
        (0x27, 0xAE, 0x60),
        (0xF3, 0x9C, 0x12),
        (0xFF, 0xCC, 0x00),
    } <= colours


def test_a_model_filter_exports_only_that_model(
    engine_pool: EnginePool, generated_imodel: Path, tmp_path: Path
) -> None:
    with engine_pool.open(generated_imodel) as imodel:
        model_id = next(model["id"] for model in imodel.info["models"] if model["name"] == "Model 2")
    target = tmp_path / "model2.ifc"

    summary = export_imodel_to_ifc(generated_imodel, target, model_ids=[model_id], pool=engine_pool)

    model = ifcopenshell.open(str(target))
    assert summary.elements == GENERATED_ELEMENTS // 3
    assert [storey.Name for storey in model.by_type("IfcBuildingStorey")] == ["Model 2"]
    assert {identity(element)["ModelId"] for element in products(model)} == {model_id}
    assert validate_ifc(target) == []


def test_an_unknown_model_id_is_an_error_naming_it(
    engine_pool: EnginePool, generated_imodel: Path, tmp_path: Path
) -> None:
    with pytest.raises(UnknownModelError, match=r'model "0x9999" is not a model of generated\.bim'):
        export_imodel_to_ifc(generated_imodel, tmp_path / "x.ifc", model_ids=["0x9999"], pool=engine_pool)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ifc_version", ["IFC4.3", "IFC2x3"])
def test_a_mapping_file_chooses_the_ifc_classes(
    engine_pool: EnginePool, generated_imodel: Path, tmp_path: Path, ifc_version: str
) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {"classes": {"TwinbridgeTest:TestBeam": "IfcBeam", "TestColumn": {"default": "IfcColumn"}}}
        )
    )
    target = tmp_path / "mapped.ifc"

    export_imodel_to_ifc(generated_imodel, target, ifc_version=ifc_version, mapping=mapping, pool=engine_pool)

    model = ifcopenshell.open(str(target))
    assert len(model.by_type("IfcBeam")) == len(model.by_type("IfcColumn")) == GENERATED_ELEMENTS // 3
    assert len(model.by_type("IfcBuildingElementProxy")) == GENERATED_ELEMENTS // 3
    assert validate_ifc(target) == []


def test_a_mapping_to_an_entity_the_schema_lacks_is_refused_before_any_work(
    generated_imodel: Path, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"classes": {"TestBeam": "IfcFurniture"}}))

    with pytest.raises(MappingFileError, match="IfcFurniture"):
        export_imodel_to_ifc(generated_imodel, tmp_path / "x.ifc", ifc_version="IFC2x3", mapping=mapping)


def test_a_file_that_is_not_an_imodel_is_a_source_error(engine_pool: EnginePool, tmp_path: Path) -> None:
    source = tmp_path / "notes.bim"
    source.write_text("not an iModel")

    with pytest.raises(SourceIModelError, match="not a readable iModel"):
        export_imodel_to_ifc(source, tmp_path / "x.ifc", pool=engine_pool)
    assert not (tmp_path / "x.ifc").exists()


def test_a_failed_export_leaves_no_partial_file_and_keeps_an_existing_one(
    engine_pool: EnginePool, generated_imodel: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out.ifc"
    target.write_text("previous export")

    def fail_while_meshing(phase: str, done: int, total: int) -> None:
        if phase == "graphics" and done >= 50:
            raise IfcExportError("stopped")

    with pytest.raises(IfcExportError, match="stopped"):
        export_imodel_to_ifc(generated_imodel, target, pool=engine_pool, progress=fail_while_meshing)

    assert target.read_text() == "previous export"
    assert [path.name for path in tmp_path.iterdir()] == ["out.ifc"]
    with engine_pool.open(generated_imodel) as imodel:
        assert imodel.query_all("SELECT COUNT(*) n FROM bis.PhysicalElement") == [{"n": GENERATED_ELEMENTS}]


def test_elements_that_crash_the_faceter_become_bounding_boxes(
    generated_imodel: Path, tmp_path: Path
) -> None:
    from twinbridge.engines.imodel import EngineOptions

    with sqlite3.connect(f"file:{generated_imodel}?immutable=1", uri=True) as database:
        (culprit,) = database.execute("SELECT Id FROM bis_Element WHERE CodeValue = 'E-40'").fetchone()
    options = EngineOptions(environment={"TWINBRIDGE_ENGINE_TEST_CRASH_ELEMENTS": f"0x{culprit:x}"})
    target = tmp_path / "crash.ifc"

    with EnginePool(1, options) as pool:
        summary = export_imodel_to_ifc(generated_imodel, target, ifc_version="IFC4 RV 1.2", pool=pool)

    assert summary.bounding_box_fallbacks == 1
    assert summary.failed_element_ids == [f"0x{culprit:x}"]
    assert summary.elements_with_geometry == GENERATED_ELEMENTS
    model = ifcopenshell.open(str(target))
    boxed = [element for element in products(model) if identity(element)["Geometry"] == "BoundingBox"]
    assert [identity(element)["ElementId"] for element in boxed] == [f"0x{culprit:x}"]
    (face_set,) = boxed[0].Representation.Representations[0].Items
    assert len(face_set.CoordIndex) == 12
    assert validate_ifc(target) == []


def test_an_export_in_many_chunks_writes_the_same_file_content_and_estimates_its_size_as_it_goes(
    engine_pool: EnginePool, generated_imodel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = tmp_path / "whole.ifc"
    export_imodel_to_ifc(generated_imodel, whole, pool=engine_pool)
    monkeypatch.setattr(exporter, "_ELEMENT_CHUNK", 7)
    monkeypatch.setattr(exporter, "_CONTAINED_PER_RELATIONSHIP", 10)
    chunked = tmp_path / "chunked.ifc"
    checks: list[tuple[int, int]] = []

    export_imodel_to_ifc(
        generated_imodel,
        chunked,
        pool=engine_pool,
        check_disk=lambda estimated, written: checks.append((estimated, written)),
    )

    def content(path: Path) -> dict[str, object]:
        model = ifcopenshell.open(str(path))
        contained = [
            element.GlobalId
            for relation in model.by_type("IfcRelContainedInSpatialStructure")
            for element in relation.RelatedElements
        ]
        return {
            "products": {
                element.GlobalId: (
                    element.is_a(),
                    element.Name,
                    element.ContainedInStructure[0].RelatingStructure.GlobalId,
                    {
                        name: {key: value for key, value in values.items() if key != "id"}
                        for name, values in ifcopenshell.util.element.get_psets(element).items()
                    },
                    len(element.Representation.Representations[0].Items),
                )
                for element in products(model)
            },
            "contained": sorted(contained),
        }

    expected = content(whole)
    assert content(chunked) == expected
    assert len(cast(dict[str, object], expected["products"])) == GENERATED_ELEMENTS
    assert validate_ifc(chunked) == []
    assert len(checks) == -(-GENERATED_ELEMENTS // 7)
    written = [check[1] for check in checks]
    assert written == sorted(written)
    assert written[-1] < chunked.stat().st_size
    # Extrapolated from the elements written so far: within a fifth of the file once a third is written.
    for estimated, _ in checks[len(checks) // 3 :]:
        assert abs(estimated - chunked.stat().st_size) < chunked.stat().st_size / 5
