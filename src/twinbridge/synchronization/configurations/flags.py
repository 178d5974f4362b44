"""The flags of Synchronization configurations: upstream's names, types, defaults and scopes, and how the
flags of a scope resolve (its own, over the iModel's, over the iTwin's, over the defaults).

Upstream documents each flag at one scope (iTwin, iModel or connection). twinbridge accepts a flag at its
own scope and at every lower one, where it overrides the higher scopes' value for that iModel or connection
(a deviation where upstream is silent: docs/compatibility.md, "Synchronization API").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Scope(StrEnum):
    """Highest first: an iTwin holds iModels, an iModel holds connections."""

    ITWIN = "itwin"
    IMODEL = "imodel"
    CONNECTION = "connection"

    @property
    def rank(self) -> int:
        return list(Scope).index(self)


FlagValue = bool | int | float


@dataclass(frozen=True)
class Flag:
    name: str
    scope: Scope
    default: FlagValue
    # What the flag changes in twinbridge's runs; None when it concerns a connector twinbridge does not have
    # (the flag is stored and returned, and has no effect).
    effect: str | None = None

    @property
    def is_number(self) -> bool:
        return not isinstance(self.default, bool)


# In the order of upstream's resolvedSettings examples; responses list flags in this order.
FLAGS: tuple[Flag, ...] = (
    Flag("uploadDgnRealityData", Scope.ITWIN, True),
    Flag("convertDgnTerrainModels", Scope.ITWIN, False),
    Flag("squashIntermediateRevisions", Scope.ITWIN, False),
    Flag("skipRvtReprojection", Scope.ITWIN, False),
    Flag("convertDgnHyperModelingSections", Scope.ITWIN, True),
    Flag("allowRevitIgnoreGcs", Scope.ITWIN, False),
    Flag(
        "clampZExtent",
        Scope.IMODEL,
        False,
        "the iModel's project extents are clamped to -8849 m .. 8849 m in Z",
    ),
    Flag("overrideRvtReprojectionDistance", Scope.IMODEL, 0),
    Flag(
        "ignoreIfcGlobalIds",
        Scope.IMODEL,
        False,
        "IFC provenance is keyed on class, storey, Tag (else Name) and occurrence instead of GlobalId",
    ),
    Flag(
        "enableFileNamePolicy",
        Scope.IMODEL,
        False,
        "a source file's elements are keyed on its file name instead of its mapping",
    ),
    Flag("reclassifyDgnElements", Scope.CONNECTION, False),
    Flag("ignoreDgnAttachments", Scope.CONNECTION, False),
    Flag("enableSheetsAndDrawings", Scope.CONNECTION, False),
    Flag("enableC3dGraphsIn2dModel", Scope.CONNECTION, False),
    Flag("enableSheetIndex", Scope.CONNECTION, False),
    Flag("filterBySheetIndex", Scope.CONNECTION, False),
)
BY_NAME = {flag.name: flag for flag in FLAGS}
# The Z bound of clampZExtent: Mount Everest's height, as upstream describes the flag.
CLAMPED_Z_EXTENT = 8849.0


def settable_at(scope: Scope) -> tuple[Flag, ...]:
    """The flags a configuration of `scope` may set: its own scope's and the higher scopes'."""
    return tuple(flag for flag in FLAGS if flag.scope.rank <= scope.rank)


def too_low(flag: Flag, scope: Scope) -> bool:
    """Whether `flag` belongs to a scope below `scope` (a connection flag in an iTwin configuration)."""
    return flag.scope.rank > scope.rank


def in_catalogue_order(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {flag.name: settings[flag.name] for flag in FLAGS if flag.name in settings}


def resolve(scope: Scope, *layers: Mapping[str, Any]) -> dict[str, FlagValue]:
    """The effective flags of `scope`: defaults, overridden by each layer in turn (highest scope first)."""
    resolved: dict[str, FlagValue] = {flag.name: flag.default for flag in settable_at(scope)}
    for layer in layers:
        resolved.update({name: value for name, value in layer.items() if name in resolved})
    return resolved


@dataclass(frozen=True)
class RunFlags:
    """What a synchronization run does differently, from the flags resolved for its connection."""

    ignore_ifc_global_ids: bool = False
    clamp_z_extent: bool = False
    key_files_by_name: bool = False

    @classmethod
    def of(cls, resolved: Mapping[str, Any]) -> RunFlags:
        return cls(
            ignore_ifc_global_ids=bool(resolved.get("ignoreIfcGlobalIds", False)),
            clamp_z_extent=bool(resolved.get("clampZExtent", False)),
            key_files_by_name=bool(resolved.get("enableFileNamePolicy", False)),
        )
