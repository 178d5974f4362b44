from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class UserGrant:
    """A user's consent that runs may act on their behalf in the background (the cloud's stored token)."""

    subject: str
    expires_at: datetime | None = None
    created_at: datetime = field(default_factory=utc_now)
