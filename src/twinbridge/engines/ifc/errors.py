"""Why an export cannot be done, as exceptions whose message can be shown to a user as it is."""

from __future__ import annotations


class IfcExportError(Exception):
    """An export that cannot be done with the given input or options."""


class UnknownIfcVersionError(IfcExportError):
    """The requested ifcVersion is not one of the supported values."""


class UnknownModelError(IfcExportError):
    """A model id of the filter is not a model of the iModel (`model_id`, as the caller wrote it)."""

    def __init__(self, message: str, model_id: str = "") -> None:
        super().__init__(message)
        self.model_id = model_id


class MappingFileError(IfcExportError):
    """The class-mapping file is not valid."""


class SourceIModelError(IfcExportError):
    """The input file cannot be read as an iModel (missing, not an iModel, corrupt)."""
