"""Engine fixtures: one warm pool and the generated iModels for the whole session (engines start once)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.engines.helpers import DAMAGED_GEOMETRY_STREAM, GENERATED_ELEMENTS, GENERATED_MODELS
from twinbridge.engines.ifc import ExportSummary, export_imodel_to_ifc
from twinbridge.engines.imodel import EnginePool
from twinbridge.engines.imodel.generator import generate_imodel

ExportFunction = Callable[[Path, str], tuple[Path, ExportSummary]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which("node") is None:
        skip = pytest.mark.skip(reason="the iModel engine needs node on PATH")
        for item in items:
            if "integration/engines" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def engine_pool() -> Iterator[EnginePool]:
    with EnginePool(2) as pool:
        yield pool


@pytest.fixture(scope="session")
def generated_imodel(tmp_path_factory: pytest.TempPathFactory, engine_pool: EnginePool) -> Path:
    path = tmp_path_factory.mktemp("imodels") / "generated.bim"
    generate_imodel(
        path, elements=GENERATED_ELEMENTS, models=GENERATED_MODELS, categories=4, seed=7, pool=engine_pool
    )
    return path


@pytest.fixture(scope="session")
def damaged_imodel(
    tmp_path_factory: pytest.TempPathFactory, generated_imodel: Path
) -> tuple[Path, list[int]]:
    """A copy of the generated iModel whose sphere elements 5 and 11 have a damaged geometry stream."""
    path = tmp_path_factory.mktemp("damaged") / "damaged.bim"
    shutil.copyfile(generated_imodel, path)
    with sqlite3.connect(path) as database:
        damaged = [
            element_id
            for (element_id,) in database.execute(
                "SELECT Id FROM bis_Element WHERE UserLabel IN ('sphere 5', 'sphere 11') ORDER BY Id"
            )
        ]
        database.executemany(
            "UPDATE bis_GeometricElement3d SET GeometryStream = ? WHERE ElementId = ?",
            [(DAMAGED_GEOMETRY_STREAM, element_id) for element_id in damaged],
        )
    assert len(damaged) == 2
    return path, damaged


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory, engine_pool: EnginePool) -> ExportFunction:
    """Export (source, ifc version) once per session; tests share the result."""
    directory = tmp_path_factory.mktemp("ifc")
    done: dict[tuple[Path, str], tuple[Path, ExportSummary]] = {}

    def export(source: Path, ifc_version: str) -> tuple[Path, ExportSummary]:
        key = (source, ifc_version)
        if key not in done:
            target = directory / f"{source.stem}-{ifc_version.replace(' ', '_')}-{len(done)}.ifc"
            done[key] = (
                target,
                export_imodel_to_ifc(source, target, ifc_version=ifc_version, pool=engine_pool),
            )
        return done[key]

    return export
