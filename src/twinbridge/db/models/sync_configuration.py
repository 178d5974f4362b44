from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class SyncConfiguration:
    """The Synchronization flags set at one scope: exactly one of `itwin_id`, `imodel_id` and
    `connection_id` names it (one configuration per scope, deleted with it)."""

    id: str
    itwin_id: str | None
    imodel_id: str | None
    connection_id: str | None
    # The flags set at this scope, by their upstream names; the rest is inherited or a default.
    settings: dict[str, Any]
    created_by: str
    created_at: datetime = field(default_factory=utc_now)
    modified_at: datetime = field(default_factory=utc_now)
