"""Every sample IFC file, synchronized into an empty iModel and exported again, compared with its source.

Each sample is synchronized once and exported to its own schema (IFC2X3 -> "IFC2x3 CV 2.0", IFC4 -> "IFC4 RV
1.2", IFC4X3 -> "IFC4.3"); one IFC2X3 sample is also exported to IFC4.3. `round_trip.compare` lists the
differences (aspect, GlobalId or key, detail). They must be exactly the ones the tables below allow: a
difference the table does not name fails, and so does an allowed difference that no longer occurs, so the
tables shrink as the connector and the exporter keep more (issue 13). Every exported file must also pass
IfcOpenShell's validation with express rules.

The tables are data: per sample (file stem), per aspect, either "*" (every key of the aspect) or the list of
keys, and why it is allowed. When a test fails, its message holds the measured entries to copy.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.grid
import ifcopenshell.api.project
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.unit
import ifcopenshell.util.unit
import numpy as np
import pytest

from tests.conftest import SAMPLE_IFC
from tests.integration.engines.conftest import ExportFunction
from tests.integration.engines.round_trip import ASPECTS, Difference, FileView, compare, schema_family
from twinbridge.engines.connectors import synchronize_ifc
from twinbridge.engines.ifc import ExportSummary, validate_ifc
from twinbridge.engines.imodel import EnginePool

SAMPLE_IFC_FILES = sorted(SAMPLE_IFC.glob("*.ifc"))
SAME_SCHEMA_VERSION = {"IFC2X3": "IFC2x3 CV 2.0", "IFC4": "IFC4 RV 1.2", "IFC4X3": "IFC4.3"}
CROSS_SCHEMA_SAMPLE, CROSS_SCHEMA_VERSION = "revit2011_wall1", "IFC4.3"


@dataclass(frozen=True)
class Allowed:
    """Differences of one aspect that a round trip may have today: every key ("*") or these keys."""

    keys: Literal["*"] | tuple[str, ...]
    reason: str


# Why a difference is allowed today (measured on the samples; each entry names the products): none is left.
ALLOWED_DIFFERENCES: dict[str, dict[str, Allowed]] = {}

# revit2011_wall1 (IFC2X3) exported to IFC4.3: class names through round_trip.SCHEMA_CLASS_EQUIVALENTS; no
# other difference.
CROSS_SCHEMA_ALLOWED_DIFFERENCES: dict[str, dict[str, Allowed]] = {}


@dataclass(frozen=True)
class RoundTrip:
    exported: Path
    summary: ExportSummary
    differences: list[Difference]
    express_errors: Future[list[dict[str, Any]]]


RoundTripFunction = Callable[[Path, str], RoundTrip]


def express_rule_errors(path: Path) -> list[dict[str, Any]]:
    return validate_ifc(path, express_rules=True)


@pytest.fixture(scope="module")
def round_trip(
    tmp_path_factory: pytest.TempPathFactory, engine_pool: EnginePool, exported: ExportFunction
) -> Iterator[RoundTripFunction]:
    """(sample, IFC version) -> its round trip, made once: sync into an empty iModel, export, compare.

    The express rules take seconds per file in Python: they run in a worker process while the next sample
    synchronizes.
    """
    directory = tmp_path_factory.mktemp("ifc-round-trip")
    imodels: dict[Path, Path] = {}
    sources: dict[Path, FileView] = {}
    done: dict[tuple[Path, str], RoundTrip] = {}
    spawn = multiprocessing.get_context("spawn")  # no fork of a process that runs engine threads
    with ProcessPoolExecutor(1, mp_context=spawn) as validators:

        def make(source: Path, ifc_version: str) -> RoundTrip:
            if (source, ifc_version) not in done:
                if source not in imodels:
                    imodel = directory / f"{source.stem}.bim"
                    synchronize_ifc([source], None, imodel, engine_pool, file_keys=["main"])
                    imodels[source] = imodel
                    sources[source] = FileView.open(source)
                path, summary = exported(imodels[source], ifc_version)
                validation = validators.submit(express_rule_errors, path)
                done[source, ifc_version] = RoundTrip(
                    path, summary, compare(sources[source], path), validation
                )
            return done[source, ifc_version]

        yield make


def same_schema_version(source: Path) -> str:
    return SAME_SCHEMA_VERSION[schema_family(ifcopenshell.open(str(source)))]


CASES = [
    pytest.param(source, None, ALLOWED_DIFFERENCES, id=source.stem[:32]) for source in SAMPLE_IFC_FILES
] + [
    pytest.param(
        SAMPLE_IFC / f"{CROSS_SCHEMA_SAMPLE}.ifc",
        CROSS_SCHEMA_VERSION,
        CROSS_SCHEMA_ALLOWED_DIFFERENCES,
        id=f"{CROSS_SCHEMA_SAMPLE}-to-{CROSS_SCHEMA_VERSION}",
    )
]


def is_allowed(difference: Difference, allowed: dict[str, Allowed]) -> bool:
    entry = allowed.get(difference.aspect)
    return entry is not None and (entry.keys == "*" or difference.key in entry.keys)


def measured_entries(differences: list[Difference]) -> str:
    """The measured differences and the table entries that would allow exactly them, to copy."""
    keys: dict[str, list[str]] = {}
    for difference in differences:
        keys.setdefault(difference.aspect, [])
        if difference.key not in keys[difference.aspect]:
            keys[difference.aspect].append(difference.key)
    entries = [f'    "{aspect}": Allowed({tuple(found)!r}, <reason>),' for aspect, found in keys.items()]
    shown = [f"  {item.aspect} {item.key}: {item.detail[:160]}" for item in differences[:60]]
    more = [f"  ... and {len(differences) - 60} more"] if len(differences) > 60 else []
    return "\n".join(["measured differences:", *shown, *more, "measured entries:", *entries])


@pytest.mark.parametrize(("source", "ifc_version", "table"), CASES)
def test_a_round_trip_differs_from_its_source_only_as_its_table_allows(
    round_trip: RoundTripFunction, source: Path, ifc_version: str | None, table: dict[str, dict[str, Allowed]]
) -> None:
    result = round_trip(source, ifc_version or same_schema_version(source))

    unexpected = [
        difference
        for difference in result.differences
        if not is_allowed(difference, table.get(source.stem, {}))
    ]

    assert unexpected == [], measured_entries(result.differences)


@pytest.mark.parametrize(("source", "ifc_version", "table"), CASES)
def test_every_allowed_difference_of_a_round_trip_still_occurs(
    round_trip: RoundTripFunction, source: Path, ifc_version: str | None, table: dict[str, dict[str, Allowed]]
) -> None:
    """An entry of the table that no longer occurs must go: the table stays a list of today's losses."""
    result = round_trip(source, ifc_version or same_schema_version(source))
    occurring: dict[str, set[str]] = {}
    for difference in result.differences:
        occurring.setdefault(difference.aspect, set()).add(difference.key)

    stale = [
        f"{aspect}: {'*' if entry.keys == '*' else sorted(set(entry.keys) - occurring.get(aspect, set()))}"
        for aspect, entry in table.get(source.stem, {}).items()
        if (entry.keys == "*" and aspect not in occurring)
        or (entry.keys != "*" and set(entry.keys) - occurring.get(aspect, set()))
    ]

    assert stale == [], measured_entries(result.differences)


@pytest.mark.parametrize(("source", "ifc_version", "table"), CASES)
def test_a_round_tripped_file_meets_the_express_rules(
    round_trip: RoundTripFunction, source: Path, ifc_version: str | None, table: dict[str, dict[str, Allowed]]
) -> None:
    result = round_trip(source, ifc_version or same_schema_version(source))

    assert result.express_errors.result() == []
    expected_schema = "IFC4X3" if ifc_version else schema_family(ifcopenshell.open(str(source)))
    assert schema_family(ifcopenshell.open(str(result.exported))) == expected_schema


def test_the_tables_name_known_samples_and_aspects_and_give_reasons() -> None:
    stems = {source.stem for source in SAMPLE_IFC_FILES}
    for table in (ALLOWED_DIFFERENCES, CROSS_SCHEMA_ALLOWED_DIFFERENCES):
        assert set(table) <= stems
        for entries in table.values():
            assert set(entries) <= set(ASPECTS)
            assert all(entry.reason.strip() for entry in entries.values())


def grid_file(path: Path) -> Path:
    """An IFC4 file with a storey holding a 2 x 3 grid: its axes' curves, and a 'FootPrint' curve set of them
    as its representation (no public sample with a grid has a clear license: this one is generated)."""
    model = ifcopenshell.api.project.create_file(version="IFC4")
    project = ifcopenshell.api.root.create_entity(model, ifc_class="IfcProject", name="Grid sample")
    ifcopenshell.api.unit.assign_unit(model)
    model_context = ifcopenshell.api.context.add_context(model, context_type="Model")
    footprint = ifcopenshell.api.context.add_context(
        model,
        context_type="Model",
        context_identifier="FootPrint",
        target_view="PLAN_VIEW",
        parent=model_context,
    )
    site = ifcopenshell.api.root.create_entity(model, ifc_class="IfcSite", name="Site")
    building = ifcopenshell.api.root.create_entity(model, ifc_class="IfcBuilding", name="Building")
    storey = ifcopenshell.api.root.create_entity(model, ifc_class="IfcBuildingStorey", name="Level 1")
    ifcopenshell.api.aggregate.assign_object(model, products=[site], relating_object=project)
    ifcopenshell.api.aggregate.assign_object(model, products=[building], relating_object=site)
    ifcopenshell.api.aggregate.assign_object(model, products=[storey], relating_object=building)
    grid = ifcopenshell.api.root.create_entity(model, ifc_class="IfcGrid", name="Structural grid")
    ifcopenshell.api.geometry.edit_object_placement(model, product=grid)
    ifcopenshell.api.spatial.assign_container(model, products=[grid], relating_structure=storey)
    for tag, start, end in (
        ("A", (0.0, 0.0, 0.0), (0.0, 12.0, 0.0)),
        ("B", (6.0, 0.0, 0.0), (6.0, 12.0, 0.0)),
    ):
        axis = ifcopenshell.api.grid.create_grid_axis(model, grid=grid, axis_tag=tag, uvw_axes="UAxes")
        ifcopenshell.api.grid.create_axis_curve(model, p1=np.array(start), p2=np.array(end), grid_axis=axis)
    for tag, y in (("1", 0.0), ("2", 4.5), ("3", 12.0)):
        axis = ifcopenshell.api.grid.create_grid_axis(model, grid=grid, axis_tag=tag, uvw_axes="VAxes")
        ifcopenshell.api.grid.create_axis_curve(
            model, p1=np.array((-1.0, y, 0.0)), p2=np.array((7.0, y, 0.0)), grid_axis=axis
        )
    curves = [axis.AxisCurve for axis in (*grid.UAxes, *grid.VAxes)]
    grid.Representation = model.createIfcProductDefinitionShape(
        None,
        None,
        [
            model.createIfcShapeRepresentation(
                footprint, "FootPrint", "GeometricCurveSet", [model.createIfcGeometricCurveSet(curves)]
            )
        ],
    )
    model.write(str(path))
    return path


def grid_axes(path: Path) -> list[tuple[str, str, list[tuple[float, ...]]]]:
    """(direction, tag, curve points in metres) of the first grid's axes."""
    model = ifcopenshell.open(str(path))
    scale = ifcopenshell.util.unit.calculate_unit_scale(model)
    (grid,) = model.by_type("IfcGrid")
    return [
        (
            direction,
            str(axis.AxisTag),
            [tuple(round(v * scale, 9) for v in p.Coordinates) for p in axis.AxisCurve.Points],
        )
        for direction in ("UAxes", "VAxes")
        for axis in getattr(grid, direction)
    ]


def test_a_grid_round_trips_with_its_axes_and_its_footprint(
    round_trip: RoundTripFunction, tmp_path_factory: pytest.TempPathFactory
) -> None:
    source = grid_file(tmp_path_factory.mktemp("grid") / "generated-grid.ifc")

    result = round_trip(source, "IFC4 RV 1.2")

    assert result.differences == [], measured_entries(result.differences)
    assert grid_axes(result.exported) == grid_axes(source)
    exported = ifcopenshell.open(str(result.exported))
    (grid,) = exported.by_type("IfcGrid")
    (representation,) = grid.Representation.Representations
    assert (representation.RepresentationIdentifier, representation.RepresentationType) == (
        "FootPrint",
        "GeometricCurveSet",
    )
    assert representation.ContextOfItems.ContextIdentifier == "FootPrint"
    assert len(representation.Items[0].Elements) == 5
    assert result.express_errors.result() == []
