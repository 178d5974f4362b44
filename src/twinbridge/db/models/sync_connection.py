from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twinbridge.db.tables import NOT_A_COLUMN
from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class SyncConnection:
    """A Synchronization connection: `manifest` (files by URL with each run) or `storage` (stored files)."""

    id: str
    kind: str
    imodel_id: str
    itwin_id: str
    display_name: str
    authentication_type: str
    created_by: str
    created_at: datetime = field(default_factory=utc_now)
    # Read with the connection (its `lastRun` link); None until it has a run.
    last_run_id: str | None = field(default=None, metadata=NOT_A_COLUMN)


@dataclass(slots=True)
class SyncSourceFile:
    """A file mapped into an iModel through a connection; a file maps into an iModel at most once."""

    id: str
    connection_id: str
    imodel_id: str
    kind: str
    # The caller's document id (manifest `sourceFileId`) or the storage file id (`storageFileId`).
    file_key: str
    connector_type: str | None = None
    last_known_file_name: str | None = None
    ordinal: int = 0
    created_at: datetime = field(default_factory=utc_now)
