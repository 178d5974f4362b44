"""Which IFC entity an iModel element becomes.

In this order: a JSON mapping file's entries (format in docs/ifc-export.md); an element synchronized from IFC
(class `IfcDynamic:IfcX`) goes back out as IfcX, or its nearest supertype the target schema can hold; the
built-in table of BIS and common domain class names (ArchitecturalPhysical:Wall, StructuralPhysical:Beam, a
connector's "Door" class...). A name matches the element's class or any of its base classes, the nearest
first. Everything without a match becomes IfcBuildingElementProxy, as in Bentley's own exporter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from twinbridge.engines.ifc.entities import entity_declaration, is_exportable_element
from twinbridge.engines.ifc.errors import MappingFileError

FALLBACK_ENTITY = "IfcBuildingElementProxy"
# The standard and elemented cases stand for parametric elements (material layer or profile set usages, door
# and window linings, parts), which the exporter does not write: their supertype (IfcWall...) is written.
_CASE_SUFFIXES = ("StandardCase", "ElementedCase")
SCHEMAS = ("IFC2X3", "IFC4", "IFC4X3_ADD2")
DEFAULT_KEY = "default"
# The IFC connector writes a product of entity IfcX as an element of class `IfcDynamic:IfcX`.
SYNCHRONIZED_SCHEMA = "IfcDynamic"

# Class name (without schema) -> IFC entity from IFC4 on. Matched against the class and its base classes.
BUILT_IN_CLASSES: dict[str, str] = {
    "Wall": "IfcWall",
    "WallStandardCase": "IfcWall",
    "CurtainWall": "IfcCurtainWall",
    "Slab": "IfcSlab",
    "Floor": "IfcSlab",
    "Column": "IfcColumn",
    "Beam": "IfcBeam",
    "Brace": "IfcMember",
    "Member": "IfcMember",
    "Plate": "IfcPlate",
    "Door": "IfcDoor",
    "Window": "IfcWindow",
    "Furniture": "IfcFurniture",
    "Stair": "IfcStair",
    "StairFlight": "IfcStairFlight",
    "Railing": "IfcRailing",
    "Roof": "IfcRoof",
    "Ramp": "IfcRamp",
    "Ceiling": "IfcCovering",
    "Covering": "IfcCovering",
    "Footing": "IfcFooting",
    "Pile": "IfcPile",
    "Pipe": "IfcPipeSegment",
    "PipeSegment": "IfcPipeSegment",
    "PipeFitting": "IfcPipeFitting",
    "Duct": "IfcDuctSegment",
    "DuctSegment": "IfcDuctSegment",
    "DuctFitting": "IfcDuctFitting",
    "Valve": "IfcValve",
    "Pump": "IfcPump",
    "Tank": "IfcTank",
}

# IFC2X3 lacks some IFC4 entities: use the IFC2X3 entity that the IFC4 one replaced.
IFC2X3_REPLACEMENTS: dict[str, str] = {
    "IfcFurniture": "IfcFurnishingElement",
    "IfcPipeSegment": "IfcFlowSegment",
    "IfcDuctSegment": "IfcFlowSegment",
    "IfcPipeFitting": "IfcFlowFitting",
    "IfcDuctFitting": "IfcFlowFitting",
    "IfcValve": "IfcFlowController",
    "IfcPump": "IfcFlowMovingDevice",
    "IfcTank": "IfcFlowStorageDevice",
}


def _supertype(entity: str, schema: str) -> str | None:
    """The entity's supertype, read from `schema` or, when it lacks the entity, from another IFC schema."""
    for candidate_schema in (schema, *SCHEMAS):
        declaration = entity_declaration(candidate_schema, entity)
        if declaration is not None:
            parent = declaration.supertype()
            return str(parent.name()) if parent is not None else None
    return None


@cache
def nearest_exportable_entity(entity: str, schema: str) -> str | None:
    """`entity`, or its nearest supertype that `schema` can hold as an element; None above IfcElement.

    The supertypes come from any IFC schema that knows the entity, so an entity one schema lacks still finds
    its nearest relative there.
    """
    current: str | None = entity
    while current is not None and current != "IfcElement":
        if is_exportable_element(schema, current):
            return current
        current = _supertype(current, schema)
    return None


def entity_meeting_rules(entity: str, schema: str) -> str:
    """`entity`, or the supertype to write instead when the file could not satisfy its WHERE rules."""
    current = entity
    while current.endswith(_CASE_SUFFIXES):
        parent = _supertype(current, schema)
        if parent is None:
            break
        current = parent
    return current


def built_in_entity(class_name: str, schema: str) -> str | None:
    entity = BUILT_IN_CLASSES.get(class_name)
    if entity is None:
        return None
    if schema == "IFC2X3":
        entity = IFC2X3_REPLACEMENTS.get(entity, entity)
    return entity


@dataclass(frozen=True)
class ClassMapping:
    """File entries: "Schema:Class" or "Class" -> {IFC schema or "default": entity}."""

    entries: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    source: str = "built-in"

    def entity_for(self, class_chain: Sequence[str], schema: str) -> str:
        """The entity for an element whose class and base classes, nearest first, are "Schema:Class" names."""
        for full_name in class_chain:
            for key in (full_name, full_name.partition(":")[2]):
                entry = self.entries.get(key)
                if entry is not None:
                    entity = entry.get(schema) or entry.get(DEFAULT_KEY)
                    if entity:
                        return entity
        for full_name in class_chain:
            class_schema, _, class_name = full_name.partition(":")
            if class_schema == SYNCHRONIZED_SCHEMA:
                synchronized = nearest_exportable_entity(class_name, schema)
                if synchronized is not None:
                    return synchronized
        for full_name in class_chain:
            entity = built_in_entity(full_name.partition(":")[2], schema)
            if entity is not None:
                return entity
        return FALLBACK_ENTITY

    def check(self, schema: str) -> None:
        """Every entity the file names for `schema` must exist there and be a concrete IfcElement."""
        for key, entry in self.entries.items():
            entity = entry.get(schema) or entry.get(DEFAULT_KEY)
            if entity and not is_exportable_element(schema, entity):
                raise MappingFileError(
                    f'{self.source}: "{key}" maps to {entity}, which is not a concrete '
                    f"IfcElement subtype in {schema}"
                )


def parse_mapping(document: Any, source: str = "mapping file") -> ClassMapping:
    """Validate the JSON structure of a mapping file (entities are checked per schema by `check`)."""
    if not isinstance(document, dict):
        raise MappingFileError(f"{source}: the top level must be a JSON object")
    unknown = set(document) - {"classes", "version", "description"}
    if unknown:
        raise MappingFileError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    version = document.get("version", 1)
    if version != 1:
        raise MappingFileError(f"{source}: unsupported version {version!r} (only 1)")
    classes = document.get("classes")
    if not isinstance(classes, dict):
        raise MappingFileError(f'{source}: "classes" must be an object of "Schema:Class" or "Class" keys')
    entries: dict[str, dict[str, str]] = {}
    for key, value in classes.items():
        if not key or key.count(":") > 1 or key.strip() != key:
            raise MappingFileError(f'{source}: "{key}" is not a class name ("Schema:Class" or "Class")')
        if isinstance(value, str):
            entry = {DEFAULT_KEY: value}
        elif isinstance(value, dict):
            bad = set(value) - {*SCHEMAS, DEFAULT_KEY}
            if bad:
                raise MappingFileError(
                    f'{source}: "{key}" has unknown schema key(s) {", ".join(sorted(bad))}; '
                    f"use {', '.join(SCHEMAS)} or {DEFAULT_KEY}"
                )
            entry = {}
            for schema_key, entity in value.items():
                if not isinstance(entity, str):
                    raise MappingFileError(f'{source}: "{key}".{schema_key} must be an IFC entity name')
                entry[schema_key] = entity
        else:
            raise MappingFileError(
                f'{source}: "{key}" must map to an IFC entity name or an object per schema'
            )
        for entity in entry.values():
            if not entity.startswith("Ifc") or not entity.isidentifier():
                raise MappingFileError(
                    f'{source}: "{key}" maps to "{entity}", which is not an IFC entity name'
                )
            if not any(entity_declaration(schema, entity) is not None for schema in SCHEMAS):
                raise MappingFileError(f'{source}: "{key}" maps to {entity}, which no IFC schema defines')
        entries[key] = entry
    return ClassMapping(entries, source)


def read_mapping(content: bytes, source: str) -> ClassMapping:
    """A mapping file's content, checked; `source` names the file in errors ("mapping file 'a.json'").

    Content that is not UTF-8, not JSON, or nested deeper than orjson's 1024 levels is a MappingFileError,
    as is every structural problem: a bad mapping file is the user's to fix, never a crash.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise MappingFileError(
            f"{source} is not UTF-8 text (byte {problem.start} cannot be decoded); save it as UTF-8 JSON"
        ) from None
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as problem:
        if "depth limit" in str(problem):
            raise MappingFileError(f"{source} is nested more than 1024 levels deep") from None
        raise MappingFileError(f"{source} is not valid JSON: {problem}") from None
    return parse_mapping(document, source)


def load_mapping_file(path: Path | str) -> ClassMapping:
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as problem:
        raise MappingFileError(f"cannot read mapping file {path}: {problem.strerror or problem}") from None
    return read_mapping(content, f"mapping file {path}")
