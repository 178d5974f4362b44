"""Compare an IFC file with the file exported after a round trip (IFC -> iModel -> IFC), aspect by aspect.

`compare(source, exported)` reads both files with IfcOpenShell and lists every difference as
(aspect, key, detail): the key is a product's or spatial element's GlobalId, a unit type or a
georeferencing attribute. Measures are compared in SI (each file's own unit scales), so a length of
5000 in a millimetre file equals 5.0 in a metre file. When the exported file has another schema, classes
are compared through `SCHEMA_CLASS_EQUIVALENTS`. The round-trip test decides which differences are
allowed (its `ALLOWED_DIFFERENCES` table); this module only measures.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.geom
import ifcopenshell.util.classification
import ifcopenshell.util.element
import ifcopenshell.util.placement
import ifcopenshell.util.unit
import numpy as np

# Aspects, in the order they are reported.
ASPECTS = (
    "product",  # a product of the source is missing from the export, or the export has one more
    "class",
    "Name",
    "ObjectType",
    "Tag",
    "Description",
    "placement",  # world matrix, translation in metres
    "geometry",  # world bounding box of the tessellated shape, in metres
    "container",  # GlobalId of the spatial element that contains the product
    "property_sets",
    "quantity_sets",
    "type",  # the type object's GlobalId, class and Name
    "material",
    "classification",
    "groups",
    "spatial_structure",  # class, Name, Elevation and parent of sites, buildings, storeys, facilities
    "units",
    "georeferencing",
)
PRODUCT_ATTRIBUTES = ("Name", "ObjectType", "Tag", "Description")
PLACEMENT_TOLERANCE = 1e-6  # metres (and the rotation's unitless terms)
GEOMETRY_TOLERANCE = 1e-5  # metres
RELATIVE_TOLERANCE = 1e-9  # property and quantity values, georeferencing numbers
# Products whose shapes are not compared: IfcOpenShell 0.9 takes seconds per vertical layout and a third of
# a second per segment (minutes for an alignment file). Their presence, attributes and placement still are.
GEOMETRY_SKIPPED_CLASSES = (
    "IfcAlignmentHorizontal",
    "IfcAlignmentVertical",
    "IfcAlignmentCant",
    "IfcAlignmentSegment",
)

# The class a source class becomes in another schema, per (source schema, target schema family): only
# classes the target schema does not have (IFC4X3_ADD2 still has IfcWallStandardCase, IFC4 IfcDoorStyle). A
# class that is not listed keeps its name.
_CASES_TO_SUPERTYPES = {
    "IfcBeamStandardCase": "IfcBeam",
    "IfcColumnStandardCase": "IfcColumn",
    "IfcDoorStandardCase": "IfcDoor",
    "IfcMemberStandardCase": "IfcMember",
    "IfcOpeningStandardCase": "IfcOpeningElement",
    "IfcPlateStandardCase": "IfcPlate",
    "IfcSlabElementedCase": "IfcSlab",
    "IfcSlabStandardCase": "IfcSlab",
    "IfcWallElementedCase": "IfcWall",
    "IfcWindowStandardCase": "IfcWindow",
}
_STYLES_TO_TYPES = {"IfcDoorStyle": "IfcDoorType", "IfcWindowStyle": "IfcWindowType"}
_TYPES_TO_STYLES = {"IfcDoorType": "IfcDoorStyle", "IfcWindowType": "IfcWindowStyle"}
SCHEMA_CLASS_EQUIVALENTS: dict[tuple[str, str], dict[str, str]] = {
    ("IFC2X3", "IFC4X3"): dict(_STYLES_TO_TYPES),
    ("IFC4", "IFC4X3"): {**_STYLES_TO_TYPES, **_CASES_TO_SUPERTYPES},
    ("IFC4", "IFC2X3"): dict(_TYPES_TO_STYLES),
    ("IFC4X3", "IFC2X3"): dict(_TYPES_TO_STYLES),
}
# The schema each family's classes are checked against.
FAMILY_SCHEMAS = {"IFC2X3": "IFC2X3", "IFC4": "IFC4", "IFC4X3": "IFC4X3_ADD2"}

# The spatial structure is compared as one aspect; its elements are not products here.
_SPATIAL_CLASSES = ("IfcSpatialStructureElement", "IfcSpatialElement")
_NOT_STRUCTURE = ("IfcSpace", "IfcSpatialZone", "IfcExternalSpatialElement")
_QUANTITY_UNITS = {
    "IfcQuantityLength": ("LengthValue", "LENGTHUNIT"),
    "IfcQuantityArea": ("AreaValue", "AREAUNIT"),
    "IfcQuantityVolume": ("VolumeValue", "VOLUMEUNIT"),
    "IfcQuantityWeight": ("WeightValue", "MASSUNIT"),
    "IfcQuantityTime": ("TimeValue", "TIMEUNIT"),
    "IfcQuantityCount": ("CountValue", None),
    "IfcQuantityNumber": ("NumberValue", None),
}


@dataclass(frozen=True, slots=True, order=True)
class Difference:
    """One thing that differs: the aspect, the GlobalId (or unit type, or attribute) and what differs."""

    aspect: str
    key: str
    detail: str


def schema_family(model: ifcopenshell.file) -> str:
    """IFC2X3, IFC4 or IFC4X3 (ADD1 and ADD2 are the same family here)."""
    schema = str(model.schema).upper()
    return "IFC4X3" if schema.startswith("IFC4X3") else schema


def compare(source_path: Path | str | FileView, exported_path: Path | str | FileView) -> list[Difference]:
    """Every difference between a source IFC file and its round-tripped export, sorted.

    Either side may be a `FileView` already read, so that a source compared with several exports is read
    (and its shapes tessellated) once.
    """
    source = source_path if isinstance(source_path, FileView) else FileView.open(source_path)
    exported = exported_path if isinstance(exported_path, FileView) else FileView.open(exported_path)
    equivalents = SCHEMA_CLASS_EQUIVALENTS.get((source.schema, exported.schema), {})
    differences: list[Difference] = []
    differences += _compare_products(source, exported, equivalents)
    differences += _compare_spatial_structure(source, exported, equivalents)
    differences += _compare_units(source, exported)
    differences += _compare_georeferencing(source, exported)
    return sorted(set(differences))


class FileView:
    """One file's facts in SI, read once: products by GlobalId, unit scales, shapes' bounding boxes."""

    def __init__(self, model: ifcopenshell.file) -> None:
        self.model = model
        self.schema = schema_family(model)
        self._scales: dict[str | None, float] = {}
        self.length_scale = self.unit_scale("LENGTHUNIT")
        products: Iterable[Any] = model.by_type("IfcProduct")
        self.products: dict[str, Any] = {}
        self.spatial: dict[str, Any] = {}
        for product in products:
            target = self.spatial if _in_spatial_structure(product) else self.products
            target[str(product.GlobalId)] = product
        self._boxes: dict[str, tuple[float, ...]] | None = None

    @classmethod
    def open(cls, path: Path | str) -> FileView:
        return cls(ifcopenshell.open(str(path)))

    def unit_scale(self, unit_type: str | None) -> float:
        """The factor from this file's unit of a type to SI (1 for unitless and unknown types)."""
        if unit_type not in self._scales:
            self._scales[unit_type] = _unit_scale(self.model, unit_type)
        return self._scales[unit_type]

    def measure(self, value: Any) -> tuple[str, Any]:
        """(measure type, value in SI) of an IFC value entity such as IFCLENGTHMEASURE(5000.)."""
        measure_type = value.is_a()
        wrapped = value.wrappedValue
        unit_type = _measure_unit_type(measure_type)
        if unit_type is not None and isinstance(wrapped, int | float) and not isinstance(wrapped, bool):
            return measure_type, float(wrapped) * self.unit_scale(unit_type)
        return measure_type, wrapped

    def bounding_boxes(self) -> dict[str, tuple[float, ...]]:
        """GlobalId -> (min x, y, z, max x, y, z) of the product's tessellated shape in world coordinates."""
        if self._boxes is None:
            self._boxes = dict(_bounding_boxes(self.model))
        return self._boxes


def _instances(model: ifcopenshell.file, class_name: str) -> list[Any]:
    try:
        return list(model.by_type(class_name))
    except RuntimeError:  # the schema has no such class
        return []


def _in_spatial_structure(product: Any) -> bool:
    """Sites, buildings, storeys and facilities (their parts too); spaces and zones are products here."""
    spatial = any(product.is_a(name) for name in _SPATIAL_CLASSES)
    return spatial and not any(product.is_a(name) for name in _NOT_STRUCTURE)


def _measure_unit_type(measure_type: str) -> str | None:
    try:
        unit_type = ifcopenshell.util.unit.get_measure_unit_type(measure_type)
    except Exception:
        return None
    return None if unit_type in (None, "USERDEFINED") else str(unit_type)


def _unit_scale(model: ifcopenshell.file, unit_type: str | None) -> float:
    if unit_type is None:
        return 1.0
    unit = _project_unit(model, unit_type)
    if unit is None:
        return 1.0
    if unit.is_a("IfcSIUnit") and unit.Name == "GRAM":  # SI's mass unit is the kilogram
        return float(ifcopenshell.util.unit.get_prefix_multiplier(unit.Prefix)) * 0.001
    try:
        return float(ifcopenshell.util.unit.calculate_unit_scale(model, unit_type))
    except Exception:
        return 1.0


def _project_unit(model: ifcopenshell.file, unit_type: str) -> Any:
    try:
        return ifcopenshell.util.unit.get_project_unit(model, unit_type)
    except Exception:
        return None


def _same_number(first: float, second: float, absolute: float = 1e-12) -> bool:
    return math.isclose(first, second, rel_tol=RELATIVE_TOLERANCE, abs_tol=absolute)


def _same_value(first: Any, second: Any) -> bool:
    """Equal values, reals within the relative tolerance, recursively through tuples and dicts."""
    if isinstance(first, bool) or isinstance(second, bool):
        return first is second or first == second
    if isinstance(first, int | float) and isinstance(second, int | float):
        return _same_number(float(first), float(second))
    if isinstance(first, tuple | list) and isinstance(second, tuple | list):
        return len(first) == len(second) and all(
            _same_value(a, b) for a, b in zip(first, second, strict=True)
        )
    if isinstance(first, dict) and isinstance(second, dict):
        return first.keys() == second.keys() and all(_same_value(first[key], second[key]) for key in first)
    return bool(first == second)


def _class_in_target(ifc_class: str, equivalents: dict[str, str]) -> str:
    return equivalents.get(ifc_class, ifc_class)


# Products


def _compare_products(
    source: FileView, exported: FileView, equivalents: dict[str, str]
) -> Iterator[Difference]:
    for global_id in sorted(source.products.keys() - exported.products.keys()):
        yield Difference("product", global_id, f"missing: {source.products[global_id].is_a()}")
    for global_id in sorted(exported.products.keys() - source.products.keys()):
        yield Difference("product", global_id, f"extra: {exported.products[global_id].is_a()}")
    for global_id in sorted(source.products.keys() & exported.products.keys()):
        before, after = source.products[global_id], exported.products[global_id]
        expected_class = _class_in_target(before.is_a(), equivalents)
        if expected_class != after.is_a():
            yield Difference("class", global_id, f"{before.is_a()} -> {after.is_a()}")
        for attribute in PRODUCT_ATTRIBUTES:
            old, new = _attribute(before, attribute), _attribute(after, attribute)
            if old != new:
                yield Difference(attribute, global_id, f"{old!r} -> {new!r}")
        yield from _compare_placement(global_id, source, before, exported, after)
        yield from _compare_geometry(global_id, source, exported)
        yield from _compare_simple(global_id, "container", _container(before), _container(after))
        yield from _compare_sets(
            global_id, "property_sets", _property_sets(source, before), _property_sets(exported, after)
        )
        yield from _compare_sets(
            global_id, "quantity_sets", _quantity_sets(source, before), _quantity_sets(exported, after)
        )
        yield from _compare_simple(
            global_id, "type", _type_object(before, equivalents), _type_object(after, {})
        )
        yield from _compare_simple(
            global_id, "material", _material(source, before), _material(exported, after)
        )
        yield from _compare_simple(
            global_id, "classification", _classifications(before), _classifications(after)
        )
        yield from _compare_simple(global_id, "groups", _groups(before), _groups(after))


def _attribute(entity: Any, name: str) -> Any:
    value = getattr(entity, name, None)
    return value if value != "" else None


def _compare_simple(global_id: str, aspect: str, before: Any, after: Any) -> Iterator[Difference]:
    if not _same_value(before, after):
        yield Difference(aspect, global_id, f"{before!r} -> {after!r}")


def _compare_placement(
    global_id: str, source: FileView, before: Any, exported: FileView, after: Any
) -> Iterator[Difference]:
    old, new = _world_matrix(source, before), _world_matrix(exported, after)
    if old is None and new is None:
        return
    if old is None or new is None:
        yield Difference("placement", global_id, f"{_matrix_text(old)} -> {_matrix_text(new)}")
        return
    if not np.allclose(old, new, rtol=0.0, atol=PLACEMENT_TOLERANCE):
        largest = float(np.max(np.abs(old - new)))
        yield Difference("placement", global_id, f"moved by up to {largest:.3g} m: {_matrix_text(new)}")


def _world_matrix(view: FileView, product: Any) -> Any:
    if product.ObjectPlacement is None:
        return None
    try:
        matrix = np.array(
            ifcopenshell.util.placement.get_local_placement(product.ObjectPlacement), dtype=float
        )
    except Exception:  # a placement IfcOpenShell cannot evaluate (a linear placement without its curve)
        return None
    matrix[:3, 3] *= view.length_scale
    return matrix


def _matrix_text(matrix: Any) -> str:
    if matrix is None:
        return "no placement"
    return f"origin {tuple(round(float(value), 6) for value in matrix[:3, 3])}"


def _compare_geometry(global_id: str, source: FileView, exported: FileView) -> Iterator[Difference]:
    old, new = source.bounding_boxes().get(global_id), exported.bounding_boxes().get(global_id)
    if old is None and new is None:
        return
    if old is None or new is None:
        yield Difference("geometry", global_id, f"{_box_text(old)} -> {_box_text(new)}")
        return
    largest = max(abs(a - b) for a, b in zip(old, new, strict=True))
    if largest > GEOMETRY_TOLERANCE:
        yield Difference(
            "geometry", global_id, f"bounding box differs by up to {largest:.3g} m: {_box_text(new)}"
        )


def _box_text(box: tuple[float, ...] | None) -> str:
    return "no shape" if box is None else f"box {tuple(round(value, 6) for value in box)}"


def _bounding_boxes(model: ifcopenshell.file) -> Iterator[tuple[str, tuple[float, ...]]]:
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    skipped = [product for name in GEOMETRY_SKIPPED_CLASSES for product in _instances(model, name)]
    threads = max(1, min(2, multiprocessing.cpu_count()))
    try:
        iterator = ifcopenshell.geom.iterator(settings, model, threads, exclude=skipped or None)
        if not iterator.initialize():
            return
    except RuntimeError:  # "No elements processed": nothing with a shape
        return
    while True:
        shape = iterator.get()
        vertices = np.array(shape.geometry.verts, dtype=float).reshape(-1, 3)
        if len(vertices):
            box = tuple(float(value) for value in (*vertices.min(axis=0), *vertices.max(axis=0)))
            yield str(shape.guid), box
        if not iterator.next():
            break


def _container(product: Any) -> str | None:
    container = ifcopenshell.util.element.get_container(product)
    return None if container is None else str(container.GlobalId)


# Property and quantity sets


def _definitions(product: Any) -> Iterator[Any]:
    """The property set definitions assigned to a product (not through its type)."""
    for relationship in getattr(product, "IsDefinedBy", None) or ():
        if not relationship.is_a("IfcRelDefinesByProperties"):
            continue
        definition = relationship.RelatingPropertyDefinition
        yield from definition if isinstance(definition, tuple) else (definition,)


def _property_sets(view: FileView, product: Any) -> dict[str, dict[str, Any]]:
    return _merged(
        (str(definition.Name), str(prop.Name), _property(view, prop))
        for definition in _definitions(product)
        if definition.is_a("IfcPropertySet")
        for prop in definition.HasProperties or ()
    )


def _merged(entries: Iterable[tuple[str, str, Any]]) -> dict[str, dict[str, Any]]:
    """Set name -> property name -> value. Sets of the same name are one (Revit writes two 'Dimensions'
    to an element, its own and its type's); a property in both has the tuple of its distinct values, in repr
    order (the same value twice is one: a set of the merged sets holds it once)."""
    values: dict[str, dict[str, list[Any]]] = {}
    for set_name, name, value in entries:
        found = values.setdefault(set_name, {}).setdefault(name, [])
        if value not in found:
            found.append(value)
    return {
        set_name: {
            name: found[0] if len(found) == 1 else tuple(sorted(found, key=repr))
            for name, found in properties.items()
        }
        for set_name, properties in values.items()
    }


def _property(view: FileView, prop: Any) -> Any:
    """(kind, measure type, SI value) of a property; lists and nested properties recursively."""
    if prop.is_a("IfcPropertySingleValue"):
        return _measured(view, prop.NominalValue)
    if prop.is_a("IfcPropertyEnumeratedValue"):
        return ("enumerated", tuple(_measured(view, value) for value in prop.EnumerationValues or ()))
    if prop.is_a("IfcPropertyListValue"):
        return ("list", tuple(_measured(view, value) for value in prop.ListValues or ()))
    if prop.is_a("IfcPropertyBoundedValue"):
        return ("bounded", _measured(view, prop.LowerBoundValue), _measured(view, prop.UpperBoundValue))
    if prop.is_a("IfcPropertyTableValue"):
        defining = tuple(_measured(view, value) for value in prop.DefiningValues or ())
        defined = tuple(_measured(view, value) for value in prop.DefinedValues or ())
        return ("table", defining, defined)
    if prop.is_a("IfcComplexProperty"):
        return ("complex", {str(part.Name): _property(view, part) for part in prop.HasProperties or ()})
    return (prop.is_a(),)


def _measured(view: FileView, value: Any) -> Any:
    return None if value is None else view.measure(value)


def _quantity_sets(view: FileView, product: Any) -> dict[str, dict[str, Any]]:
    return _merged(
        (str(definition.Name), str(quantity.Name), _quantity(view, quantity))
        for definition in _definitions(product)
        if definition.is_a("IfcElementQuantity")
        for quantity in definition.Quantities or ()
    )


def _quantity(view: FileView, quantity: Any) -> Any:
    """(quantity class, SI value) of a quantity; a physical complex quantity's parts recursively."""
    if quantity.is_a("IfcPhysicalComplexQuantity"):
        return ("complex", {str(part.Name): _quantity(view, part) for part in quantity.HasQuantities or ()})
    attribute, unit_type = _QUANTITY_UNITS.get(quantity.is_a(), (None, None))
    if attribute is None:
        return (quantity.is_a(),)
    value = getattr(quantity, attribute)
    if isinstance(value, int | float) and unit_type is not None:
        value = float(value) * view.unit_scale(unit_type)
    return (quantity.is_a(), value)


def _compare_sets(
    global_id: str, aspect: str, before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> Iterator[Difference]:
    for name in sorted(before.keys() - after.keys()):
        yield Difference(aspect, global_id, f"missing set {name!r}")
    for name in sorted(after.keys() - before.keys()):
        yield Difference(aspect, global_id, f"extra set {name!r}")
    for name in sorted(before.keys() & after.keys()):
        old, new = before[name], after[name]
        for prop in sorted(old.keys() - new.keys()):
            yield Difference(aspect, global_id, f"{name}.{prop}: missing")
        for prop in sorted(new.keys() - old.keys()):
            yield Difference(aspect, global_id, f"{name}.{prop}: extra")
        for prop in sorted(old.keys() & new.keys()):
            if not _same_value(old[prop], new[prop]):
                yield Difference(aspect, global_id, f"{name}.{prop}: {old[prop]!r} -> {new[prop]!r}")


# Type, material, classification, groups


def _type_object(product: Any, equivalents: dict[str, str]) -> tuple[str, str, Any] | None:
    type_object = ifcopenshell.util.element.get_type(product)
    if type_object is None:
        return None
    return (str(type_object.GlobalId), _class_in_target(type_object.is_a(), equivalents), type_object.Name)


def _material(view: FileView, product: Any) -> Any:
    """The material a consumer sees for the product (its own or its type's), with names and SI sizes."""
    material = ifcopenshell.util.element.get_material(product, should_skip_usage=False)
    return None if material is None else _material_description(view, material)


def _material_description(view: FileView, material: Any) -> Any:
    length = view.length_scale
    if material.is_a("IfcMaterial"):
        return ("IfcMaterial", material.Name)
    if material.is_a("IfcMaterialLayerSetUsage"):
        return ("IfcMaterialLayerSetUsage", _material_description(view, material.ForLayerSet))
    if material.is_a("IfcMaterialLayerSet"):
        layers = tuple(
            (layer.Material.Name if layer.Material else None, float(layer.LayerThickness) * length)
            for layer in material.MaterialLayers
        )
        return ("IfcMaterialLayerSet", material.LayerSetName, layers)
    if material.is_a("IfcMaterialProfileSetUsage"):
        return ("IfcMaterialProfileSetUsage", _material_description(view, material.ForProfileSet))
    if material.is_a("IfcMaterialProfileSet"):
        profiles = tuple(
            (
                profile.Material.Name if profile.Material else None,
                profile.Profile.ProfileName if profile.Profile else None,
            )
            for profile in material.MaterialProfiles
        )
        return ("IfcMaterialProfileSet", material.Name, profiles)
    if material.is_a("IfcMaterialConstituentSet"):
        constituents = tuple(
            (constituent.Name, constituent.Material.Name if constituent.Material else None)
            for constituent in material.MaterialConstituents or ()
        )
        return ("IfcMaterialConstituentSet", material.Name, constituents)
    if material.is_a("IfcMaterialList"):
        return ("IfcMaterialList", tuple(item.Name for item in material.Materials))
    return (material.is_a(),)


def _classifications(product: Any) -> tuple[tuple[Any, Any, Any], ...]:
    references = ifcopenshell.util.classification.get_references(product)
    return tuple(sorted((_identification(ref), ref.Name, _source_name(ref)) for ref in references))


def _identification(reference: Any) -> Any:
    if hasattr(reference, "Identification"):
        return reference.Identification
    return getattr(reference, "ItemReference", None)  # IFC2X3


def _source_name(reference: Any) -> Any:
    source = reference.ReferencedSource
    while source is not None and source.is_a("IfcClassificationReference"):
        source = source.ReferencedSource
    return None if source is None else source.Name


def _groups(product: Any) -> tuple[tuple[str, str, Any], ...]:
    groups = [
        relationship.RelatingGroup
        for relationship in getattr(product, "HasAssignments", None) or ()
        if relationship.is_a("IfcRelAssignsToGroup")
    ]
    return tuple(sorted((str(group.GlobalId), group.is_a(), group.Name) for group in groups))


# Spatial structure, units, georeferencing


def _compare_spatial_structure(
    source: FileView, exported: FileView, equivalents: dict[str, str]
) -> Iterator[Difference]:
    before = {key: _spatial_facts(source, element, equivalents) for key, element in source.spatial.items()}
    after = {key: _spatial_facts(exported, element, {}) for key, element in exported.spatial.items()}
    before.update(_project_facts(source))
    after.update(_project_facts(exported))
    for global_id in sorted(before.keys() - after.keys()):
        yield Difference("spatial_structure", global_id, f"missing: {before[global_id]!r}")
    for global_id in sorted(after.keys() - before.keys()):
        yield Difference("spatial_structure", global_id, f"extra: {after[global_id]!r}")
    for global_id in sorted(before.keys() & after.keys()):
        old, new = before[global_id], after[global_id]
        for field in sorted(old.keys() | new.keys()):
            if not _same_value(old.get(field), new.get(field)):
                detail = f"{field}: {old.get(field)!r} -> {new.get(field)!r}"
                yield Difference("spatial_structure", global_id, detail)


def _spatial_facts(view: FileView, element: Any, equivalents: dict[str, str]) -> dict[str, Any]:
    elevation = getattr(element, "Elevation", None)
    parent = ifcopenshell.util.element.get_aggregate(element)
    return {
        "class": _class_in_target(element.is_a(), equivalents),
        "Name": _attribute(element, "Name"),
        "Elevation": None if elevation is None else float(elevation) * view.length_scale,
        "parent": None if parent is None else str(parent.GlobalId),
    }


def _project_facts(view: FileView) -> dict[str, dict[str, Any]]:
    return {
        str(project.GlobalId): {"class": "IfcProject", "Name": _attribute(project, "Name")}
        for project in _instances(view.model, "IfcProject")
    }


def _compare_units(source: FileView, exported: FileView) -> Iterator[Difference]:
    before, after = _units(source.model), _units(exported.model)
    for unit_type in sorted(before.keys() | after.keys()):
        if before.get(unit_type) != after.get(unit_type):
            yield Difference("units", unit_type, f"{before.get(unit_type)!r} -> {after.get(unit_type)!r}")


def _units(model: ifcopenshell.file) -> dict[str, str]:
    """Unit type -> the unit's full name ('MILLIMETRE', 'DEGREE') of the project's unit assignment."""
    try:
        assignment = ifcopenshell.util.unit.get_unit_assignment(model)
    except Exception:
        return {}
    units: dict[str, str] = {}
    for unit in getattr(assignment, "Units", None) or ():
        unit_type = getattr(unit, "UnitType", None)
        if unit_type is None or unit.is_a("IfcMonetaryUnit"):
            continue
        try:
            name = ifcopenshell.util.unit.get_full_unit_name(unit)
        except Exception:
            name = str(getattr(unit, "Name", unit.is_a()))
        units[str(unit_type)] = str(name)
    return units


def _compare_georeferencing(source: FileView, exported: FileView) -> Iterator[Difference]:
    before, after = _georeferencing(source), _georeferencing(exported)
    for key in sorted(before.keys() | after.keys()):
        if not _same_value(before.get(key), after.get(key)):
            yield Difference("georeferencing", key, f"{before.get(key)!r} -> {after.get(key)!r}")


def _georeferencing(view: FileView) -> dict[str, Any]:
    """The map conversion and projected CRS (IFC4 and later), and the site's reference location."""
    facts: dict[str, Any] = {}
    for conversion in _instances(view.model, "IfcMapConversion"):
        for attribute in (
            "Eastings",
            "Northings",
            "OrthogonalHeight",
            "XAxisAbscissa",
            "XAxisOrdinate",
            "Scale",
        ):
            value = getattr(conversion, attribute, None)
            facts[f"IfcMapConversion.{attribute}"] = 1.0 if attribute == "Scale" and value is None else value
        target = conversion.TargetCRS
        facts["IfcProjectedCRS.Name"] = None if target is None else target.Name
    for site in _instances(view.model, "IfcSite")[:1]:
        facts["IfcSite.RefLatitude"] = _angle(site.RefLatitude)
        facts["IfcSite.RefLongitude"] = _angle(site.RefLongitude)
        elevation = site.RefElevation
        facts["IfcSite.RefElevation"] = None if elevation is None else float(elevation) * view.length_scale
    return {key: value for key, value in facts.items() if value is not None}


def _angle(compound: Any) -> float | None:
    """Decimal degrees of an IfcCompoundPlaneAngleMeasure (degrees, minutes, seconds, millionths)."""
    if not compound:
        return None
    parts = list(compound) + [0] * (4 - len(compound))
    sign = -1.0 if any(part < 0 for part in parts) else 1.0
    degrees, minutes, seconds, millionths = (abs(part) for part in parts[:4])
    return float(sign * (degrees + minutes / 60 + (seconds + millionths / 1e6) / 3600))
