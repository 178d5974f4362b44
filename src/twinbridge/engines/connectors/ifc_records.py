"""The IFC record of a file and of its products, as the connector writes it (docs/ifc-connector.md, "The IFC
record"): IfcOpenShell entities turned into JSON values, with measures in SI units.

Attributes are taken by name from IfcOpenShell's schema declarations, which also give each attribute's
declared type: a length, area, volume or plane angle measure is converted with the file's `UnitScales`, as is
every typed value (`IfcLengthMeasure(3.0)`) of such a measure. What cannot be carried as JSON (a non-finite
number, a reference cycle) is left out as null with a `ValueLeftOut` issue naming the product.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import ifcopenshell
import ifcopenshell.ifcopenshell_wrapper
import ifcopenshell.util.element
import ifcopenshell.util.placement

from twinbridge.engines.connectors.issues import SyncIssue
from twinbridge.engines.ifc.records import RECORD_VERSION, UnitScales, scaled

# Attributes a product's record leaves out: the element's placement and geometry are the iModel's own.
PRODUCT_EXCLUDED = ("GlobalId", "OwnerHistory", "ObjectPlacement", "Representation")
# The project's contexts and units are the file record's `context` and `units`.
PROJECT_EXCLUDED = ("GlobalId", "OwnerHistory", "RepresentationContexts", "UnitsInContext")
# A type's property sets are its `propertySets`; its representation maps (geometry) are not kept.
TYPE_EXCLUDED = ("GlobalId", "OwnerHistory", "HasPropertySets", "RepresentationMaps")
ROOT_EXCLUDED = ("GlobalId", "OwnerHistory")
# A layer's assigned items are the representations themselves; products name their layers instead.
LAYER_EXCLUDED = ("AssignedItems",)
# Nested entities deeper than this are left out (a guard against reference cycles).
MAXIMUM_DEPTH = 64

_WRAPPER: Any = ifcopenshell.ifcopenshell_wrapper
# (schema, class) -> [(attribute name, attribute index, measure type or None)] of explicit attributes
_ATTRIBUTES: dict[tuple[str, str], list[tuple[str, int, str | None]]] = {}


def explicit_attributes(schema: str, ifc_class: str) -> list[tuple[str, int, str | None]]:
    """The explicit attributes of a class: name, position and the defined type declared for it (the element
    type of an aggregate), from IfcOpenShell's schema; the declared type decides the unit conversion."""
    key = (schema, ifc_class)
    if key not in _ATTRIBUTES:
        declaration = _WRAPPER.schema_by_name(schema).declaration_by_name(ifc_class).as_entity()
        attributes = []
        for index, (attribute, derived) in enumerate(
            zip(declaration.all_attributes(), declaration.derived(), strict=True)
        ):
            if not derived:
                attributes.append(
                    (str(attribute.name()), index, _declared_type(attribute.type_of_attribute()))
                )
        _ATTRIBUTES[key] = attributes
    return _ATTRIBUTES[key]


class InverseIndex:
    """The relationships that refer to an entity, by the name of the inverse attribute they stand in, from one
    call (`file.get_inverse` with attribute indices) instead of one per inverse attribute: reading a product's
    ten inverse attributes one by one took about 40% of its record's time. Same relationships, in the same
    order, as the inverse attributes give."""

    def __init__(self, model: ifcopenshell.file) -> None:
        self.model = model
        self.schema = _WRAPPER.schema_by_name(str(model.schema_identifier))
        # (entity class, relationship class, attribute index) -> inverse attribute name, or "" for none.
        self._names: dict[tuple[str, str, int], str] = {}

    def of(self, entity: Any) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        entity_class = entity.is_a()
        referring: list[tuple[Any, int]] = self.model.get_inverse(
            entity, allow_duplicate=True, with_attribute_indices=True
        )
        for relationship, index in referring:
            key = (entity_class, relationship.is_a(), index)
            name = self._names.get(key)
            if name is None:
                name = self._names[key] = self._inverse_name(*key)
            if name:
                found.setdefault(name, []).append(relationship)
        return found

    def _inverse_name(self, entity_class: str, relationship_class: str, index: int) -> str:
        relationship_classes = set()
        declaration = self.schema.declaration_by_name(relationship_class)
        while declaration is not None:
            relationship_classes.add(str(declaration.name()))
            declaration = declaration.supertype()
        for inverse in self.schema.declaration_by_name(entity_class).all_inverse_attributes():
            reference = inverse.entity_reference()
            if (
                str(reference.name()) in relationship_classes
                and reference.attribute_index(inverse.attribute_reference()) == index
            ):
                return str(inverse.name())
        return ""


def _declared_type(parameter: Any) -> str | None:
    kind = type(parameter).__name__
    if kind == "aggregation_type":
        return _declared_type(parameter.type_of_element())
    if kind == "named_type":
        declared = parameter.declared_type()
        if type(declared).__name__ == "type_declaration":
            return str(declared.name())
    return None


class RecordBuilder:
    """Turns one file's entities into record values; `issues` collects what could not be carried."""

    def __init__(self, model: ifcopenshell.file, scales: UnitScales | None = None) -> None:
        self.model = model
        self.schema = str(model.schema_identifier)
        self.scales = scales if scales is not None else UnitScales.of(model)
        self.issues: list[SyncIssue] = []
        self._left_out: set[tuple[str | None, str]] = set()
        self._kept: dict[tuple[str, tuple[str, ...]], list[tuple[str, int, str | None]]] = {}
        # Per class name: "root" (referred to by GlobalId), "entity", or "defined type" (a wrapped value).
        self._kinds: dict[str, str] = {}
        self.inverses = InverseIndex(model)

    # ---- values

    def value(
        self, value: Any, declared: str | None = None, *, owner: str | None = None, where: str = ""
    ) -> Any:
        """The JSON value of an attribute value; `declared` is the attribute's declared defined type."""
        return self._value(value, declared, owner, where, 0, frozenset())

    def _value(
        self,
        value: Any,
        declared: str | None,
        owner: str | None,
        where: str,
        depth: int,
        path: frozenset[int],
    ) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return self.scales.to_si(declared, value) if declared else value
        if isinstance(value, float):
            if not math.isfinite(value):
                self._leave_out(owner, where, f"the number {value} has no JSON form")
                return None
            return self.scales.to_si(declared, value) if declared else value
        if isinstance(value, list | tuple):
            return [self._value(item, declared, owner, where, depth, path) for item in value]
        if isinstance(value, ifcopenshell.entity_instance):
            return self._entity(value, owner, where, depth, path)
        self._leave_out(owner, where, f"a value of type {type(value).__name__} has no JSON form")
        return None

    def _entity(self, value: Any, owner: str | None, where: str, depth: int, path: frozenset[int]) -> Any:
        ifc_class = value.is_a()
        kind = self._kinds.get(ifc_class)
        if kind is None:
            kind = self._kinds[ifc_class] = (
                "root" if value.is_a("IfcRoot") else "entity" if value.is_entity() else "defined type"
            )
        if kind == "defined type":  # inside a SELECT: IfcLengthMeasure(3.0)
            return {
                "type": ifc_class,
                "value": self._value(value.get_argument(0), ifc_class, owner, where, depth, path),
            }
        if kind == "root":
            return str(value.GlobalId)
        entity_id = value.id()
        if depth >= MAXIMUM_DEPTH or entity_id in path:
            self._leave_out(owner, where, f"{ifc_class} #{entity_id} refers back to itself")
            return None
        return {
            "type": ifc_class,
            "attributes": self._attributes(
                value, ifc_class, (), owner, where, False, depth + 1, path | {entity_id}
            ),
        }

    def attributes(
        self,
        entity: Any,
        excluded: Iterable[str],
        *,
        owner: str | None = None,
        where: str = "",
        keep_unset: bool = True,
        depth: int = 0,
        path: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """An entity's explicit attributes by name, but `excluded`; unset ones are null, or left out."""
        return self._attributes(entity, entity.is_a(), tuple(excluded), owner, where, keep_unset, depth, path)

    def _attributes(
        self,
        entity: Any,
        ifc_class: str,
        excluded: tuple[str, ...],
        owner: str | None,
        where: str,
        keep_unset: bool,
        depth: int,
        path: frozenset[int],
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, index, declared in self._kept_attributes(ifc_class, excluded):
            raw = entity.get_argument(index)
            if raw is None and not keep_unset:
                continue
            label = f"{where}.{name}" if where else name
            result[name] = self._value(raw, declared, owner, label, depth, path)
        return result

    def _kept_attributes(
        self, ifc_class: str, excluded: tuple[str, ...]
    ) -> list[tuple[str, int, str | None]]:
        key = (ifc_class, excluded)
        kept = self._kept.get(key)
        if kept is None:
            kept = [item for item in explicit_attributes(self.schema, ifc_class) if item[0] not in key[1]]
            self._kept[key] = kept
        return kept

    def _leave_out(self, owner: str | None, where: str, why: str) -> None:
        if (owner, where) in self._left_out:
            return
        self._left_out.add((owner, where))
        self.issues.append(
            SyncIssue(
                "ValueLeftOut", f"{where or 'a value'}: {why}; the IFC record holds null instead", owner
            )
        )

    # ---- parts of records

    def property_set(self, definition: Any, owner: str | None) -> dict[str, Any]:
        """An IfcPropertySet or IfcElementQuantity (or another property set definition) with its GlobalId."""
        return {
            "globalId": str(definition.GlobalId),
            "type": definition.is_a(),
            "attributes": self.attributes(
                definition, ROOT_EXCLUDED, owner=owner, where=str(definition.Name or ""), keep_unset=False
            ),
        }

    def own_property_sets(
        self, entity: Any, inverses: dict[str, list[Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The sets of an object's IfcRelDefinesByProperties (not those of its type); `inverses`: the entity's
        (InverseIndex.of), when the caller has them."""
        owner = str(entity.GlobalId)
        result = []
        inverses = self.inverses.of(entity) if inverses is None else inverses
        for relationship in inverses.get("IsDefinedBy", ()):
            if not relationship.is_a("IfcRelDefinesByProperties"):
                continue
            definitions = relationship.RelatingPropertyDefinition
            for definition in definitions if isinstance(definitions, tuple) else (definitions,):
                result.append(self.property_set(definition, owner))
        return result

    def material(self, entity: Any, inverses: dict[str, list[Any]] | None = None) -> Any:
        owner = str(entity.GlobalId)
        inverses = self.inverses.of(entity) if inverses is None else inverses
        for association in inverses.get("HasAssociations", ()):
            if association.is_a("IfcRelAssociatesMaterial"):
                return self.value(association.RelatingMaterial, owner=owner, where="material")
        return None

    def classifications(self, entity: Any, inverses: dict[str, list[Any]] | None = None) -> list[Any]:
        owner = str(entity.GlobalId)
        inverses = self.inverses.of(entity) if inverses is None else inverses
        return [
            self.value(association.RelatingClassification, owner=owner, where="classification")
            for association in inverses.get("HasAssociations", ())
            if association.is_a("IfcRelAssociatesClassification")
        ]

    # ---- the records

    def product(self, product: Any) -> dict[str, Any]:
        """The record of an imported product (`jsonProperties.ifc` of its element)."""
        global_id = str(product.GlobalId)
        inverses = self.inverses.of(product)
        contained = inverses.get("ContainedInStructure")
        # Not contained itself: ifcopenshell's rules for an indirect container (through its whole, its host).
        container = (
            contained[0].RelatingStructure if contained else ifcopenshell.util.element.get_container(product)
        )
        voided = inverses.get("VoidsElements")
        filled = inverses.get("FillsVoids")
        return {
            "version": RECORD_VERSION,
            "class": product.is_a(),
            "globalId": global_id,
            "attributes": self.attributes(product, PRODUCT_EXCLUDED, owner=global_id),
            # Set by the reader for a product imported without geometry: the iModel keeps no placement then.
            "placement": None,
            "container": _global_id(container),
            "decomposes": _global_id(self._whole(inverses)),
            "voids": _global_id(voided[0].RelatingBuildingElement if voided else None),
            "fills": _global_id(filled[0].RelatingOpeningElement if filled else None),
            "type": _global_id(type_in(inverses, self.schema)),
            "propertySets": self.own_property_sets(product, inverses),
            "material": self.material(product, inverses),
            "classifications": self.classifications(product, inverses),
            "groups": [
                str(assignment.RelatingGroup.GlobalId)
                for assignment in inverses.get("HasAssignments", ())
                if assignment.is_a("IfcRelAssignsToGroup")
            ],
            "layers": layer_names(product, self.schema),
        }

    def _whole(self, inverses: dict[str, list[Any]]) -> Any:
        """What a product is part of (IfcRelAggregates) or else nested in (IfcRelNests): ifcopenshell's
        get_aggregate, then get_nest, from the product's inverses (IFC2X3 has both in Decomposes, and only
        its first counts)."""
        decomposes = inverses.get("Decomposes")
        if self.schema == "IFC2X3":
            return decomposes[0].RelatingObject if decomposes else None
        if decomposes:
            return decomposes[0].RelatingObject
        nests = inverses.get("Nests")
        return nests[0].RelatingObject if nests else None

    def file(self, schema: str) -> dict[str, Any]:
        """The record of the file (`jsonProperties.ifc` of its RepositoryLink)."""
        projects = instances(self.model, "IfcProject")
        project = projects[0] if projects else None
        as_the_file_has_them = RecordBuilder(self.model, UnitScales())
        units = (
            as_the_file_has_them.value(project.UnitsInContext, where="units") if project is not None else None
        )
        self.issues += as_the_file_has_them.issues
        return {
            "version": RECORD_VERSION,
            "schema": schema,
            "units": units,
            "unitScales": self.scales.to_json(),
            "project": None if project is None else self._project(project),
            "spatial": [self._spatial(element) for element in spatial_elements(self.model)],
            "context": self._context(),
            "georeference": self._georeference(),
            "types": {
                str(type_object.GlobalId): self._type(type_object)
                for type_object in instances(self.model, "IfcTypeObject")
            },
            "groups": {
                str(group.GlobalId): {
                    "class": group.is_a(),
                    "attributes": self.attributes(group, ROOT_EXCLUDED, owner=str(group.GlobalId)),
                    "propertySets": self.own_property_sets(group),
                }
                for group in instances(self.model, "IfcGroup")
            },
            "materialProperties": [
                self.value(properties, where="materialProperties")
                for properties in instances(self.model, "IfcMaterialProperties")
            ],
            "layers": {
                str(layer.Name or ""): {
                    "type": layer.is_a(),
                    "attributes": self.attributes(layer, LAYER_EXCLUDED, keep_unset=False, where="layer"),
                }
                for layer in instances(self.model, "IfcPresentationLayerAssignment")
            },
        }

    def _project(self, project: Any) -> dict[str, Any]:
        global_id = str(project.GlobalId)
        return {
            "globalId": global_id,
            "class": project.is_a(),
            "attributes": self.attributes(project, PROJECT_EXCLUDED, owner=global_id),
            "propertySets": self.own_property_sets(project),
            "classifications": self.classifications(project),
        }

    def _spatial(self, element: Any) -> dict[str, Any]:
        global_id = str(element.GlobalId)
        parent = ifcopenshell.util.element.get_aggregate(element) or ifcopenshell.util.element.get_container(
            element
        )
        return {
            "globalId": global_id,
            "class": element.is_a(),
            "parent": _global_id(parent),
            "attributes": self.attributes(element, PRODUCT_EXCLUDED, owner=global_id),
            "placement": self.world_placement(element.ObjectPlacement),
            "propertySets": self.own_property_sets(element),
            "classifications": self.classifications(element),
            # A space's IfcSpaceType (IfcSpatialElementType in IFC4), or null.
            "type": _global_id(type_in(self.inverses.of(element), self.schema)),
        }

    def world_placement(self, placement: Any) -> dict[str, list[float]] | None:
        """An object placement in world coordinates, in metres: location, Z axis and X axis."""
        return self.world_placement_of(object_placement_matrix(placement))

    def world_placement_of(self, matrix: Any) -> dict[str, list[float]] | None:
        """`world_placement` of a placement's matrix (from `object_placement_matrix`)."""
        if matrix is None:
            return None
        length = self.scales.length
        return {
            "location": [float(matrix[row][3]) * length + 0.0 for row in range(3)],
            "axis": [float(matrix[row][2]) + 0.0 for row in range(3)],
            "refDirection": [float(matrix[row][0]) + 0.0 for row in range(3)],
        }

    def _context(self) -> dict[str, Any]:
        for context in instances(self.model, "IfcGeometricRepresentationContext"):
            if context.is_a("IfcGeometricRepresentationSubContext") or context.ContextType not in (
                "Model",
                None,
            ):
                continue
            north = context.TrueNorth
            return {
                "trueNorth": [float(ratio) for ratio in north.DirectionRatios[:2]]
                if north is not None
                else None,
                "precision": context.Precision,
            }
        return {"trueNorth": None, "precision": None}

    def _georeference(self) -> dict[str, Any] | None:
        if self.schema == "IFC2X3":
            sites = instances(self.model, "IfcSite")
            by_name = {}
            for site in sites[:1]:
                for relationship in site.IsDefinedBy or ():
                    definition = (
                        relationship.RelatingPropertyDefinition
                        if relationship.is_a("IfcRelDefinesByProperties")
                        else None
                    )
                    if definition is not None and definition.Name in (
                        "ePSet_MapConversion",
                        "ePSet_ProjectedCRS",
                    ):
                        by_name[str(definition.Name)] = self.property_set(definition, str(site.GlobalId))
            if not by_name:
                return None
            return {
                "mapConversion": by_name.get("ePSet_MapConversion"),
                "projectedCRS": by_name.get("ePSet_ProjectedCRS"),
            }
        conversions = instances(self.model, "IfcMapConversion")
        projected = instances(self.model, "IfcProjectedCRS")
        if not conversions and not projected:
            return None
        conversion = None
        if conversions:
            conversion = {
                "type": conversions[0].is_a(),
                "attributes": self.attributes(
                    conversions[0], ("SourceCRS", "TargetCRS"), keep_unset=False, where="mapConversion"
                ),
            }
            target = conversions[0].TargetCRS
            if target is not None and target.is_a("IfcProjectedCRS"):
                projected = [target]
        return {
            "mapConversion": conversion,
            "projectedCRS": self.value(projected[0], where="projectedCRS") if projected else None,
        }

    def _type(self, type_object: Any) -> dict[str, Any]:
        global_id = str(type_object.GlobalId)
        return {
            "class": type_object.is_a(),
            "attributes": self.attributes(type_object, TYPE_EXCLUDED, owner=global_id),
            "propertySets": [
                self.property_set(definition, global_id) for definition in type_object.HasPropertySets or ()
            ],
            "material": self.material(type_object),
            "classifications": self.classifications(type_object),
        }


def object_placement_matrix(placement: Any) -> Any:
    """The 4x4 world matrix of an object placement (in the file's units), or None for none or for one
    IfcOpenShell cannot resolve (a linear placement)."""
    if placement is None:
        return None
    try:
        return ifcopenshell.util.placement.get_local_placement(placement)
    except Exception:
        return None


def instances(model: ifcopenshell.file, class_name: str) -> list[Any]:
    """The file's instances of a class and its subclasses; none for a class the file's schema lacks."""
    try:
        return list(model.by_type(class_name))
    except RuntimeError:
        return []


def _global_id(entity: Any) -> str | None:
    return str(entity.GlobalId) if entity is not None else None


def spatial_elements(model: ifcopenshell.file) -> list[Any]:
    """Every spatial element of the file, parents before children, otherwise in the file's order."""
    base = "IfcSpatialStructureElement" if model.schema == "IFC2X3" else "IfcSpatialElement"
    elements = list(model.by_type(base))
    spatial = {element.id() for element in elements}
    ordered: list[Any] = []
    placed: set[int] = set()

    def place(element: Any, depth: int) -> None:
        if element.id() in placed:
            return
        parent = ifcopenshell.util.element.get_aggregate(element) or ifcopenshell.util.element.get_container(
            element
        )
        if parent is not None and parent.id() in spatial and depth < 64:
            place(parent, depth + 1)
        if element.id() not in placed:
            placed.add(element.id())
            ordered.append(element)

    for element in elements:
        place(element, 0)
    return ordered


def layer_names(product: Any, schema: str) -> list[str]:
    """Names of the presentation layers holding the product's representations or their items."""
    names: list[str] = []
    representation = getattr(product, "Representation", None)
    if representation is None:
        return names
    item_layers = "LayerAssignments" if schema == "IFC2X3" else "LayerAssignment"
    for shape in representation.Representations or ():
        assignments = list(getattr(shape, "LayerAssignments", None) or ())
        for item in shape.Items or ():
            assignments += getattr(item, item_layers, None) or ()
        for layer in assignments:
            name = str(layer.Name or "")
            if name not in names:
                names.append(name)
    return names


# Where the values of a set's items are: the position of IfcPropertySet.HasProperties and
# IfcElementQuantity.Quantities, and of the typed value(s) of the properties whose values may be measures.
_SET_ITEMS = {"IfcPropertySet": 4, "IfcElementQuantity": 5}
_TYPED_VALUE = {"IfcPropertySingleValue": 2, "IfcPropertyListValue": 2, "IfcPropertyEnumeratedValue": 2}
_QUANTITY_MEASURES: dict[tuple[str, str], str | None] = {}


def type_in(inverses: dict[str, list[Any]], schema: str) -> Any:
    """An object's type object (IfcRelDefinesByType), from its inverses (InverseIndex.of):
    ifcopenshell.util.element.get_type, without asking the file its schema for every object."""
    if schema.upper() != "IFC2X3":
        typed_by = inverses.get("IsTypedBy")
        return typed_by[0].RelatingType if typed_by else None
    for relationship in inverses.get("IsDefinedBy", ()):
        if relationship.is_a("IfcRelDefinesByType"):
            return relationship.RelatingType
    return None


def si_values(definition: Any, scales: UnitScales) -> dict[str, Any]:
    """A property or quantity set's values by name in SI: what ifcopenshell.util.element's
    get_property_definition gives (without "id"), each number times its measure's factor (a quantity's
    declared type, a property's typed value, the first of a list), in one pass over the set's items."""
    position = _SET_ITEMS.get(definition.is_a())
    if position is None:  # a predefined set, or another definition: as IfcOpenShell gives it
        given = dict(ifcopenshell.util.element.get_property_definition(definition))
        given.pop("id", None)
        return given
    schema = str(definition.file.schema_identifier)
    read_items = (
        ifcopenshell.util.element.get_quantities
        if position == 5
        else ifcopenshell.util.element.get_properties
    )
    values: dict[str, Any] = {}
    for item in definition.get_argument(position) or ():
        ifc_class = item.is_a()
        name = item.get_argument(0)
        measure: str | None = None
        if ifc_class == "IfcPropertySingleValue":  # most items: read here, not through get_properties
            nominal = item.get_argument(2)
            value = nominal.wrappedValue if nominal else None
            measure = _typed_value_type(nominal)
        elif item.is_a("IfcPhysicalSimpleQuantity"):
            value = item.get_argument(3)
            measure = _quantity_measure(schema, ifc_class)
        else:
            value = read_items([item]).get(name)
            value_position = _TYPED_VALUE.get(ifc_class)
            if value_position is not None:
                measure = _typed_value_type(item.get_argument(value_position))
        values[name] = scaled(value, scales.factor(measure)) if measure else value
    return values


def _typed_value_type(value: Any) -> str | None:
    """The defined type of a typed value (of the first, for a list): `IfcLengthMeasure`, ..."""
    if isinstance(value, tuple):
        value = value[0] if value else None
    if value is None or not hasattr(value, "is_entity") or value.is_entity():
        return None
    return str(value.is_a())


def _quantity_measure(schema: str, ifc_class: str) -> str | None:
    """The declared measure of a simple quantity's value (`IfcLengthMeasure` for IfcQuantityLength)."""
    key = (schema, ifc_class)
    if key not in _QUANTITY_MEASURES:
        measures = [
            declared for name, _, declared in explicit_attributes(schema, ifc_class) if name.endswith("Value")
        ]
        _QUANTITY_MEASURES[key] = measures[0] if measures else None
    return _QUANTITY_MEASURES[key]
