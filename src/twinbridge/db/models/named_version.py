from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class NamedVersion:
    """A name given to one version of an iModel; index 0 (changeset id None) is the baseline."""

    id: str
    imodel_id: str
    name: str
    changeset_index: int
    changeset_id: str | None = None
    # "visible" or "hidden": whether applications list it to their users (the API lists both).
    state: str = "visible"
    description: str | None = None
    created_by: str | None = None
    created_at: datetime = field(default_factory=utc_now)
