"""iModel -> IFC: reads the iModel through the engine and builds the IFC file with IfcOpenShell.

Memory stays flat in the number of elements (at 1.5 million, Python and the engine hold what they held at
100,000): IfcOpenShell holds only the file's structure (project, units, georeferencing, spatial structure),
which it writes first, to the temporary file that becomes the export; everything else is appended to it as
STEP text as it is made (stepfragment.py), and nothing per element stays in memory but a product id per
storey for the containments. The elements are read in id order a chunk at a time; per chunk, their meshes
stream from the engine and become representations, then their products (native elements: placement and
product as text; recorded ones: from their IFC records, recorded.py), then the native elements' property
sets (identity, class properties, aspects). The file records (project, units, georeferencing, spatial
structure) are read before the chunks; the relationships gathered along them are written after.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import tempfile
import time
import uuid
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import ifcopenshell
import ifcopenshell.api.geometry

from twinbridge.engines.ifc.entities import required_defaults
from twinbridge.engines.ifc.errors import IfcExportError, SourceIModelError, UnknownModelError
from twinbridge.engines.ifc.factory import EntityFactory
from twinbridge.engines.ifc.geometry import box_mesh
from twinbridge.engines.ifc.identity import derived_global_id, element_global_id
from twinbridge.engines.ifc.mapping import (
    FALLBACK_ENTITY,
    ClassMapping,
    entity_meeting_rules,
    load_mapping_file,
)
from twinbridge.engines.ifc.placement import axis_directions, element_matrix
from twinbridge.engines.ifc.properties import (
    MEASURE_BY_UNIT,
    PropertyDefinition,
    PropertyWriter,
    decode_ec_name,
)
from twinbridge.engines.ifc.recorded import (
    RecordedContent,
    RecordedWriter,
    common_units,
    recorded_mesh,
    usable_file_record,
)
from twinbridge.engines.ifc.records import RECORD_KEY, RECORD_VERSION, UnitScales
from twinbridge.engines.ifc.restore import RecordRestorer
from twinbridge.engines.ifc.stepfragment import (
    StepDirections,
    StepEntityFactory,
    StepFragment,
    StepGeometryWriter,
    StepRef,
)
from twinbridge.engines.ifc.versions import IfcVersion, resolve_ifc_version
from twinbridge.engines.imodel import EnginePool, IModelFileError, IModelSession
from twinbridge.engines.imodel.session import GraphicsExportReport

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]
"""Called with (phase, done, total); phases are "graphics" (elements exported) and "writing"."""
DiskCheck = Callable[[int, int], None]
"""Called with (estimated size of the finished file, bytes written so far) after each chunk of elements, the
estimate extrapolated from the elements written; raises (an OSError with ENOSPC) to stop a run that would not
fit. The first call comes after the first chunk, seconds into an export."""

IDENTITY_PSET = "iModelElement"
APPLICATION = "twinbridge"
APPLICATION_VERSION = "0.1.0"
# Elements read, meshed and written at a time (the engine binds their ids as a virtual set): what Python and
# the engine hold of the elements is one chunk's.
_ELEMENT_CHUNK = 5000
# Recorded elements per query of their IFC records.
_RECORD_BATCH = 1000
# Products per IfcRelContainedInSpatialStructure of a storey (see `_contain_products`).
_CONTAINED_PER_RELATIONSHIP = 100_000
# The colour of a shape kept in an IFC record (an opening's: the connector keeps no colour of it).
RECORDED_SHAPE_COLOR = (204, 204, 204, 255)


@dataclass
class ExportSummary:
    """What an export did, for the CLI's summary line and the run's report."""

    output: Path
    ifc_version: str
    schema: str
    elements: int = 0
    elements_with_geometry: int = 0
    bounding_box_fallbacks: int = 0
    triangles: int = 0
    storeys: int = 0
    engine_restarts: int = 0
    seconds: float = 0.0
    failed_element_ids: list[str] = field(default_factory=list)
    # "0x1f: IfcWallStandardCase written as IfcWall", per element whose entity could not be written validly.
    entity_substitutions: list[str] = field(default_factory=list)
    # "0x1f: IfcWall.PredefinedType = X is not a value of ...": per thing of an element or of the file's
    # structure the target schema cannot hold (an attribute, a relationship, a type), by element or GlobalId.
    not_carried: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _ElementRow:
    element_id: int
    class_id: str
    model_id: str
    category_id: str | None
    code_value: str | None
    user_label: str | None
    federation_guid: str | None
    bbox_low: tuple[float, float, float]
    bbox_high: tuple[float, float, float]
    origin: tuple[float, float, float]
    yaw: float
    pitch: float
    roll: float
    product: StepRef | None = None  # its id in the fragment
    geometry: str = "None"
    shape: int | None = None  # id of its IfcProductDefinitionShape in the geometry fragment
    recorded: bool = False  # has an IFC record: written from it, as STEP text (recorded.py)


def export_imodel_to_ifc(
    source: Path | str,
    destination: Path | str,
    *,
    ifc_version: str | None = None,
    model_ids: Sequence[str] | None = None,
    mapping: ClassMapping | Path | str | None = None,
    pool: EnginePool | None = None,
    progress: ProgressCallback | None = None,
    check_disk: DiskCheck | None = None,
) -> ExportSummary:
    """Export the 3D elements of an iModel snapshot to an IFC file (written atomically).

    Raises `IfcExportError` subclasses for bad input (unknown version or model, invalid mapping file, a file
    that is not an iModel) and `EngineError` subclasses when the engine itself fails.
    """
    started = time.monotonic()
    version = resolve_ifc_version(ifc_version)
    class_mapping = mapping if isinstance(mapping, ClassMapping) else ClassMapping()
    if isinstance(mapping, Path | str):
        class_mapping = load_mapping_file(mapping)
    class_mapping.check(version.schema)
    source_path = Path(source)
    destination_path = Path(destination)
    if not source_path.is_file():
        raise SourceIModelError(f"{source_path} does not exist or is not a file")

    own_pool = pool is None
    engines = pool or EnginePool(1)
    # The export creates millions of objects; the cyclic collector would rescan the long-lived ones again
    # and again (a 50k-element export ran twice as long with it). Nothing here makes reference cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with engines.open(source_path) as imodel:
            builder = _IfcBuilder(imodel, version, class_mapping, destination_path, progress, check_disk)
            summary = builder.run(model_ids)
    except IModelFileError as problem:
        raise SourceIModelError(f"{source_path} is not a readable iModel: {problem.message}") from None
    finally:
        if collecting:
            gc.enable()
        if own_pool:
            engines.close()
    summary.seconds = time.monotonic() - started
    return summary


def _parse_id(text: str) -> int | None:
    text = text.strip()
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _point(value: Any) -> tuple[float, float, float]:
    if not isinstance(value, dict):
        return (0.0, 0.0, 0.0)
    return (float(value.get("x", 0.0)), float(value.get("y", 0.0)), float(value.get("z", 0.0)))


def _json_object(stored: Any) -> dict[str, Any] | None:
    """A JSON object as the engine returns a json_extract of one (text), or None when it is not one."""
    try:
        value = json.loads(stored) if isinstance(stored, str) else stored
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _IfcBuilder:
    def __init__(
        self,
        imodel: IModelSession,
        version: IfcVersion,
        mapping: ClassMapping,
        destination: Path,
        progress: ProgressCallback | None,
        check_disk: DiskCheck | None = None,
    ) -> None:
        self.imodel = imodel
        self.check_disk = check_disk
        self.version = version
        self.mapping = mapping
        self.destination = destination
        self.progress = progress or (lambda phase, done, total: None)
        self.file = ifcopenshell.file(schema=cast(Any, version.schema))
        self.schema = version.schema
        self.create = EntityFactory(self.file)
        try:
            self.imodel_guid = uuid.UUID(str(imodel.info.get("iModelId")))
        except ValueError:
            self.imodel_guid = uuid.uuid5(uuid.NAMESPACE_URL, str(imodel.path))
        self.owner_history: Any = None
        self.definitions: dict[str, list[PropertyDefinition]] = {}
        self.summary = ExportSummary(destination, version.name, version.schema)

    # ---- the steps

    def run(self, model_ids: Sequence[str] | None) -> ExportSummary:
        models = {str(model["id"]): model for model in self.imodel.info.get("models", [])}
        selected = self._select_models(models, model_ids)
        census = self._census(selected)
        self.summary.elements = sum(count for _, _, _, count in census)
        native_models = {model_id for _, model_id, recorded, _ in census if not recorded}
        recorded_elements = any(recorded for _, _, recorded, _ in census)
        files = self._read_file_records(selected) if recorded_elements else []
        units_record, scales = common_units(files) if files else (None, UnitScales())
        self.scales = scales
        content = RecordedContent(
            self.schema, scales, RecordRestorer(self.create, self.schema, scales), files=files
        )
        self.recorded = RecordedWriter(content, self.create, self._root, scales.length)
        class_names, class_chains = self._read_classes({class_id for class_id, _, _, _ in census})
        self.shared_guids = self._shared_federation_guids()
        self._write_header()
        # The own site and building hold the native elements (and stand for the structure of an empty iModel).
        project_placement, body_context = self._create_project(units_record, bool(native_models) or not files)
        storey_placements = self._create_spatial_structure(native_models, models, project_placement)
        make_product = self._product_maker(class_names, class_chains, storey_placements)
        fragment = self._start_file()
        self.fragment = fragment
        try:
            self.text = StepEntityFactory(fragment, self.schema)
            self.directions = StepDirections(self.text)
            self.property_writer = PropertyWriter(self.text, self.schema)
            self.recorded.owner_history = self.owner_history
            self.recorded.start_fragment(
                self.text, self._fragment_root, self.recorded.first_site() or self.site
            )
            geometry = StepGeometryWriter(
                fragment,
                self.schema,
                body_context.id(),
                self.version.tessellation,
                1.0 / self.scales.length,
                self.axis_context.id(),
            )
            self.geometry_writer = geometry  # recorded shapes (openings') are written with it too
            self.categories = self._read_categories()
            self.aspect_classes = self._aspect_classes() if native_models else []
            report = GraphicsExportReport()
            done = 0
            self.progress("graphics", 0, self.summary.elements)
            for rows in self._element_chunks(selected):
                self._add_geometry(rows, geometry, report)
                for row in rows:
                    make_product(row)
                self._add_records([row for row in rows if row.recorded])
                self._add_properties([row for row in rows if not row.recorded], class_names, models)
                done += len(rows)
                self.progress("graphics", done, self.summary.elements)
                if self.check_disk is not None:
                    written = fragment.size()
                    self.check_disk(written * max(self.summary.elements, done) // done, written)
            self.summary.engine_restarts = report.engine_restarts
            self._contain_products()
            self.recorded.finish()
            self.summary.entity_substitutions += content.substitutions
            self.summary.not_carried += content.not_carried
            self._finish_file(fragment)
        finally:
            fragment.close()
            fragment.path.unlink(missing_ok=True)
        return self.summary

    def _select_models(
        self, models: dict[str, dict[str, Any]], model_ids: Sequence[str] | None
    ) -> list[str] | None:
        if not model_ids:
            return None
        selected = []
        for text in model_ids:
            number = _parse_id(str(text))
            key = f"0x{number:x}" if number is not None and number > 0 else None
            if key is None or key not in models:
                raise UnknownModelError(
                    f'model "{text}" is not a model of {self.imodel.path.name}', str(text)
                )
            selected.append(key)
        return selected

    def _model_filter(self, selected: list[str] | None) -> tuple[str, list[Any]]:
        """An ECSQL condition (with its parameter) keeping the selected models' elements; none for all."""
        if selected is None:
            return "1 = 1", []
        return "InVirtualSet(?, Model.Id)", [{"$ids": selected}]

    def _census(self, selected: list[str] | None) -> list[tuple[str, str, bool, int]]:
        """(class id, model id, recorded, element count) of the exported elements, before any is read."""
        condition, params = self._model_filter(selected)
        census = []
        for record in self.imodel.query(
            "SELECT ECClassId classId, Model.Id modelId,"
            f" json_extract(JsonProperties, '$.{RECORD_KEY}.version') recordVersion, COUNT(*) n"
            f" FROM bis.GeometricElement3d WHERE {condition} GROUP BY ECClassId, Model.Id, recordVersion",
            params or None,
        ):
            recorded = str(record.get("recordVersion")) == str(RECORD_VERSION)
            census.append((str(record["classId"]), str(record["modelId"]), recorded, int(record["n"])))
        return census

    def _shared_federation_guids(self) -> set[str]:
        """The FederationGuids more than one element has: none in a valid iModel (BisCore indexes them as
        unique), but a damaged one must not make GlobalIds repeat. Read through that index (no table of every
        guid), over every element: a guid shared with an element that is not exported is kept by the one
        exported."""
        return {
            str(record["guid"])
            for record in self.imodel.query(
                "SELECT FederationGuid guid FROM bis.Element WHERE FederationGuid IS NOT NULL"
                " GROUP BY FederationGuid HAVING COUNT(*) > 1"
            )
        }

    def _element_chunks(self, selected: list[str] | None) -> Iterator[list[_ElementRow]]:
        """The exported elements in id order, `_ELEMENT_CHUNK` at a time (each chunk a query of its own)."""
        condition, params = self._model_filter(selected)
        # The lower bound is bound as an id, and 0 is not a valid one (it would bind NULL): ids start at 1.
        first = 1
        while True:
            rows: list[_ElementRow] = []
            for record in self.imodel.query(
                "SELECT ECInstanceId id, ECClassId classId, Model.Id modelId, Category.Id categoryId,"
                " CodeValue code, UserLabel label, FederationGuid guid,"
                " Origin origin, Yaw yaw, Pitch pitch, Roll roll, BBoxLow low, BBoxHigh high,"
                f" json_extract(JsonProperties, '$.{RECORD_KEY}.version') recordVersion"
                f" FROM bis.GeometricElement3d WHERE ECInstanceId >= ? AND {condition}"
                f" ORDER BY ECInstanceId LIMIT {_ELEMENT_CHUNK}",
                [{"$id": f"0x{first:x}"}, *params],
            ):
                rows.append(
                    _ElementRow(
                        element_id=int(record["id"], 16),
                        class_id=str(record["classId"]),
                        model_id=str(record["modelId"]),
                        category_id=record.get("categoryId"),
                        code_value=record.get("code"),
                        user_label=record.get("label"),
                        federation_guid=record.get("guid"),
                        bbox_low=_point(record.get("low")),
                        bbox_high=_point(record.get("high")),
                        origin=_point(record.get("origin")),
                        yaw=float(record.get("yaw") or 0.0),
                        pitch=float(record.get("pitch") or 0.0),
                        roll=float(record.get("roll") or 0.0),
                        recorded=str(record.get("recordVersion")) == str(RECORD_VERSION),
                    )
                )
            if not rows:
                return
            yield rows
            first = rows[-1].element_id + 1

    def _global_id(self, row: _ElementRow) -> str:
        """The row's FederationGuid as a GlobalId; when other exported elements share it, only the first
        exported keeps it (GlobalIds must stay unique in a file) and the others get one of their own."""
        guid = row.federation_guid
        if guid is not None and guid in self.shared_guids:
            if guid in self.used_shared_guids:
                return element_global_id(None, row.element_id, self.imodel_guid)
            self.used_shared_guids.add(guid)
        return element_global_id(guid, row.element_id, self.imodel_guid)

    def _read_classes(self, class_ids: set[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
        """Full names of the element classes and, per class, its chain of names from itself to the root."""
        if not class_ids:
            return {}, {}
        depth = {
            str(row["classId"]): int(row["n"])
            for row in self.imodel.query(
                "SELECT SourceECInstanceId classId, COUNT(*) n FROM meta.ClassHasAllBaseClasses"
                " GROUP BY SourceECInstanceId"
            )
        }
        bases: dict[str, list[tuple[int, str]]] = {class_id: [] for class_id in class_ids}
        names: dict[str, str] = {}
        for row in self.imodel.query(
            "SELECT r.SourceECInstanceId classId, r.TargetECInstanceId baseId,"
            " ec_classname(r.TargetECInstanceId, 's:c') baseName FROM meta.ClassHasAllBaseClasses r"
            " WHERE InVirtualSet(?, r.SourceECInstanceId)",
            [{"$ids": sorted(class_ids)}],
        ):
            class_id, base_id = str(row["classId"]), str(row["baseId"])
            # A class is its own first "base" (it has the most ancestors); nearer bases have more ancestors.
            bases[class_id].append((depth.get(base_id, 0), str(row["baseName"])))
            if base_id == class_id:
                names[class_id] = str(row["baseName"])
        chains = {
            class_id: [name for _, name in sorted(entries, key=lambda entry: -entry[0])]
            for class_id, entries in bases.items()
        }
        for class_id in class_ids:
            names.setdefault(class_id, chains[class_id][0] if chains[class_id] else f"Unknown:{class_id}")
        return names, chains

    # ---- IFC structure

    def _root(
        self, entity: str, key: str | None = None, global_id: str | None = None, **attributes: Any
    ) -> Any:
        """An IfcRoot entity with a deterministic GlobalId (and the owner history IFC2X3 requires)."""
        return self.create(entity, **self._root_attributes(entity, key, global_id, attributes))

    def _fragment_root(self, entity: str, key: str, global_id: str | None = None, **attributes: Any) -> Any:
        """`_root`, written to the STEP fragment (for entities no IfcOpenShell entity refers to)."""
        return self.text(entity, **self._root_attributes(entity, key, global_id, attributes))

    def _root_attributes(
        self, entity: str, key: str | None, global_id: str | None, attributes: dict[str, Any]
    ) -> dict[str, Any]:
        if global_id is None:
            global_id = derived_global_id(self.imodel_guid, key or entity)
        if self.owner_history is not None:
            attributes["OwnerHistory"] = self.owner_history
        return {"GlobalId": global_id, **attributes}

    def _write_header(self) -> None:
        header = self.file.header
        header.file_description.description = (self.version.file_description,)
        header.file_name.name = self.destination.name
        header.file_name.originating_system = f"{APPLICATION} {APPLICATION_VERSION}"
        header.file_name.preprocessor_version = f"{APPLICATION} {APPLICATION_VERSION} (IfcOpenShell)"
        header.file_name.organization = (APPLICATION,)

    def _create_owner_history(self) -> None:
        create = self.create
        organization = create("IfcOrganization", Name=APPLICATION)
        person = create("IfcPerson", FamilyName="twinbridge export")
        user = create("IfcPersonAndOrganization", ThePerson=person, TheOrganization=organization)
        application = create(
            "IfcApplication",
            ApplicationDeveloper=organization,
            Version=APPLICATION_VERSION,
            ApplicationFullName="twinbridge iModel to IFC exporter",
            ApplicationIdentifier=APPLICATION,
        )
        self.owner_history = create(
            "IfcOwnerHistory",
            OwningUser=user,
            OwningApplication=application,
            ChangeAction="NOCHANGE",
            CreationDate=int(time.time()),
        )

    def _create_project(self, units_record: Any, native: bool) -> tuple[Any, Any]:
        """Project, contexts, units, georeferencing and the recorded spatial structure; the own site and
        building of native elements when `native` (returns the building's placement, and the body context)."""
        create = self.create
        recorded = self.recorded
        if self.version.owner_history:
            self._create_owner_history()
        world = create("IfcAxis2Placement3D", Location=create("IfcCartesianPoint", Coordinates=[0.0] * 3))
        context_attributes: dict[str, Any] = {"Precision": 1.0e-5, **recorded.context_attributes()}
        context = create(
            "IfcGeometricRepresentationContext",
            ContextIdentifier="Model",
            ContextType="Model",
            CoordinateSpaceDimension=3,
            WorldCoordinateSystem=world,
            **context_attributes,
        )
        body = create(
            "IfcGeometricRepresentationSubContext",
            ContextIdentifier="Body",
            ContextType="Model",
            ParentContext=context,
            TargetView="MODEL_VIEW",
        )
        self.axis_context = create(
            "IfcGeometricRepresentationSubContext",
            ContextIdentifier="Axis",
            ContextType="Model",
            ParentContext=context,
            TargetView="GRAPH_VIEW",
        )
        recorded.model_context = context
        recorded.contexts.update({("Body", "Model"): body, ("Axis", "Model"): self.axis_context})
        units = recorded.units(units_record) if units_record is not None else None
        if units is None:
            units = create(
                "IfcUnitAssignment",
                Units=[
                    create("IfcSIUnit", UnitType="LENGTHUNIT", Name="METRE"),
                    create("IfcSIUnit", UnitType="AREAUNIT", Name="SQUARE_METRE"),
                    create("IfcSIUnit", UnitType="VOLUMEUNIT", Name="CUBIC_METRE"),
                    create("IfcSIUnit", UnitType="PLANEANGLEUNIT", Name="RADIAN"),
                    create("IfcSIUnit", UnitType="MASSUNIT", Prefix="KILO", Name="GRAM"),
                ],
            )
        name = str(self.imodel.info.get("name") or self.imodel.path.stem)
        project_id, project_attributes = recorded.project_attributes()
        project_attributes.setdefault("Name", name)
        if "Description" not in project_attributes:
            project_attributes["Description"] = self.imodel.info.get("description") or None
        self.project = self._root(
            "IfcProject",
            global_id=project_id or derived_global_id(self.imodel_guid, "project"),
            RepresentationContexts=[context],
            UnitsInContext=units,
            **project_attributes,
        )
        recorded.georeference(context)
        recorded.create_spatial_structure(
            self.project,
            lambda points, triangles: ifcopenshell.api.geometry.add_mesh_representation(
                self.file, body, [points], faces=[triangles]
            ),
        )
        self.world = world
        self.site = None
        if not native:
            return None, body
        site_placement = create("IfcLocalPlacement", RelativePlacement=world)
        self.site = self._root(
            "IfcSite", "site", Name="Site", ObjectPlacement=site_placement, CompositionType="ELEMENT"
        )
        building_placement = create(
            "IfcLocalPlacement", PlacementRelTo=site_placement, RelativePlacement=world
        )
        self.building = self._root(
            "IfcBuilding",
            "building",
            Name=name,
            ObjectPlacement=building_placement,
            CompositionType="ELEMENT",
        )
        self._root(
            "IfcRelAggregates", "aggregates:project", RelatingObject=self.project, RelatedObjects=[self.site]
        )
        self._root(
            "IfcRelAggregates", "aggregates:site", RelatingObject=self.site, RelatedObjects=[self.building]
        )
        return building_placement, body

    def _create_spatial_structure(
        self, native_models: set[str], models: dict[str, dict[str, Any]], building_placement: Any
    ) -> dict[str, StepRef]:
        """One storey per model that holds exported native elements, in model id order; returns the ids of
        their placements."""
        self.storeys: dict[str, Any] = {}
        placements: dict[str, StepRef] = {}
        for model_id in sorted(native_models, key=lambda text: int(text, 16)):
            model = models.get(model_id, {})
            placement = self.create(
                "IfcLocalPlacement", PlacementRelTo=building_placement, RelativePlacement=self.world
            )
            self.storeys[model_id] = self._root(
                "IfcBuildingStorey",
                f"model:{model_id}",
                Name=str(model.get("name") or f"Model {model_id}"),
                LongName=str(model.get("className") or "") or None,
                ObjectPlacement=placement,
                CompositionType="ELEMENT",
            )
            placements[model_id] = StepRef(placement.id())
        if self.storeys:
            self._root(
                "IfcRelAggregates",
                "aggregates:building",
                RelatingObject=self.building,
                RelatedObjects=list(self.storeys.values()),
            )
        self.summary.storeys = len(self.storeys)
        # The products each storey contains, as fragment ids (8 bytes an element).
        self.contained: dict[str, array[int]] = {model_id: array("q") for model_id in self.storeys}
        return placements

    def _product_maker(
        self,
        class_names: dict[str, str],
        class_chains: dict[str, list[str]],
        storey_placements: dict[str, StepRef],
    ) -> Callable[[_ElementRow], None]:
        """A function that writes a row's IfcProduct, after its shape; call it in row order (shared
        FederationGuids: the first keeps it)."""
        entity_by_class: dict[str, tuple[str, dict[str, str]]] = {}
        wanted_by_class: dict[str, str] = {}
        for class_id in class_names:
            wanted = self.mapping.entity_for(class_chains.get(class_id, [class_names[class_id]]), self.schema)
            entity = entity_meeting_rules(wanted, self.schema)
            if entity != wanted:
                wanted_by_class[class_id] = wanted
            defaults = required_defaults(self.schema, entity)
            if defaults is None:
                # Only a mapping file can name an unusable entity, and `check` has ruled that out.
                raise IfcExportError(
                    f"{entity} cannot hold an element of {class_names[class_id]} in {self.schema}"
                )
            entity_by_class[class_id] = (entity, defaults)
        self.used_shared_guids: set[str] = set()

        def make_product(row: _ElementRow) -> None:
            if row.recorded:
                # Written from its record (`_add_records`), with this id.
                row.product = StepRef(self.fragment.reserve(1))
                return
            entity, defaults = entity_by_class[row.class_id]
            name = row.code_value or row.user_label or None
            if name is None and entity == FALLBACK_ENTITY:
                # IfcBuildingElementProxy's WHERE rule HasObjectName requires a Name.
                name = f"{class_names[row.class_id].partition(':')[2]} 0x{row.element_id:x}"
            if row.class_id in wanted_by_class:
                self.summary.entity_substitutions.append(
                    f"0x{row.element_id:x}: {wanted_by_class[row.class_id]} written as {entity}"
                )
            row.product = self._fragment_root(
                entity,
                "",
                global_id=self._global_id(row),
                Name=name,
                ObjectType=class_names[row.class_id],
                ObjectPlacement=self.text(
                    "IfcLocalPlacement",
                    PlacementRelTo=storey_placements[row.model_id],
                    RelativePlacement=self._axis_placement(row),
                ),
                Representation=None if row.shape is None else StepRef(row.shape),
                Tag=f"0x{row.element_id:x}",
                **defaults,
            )
            self.contained[row.model_id].append(row.product)

        return make_product

    def _axis_placement(self, row: _ElementRow) -> StepRef:
        """A native element's placement relative to its storey (whose placement is the world's)."""
        text = self.text
        length = self.scales.length  # the iModel's metres in the file's length unit
        location = text(
            "IfcCartesianPoint", Coordinates=[round(value / length, 9) + 0.0 for value in row.origin]
        )
        directions = axis_directions(row.yaw, row.pitch, row.roll)
        if directions is None:
            return text("IfcAxis2Placement3D", Location=location)
        axis, reference = directions
        return text(
            "IfcAxis2Placement3D",
            Location=location,
            Axis=self.directions(axis),
            RefDirection=self.directions(reference),
        )

    def _add_geometry(
        self, rows: list[_ElementRow], writer: StepGeometryWriter, report: GraphicsExportReport
    ) -> None:
        """The meshes (and line strings) of a chunk's elements, as representations in the fragment."""
        position = {row.element_id: index for index, row in enumerate(rows)}
        # Line strings too (the engine's `lines`): they become an 'Axis' representation of polylines.
        for graphics in self.imodel.export_graphics(
            [row.element_id for row in rows], report=report, lines=True
        ):
            index = position.get(graphics.element_id)
            if index is None:
                continue
            row = rows[index]
            if graphics.failed:
                positions, indices = box_mesh(row.bbox_low, row.bbox_high)
                shape, triangles = writer.representation([((255, 0, 255, 255), positions, indices)])
                row.geometry = "BoundingBox"
                self.summary.bounding_box_fallbacks += 1
                self.summary.failed_element_ids.append(f"0x{row.element_id:x}")
            else:
                shape, triangles = writer.records_representation(graphics.records)
                if shape is not None:
                    row.geometry = "Mesh" if triangles else "Lines"
            if shape is not None:
                row.shape = shape
                self.summary.elements_with_geometry += 1
                self.summary.triangles += triangles

    # ---- recorded elements

    def _add_records(self, rows: list[_ElementRow]) -> None:
        """Recorded elements, from their records read in batches (in element order)."""
        for batch in _chunks(rows, _RECORD_BATCH):
            records = {
                int(record["id"], 16): record.get("record")
                for record in self.imodel.query(
                    f"SELECT ECInstanceId id, json_extract(JsonProperties, '$.{RECORD_KEY}') record"
                    " FROM bis.GeometricElement3d WHERE InVirtualSet(?, ECInstanceId)",
                    [{"$ids": [f"0x{row.element_id:x}" for row in batch]}],
                )
            }
            for row in batch:
                record = _json_object(records.get(row.element_id))
                if record is None:
                    record = {"class": FALLBACK_ENTITY}
                    self.summary.not_carried.append(f"0x{row.element_id:x}: its IFC record is unreadable")
                self.recorded.element(
                    record,
                    int(cast(int, row.product)),
                    row.element_id,
                    self._global_id(row),
                    element_matrix(row.origin, row.yaw, row.pitch, row.roll),
                    row.shape if row.shape is not None else self._recorded_shape(record, row.element_id),
                )

    def _recorded_shape(self, record: dict[str, Any], element_id: int) -> int | None:
        """The body of an element without geometry whose record holds a mesh (`shape`: an opening's, in
        metres relative to the record's placement); None without one."""
        if record.get("shape") is None:
            return None
        try:
            positions, corners = recorded_mesh(record["shape"])
        except ValueError as problem:
            self.summary.not_carried.append(
                f"0x{element_id:x}: the shape in its IFC record is unusable ({problem})"
            )
            return None
        shape, triangles = self.geometry_writer.representation(
            [(RECORDED_SHAPE_COLOR, positions, corners.ravel())]
        )
        if shape is not None:
            self.summary.elements_with_geometry += 1
            self.summary.triangles += triangles
        return shape

    def _read_file_records(self, selected: list[str] | None) -> list[dict[str, Any]]:
        """The IFC records of the files (RepositoryLinks) the exported recorded elements come from."""
        ecsql = (
            "SELECT DISTINCT a.Scope.Id scope FROM bis.ExternalSourceAspect a"
            " JOIN bis.GeometricElement3d e ON e.ECInstanceId = a.Element.Id"
        )
        params: list[Any] | None = None
        if selected is not None:
            ecsql += " WHERE InVirtualSet(?, e.Model.Id)"
            params = [{"$ids": selected}]
        scopes = sorted({str(row["scope"]) for row in self.imodel.query(ecsql, params) if row.get("scope")})
        if not scopes:
            return []
        files = []
        for row in self.imodel.query(
            f"SELECT ECInstanceId id, json_extract(JsonProperties, '$.{RECORD_KEY}') record"
            " FROM bis.RepositoryLink WHERE InVirtualSet(?, ECInstanceId) ORDER BY ECInstanceId",
            [{"$ids": scopes}],
        ):
            record = _json_object(row.get("record"))
            if usable_file_record(record):
                files.append(cast(dict[str, Any], record))
        return files

    # ---- properties

    def _read_categories(self) -> dict[str, str]:
        return {
            str(row["id"]): str(row.get("name") or row.get("label") or row["id"])
            for row in self.imodel.query(
                "SELECT ECInstanceId id, CodeValue name, UserLabel label FROM bis.Category"
            )
        }

    def _add_properties(
        self, rows: list[_ElementRow], class_names: dict[str, str], models: dict[str, dict[str, Any]]
    ) -> None:
        """A chunk's native elements' property sets: identity, class properties, aspects."""
        if not rows:
            return
        writer = self.property_writer
        for row in rows:
            properties = [
                writer.single("ElementId", "IfcIdentifier", f"0x{row.element_id:x}"),
                writer.single("ClassName", "IfcLabel", class_names[row.class_id]),
                writer.single("ModelId", "IfcIdentifier", row.model_id),
                writer.single(
                    "Model", "IfcLabel", str(models.get(row.model_id, {}).get("name") or row.model_id)
                ),
                writer.single("Geometry", "IfcLabel", row.geometry),
            ]
            if row.category_id:
                properties.append(writer.single("CategoryId", "IfcIdentifier", row.category_id))
                properties.append(
                    writer.single(
                        "Category", "IfcLabel", self.categories.get(row.category_id, row.category_id)
                    )
                )
            if row.code_value:
                properties.append(writer.text("CodeValue", row.code_value))
            if row.user_label:
                properties.append(writer.text("UserLabel", row.user_label))
            self._property_set(row, IDENTITY_PSET, properties)
        by_id = {row.element_id: row for row in rows}
        by_class: dict[str, list[str]] = {}
        for row in rows:
            by_class.setdefault(row.class_id, []).append(f"0x{row.element_id:x}")
        for class_id, element_ids in sorted(by_class.items(), key=lambda item: class_names[item[0]]):
            definitions = self._property_definitions(class_id)
            if not definitions:
                continue
            class_name = class_names[class_id]
            schema_name, _, short_name = class_name.partition(":")
            set_name = f"{decode_ec_name(schema_name)}.{decode_ec_name(short_name)}"
            columns = ", ".join(
                f"[{definition.name}] p{index}" for index, definition in enumerate(definitions)
            )
            for record in self.imodel.query(
                f"SELECT ECInstanceId id, {columns} FROM ONLY [{schema_name}].[{short_name}]"
                " WHERE InVirtualSet(?, ECInstanceId) ORDER BY ECInstanceId",
                [{"$ids": element_ids}],
            ):
                properties = self._property_values(writer, definitions, record)
                if properties:
                    self._property_set(by_id[int(record["id"], 16)], set_name, properties)
        self._add_aspects(writer, by_id)

    def _property_values(
        self, writer: PropertyWriter, definitions: list[PropertyDefinition], record: dict[str, Any]
    ) -> list[Any]:
        """The IFC properties of one queried row (columns p0, p1, ...), measures in the file's units."""
        properties = []
        for index, definition in enumerate(definitions):
            value = record.get(f"p{index}")
            if definition.measure is not None:
                value = self.scales.from_si(definition.measure, value)
            converted = writer.convert(definition, value)
            if converted is not None:
                properties.append(converted)
        return properties

    def _aspect_classes(self) -> list[tuple[str, str, list[PropertyDefinition]]]:
        """(class name, property set name, definitions) of the aspect classes outside BisCore that have
        exported properties, in class name order (read once per export)."""
        aspect_classes = {
            str(row["classId"]): str(row["className"])
            for base in ("bis.ElementUniqueAspect", "bis.ElementMultiAspect")
            for row in self.imodel.query(
                f"SELECT DISTINCT ECClassId classId, ec_classname(ECClassId, 's:c') className FROM {base}"
            )
        }
        classes = []
        for class_id, class_name in sorted(aspect_classes.items(), key=lambda item: item[1]):
            schema_name, _, short_name = class_name.partition(":")
            definitions = self._property_definitions(class_id) if schema_name != "BisCore" else []
            if definitions:
                set_name = f"{decode_ec_name(schema_name)}.{decode_ec_name(short_name)}"
                classes.append((class_name, set_name, definitions))
        return classes

    def _add_aspects(self, writer: PropertyWriter, by_id: dict[int, _ElementRow]) -> None:
        """Each aspect of a native element (ElementUniqueAspect, ElementMultiAspect; not BisCore's, such as
        ExternalSourceAspect) as a property set named after its class, typed as class properties are; a
        second aspect of one class on an element is `<set name> 2`, and so on (set names are unique)."""
        element_ids = [f"0x{element_id:x}" for element_id in by_id]
        for class_name, set_name, definitions in self.aspect_classes:
            schema_name, _, short_name = class_name.partition(":")
            columns = ", ".join(
                f"[{definition.name}] p{index}" for index, definition in enumerate(definitions)
            )
            counts: dict[int, int] = {}
            for record in self.imodel.query(
                f"SELECT Element.Id elementId, {columns} FROM ONLY [{schema_name}].[{short_name}]"
                " WHERE InVirtualSet(?, Element.Id) ORDER BY Element.Id, ECInstanceId",
                [{"$ids": element_ids}],
            ):
                element = by_id[int(str(record["elementId"]), 16)]
                properties = self._property_values(writer, definitions, record)
                if not properties:
                    continue
                counts[element.element_id] = counts.get(element.element_id, 0) + 1
                number = counts[element.element_id]
                self._property_set(element, set_name if number == 1 else f"{set_name} {number}", properties)

    def _property_set(self, row: _ElementRow, name: str, properties: list[Any]) -> None:
        key = f"0x{row.element_id:x}:{name}"
        # Written to the fragment: nothing in IfcOpenShell's part refers to property sets.
        property_set = self._fragment_root(
            "IfcPropertySet", f"pset:{key}", Name=name, HasProperties=properties
        )
        self._fragment_root(
            "IfcRelDefinesByProperties",
            f"defines:{key}",
            RelatedObjects=[row.product],
            RelatingPropertyDefinition=property_set,
        )

    def _property_definitions(self, class_id: str) -> list[PropertyDefinition]:
        """The properties of a class and its bases outside BisCore: what the class adds to a plain element."""
        definitions = self.definitions.get(class_id)
        if definitions is None:
            definitions = self.definitions[class_id] = self._read_property_definitions(class_id)
        return definitions

    def _read_property_definitions(self, class_id: str) -> list[PropertyDefinition]:
        records = self.imodel.query_all(
            "SELECT p.Name name, p.Kind kind, p.PrimitiveType primitiveType, p.Enumeration.Id enumerationId,"
            " p.KindOfQuantity.Id quantityId FROM meta.ECPropertyDef p"
            " JOIN meta.ECClassDef c ON c.ECInstanceId = p.Class.Id"
            " JOIN meta.ECSchemaDef s ON s.ECInstanceId = c.Schema.Id"
            " WHERE p.Class.Id IN (SELECT r.TargetECInstanceId FROM meta.ClassHasAllBaseClasses r"
            " WHERE r.SourceECInstanceId = ?) AND s.Name <> 'BisCore' ORDER BY p.Class.Id, p.Ordinal",
            [{"$id": class_id}],
        )
        definitions: list[PropertyDefinition] = []
        seen: set[str] = set()
        for record in records:
            name = str(record["name"])
            if name in seen:
                continue
            seen.add(name)
            enumerators = None
            if record.get("enumerationId"):
                enumerators = self._enumerators(str(record["enumerationId"]))
            measure = None
            if record.get("quantityId"):
                measure = self._measure(str(record["quantityId"]))
            definition = PropertyDefinition(
                name=name,
                kind=int(record.get("kind") or 0),
                primitive_type=record.get("primitiveType"),
                measure=measure,
                enumerators=enumerators,
            )
            if definition.exported:
                definitions.append(definition)
        return definitions

    def _enumerators(self, enumeration_id: str) -> dict[Any, str]:
        cache: dict[str, dict[Any, str]] = self.__dict__.setdefault("_enumeration_cache", {})
        if enumeration_id not in cache:
            rows = self.imodel.query_all(
                "SELECT EnumValues enumValues FROM meta.ECEnumerationDef WHERE ECInstanceId = ?",
                [{"$id": enumeration_id}],
            )
            labels: dict[Any, str] = {}
            for row in rows:
                for value in row.get("enumValues") or []:
                    key = value.get("intValue", value.get("stringValue"))
                    labels[key] = str(value.get("displayLabel") or value.get("name") or key)
            cache[enumeration_id] = labels
        return cache[enumeration_id]

    def _measure(self, quantity_id: str) -> str | None:
        cache: dict[str, str | None] = self.__dict__.setdefault("_measure_cache", {})
        if quantity_id not in cache:
            rows = self.imodel.query_all(
                "SELECT PersistenceUnit unit FROM meta.KindOfQuantityDef WHERE ECInstanceId = ?",
                [{"$id": quantity_id}],
            )
            unit = str(rows[0].get("unit") or "") if rows else ""
            # Older files spell units "M(DefaultRealU)"; newer ones "u:M".
            unit = re.sub(r"\(.*\)$", "", unit)
            if unit and ":" not in unit:
                unit = f"u:{unit}"
            cache[quantity_id] = MEASURE_BY_UNIT.get(unit)
        return cache[quantity_id]

    # ---- finishing

    def _contain_products(self) -> None:
        """The native products in their storeys, at most `_CONTAINED_PER_RELATIONSHIP` to a relationship
        (a storey may have several), so that no relationship's text is the size of the whole export."""
        for model_id, products in self.contained.items():
            for index, start in enumerate(range(0, len(products), _CONTAINED_PER_RELATIONSHIP)):
                self._fragment_root(
                    "IfcRelContainedInSpatialStructure",
                    f"contains:{model_id}" if index == 0 else f"contains:{model_id}:{index + 1}",
                    RelatedElements=[
                        StepRef(product) for product in products[start : start + _CONTAINED_PER_RELATIONSHIP]
                    ],
                    RelatingStructure=self.storeys[model_id],
                )

    def _temporary(self, kind: str) -> Path:
        """A new empty file next to the destination (same file system, so the final rename is atomic)."""
        directory = self.destination.resolve().parent
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{self.destination.name}.", suffix=f".{kind}.tmp", dir=directory
        )
        os.close(handle)
        return Path(temporary)

    def _start_file(self) -> StepFragment:
        """The file that becomes the export, begun with IfcOpenShell's part: the structure, complete by now
        (nothing after this creates IfcOpenShell entities; `_finish_file` checks). The rest follows it as
        STEP text, with ids above the part's."""
        part = self._temporary("part")
        target = self._temporary("ifc")
        try:
            self.file.write(str(part), format=".ifc")
            self.part_max_id = int(self.file.get_max_id())
            return StepFragment(target, self.part_max_id + 1, part)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        finally:
            part.unlink(missing_ok=True)

    def _finish_file(self, fragment: StepFragment) -> None:
        """End the file and rename it to the destination, so that a failed export never leaves a partial
        file."""
        self.progress("writing", 0, 1)
        if self.file.get_max_id() != self.part_max_id:
            raise IfcExportError("internal error: IfcOpenShell entities were made after its part was written")
        fragment.finish()
        os.chmod(fragment.path, 0o644)
        os.replace(fragment.path, self.destination)
        self.progress("writing", 1, 1)
