"""The export mapping that gives synchronized elements their IFC class back.

The connector stores a product of class IfcX as an element of class IfcDynamic:IfcX. The exporter's built-in
table does not know these classes (they would become IfcBuildingElementProxy), so this mapping names, for each
IFC schema, the entity itself or, when that schema lacks it or cannot hold it as an element, its nearest
supertype that it can (IFC2X3 IfcWallStandardCase stays IfcWallStandardCase in IFC2X3 and IFC4).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import ifcopenshell.ifcopenshell_wrapper as wrapper

from twinbridge.engines.connectors.ifc_schema import SCHEMA_NAME
from twinbridge.engines.ifc import ClassMapping
from twinbridge.engines.ifc.entities import entity_declaration, is_exportable_element
from twinbridge.engines.ifc.mapping import SCHEMAS


def _element_entities(schema: str) -> list[str]:
    names = []
    for declaration in wrapper.schema_by_name(schema).declarations():
        if not isinstance(declaration, wrapper.entity):
            continue
        current: Any = declaration
        while current is not None and current.name() != "IfcElement":
            current = current.supertype()
        if current is not None:
            names.append(declaration.name())
    return names


def _supertype(entity: str, schema: str) -> str | None:
    for candidate_schema in (schema, *SCHEMAS):
        declaration = entity_declaration(candidate_schema, entity)
        if declaration is not None:
            parent = declaration.supertype()
            return str(parent.name()) if parent is not None else None
    return None


def _entity_in(entity: str, schema: str) -> str | None:
    current: str | None = entity
    while current is not None and current != "IfcElement":
        if is_exportable_element(schema, current):
            return current
        current = _supertype(current, schema)
    return None


@cache
def ifc_class_mapping() -> ClassMapping:
    """Pass as `mapping=` to `export_imodel_to_ifc` to export IfcDynamic:IfcX elements as IfcX."""
    entities = sorted({name for schema in SCHEMAS for name in _element_entities(schema)})
    entries: dict[str, dict[str, str]] = {}
    for entity in entities:
        entry = {}
        for schema in SCHEMAS:
            target = _entity_in(entity, schema)
            if target is not None:
                entry[schema] = target
        if entry:
            entries[f"{SCHEMA_NAME}:{entity}"] = entry
    return ClassMapping(entries, "twinbridge IFC connector")
