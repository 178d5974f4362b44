from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class ServiceClient:
    """A client registered with the built-in issuer for the client_credentials grant."""

    client_id: str
    secret_hash: str
    scopes: str
    created_at: datetime = field(default_factory=utc_now)
