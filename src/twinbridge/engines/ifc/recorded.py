"""Export of what the IFC connector recorded (docs/ifc-connector.md, "The IFC record"), into any IFC schema.

The file records (RepositoryLink `jsonProperties.ifc`) give the project, units, georeferencing and spatial
structure, made with IfcOpenShell before the elements stream. The element records are read in batches after
the geometry stream, in element order, and everything they hold (the product, its placement relative to its
container, property and quantity sets, material, classifications, and the links to its type, groups,
layers, host opening and aggregate) is STEP text in the fragment; the relationships that gather several
elements are written at the end. Whatever the target schema cannot hold is named in `not_carried` (per
element id or GlobalId); classes written as another class in `substitutions`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from twinbridge.engines.ifc.mapping import FALLBACK_ENTITY, entity_meeting_rules, nearest_exportable_entity
from twinbridge.engines.ifc.placement import placement_matrix, relative_axes
from twinbridge.engines.ifc.records import RECORD_VERSION, UnitScales
from twinbridge.engines.ifc.restore import (
    RecordRestorer,
    explicit_attributes,
    is_concrete,
    is_subtype,
    nearest_entity,
    supertype_name,
)
from twinbridge.engines.ifc.stepfragment import StepDirections, StepRef

# Spatial classes of IFC4.3 that older schemas lack: their nearest spatial structure element there.
SPATIAL_REPLACEMENTS = {
    "IfcFacility": "IfcBuilding",
    "IfcFacilityPart": "IfcBuildingStorey",
    "IfcSpatialZone": "IfcSpace",
    "IfcExternalSpatialElement": "IfcSite",
}
# Standard cases whose WHERE rules need one material usage of this class (with the rest written).
STANDARD_CASE_USAGE = {
    "IfcWallStandardCase": "IfcMaterialLayerSetUsage",
    "IfcSlabStandardCase": "IfcMaterialLayerSetUsage",
    "IfcPlateStandardCase": "IfcMaterialLayerSetUsage",
    "IfcBeamStandardCase": "IfcMaterialProfileSetUsage",
    "IfcColumnStandardCase": "IfcMaterialProfileSetUsage",
    "IfcMemberStandardCase": "IfcMaterialProfileSetUsage",
}
# IFC2X3's doors and windows may only be typed by their styles (rule WR1 of IfcDoor and IfcWindow).
IFC2X3_STYLES = {"IfcDoor": "IfcDoorStyle", "IfcWindow": "IfcWindowStyle"}
# Lining and panel properties belong to a door or window type or style (their WHERE rules).
TYPE_ONLY_CLASSES = frozenset(
    {
        "IfcDoorLiningProperties",
        "IfcDoorPanelProperties",
        "IfcWindowLiningProperties",
        "IfcWindowPanelProperties",
    }
)
TYPE_ONLY_SETS = {
    "Door": ("IfcDoorType", "IfcDoorStyle"),
    "Window": ("IfcWindowType", "IfcWindowStyle"),
}
# Door and window styles (IFC2X3) and types (IFC4 on): each schema's door and window rules want its own.
TYPE_REPLACEMENTS = {
    False: {"IfcDoorType": "IfcDoorStyle", "IfcWindowType": "IfcWindowStyle"},
    True: {"IfcDoorStyle": "IfcDoorType", "IfcWindowStyle": "IfcWindowType"},
}
STYLE_FLAGS = ("ParameterTakesPrecedence", "Sizeable")
# Attributes of IfcPresentationLayerWithStyle left out with its style (and the items the layer holds).
LAYER_STYLE_ATTRIBUTES = frozenset({"AssignedItems", "LayerOn", "LayerFrozen", "LayerBlocked", "LayerStyles"})
MAP_CONVERSION_PROPERTIES = {
    "Eastings": "IfcLengthMeasure",
    "Northings": "IfcLengthMeasure",
    "OrthogonalHeight": "IfcLengthMeasure",
    "XAxisAbscissa": "IfcReal",
    "XAxisOrdinate": "IfcReal",
    "Scale": "IfcReal",
}
PROJECTED_CRS_PROPERTIES = {
    "Name": "IfcLabel",
    "Description": "IfcText",
    "GeodeticDatum": "IfcIdentifier",
    "VerticalDatum": "IfcIdentifier",
    "MapProjection": "IfcIdentifier",
    "MapZone": "IfcIdentifier",
}


def usable_file_record(record: Any) -> bool:
    return isinstance(record, dict) and record.get("version") == RECORD_VERSION


def common_units(files: list[dict[str, Any]]) -> tuple[Any, UnitScales]:
    """The unit assignment all files share (and its scales), or (None, SI) when they differ or have none."""
    units = {json.dumps(record.get("units"), sort_keys=True) for record in files}
    if len(units) != 1 or not files[0].get("units"):
        return None, UnitScales()
    return files[0]["units"], UnitScales.from_json(files[0].get("unitScales"))


def spatial_entity(schema: str, entity: str) -> str:
    """The class a spatial element of `entity` is written as in `schema`."""
    current: str | None = entity
    while current is not None:
        if is_concrete(schema, current) and (
            is_subtype(schema, current, "IfcSpatialStructureElement")
            or (schema != "IFC2X3" and is_subtype(schema, current, "IfcSpatialElement"))
        ):
            return current
        if current in SPATIAL_REPLACEMENTS:
            return SPATIAL_REPLACEMENTS[current]
        current = supertype_name(schema, current)
    return "IfcBuildingStorey"


def product_entity(schema: str, entity: str, material: Any) -> str:
    """The class an element recorded as `entity` is written as: its nearest class in `schema` that the
    exporter can write validly (a standard case only with the material usage its rules need)."""
    if any(is_subtype(known, entity, "IfcElement") for known in (schema, "IFC4X3_ADD2", "IFC4", "IFC2X3")):
        nearest = nearest_exportable_entity(entity, schema) or FALLBACK_ENTITY
        usage = STANDARD_CASE_USAGE.get(nearest)
        if (
            usage is not None
            and isinstance(material, dict)
            and material.get("type") == usage
            and is_concrete(schema, usage)
        ):
            return nearest
        return entity_meeting_rules(nearest, schema)
    # Products that are not elements (grids, alignments, referents, annotations): the nearest product.
    nearest_product = nearest_entity(schema, entity, "IfcProduct")
    if nearest_product is None or is_subtype(schema, nearest_product, "IfcSpatialElement"):
        return FALLBACK_ENTITY
    if is_subtype(schema, nearest_product, "IfcSpatialStructureElement"):
        return FALLBACK_ENTITY
    return nearest_product


def expected_type_entity(schema: str, entity: str) -> str | None:
    """The type class IFC4's CorrectTypeAssigned rules require of an element's type object (None: any)."""
    base = entity
    for suffix in ("StandardCase", "ElementedCase"):
        base = base.removesuffix(suffix)
    candidate = f"{base}Type"
    return candidate if is_concrete(schema, candidate) else None


@dataclass
class _Spatial:
    entity: Any
    placement: Any
    matrix: npt.NDArray[np.float64]
    written_as: str


@dataclass
class RecordedContent:
    """The state of one export's recorded content; see the module's docstring."""

    schema: str
    scales: UnitScales
    structure: RecordRestorer  # IfcOpenShell entities
    fragment: RecordRestorer | None = None  # STEP text, once the fragment exists
    files: list[dict[str, Any]] = field(default_factory=list)
    spatial: dict[str, _Spatial] = field(default_factory=dict)
    spatial_property_sets: list[tuple[Any, list[Any], str]] = field(default_factory=list)
    spatial_types: list[tuple[str, str, int, str]] = field(default_factory=list)  # type, class, id, owner
    substitutions: list[str] = field(default_factory=list)
    not_carried: list[str] = field(default_factory=list)
    # Gathered along the elements and written at the end.
    products: dict[str, tuple[int, str]] = field(default_factory=dict)  # GlobalId -> (id, class)
    contained: dict[str, list[int]] = field(default_factory=dict)
    parts: dict[str, list[int]] = field(default_factory=dict)
    voids: list[tuple[str, int, str]] = field(default_factory=list)  # (host GlobalId, opening id, owner)
    fills: list[tuple[str, int, str]] = field(default_factory=list)  # (opening GlobalId, filling id, owner)
    typed: dict[str, list[int]] = field(default_factory=dict)
    grouped: dict[str, list[int]] = field(default_factory=dict)
    layered: dict[str, list[int]] = field(default_factory=dict)  # layer name -> shape representation ids
    materials: dict[int, list[int]] = field(default_factory=dict)
    classified: dict[int, list[int]] = field(default_factory=dict)
    property_sets: dict[str, int] = field(default_factory=dict)  # GlobalId -> written property set
    defined: dict[int, list[Any]] = field(default_factory=dict)  # property set -> objects it defines
    types: dict[str, tuple[int, str] | None] = field(default_factory=dict)
    groups: dict[str, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.structure.problems = self.not_carried
        self.type_records: dict[str, Any] = {}
        self.group_records: dict[str, Any] = {}
        self.layer_records: dict[str, Any] = {}
        for record in self.files:
            self.type_records.update(record.get("types") or {})
            self.group_records.update(record.get("groups") or {})
            self.layer_records.update(record.get("layers") or {})


class RecordedWriter:
    """Writes the recorded content of one export; `root` and `text_root` make IfcRoot entities (GlobalId,
    owner history) with IfcOpenShell and in the fragment."""

    def __init__(
        self,
        content: RecordedContent,
        create: Any,
        root: Callable[..., Any],
        length_factor: float,
    ) -> None:
        self.content = content
        self.create = create
        self.root = root
        self.text: Any = None
        self.text_root: Callable[..., Any] | None = None
        self.directions: StepDirections | None = None  # made with the fragment's factory
        self.length_factor = length_factor
        self.owner_history: Any = None
        # The export's model context and its subcontexts by (ContextIdentifier, ContextType): recorded
        # representations go into the one named as their source's (made when first needed).
        self.model_context: Any = None
        self.contexts: dict[tuple[str, str], Any] = {}

    # ---- file records: project attributes, georeferencing, spatial structure

    def project_attributes(self) -> tuple[str | None, dict[str, Any]]:
        """GlobalId and attributes of the first file's project."""
        if not self.content.files:
            return None, {}
        project = self.content.files[0].get("project") or {}
        attributes = self.content.structure.attributes(
            "IfcProject",
            dict(project.get("attributes") or {}),
            str(project.get("globalId") or "project"),
            skip={"GlobalId", "OwnerHistory", "RepresentationContexts", "UnitsInContext"},
        )
        return project.get("globalId"), attributes

    def units(self, record: Any) -> Any:
        """The recorded IfcUnitAssignment, as the file had it (never converted)."""
        restorer = RecordRestorer(self.create, self.content.schema, UnitScales(), self.content.not_carried)
        return restorer.entity(record, "units", "UnitsInContext")

    def context_attributes(self) -> dict[str, Any]:
        if not self.content.files:
            return {}
        context = self.content.files[0].get("context") or {}
        attributes: dict[str, Any] = {}
        north = context.get("trueNorth")
        if isinstance(north, list) and len(north) >= 2:
            attributes["TrueNorth"] = self.create(
                "IfcDirection", DirectionRatios=[float(v) for v in north[:2]]
            )
        if isinstance(context.get("precision"), int | float):
            attributes["Precision"] = float(context["precision"])
        return attributes

    def georeference(self, context: Any) -> None:
        """IfcMapConversion and IfcProjectedCRS on the context (IFC4, IFC4.3; IFC2X3: site property sets)."""
        georeference = self._georeference()
        if georeference is None or self.content.schema == "IFC2X3":
            return
        restorer = self.content.structure
        crs_value = _as_entity(georeference.get("projectedCRS"), "IfcProjectedCRS")
        crs = restorer.entity(crs_value, "georeference", "IfcProjectedCRS") if crs_value else None
        conversion_value = _as_entity(georeference.get("mapConversion"), "IfcMapConversion")
        if crs is None or conversion_value is None:
            return
        attributes = restorer.attributes(
            "IfcMapConversion",
            conversion_value["attributes"],
            "georeference",
            skip={"SourceCRS", "TargetCRS"},
        )
        self.create("IfcMapConversion", SourceCRS=context, TargetCRS=crs, **attributes)

    def _georeference(self) -> dict[str, Any] | None:
        for record in self.content.files:
            georeference = record.get("georeference")
            if isinstance(georeference, dict) and georeference:
                return georeference
        return None

    def create_spatial_structure(
        self, project: Any, mesh_representation: Callable[[list[Any], list[Any]], Any] | None = None
    ) -> None:
        """The recorded spatial elements, with their GlobalIds, attributes and placements, under `project`;
        a space's recorded `shape` becomes its body through `mesh_representation` (points in metres relative
        to its placement, triangles -> an IfcShapeRepresentation), its recorded type is linked in the
        fragment (`start_fragment`)."""
        content = self.content
        restorer = content.structure
        children: dict[str, list[Any]] = {}
        project_ids = {str((record.get("project") or {}).get("globalId")) for record in content.files}
        for record in content.files:
            for spatial in record.get("spatial") or []:
                global_id = str(spatial.get("globalId") or "")
                if not global_id or global_id in content.spatial:
                    continue
                recorded_class = str(spatial.get("class") or "IfcBuildingStorey")
                entity = spatial_entity(content.schema, recorded_class)
                if entity != recorded_class:
                    content.substitutions.append(f"{global_id}: {recorded_class} written as {entity}")
                attributes = restorer.attributes(entity, dict(spatial.get("attributes") or {}), global_id)
                restorer.missing_mandatory(entity, attributes)
                if (
                    "CompositionType" in _mandatory(content.schema, entity)
                    and "CompositionType" not in attributes
                ):
                    attributes["CompositionType"] = "ELEMENT"
                parent_id = str(spatial.get("parent") or "")
                parent = content.spatial.get(parent_id)
                placement_record = spatial.get("placement") or {}
                matrix = placement_matrix(
                    placement_record.get("location"),
                    placement_record.get("axis"),
                    placement_record.get("refDirection"),
                )
                placement = self.local_placement_entity(parent, matrix)
                representation = self._recorded_shape(spatial.get("shape"), global_id, mesh_representation)
                created = self.root(
                    entity,
                    global_id=global_id,
                    ObjectPlacement=placement,
                    Representation=representation,
                    **attributes,
                )
                content.spatial[global_id] = _Spatial(created, placement, matrix, entity)
                if spatial.get("type"):
                    content.spatial_types.append((str(spatial["type"]), entity, int(created.id()), global_id))
                parent_key = parent_id if parent is not None else ""
                if parent is None and parent_id not in project_ids and parent_id:
                    content.not_carried.append(
                        f"{global_id}: parent {parent_id} not exported; under the project"
                    )
                children.setdefault(parent_key, []).append(created)
                if spatial.get("propertySets"):
                    content.spatial_property_sets.append((created, spatial["propertySets"], global_id))
        for parent_key, related in children.items():
            relating = content.spatial[parent_key].entity if parent_key else project
            self.root(
                "IfcRelAggregates",
                key=f"aggregates:{parent_key or 'project'}:recorded",
                RelatingObject=relating,
                RelatedObjects=related,
            )

    def _recorded_shape(
        self, shape: Any, owner: str, mesh_representation: Callable[[list[Any], list[Any]], Any] | None
    ) -> Any:
        """The IfcProductDefinitionShape of a recorded `shape` (a space's), or None."""
        if shape is None or mesh_representation is None:
            return None
        try:
            points, triangles = recorded_mesh(shape)
        except ValueError as problem:
            self.content.not_carried.append(f"{owner}: the shape in its IFC record is unusable ({problem})")
            return None
        return self.create(
            "IfcProductDefinitionShape",
            Representations=[mesh_representation(points.tolist(), triangles.tolist())],
        )

    def local_placement_entity(self, parent: _Spatial | None, matrix: npt.NDArray[np.float64]) -> Any:
        location, directions = relative_axes(parent.matrix if parent else None, matrix, self.length_factor)
        point = self.create("IfcCartesianPoint", Coordinates=list(location))
        if directions is None:
            axes = self.create("IfcAxis2Placement3D", Location=point)
        else:
            axes = self.create(
                "IfcAxis2Placement3D",
                Location=point,
                Axis=self.create("IfcDirection", DirectionRatios=list(directions[0])),
                RefDirection=self.create("IfcDirection", DirectionRatios=list(directions[1])),
            )
        return self.create(
            "IfcLocalPlacement", PlacementRelTo=parent.placement if parent else None, RelativePlacement=axes
        )

    def first_site(self) -> Any:
        for spatial in self.content.spatial.values():
            if spatial.written_as == "IfcSite":
                return spatial.entity
        return None

    # ---- fragment: property sets of spatial elements, IFC2X3 georeferencing, elements

    def start_fragment(self, text: Any, text_root: Callable[..., Any], site: Any) -> None:
        self.text = text
        self.text_root = text_root
        self.directions = StepDirections(text)
        content = self.content
        content.fragment = RecordRestorer(text, content.schema, content.scales, content.not_carried)
        for entity, property_sets, owner in content.spatial_property_sets:
            for property_set in self.property_sets(property_sets, owner):
                self._define(entity, property_set, f"{owner}:{property_set}")
        for type_id, entity_class, entity_id, owner in content.spatial_types:
            self._link_type(type_id, entity_class, entity_id, owner)
        if content.schema == "IFC2X3" and site is not None:
            self._site_georeference(site)

    def _site_georeference(self, site: Any) -> None:
        georeference = self._georeference()
        if georeference is None:
            return
        content = self.content
        for set_name, key, properties in (
            ("ePSet_MapConversion", "mapConversion", MAP_CONVERSION_PROPERTIES),
            ("ePSet_ProjectedCRS", "projectedCRS", PROJECTED_CRS_PROPERTIES),
        ):
            value = _as_entity(georeference.get(key), "")
            if value is None:
                continue
            written = []
            for name, value_type in properties.items():
                raw = value["attributes"].get(name)
                if isinstance(raw, dict):
                    raw = raw.get("value")
                if raw is None or isinstance(raw, dict | list):
                    continue
                if value_type in ("IfcLabel", "IfcText", "IfcIdentifier"):
                    converted: Any = str(raw)
                else:
                    converted = content.scales.from_si(value_type, float(raw))
                written.append(
                    self.text(
                        "IfcPropertySingleValue",
                        Name=name,
                        NominalValue=self.text.value(value_type, converted),
                    )
                )
            if written:
                assert self.text_root is not None
                property_set = self.text_root(
                    "IfcPropertySet", f"georeference:{set_name}", Name=set_name, HasProperties=written
                )
                self._define(site, property_set, f"georeference:{set_name}")

    def property_sets(self, records: list[Any], owner: str) -> list[int]:
        """The recorded property and quantity sets, each written once per GlobalId."""
        content = self.content
        restorer = content.fragment
        assert restorer is not None
        assert self.text_root is not None
        written: list[int] = []
        names: set[str] = set()
        for record in _merged_by_name(records, lambda name: restorer.note(owner, name)):
            name = (record.get("attributes") or {}).get("Name")
            if name in names:  # IFC4's rule UniquePropertySetNames: one set of a name per object
                restorer.note(owner, f"a second property set named {name}, of another kind; left out")
                continue
            names.add(str(name))
            global_id = str(record.get("globalId") or "")
            if global_id and global_id in content.property_sets:
                written.append(content.property_sets[global_id])
                continue
            entity = str(record.get("type") or "IfcPropertySet")
            if not is_concrete(content.schema, entity):
                restorer.note(owner, f"property set {name}: {entity} is not in {content.schema}; left out")
                continue
            attributes = restorer.attributes(
                entity, dict(record.get("attributes") or {}), owner, skip={"GlobalId", "OwnerHistory"}
            )
            missing = restorer.missing_mandatory(entity, attributes)
            if missing or not (
                attributes.get("HasProperties")
                or attributes.get("Quantities")
                or entity not in ("IfcPropertySet", "IfcElementQuantity")
            ):
                restorer.note(owner, f"property set {name}: nothing of it fits {content.schema}; left out")
                continue
            property_set = self.text_root(
                entity, f"pset:{owner}:{name}", global_id=global_id or None, **attributes
            )
            if global_id:
                content.property_sets[global_id] = property_set
            written.append(property_set)
        return written

    def _define(self, related: Any, property_set: int, key: str) -> None:
        # One IfcRelDefinesByProperties per property set (its inverse is SET [0:1]), written at the end with
        # every object that shares the set.
        self.content.defined.setdefault(int(property_set), []).append(related)

    def element(
        self,
        record: dict[str, Any],
        product_id: int,
        element_id: int,
        global_id: str,
        matrix: npt.NDArray[np.float64],
        shape: int | None,
    ) -> None:
        """Writes one recorded element with the id reserved for it, and notes its links for `finish`."""
        content = self.content
        restorer = content.fragment
        assert restorer is not None
        assert self.text_root is not None
        owner = f"0x{element_id:x}"
        recorded_class = str(record.get("class") or FALLBACK_ENTITY)
        material = record.get("material")
        written_material = restorer.entity(material, owner, "material") if material is not None else None
        # A standard case stays one only with the material usage its rules need, as written.
        entity = product_entity(
            content.schema, recorded_class, material if written_material is not None else None
        )
        attributes = restorer.attributes(entity, dict(record.get("attributes") or {}), owner)
        missing = restorer.missing_mandatory(entity, attributes)
        if missing:
            restorer.note(owner, f"{entity} without {', '.join(missing)}")
            entity = FALLBACK_ENTITY
            attributes = restorer.attributes(entity, dict(record.get("attributes") or {}), owner)
            restorer.missing_mandatory(entity, attributes)
        if entity != recorded_class:
            content.substitutions.append(f"{owner}: {recorded_class} written as {entity}")
        if entity == FALLBACK_ENTITY and not attributes.get("Name"):
            attributes["Name"] = f"{recorded_class} {owner}"
        container = content.spatial.get(str(record.get("container") or ""))
        recorded_placement = record.get("placement")
        if isinstance(recorded_placement, dict):
            # A product without geometry: the iModel keeps no placement for it, its record does.
            matrix = placement_matrix(
                recorded_placement.get("location"),
                recorded_placement.get("axis"),
                recorded_placement.get("refDirection"),
            )
        # A product without geometry whose record holds no placement had none in its file (an assembly, an
        # alignment layout): it gets none back.
        if shape is None and record.get("representation") is not None:
            shape = self._restored_representation(record["representation"], owner)
        placeless = shape is None and "placement" in record and recorded_placement is None
        placement = None if placeless else self._placement(container, matrix)
        attributes["GlobalId"] = global_id
        if self.owner_history is not None:
            attributes["OwnerHistory"] = self.owner_history
        self.text.put(product_id, entity, ObjectPlacement=placement, Representation=_ref(shape), **attributes)
        content.products[global_id] = (product_id, entity)
        if container is not None and is_subtype(content.schema, entity, "IfcFeatureElementSubtraction"):
            pass  # an opening is in its host's storey through the host (IFC4.3's rule HasNoContainment)
        elif container is not None:
            content.contained.setdefault(str(record["container"]), []).append(product_id)
        elif record.get("container"):
            restorer.note(owner, f"its container {record['container']} is not exported; not contained")
        if record.get("decomposes"):
            content.parts.setdefault(str(record["decomposes"]), []).append(product_id)
        if record.get("voids"):
            content.voids.append((str(record["voids"]), product_id, owner))
        if record.get("fills"):
            content.fills.append((str(record["fills"]), product_id, owner))
        for property_set in self.property_sets(record.get("propertySets") or [], owner):
            self._define(product_id_ref(product_id), property_set, f"{owner}:{property_set}")
        if written_material is not None and is_subtype(
            content.schema, entity, "IfcFeatureElementSubtraction"
        ):
            restorer.note(
                owner, "material of an opening left out (IfcRelAssociatesMaterial's rule NoVoidElement)"
            )
        elif written_material is not None:
            content.materials.setdefault(int(written_material), []).append(product_id)
        for classification in record.get("classifications") or []:
            written = restorer.entity(classification, owner, "classification")
            if written is not None:
                content.classified.setdefault(int(written), []).append(product_id)
        type_id = record.get("type")
        if type_id:
            self._link_type(str(type_id), entity, product_id, owner)
        for group_id in record.get("groups") or []:
            group = self._group(str(group_id), owner)
            if group is not None:
                content.grouped.setdefault(str(group_id), []).append(product_id)
        for layer in record.get("layers") or []:
            if shape is not None:
                # The body representation is the line before its product definition shape (stepfragment).
                content.layered.setdefault(str(layer), []).append(shape - 1)

    def _restored_representation(self, value: Any, owner: str) -> int | None:
        """The IfcProductDefinitionShape of a record's `representation` (a product the iModel holds no
        geometry of: curves, text, what could not be meshed), each representation in the export's context of
        its source's name; None when none of its items exists in the target schema (each named)."""
        restorer = self.content.fragment
        assert restorer is not None
        written = []
        attributes = value.get("attributes") if isinstance(value, dict) else None
        for representation in (attributes or {}).get("Representations") or []:
            recorded = (representation.get("attributes") if isinstance(representation, dict) else None) or {}
            items = [restorer.entity(item, owner, "representation") for item in recorded.get("Items") or []]
            items = [item for item in items if item is not None]
            if not items:
                continue
            context = recorded.get("ContextOfItems")
            written.append(
                self.text(
                    "IfcShapeRepresentation",
                    ContextOfItems=self._context((context or {}).get("attributes") or {}),
                    RepresentationIdentifier=recorded.get("RepresentationIdentifier"),
                    RepresentationType=recorded.get("RepresentationType"),
                    Items=items,
                )
            )
        if not written:
            self.content.not_carried.append(f"{owner}: its recorded representation has nothing to write")
            return None
        return int(self.text("IfcProductDefinitionShape", Representations=written))

    def _context(self, recorded: dict[str, Any]) -> Any:
        identifier = recorded.get("ContextIdentifier")
        if not identifier:
            return self.model_context
        key = (str(identifier), str(recorded.get("ContextType") or "Model"))
        if key not in self.contexts:
            self.contexts[key] = self.text(
                "IfcGeometricRepresentationSubContext",
                ContextIdentifier=key[0],
                ContextType=key[1],
                ParentContext=self.model_context,
                TargetView=str(recorded.get("TargetView") or "MODEL_VIEW"),
            )
        return self.contexts[key]

    def _placement(self, container: _Spatial | None, matrix: npt.NDArray[np.float64]) -> StepRef:
        location, directions = relative_axes(
            container.matrix if container else None, matrix, self.length_factor
        )
        text = self.text
        assert self.directions is not None  # set by start_fragment, which comes before any element
        point = text("IfcCartesianPoint", Coordinates=list(location))
        if directions is None:
            axes = text("IfcAxis2Placement3D", Location=point)
        else:
            axes = text(
                "IfcAxis2Placement3D",
                Location=point,
                Axis=self.directions(directions[0]),
                RefDirection=self.directions(directions[1]),
            )
        placement: StepRef = text(
            "IfcLocalPlacement",
            PlacementRelTo=container.placement if container else None,
            RelativePlacement=axes,
        )
        return placement

    def _link_type(self, type_id: str, entity: str, product_id: int, owner: str) -> None:
        content = self.content
        if type_id not in content.types:
            content.types[type_id] = self._create_type(type_id)
        written = content.types[type_id]
        if written is None:
            content.not_carried.append(f"{owner}: type {type_id} not written")
            return
        expected = expected_type_entity(content.schema, entity)
        if content.schema == "IFC2X3":
            expected = IFC2X3_STYLES.get(entity)
        if expected is not None and written[1] != expected:
            content.not_carried.append(
                f"{owner}: type {type_id} ({written[1]}) does not fit {entity} in {content.schema}; "
                "not linked"
            )
            return
        content.typed.setdefault(type_id, []).append(product_id)

    def _create_type(self, type_id: str) -> tuple[int, str] | None:
        content = self.content
        restorer = content.fragment
        assert restorer is not None
        assert self.text_root is not None
        record = content.type_records.get(type_id)
        if not isinstance(record, dict):
            return None
        recorded_class = str(record.get("class") or "IfcTypeObject")
        entity = nearest_entity(
            content.schema,
            TYPE_REPLACEMENTS[content.schema != "IFC2X3"].get(recorded_class, recorded_class),
            "IfcTypeObject",
        )
        if entity is None:
            return None
        if entity != recorded_class:
            content.substitutions.append(f"{type_id}: {recorded_class} written as {entity}")
        attributes = restorer.attributes(
            entity,
            dict(record.get("attributes") or {}),
            type_id,
            skip={"GlobalId", "OwnerHistory", "HasPropertySets", "RepresentationMaps"},
        )
        for name in STYLE_FLAGS:
            if entity.endswith("Style") and name not in attributes:
                attributes[name] = False  # IFC2X3's styles require them; IFC4 types leave them optional
        if restorer.missing_mandatory(entity, attributes):
            return None
        kept_sets = []
        for property_set in record.get("propertySets") or []:
            set_class = str(property_set.get("type") if isinstance(property_set, dict) else "")
            holders = TYPE_ONLY_SETS.get(set_class.removeprefix("Ifc").split("Lining")[0].split("Panel")[0])
            if set_class in TYPE_ONLY_CLASSES and (holders is None or entity not in holders):
                content.not_carried.append(f"{type_id}: {set_class} needs a {' or '.join(holders or ())}")
                continue
            kept_sets.append(property_set)
        property_sets = self.property_sets(kept_sets, type_id)
        written = self.text_root(
            entity,
            f"type:{type_id}",
            global_id=type_id,
            HasPropertySets=[product_id_ref(p) for p in property_sets] or None,
            **attributes,
        )
        material = record.get("material")
        if material is not None:
            material_entity = restorer.entity(material, type_id, "material")
            if material_entity is not None:
                content.materials.setdefault(int(material_entity), []).append(int(written))
        return int(written), entity

    def _group(self, group_id: str, owner: str) -> int | None:
        content = self.content
        if group_id not in content.groups:
            content.groups[group_id] = self._create_group(group_id)
        if content.groups[group_id] is None:
            content.not_carried.append(f"{owner}: group {group_id} not written")
        return content.groups[group_id]

    def _create_group(self, group_id: str) -> int | None:
        content = self.content
        restorer = content.fragment
        assert restorer is not None
        assert self.text_root is not None
        record = content.group_records.get(group_id)
        if not isinstance(record, dict):
            return None
        recorded_class = str(record.get("class") or "IfcGroup")
        entity = nearest_entity(content.schema, recorded_class, "IfcGroup")
        if entity is None or entity == "IfcZone":  # an IfcZone's rules allow only spaces and zones in it
            return None
        if entity != recorded_class:
            content.substitutions.append(f"{group_id}: {recorded_class} written as {entity}")
        attributes = restorer.attributes(entity, dict(record.get("attributes") or {}), group_id)
        if restorer.missing_mandatory(entity, attributes):
            return None
        written = self.text_root(entity, f"group:{group_id}", global_id=group_id, **attributes)
        for property_set in self.property_sets(record.get("propertySets") or [], group_id):
            self._define(written, property_set, f"{group_id}:{property_set}")
        return int(written)

    # ---- the relationships that gather elements

    def finish(self) -> None:
        """The relationships gathered along the elements: one per container, whole, type, group, material,
        classification, layer and property set; voids and fills per opening and filling."""
        content = self.content
        root = self.text_root
        assert root is not None
        for property_set, objects in content.defined.items():
            root(
                "IfcRelDefinesByProperties",
                f"defines:{property_set}",
                RelatedObjects=objects,
                RelatingPropertyDefinition=product_id_ref(property_set),
            )
        for container, related in content.contained.items():
            root(
                "IfcRelContainedInSpatialStructure",
                f"contains:{container}:recorded",
                RelatedElements=_refs(related),
                RelatingStructure=content.spatial[container].entity,
            )
        for parent, related in content.parts.items():
            whole = content.products.get(parent)
            if whole is None:
                content.not_carried.append(f"{parent}: the whole of {len(related)} part(s) is not exported")
                continue
            root(
                "IfcRelAggregates",
                f"aggregates:{parent}",
                RelatingObject=product_id_ref(whole[0]),
                RelatedObjects=_refs(related),
            )
        for host, opening_product, owner in content.voids:
            element = content.products.get(host)
            if element is None or not is_subtype(content.schema, element[1], "IfcElement"):
                content.not_carried.append(f"{owner}: the element {host} it voids is not exported")
                continue
            root(
                "IfcRelVoidsElement",
                f"voids:{owner}",
                RelatingBuildingElement=product_id_ref(element[0]),
                RelatedOpeningElement=product_id_ref(opening_product),
            )
        for opening_id, filling, owner in content.fills:
            opening = content.products.get(opening_id)
            if opening is None or not is_subtype(content.schema, opening[1], "IfcOpeningElement"):
                content.not_carried.append(f"{owner}: the opening {opening_id} it fills is not exported")
                continue
            root(
                "IfcRelFillsElement",
                f"fills:{owner}",
                RelatingOpeningElement=product_id_ref(opening[0]),
                RelatedBuildingElement=product_id_ref(filling),
            )
        for type_id, related in content.typed.items():
            written = content.types[type_id]
            assert written is not None
            root(
                "IfcRelDefinesByType",
                f"typed:{type_id}",
                RelatedObjects=_refs(related),
                RelatingType=product_id_ref(written[0]),
            )
        for group_id, related in content.grouped.items():
            root(
                "IfcRelAssignsToGroup",
                f"grouped:{group_id}",
                RelatedObjects=_refs(related),
                RelatingGroup=product_id_ref(content.groups[group_id] or 0),
            )
        for material, related in content.materials.items():
            root(
                "IfcRelAssociatesMaterial",
                f"material:{material}",
                RelatedObjects=_refs(related),
                RelatingMaterial=product_id_ref(material),
            )
        for classification, related in content.classified.items():
            root(
                "IfcRelAssociatesClassification",
                f"classification:{classification}",
                RelatedObjects=_refs(related),
                RelatingClassification=product_id_ref(classification),
            )
        restorer = content.fragment
        assert restorer is not None
        for layer, representations in content.layered.items():
            record = content.layer_records.get(layer) or {}
            attributes = dict(record.get("attributes") or {}) if isinstance(record, dict) else {}
            attributes["Name"] = layer
            # The layer holds whole representations; IfcPresentationLayerWithStyle may hold only items
            # (its rule ApplicableOnlyToItems), so a styled layer is written as a plain one.
            entity = "IfcPresentationLayerAssignment"
            if isinstance(record, dict) and record.get("type") not in (None, entity):
                content.not_carried.append(f"layer {layer}: written as {entity}, without its style")
            kept = restorer.attributes(entity, attributes, f"layer {layer}", skip=LAYER_STYLE_ATTRIBUTES)
            self.text(entity, AssignedItems=_refs(representations), **kept)


def recorded_mesh(shape: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Points (n x 3, metres) and triangles (m x 3, zero-based) of a record's `shape` (an opening's in its
    record, a space's in its file's: docs/ifc-connector.md); ValueError saying why when it is not one."""
    if not isinstance(shape, dict):
        raise ValueError("not an object")
    try:
        points = np.asarray(shape["points"], dtype=np.float64).reshape(-1, 3)
        triangles = np.asarray(shape["triangles"], dtype=np.int64).reshape(-1, 3)
    except (KeyError, TypeError) as problem:
        raise ValueError(f"no points and triangles ({problem})") from None
    if not len(triangles) or triangles.min() < 0 or triangles.max() >= len(points):
        raise ValueError("no triangles, or triangle corners out of range")
    return points, triangles


def _mandatory(schema: str, entity: str) -> set[str]:
    return {name for name, (_, optional) in explicit_attributes(schema, entity).items() if not optional}


def _as_entity(value: Any, default_type: str) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not value:
        return None
    if "attributes" in value:
        return {"type": value.get("type") or default_type, "attributes": dict(value["attributes"] or {})}
    return {
        "type": value.get("type") or default_type,
        "attributes": {k: v for k, v in value.items() if k != "type"},
    }


def product_id_ref(entity_id: int) -> StepRef:
    return StepRef(entity_id)


def _refs(ids: list[int]) -> list[Any]:
    return [product_id_ref(entity_id) for entity_id in ids]


def _ref(entity_id: int | None) -> Any:
    return None if entity_id is None else product_id_ref(entity_id)


# The attribute of each kind of set that holds its properties.
_SET_MEMBERS = {"IfcPropertySet": "HasProperties", "IfcElementQuantity": "Quantities"}


def _merged_by_name(records: list[Any], note: Callable[[str], None]) -> list[dict[str, Any]]:
    """The sets, those of one name and kind merged into one: IFC4's rule UniquePropertySetNames allows one
    set of a name per object, and Revit writes a type's 'Dimensions' to its occurrences beside their own.
    A merged set has the properties of all (the first of a property name wins) and a GlobalId of its own."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    noted: set[tuple[str, str]] = set()
    result: list[dict[str, Any]] = []
    for record in records:
        if not isinstance(record, dict):
            continue
        attributes = record.get("attributes") or {}
        kind = str(record.get("type") or "IfcPropertySet")
        key = (kind, str(attributes.get("Name")))
        members = _SET_MEMBERS.get(kind)
        first = merged.get(key)
        if first is None or members is None:
            merged.setdefault(key, record)
            result.append(record)
            continue
        if key not in noted:  # the first set changes: a copy, as other objects may share the original
            noted.add(key)
            note(f"the property sets named {key[1]} are merged into one, which has a GlobalId of its own")
            first_attributes = dict(first.get("attributes") or {})
            first_attributes[members] = list(first_attributes.get(members) or [])
            copy = {**first, "globalId": None, "attributes": first_attributes}
            result[next(index for index, kept in enumerate(result) if kept is first)] = copy
            merged[key] = first = copy
        target = first["attributes"][members]
        known = {_member_name(member): member for member in target}
        for member in attributes.get(members) or []:
            name = _member_name(member)
            if name not in known:
                target.append(member)
                known[name] = member
            elif known[name] != member:
                note(f"{key[1]}.{name}: a second value in another set of the name; left out")
    return result


def _member_name(member: Any) -> str:
    return str((member.get("attributes") or {}).get("Name")) if isinstance(member, dict) else ""
