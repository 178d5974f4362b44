"""What the Synchronization configuration flags change in the IFC connector: provenance without GlobalIds
(ignoreIfcGlobalIds), clamped project extents (clampZExtent) and a file's elements moving to a new key
(enableFileNamePolicy turned on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.guid
import pytest

from tests.conftest import SAMPLE_IFC
from twinbridge.engines.connectors import synchronize_ifc
from twinbridge.engines.connectors.ifc_reader import importable_products
from twinbridge.engines.imodel import EnginePool

SOURCE = SAMPLE_IFC / "test.ifc"
PRODUCTS = len(importable_products(ifcopenshell.open(str(SOURCE))))
EVEREST = 8849.0


def _elements(pool: EnginePool, path: Path) -> dict[str, dict[str, Any]]:
    """Aspect identifier -> element id, GlobalId property and the code of the aspect's RepositoryLink."""
    with pool.open(path) as imodel:
        rows = imodel.query_all(
            "SELECT a.Identifier identifier, e.ECInstanceId id, e.GlobalId globalId, l.CodeValue link"
            " FROM bis.ExternalSourceAspect a JOIN IfcDynamic.IfcProduct e ON e.ECInstanceId = a.Element.Id"
            " JOIN bis.RepositoryLink l ON l.ECInstanceId = a.Scope.Id WHERE a.Kind = 'IfcProduct'"
        )
    return {str(row["identifier"]): row for row in rows}


def _project_extents(pool: EnginePool, path: Path) -> dict[str, dict[str, float]]:
    """{"low": {"x", "y", "z"}, "high": {...}}, from the engine's [x, y, z] corners."""
    with pool.open(path) as imodel:
        extents = imodel.info["projectExtents"]
    return {corner: dict(zip("xyz", extents[corner], strict=True)) for corner in ("low", "high")}


@pytest.fixture(scope="module")
def renewed_global_ids(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test.ifc as an authoring tool that makes new GlobalIds on every export would write it again."""
    model = ifcopenshell.open(str(SOURCE))
    for entity in model.by_type("IfcRoot"):
        entity.GlobalId = ifcopenshell.guid.new()
    path = tmp_path_factory.mktemp("renewed") / "test.ifc"
    model.write(str(path))
    return path


@pytest.fixture(scope="module")
def first_sync(tmp_path_factory: pytest.TempPathFactory, engine_pool: EnginePool) -> Path:
    output = tmp_path_factory.mktemp("first") / "v1.bim"
    synchronize_ifc(
        [SOURCE], None, output, engine_pool, file_keys=["main"], threads=2, ignore_global_ids=True
    )
    return output


def test_without_global_ids_products_are_keyed_on_class_storey_and_tag(
    first_sync: Path, engine_pool: EnginePool
) -> None:
    elements = _elements(engine_pool, first_sync)
    assert len(elements) == PRODUCTS
    assert "IfcDoor/Nivel 1/166070/1" in elements
    assert elements["IfcDoor/Nivel 1/166070/1"]["link"] == "main"


def test_without_global_ids_renewed_global_ids_update_the_same_elements(
    first_sync: Path, renewed_global_ids: Path, engine_pool: EnginePool, tmp_path: Path
) -> None:
    before = _elements(engine_pool, first_sync)
    output = tmp_path / "v2.bim"
    report = synchronize_ifc(
        [renewed_global_ids],
        first_sync,
        output,
        engine_pool,
        file_keys=["main"],
        threads=2,
        ignore_global_ids=True,
    )
    assert (report.inserted, report.updated, report.deleted) == (0, PRODUCTS, 0)
    after = _elements(engine_pool, output)
    assert {key: row["id"] for key, row in after.items()} == {key: row["id"] for key, row in before.items()}
    renewed = {
        str(product.GlobalId) for product in importable_products(ifcopenshell.open(str(renewed_global_ids)))
    }
    assert {row["globalId"] for row in after.values()} == renewed


def test_keyed_on_global_ids_renewed_global_ids_replace_every_element(
    renewed_global_ids: Path, engine_pool: EnginePool, tmp_path: Path
) -> None:
    first = tmp_path / "v1.bim"
    synchronize_ifc([SOURCE], None, first, engine_pool, file_keys=["main"], threads=2)
    report = synchronize_ifc(
        [renewed_global_ids], first, tmp_path / "v2.bim", engine_pool, file_keys=["main"], threads=2
    )
    assert (report.inserted, report.updated, report.deleted) == (PRODUCTS, 0, PRODUCTS)
    assert not set(_elements(engine_pool, first)) & set(_elements(engine_pool, tmp_path / "v2.bim"))


def test_without_global_ids_products_that_share_a_global_id_are_all_imported(
    engine_pool: EnginePool, tmp_path: Path
) -> None:
    model = ifcopenshell.open(str(SOURCE))
    products = importable_products(model)
    products[1].GlobalId = products[0].GlobalId
    source = tmp_path / "duplicate.ifc"
    model.write(str(source))
    kept = synchronize_ifc([source], None, tmp_path / "kept.bim", engine_pool, file_keys=["main"], threads=2)
    assert kept.inserted == PRODUCTS - 1
    assert [issue.code for issue in kept.issues] == ["DuplicateGlobalId"]
    report = synchronize_ifc(
        [source],
        None,
        tmp_path / "all.bim",
        engine_pool,
        file_keys=["main"],
        threads=2,
        ignore_global_ids=True,
    )
    assert report.inserted == PRODUCTS
    assert [issue.code for issue in report.issues] == ["FederationGuidTaken"]


@pytest.fixture(scope="module")
def far_above(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test.ifc with its products stacked up to 23 km high, 250 m apart: no single one is an outlier the
    engine's extents would leave out, and the top is far above any real design."""
    model = ifcopenshell.open(str(SOURCE))
    for index, product in enumerate(importable_products(model)):
        placement = product.ObjectPlacement.RelativePlacement
        x, y, z = placement.Location.Coordinates
        product.ObjectPlacement.RelativePlacement = model.createIfcAxis2Placement3D(
            model.createIfcCartesianPoint((x, y, z + index * 250.0)), placement.Axis, placement.RefDirection
        )
    path = tmp_path_factory.mktemp("far") / "far.ifc"
    model.write(str(path))
    return path


def test_clamped_project_extents_stop_at_everest_height_and_keep_their_xy(
    far_above: Path, engine_pool: EnginePool, tmp_path: Path
) -> None:
    free = tmp_path / "free.bim"
    clamped = tmp_path / "clamped.bim"
    synchronize_ifc([far_above], None, free, engine_pool, file_keys=["main"], threads=2)
    synchronize_ifc([far_above], None, clamped, engine_pool, file_keys=["main"], threads=2, clamp_z=EVEREST)
    unclamped = _project_extents(engine_pool, free)
    extents = _project_extents(engine_pool, clamped)
    assert unclamped["high"]["z"] > 20000
    assert extents["high"]["z"] == EVEREST
    assert extents["low"]["z"] == unclamped["low"]["z"]  # within the limit: as computed
    for corner in ("low", "high"):
        for axis in ("x", "y"):
            assert extents[corner][axis] == pytest.approx(unclamped[corner][axis])


def test_clamping_changes_nothing_when_the_extents_are_within_the_limit(
    first_sync: Path, engine_pool: EnginePool, tmp_path: Path
) -> None:
    output = tmp_path / "clamped.bim"
    synchronize_ifc(
        [SOURCE],
        first_sync,
        output,
        engine_pool,
        file_keys=["main"],
        threads=2,
        ignore_global_ids=True,
        clamp_z=EVEREST,
    )
    assert _project_extents(engine_pool, output) == _project_extents(engine_pool, first_sync)


def test_a_file_given_a_new_key_leaves_its_previous_key_once_and_is_then_unchanged(
    engine_pool: EnginePool, tmp_path: Path
) -> None:
    first = tmp_path / "v1.bim"
    synchronize_ifc([SOURCE], None, first, engine_pool, file_keys=["mapping-1"], threads=2)
    moved = tmp_path / "v2.bim"
    report = synchronize_ifc(
        [SOURCE], first, moved, engine_pool, file_keys=["test.ifc"], previous_keys=["mapping-1"], threads=2
    )
    assert (report.inserted, report.deleted) == (PRODUCTS, PRODUCTS)
    elements = _elements(engine_pool, moved)
    assert len(elements) == PRODUCTS
    assert {row["link"] for row in elements.values()} == {"test.ifc"}
    again = synchronize_ifc(
        [SOURCE],
        moved,
        tmp_path / "v3.bim",
        engine_pool,
        file_keys=["test.ifc"],
        previous_keys=["mapping-1"],
        threads=2,
    )
    assert (again.inserted, again.updated, again.deleted, again.unchanged) == (0, 0, 0, PRODUCTS)
