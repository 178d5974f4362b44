from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class SyncReport:
    """The diagnostic report of one task of a synchronization run: a JSON blob kept with the run (deleted
    with it, and with its iModel)."""

    id: str
    run_id: str
    task_id: str
    imodel_id: str
    blob_key: str
    created_at: datetime = field(default_factory=utc_now)
