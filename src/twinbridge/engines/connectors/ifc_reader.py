"""Reading an IFC file for synchronization: the products to import, their container, psets, meshes, records.

Imported products are the IfcElement instances (but virtual elements), positioning elements (grids,
alignments, referents), IFC4.3 linear elements (alignment layouts and segments) and annotations: what a
viewer shows as the building, and what the IFC record (ifc_records.py) keeps for the way back. Products
without a representation, and openings (their hosts are cut already), are imported without geometry. The
spatial structure is kept in the file's record. IfcOpenShell tessellates each product in its local placement;
the element takes the placement as its origin and yaw/pitch/roll and keeps the mesh in that local frame, in
float64 metres, so that far-from-origin files keep their precision. A placement that is not a pure rotation
(mirrored or scaled) gives an element with world-aligned axes and the mesh transformed to them.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.geom
import ifcopenshell.ifcopenshell_wrapper
import ifcopenshell.util.element
import numpy as np

from twinbridge.engines.connectors.errors import SourceFileError
from twinbridge.engines.connectors.ifc_records import (
    InverseIndex,
    RecordBuilder,
    instances,
    object_placement_matrix,
    si_values,
    type_in,
)
from twinbridge.engines.connectors.ifc_schema import ec_type_of, property_name, widen_type
from twinbridge.engines.connectors.issues import SkippedItem, SyncIssue
from twinbridge.engines.connectors.reading_process import read_in_process
from twinbridge.engines.ifc.placement import element_matrix, placement_matrix, rotation_matrix
from twinbridge.engines.ifc.records import UnitScales

logger = logging.getLogger(__name__)

SUPPORTED_SCHEMAS = ("IFC2X3", "IFC4", "IFC4X3", "IFC4X3_ADD1", "IFC4X3_ADD2")
# Imported products: these classes (those the file's schema has) but the excluded ones.
IMPORTED_CLASSES = ("IfcElement", "IfcPositioningElement", "IfcGrid", "IfcLinearElement", "IfcAnnotation")
EXCLUDED_CLASSES = ("IfcVirtualElement",)
# Only elements are meshed, and openings are not: their hosts are cut by them already. Positioning and
# linear elements and annotations carry curves and text, which the GeometryStream does not get.
MESHED_CLASSES = ("IfcElement",)
UNMESHED_CLASSES = ("IfcFeatureElementSubtraction",)
# Vertex coordinates are rounded to a micrometre: compact JSON and a stable checksum across runs.
COORDINATE_DIGITS = 6
DEFAULT_COLOR = (0.8, 0.8, 0.8)

PropertyValue = bool | int | float | str
_FILE_SCHEMA = re.compile(rb"FILE_SCHEMA\s*\(\s*\(\s*'([^']*)'")
# ifcopenshell.geom has no type hints.
_GEOM: Any = ifcopenshell.geom
_WRAPPER: Any = ifcopenshell.ifcopenshell_wrapper


@dataclass(frozen=True, slots=True)
class MeshPart:
    """The triangles of one product in one colour; points are relative to the product's origin.

    `points` is an n x 3 float64 array (metres, rounded to `COORDINATE_DIGITS`), `triangles` an m x 3 int32
    array of indices into it: numpy, not lists of tuples, which took five times the memory and whose
    JSON the checksum and the geometry stream spent most of their time on."""

    color: tuple[int, int, int]
    transparency: float
    points: np.ndarray
    triangles: np.ndarray


@dataclass(slots=True)
class IfcProductRecord:
    """What the iModel keeps of one IFC product."""

    global_id: str
    ifc_class: str
    name: str | None
    container: str
    container_key: str
    # Its property and quantity sets, read with its IFC record (`IfcSource.batches`): a file's every value is
    # never held at once (`IfcSource.property_types` has their types before).
    properties: dict[str, dict[str, PropertyValue]]
    attributes: dict[str, str]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    angles: tuple[float, float, float] = (0.0, 0.0, 0.0)  # yaw, pitch, roll in degrees
    mesh: list[MeshPart] = field(default_factory=list)
    # The product's IFC record (docs/ifc-connector.md), its element's `jsonProperties.ifc`: made with its
    # mesh, a batch at a time (`IfcSource.batches`).
    ifc: dict[str, Any] | None = None
    # Whether the product has geometry to mesh into its element (a representation, and not an opening).
    meshed: bool = True
    # Whether its geometry is meshed into its IFC record instead (an opening: see `shape_recorded`).
    shape_recorded: bool = False
    # Its STEP instance id in the file, which the geometry iterator gives back.
    step_id: int = 0


@dataclass
class IfcSource:
    """One IFC file: its products read (`read_products`), their meshes made a batch at a time (`batches`)."""

    path: Path
    schema: str
    products: list[IfcProductRecord]
    issues: list[SyncIssue]
    # Products of the file that are not imported, each with its reason.
    skipped: list[SkippedItem] = field(default_factory=list)
    # How long reading the file's products (not meshing them) took.
    read_seconds: float = 0.0
    # The file's IFC record (docs/ifc-connector.md), its RepositoryLink's `jsonProperties.ifc`.
    record: dict[str, Any] = field(default_factory=dict)
    # The EC type of every property of the products of each IFC class (class -> `property_name` -> EC type),
    # known before any product's values are kept, for the schema to be made first.
    property_types: dict[str, dict[str, str]] = field(default_factory=dict)

    def batches(
        self,
        size: int = 200,
        *,
        threads: int | None = None,
        check: Callable[[], None] | None = None,
    ) -> Iterator[list[IfcProductRecord]]:
        """The products, `size` at a time, each with its IFC record, its property values and its mesh (origin
        and angles those of its placement). The products are taken `PRODUCTS_PER_READER` at a time, each such
        window by a reading process of its own (reading_process.py); of a window, first those without
        geometry, then the others as the geometry iterator meshes them, then those it could not mesh,
        without a mesh, their records keeping their placement, each with a `NoGeometry` issue.

        The batches are copies of the records of `products`, which stay as they are. The records are made
        here, not by `read_products`, so that a file's every record is never held at once, and so that a
        synchronization makes them while the engine writes the previous batch.

        `check` is called before each batch is given, and while a batch is awaited; what it raises (a
        canceled run's) stops the reading.
        """
        check = check or _go_on
        for start in range(0, len(self.products), PRODUCTS_PER_READER):
            window = self.products[start : start + PRODUCTS_PER_READER]
            made = read_in_process(
                self.path, _made_batches, window, size, threads, PRODUCTS_PER_ITERATOR, check=check
            )
            for kind, value in made:
                check()
                if kind == "batch":
                    yield value
                else:
                    self.issues += value


def _made_batches(
    path: Path,
    records: list[IfcProductRecord],
    size: int,
    threads: int | None,
    products_per_iterator: int,
) -> Iterator[tuple[str, Any]]:
    """In a reading process: ("batch", records) for each batch of `IfcSource.batches`, then ("issues", the
    issues of making them)."""
    # IfcOpenShell's lazy loading is not safe with several meshing threads (they parse entities at once:
    # a crash, measured on test.ifc): with threads, the file is parsed whole.
    builder = RecordBuilder(open_ifc(path, lazy=(threads or 1) == 1))
    property_sets = PropertySetReader(builder.model, builder.scales, builder.inverses)
    issues: list[SyncIssue] = []
    for batch in _recorded_batches(builder, records, issues, size, threads, products_per_iterator):
        for record in batch:
            record.properties = property_sets.read(builder.model.by_id(record.step_id))
        yield "batch", batch
        for record in batch:  # sent: the window's records would hold every batch made
            record.properties, record.ifc, record.mesh = {}, None, []
    yield "issues", issues + builder.issues


def _recorded_batches(
    builder: RecordBuilder,
    records: list[IfcProductRecord],
    issues: list[SyncIssue],
    size: int,
    threads: int | None,
    products_per_iterator: int,
) -> Iterator[list[IfcProductRecord]]:
    """`_made_batches` without the property values."""
    model = builder.model
    pending = {record.step_id: record for record in records if record.meshed or record.shape_recorded}
    unmeshed = [record for record in records if not record.meshed and not record.shape_recorded]
    for start in range(0, len(unmeshed), size):
        batch = unmeshed[start : start + size]
        for record in batch:
            _placed_by_record(model, builder, record, keep_representation=True)
        yield batch
    batch = []
    for record in _tessellate(model, pending, issues, threads, products_per_iterator):
        if record.shape_recorded:  # an opening: its mesh goes into its record, relative to placement
            element_frame = element_matrix(record.origin, *record.angles)
            parts, record.mesh = record.mesh, []
            placement = _placed_by_record(model, builder, record)
            assert record.ifc is not None
            record.ifc["shape"] = recorded_shape(parts, element_frame, placement)
        else:
            record.ifc = _record(builder, model.by_id(record.step_id))
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    for record in pending.values():  # the record keeps placement and representation, as for one
        _placed_by_record(model, builder, record, keep_representation=True)  # without geometry
        issues.append(
            SyncIssue(
                "NoGeometry",
                f"{record.ifc_class} has no geometry that could be meshed; it was imported without "
                "any (its IFC record keeps its representation for export)",
                record.global_id,
            )
        )
        batch.append(record)
    if batch:
        yield batch


def _placed_by_record(
    model: Any, builder: RecordBuilder, record: IfcProductRecord, *, keep_representation: bool = False
) -> Any:
    """Makes the record of a product whose element has no geometry: placed as its file places it, its
    record keeping the placement (the iModel keeps none for it) and, with `keep_representation`, its
    representation as it is (curves, text, what could not be meshed) for an export to write it back;
    returns the placement."""
    product = model.by_id(record.step_id)
    matrix = object_placement_matrix(getattr(product, "ObjectPlacement", None))
    record.origin, record.angles = placement_of(matrix, builder.scales)
    record.ifc = _record(builder, product, builder.world_placement_of(matrix))
    representation = getattr(product, "Representation", None)
    if keep_representation and representation is not None:
        record.ifc["representation"] = builder.value(
            representation, owner=record.global_id, where="representation"
        )
    return record.ifc["placement"]


def _record(builder: RecordBuilder, product: Any, placement: Any = None) -> dict[str, Any]:
    """A product's IFC record; `placement` for one without geometry."""
    record = builder.product(product)
    if placement is not None:
        record["placement"] = placement
    return record


def open_ifc(path: Path, *, lazy: bool = True) -> ifcopenshell.file:
    """Open an IFC-SPF file (`lazy`: see `_parsed`), or raise `SourceFileError` saying what is wrong."""
    if not path.exists():
        raise SourceFileError(path, "the file does not exist")
    if not path.is_file():
        raise SourceFileError(path, "not a regular file")
    try:
        with path.open("rb") as stream:
            head = stream.read(8192)
    except OSError as problem:
        raise SourceFileError(path, f"cannot read the file ({problem.strerror or problem})") from None
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"ISO-10303-21"):
        raise SourceFileError(path, "not an IFC file (an IFC-SPF file starts with ISO-10303-21)")
    declared = _FILE_SCHEMA.search(head)
    if declared is not None:
        name = declared.group(1).decode("ascii", "replace").upper()
        if not name.startswith(("IFC2X3", "IFC4")):
            raise SourceFileError(
                path, f"unsupported schema {name} (supported: {', '.join(SUPPORTED_SCHEMAS)})"
            )
    try:
        model = _parsed(path, lazy)
    except Exception as problem:  # IfcOpenShell raises several unrelated types for bad files
        raise SourceFileError(path, f"IfcOpenShell cannot parse the file: {problem}") from None
    schema = str(model.schema_identifier or model.schema).upper()
    if schema not in SUPPORTED_SCHEMAS:
        raise SourceFileError(
            path, f"unsupported IFC schema {schema} (supported: {', '.join(SUPPORTED_SCHEMAS)})"
        )
    return model


# Why IfcOpenShell could not open a file, by its open status.
_OPEN_PROBLEMS = {
    _WRAPPER.file_open_status.READ_ERROR: "it cannot be read",
    _WRAPPER.file_open_status.NO_HEADER: "its header cannot be parsed",
    _WRAPPER.file_open_status.UNSUPPORTED_SCHEMA: "its schema is not supported",
    _WRAPPER.file_open_status.INVALID_SYNTAX: "its syntax is invalid",
}


def _parsed(path: Path, lazy: bool) -> ifcopenshell.file:
    """The file opened lazily: IfcOpenShell indexes it in one pass and parses an entity when it is first
    read, so that a reading process that reads some of the products holds those (`PRODUCTS_PER_READER`).
    Without `lazy`, every entity is parsed at once, the file read a page at a time (`ifcopenshell.open`
    reads the whole file into memory first)."""
    model = _WRAPPER.file.create_uninitialized()
    if lazy:
        model.lazy_loading(True)
    else:
        model.paged_reading(True)
    model.initialize(str(path))
    model.post_init()
    status = model.good()
    if not status:
        raise ValueError(_OPEN_PROBLEMS.get(status.value(), "it cannot be parsed"))
    opened: ifcopenshell.file = model
    return opened


def importable_products(model: ifcopenshell.file) -> list[Any]:
    """The products a sync imports as elements, each class's in the file's order."""
    products: list[Any] = []
    seen: set[int] = set()
    for class_name in IMPORTED_CLASSES:
        for product in instances(model, class_name):
            if product.id() in seen or any(product.is_a(name) for name in EXCLUDED_CLASSES):
                continue
            seen.add(product.id())
            products.append(product)
    return products


def shape_recorded(product: Any) -> bool:
    """Whether a product's geometry is meshed into its IFC record (`shape`), not into its element: an
    opening with a representation. Its element has no geometry (its host is cut already, and a viewer would
    draw it as a solid), and the exporter writes the recorded mesh back as its body."""
    return product.Representation is not None and any(product.is_a(name) for name in UNMESHED_CLASSES)


def recorded_shape(parts: Sequence[MeshPart], element_frame: Any, placement: Any) -> dict[str, Any]:
    """The record's `shape`: one mesh of all the parts (colours left out), its points (metres, rounded)
    relative to the record's `placement`, moved there from the frame the meshes were made in."""
    frame = (
        np.identity(4)
        if placement is None
        else placement_matrix(placement["location"], placement["axis"], placement["refDirection"])
    )
    to_record = np.linalg.inv(frame) @ element_frame
    points: list[Any] = []
    triangles: list[Any] = []
    offset = 0
    for part in parts:
        points.append(np.asarray(part.points) @ to_record[:3, :3].T + to_record[:3, 3])
        triangles.append(np.asarray(part.triangles) + offset)
        offset += len(part.points)
    return {
        "points": (np.round(np.concatenate(points), COORDINATE_DIGITS) + 0.0).tolist(),
        "triangles": np.concatenate(triangles).tolist(),
    }


def record_space_shapes(model: ifcopenshell.file, file_record: dict[str, Any]) -> list[SyncIssue]:
    """Meshes the file's spaces into their entries of the file record's spatial structure (`shape`, as an
    opening's in its record): spaces are not elements, their shapes come back on export from there. A
    `NoGeometry` issue for each one that could not be meshed."""
    entries = {str(entry["globalId"]): entry for entry in file_record.get("spatial") or ()}
    pending: dict[int, IfcProductRecord] = {}
    for space in instances(model, "IfcSpace"):
        global_id = str(space.GlobalId)
        if space.Representation is not None and global_id in entries:
            pending[int(space.id())] = IfcProductRecord(
                global_id, "IfcSpace", None, "", "", {}, {}, step_id=int(space.id())
            )
    issues: list[SyncIssue] = []
    for record in _tessellate(model, pending, issues, None, PRODUCTS_PER_ITERATOR):
        entry = entries[record.global_id]
        frame = element_matrix(record.origin, *record.angles)
        entry["shape"] = recorded_shape(record.mesh, frame, entry.get("placement"))
    issues += [
        SyncIssue(
            "NoGeometry",
            "IfcSpace has no geometry that could be meshed; the file's record keeps it without a shape",
            record.global_id,
        )
        for record in pending.values()
    ]
    return issues


def meshed(product: Any) -> bool:
    """Whether a product's geometry is tessellated: an element with a representation, not an opening."""
    return (
        product.Representation is not None
        and any(product.is_a(name) for name in MESHED_CLASSES)
        and not any(product.is_a(name) for name in UNMESHED_CLASSES)
    )


# Kept in the file's IFC record, not as elements.
_SPATIAL_CLASSES = ("IfcSpatialElement", "IfcSpatialStructureElement")
SPATIAL_REASON = (
    "the spatial structure is kept in the file's IFC record (its RepositoryLink's jsonProperties.ifc), "
    "not as elements; its storeys name models"
)
# Why a product that is not imported is left out, by the first class it is an instance of.
_SKIP_REASONS = (
    ("IfcVirtualElement", "virtual elements are not imported"),
    ("IfcPort", "ports are not imported"),
    ("IfcStructuralItem", "structural analysis items are not imported"),
    ("IfcStructuralActivity", "structural actions and reactions are not imported"),
)


def skipped_products(model: ifcopenshell.file, imported: Sequence[Any] | None = None) -> list[SkippedItem]:
    """Every IfcProduct of the file that `importable_products` leaves out (`imported`, when the caller has
    them already), with the reason."""
    imported_ids = {product.id() for product in imported or importable_products(model)}
    skipped = []
    products: Sequence[Any] = model.by_type("IfcProduct")
    for product in products:
        if product.id() in imported_ids:
            continue
        ifc_class = product.is_a()
        if any(product.is_a(name) for name in _SPATIAL_CLASSES):
            reason = SPATIAL_REASON
        else:
            reason = next(
                (why for name, why in _SKIP_REASONS if product.is_a(name)),
                f"{ifc_class} products are not imported",
            )
        skipped.append(SkippedItem(ifc_class, reason, str(product.GlobalId)))
    return skipped


def not_carried(skipped: Sequence[SkippedItem]) -> list[SyncIssue]:
    """A `NotImported` issue per skipped product that the file's IFC record does not keep either."""
    return [
        SyncIssue("NotImported", f"{item.ifc_class} was not imported: {item.reason}", item.global_id)
        for item in skipped
        if item.reason != SPATIAL_REASON
    ]


def read_ifc(
    path: Path,
    threads: int | None = None,
    *,
    unique_global_ids: bool = True,
    check: Callable[[], None] | None = None,
) -> IfcSource:
    """The file read whole: `read_products`, then every product meshed (`IfcSource.batches`), the source's
    products being the records made, in their order."""
    source = read_products(path, unique_global_ids=unique_global_ids, check=check)
    made = {
        record.step_id: record for batch in source.batches(threads=threads, check=check) for record in batch
    }
    source.products = [made[record.step_id] for record in source.products]
    return source


# Products read by one reading process (reading_process.py) before the next one reads on. IfcOpenShell
# parses a file's entities as they are first read (the file opened lazily) and keeps them parsed, so a
# process holds the file's index (about 3 KB a product) and what its window's products read, not the whole
# parsed file; starting one costs about 0.6 s per 50,000 products of the file (indexing it again).
PRODUCTS_PER_READER = 50_000


@dataclass
class _Survey:
    """What is read of a file once: its products to import, its record, what it leaves out."""

    schema: str
    product_ids: list[int]
    record: dict[str, Any]
    issues: list[SyncIssue]  # the spaces' and the file record's
    skipped: list[SkippedItem]


@dataclass
class _Window:
    """Some of a file's products read: their records, issues and property types."""

    records: list[IfcProductRecord]
    issues: list[SyncIssue]
    property_types: dict[str, dict[str, str]]


def read_products(
    path: Path, *, unique_global_ids: bool = True, check: Callable[[], None] | None = None
) -> IfcSource:
    """The importable products of an IFC file with their containers and property types, and the file's
    record; their IFC records, property values and meshes come after, a batch at a time
    (`IfcSource.batches`), so that a synchronization writes each batch before the next is made instead of
    holding them all. The file is read by reading processes (reading_process.py): this process never holds
    it.

    With `unique_global_ids` (GlobalIds are the products' provenance), a product whose GlobalId another one
    had before it is left out with a `DuplicateGlobalId` issue; without, every product is read. What `check`
    raises while the file is read (a canceled run's) stops the reading.
    """
    started = time.monotonic()
    (survey,) = read_in_process(path, _surveyed, check=check)
    records: list[IfcProductRecord] = []
    issues: list[SyncIssue] = []
    property_types: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    for start in range(0, len(survey.product_ids), PRODUCTS_PER_READER):
        window_ids = survey.product_ids[start : start + PRODUCTS_PER_READER]
        (window,) = read_in_process(
            path, _read_window, window_ids, seen if unique_global_ids else None, check=check
        )
        records += window.records
        issues += window.issues
        for ifc_class, types in window.property_types.items():
            kept = property_types.setdefault(ifc_class, {})
            for key, ec_type in types.items():
                widen_type(kept, key, ec_type)
        if unique_global_ids:
            seen.update(record.global_id for record in window.records)
    issues += survey.issues + not_carried(survey.skipped)
    return IfcSource(
        path,
        survey.schema,
        records,
        issues,
        survey.skipped,
        time.monotonic() - started,
        survey.record,
        property_types=property_types,
    )


def _surveyed(path: Path) -> Iterator[_Survey]:
    """In a reading process: the file's `_Survey`."""
    model = open_ifc(path)
    schema = str(model.schema_identifier or model.schema).upper()
    builder = RecordBuilder(model)
    products = importable_products(model)
    file_record = builder.file(schema)
    issues = record_space_shapes(model, file_record)
    skipped = skipped_products(model, products)
    product_ids = [int(product.id()) for product in products]
    yield _Survey(schema, product_ids, file_record, issues + builder.issues, skipped)


def _read_window(path: Path, step_ids: list[int], seen: set[str] | None) -> Iterator[_Window]:
    """In a reading process: the records of some products (`step_ids`); with `seen` (the GlobalIds of the
    products read before), one whose GlobalId was seen is left out with a `DuplicateGlobalId` issue."""
    model = open_ifc(path)
    property_sets = PropertySetReader(model, UnitScales.of(model))
    issues: list[SyncIssue] = []
    records: list[IfcProductRecord] = []
    property_types: dict[str, dict[str, str]] = {}
    for step_id in step_ids:
        product: Any = model.by_id(step_id)
        global_id = str(product.GlobalId)
        if seen is not None and global_id in seen:
            issues.append(
                SyncIssue(
                    "DuplicateGlobalId",
                    f"{product.is_a()} #{product.id()} has the GlobalId of another product; only the first "
                    "was imported",
                    global_id,
                )
            )
            continue
        if seen is not None:
            seen.add(global_id)
        inverses = property_sets.inverses.of(product)
        container, container_key = container_of(product, inverses)
        ifc_class = sys.intern(product.is_a())
        types = property_types.setdefault(ifc_class, {})
        for set_name, values in property_sets.read(product, inverses).items():
            for name, value in values.items():
                widen_type(types, property_name(set_name, name), ec_type_of(value))
        record = IfcProductRecord(
            global_id=global_id,
            ifc_class=ifc_class,
            name=product.Name or None,
            container=sys.intern(container),
            container_key=sys.intern(container_key),
            properties={},
            attributes=_attributes(product),
            meshed=meshed(product),
            shape_recorded=shape_recorded(product),
            step_id=int(product.id()),
        )
        if not record.meshed and not record.shape_recorded and product.Representation is not None:
            issues.append(
                SyncIssue(
                    "NoGeometry",
                    f"{product.is_a()}'s representation (curves, text or points) is not meshed; it was "
                    "imported without geometry (its IFC record keeps the representation for export)",
                    global_id,
                )
            )
        records.append(record)
    yield _Window(records, issues, property_types)


def placement_of(
    matrix: Any, scales: UnitScales
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Origin (metres) and yaw, pitch and roll of a product's world matrix (`object_placement_matrix`), for an
    element without a mesh (which has no geometry to carry a mirrored or scaled placement: it gets world axes
    then); at the origin without one."""
    if matrix is None:
        return (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    origin = tuple(round(float(matrix[row][3]) * scales.length, COORDINATE_DIGITS) + 0.0 for row in range(3))
    rotation = [[float(matrix[row][column]) for column in range(3)] for row in range(3)]
    angles = placement_angles(rotation) or (0.0, 0.0, 0.0)
    return (origin[0], origin[1], origin[2]), angles


def container_of(product: Any, inverses: dict[str, list[Any]] | None = None) -> tuple[str, str]:
    """(display name, key) of the storey, else building, holding a product; ("", "") for none. `inverses`:
    the product's (InverseIndex.of), when the caller has them."""
    contained = (inverses or {}).get("ContainedInStructure")
    current: Any = (
        contained[0].RelatingStructure if contained else ifcopenshell.util.element.get_container(product)
    )
    if current is None:  # a part, a nested item or an opening: the container of what holds it
        whole = _whole_of(product)
        while whole is not None and current is None:
            current = ifcopenshell.util.element.get_container(whole)
            whole = _whole_of(whole)
    building: Any = None
    seen = 0
    while current is not None and seen < 32:
        seen += 1
        if current.is_a("IfcBuildingStorey"):
            return str(current.Name or current.LongName or "Storey"), str(current.GlobalId)
        if current.is_a("IfcBuilding") and building is None:
            building = current
        parent = ifcopenshell.util.element.get_aggregate(current)
        current = parent if parent is not None else ifcopenshell.util.element.get_container(current)
    if building is not None:
        return str(building.Name or building.LongName or "Building"), str(building.GlobalId)
    return "", ""


def _whole_of(product: Any) -> Any:
    """What a product is part of: its aggregate, its nest, or the element an opening voids."""
    whole = ifcopenshell.util.element.get_aggregate(product) or ifcopenshell.util.element.get_nest(product)
    if whole is None:
        voided = getattr(product, "VoidsElements", None) or ()
        whole = voided[0].RelatingBuildingElement if voided else None
    return whole


class PropertySetReader:
    """Property and quantity sets of products as flat EC values (`read`), a shared set converted once.

    What ifcopenshell.util.element.get_psets gives, read without its per-call schema and type lookups,
    and with each definition's values converted to SI by that definition's own units: a type's sets are
    converted once for all its occurrences."""

    SETS_KEPT = 2_000

    def __init__(
        self, model: ifcopenshell.file, scales: UnitScales, inverses: InverseIndex | None = None
    ) -> None:
        self.model = model
        self.scales = scales
        self.schema = str(model.schema_identifier)
        self.inverses = inverses if inverses is not None else InverseIndex(model)
        # Converted sets by definition id, forgotten when there are more than `SETS_KEPT`: a file's products
        # mostly have sets of their own, and kept, they were a file's every value. Those of the products
        # read last (neighbours often share one) are converted once. A type's sets stay in `_type_sets`.
        self._sets: dict[int, dict[str, PropertyValue]] = {}
        self._type_sets: dict[int, list[tuple[str, dict[str, PropertyValue]]]] = {}  # by type object id

    def read(
        self, product: Any, inverses: dict[str, list[Any]] | None = None
    ) -> dict[str, dict[str, PropertyValue]]:
        """Psets and quantity sets (the type's ones first, an occurrence's set of the same name adding to
        and overriding the type's), with simple values in SI units; lists become text. `inverses`: the
        product's (InverseIndex.of), when the caller has them."""
        # The converted sets are shared (products of one type hold the same dicts): merging makes new ones.
        merged: dict[str, dict[str, PropertyValue]] = {}

        def merge(name: str, values: dict[str, PropertyValue]) -> None:
            merged[name] = {**merged[name], **values} if name in merged else values

        try:
            if inverses is None:
                inverses = self.inverses.of(product)
            type_object = type_in(inverses, self.schema)
            if type_object is not None:
                for name, values in self._of_type(type_object):
                    merge(name, values)
            for relationship in inverses.get("IsDefinedBy", ()):
                if not relationship.is_a("IfcRelDefinesByProperties"):
                    continue
                definitions = relationship.RelatingPropertyDefinition
                for definition in definitions if isinstance(definitions, tuple) else (definitions,):
                    merge(str(definition.Name), self._converted(definition))
        except Exception as problem:  # a malformed property set should not stop the file
            logger.warning("cannot read the property sets of %s: %s", product.GlobalId, problem)
            return {}
        return {name: values for name, values in merged.items() if values}

    def _of_type(self, type_object: Any) -> list[tuple[str, dict[str, PropertyValue]]]:
        key = int(type_object.id())
        if key not in self._type_sets:
            self._type_sets[key] = [
                (str(definition.Name), self._converted(definition))
                for definition in getattr(type_object, "HasPropertySets", None) or ()
            ]
        return self._type_sets[key]

    def _converted(self, definition: Any) -> dict[str, PropertyValue]:
        key = int(definition.id())
        converted = self._sets.get(key)
        if converted is None:
            converted = {}
            for name, value in si_values(definition, self.scales).items():
                if value is None:
                    continue
                simple = _simple_value(value)
                if simple is not None:
                    converted[str(name)] = simple
            if len(self._sets) >= self.SETS_KEPT:
                self._sets.clear()
            self._sets[key] = converted
        return converted


def _simple_value(value: Any) -> PropertyValue | None:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        parts = [_simple_value(item) for item in value]
        return ", ".join(str(part) for part in parts if part is not None)
    if isinstance(value, dict):
        return None
    return str(value)


def _attributes(product: Any) -> dict[str, str]:
    attributes = {}
    for name in ("Description", "ObjectType", "Tag"):
        value = getattr(product, name, None)
        if value:
            attributes[name] = str(value)
    return attributes


GEOMETRY_LIBRARY = "hybrid-cgal-simple-opencascade"


def _settings() -> Any:
    settings = _GEOM.settings()
    settings.set("use-world-coords", False)
    settings.set("weld-vertices", True)
    return settings


# Products meshed by one geometry iterator. An iterator keeps what it loaded for every product it meshed
# (about 10 KB a product) until it is gone: one for a whole file of 200,000 products held 2 GB. With a few
# thousand each, that memory stays flat and meshing is no slower (bench/README.md).
PRODUCTS_PER_ITERATOR = 2_500


def _tessellate(
    model: ifcopenshell.file,
    pending: dict[int, IfcProductRecord],
    issues: list[SyncIssue],
    threads: int | None,
    products_per_iterator: int,
) -> Iterator[IfcProductRecord]:
    """Meshes the pending products, `products_per_iterator` with one iterator, giving each back (taken out
    of `pending`) with its mesh; those left in `pending` at the end could not be meshed."""
    step_ids = list(pending)
    for start in range(0, len(step_ids), products_per_iterator):
        part = step_ids[start : start + products_per_iterator]
        yield from _tessellate_part(model, part, pending, issues, threads)


def _tessellate_part(
    model: ifcopenshell.file,
    step_ids: list[int],
    pending: dict[int, IfcProductRecord],
    issues: list[SyncIssue],
    threads: int | None,
) -> Iterator[IfcProductRecord]:
    """`_tessellate` of some of the products, with one iterator."""
    # CGAL's simple kernel meshes extrusions and faceted shapes 10 to 20 times faster than Open CASCADE, with
    # the same points; what it cannot do (booleans, most curved surfaces) falls back to Open CASCADE. One
    # thread: the iterator's threads cost 2 to 4 times the CPU of one and were slower on a busy 2-core machine
    # (bench/README.md, bench_sync.py).
    iterator = _GEOM.iterator(
        _settings(),
        model,
        threads or 1,
        include=[model.by_id(step_id) for step_id in step_ids],
        geometry_library=GEOMETRY_LIBRARY,
    )
    try:
        initialized = iterator.initialize()
    except Exception as problem:
        issues.append(
            SyncIssue("TessellationFailed", f"{len(step_ids)} products could not be meshed: {problem}")
        )
        return
    if not initialized:
        return
    while True:
        record = None
        try:
            shape = iterator.get()
            record = pending.get(int(shape.id))
            if record is not None:
                record.origin, record.angles, record.mesh = _mesh(shape)
        except Exception as problem:  # the record keeps no mesh, so it stays pending
            issues.append(SyncIssue("TessellationFailed", f"A product could not be meshed: {problem}"))
        if record is not None and record.mesh:
            del pending[record.step_id]
            yield record
        if not iterator.next():
            break


def _go_on() -> None:
    """A `check` that never stops the reading."""


def placement_angles(rotation: Sequence[Sequence[float]]) -> tuple[float, float, float] | None:
    """Yaw, pitch and roll (degrees) of a 3x3 rotation as the iModel defines them; None if not a rotation."""
    pitch = math.atan2(rotation[2][0], math.hypot(rotation[2][1], rotation[2][2]))
    if math.cos(pitch) > 1e-9:
        yaw = math.atan2(rotation[1][0], rotation[0][0])
        roll = math.atan2(rotation[2][1], rotation[2][2])
    else:  # pitch of +-90 degrees: only yaw - roll counts, so roll is 0
        yaw = math.atan2(-rotation[0][1], rotation[1][1])
        roll = 0.0
    angles = tuple(round(math.degrees(value), 12) + 0.0 for value in (yaw, pitch, roll))
    expected = rotation_matrix(*angles)
    if not np.allclose(expected, np.asarray(rotation, dtype=np.float64), rtol=0.0, atol=1e-9):
        return None
    return (angles[0], angles[1], angles[2])


def _mesh(shape: Any) -> tuple[tuple[float, float, float], tuple[float, float, float], list[MeshPart]]:
    """Origin and angles of the placement, and the coloured parts relative to it.

    The triangles are grouped by material; when there are several groups, each part's points are those its
    triangles use, in the order they first use them.
    """
    matrix = shape.transformation.matrix  # column-major 4x4
    rotation = (
        (matrix[0], matrix[4], matrix[8]),
        (matrix[1], matrix[5], matrix[9]),
        (matrix[2], matrix[6], matrix[10]),
    )
    origin = (
        round(matrix[12], COORDINATE_DIGITS) + 0.0,
        round(matrix[13], COORDINATE_DIGITS) + 0.0,
        round(matrix[14], COORDINATE_DIGITS) + 0.0,
    )
    # Most products are placed without a rotation: no need to find their angles.
    angles = (0.0, 0.0, 0.0) if rotation == _IDENTITY else placement_angles(rotation)
    geometry = shape.geometry
    faces = np.frombuffer(geometry.faces_buffer, dtype=np.int32).reshape(-1, 3)
    if not len(faces):
        return origin, angles or (0.0, 0.0, 0.0), []
    vertices = np.frombuffer(geometry.verts_buffer, dtype=np.float64).reshape(-1, 3)
    if angles is None:  # not a pure rotation: the element gets world axes, the points the placement's turn
        vertices = vertices @ np.asarray(rotation, dtype=np.float64).T
    # + 0.0 turns -0.0 into 0.0.
    vertices = np.round(vertices, COORDINATE_DIGITS) + 0.0
    material_ids = np.frombuffer(geometry.material_ids_buffer, dtype=np.int32)[: len(faces)]
    if len(material_ids) < len(faces):  # triangles without a material id take the default colour
        material_ids = np.concatenate((material_ids, np.full(len(faces) - len(material_ids), -1, np.int32)))
    materials = list(geometry.materials)
    groups = sorted(set(material_ids.tolist()))
    parts = []
    for material in groups:
        color, transparency = _color(materials[material] if 0 <= material < len(materials) else None)
        if len(groups) == 1:  # one colour (most products): the points as IfcOpenShell gives them
            parts.append(MeshPart(color, transparency, vertices, faces))
            break
        triangles = faces[material_ids == material]
        used = list(dict.fromkeys(triangles.ravel().tolist()))  # vertex indices in the order of first use
        local_index = np.empty(len(vertices), dtype=np.int32)
        local_index[used] = np.arange(len(used), dtype=np.int32)
        parts.append(MeshPart(color, transparency, vertices[used], local_index[triangles]))
    return origin, angles or (0.0, 0.0, 0.0), parts


_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def _color(material: Any) -> tuple[tuple[int, int, int], float]:
    red, green, blue = DEFAULT_COLOR
    transparency = 0.0
    if material is not None:
        try:
            diffuse = material.diffuse
            red, green, blue = float(diffuse.r()), float(diffuse.g()), float(diffuse.b())
        except Exception:  # a style without a colour keeps the default
            pass
        value = getattr(material, "transparency", 0.0)
        if isinstance(value, float) and math.isfinite(value):
            transparency = min(max(value, 0.0), 1.0)
    return (
        (_channel(red), _channel(green), _channel(blue)),
        round(transparency, 3),
    )


def _channel(value: float) -> int:
    if not math.isfinite(value):
        return 204
    return min(255, max(0, round(value * 255)))
