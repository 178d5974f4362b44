"""Native iModels (no IFC record) in IFC: aspects become property sets named after their class, and line
geometry an 'Axis' representation of polylines (docs/ifc-export.md, "Properties" and "Geometry")."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import ifcopenshell.util.element
import pytest

from tests.conftest import SAMPLE_IMODELS
from tests.integration.engines.conftest import ExportFunction
from twinbridge.engines.connectors.writer import SnapshotWriter
from twinbridge.engines.ifc import export_imodel_to_ifc, validate_ifc
from twinbridge.engines.imodel import EnginePool

BUILDING_BLOCKS = SAMPLE_IMODELS / "Building Blocks.bim"
ASPECT_SET = "DgnCustomItemTypes_Building Blocks.BlocksElementAspect"
POLYLINE = [[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [4.0, 3.0, 0.0]]


@pytest.mark.parametrize("ifc_version", ["IFC4.3", "IFC2x3 CV 2.0"])
def test_the_aspects_of_a_native_element_are_property_sets_named_after_their_class(
    exported: ExportFunction, ifc_version: str
) -> None:
    path, _ = exported(BUILDING_BLOCKS, ifc_version)
    model = ifcopenshell.open(str(path))

    sets = [ifcopenshell.util.element.get_psets(product) for product in model.by_type("IfcElement")]

    with_aspect = [properties[ASPECT_SET] for properties in sets if ASPECT_SET in properties]
    assert len(with_aspect) == 173  # every BlocksElementAspect of the iModel
    assert {(aspect["Color"], aspect["Type"]) for aspect in with_aspect} >= {("Brown", "3x3")}
    assert not any(name.startswith("BisCore.") for properties in sets for name in properties)


@pytest.fixture(scope="module")
def line_imodel(tmp_path_factory: pytest.TempPathFactory, engine_pool: EnginePool) -> Path:
    """One element whose geometry is a line string only, one with a line string and a triangle."""
    path = tmp_path_factory.mktemp("lines") / "lines.bim"
    with engine_pool.engine() as engine:
        writer = SnapshotWriter(engine)
        writer.create(path, root_subject="Lines")
        try:
            model = writer.ensure_model("Lines")
            category = writer.ensure_category("Lines", "#ff0000")
            triangle = {
                "indexedMesh": {"point": [[0, 0, 0], [1, 0, 0], [0, 1, 0]], "pointIndex": [1, 2, 3, 0]}
            }
            writer.upsert_elements(
                [
                    {
                        "model": model,
                        "category": category,
                        "userLabel": "line only",
                        "origin": [10.0, 0.0, 0.0],
                        "geom": [{"lineString": POLYLINE}],
                    },
                    {
                        "model": model,
                        "category": category,
                        "userLabel": "line and mesh",
                        "origin": [0.0, 0.0, 0.0],
                        "geom": [{"lineString": POLYLINE}, triangle],
                    },
                ]
            )
            writer.save("lines")
        finally:
            writer.close()
    return path


@pytest.mark.parametrize("ifc_version", ["IFC4.3", "IFC2x3"])
def test_line_strings_of_a_native_element_are_an_axis_representation_of_polylines(
    line_imodel: Path, engine_pool: EnginePool, tmp_path: Path, ifc_version: str
) -> None:
    path = tmp_path / "lines.ifc"
    summary = export_imodel_to_ifc(line_imodel, path, ifc_version=ifc_version, pool=engine_pool)

    assert validate_ifc(path, express_rules=True) == []
    model = ifcopenshell.open(str(path))
    products = {product.Name: product for product in model.by_type("IfcElement")}
    representations = {
        name: {shape.RepresentationIdentifier: shape for shape in product.Representation.Representations}
        for name, product in products.items()
    }
    assert set(representations["line only"]) == {"Axis"}
    assert set(representations["line and mesh"]) == {"Axis", "Body"}
    axis = representations["line only"]["Axis"]
    assert (axis.RepresentationType, axis.ContextOfItems.ContextIdentifier) == ("GeometricCurveSet", "Axis")
    [polyline] = axis.Items[0].Elements
    assert [list(point.Coordinates) for point in polyline.Points] == POLYLINE
    assert ifcopenshell.util.element.get_psets(products["line only"])["iModelElement"]["Geometry"] == "Lines"
    assert summary.elements_with_geometry == 2
