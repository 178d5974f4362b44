"""Connectors: synchronize external files into iModel snapshots (docs/ifc-connector.md for IFC)."""

from twinbridge.engines.connectors.errors import ConnectorError, SourceFileError
from twinbridge.engines.connectors.ifc_sync import FileSyncReport, SyncReport, synchronize_ifc
from twinbridge.engines.connectors.issues import SkippedItem, SyncIssue

__all__ = [
    "ConnectorError",
    "FileSyncReport",
    "SkippedItem",
    "SourceFileError",
    "SyncIssue",
    "SyncReport",
    "synchronize_ifc",
]
