"""EC property values as IFC property values, with the IFC type that fits the EC type.

| EC type | IFC value |
|---|---|
| boolean | IfcBoolean |
| int, long | IfcInteger |
| double | IfcReal, or a measure (IfcLengthMeasure, ...) when its KindOfQuantity is stored in SI |
| string | IfcLabel (IfcText above 255 characters) |
| dateTime | IfcDateTime (IFC4 on), IfcLabel in IFC2X3 |
| point2d/3d, primitive arrays | IfcPropertyListValue |
| enumeration | IfcLabel with the enumerator's label (its raw value when it has none) |
| navigation | IfcIdentifier with the target element id |
| struct, struct array | IfcText with the JSON value |
| binary, IGeometry | left out |
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from twinbridge.engines.ifc.factory import EntityFactory
from twinbridge.engines.ifc.stepfragment import StepEntityFactory

# ec_Property.PrimitiveType values (imodel-format.md section 1.2).
BINARY, BOOLEAN, DATE_TIME, DOUBLE, INTEGER, LONG, POINT2D, POINT3D, STRING, IGEOMETRY = (
    257,
    513,
    769,
    1025,
    1281,
    1537,
    1793,
    2049,
    2305,
    2561,
)
# ec_Property.Kind values.
PRIMITIVE, STRUCT, PRIMITIVE_ARRAY, STRUCT_ARRAY, NAVIGATION = 0, 1, 2, 3, 4

# KindOfQuantity persistence units (SI, as the project's units) that have a matching IFC measure type.
MEASURE_BY_UNIT = {
    "u:M": "IfcLengthMeasure",
    "u:SQ_M": "IfcAreaMeasure",
    "u:CUB_M": "IfcVolumeMeasure",
    "u:RAD": "IfcPlaneAngleMeasure",
    "u:KG": "IfcMassMeasure",
}
IFC_LABEL_MAX = 255
_ESCAPE = re.compile(r"__x([0-9A-Fa-f]{4})__")


def decode_ec_name(name: str) -> str:
    """EC names escape characters as __xHHHH__ (Building__x0020__Blocks is "Building Blocks")."""
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), name)


@dataclass(frozen=True)
class PropertyDefinition:
    """An EC property as far as the export needs it."""

    name: str
    kind: int
    primitive_type: int | None
    measure: str | None = None
    enumerators: dict[Any, str] | None = None

    @property
    def exported(self) -> bool:
        return not (
            self.kind == PRIMITIVE
            and self.primitive_type in (BINARY, IGEOMETRY, None)
            and not self.enumerators
        )


class PropertyWriter:
    """Creates IfcProperty entities for one file; identical properties are created once and shared.

    With an `EntityFactory` the properties are IfcOpenShell entities; with a `StepEntityFactory` (as in the
    exporter) they are written to the STEP fragment and returned as ids.
    """

    def __init__(self, create: EntityFactory | StepEntityFactory, schema: str) -> None:
        self.create = create
        self.schema = schema
        self._shared: dict[tuple[str, str, Any], Any] = {}

    def single(self, name: str, ifc_type: str, value: Any) -> Any:
        # IFC allows a property to belong to several property sets; sharing the repeated ones (a class name,
        # a category, "Steel") keeps big exports small. Only hashable scalar values are shared.
        key = (name, ifc_type, value)
        existing = self._shared.get(key)
        if existing is not None:
            return existing
        created = self.create(
            "IfcPropertySingleValue", Name=name, NominalValue=self.create.value(ifc_type, value)
        )
        if len(self._shared) < 200_000:
            self._shared[key] = created
        return created

    def list_value(self, name: str, ifc_type: str, values: list[Any]) -> Any:
        return self.create(
            "IfcPropertyListValue",
            Name=name,
            ListValues=[self.create.value(ifc_type, value) for value in values],
        )

    def convert(self, definition: PropertyDefinition, value: Any) -> Any:
        """The IfcProperty for an EC value as the engine returns it, or None when it is not exported."""
        if value is None or not definition.exported:
            return None
        name = definition.name
        if definition.kind == NAVIGATION:
            target = value.get("id") if isinstance(value, dict) else value
            return self.single(name, "IfcIdentifier", str(target)) if target else None
        if definition.kind in (STRUCT, STRUCT_ARRAY):
            return self.text(name, json.dumps(value, separators=(",", ":"), sort_keys=True))
        if definition.kind == PRIMITIVE_ARRAY:
            items = (
                [self._scalar_parts(definition, item) for item in value] if isinstance(value, list) else []
            )
            present = [item for item in items if item is not None]
            if not present:
                return None
            ifc_type = present[0][0]
            if any(item[0] != ifc_type for item in present):
                return self.text(name, json.dumps(value, separators=(",", ":")))
            return self.list_value(name, ifc_type, [item[1] for item in present])
        if definition.primitive_type in (POINT2D, POINT3D) and isinstance(value, dict):
            axes = ("x", "y", "z") if definition.primitive_type == POINT3D else ("x", "y")
            return self.list_value(name, "IfcReal", [float(value.get(axis, 0.0)) for axis in axes])
        parts = self._scalar_parts(definition, value)
        if parts is None:
            return None
        return self.single(name, parts[0], parts[1])

    def text(self, name: str, value: str) -> Any:
        return self.single(name, "IfcLabel" if len(value) <= IFC_LABEL_MAX else "IfcText", value)

    def _scalar_parts(self, definition: PropertyDefinition, value: Any) -> tuple[str, Any] | None:
        if definition.enumerators is not None:
            label = definition.enumerators.get(value)
            return ("IfcLabel", label if label is not None else str(value))
        primitive = definition.primitive_type
        if primitive == BOOLEAN:
            return ("IfcBoolean", bool(value))
        if primitive in (INTEGER, LONG):
            return ("IfcInteger", int(value)) if isinstance(value, int | float) else None
        if primitive == DOUBLE:
            if not isinstance(value, int | float):
                return None
            return (definition.measure or "IfcReal", float(value))
        if primitive == DATE_TIME:
            text = str(value)
            if self.schema == "IFC2X3":
                return ("IfcLabel", text)
            # IfcDateTime is xsd:dateTime; the engine gives "2020-01-02T00:00:00.000".
            return ("IfcDateTime", text)
        if primitive == STRING:
            text = str(value)
            return ("IfcLabel" if len(text) <= IFC_LABEL_MAX else "IfcText", text)
        return None
