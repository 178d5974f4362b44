"""The test-iModel generator makes the iModels it is asked for."""

from __future__ import annotations

from pathlib import Path

from tests.integration.engines.helpers import GENERATED_ELEMENTS, GENERATED_MODELS, geometric_element_count
from twinbridge.engines.imodel import EnginePool
from twinbridge.engines.imodel.generator import generate_imodel


def test_generated_imodel_has_the_requested_elements_models_and_classes(
    generated_imodel: Path, engine_pool: EnginePool
) -> None:
    assert geometric_element_count(generated_imodel) == GENERATED_ELEMENTS
    with engine_pool.open(generated_imodel) as imodel:
        physical_models = [
            model for model in imodel.info["models"] if model["className"] == "BisCore:PhysicalModel"
        ]
        classes = {
            row["name"]: row["n"]
            for row in imodel.query(
                "SELECT ec_classname(ECClassId, 's:c') name, COUNT(*) n FROM bis.PhysicalElement"
                " GROUP BY ECClassId"
            )
        }
    assert len(physical_models) == GENERATED_MODELS
    assert classes == {
        "Generic:PhysicalObject": GENERATED_ELEMENTS // 3,
        "TwinbridgeTest:TestBeam": GENERATED_ELEMENTS // 3,
        "TwinbridgeTest:TestColumn": GENERATED_ELEMENTS // 3,
    }


def test_generator_runs_without_a_pool_too(tmp_path: Path) -> None:
    summary = generate_imodel(tmp_path / "small.bim", elements=12, models=1, categories=2, seed=3)

    assert summary["elements"] == 12
    assert geometric_element_count(tmp_path / "small.bim") == 12
