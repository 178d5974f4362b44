from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class ControlSnapshot:
    """A saved state of the server (control API): every table's rows, serialized, and what they hold.

    `revision` is the schema's migration revision when saved: rows fit only the schema they came from.
    """

    name: str
    created_at: datetime
    revision: str
    summary: dict[str, Any]
    rows: str
