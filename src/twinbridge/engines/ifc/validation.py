"""Schema validation of written IFC files with IfcOpenShell (used by tests and available to callers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.validate


def validate_ifc(
    source: ifcopenshell.file | Path | str, *, express_rules: bool = False
) -> list[dict[str, Any]]:
    """The validation errors of a file (attribute types, cardinalities, inverses); empty when it is valid."""
    model = source if isinstance(source, ifcopenshell.file) else ifcopenshell.open(str(source))
    collector = ifcopenshell.validate.json_logger()  # type: ignore[no-untyped-call]
    ifcopenshell.validate.validate(model, collector, express_rules=express_rules)
    return [
        {key: str(value) if key == "instance" else value for key, value in statement.items()}
        for statement in collector.statements
        if str(statement.get("level", "error")).lower() == "error"
    ]
