"""iModel -> IFC export with IfcOpenShell (docs/ifc-export.md describes the mapping)."""

from twinbridge.engines.ifc.errors import (
    IfcExportError,
    MappingFileError,
    SourceIModelError,
    UnknownIfcVersionError,
    UnknownModelError,
)
from twinbridge.engines.ifc.exporter import ExportSummary, export_imodel_to_ifc
from twinbridge.engines.ifc.mapping import ClassMapping, load_mapping_file
from twinbridge.engines.ifc.validation import validate_ifc
from twinbridge.engines.ifc.versions import IFC_VERSIONS, IfcVersion, resolve_ifc_version

__all__ = [
    "IFC_VERSIONS",
    "ClassMapping",
    "ExportSummary",
    "IfcExportError",
    "IfcVersion",
    "MappingFileError",
    "SourceIModelError",
    "UnknownIfcVersionError",
    "UnknownModelError",
    "export_imodel_to_ifc",
    "load_mapping_file",
    "resolve_ifc_version",
    "validate_ifc",
]
