from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class ITwin:
    id: str
    display_name: str
    number: str | None = None
    itwin_class: str = "Endeavor"
    sub_class: str = "Project"
    status: str = "Active"
    created_by: str | None = None
    created_at: datetime = field(default_factory=utc_now)


@dataclass(slots=True)
class ITwinMember:
    """A subject (user name or service client id) with a role on an iTwin."""

    itwin_id: str
    subject: str
    role: str
    created_at: datetime = field(default_factory=utc_now)
