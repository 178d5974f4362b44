"""The `ifcVersion` values of the Export API and what each one means for the file written."""

from __future__ import annotations

from dataclasses import dataclass

from twinbridge.engines.ifc.errors import UnknownIfcVersionError


@dataclass(frozen=True)
class IfcVersion:
    """One export flavour: an IFC schema plus the model view definition (MVD) it follows."""

    name: str
    schema: str
    view_definition: str
    # IfcTriangulatedFaceSet exists from IFC4 on; IFC2X3 gets faceted surface models instead.
    tessellation: bool
    # IfcRoot.OwnerHistory is mandatory in IFC2X3 and optional (left out) from IFC4 on.
    owner_history: bool

    @property
    def file_description(self) -> str:
        return f"ViewDefinition [{self.view_definition}]"


IFC_VERSIONS: dict[str, IfcVersion] = {
    version.name: version
    for version in (
        IfcVersion("IFC4.3", "IFC4X3_ADD2", "ReferenceView", tessellation=True, owner_history=False),
        IfcVersion("IFC2x3", "IFC2X3", "CoordinationView", tessellation=False, owner_history=True),
        IfcVersion(
            "IFC2x3 CV 2.0", "IFC2X3", "CoordinationView_V2.0", tessellation=False, owner_history=True
        ),
        IfcVersion("IFC4 RV 1.2", "IFC4", "ReferenceView_V1.2", tessellation=True, owner_history=False),
    )
}
DEFAULT_IFC_VERSION = "IFC4.3"


def resolve_ifc_version(name: str | None) -> IfcVersion:
    """The version for an API or CLI value (case and spacing are forgiven)."""
    if name is None:
        return IFC_VERSIONS[DEFAULT_IFC_VERSION]

    def normal(text: str) -> str:
        return " ".join(text.split()).casefold()

    for version in IFC_VERSIONS.values():
        if normal(version.name) == normal(name):
            return version
    choices = ", ".join(f'"{known}"' for known in IFC_VERSIONS)
    raise UnknownIfcVersionError(f'unknown IFC version "{name}"; choose one of {choices}')
