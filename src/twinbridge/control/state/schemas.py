"""Bodies of the control API's snapshots (twinbridge's own shapes, in the platform's camelCase)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from twinbridge.control.state.service import SnapshotSummary
from twinbridge.platform.time import format_timestamp

# One folder of a storage and a readable token in a URL: letters, digits, '.', '_' and '-', not first a dot.
NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$"
NAME_DESCRIPTION = "1 to 100 letters, digits, '.', '_' or '-'; not starting with '.'."

SnapshotName = Annotated[str, Path(pattern=NAME_PATTERN, description=NAME_DESCRIPTION)]


class SnapshotCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(pattern=NAME_PATTERN, description=NAME_DESCRIPTION)


def snapshot_body(summary: SnapshotSummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "createdAt": format_timestamp(summary.created_at),
        "rows": summary.rows,
        "tables": summary.tables,
        "blobs": summary.blobs,
        "blobBytes": summary.blob_bytes,
    }
