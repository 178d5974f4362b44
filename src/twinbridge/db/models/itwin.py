from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class ITwin:
    """An iTwin with every field of upstream's iTwin that a server without organizations can keep.

    `number` is the id when none was given (upstream's rule); `image` and `imageName` are not kept (there is
    no image upload), and `itwin_account_id` is kept as given or taken from the parent (no Account iTwins).
    """

    id: str
    display_name: str
    number: str | None = None
    itwin_class: str = "Endeavor"
    sub_class: str = "Project"
    status: str = "Active"
    created_by: str | None = None
    created_at: datetime = field(default_factory=utc_now)
    itwin_type: str | None = None
    data_center_location: str = "East US"
    geographic_location: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    iana_time_zone: str | None = None
    parent_id: str | None = None
    itwin_account_id: str | None = None
    modified_at: datetime | None = None
    modified_by: str | None = None


@dataclass(slots=True)
class ITwinMember:
    """A subject (user name or service client id) with a role on an iTwin."""

    itwin_id: str
    subject: str
    role: str
    created_at: datetime = field(default_factory=utc_now)


@dataclass(slots=True)
class ITwinFavorite:
    """An iTwin a subject added to its favorites (`POST /itwins/favorites/{id}`)."""

    subject: str
    itwin_id: str
    created_at: datetime = field(default_factory=utc_now)


@dataclass(slots=True)
class ITwinRecent:
    """An iTwin a subject used lately: created, changed, or marked with `POST /itwins/recents/{id}`."""

    subject: str
    itwin_id: str
    used_at: datetime = field(default_factory=utc_now)
