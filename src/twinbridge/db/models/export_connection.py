from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twinbridge.db.tables import NOT_A_COLUMN
from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class ExportConnection:
    """Says which iModel is exported; each connection can be run many times."""

    id: str
    imodel_id: str
    itwin_id: str
    display_name: str
    authentication_type: str
    created_by: str
    created_at: datetime = field(default_factory=utc_now)
    # Read with the connection (its `lastRun` link); None until it has a run.
    last_run_id: str | None = field(default=None, metadata=NOT_A_COLUMN)
