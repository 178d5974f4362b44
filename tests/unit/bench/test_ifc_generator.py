"""bench/ifc_generator.py: the generated files the synchronization benchmark reads are valid IFC4."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.validate

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _generator() -> ModuleType:
    """The bench's module, loaded from its file (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_ifc_generator", BENCH / "ifc_generator.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_generated_file_is_valid_ifc4_with_the_asked_number_of_products_in_storeys(tmp_path: Path) -> None:
    generator = _generator()
    path = generator.generate_ifc(tmp_path / "generated.ifc", 260, products_per_storey=250)

    model = ifcopenshell.open(str(path))
    logger = ifcopenshell.validate.json_logger()
    ifcopenshell.validate.validate(model, logger, express_rules=True)
    assert logger.statements == []
    assert model.schema == "IFC4"
    elements = model.by_type("IfcElement")
    assert len(elements) == 260
    assert {name: len(model.by_type(name)) for name in ("IfcWall", "IfcSlab", "IfcColumn")} == {
        "IfcWall": 130,
        "IfcSlab": 52,
        "IfcColumn": 78,
    }
    assert len({element.GlobalId for element in elements}) == 260
    storeys = {ifcopenshell.util.element.get_container(element).Name for element in elements}
    assert storeys == {"Level 0", "Level 1"}
    wall = model.by_type("IfcWall")[0]
    assert ifcopenshell.util.element.get_psets(wall)["Pset_WallCommon"]["FireRating"] in ("REI 90", "EI 30")
    assert wall.Representation.Representations[0].Items[0].is_a("IfcExtrudedAreaSolid")
    column = model.by_type("IfcColumn")[0]
    assert column.Representation.Representations[0].Items[0].is_a("IfcTriangulatedFaceSet")


def test_the_same_seed_gives_the_same_file(tmp_path: Path) -> None:
    generator = _generator()
    first = generator.generate_ifc(tmp_path / "first.ifc", 50, seed=3)
    second = generator.generate_ifc(tmp_path / "second.ifc", 50, seed=3)
    assert first.read_text().replace("first.ifc", "") == second.read_text().replace("second.ifc", "")
