"""IFC -> iModel -> IFC in the file's own schema, through the connector's IFC record: the exporter gives back
each product's GlobalId, class, attributes, container, type, material, property and quantity sets (names,
values in the file's units), and the file's units, spatial structure and georeferencing.

Allowed differences are data (DIFFERENCES), not code.
"""

from __future__ import annotations

from typing import Any

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.util.unit
import pytest

from tests.conftest import SAMPLE_IFC
from twinbridge.engines.connectors import synchronize_ifc
from twinbridge.engines.ifc import ExportSummary, export_imodel_to_ifc, validate_ifc
from twinbridge.engines.imodel import EnginePool

# Sample -> IFC version of its own schema.
SAMPLES = {
    "pass-sps005-250612_wall_with_window.ifc": "IFC4 RV 1.2",
    "revit2011_wall1.ifc": "IFC2x3 CV 2.0",
    "pass-qty001-correct_quantities_on_occurrence.ifc": "IFC4.3",
    "pass-grf003-correct_building_with_georeferencing.ifc": "IFC4.3",
}
# Per sample, what may differ: classes written as another class in the same schema (none: a standard case
# keeps its layer set usage).
DIFFERENCES: dict[str, dict[str, Any]] = {
    "pass-sps005-250612_wall_with_window.ifc": {"classes": {}},
    "revit2011_wall1.ifc": {"classes": {}},
    "pass-qty001-correct_quantities_on_occurrence.ifc": {"classes": {}},
    "pass-grf003-correct_building_with_georeferencing.ifc": {"classes": {}},
}
ATTRIBUTES = ("Name", "Description", "ObjectType", "Tag")

RoundTrips = dict[str, tuple[ifcopenshell.file, ifcopenshell.file, ExportSummary, list[dict[str, Any]]]]


@pytest.fixture(scope="module")
def round_trips(tmp_path_factory: pytest.TempPathFactory, engine_pool: EnginePool) -> RoundTrips:
    """Per sample: the source, the exported file, the export's summary and its express-rule errors."""
    directory = tmp_path_factory.mktemp("record-round-trip")
    results: RoundTrips = {}
    for name, version in SAMPLES.items():
        source = SAMPLE_IFC / name
        imodel = directory / f"{source.stem}.bim"
        synchronize_ifc([source], None, imodel, engine_pool, file_keys=["main"])
        path = directory / f"{source.stem}.ifc"
        summary = export_imodel_to_ifc(imodel, path, ifc_version=version, pool=engine_pool)
        results[name] = (
            ifcopenshell.open(str(source)),
            ifcopenshell.open(str(path)),
            summary,
            validate_ifc(path, express_rules=True),
        )
    return results


def exported_products(model: ifcopenshell.file) -> list[Any]:
    return [
        product
        for product in model.by_type("IfcProduct")
        if not product.is_a("IfcSpatialElement") and not product.is_a("IfcSpatialStructureElement")
    ]


def comparable(value: Any) -> Any:
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-6, abs=1e-9)
    if isinstance(value, dict):
        return {key: comparable(item) for key, item in value.items() if key != "id"}
    if isinstance(value, list | tuple):
        return [comparable(item) for item in value]
    return value


def own_sets(product: Any) -> dict[str, Any]:
    """The product's own property and quantity sets (not its type's), by name, without entity ids."""
    return {
        name: {key: comparable(value) for key, value in values.items() if key != "id"}
        for name, values in ifcopenshell.util.element.get_psets(product, should_inherit=False).items()
    }


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_the_round_trip_meets_the_express_rules(round_trips: RoundTrips, sample: str) -> None:
    assert round_trips[sample][3] == []


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_every_product_comes_back_with_its_class_attributes_container_type_and_sets(
    round_trips: RoundTrips, sample: str
) -> None:
    source, exported, _, _ = round_trips[sample]
    substituted = DIFFERENCES[sample]["classes"]

    for product in exported_products(source):
        copy = exported.by_guid(product.GlobalId)
        assert copy.is_a() == substituted.get(product.is_a(), product.is_a()), product
        assert [getattr(copy, name) for name in ATTRIBUTES] == [getattr(product, name) for name in ATTRIBUTES]
        if hasattr(product, "PredefinedType"):
            assert copy.PredefinedType == product.PredefinedType
        container = ifcopenshell.util.element.get_container(product)
        copy_container = ifcopenshell.util.element.get_container(copy)
        if not product.is_a("IfcFeatureElementSubtraction"):  # openings are in their host's storey
            assert getattr(copy_container, "GlobalId", None) == getattr(container, "GlobalId", None)
        source_type = ifcopenshell.util.element.get_type(product)
        copy_type = ifcopenshell.util.element.get_type(copy)
        assert getattr(copy_type, "GlobalId", None) == getattr(source_type, "GlobalId", None)
        assert own_sets(copy) == own_sets(product), product
        material = ifcopenshell.util.element.get_material(product, should_skip_usage=False)
        copy_material = ifcopenshell.util.element.get_material(copy, should_skip_usage=False)
        assert getattr(copy_material, "is_a", lambda: None)() == getattr(material, "is_a", lambda: None)()


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_the_file_comes_back_with_its_units_spatial_structure_and_georeferencing(
    round_trips: RoundTrips, sample: str
) -> None:
    source, exported, _, _ = round_trips[sample]

    assert ifcopenshell.util.unit.calculate_unit_scale(exported) == pytest.approx(
        ifcopenshell.util.unit.calculate_unit_scale(source)
    )
    assert exported.by_type("IfcProject")[0].GlobalId == source.by_type("IfcProject")[0].GlobalId
    spatial_elements = [
        element
        for element in source.by_type("IfcProduct")
        if element.is_a("IfcSpatialStructureElement") or element.is_a("IfcSpatialElement")
    ]
    for spatial in spatial_elements:
        copy = exported.by_guid(spatial.GlobalId)
        assert (copy.is_a(), copy.Name) == (spatial.is_a(), spatial.Name)
        assert own_sets(copy) == own_sets(spatial), spatial
        if spatial.is_a("IfcBuildingStorey"):
            assert copy.Elevation == pytest.approx(spatial.Elevation)
        parent = ifcopenshell.util.element.get_aggregate(spatial)
        assert ifcopenshell.util.element.get_aggregate(copy).GlobalId == parent.GlobalId
    if source.schema == "IFC2X3":
        return  # IFC2X3 georeferences with site property sets, compared above
    conversions = source.by_type("IfcMapConversion")
    assert len(exported.by_type("IfcMapConversion")) == len(conversions)
    for conversion, copy in zip(conversions, exported.by_type("IfcMapConversion"), strict=True):
        assert (copy.Eastings, copy.Northings, copy.OrthogonalHeight) == pytest.approx(
            (conversion.Eastings, conversion.Northings, conversion.OrthogonalHeight)
        )
        assert copy.TargetCRS.Name == conversion.TargetCRS.Name
