"""The dynamic ECSchema "IfcDynamic": one entity class per IFC class, with the psets as typed properties.

Every class derives from the abstract IfcDynamic:IfcProduct (itself a BisCore:PhysicalElement), which carries
the IFC identity (GlobalId, IfcClass) and attributes (Description, ObjectType, Tag). A pset property becomes
the property "<pset>.<name>", its characters outside [A-Za-z0-9_] escaped as EC does (__xHHHH__), which the
IFC exporter decodes back. Types are boolean, int, double or string; a property whose values disagree in a
sync becomes a double (ints and doubles) or a string. The schema only grows: a later sync adds classes and
properties under a new minor version, and a property keeps the type it was created with (values that do
not fit it are converted to it, or left out with a warning).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from twinbridge.engines.ifc.mapping import SYNCHRONIZED_SCHEMA

# The exporter gives elements of this schema their IFC entity back (engines/ifc/mapping.py).
SCHEMA_NAME = SYNCHRONIZED_SCHEMA
SCHEMA_ALIAS = "ifcdyn"
BASE_CLASS = "IfcProduct"
# Properties of IfcDynamic:IfcProduct: name -> EC type. Pset properties never clash (they contain ".").
BASE_PROPERTIES = {
    "GlobalId": "string",
    "IfcClass": "string",
    "Description": "string",
    "ObjectType": "string",
    "Tag": "string",
}
EC_TYPES = ("boolean", "int", "double", "string")
_PLAIN = re.compile(r"[A-Za-z0-9_]")


def encode_ec_name(text: str) -> str:
    """A valid EC name for any text: other characters become __xHHHH__ (and a leading digit too)."""
    encoded = []
    for index, character in enumerate(text):
        if _PLAIN.match(character) and not (index == 0 and character.isdigit()):
            encoded.append(character)
        elif ord(character) > 0xFFFF:
            encoded.append("__x003F__")
        else:
            encoded.append(f"__x{ord(character):04X}__")
    return "".join(encoded) or "__x0020__"


@functools.lru_cache(maxsize=65536)
def property_name(property_set: str, name: str) -> str:
    """Cached: a file repeats a few hundred set and property names over all its products."""
    return encode_ec_name(f"{property_set}.{name}")


def ec_type_of(value: bool | int | float | str) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int" if -(2**31) <= value < 2**31 else "double"
    if isinstance(value, float):
        return "double"
    return "string"


def merge_types(first: str, second: str) -> str:
    if first == second:
        return first
    if {first, second} == {"int", "double"}:
        return "double"
    return "string"


def widen_type(types: dict[str, str], key: str, value_type: str) -> None:
    """Records a property's EC type in `types`, merged with the one it had there (values of a file, or of
    several files, decide one type per property and class)."""
    types[key] = merge_types(types[key], value_type) if key in types else value_type


def convert(value: bool | int | float | str, ec_type: str) -> bool | int | float | str | None:
    """The value as the property's type, or None when it does not fit."""
    if ec_type == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if ec_type == "double":
        if isinstance(value, bool | str):
            return None
        return float(value)
    if ec_type == "int":
        if isinstance(value, bool | str):
            return None
        if isinstance(value, float) and not value.is_integer():
            return None
        number = int(value)
        return number if -(2**31) <= number < 2**31 else None
    if ec_type == "boolean":
        return value if isinstance(value, bool) else None
    return None


@dataclass
class DynamicSchema:
    """The classes and properties of IfcDynamic: what the iModel has, plus what a sync adds."""

    version_minor: int = 0
    classes: dict[str, dict[str, str]] = field(default_factory=dict)
    existing: bool = False
    changed: bool = False
    # Lower-case property names per class: EC names are case-insensitive.
    _folded: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, version_minor: int | None, rows: Iterable[Mapping[str, object]]) -> DynamicSchema:
        """From the iModel's meta rows (className, propertyName, primitiveType) of schema IfcDynamic."""
        schema = cls(version_minor=version_minor or 0, existing=version_minor is not None)
        for row in rows:
            class_name = str(row["className"])
            properties = schema.classes.setdefault(class_name, {})
            schema._folded.setdefault(class_name, {})
            if row.get("propertyName") is None or class_name == BASE_CLASS:
                continue
            ec_type = _PRIMITIVE_TYPES.get(int(str(row.get("primitiveType") or 0)), "string")
            name = str(row["propertyName"])
            properties[name] = ec_type
            schema._folded[class_name][name.lower()] = name
        return schema

    def add_class(self, class_name: str) -> None:
        if class_name not in self.classes:
            self.classes[class_name] = {}
            self._folded[class_name] = {}
            self.changed = True

    def property_for(self, class_name: str, name: str, value_type: str) -> tuple[str, str]:
        """(stored name, type) of a property: an existing one (any letter case) or a new one."""
        self.add_class(class_name)
        folded = self._folded[class_name]
        stored = folded.get(name.lower())
        if stored is not None:
            return stored, self.classes[class_name][stored]
        self.classes[class_name][name] = value_type
        folded[name.lower()] = name
        self.changed = True
        return name, value_type

    @property
    def version(self) -> str:
        return f"01.00.{self.version_minor:02d}"

    def to_xml(self) -> str:
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<ECSchema schemaName="{SCHEMA_NAME}" alias="{SCHEMA_ALIAS}" version="{self.version}"'
            ' displayLabel="IFC (dynamic)" description="IFC classes and property sets, written by the'
            ' twinbridge IFC connector" xmlns="http://www.bentley.com/schemas/Bentley.ECXML.3.2">',
            '  <ECSchemaReference name="BisCore" version="01.00.00" alias="bis"/>',
            '  <ECSchemaReference name="CoreCustomAttributes" version="01.00.00" alias="CoreCA"/>',
            "  <ECCustomAttributes>",
            '    <DynamicSchema xmlns="CoreCustomAttributes.01.00.00"/>',
            "  </ECCustomAttributes>",
            f'  <ECEntityClass typeName="{BASE_CLASS}" modifier="Abstract">',
            "    <BaseClass>bis:PhysicalElement</BaseClass>",
        ]
        lines += [
            f"    <ECProperty propertyName={quoteattr(name)} typeName={quoteattr(ec_type)}/>"
            for name, ec_type in BASE_PROPERTIES.items()
        ]
        lines.append("  </ECEntityClass>")
        for class_name in sorted(self.classes):
            if class_name == BASE_CLASS:
                continue
            lines.append(f"  <ECEntityClass typeName={quoteattr(class_name)}>")
            lines.append(f"    <BaseClass>{BASE_CLASS}</BaseClass>")
            for name, ec_type in self.classes[class_name].items():
                label = decode_label(name)
                lines.append(
                    f"    <ECProperty propertyName={quoteattr(name)} typeName={quoteattr(ec_type)}"
                    f" displayLabel={quoteattr(label)}/>"
                )
            lines.append("  </ECEntityClass>")
        lines.append("</ECSchema>")
        return "\n".join(lines) + "\n"


def decode_label(name: str) -> str:
    return re.sub(r"__x([0-9A-Fa-f]{4})__", lambda match: chr(int(match.group(1), 16)), name)


# ec_Property.PrimitiveType values.
_PRIMITIVE_TYPES = {513: "boolean", 1025: "double", 1281: "int", 1537: "int", 2305: "string"}
