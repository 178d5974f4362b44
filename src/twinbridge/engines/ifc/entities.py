"""Schema facts about IFC entities, read from IfcOpenShell's schema declarations."""

from __future__ import annotations

from functools import cache
from typing import Any

import ifcopenshell.ifcopenshell_wrapper as wrapper

# Attributes the exporter always sets itself on an element.
_SET_BY_EXPORTER = {"GlobalId", "OwnerHistory"}


def entity_declaration(schema: str, entity: str) -> Any:
    """The IfcOpenShell declaration of an entity, or None when the schema has no such entity."""
    try:
        declaration = wrapper.schema_by_name(schema).declaration_by_name(entity)
    except (RuntimeError, IndexError):
        return None
    return declaration if isinstance(declaration, wrapper.entity) else None


@cache
def required_defaults(schema: str, entity: str) -> dict[str, str] | None:
    """Values for the mandatory attributes of an element entity (enumerations get NOTDEFINED).

    None when the entity cannot be an exported element: unknown, abstract, not an IfcElement, or with a
    mandatory attribute that has no neutral value (IFC2X3 IfcReinforcingBar's diameter, for example).
    """
    declaration = entity_declaration(schema, entity)
    if declaration is None or declaration.is_abstract():
        return None
    current = declaration
    while current is not None and current.name() != "IfcElement":
        current = current.supertype()
    if current is None:
        return None
    defaults: dict[str, str] = {}
    derived = declaration.derived()
    for index, attribute in enumerate(declaration.all_attributes()):
        if attribute.optional() or attribute.name() in _SET_BY_EXPORTER or derived[index]:
            continue
        declared = attribute.type_of_attribute()
        enumeration = declared.declared_type() if hasattr(declared, "declared_type") else None
        if (
            isinstance(enumeration, wrapper.enumeration_type)
            and "NOTDEFINED" in enumeration.enumeration_items()
        ):
            defaults[attribute.name()] = "NOTDEFINED"
        else:
            return None
    return defaults


def is_exportable_element(schema: str, entity: str) -> bool:
    """True for a concrete IfcElement subtype that the exporter can fill in without extra data."""
    return required_defaults(schema, entity) is not None
