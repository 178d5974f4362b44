"""IFC record values (docs/ifc-connector.md, "The IFC record") made into entities of the target schema.

A record holds attributes by name, values as JSON and measures in SI. Restoring one writes the attributes the
target schema has, with values converted to the types the schema declares (an integer JSON number into a
REAL attribute, a measure from SI into the file's unit), and names what it leaves out: an attribute, an
enumeration value or an entity the schema lacks, a nested entity that misses a mandatory attribute. The same
code serves IfcOpenShell entities (project, units, spatial structure) and STEP text in the fragment
(everything of the elements), through the factories' common calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import ifcopenshell.ifcopenshell_wrapper as wrapper

from twinbridge.engines.ifc.records import UnitScales
from twinbridge.engines.ifc.stepfragment import UNKNOWN, StepEntityFactory

Factory = Callable[..., Any]
"""`EntityFactory` or `StepEntityFactory`: `factory(entity, **attributes)`, `factory.value(type, value)`."""

# Nested entities kept for sharing; the table is emptied when full, so memory stays bounded on big exports.
_SHARED_LIMIT = 100_000
# Attributes that IFC4 renamed: the name in the other schemas (tried when the target lacks the recorded one).
RENAMED = {"Identification": "ItemReference", "ItemReference": "Identification"}
# Entities whose inverse attributes allow one user only (an IfcGridAxis belongs to one axis list of one
# grid, a material layer to one layer set); a shared whole (the same layer set) is still shared.
_NEVER_SHARED = frozenset(
    {
        "IfcGridAxis",
        "IfcMaterialLayer",
        "IfcMaterialLayerWithOffsets",
        "IfcMaterialProfile",
        "IfcMaterialProfileWithOffsets",
        "IfcMaterialConstituent",
    }
)
# Attributes of a product or spatial element that the exporter sets itself, never from a record.
OWN_ATTRIBUTES = frozenset({"GlobalId", "OwnerHistory", "ObjectPlacement", "Representation"})


@cache
def _schema(schema: str) -> Any:
    return wrapper.schema_by_name(schema)


@cache
def declaration(schema: str, name: str) -> Any:
    """The schema's declaration of an entity or type, or None when the schema has none of that name."""
    try:
        return _schema(schema).declaration_by_name(name)
    except (RuntimeError, IndexError):
        return None


@cache
def explicit_attributes(schema: str, entity: str) -> dict[str, tuple[Any, bool]]:
    """Name -> (declared type, optional) of an entity's explicit, not derived attributes."""
    declared = declaration(schema, entity)
    if not isinstance(declared, wrapper.entity):
        return {}
    derived = declared.derived()
    return {
        attribute.name(): (attribute.type_of_attribute(), bool(attribute.optional()))
        for index, attribute in enumerate(declared.all_attributes())
        if not derived[index]
    }


def is_subtype(schema: str, entity: str, ancestor: str) -> bool:
    declared = declaration(schema, entity)
    if not isinstance(declared, wrapper.entity):
        return False
    current: Any = declared
    while current is not None:
        if current.name() == ancestor:
            return True
        current = current.supertype()
    return False


def is_concrete(schema: str, entity: str) -> bool:
    declared = declaration(schema, entity)
    return isinstance(declared, wrapper.entity) and not declared.is_abstract()


def supertype_name(schema: str, entity: str) -> str | None:
    """The supertype of an entity, from `schema` or, when it lacks the entity, from another IFC schema."""
    for candidate in (schema, "IFC4X3_ADD2", "IFC4", "IFC2X3"):
        declared = declaration(candidate, entity)
        if isinstance(declared, wrapper.entity):
            parent = declared.supertype()
            return str(parent.name()) if parent is not None else None
    return None


def nearest_entity(schema: str, entity: str, ancestor: str) -> str | None:
    """`entity`, or its nearest supertype that `schema` has as a concrete subtype of `ancestor`."""
    current: str | None = entity
    while current is not None:
        if is_concrete(schema, current) and is_subtype(schema, current, ancestor):
            return current
        if current == ancestor:
            return None
        current = supertype_name(schema, current)
    return None


def _is_string(parameter_type: Any) -> bool:
    current = parameter_type
    while isinstance(current, wrapper.named_type):
        declared: Any = current.declared_type()
        if not isinstance(declared, wrapper.type_declaration):
            return False
        current = declared.declared_type()  # type: ignore[no-untyped-call]
    if not isinstance(current, wrapper.simple_type):
        return False
    simple: Any = current
    return str(simple.declared_type()) == "string"


def _enumeration(parameter_type: Any) -> Any:
    if isinstance(parameter_type, wrapper.named_type):
        declared = parameter_type.declared_type()
        if isinstance(declared, wrapper.enumeration_type):
            return declared
    return None


def mandatory_default(parameter_type: Any) -> str | None:
    """NOTDEFINED for a mandatory enumeration that has it (the neutral value), else None."""
    enumeration = _enumeration(parameter_type)
    if enumeration is not None and "NOTDEFINED" in enumeration.enumeration_items():
        return "NOTDEFINED"
    return None


class RecordRestorer:
    """Makes record values into entities of one schema, converting measures from SI with `scales`.

    `problems` receives one line per thing left out, prefixed with the owner's label (an element id or a
    GlobalId) given to each call.
    """

    def __init__(
        self, create: Factory, schema: str, scales: UnitScales, problems: list[str] | None = None
    ) -> None:
        self.create = create
        self.schema = schema
        self.scales = scales
        self.problems: list[str] = problems if problems is not None else []
        self._shared: dict[str, Any] = {}
        # IFC4's IfcPropertyEnumeration has a unique Name: one entity per name.
        self._enumerations: dict[str, Any] = {}

    def note(self, owner: str, text: str) -> None:
        self.problems.append(f"{owner}: {text}")

    # ---- attributes and entities

    def attributes(
        self, entity: str, values: dict[str, Any], owner: str, *, skip: Iterable[str] = OWN_ATTRIBUTES
    ) -> dict[str, Any]:
        """The record's attributes that `entity` has in the schema, converted; the others are named."""
        declared = explicit_attributes(self.schema, entity)
        skipped = set(skip)
        result: dict[str, Any] = {}
        for name, value in values.items():
            if name in skipped or value is None:
                continue
            name = RENAMED.get(name, name) if name not in declared else name
            if name not in declared:
                self.note(owner, f"{entity}.{name} is not in {self.schema}; left out")
                continue
            converted = self.value(declared[name][0], value, owner, f"{entity}.{name}")
            if converted is not None:
                result[name] = converted
        return result

    def missing_mandatory(
        self,
        entity: str,
        attributes: dict[str, Any],
        *,
        skip: Iterable[str] = OWN_ATTRIBUTES,
        fill_strings: bool = False,
    ) -> list[str]:
        """Mandatory attributes without a value; enumerations with NOTDEFINED get it (in `attributes`)."""
        missing = []
        skipped = set(skip)
        for name, (parameter_type, optional) in explicit_attributes(self.schema, entity).items():
            if optional or name in skipped or attributes.get(name) is not None:
                continue
            default = mandatory_default(parameter_type)
            if default is None and fill_strings and _is_string(parameter_type):
                default = ""  # IFC2X3's mandatory labels that IFC4 made optional (IfcClassification.Edition)
            if default is not None:
                attributes[name] = default
            else:
                missing.append(name)
        return missing

    def entity(self, value: Any, owner: str, label: str = "") -> Any:
        """A nested (non-IfcRoot) entity from `{"type": ..., "attributes": {...}}`; None when it cannot be."""
        if not isinstance(value, dict) or "attributes" not in value:
            return None
        entity = str(value.get("type") or "")
        key = json.dumps(value, sort_keys=True)
        shared = self._shared.get(key)
        if shared is not None:
            return shared
        if not is_concrete(self.schema, entity):
            materials = _materials_of(value) if entity in _MATERIAL_SETS else []
            if materials and is_concrete(self.schema, "IfcMaterialList"):
                # IFC2X3 has no constituent or profile sets: the list of their materials tells what they are.
                where = f"{label}: " if label else ""
                self.note(owner, f"{where}{entity} written as IfcMaterialList of its materials")
                return self.entity(
                    {"type": "IfcMaterialList", "attributes": {"Materials": materials}}, owner, label
                )
            self.note(owner, f"{label or entity}: {entity} is not in {self.schema}; left out")
            return None
        attributes = self.attributes(entity, value.get("attributes") or {}, owner, skip=())
        if entity == "IfcPropertyEnumeration" and "Name" in attributes:
            known = self._enumerations.get(str(attributes["Name"]))
            if known is not None:
                return known
        missing = self.missing_mandatory(entity, attributes, skip=(), fill_strings=True)
        if missing:
            self.note(owner, f"{label or entity}: {entity} without {', '.join(missing)}; left out")
            return None
        created = self.create(entity, **attributes)
        if entity == "IfcPropertyEnumeration" and "Name" in attributes:
            self._enumerations[str(attributes["Name"])] = created
        if len(self._shared) >= _SHARED_LIMIT:
            self._shared.clear()
        if entity not in _NEVER_SHARED:
            self._shared[key] = created
        return created

    def _entity_of(self, expected: str, value: Any, owner: str, label: str) -> Any:
        """A nested entity for an attribute declared as `expected`, which the value's class must be."""
        if not isinstance(value, dict):
            return None
        # IFC4 classifies in a hierarchy of references; IFC2X3's source must be the classification: the top.
        while (
            expected == "IfcClassification"
            and value.get("type") == "IfcClassificationReference"
            and isinstance((value.get("attributes") or {}).get("ReferencedSource"), dict)
        ):
            value = value["attributes"]["ReferencedSource"]
        entity = str(value.get("type") or "")
        if is_concrete(self.schema, entity) and not is_subtype(self.schema, entity, expected):
            self.note(owner, f"{label}: {entity} is not an {expected} in {self.schema}; left out")
            return None
        return self.entity(value, owner, label)

    def typed(self, value: dict[str, Any], owner: str, label: str) -> Any:
        """A typed value for a SELECT (`{"type": "IfcLengthMeasure", "value": 3.0}`)."""
        type_name = str(value.get("type") or "")
        declared = declaration(self.schema, type_name)
        if not isinstance(declared, wrapper.type_declaration):
            self.note(owner, f"{label}: {type_name} is not in {self.schema}; left out")
            return None
        converted = self._defined(declared, value.get("value"), owner, label)
        if converted is None:
            return None
        return self.create.value(type_name, converted)  # type: ignore[attr-defined]

    def value(self, parameter_type: Any, value: Any, owner: str, label: str) -> Any:
        """A JSON value converted to what an attribute of `parameter_type` holds; None when impossible."""
        if value is None:
            return None
        if isinstance(parameter_type, wrapper.named_type):
            declared = parameter_type.declared_type()
            if isinstance(declared, wrapper.entity):
                return self._entity_of(str(declared.name()), value, owner, label)
            if isinstance(declared, wrapper.select_type):
                if isinstance(value, dict) and "value" in value:
                    return self.typed(value, owner, label)
                return self.entity(value, owner, label)
            if isinstance(declared, wrapper.enumeration_type):
                text = str(value)
                if text in declared.enumeration_items():
                    return text
                self.note(owner, f"{label} = {text} is not a value of {declared.name()} in {self.schema}")
                return "NOTDEFINED" if "NOTDEFINED" in declared.enumeration_items() else None
            if isinstance(declared, wrapper.type_declaration):
                return self._defined(declared, value, owner, label)
            return None
        if isinstance(parameter_type, wrapper.aggregation_type):
            if not isinstance(value, list):
                return None
            element_type = parameter_type.type_of_element()
            items = [self.value(element_type, item, owner, label) for item in value]
            kept = [item for item in items if item is not None]
            return kept or None
        if isinstance(parameter_type, wrapper.simple_type):
            kind = str(parameter_type.declared_type())  # type: ignore[no-untyped-call]
            if kind == "logical" and value == "UNKNOWN" and isinstance(self.create, StepEntityFactory):
                return UNKNOWN
            return _simple(kind, value)
        return None

    def _defined(self, declared: Any, value: Any, owner: str, label: str) -> Any:
        # Converted from SI once, by the outermost type (IfcPositiveLengthMeasure is an IfcLengthMeasure).
        underlying: Any = declared.declared_type()
        while isinstance(underlying, wrapper.named_type) and isinstance(
            underlying.declared_type(), wrapper.type_declaration
        ):
            inner: Any = underlying.declared_type()
            underlying = inner.declared_type()
        converted = self.value(underlying, value, owner, label)
        if converted is None:
            return None
        name = str(declared.name())
        converted = self.scales.from_si(name, converted)
        if name.startswith("IfcPositive") and isinstance(converted, int | float) and converted <= 0:
            # IFC2X3's IfcPositiveLengthMeasure where IFC4 has a non-negative one (a layer 0 thick)
            self.note(owner, f"{label} = {converted} is not positive, as {name} must be; left out")
            return None
        return converted


# Material sets that IFC2X3 lacks: the attribute that holds their members (each with a Material).
_MATERIAL_SETS = {
    "IfcMaterialConstituentSet": "MaterialConstituents",
    "IfcMaterialProfileSet": "MaterialProfiles",
    "IfcMaterialProfileSetUsage": "",
}


def _materials_of(value: dict[str, Any]) -> list[Any]:
    """The distinct IfcMaterial values a constituent or profile set (or its usage) is made of, in order."""
    entity = str(value.get("type") or "")
    attributes = value.get("attributes") or {}
    if entity == "IfcMaterialProfileSetUsage":
        inner = attributes.get("ForProfileSet")
        return _materials_of(inner) if isinstance(inner, dict) else []
    materials: list[Any] = []
    for member in attributes.get(_MATERIAL_SETS.get(entity, "")) or []:
        material = (member.get("attributes") or {}).get("Material") if isinstance(member, dict) else None
        if isinstance(material, dict) and material not in materials:
            materials.append(material)
    return materials


def _simple(kind: str, value: Any) -> Any:
    try:
        if kind in ("real", "number"):
            return float(value) if not isinstance(value, bool) else None
        if kind == "integer":
            return round(float(value)) if not isinstance(value, bool) else None
        if kind == "string":
            return str(value)
        if kind == "boolean":
            return bool(value) if isinstance(value, bool) else None
        if kind == "logical":
            return value if isinstance(value, bool) else None  # UNKNOWN: left unset
    except (TypeError, ValueError):
        return None
    return None
