"""The IFC record: what the iModel keeps of an IFC file beyond geometry, for the connector and the exporter.

The connector writes a record per product (element `jsonProperties.ifc`) and per file (RepositoryLink
`jsonProperties.ifc`); the exporter reads them back. The format is in docs/ifc-connector.md ("The IFC
record"). Values in a record are in SI units (BIS stores SI); this module holds the one conversion both
directions use, so that a file's measures come back out in the file's own units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ifcopenshell
import ifcopenshell.util.unit

# The key of the record in an element's or a RepositoryLink's JSON properties, and the format's version.
RECORD_KEY = "ifc"
RECORD_VERSION = 1

# The unit types whose values a record converts to SI; other measures are kept as the file has them.
SCALED_UNIT_TYPES = ("LENGTHUNIT", "AREAUNIT", "VOLUMEUNIT", "PLANEANGLEUNIT")


@dataclass(frozen=True, slots=True)
class UnitScales:
    """Per unit type, the factor from a file's unit to the SI unit (0.001 for millimetres)."""

    length: float = 1.0
    area: float = 1.0
    volume: float = 1.0
    plane_angle: float = 1.0

    @classmethod
    def of(cls, model: ifcopenshell.file) -> UnitScales:
        """The scales of a file's project units (SI when the file declares none)."""
        scale = ifcopenshell.util.unit.calculate_unit_scale
        try:
            return cls(
                length=scale(model, "LENGTHUNIT"),
                area=scale(model, "AREAUNIT"),
                volume=scale(model, "VOLUMEUNIT"),
                plane_angle=scale(model, "PLANEANGLEUNIT"),
            )
        except Exception:  # a file without IfcProject or units: IfcOpenShell's default is SI
            return cls()

    def factor(self, measure_type: str) -> float:
        """The factor for a measure type (`IfcLengthMeasure`, `IfcAreaMeasure`, ...); 1 if unscaled."""
        unit_type = measure_unit_type(measure_type)
        if unit_type == "LENGTHUNIT":
            return self.length
        if unit_type == "AREAUNIT":
            return self.area
        if unit_type == "VOLUMEUNIT":
            return self.volume
        if unit_type == "PLANEANGLEUNIT":
            return self.plane_angle
        return 1.0

    def to_si(self, measure_type: str, value: Any) -> Any:
        return scaled(value, self.factor(measure_type))

    def from_si(self, measure_type: str, value: Any) -> Any:
        factor = self.factor(measure_type)
        return scaled(value, 1.0 / factor) if factor != 1.0 else value

    def to_json(self) -> dict[str, float]:
        return {
            "length": self.length,
            "area": self.area,
            "volume": self.volume,
            "planeAngle": self.plane_angle,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> UnitScales:
        if not data:
            return cls()
        return cls(
            length=float(data.get("length", 1.0)),
            area=float(data.get("area", 1.0)),
            volume=float(data.get("volume", 1.0)),
            plane_angle=float(data.get("planeAngle", 1.0)),
        )


_UNIT_TYPES: dict[str, str | None] = {}


def measure_unit_type(measure_type: str) -> str | None:
    """`LENGTHUNIT`, `AREAUNIT`, `VOLUMEUNIT` or `PLANEANGLEUNIT` for a measure scaled to SI, else None."""
    if measure_type not in _UNIT_TYPES:
        try:
            unit_type = ifcopenshell.util.unit.get_measure_unit_type(measure_type)  # type: ignore[arg-type]
        except Exception:
            unit_type = None
        _UNIT_TYPES[measure_type] = unit_type if unit_type in SCALED_UNIT_TYPES else None
    return _UNIT_TYPES[measure_type]


def scaled(value: Any, factor: float) -> Any:
    """A number (or the numbers of a list) times `factor`; anything else, booleans included, as it is."""
    if factor == 1.0 or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value * factor
    if isinstance(value, list | tuple):
        return [scaled(item, factor) for item in value]
    return value
