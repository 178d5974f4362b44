from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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
